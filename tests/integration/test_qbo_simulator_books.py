"""Books that tie out: the simulated QBO company's currencies, payments, credit memos, refund
receipts, name lists and tracking preferences, spoken to over HTTP, refusals especially."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from simulators.qbo import QboSimulator
from simulators.testbed.qbo_http import (
    CLIENT_ID,
    CLIENT_SECRET,
    Api,
    fault_of,
    invoice_body,
    new_customer,
)

UNDEPOSITED = "5"  # seeded: Other Current Asset / UndepositedFunds
CHECKING = "8"  # seeded: Bank
INCOME = "1"  # seeded: Sales of Product Income
VISA = "3"  # seeded payment methods: Cash, Check, Visa, ...
TODAY = "2026-05-28"  # the qbo_clock's date in the company's time zone


def doc_of(response: httpx.Response, entity: str) -> dict[str, Any]:
    """The entity in a 200 answer, amounts as Decimal."""
    assert response.status_code == 200, response.text
    doc: dict[str, Any] = json.loads(response.text, parse_float=Decimal)[entity]
    return doc


def refused(response: httpx.Response, code: str, element: str | None = None) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    assert response.json()["Fault"]["type"] == "ValidationFault"
    error = fault_of(response)
    assert error["code"] == code, error
    if element is not None:
        assert error["element"] == element, error
    return error


def invoice(api: Api, customer_id: str, number: str = "WC-1001", **extra: Any) -> dict[str, Any]:
    """An invoice of 24.99 (20.00 + 4.99)."""
    return doc_of(api.post("invoice", invoice_body(customer_id, number, **extra)), "Invoice")


def payment_body(customer_id: str, total: str, *links: tuple[str, str, str]) -> dict[str, Any]:
    """``links``: (TxnType, TxnId, Amount)."""
    return {
        "CustomerRef": {"value": customer_id},
        "TotalAmt": total,
        "Line": [
            {"Amount": amount, "LinkedTxn": [{"TxnId": txn_id, "TxnType": kind}]}
            for kind, txn_id, amount in links
        ],
    }


def credit_memo(api: Api, customer_id: str, amount: str = "10.00") -> dict[str, Any]:
    body = {
        "CustomerRef": {"value": customer_id},
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": amount,
                "SalesItemLineDetail": {"ItemRef": {"value": "2"}},
            }
        ],
    }
    return doc_of(api.post("creditmemo", body), "CreditMemo")


def refund_body(**extra: Any) -> dict[str, Any]:
    return {
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": "15.00",
                "SalesItemLineDetail": {"ItemRef": {"value": "2"}},
            }
        ],
        **extra,
    }


def money(value: Any) -> Decimal:
    return Decimal(str(value))


@pytest.fixture
def mc_api(make_api: Callable[..., Api]) -> Api:
    """A US company with multicurrency on and a CAD rate from the first of May."""
    api = make_api(multicurrency=True)
    api.sim.set_exchange_rate("CAD", "0.73", "2026-05-01")
    return api


def cad_customer(api: Api, name: str = "Maple Ltd") -> dict[str, Any]:
    body = {"DisplayName": name, "CurrencyRef": {"value": "CAD"}}
    return doc_of(api.post("customer", body), "Customer")


# -- preferences ---------------------------------------------------------------------------


def test_preferences_default_to_one_currency_and_no_tracking(api: Api) -> None:
    prefs = api.get("preferences").json()["Preferences"]
    assert prefs["CurrencyPrefs"] == {
        "MultiCurrencyEnabled": False,
        "HomeCurrency": {"value": "USD"},
    }
    accounting = prefs["AccountingInfoPrefs"]
    assert accounting["ClassTrackingPerTxn"] is False
    assert accounting["ClassTrackingPerTxnLine"] is False
    assert accounting["TrackDepartments"] is False
    assert accounting["DepartmentTerminology"] == "Location"
    assert "CustomTxnNumbers" in prefs["SalesFormsPrefs"]


def test_preferences_follow_the_company_options(make_api: Callable[..., Api]) -> None:
    api = make_api(
        country="CA",
        multicurrency=True,
        class_tracking_per_line=True,
        track_departments=True,
        department_terminology="Store",
    )
    prefs = api.get("preferences").json()["Preferences"]
    assert prefs["CurrencyPrefs"] == {
        "MultiCurrencyEnabled": True,
        "HomeCurrency": {"value": "CAD"},
    }
    accounting = prefs["AccountingInfoPrefs"]
    assert (accounting["ClassTrackingPerTxn"], accounting["ClassTrackingPerTxnLine"]) == (
        False,
        True,
    )
    assert accounting["TrackDepartments"] is True
    assert accounting["DepartmentTerminology"] == "Store"


def test_classes_are_tracked_per_transaction_or_per_line_not_both() -> None:
    with pytest.raises(ValueError, match="not both"):
        QboSimulator(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            class_tracking_per_txn=True,
            class_tracking_per_line=True,
        )


# -- currencies ----------------------------------------------------------------------------


def test_without_multicurrency_only_the_home_currency_is_accepted(api: Api) -> None:
    error = refused(
        api.post("customer", {"DisplayName": "Maple Ltd", "CurrencyRef": {"value": "CAD"}}),
        "6000",
        "CurrencyRef",
    )
    assert "home currency (USD)" in error["Detail"]
    customer = new_customer(api)
    assert customer["CurrencyRef"] == {"value": "USD", "name": "United States Dollar"}
    refused(
        api.post("invoice", invoice_body(customer["Id"], CurrencyRef={"value": "CAD"})),
        "6000",
        "CurrencyRef",
    )
    made = invoice(api, customer["Id"], CurrencyRef={"value": "USD"})
    assert "ExchangeRate" not in made and "HomeTotalAmt" not in made
    assert len(api.sim.documents("Invoice")) == 1


def test_an_unknown_currency_code_is_an_invalid_reference(mc_api: Api) -> None:
    response = mc_api.post("customer", {"DisplayName": "X", "CurrencyRef": {"value": "XYZ"}})
    refused(response, "2500", "CurrencyRef")


def test_transaction_currency_must_match_the_customers(mc_api: Api) -> None:
    usd = new_customer(mc_api)
    cad = cad_customer(mc_api)
    wrong = mc_api.post("invoice", invoice_body(usd["Id"], CurrencyRef={"value": "CAD"}))
    error = refused(wrong, "6000", "CurrencyRef")
    assert error["Detail"] == (
        "The transaction currency (CAD) must match the currency of the customer (USD)"
    )
    assert (
        error["Message"] == "A business validation error has occurred while processing your request"
    )
    other = mc_api.post("salesreceipt", invoice_body(cad["Id"], CurrencyRef={"value": "USD"}))
    assert refused(other, "6000")["Detail"] == (
        "The transaction currency (USD) must match the currency of the customer (CAD)"
    )
    payment = payment_body(cad["Id"], "5.00")
    refused(mc_api.post("payment", {**payment, "CurrencyRef": {"value": "USD"}}), "6000")
    assert mc_api.sim.documents("Invoice") == mc_api.sim.documents("SalesReceipt") == []


def test_a_customers_currency_never_changes(mc_api: Api) -> None:
    cad = cad_customer(mc_api)
    change = {"Id": cad["Id"], "SyncToken": "0", "sparse": True, "CurrencyRef": {"value": "USD"}}
    refused(mc_api.post("customer", change), "6000", "CurrencyRef")
    rename = {"Id": cad["Id"], "SyncToken": "0", "DisplayName": "Maple Limited"}
    kept = doc_of(mc_api.post("customer", rename), "Customer")  # full update, no CurrencyRef
    assert kept["CurrencyRef"]["value"] == "CAD"


def test_a_foreign_transaction_takes_the_rate_for_its_date(mc_api: Api) -> None:
    cad = cad_customer(mc_api)
    mc_api.sim.set_exchange_rate("CAD", "0.75", "2026-05-20")
    early = invoice(mc_api, cad["Id"], "CA-1", TxnDate="2026-05-10")
    assert early["CurrencyRef"] == {"value": "CAD", "name": "Canadian Dollar"}
    assert early["ExchangeRate"] == Decimal("0.73")
    assert early["HomeTotalAmt"] == Decimal("18.24")  # 24.99 x 0.73 = 18.2427
    assert early["HomeBalance"] == Decimal("18.24")
    late = invoice(mc_api, cad["Id"], "CA-2", TxnDate="2026-05-25")
    assert late["ExchangeRate"] == Decimal("0.75")
    assert late["HomeTotalAmt"] == Decimal("18.74")  # 18.7425
    sent = invoice(mc_api, cad["Id"], "CA-3", ExchangeRate="0.8")
    assert sent["HomeTotalAmt"] == Decimal("19.99")  # 19.992


def test_a_foreign_transaction_without_a_known_rate_is_refused(mc_api: Api) -> None:
    cad = cad_customer(mc_api)
    before_any_rate = mc_api.post("invoice", invoice_body(cad["Id"], TxnDate="2026-04-30"))
    assert "CAD on 2026-04-30" in refused(before_any_rate, "6000", "ExchangeRate")["Detail"]
    negative = mc_api.post("invoice", invoice_body(cad["Id"], ExchangeRate="-1"))
    refused(negative, "2090", "ExchangeRate")


def test_home_currency_transactions_carry_rate_one_with_multicurrency(mc_api: Api) -> None:
    usd = new_customer(mc_api)
    made = invoice(mc_api, usd["Id"], ExchangeRate="0.5")
    assert made["ExchangeRate"] == Decimal("1")
    assert made["HomeTotalAmt"] == made["TotalAmt"]


def test_exchange_rate_endpoint(mc_api: Api, make_api: Callable[..., Api]) -> None:
    mc_api.sim.set_exchange_rate("CAD", "0.75", "2026-05-20")
    rate = mc_api.get("exchangerate", sourcecurrencycode="CAD", asofdate="2026-05-10").json()
    assert rate["ExchangeRate"]["SourceCurrencyCode"] == "CAD"
    assert rate["ExchangeRate"]["TargetCurrencyCode"] == "USD"
    assert money(rate["ExchangeRate"]["Rate"]) == Decimal("0.73")
    assert rate["ExchangeRate"]["AsOfDate"] == "2026-05-10"
    today = mc_api.get("exchangerate", sourcecurrencycode="CAD").json()["ExchangeRate"]
    assert (today["AsOfDate"], money(today["Rate"])) == (TODAY, Decimal("0.75"))
    refused(mc_api.get("exchangerate", sourcecurrencycode="EUR"), "6000", "ExchangeRate")
    refused(mc_api.get("exchangerate"), "2020", "sourcecurrencycode")
    single = make_api()
    refused(single.get("exchangerate", sourcecurrencycode="CAD"), "6000", "CurrencyRef")


def test_deposits_go_to_an_account_in_the_transactions_or_the_home_currency(
    mc_api: Api,
) -> None:
    cad = cad_customer(mc_api)
    euro_bank = doc_of(
        mc_api.post(
            "account",
            {"Name": "Euro bank", "AccountType": "Bank", "CurrencyRef": {"value": "EUR"}},
        ),
        "Account",
    )
    cad_bank = doc_of(
        mc_api.post(
            "account",
            {"Name": "CAD bank", "AccountType": "Bank", "CurrencyRef": {"value": "CAD"}},
        ),
        "Account",
    )
    to_euro = {
        **payment_body(cad["Id"], "100.00"),
        "DepositToAccountRef": {"value": euro_bank["Id"]},
    }
    error = refused(mc_api.post("payment", to_euro), "6000", "DepositToAccountRef")
    assert "(EUR)" in error["Detail"] and "(CAD)" in error["Detail"]
    usd = new_customer(mc_api)
    to_euro_usd = {
        **payment_body(usd["Id"], "10.00"),
        "DepositToAccountRef": {"value": euro_bank["Id"]},
    }
    refused(mc_api.post("payment", to_euro_usd), "6000", "DepositToAccountRef")
    to_cad = {**payment_body(cad["Id"], "100.00"), "DepositToAccountRef": {"value": cad_bank["Id"]}}
    doc_of(mc_api.post("payment", to_cad), "Payment")
    doc_of(mc_api.post("payment", payment_body(cad["Id"], "100.00")), "Payment")  # home UF
    assert mc_api.sim.account_balance(cad_bank["Id"]) == Decimal("100.00")  # in CAD
    assert mc_api.sim.account_balance(UNDEPOSITED) == Decimal("73.00")  # in USD
    account = doc_of(mc_api.get(f"account/{cad_bank['Id']}"), "Account")
    assert account["CurrentBalance"] == Decimal("100.00")


def test_foreign_accounts_need_multicurrency(api: Api) -> None:
    body = {"Name": "Euro bank", "AccountType": "Bank", "CurrencyRef": {"value": "EUR"}}
    refused(api.post("account", body), "6000", "CurrencyRef")


# -- payments ------------------------------------------------------------------------------


def test_a_payment_lowers_the_invoice_balance_and_keeps_the_rest_as_credit(api: Api) -> None:
    customer = new_customer(api)
    inv = invoice(api, customer["Id"])
    paid = doc_of(
        api.post("payment", payment_body(customer["Id"], "30.00", ("Invoice", inv["Id"], "24.99"))),
        "Payment",
    )
    assert paid["TotalAmt"] == Decimal("30.00")
    assert paid["UnappliedAmt"] == Decimal("5.01")
    assert paid["DepositToAccountRef"] == {"value": UNDEPOSITED, "name": "Undeposited Funds"}
    assert paid["CurrencyRef"]["value"] == "USD"
    assert paid["Line"][0]["LinkedTxn"] == [{"TxnId": inv["Id"], "TxnType": "Invoice"}]
    after = doc_of(api.get(f"invoice/{inv['Id']}"), "Invoice")
    assert after["Balance"] == Decimal("0.00")
    assert after["LinkedTxn"] == [{"TxnId": paid["Id"], "TxnType": "Payment"}]
    assert after["SyncToken"] == "1"
    assert api.sim.customer_balance(customer["Id"]) == Decimal("-5.01")
    assert doc_of(api.get(f"customer/{customer['Id']}"), "Customer")["Balance"] == Decimal("-5.01")
    assert api.sim.account_balance(UNDEPOSITED) == Decimal("30.00")
    assert api.sim.deposits(UNDEPOSITED) == [("Payment", paid["Id"], Decimal("30.00"))]


def test_a_payment_needs_a_customer_and_an_amount(api: Api) -> None:
    customer = new_customer(api)
    refused(api.post("payment", {"TotalAmt": "5.00"}), "2020", "CustomerRef")
    refused(api.post("payment", {"CustomerRef": {"value": customer["Id"]}}), "2020", "TotalAmt")
    refused(api.post("payment", payment_body(customer["Id"], "-5.00")), "2090", "TotalAmt")
    assert api.sim.documents("Payment") == []


def test_no_more_than_the_open_balance_can_be_applied(api: Api) -> None:
    customer = new_customer(api)
    inv = invoice(api, customer["Id"])
    over = payment_body(customer["Id"], "25.00", ("Invoice", inv["Id"], "25.00"))
    error = refused(api.post("payment", over), "6000", "LinkedTxn")
    assert "(24.99)" in error["Detail"]
    api.post("payment", payment_body(customer["Id"], "20.00", ("Invoice", inv["Id"], "20.00")))
    second = payment_body(customer["Id"], "5.00", ("Invoice", inv["Id"], "5.00"))
    assert "(4.99)" in refused(api.post("payment", second), "6000", "LinkedTxn")["Detail"]
    assert doc_of(api.get(f"invoice/{inv['Id']}"), "Invoice")["Balance"] == Decimal("4.99")


def test_links_to_unknown_foreign_or_voided_invoices_are_refused(api: Api) -> None:
    ada = new_customer(api)
    grace = new_customer(api, "Grace Hopper")
    ada_invoice = invoice(api, ada["Id"], "WC-1")
    unknown = payment_body(ada["Id"], "5.00", ("Invoice", "999", "5.00"))
    refused(api.post("payment", unknown), "2500", "LinkedTxn")
    other = payment_body(grace["Id"], "5.00", ("Invoice", ada_invoice["Id"], "5.00"))
    assert "another customer" in refused(api.post("payment", other), "6000", "LinkedTxn")["Detail"]
    api.post("invoice", {"Id": ada_invoice["Id"], "SyncToken": "0"}, operation="void")
    voided = payment_body(ada["Id"], "5.00", ("Invoice", ada_invoice["Id"], "5.00"))
    assert "(0.00)" in refused(api.post("payment", voided), "6000", "LinkedTxn")["Detail"]
    wrong_type = payment_body(ada["Id"], "5.00", ("SalesReceipt", ada_invoice["Id"], "5.00"))
    refused(api.post("payment", wrong_type), "2170", "TxnType")


def test_more_applied_than_received_is_refused(api: Api) -> None:
    customer = new_customer(api)
    inv = invoice(api, customer["Id"])
    body = payment_body(customer["Id"], "10.00", ("Invoice", inv["Id"], "20.00"))
    assert "(10.00)" in refused(api.post("payment", body), "6000", "TotalAmt")["Detail"]


def test_deposit_account_must_be_an_active_bank_or_current_asset(api: Api) -> None:
    customer = new_customer(api)

    def pay(account: str) -> httpx.Response:
        body = payment_body(customer["Id"], "10.00")
        return api.post("payment", {**body, "DepositToAccountRef": {"value": account}})

    assert "Income" in refused(pay(INCOME), "6000", "DepositToAccountRef")["Detail"]
    refused(pay("99"), "2500", "DepositToAccountRef")
    api.sim.set_active("Account", CHECKING, False)
    refused(pay(CHECKING), "610", "DepositToAccountRef")
    api.sim.set_active("Account", CHECKING, True)
    made = doc_of(pay(CHECKING), "Payment")
    assert made["DepositToAccountRef"] == {"value": CHECKING, "name": "Checking"}
    assert api.sim.account_balance(CHECKING) == Decimal("10.00")


def test_payment_method_must_exist_and_be_active(api: Api) -> None:
    customer = new_customer(api)
    body = payment_body(customer["Id"], "10.00")
    refused(api.post("payment", {**body, "PaymentMethodRef": {"value": "99"}}), "2500")
    api.sim.set_active("PaymentMethod", VISA, False)
    refused(api.post("payment", {**body, "PaymentMethodRef": {"value": VISA}}), "610")
    made = doc_of(api.post("payment", {**body, "PaymentMethodRef": {"value": "1"}}), "Payment")
    assert made["PaymentMethodRef"] == {"value": "1", "name": "Cash"}


def test_payment_ref_num_holds_21_characters(api: Api) -> None:
    customer = new_customer(api)
    body = payment_body(customer["Id"], "10.00")
    error = refused(api.post("payment", {**body, "PaymentRefNum": "p" * 22}), "2050")
    assert error["element"] == "PaymentRefNum"
    assert "Max:21 supplied length:22" in error["Detail"]
    made = doc_of(api.post("payment", {**body, "PaymentRefNum": "p" * 21}), "Payment")
    assert made["PaymentRefNum"] == "p" * 21


def test_payments_have_no_class(make_api: Callable[..., Api]) -> None:
    api = make_api(class_tracking_per_txn=True)
    customer = new_customer(api)
    body = {**payment_body(customer["Id"], "1.00"), "ClassRef": {"value": "1"}}
    refused(api.post("payment", body), "2010")


def test_deleting_or_voiding_a_payment_reopens_the_invoice(api: Api) -> None:
    customer = new_customer(api)
    first = invoice(api, customer["Id"], "WC-1")
    second = invoice(api, customer["Id"], "WC-2")
    one = doc_of(
        api.post(
            "payment", payment_body(customer["Id"], "24.99", ("Invoice", first["Id"], "24.99"))
        ),
        "Payment",
    )
    two = doc_of(
        api.post(
            "payment", payment_body(customer["Id"], "24.99", ("Invoice", second["Id"], "24.99"))
        ),
        "Payment",
    )
    assert api.sim.customer_balance(customer["Id"]) == Decimal("0.00")
    deleted = api.post("payment", {"Id": one["Id"], "SyncToken": "0"}, operation="delete")
    assert deleted.json()["Payment"]["status"] == "Deleted"
    reopened = doc_of(api.get(f"invoice/{first['Id']}"), "Invoice")
    assert reopened["Balance"] == Decimal("24.99")
    assert "LinkedTxn" not in reopened
    voided = doc_of(
        api.post(
            "payment",
            {"Id": two["Id"], "SyncToken": "0", "sparse": True},
            operation="update",
            include="void",
        ),
        "Payment",
    )
    assert (voided["TotalAmt"], voided["UnappliedAmt"]) == (Decimal("0.00"), Decimal("0.00"))
    assert doc_of(api.get(f"invoice/{second['Id']}"), "Invoice")["Balance"] == Decimal("24.99")
    assert api.sim.customer_balance(customer["Id"]) == Decimal("49.98")
    assert api.sim.account_balance(UNDEPOSITED) == Decimal("0.00")
    edit = {"Id": two["Id"], "SyncToken": voided["SyncToken"], "sparse": True, "TotalAmt": "1"}
    refused(api.post("payment", edit), "6000")


def test_updating_a_payment_moves_what_it_applies(api: Api) -> None:
    customer = new_customer(api)
    inv = invoice(api, customer["Id"])
    paid = doc_of(
        api.post("payment", payment_body(customer["Id"], "24.99", ("Invoice", inv["Id"], "24.99"))),
        "Payment",
    )
    update = {
        "Id": paid["Id"],
        "SyncToken": "0",
        "sparse": True,
        "Line": [{"Amount": "10.00", "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}],
    }
    changed = doc_of(api.post("payment", update), "Payment")
    assert changed["UnappliedAmt"] == Decimal("14.99")
    assert doc_of(api.get(f"invoice/{inv['Id']}"), "Invoice")["Balance"] == Decimal("14.99")
    refused(api.post("payment", update), "5010")


def test_voiding_a_paid_invoice_leaves_the_payment_unapplied(api: Api) -> None:
    customer = new_customer(api)
    inv = invoice(api, customer["Id"])
    paid = doc_of(
        api.post("payment", payment_body(customer["Id"], "24.99", ("Invoice", inv["Id"], "24.99"))),
        "Payment",
    )
    api.post("invoice", {"Id": inv["Id"], "SyncToken": "1"}, operation="void")
    after = doc_of(api.get(f"payment/{paid['Id']}"), "Payment")
    assert after["Line"] == []
    assert after["UnappliedAmt"] == Decimal("24.99")
    assert api.sim.customer_balance(customer["Id"]) == Decimal("-24.99")


def test_an_invoice_cannot_drop_below_what_was_paid_on_it(api: Api) -> None:
    customer = new_customer(api)
    inv = invoice(api, customer["Id"])
    api.post("payment", payment_body(customer["Id"], "20.00", ("Invoice", inv["Id"], "20.00")))
    body = invoice_body(customer["Id"])
    body["Line"] = body["Line"][1:]  # 4.99 left
    response = api.post("invoice", {**body, "Id": inv["Id"], "SyncToken": "1"})
    assert "(20.00)" in refused(response, "6000", "TotalAmt")["Detail"]


def test_a_foreign_payment_carries_its_rate(mc_api: Api) -> None:
    cad = cad_customer(mc_api)
    inv = invoice(mc_api, cad["Id"])
    paid = doc_of(
        mc_api.post("payment", payment_body(cad["Id"], "24.99", ("Invoice", inv["Id"], "24.99"))),
        "Payment",
    )
    assert paid["CurrencyRef"]["value"] == "CAD"
    assert paid["ExchangeRate"] == Decimal("0.73")
    paid_invoice = doc_of(mc_api.get(f"invoice/{inv['Id']}"), "Invoice")
    assert (paid_invoice["Balance"], paid_invoice["HomeBalance"]) == (Decimal("0"), Decimal("0"))


# -- credit memos --------------------------------------------------------------------------


def test_a_credit_memo_needs_a_customer_and_holds_its_credit(api: Api) -> None:
    customer = new_customer(api)
    no_customer = {"Line": invoice_body("1")["Line"]}
    refused(api.post("creditmemo", no_customer), "2020", "CustomerRef")
    memo = credit_memo(api, customer["Id"])
    assert memo["TotalAmt"] == memo["Balance"] == memo["RemainingCredit"] == Decimal("10.00")
    assert api.sim.customer_balance(customer["Id"]) == Decimal("-10.00")


def test_a_zero_payment_applies_a_credit_memo_to_an_invoice(api: Api) -> None:
    customer = new_customer(api)
    inv = invoice(api, customer["Id"])
    memo = credit_memo(api, customer["Id"])
    apply = payment_body(
        customer["Id"], "0.00", ("Invoice", inv["Id"], "10.00"), ("CreditMemo", memo["Id"], "10.00")
    )
    made = doc_of(api.post("payment", apply), "Payment")
    assert (made["TotalAmt"], made["UnappliedAmt"]) == (Decimal("0.00"), Decimal("0.00"))
    assert doc_of(api.get(f"invoice/{inv['Id']}"), "Invoice")["Balance"] == Decimal("14.99")
    spent = doc_of(api.get(f"creditmemo/{memo['Id']}"), "CreditMemo")
    assert spent["Balance"] == spent["RemainingCredit"] == Decimal("0.00")
    assert spent["LinkedTxn"] == [{"TxnId": made["Id"], "TxnType": "Payment"}]
    assert api.sim.customer_balance(customer["Id"]) == Decimal("14.99")
    assert api.sim.account_balance(UNDEPOSITED) == Decimal("0.00")


def test_credit_cannot_be_over_applied(api: Api) -> None:
    customer = new_customer(api)
    inv = invoice(api, customer["Id"])
    memo = credit_memo(api, customer["Id"])
    beyond_memo = payment_body(
        customer["Id"], "0.00", ("Invoice", inv["Id"], "12.00"), ("CreditMemo", memo["Id"], "12.00")
    )
    assert "remaining credit (10.00)" in refused(api.post("payment", beyond_memo), "6000")["Detail"]
    beyond_invoices = payment_body(
        customer["Id"], "0.00", ("Invoice", inv["Id"], "5.00"), ("CreditMemo", memo["Id"], "10.00")
    )
    refused(api.post("payment", beyond_invoices), "6000", "Line")
    unfunded = payment_body(
        customer["Id"], "0.00", ("Invoice", inv["Id"], "15.00"), ("CreditMemo", memo["Id"], "10.00")
    )
    refused(api.post("payment", unfunded), "6000", "TotalAmt")
    assert api.sim.documents("Payment") == []


def test_voiding_an_applied_credit_memo_reopens_the_invoice(api: Api) -> None:
    customer = new_customer(api)
    inv = invoice(api, customer["Id"])
    memo = credit_memo(api, customer["Id"])
    apply = payment_body(
        customer["Id"], "0.00", ("Invoice", inv["Id"], "10.00"), ("CreditMemo", memo["Id"], "10.00")
    )
    made = doc_of(api.post("payment", apply), "Payment")
    current = doc_of(api.get(f"creditmemo/{memo['Id']}"), "CreditMemo")
    voided = doc_of(
        api.post(
            "creditmemo", {"Id": memo["Id"], "SyncToken": current["SyncToken"]}, operation="void"
        ),
        "CreditMemo",
    )
    assert voided["TotalAmt"] == voided["RemainingCredit"] == Decimal("0.00")
    assert doc_of(api.get(f"invoice/{inv['Id']}"), "Invoice")["Balance"] == Decimal("24.99")
    assert doc_of(api.get(f"payment/{made['Id']}"), "Payment")["Line"] == []
    assert api.sim.customer_balance(customer["Id"]) == Decimal("24.99")


# -- refund receipts -----------------------------------------------------------------------


def test_a_refund_receipt_needs_a_deposit_account(api: Api) -> None:
    error = refused(api.post("refundreceipt", refund_body()), "2020", "DepositToAccountRef")
    assert (
        error["Message"] == "Required param missing, need to supply the required value for the API"
    )
    income = refund_body(DepositToAccountRef={"value": INCOME})
    refused(api.post("refundreceipt", income), "6000", "DepositToAccountRef")
    made = doc_of(
        api.post("refundreceipt", refund_body(DepositToAccountRef={"value": CHECKING})),
        "RefundReceipt",
    )
    assert "CustomerRef" not in made  # optional
    assert made["TotalAmt"] == Decimal("15.00") and made["Balance"] == Decimal("0.00")
    assert api.sim.account_balance(CHECKING) == Decimal("-15.00")


def test_a_refund_receipt_may_carry_a_negative_line_but_not_a_negative_total(api: Api) -> None:
    # A fee kept back from a refund is a negative line; the refund as a whole is never negative
    body = refund_body(DepositToAccountRef={"value": CHECKING})
    fee = {"DetailType": "SalesItemLineDetail", "Amount": "-4.00",
           "SalesItemLineDetail": {"ItemRef": {"value": "2"}}}  # fmt: skip
    made = doc_of(
        api.post("refundreceipt", {**body, "Line": [*body["Line"], fee]}), "RefundReceipt"
    )
    assert made["TotalAmt"] == Decimal("11.00")
    too_much = {**fee, "Amount": "-16.00"}
    error = refused(
        api.post("refundreceipt", {**body, "Line": [*body["Line"], too_much]}), "6000", "TotalAmt"
    )
    assert "The refund receipt total can't be negative." in error["Detail"]
    assert api.sim.account_balance(CHECKING) == Decimal("-11.00")


def test_refund_receipt_references_numbers_and_currency(mc_api: Api) -> None:
    customer = new_customer(mc_api)
    base = refund_body(
        CustomerRef={"value": customer["Id"]}, DepositToAccountRef={"value": CHECKING}
    )
    refused(mc_api.post("refundreceipt", {**base, "PaymentMethodRef": {"value": "99"}}), "2500")
    refused(mc_api.post("refundreceipt", {**base, "DocNumber": "R" * 22}), "2050", "DocNumber")
    refused(mc_api.post("refundreceipt", {**base, "PaymentRefNum": "R" * 22}), "2050")
    refused(mc_api.post("refundreceipt", {**base, "CurrencyRef": {"value": "CAD"}}), "6000")
    first = doc_of(
        mc_api.post(
            "refundreceipt", {**base, "DocNumber": "RF-1", "PaymentMethodRef": {"value": VISA}}
        ),
        "RefundReceipt",
    )
    assert first["PaymentMethodRef"] == {"value": VISA, "name": "Visa"}
    duplicate = mc_api.post("refundreceipt", {**base, "DocNumber": "RF-1"})
    detail = refused(duplicate, "6140")["Detail"]
    assert f"TxnType=Refund Receipt with TxnId={first['Id']}" in detail
    voided = mc_api.post(
        "refundreceipt",
        {"Id": first["Id"], "SyncToken": "0", "sparse": True},
        operation="update",
        include="void",
    )
    assert doc_of(voided, "RefundReceipt")["TotalAmt"] == Decimal("0.00")
    assert mc_api.sim.account_balance(CHECKING) == Decimal("0.00")


def test_a_sales_receipt_deposits_to_undeposited_funds_by_default(api: Api) -> None:
    customer = new_customer(api)
    receipt = doc_of(api.post("salesreceipt", invoice_body(customer["Id"])), "SalesReceipt")
    assert receipt["DepositToAccountRef"] == {"value": UNDEPOSITED, "name": "Undeposited Funds"}
    assert api.sim.account_balance(UNDEPOSITED) == Decimal("24.99")
    to_income = invoice_body(customer["Id"], "WC-2", DepositToAccountRef={"value": INCOME})
    refused(api.post("salesreceipt", to_income), "6000", "DepositToAccountRef")


# -- name lists and tracking ---------------------------------------------------------------


@pytest.mark.parametrize(("entity", "path"), [("Class", "class"), ("Department", "department")])
def test_classes_and_departments_have_unique_names(api: Api, entity: str, path: str) -> None:
    made = doc_of(api.post(path, {"Name": "Retail"}), entity)
    assert (made["Active"], made["FullyQualifiedName"]) == (True, "Retail")
    duplicate = refused(api.post(path, {"Name": "retail"}), "6240")
    assert duplicate["Message"] == "Duplicate Name Exists Error"
    assert f"(Id={made['Id']})" in duplicate["Detail"]
    refused(api.post(path, {}), "2020", "Name")
    refused(api.post(path, {"Name": "A:B"}), "6000", "Name")
    child = doc_of(api.post(path, {"Name": "Online", "ParentRef": {"value": made["Id"]}}), entity)
    assert child["FullyQualifiedName"] == "Retail:Online"
    refused(api.post(path, {"Name": "X", "ParentRef": {"value": "99"}}), "2500", "ParentRef")
    assert doc_of(api.get(f"{path}/{made['Id']}"), entity)["Name"] == "Retail"
    api.sim.set_active(entity, made["Id"], False)
    rows = api.query(f"SELECT * FROM {entity}").json()["QueryResponse"][entity]
    assert [r["Name"] for r in rows] == ["Online"]  # inactive ones hidden
    delete = api.post(path, {"Id": made["Id"], "SyncToken": "1"}, operation="delete")
    refused(delete, "500")


def test_payment_methods_are_seeded_and_validated(api: Api) -> None:
    rows = api.query("SELECT * FROM PaymentMethod").json()["QueryResponse"]["PaymentMethod"]
    names = {r["Name"]: r["Type"] for r in rows}
    assert names["Cash"] == "NON_CREDIT_CARD" and names["Visa"] == "CREDIT_CARD"
    refused(api.post("paymentmethod", {"Name": "cash"}), "6240")
    refused(api.post("paymentmethod", {"Name": "Bank", "Type": "WIRE"}), "2170", "Type")
    refused(api.post("paymentmethod", {"Name": "P" * 32}), "2050", "Name")
    made = doc_of(api.post("paymentmethod", {"Name": "PayPal"}), "PaymentMethod")
    assert made["Type"] == "NON_CREDIT_CARD"


def test_terms_are_seeded_and_set_an_invoices_due_date(api: Api) -> None:
    rows = api.query("SELECT * FROM Term").json()["QueryResponse"]["Term"]
    days = {r["Name"]: r["DueDays"] for r in rows}
    assert days == {"Due on receipt": 0, "Net 15": 15, "Net 30": 30, "Net 60": 60}
    net60 = next(r["Id"] for r in rows if r["Name"] == "Net 60")
    customer = new_customer(api)["Id"]
    # The company's default terms (Net 30), or the invoice's own
    plain = invoice(api, customer, "T-1", TxnDate="2026-05-01")
    assert plain["SalesTermRef"]["name"] == "Net 30" and plain["DueDate"] == "2026-05-31"
    termed = invoice(api, customer, "T-2", TxnDate="2026-05-01", SalesTermRef={"value": net60})
    assert termed["DueDate"] == "2026-06-30"
    # Unknown terms and malformed ones are refused
    refused(
        api.post("invoice", invoice_body(customer, "T-3", SalesTermRef={"value": "99"})), "2500"
    )
    refused(api.post("term", {"Name": "Net 45"}), "2020", "DueDays")
    refused(api.post("term", {"Name": "net 15", "DueDays": 15}), "6240")
    made = doc_of(api.post("term", {"Name": "Net 45", "DueDays": 45}), "Term")
    assert (made["Type"], made["DueDays"]) == ("STANDARD", 45)


def test_accounts_are_validated_like_qbo(api: Api) -> None:
    refused(api.post("account", {"Name": "Stripe"}), "2020", "AccountType")
    refused(api.post("account", {"Name": "Stripe", "AccountType": "Wallet"}), "2170")
    refused(api.post("account", {"Name": "checking", "AccountType": "Bank"}), "6240")
    made = doc_of(
        api.post("account", {"Name": "Stripe Clearing", "AccountType": "Other Current Asset"}),
        "Account",
    )
    assert made["Classification"] == "Asset"
    assert made["CurrencyRef"]["value"] == "USD"
    rows = api.query("SELECT * FROM Account WHERE AccountType = 'Bank'").json()
    assert [r["Name"] for r in rows["QueryResponse"]["Account"]] == ["Checking"]


def test_class_refs_need_class_tracking(make_api: Callable[..., Api]) -> None:
    off = make_api()
    retail = doc_of(off.post("class", {"Name": "Retail"}), "Class")
    customer = new_customer(off)
    error = refused(
        off.post("invoice", invoice_body(customer["Id"], ClassRef={"value": retail["Id"]})),
        "6000",
        "ClassRef",
    )
    assert "ClassTrackingPerTxn" in error["Detail"]

    per_txn = make_api(class_tracking_per_txn=True)
    retail = doc_of(per_txn.post("class", {"Name": "Retail"}), "Class")
    customer = new_customer(per_txn)
    made = invoice(per_txn, customer["Id"], ClassRef={"value": retail["Id"]})
    assert made["ClassRef"] == {"value": retail["Id"], "name": "Retail"}
    on_line = invoice_body(customer["Id"], "WC-2")
    on_line["Line"][0]["SalesItemLineDetail"]["ClassRef"] = {"value": retail["Id"]}
    assert "ClassTrackingPerTxnLine" in refused(per_txn.post("invoice", on_line), "6000")["Detail"]
    unknown = invoice_body(customer["Id"], "WC-3", ClassRef={"value": "99"})
    refused(per_txn.post("invoice", unknown), "2500", "ClassRef")
    per_txn.sim.set_active("Class", retail["Id"], False)
    inactive = invoice_body(customer["Id"], "WC-4", ClassRef={"value": retail["Id"]})
    refused(per_txn.post("invoice", inactive), "610", "ClassRef")

    per_line = make_api(class_tracking_per_line=True)
    retail = doc_of(per_line.post("class", {"Name": "Retail"}), "Class")
    customer = new_customer(per_line)
    whole = invoice_body(customer["Id"], ClassRef={"value": retail["Id"]})
    refused(per_line.post("invoice", whole), "6000", "ClassRef")
    lined = invoice_body(customer["Id"])
    lined["Line"][0]["SalesItemLineDetail"]["ClassRef"] = {"value": retail["Id"]}
    made = doc_of(per_line.post("salesreceipt", lined), "SalesReceipt")
    assert made["Line"][0]["SalesItemLineDetail"]["ClassRef"]["name"] == "Retail"


def test_department_refs_need_location_tracking(make_api: Callable[..., Api]) -> None:
    off = make_api()
    store = doc_of(off.post("department", {"Name": "Web"}), "Department")
    customer = new_customer(off)
    error = refused(
        off.post("invoice", invoice_body(customer["Id"], DepartmentRef={"value": store["Id"]})),
        "6000",
        "DepartmentRef",
    )
    assert error["Detail"].startswith("Business Validation Error: Location tracking")
    payment = {**payment_body(customer["Id"], "1.00"), "DepartmentRef": {"value": store["Id"]}}
    refused(off.post("payment", payment), "6000", "DepartmentRef")

    on = make_api(track_departments=True)
    store = doc_of(on.post("department", {"Name": "Web"}), "Department")
    customer = new_customer(on)
    made = invoice(on, customer["Id"], DepartmentRef={"value": store["Id"]})
    assert made["DepartmentRef"] == {"value": store["Id"], "name": "Web"}
    unknown = invoice_body(customer["Id"], "WC-2", DepartmentRef={"value": "99"})
    refused(on.post("invoice", unknown), "2500", "DepartmentRef")


def test_new_documents_are_queryable(api: Api) -> None:
    customer = new_customer(api)
    inv = invoice(api, customer["Id"])
    api.post("payment", payment_body(customer["Id"], "5.00", ("Invoice", inv["Id"], "5.00")))
    credit_memo(api, customer["Id"])
    api.post("refundreceipt", refund_body(DepositToAccountRef={"value": CHECKING}))
    for entity in ("Payment", "CreditMemo", "RefundReceipt"):
        rows = api.query(f"SELECT * FROM {entity}").json()["QueryResponse"][entity]
        assert len(rows) == 1, entity
    by_customer = api.query(f"SELECT * FROM Payment WHERE CustomerRef = '{customer['Id']}'")
    assert len(by_customer.json()["QueryResponse"]["Payment"]) == 1
    open_invoices = api.query("SELECT * FROM Invoice WHERE Balance > '0'").json()
    assert money(open_invoices["QueryResponse"]["Invoice"][0]["Balance"]) == Decimal("19.99")

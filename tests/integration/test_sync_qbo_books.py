"""Books that tie out in QuickBooks Online: payments and refunds, through the whole local path.

Each test asserts what a bookkeeper reconciles: a paid invoice has balance 0 and its
payment sits in the account its gateway maps to; an unpaid one stays open; refunds
come out of the account the money went into; document minus refunds equals the
store's net, to the cent; nothing is posted twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from connector.replay import replay_parked
from simulators.qbo import LoggedRequest
from simulators.testbed.online import QboRig, QboRigs, connection_settings
from simulators.woocommerce import LineSpec, OrderSpec

PAY = "pay"  # invoices, payments routed by gateway
SR = "sr"  # sales receipts

MUG, PRINT, HOODIE_BLUE = 10, 11, 21
JANE = 2
STRIPE = ("stripe", "Credit Card (Stripe)")
BACS = ("bacs", "Direct bank transfer")
PAYPAL = ("ppcp-gateway", "PayPal")
CHEQUE = ("cheque", "Check payments")


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    mapping = {
        "fallback_item": "Sales",
        "shipping_item": "Shipping",
        "doc_number": "{prefix}{number}",
        "tax": {"mode": "us_automated"},
        "payments": {
            "stripe": {"method": "Visa", "deposit_account": "Checking"},
            "ppcp-gateway": {"deposit_account": "PayPal Balance"},  # not in the company yet
            "default": {"deposit_account": "Undeposited Funds"},
        },
        "terms": {"wholesale_customer": "Net 60", "default": "Due on receipt"},
    }
    return [
        connection_settings(
            PAY, woo_url=woo_url, qbo_url=qbo_url, mapping={**mapping, "doc_prefix": "P-"}
        ),
        connection_settings(
            SR,
            woo_url=woo_url,
            qbo_url=qbo_url,
            document="sales_receipt",
            mapping={**mapping, "doc_prefix": "S-"},
        ),
    ]


@pytest.fixture(scope="module")
def rig(qbo_rig: QboRigs) -> Iterator[QboRig]:
    with qbo_rig(_connections) as running:
        yield running


def _order(rig: QboRig, *lines: tuple[int, int], **spec: Any) -> dict[str, Any]:
    spec.setdefault("customer_id", JANE)
    return rig.woo.create_order(OrderSpec(lines=[LineSpec(p, q) for p, q in lines], **spec))


def _one(rig: QboRig, entity: str, order_id: int) -> dict[str, Any]:
    found = rig.documents(entity, order_id)
    assert len(found) == 1, f"{len(found)} {entity}s for order {order_id}"
    return found[0]


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


def _payments_of(rig: QboRig, invoice_id: str) -> list[dict[str, Any]]:
    return [
        p
        for p in rig.qbo.documents("Payment")
        if any(
            link.get("TxnId") == invoice_id and link.get("TxnType") == "Invoice"
            for line in p.get("Line", [])
            for link in line.get("LinkedTxn", [])
        )
        and _money(p["TotalAmt"]) > 0
    ]


def _call(request: LoggedRequest) -> tuple[str, str]:
    """A request QuickBooks answered (throttled ones are Intuit's per-second limit, retried)."""
    return request.method, request.path.rsplit("/", 1)[-1]


def _account_id(rig: QboRig, name: str) -> str:
    (account,) = [a for a in rig.qbo.documents("Account") if a["Name"] == name]
    return str(account["Id"])


# --- payments --------------------------------------------------------------------------------


def test_a_paid_order_is_an_invoice_with_balance_zero_and_its_payment_in_the_mapped_account(
    rig: QboRig,
) -> None:
    order = _order(rig, (MUG, 2), (PRINT, 1), payment_method=STRIPE)
    rig.sync(PAY, "order.created", order["id"])

    invoice = _one(rig, "Invoice", order["id"])
    assert _money(invoice["TotalAmt"]) == Decimal(order["total"])
    assert _money(invoice["Balance"]) == 0
    (payment,) = _payments_of(rig, invoice["Id"])
    assert _money(payment["TotalAmt"]) == Decimal(order["total"])
    assert payment["DepositToAccountRef"]["value"] == _account_id(rig, "Checking")
    assert payment["PaymentMethodRef"]["name"] == "Visa"
    assert payment["PaymentRefNum"] == order["transaction_id"][:21]
    assert payment["TxnDate"] == order["date_paid_gmt"][:10]

    state = rig.sync_state(PAY, order["id"], "payment")
    assert (state.status, state.ledger_id, state.ledger_type) == (
        "posted",
        payment["Id"],
        "Payment",
    )
    (posted,) = rig.audit(PAY, order["id"], "payment")
    assert posted.event == "posted" and "deposited to Checking" in posted.outcome
    assert posted.detail["mapped"] is True


def test_an_unpaid_order_stays_open_and_its_payment_comes_when_the_store_is_paid(
    rig: QboRig,
) -> None:
    order = _order(rig, (MUG, 1), status="on-hold", payment_method=BACS)
    rig.sync(PAY, "order.created", order["id"])
    invoice = _one(rig, "Invoice", order["id"])
    assert _money(invoice["Balance"]) == Decimal(order["total"]) > 0
    assert _payments_of(rig, invoice["Id"]) == []

    # The bank transfer arrives: the merchant marks the order processing.
    rig.woo.update_order(order["id"], status="processing")
    rig.sync(PAY, "order.updated", order["id"])
    rig.sync(PAY, "order.updated", order["id"])  # a repeat changes nothing

    invoice = _one(rig, "Invoice", order["id"])
    assert _money(invoice["Balance"]) == 0
    (payment,) = _payments_of(rig, invoice["Id"])
    assert payment["DepositToAccountRef"]["value"] == _account_id(rig, "Undeposited Funds")
    assert "PaymentMethodRef" not in payment
    (posted,) = rig.audit(PAY, order["id"], "payment")
    assert posted.detail["mapped"] is False and "default" in posted.outcome


def test_a_known_customer_with_known_items_costs_two_writes_and_no_reads(rig: QboRig) -> None:
    warm = _order(rig, (MUG, 1), payment_method=STRIPE)
    rig.sync(PAY, "order.created", warm["id"])
    order = _order(rig, (MUG, 3), payment_method=STRIPE)
    mark = len(rig.qbo.request_log)
    rig.sync(PAY, "order.created", order["id"])

    assert [_call(r) for r in rig.requests_since(mark) if r.status != 429] == [
        ("POST", "invoice"),
        ("POST", "payment"),
    ]


def test_a_sales_receipt_carries_its_method_and_deposit_account_in_one_write(
    rig: QboRig,
) -> None:
    warm = _order(rig, (PRINT, 1), payment_method=STRIPE)
    rig.sync(SR, "order.created", warm["id"])
    order = _order(rig, (PRINT, 2), payment_method=STRIPE)
    mark = len(rig.qbo.request_log)
    rig.sync(SR, "order.created", order["id"])

    receipt = _one(rig, "SalesReceipt", order["id"])
    assert receipt["DepositToAccountRef"]["value"] == _account_id(rig, "Checking")
    assert receipt["PaymentMethodRef"]["name"] == "Visa"
    assert [_call(r) for r in rig.requests_since(mark) if r.status != 429] == [
        ("POST", "salesreceipt")
    ]
    assert rig.documents("Payment", order["id"]) == []


def test_a_missing_deposit_account_parks_naming_it_and_a_replay_pays_once(rig: QboRig) -> None:
    order = _order(rig, (MUG, 1), payment_method=PAYPAL)
    rig.sync(PAY, "order.created", order["id"])

    invoice = _one(rig, "Invoice", order["id"])
    state = rig.sync_state(PAY, order["id"])
    assert state.status == "parked"
    assert state.last_error and "'PayPal Balance'" in state.last_error
    assert _payments_of(rig, invoice["Id"]) == []

    # The bookkeeper adds the account, then replays.
    rig.qbo.seed(
        "Account", {"Name": "PayPal Balance", "AccountType": "Bank", "AccountSubType": "Checking"}
    )
    replay_parked(rig.sqs, dlq_url=rig.dlq_url, queue=rig.sync_queue(), record_id=str(order["id"]))
    rig.drain()

    assert _one(rig, "Invoice", order["id"])["Id"] == invoice["Id"]
    (payment,) = _payments_of(rig, invoice["Id"])
    assert payment["DepositToAccountRef"]["value"] == _account_id(rig, "PayPal Balance")
    assert _money(_one(rig, "Invoice", order["id"])["Balance"]) == 0


def test_a_lost_payment_answer_is_found_on_the_invoice_not_paid_twice(rig: QboRig) -> None:
    rig.qbo.inject("lost", entity="Payment", operation="create")
    order = _order(rig, (PRINT, 1), payment_method=STRIPE)
    rig.sync(PAY, "order.created", order["id"])

    invoice = _one(rig, "Invoice", order["id"])
    assert len(_payments_of(rig, invoice["Id"])) == 1
    assert _money(invoice["Balance"]) == 0
    events = rig.audit(PAY, order["id"], "payment")
    assert events[-1].detail["operation"] == "adopted"


# --- refunds ---------------------------------------------------------------------------------


def _net_in_quickbooks(rig: QboRig, order_id: int) -> Decimal:
    documents = sum(
        _money(d["TotalAmt"])
        for entity in ("Invoice", "SalesReceipt")
        for d in rig.documents(entity, order_id)
    )
    refunds = sum(
        _money(d["TotalAmt"])
        for entity in ("RefundReceipt", "CreditMemo")
        for d in rig.documents(entity, order_id)
    )
    return documents - refunds


def _store_net(rig: QboRig, order_id: int) -> Decimal:
    order = rig.woo.get_order(order_id)
    return Decimal(order["total"]) + sum(Decimal(r["total"]) for r in order["refunds"])


def test_a_line_refund_of_a_paid_order_is_a_refund_receipt_from_the_deposit_account(
    rig: QboRig,
) -> None:
    order = _order(rig, (MUG, 2), (PRINT, 1), payment_method=STRIPE)
    rig.sync(PAY, "order.created", order["id"])
    mug_line = next(i for i in order["line_items"] if i["product_id"] == MUG)
    refund = rig.woo.add_refund(order["id"], items={mug_line["id"]: 1}, reason="chipped")
    rig.sync(PAY, "order.updated", order["id"])

    (receipt,) = rig.documents("RefundReceipt", order["id"])
    assert _money(receipt["TotalAmt"]) == Decimal(refund["amount"])
    assert receipt["DepositToAccountRef"]["value"] == _account_id(rig, "Checking")
    assert f"refund {refund['id']}" in receipt["PrivateNote"]
    assert _net_in_quickbooks(rig, order["id"]) == _store_net(rig, order["id"])
    state = rig.sync_state(PAY, refund["id"], "refund")
    assert (state.status, state.ledger_id) == ("posted", receipt["Id"])


def test_shipping_and_amount_only_refunds_net_to_the_store(rig: QboRig) -> None:
    order = _order(rig, (HOODIE_BLUE, 1), shipping="flat_rate", payment_method=STRIPE)
    rig.sync(PAY, "order.created", order["id"])
    rig.woo.add_refund(order["id"], shipping=True)
    rig.woo.add_refund(order["id"], amount=Decimal("3.50"), reason="goodwill")
    rig.sync(PAY, "order.updated", order["id"])

    receipts = rig.documents("RefundReceipt", order["id"])
    assert len(receipts) == 2
    assert _net_in_quickbooks(rig, order["id"]) == _store_net(rig, order["id"])


def test_a_refund_of_an_unpaid_invoice_is_a_credit_memo_applied_to_it(rig: QboRig) -> None:
    order = _order(rig, (MUG, 2), status="on-hold", payment_method=CHEQUE)
    rig.sync(PAY, "order.created", order["id"])
    rig.woo.add_refund(order["id"], amount=Decimal("5.00"), reason="price match")
    rig.sync(PAY, "order.updated", order["id"])

    (memo,) = rig.documents("CreditMemo", order["id"])
    assert _money(memo["TotalAmt"]) == Decimal("5.00")
    invoice = _one(rig, "Invoice", order["id"])
    assert _money(invoice["Balance"]) == Decimal(order["total"]) - Decimal("5.00")
    assert rig.documents("RefundReceipt", order["id"]) == []


def test_a_fully_refunded_order_posts_its_invoice_then_its_refund(rig: QboRig) -> None:
    order = _order(rig, (PRINT, 1), payment_method=STRIPE)
    rig.woo.add_refund(order["id"], amount=Decimal(order["total"]))
    assert rig.woo.get_order(order["id"])["status"] == "refunded"
    rig.sync(PAY, "order.created", order["id"])

    invoice = _one(rig, "Invoice", order["id"])
    assert _money(invoice["TotalAmt"]) == Decimal(order["total"])
    assert len(_payments_of(rig, invoice["Id"])) == 1
    assert len(rig.documents("RefundReceipt", order["id"])) == 1
    assert _net_in_quickbooks(rig, order["id"]) == 0 == _store_net(rig, order["id"])


def test_a_refund_deleted_in_the_store_withdraws_its_document(rig: QboRig) -> None:
    order = _order(rig, (MUG, 1), payment_method=STRIPE)
    rig.sync(PAY, "order.created", order["id"])
    refund = rig.woo.add_refund(order["id"], amount=Decimal("2.00"))
    rig.sync(PAY, "order.updated", order["id"])
    assert len(rig.documents("RefundReceipt", order["id"])) == 1

    rig.woo.delete_refund(order["id"], refund["id"])
    rig.sync(PAY, "order.updated", order["id"])

    assert rig.documents("RefundReceipt", order["id"]) == []
    assert rig.sync_state(PAY, refund["id"], "refund").status == "deleted"
    assert _net_in_quickbooks(rig, order["id"]) == _store_net(rig, order["id"])


# --- customers and currencies ----------------------------------------------------------------


def _customers_with_email(rig: QboRig, email: str) -> list[dict[str, Any]]:
    return [
        c
        for c in rig.qbo.documents("Customer")
        if (c.get("PrimaryEmailAddr") or {}).get("Address", "").lower() == email.lower()
    ]


def test_a_buyer_already_in_quickbooks_under_another_name_is_found_by_email(rig: QboRig) -> None:
    buyer = rig.woo.create_customer(
        first_name="Grace", last_name="Hopper", email="grace@navy.example"
    )
    existing = rig.qbo.seed(
        "Customer",
        {"DisplayName": "Rear Adm. G. Hopper", "PrimaryEmailAddr": {"Address": buyer["email"]}},
    )
    order = _order(rig, (MUG, 1), customer_id=buyer["id"], payment_method=STRIPE)
    rig.sync(PAY, "order.created", order["id"])

    assert _one(rig, "Invoice", order["id"])["CustomerRef"]["value"] == existing["Id"]
    assert _customers_with_email(rig, buyer["email"]) == [existing]


def _in_currency(
    rig: QboRig, currency: str, *lines: tuple[int, int], **spec: Any
) -> dict[str, Any]:
    """An order placed in ``currency`` (a multi-currency plugin's checkout)."""
    return _order(rig, *lines, currency=currency, **spec)


def test_a_foreign_order_parks_naming_the_setting_then_posts_in_its_currency(rig: QboRig) -> None:
    # Given a company in USD with multicurrency off, and a CAD order of a buyer known in USD
    buyer = rig.woo.create_customer(
        first_name="Ada", last_name="Lovelace", email="ada@calc.example"
    )
    usd = _order(rig, (MUG, 1), customer_id=buyer["id"], payment_method=STRIPE)
    rig.sync(PAY, "order.created", usd["id"])
    cad = _in_currency(rig, "CAD", (MUG, 2), customer_id=buyer["id"], payment_method=STRIPE)
    rig.sync(PAY, "order.created", cad["id"])

    # Then it parks with a reason naming the setting, and nothing is posted for it
    state = rig.sync_state(PAY, cad["id"])
    assert state.status == "parked" and state.last_error
    assert "CAD" in state.last_error and "turn on Multicurrency" in state.last_error
    assert rig.documents("Invoice", cad["id"]) == []

    # When the merchant turns multicurrency on (QuickBooks knows the day's rate) and replays
    rig.qbo.turn_on_multicurrency()
    paid_on = date.fromisoformat(cad["date_paid_gmt"][:10])
    rig.qbo.set_exchange_rate("CAD", "0.7400", paid_on - timedelta(days=3))
    replay_parked(rig.sqs, dlq_url=rig.dlq_url, queue=rig.sync_queue(), record_id=str(cad["id"]))
    rig.drain()

    # Then the invoice, its customer and its payment are in CAD at QuickBooks' rate
    invoice = _one(rig, "Invoice", cad["id"])
    assert invoice["CurrencyRef"]["value"] == "CAD"
    assert _money(invoice["ExchangeRate"]) == Decimal("0.74")
    assert _money(invoice["HomeTotalAmt"]) == (Decimal(cad["total"]) * Decimal("0.74")).quantize(
        Decimal("0.01")
    )
    customers = {c["CurrencyRef"]["value"]: c for c in _customers_with_email(rig, buyer["email"])}
    assert sorted(customers) == ["CAD", "USD"]
    assert customers["CAD"]["DisplayName"] == "Ada Lovelace (CAD)"
    assert invoice["CustomerRef"]["value"] == customers["CAD"]["Id"]
    (payment,) = _payments_of(rig, invoice["Id"])
    assert payment["CurrencyRef"]["value"] == "CAD" and _money(invoice["Balance"]) == 0
    usd_invoice = _one(rig, "Invoice", usd["id"])
    assert usd_invoice["CustomerRef"]["value"] == customers["USD"]["Id"]

    # And a second CAD order of the buyer uses the same CAD customer
    again = _in_currency(rig, "CAD", (PRINT, 1), customer_id=buyer["id"], payment_method=STRIPE)
    rig.sync(PAY, "order.created", again["id"])
    assert _one(rig, "Invoice", again["id"])["CustomerRef"]["value"] == customers["CAD"]["Id"]
    assert len(_customers_with_email(rig, buyer["email"])) == 2


def test_an_invoice_credited_before_it_is_paid_is_paid_for_what_is_left(rig: QboRig) -> None:
    # Given an unpaid order refunded 4.00 (a credit memo applied to its invoice)
    order = _order(rig, (MUG, 2), status="on-hold", payment_method=BACS)
    rig.sync(PAY, "order.created", order["id"])
    rig.woo.add_refund(order["id"], amount=Decimal("4.00"), reason="price match")
    rig.sync(PAY, "order.updated", order["id"])
    # When the buyer pays what is left and the merchant marks it processing
    rig.woo.update_order(order["id"], status="processing")
    rig.sync(PAY, "order.updated", order["id"])

    # Then one payment of the rest closes the invoice; nothing is parked
    invoice = _one(rig, "Invoice", order["id"])
    (payment,) = _payments_of(rig, invoice["Id"])
    assert _money(payment["TotalAmt"]) == Decimal(order["total"]) - Decimal("4.00")
    assert _money(invoice["Balance"]) == 0
    assert rig.sync_state(PAY, order["id"]).status == "posted"
    assert _net_in_quickbooks(rig, order["id"]) == _store_net(rig, order["id"])


# --- bad input: a clear answer, nothing lost or doubled ---------------------------------------


def test_refunds_adding_up_to_more_than_the_order_park_it_naming_both(rig: QboRig) -> None:
    order = _order(rig, (MUG, 1), payment_method=STRIPE)
    rig.sync(PAY, "order.created", order["id"])

    def a_plugin_lists_a_bogus_refund(payload: dict[str, Any]) -> None:
        payload["refunds"] = [{"id": 99999, "reason": "", "total": "-1000.00"}]

    rig.store_rewrites[order["id"]] = a_plugin_lists_a_bogus_refund
    rig.woo.update_order(order["id"], customer_note="refund requested")
    try:
        rig.sync(PAY, "order.updated", order["id"])
    finally:
        rig.store_rewrites.clear()

    state = rig.sync_state(PAY, order["id"])
    assert state.status == "parked" and state.last_error
    assert "refunds add up to 1000.00" in state.last_error and order["total"] in state.last_error
    assert rig.documents("RefundReceipt", order["id"]) == []
    assert len(_payments_of(rig, _one(rig, "Invoice", order["id"])["Id"])) == 1


def test_a_voided_invoice_is_never_paid(rig: QboRig) -> None:
    # Given an unpaid order whose invoice was voided when it was cancelled
    order = _order(rig, (PRINT, 1), status="on-hold", payment_method=BACS)
    rig.sync(PAY, "order.created", order["id"])
    rig.woo.update_order(order["id"], status="cancelled")
    rig.sync(PAY, "order.updated", order["id"])
    # When the store later marks it paid
    rig.woo.update_order(order["id"], status="processing")
    rig.sync(PAY, "order.updated", order["id"])

    # Then it parks with the way out, and QuickBooks gets no payment for the voided invoice
    invoice = _one(rig, "Invoice", order["id"])
    assert _money(invoice["TotalAmt"]) == 0
    assert _payments_of(rig, invoice["Id"]) == []
    state = rig.sync_state(PAY, order["id"])
    assert state.status == "parked" and state.last_error and "cannot un-void" in state.last_error


def test_a_free_order_gets_no_payment(rig: QboRig) -> None:
    # Given a paid order whose coupon and loyalty discount bring it to zero
    order = _order(rig, (MUG, 1), payment_method=STRIPE)

    def free(payload: dict[str, Any]) -> None:
        for key in ("total", "total_tax", "cart_tax", "discount_total", "shipping_total"):
            payload[key] = "0.00"
        for line in payload["line_items"]:
            line.update(total="0.00", subtotal="0.00", total_tax="0.00", subtotal_tax="0.00")
            line["taxes"] = []
        payload["tax_lines"], payload["shipping_lines"], payload["fee_lines"] = [], [], []

    rig.store_rewrites[order["id"]] = free
    try:
        rig.sync(PAY, "order.created", order["id"])
    finally:
        rig.store_rewrites.clear()

    invoice = _one(rig, "Invoice", order["id"])
    assert _money(invoice["TotalAmt"]) == 0 == _money(invoice["Balance"])
    assert [
        p
        for p in rig.qbo.documents("Payment")
        if f"(id {order['id']})" in str(p.get("PrivateNote"))
    ] == []


def test_invoices_carry_the_payment_terms_of_the_buyers_group(rig: QboRig) -> None:
    trader = rig.woo.create_customer(
        first_name="Tess", last_name="Trader", email="tess@wholesale.example",
        role="wholesale_customer",
    )  # fmt: skip
    wholesale = _order(
        rig, (MUG, 10), customer_id=trader["id"], status="on-hold", payment_method=BACS
    )
    retail = _order(rig, (MUG, 1), status="on-hold", payment_method=BACS)
    rig.sync(PAY, "order.created", wholesale["id"])
    rig.sync(PAY, "order.created", retail["id"])

    net60 = _one(rig, "Invoice", wholesale["id"])
    assert net60["SalesTermRef"]["name"] == "Net 60"
    assert date.fromisoformat(net60["DueDate"]) - date.fromisoformat(net60["TxnDate"]) == timedelta(
        days=60
    )
    on_receipt = _one(rig, "Invoice", retail["id"])
    assert on_receipt["SalesTermRef"]["name"] == "Due on receipt"
    assert on_receipt["DueDate"] == on_receipt["TxnDate"]

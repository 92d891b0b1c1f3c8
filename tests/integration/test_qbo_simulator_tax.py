"""The simulated QuickBooks Online company's sales tax outside the US, over HTTP.

QuickBooks computes the tax per rate at subtotal level; a bare TxnTaxDetail.TotalTax does not
change it, a TaxLine per rate does, and what QuickBooks refuses is refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from simulators.testbed.qbo_http import Api, fault_of, invoice_body, new_customer

D = Decimal
VAT_20 = {"value": "2"}  # code "20.0% S", rate "1"
VAT_5 = {"value": "3"}  # code "5.0% R", rate "2"


def _line(amount: str, code: dict[str, str], item: str = "2") -> dict[str, Any]:
    return {
        "DetailType": "SalesItemLineDetail",
        "Amount": amount,
        "SalesItemLineDetail": {"ItemRef": {"value": item}, "TaxCodeRef": code},
    }


def _tax_line(rate: str, amount: str, net: str, percent: str = "20") -> dict[str, Any]:
    return {
        "Amount": amount,
        "DetailType": "TaxLineDetail",
        "TaxLineDetail": {
            "TaxRateRef": {"value": rate},
            "PercentBased": True,
            "TaxPercent": percent,
            "NetAmountTaxable": net,
        },
    }


def _mugs(api: Api, **extra: Any) -> dict[str, Any]:
    """Three 0.99 mugs at 20%: 0.198 each, 0.20 rounded per line, 0.59 at subtotal."""
    customer = new_customer(api)
    body = {
        "CustomerRef": {"value": customer["Id"]},
        "Line": [_line("0.99", VAT_20) for _ in range(3)],
        **extra,
    }
    return body


def _saved(response: httpx.Response, entity: str = "Invoice") -> dict[str, Any]:
    """The saved document, its numbers read exactly."""
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = json.loads(response.text, parse_float=Decimal)[entity]
    return answer


def _rates(doc: dict[str, Any]) -> dict[str, tuple[Decimal, dict[str, Any]]]:
    return {
        t["TaxLineDetail"]["TaxRateRef"]["value"]: (t["Amount"], t["TaxLineDetail"])
        for t in doc["TxnTaxDetail"].get("TaxLine", [])
    }


def test_a_bare_total_tax_is_recomputed_outside_the_us(uk_api: Api) -> None:
    # Given a UK invoice that sends a TotalTax of its own
    customer = new_customer(uk_api)
    body = invoice_body(customer["Id"], TxnTaxDetail={"TotalTax": "9.99"})
    body["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"] = VAT_20
    body["Line"][1]["SalesItemLineDetail"]["TaxCodeRef"] = VAT_5
    # When QuickBooks saves it
    invoice = _saved(uk_api.post("invoice", body))
    # Then it answers its own tax: 20% of 20.00 and 5% of 4.99
    assert invoice["TxnTaxDetail"]["TotalTax"] == D("4.25")
    assert invoice["TotalAmt"] == D("29.24")
    rates = _rates(invoice)
    assert rates["1"][0] == D("4.00") and rates["2"][0] == D("0.25")
    assert "OverrideDeltaAmount" not in rates["1"][1]


def test_subtotal_rounding_differs_from_per_line_rounding(uk_api: Api) -> None:
    invoice = _saved(uk_api.post("invoice", _mugs(uk_api)))
    ((amount, detail),) = _rates(invoice).values()
    assert (amount, detail["NetAmountTaxable"], detail["TaxPercent"]) == (
        D("0.59"),
        D("2.97"),
        D("20"),
    )
    assert invoice["TotalAmt"] == D("3.56")


def test_a_tax_line_per_rate_overrides_quickbooks_amount(uk_api: Api) -> None:
    # Given the store's per-line rounded VAT, 0.60, as the rate's TaxLine
    body = _mugs(
        uk_api, TxnTaxDetail={"TotalTax": "0.60", "TaxLine": [_tax_line("1", "0.60", "2.97")]}
    )
    # When QuickBooks saves it
    invoice = _saved(uk_api.post("invoice", body))
    # Then the rate's tax is the amount sent, the difference shows, and the total follows
    ((amount, detail),) = _rates(invoice).values()
    assert amount == D("0.60")
    assert detail["OverrideDeltaAmount"] == D("0.01")
    assert detail["NetAmountTaxable"] == D("2.97")
    assert invoice["TxnTaxDetail"]["TotalTax"] == D("0.60")
    assert invoice["TotalAmt"] == D("3.57")
    assert invoice["Balance"] == D("3.57")
    # and a full read gives the same
    again = _saved(uk_api.get(f"invoice/{invoice['Id']}"))
    assert again["TotalAmt"] == D("3.57")


def test_rates_without_a_tax_line_are_still_computed(uk_api: Api) -> None:
    customer = new_customer(uk_api)
    body = {
        "CustomerRef": {"value": customer["Id"]},
        "Line": [_line("20.00", VAT_20), _line("4.99", VAT_5)],
        "TxnTaxDetail": {"TaxLine": [_tax_line("2", "0.24", "4.99", "5")]},
    }
    invoice = _saved(uk_api.post("invoice", body))
    rates = _rates(invoice)
    assert (rates["1"][0], rates["2"][0]) == (D("4.00"), D("0.24"))
    assert invoice["TxnTaxDetail"]["TotalTax"] == D("4.24")
    assert invoice["TotalAmt"] == D("29.23")


def test_the_discount_is_spread_over_the_rates_taxable_amounts(uk_api: Api) -> None:
    # Given 30.00 at 20% and 10.00 at 5%, less a 4.00 discount (a tenth of everything)
    customer = new_customer(uk_api)
    body = {
        "CustomerRef": {"value": customer["Id"]},
        "Line": [
            _line("30.00", VAT_20),
            _line("10.00", VAT_5),
            {
                "DetailType": "DiscountLineDetail",
                "Amount": "4.00",
                "DiscountLineDetail": {"PercentBased": False},
            },
        ],
    }
    invoice = _saved(uk_api.post("invoice", body))
    rates = _rates(invoice)
    assert rates["1"][1]["NetAmountTaxable"] == D("27.00")
    assert rates["2"][1]["NetAmountTaxable"] == D("9.00")
    assert (rates["1"][0], rates["2"][0]) == (D("5.40"), D("0.45"))
    assert invoice["TotalAmt"] == D("41.85")


def test_tax_inclusive_documents_have_net_lines_and_add_the_tax(uk_api: Api) -> None:
    # Given prices including VAT: the lines carry their net amounts
    body = _mugs(
        uk_api,
        GlobalTaxCalculation="TaxInclusive",
        TxnTaxDetail={"TaxLine": [_tax_line("1", "0.60", "2.97")]},
    )
    invoice = _saved(uk_api.post("invoice", body))
    ((amount, detail),) = _rates(invoice).values()
    assert invoice["GlobalTaxCalculation"] == "TaxInclusive"
    assert (amount, detail["NetAmountTaxable"], detail["TaxInclusiveAmount"]) == (
        D("0.60"),
        D("2.97"),
        D("3.57"),
    )
    assert invoice["TotalAmt"] == D("3.57")


def test_a_combined_code_taxes_each_of_its_rates(make_api: Callable[..., Api]) -> None:
    # Given Quebec's GST/QST code: GST 5% and QST 9.975%, each on the net amount
    api = make_api(country="CA")
    customer = new_customer(api)
    body = {"CustomerRef": {"value": customer["Id"]}, "Line": [_line("100.00", {"value": "5"})]}
    invoice = _saved(api.post("invoice", body))
    rates = _rates(invoice)
    assert (rates["1"][0], rates["4"][0]) == (D("5.00"), D("9.98"))
    assert invoice["TotalAmt"] == D("114.98")


def test_an_update_with_tax_lines_keeps_them_and_a_void_clears_them(uk_api: Api) -> None:
    invoice = _saved(uk_api.post("invoice", _mugs(uk_api)))
    update = {
        "Id": invoice["Id"],
        "SyncToken": invoice["SyncToken"],
        "sparse": True,
        "TxnTaxDetail": {"TaxLine": [_tax_line("1", "0.60", "2.97")]},
    }
    updated = _saved(uk_api.post("invoice", update))
    assert updated["TotalAmt"] == D("3.57")
    voided = uk_api.post(
        "invoice", {"Id": invoice["Id"], "SyncToken": updated["SyncToken"]}, operation="void"
    ).json()["Invoice"]
    assert voided["TotalAmt"] == 0
    assert "TaxLine" not in voided["TxnTaxDetail"]


@pytest.mark.parametrize(
    ("tax_lines", "code", "words"),
    [
        ([_tax_line("99", "0.60", "2.97")], "2500", "TaxRateRef id 99"),
        ([_tax_line("2", "0.10", "2.97", "5")], "6000", "isn't in a tax code"),
        ([_tax_line("1", "-0.60", "2.97")], "6000", "can't be negative"),
        ([_tax_line("1", "0.30", "2.97")] * 2, "6000", "more than once"),
        ([{"Amount": "0.60", "DetailType": "TaxLineDetail", "TaxLineDetail": {}}], "2020", ""),
        ([{**_tax_line("1", "0.60", "2.97"), "DetailType": "SalesItemLineDetail"}], "2170", ""),
    ],
    ids=["unknown rate", "rate not on the lines", "negative", "twice", "no rate", "not tax"],
)
def test_tax_lines_quickbooks_refuses(
    uk_api: Api, tax_lines: list[dict[str, Any]], code: str, words: str
) -> None:
    body = _mugs(uk_api, TxnTaxDetail={"TaxLine": tax_lines})
    response = uk_api.post("invoice", body)
    assert response.status_code == 400
    fault = fault_of(response)
    assert fault["code"] == code
    assert words in fault["Detail"]
    # and nothing was written
    assert uk_api.sim.documents("Invoice") == []


def test_us_automated_sales_tax_keeps_the_total_tax_sent(api: Api) -> None:
    customer = new_customer(api)
    body = invoice_body(customer["Id"], TxnTaxDetail={"TotalTax": "1.23"})
    invoice = _saved(api.post("invoice", body))
    assert invoice["TxnTaxDetail"]["TotalTax"] == D("1.23")
    assert invoice["TotalAmt"] == D("26.22")

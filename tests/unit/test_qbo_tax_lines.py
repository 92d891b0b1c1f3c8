"""The store's tax per QuickBooks rate: what QuickBooks would compute, what the store charged,
and the words the audit trail gets where they differ."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.errors import PermanentError
from connector.ledgers.qbo.tax_lines import (
    QboTaxRate,
    RateTax,
    apportion,
    quickbooks_taxes,
    rate_taxes,
    tax_adjustments,
    tax_detail,
)
from connector.model import TaxAmount, quantize

D = Decimal
VAT_20 = QboTaxRate(id="1", name="20.0% S", percent=D(20))
VAT_5 = QboTaxRate(id="2", name="5.0% R", percent=D(5))
ZERO_RATED = QboTaxRate(id="3", name="0.0% Z", percent=D(0))
GST = QboTaxRate(id="11", name="GST", percent=D(5))
QST = QboTaxRate(id="14", name="QST", percent=D("9.975"))
CODES = {
    "2": (VAT_20,),
    "3": (VAT_5,),
    "4": (ZERO_RATED,),
    "6": (),  # "No VAT": no rate at all
    "9": (GST, QST),  # Quebec's GST/QST QC: both on the net amount
}


def q(amount: Decimal) -> Decimal:
    return quantize(amount, "GBP")


def sale(amount: str, code: str) -> dict[str, Any]:
    return {
        "DetailType": "SalesItemLineDetail",
        "Amount": D(amount),
        "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "TaxCodeRef": {"value": code}},
    }


def discount(amount: str) -> dict[str, Any]:
    return {"DetailType": "DiscountLineDetail", "Amount": D(amount), "DiscountLineDetail": {}}


def taxes(*pairs: tuple[str, str]) -> tuple[TaxAmount, ...]:
    return tuple(TaxAmount(rate_id=rate, amount=D(amount)) for rate, amount in pairs)


def figures(rates: list[RateTax]) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    """Rate Id -> (NetAmountTaxable, QuickBooks' own tax, the store's)."""
    return {r.rate.id: (r.taxable, r.quickbooks, r.store) for r in rates}


def test_per_line_rounding_wins_over_quickbooks_subtotal_rounding() -> None:
    # Given three 0.99 mugs at 20%: the store rounds 0.198 up on each line, 0.60 in all
    lines = [sale("0.99", "2") for _ in range(3)]
    taxed = [("2", taxes(("7", "0.20")))] * 3
    # When the store's tax is spread over QuickBooks' rates
    rates = rate_taxes(lines, taxed, CODES, D("0.60"), q, "order 1")
    # Then QuickBooks would charge 20% of 2.97 = 0.594, 0.59; the TaxLine carries 0.60
    assert figures(rates) == {"1": (D("2.97"), D("0.59"), D("0.60"))}
    detail = tax_detail(rates, D("0.60"), inclusive=False)
    assert detail == {
        "TotalTax": D("0.60"),
        "TaxLine": [
            {
                "Amount": D("0.60"),
                "DetailType": "TaxLineDetail",
                "TaxLineDetail": {
                    "TaxRateRef": {"value": "1", "name": "20.0% S"},
                    "PercentBased": True,
                    "TaxPercent": D(20),
                    "NetAmountTaxable": D("2.97"),
                },
            }
        ],
    }
    # and the audit trail is told, in words a bookkeeper reads
    body = {"Line": lines, "TxnTaxDetail": detail}
    assert tax_adjustments(body, CODES, q) == (
        "tax 20.0% S (20%) on 2.97: store 0.60, QuickBooks would compute 0.59; store's amount kept",
    )


def test_when_quickbooks_agrees_there_is_nothing_to_report() -> None:
    lines = [sale("10.00", "2"), sale("4.00", "3")]
    taxed = [("2", taxes(("7", "2.00"))), ("3", taxes(("8", "0.20")))]
    rates = rate_taxes(lines, taxed, CODES, D("2.20"), q, "order 1")
    assert figures(rates) == {
        "1": (D("10.00"), D("2.00"), D("2.00")),
        "2": (D("4.00"), D("0.20"), D("0.20")),
    }
    body = {"Line": lines, "TxnTaxDetail": tax_detail(rates, D("2.20"), inclusive=False)}
    assert tax_adjustments(body, CODES, q) == ()
    # and a document without overrides (US, or no tax mode) has none either
    assert tax_adjustments({"Line": lines, "TxnTaxDetail": {"TotalTax": D(0)}}, CODES, q) == ()


def test_two_rates_on_one_line_split_the_code_in_quickbooks_proportions() -> None:
    # Given a Quebec line of 33.33: GST 1.67 and QST 3.32 by the store, 4.99 in all
    lines = [sale("33.33", "9")]
    taxed = [("9", taxes(("1", "1.67"), ("2", "3.32")))]
    rates = rate_taxes(lines, taxed, CODES, D("4.99"), q, "order 1")
    # Then QuickBooks' GST (1.6665: 1.67) and QST (3.3247: 3.32) take 4.99 as 5 : 9.975
    assert figures(rates) == {
        "11": (D("33.33"), D("1.67"), D("1.67")),
        "14": (D("33.33"), D("3.32"), D("3.32")),
    }


def test_a_compound_store_rate_keeps_its_own_amount_when_the_percentages_match() -> None:
    # Given WooCommerce's Quebec setup: GST 5% and QST 9.975% compounded on the GST
    lines = [sale("100.00", "9")]
    taxed = [("9", taxes(("3", "5.00"), ("4", "10.47")))]
    percents = {"3": D(5), "4": D("9.9750")}
    rates = rate_taxes(lines, taxed, CODES, D("15.47"), q, "order 1", percents)
    # Then GST stays 5.00 and QST 10.47, where QuickBooks (QST on the net only) says 9.98
    assert figures(rates) == {
        "11": (D("100.00"), D("5.00"), D("5.00")),
        "14": (D("100.00"), D("9.98"), D("10.47")),
    }
    # and without the store's percentages the code's 15.47 goes 5 : 9.975
    rates = rate_taxes(lines, taxed, CODES, D("15.47"), q, "order 1")
    assert {r.rate.id: r.store for r in rates} == {"11": D("5.17"), "14": D("10.30")}


def test_a_split_that_does_not_divide_gives_the_remainder_to_the_largest_part() -> None:
    # Given 0.10 over three equal parts: 0.0333 each rounds to 0.03, a cent short
    assert apportion(D("0.10"), {"a": D(1), "b": D(1), "c": D(1)}, q) == {
        "a": D("0.04"),
        "b": D("0.03"),
        "c": D("0.03"),
    }
    # and 0.02 over 0.005 : 0.005 : 0.01 rounds to 0.01 each, a cent over: the largest gives it
    assert apportion(D("0.02"), {"a": D(1), "b": D(1), "c": D(2)}, q) == {
        "a": D("0.01"),
        "b": D("0.01"),
        "c": D("0.00"),
    }


def test_the_store_total_is_spread_over_the_codes_to_the_cent() -> None:
    # Given three codes whose unrounded line taxes (0.3333 each) add up to the store's 1.00
    lines = [sale("1.00", "2"), sale("1.00", "3"), sale("1.00", "9")]
    third = ("7", "0.33333")
    taxed = [("2", taxes(third)), ("3", taxes(third)), ("9", taxes(third))]
    rates = rate_taxes(lines, taxed, CODES, D("1.00"), q, "order 1")
    # Then the rates carry exactly 1.00: the first code met takes the cent rounding lost
    assert sum((r.store for r in rates), D(0)) == D("1.00")
    assert {r.rate.id: r.store for r in rates} == {
        "1": D("0.34"),
        "2": D("0.33"),
        "11": D("0.11"),
        "14": D("0.22"),
    }


def test_the_discount_line_lowers_every_rate_in_proportion() -> None:
    # Given 30.00 at 20% and 10.00 at 5%, and a 4.00 coupon the store took off the mugs only
    lines = [sale("30.00", "2"), sale("10.00", "3"), discount("4.00")]
    taxed = [("2", taxes(("7", "5.20"))), ("3", taxes(("8", "0.50")))]
    rates = rate_taxes(lines, taxed, CODES, D("5.70"), q, "order 1")
    # Then QuickBooks spreads the discount over both (a tenth each) and would charge
    # 5.40 and 0.45; the store's 5.20 and 0.50 are kept
    assert figures(rates) == {
        "1": (D("27.00"), D("5.40"), D("5.20")),
        "2": (D("9.00"), D("0.45"), D("0.50")),
    }


def test_taxed_shipping_adds_to_its_rate_and_untaxed_shipping_to_none() -> None:
    lines = [sale("10.00", "2"), sale("4.99", "2"), sale("3.00", "6")]
    taxed = [("2", taxes(("7", "2.00"))), ("2", taxes(("7", "1.00"))), ("6", ())]
    rates = rate_taxes(lines, taxed, CODES, D("3.00"), q, "order 1")
    assert figures(rates) == {"1": (D("14.99"), D("3.00"), D("3.00"))}


def test_zero_rated_lines_get_a_zero_tax_line() -> None:
    lines = [sale("10.00", "2"), sale("5.00", "4")]
    taxed = [("2", taxes(("7", "2.00"))), ("4", taxes(("9", "0")))]
    rates = rate_taxes(lines, taxed, CODES, D("2.00"), q, "order 1")
    assert figures(rates)["3"] == (D("5.00"), D("0.00"), D("0.00"))


def test_tax_inclusive_lines_say_the_gross_each_rate_makes() -> None:
    # Given a 3.57 VAT-inclusive basket: 2.97 net and 0.60 tax, as the store split it
    lines = [sale("0.99", "2") for _ in range(3)]
    rates = rate_taxes(lines, [("2", taxes(("7", "0.20")))] * 3, CODES, D("0.60"), q, "o")
    [tax_line] = tax_detail(rates, D("0.60"), inclusive=True)["TaxLine"]
    assert tax_line["TaxLineDetail"]["NetAmountTaxable"] == D("2.97")
    assert tax_line["TaxLineDetail"]["TaxInclusiveAmount"] == D("3.57")


def test_unrounded_line_taxes_are_brought_to_the_store_total() -> None:
    # Given line taxes the store keeps unrounded (0.198 each) and its rounded total 0.59
    lines = [sale("0.99", "2") for _ in range(3)]
    rates = rate_taxes(lines, [("2", taxes(("7", "0.198")))] * 3, CODES, D("0.59"), q, "o")
    assert figures(rates) == {"1": (D("2.97"), D("0.59"), D("0.59"))}


def test_store_tax_on_a_code_that_charges_none_is_refused() -> None:
    lines = [sale("10.00", "6")]
    with pytest.raises(PermanentError, match=r"charged 2\.00 tax .* \(rates: none\)"):
        rate_taxes(lines, [("6", taxes(("7", "2.00")))], CODES, D("2.00"), q, "order 1")
    lines = [sale("10.00", "4")]
    with pytest.raises(PermanentError, match=r"0\.0% Z 0%"):
        rate_taxes(lines, [("4", taxes(("7", "2.00")))], CODES, D("2.00"), q, "order 1")


def test_tax_with_no_taxed_line_is_refused() -> None:
    lines = [sale("10.00", "2")]
    with pytest.raises(PermanentError, match="none of its lines carries a tax"):
        rate_taxes(lines, [("2", ())], CODES, D("2.00"), q, "order 1")


def test_a_code_whose_rates_are_unknown_is_refused() -> None:
    with pytest.raises(PermanentError, match="tax code Id 77"):
        quickbooks_taxes([sale("1.00", "77")], CODES, q, "order 1")


@settings(max_examples=200, deadline=None)
@given(
    total=st.integers(-10_000, 10_000).map(lambda c: D(c).scaleb(-2)),
    weights=st.lists(st.integers(0, 100_000).map(lambda c: D(c).scaleb(-3)), min_size=1),
)
def test_apportioned_parts_add_up_exactly_and_stay_within_a_cent(
    total: Decimal, weights: list[Decimal]
) -> None:
    keyed = dict(enumerate(weights))
    parts = apportion(total, keyed, q)
    whole = sum(weights, D(0))
    if whole == 0:
        assert parts is None if total else parts == dict.fromkeys(keyed, D(0))
        return
    assert parts is not None
    assert sum(parts.values(), D(0)) == total
    off = [abs(parts[k] - total * w / whole) for k, w in keyed.items()]
    largest = max(keyed, key=lambda k: keyed[k])
    assert all(o <= D("0.005") for k, o in enumerate(off) if k != largest)
    assert all(p == q(p) for p in parts.values())

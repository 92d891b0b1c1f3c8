"""The canonical order: money exactness and the add-up check a bookkeeper relies on."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.model import (
    Customer,
    ShippingLine,
    TaxLine,
    TotalsMismatch,
    check_totals,
    quantize,
    to_decimal,
)
from simulators.testbed.orders import item, make_order, tax

# Order 727: a mug for 12.00 less 2.00, 5.00 shipping, 0.75 tax: 15.75, in "usd" as a store
# may spell it.
DISCOUNTED: dict[str, Any] = {
    "number": "727",
    "currency": "usd",
    "lines": (item("1", "MUG", 2, "12.00", "10.00", tax("75", "0.75"), name="Mug"),),
    "shipping_lines": (ShippingLine(line_id="2", method="Flat", total=Decimal("5.00")),),
    "tax_lines": (TaxLine(rate_id="75", code="US-CA", label="State", tax_total=Decimal("0.75")),),
}


def test_an_order_whose_parts_add_up_passes() -> None:
    # Given an order of 10.00 after discount, 5.00 shipping, 0.75 tax
    order = make_order(**DISCOUNTED)
    # When / Then: no error, and the currency is normalised
    check_totals(order)
    assert order.currency == "USD"


def test_a_total_that_does_not_add_up_names_the_parts() -> None:
    order = make_order(**DISCOUNTED, total=Decimal("15.76"))
    with pytest.raises(TotalsMismatch) as raised:
        check_totals(order)
    message = str(raised.value)
    assert "order 727" in message
    assert "items 10.00 + shipping 5.00 + fees 0 + tax 0.75 = 15.75, not the order total 15.76" in (
        message.replace("fees 0.00", "fees 0")
    )


def test_shipping_lines_that_disagree_with_shipping_total_are_named() -> None:
    order = make_order(**DISCOUNTED, shipping_total=Decimal("6.00"), total=Decimal("16.75"))
    with pytest.raises(TotalsMismatch, match=r"shipping lines add up to 5\.00"):
        check_totals(order)


def test_floats_from_a_store_payload_become_the_printed_decimal() -> None:
    assert to_decimal(0.1) == Decimal("0.1")
    assert to_decimal("29.35") == Decimal("29.35")
    assert to_decimal(None) == Decimal(0)


def test_currencies_round_to_their_minor_unit() -> None:
    assert quantize(Decimal("1.005"), "USD") == Decimal("1.01")
    assert quantize(Decimal("1234.5"), "JPY") == Decimal("1235")
    assert quantize(Decimal("1.0005"), "KWD") == Decimal("1.001")


@given(
    st.decimals(
        min_value=-(10**9), max_value=10**9, allow_nan=False, allow_infinity=False, places=6
    )
)
def test_quantize_is_within_half_a_cent_and_idempotent(amount: Decimal) -> None:
    rounded = quantize(amount, "EUR")
    assert abs(rounded - amount) <= Decimal("0.005")
    assert quantize(rounded, "EUR") == rounded
    assert rounded.as_tuple().exponent == -2


def test_guest_customers_match_on_email_and_named_customers_on_store_id() -> None:
    guest = Customer(
        connection_id="c", store_id=None, email=" Jane@Example.com ", first_name="Jane"
    )
    member = Customer(connection_id="c", store_id="25", email="x@example.com")
    assert guest.match_key == "email:jane@example.com"
    assert member.match_key == "id:25"
    assert guest.display_name == "Jane"
    assert member.display_name == "x@example.com"

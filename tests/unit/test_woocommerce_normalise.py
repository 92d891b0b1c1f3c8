"""WooCommerce REST payloads -> canonical Order/Customer, to the cent."""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.model import Order, TotalsMismatch
from connector.stores.woocommerce import modified_at, normalise_customer, normalise_order
from simulators.woocommerce import WooSimulator

REFERENCE = (Path(__file__).resolve().parents[2] / ".." / "shared" / "reference").resolve()
WOO_SAMPLES = REFERENCE / "stores" / "woocommerce"
needs_reference = pytest.mark.skipif(
    not WOO_SAMPLES.is_dir(), reason=f"reference samples not present at {WOO_SAMPLES}"
)


def _sample(name: str) -> Any:
    return json.loads((WOO_SAMPLES / name).read_text(encoding="utf-8"))


# -- the real samples ----------------------------------------------------------------------


@pytest.mark.reference
@needs_reference
def test_reference_order_727_normalises_and_adds_up() -> None:
    order = normalise_order(_sample("order.GET-wc-v3-orders-727.docs.json"), "conn-1")

    assert (order.store_id, order.number, order.status) == ("727", "727", "processing")
    assert order.total == Decimal("29.35")
    assert order.total_tax == Decimal("1.35")
    assert order.shipping_total == Decimal("10.00")
    assert order.created_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)
    assert order.modified_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    # Guest checkout: no store id, matched on the billing email.
    assert order.customer.store_id is None
    assert order.customer.match_key == "email:john.doe@example.com"
    assert order.customer.billing.region == "CA"
    first, second = order.lines
    assert (first.sku, first.quantity, first.total) == (None, Decimal(2), Decimal("6.00"))
    # The variation's SKU as the REST API gives it, and its &ndash; decoded.
    assert second.sku == "Bar3"
    assert second.name == "Ship Your Idea \u2013 Color: Black, Size: M Test"
    # Per-rate line taxes ("0.45", and the unrounded "0.9") add up to the tax line exactly.
    assert [t.amount for t in first.taxes] == [Decimal("0.45")]
    assert [t.amount for t in second.taxes] == [Decimal("0.90")]
    (tax_line,) = order.tax_lines
    assert (tax_line.rate_id, tax_line.code, tax_line.label) == (
        "75",
        "US-CA-STATE TAX",
        "State Tax",
    )
    assert first.tax_total + second.tax_total == tax_line.tax_total
    assert order.payment.method_title == "Direct Bank Transfer"
    assert order.payment.paid_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    assert modified_at(_sample("order.GET-wc-v3-orders-727.docs.json")) == order.modified_at


@pytest.mark.reference
@needs_reference
def test_reference_order_list_normalises_registered_customer_order() -> None:
    orders = [
        normalise_order(raw, "c") for raw in _sample("orders.GET-wc-v3-orders-list.docs.json")
    ]
    registered = next(o for o in orders if o.store_id == "723")
    assert registered.customer.store_id == "26"
    assert registered.customer.first_name == "João"
    assert registered.total == Decimal("39.00")
    assert registered.tax_lines == ()


@pytest.mark.reference
@needs_reference
def test_reference_customer_25() -> None:
    customer = normalise_customer(_sample("customer.GET-wc-v3-customers-25.docs.json"), "c")
    assert customer.store_id == "25"
    assert customer.display_name == "John Doe"
    assert customer.billing.line1 == "969 Market"
    assert customer.modified_at == datetime(2017, 3, 21, 19, 9, 30, tzinfo=UTC)


# -- our own fixtures ------------------------------------------------------------------------


def _address(**over: str) -> dict[str, str]:
    base = {
        "first_name": "Siobhán",
        "last_name": "O'Brien",
        "company": "",
        "address_1": "22 Baker St",
        "address_2": "",
        "city": "London",
        "state": "",
        "postcode": "NW1 6XE",
        "country": "GB",
        "email": "siobhan@example.co.uk",
        "phone": "+44 20 7946 0000",
    }
    return {**base, **over}


def _order(**over: Any) -> dict[str, Any]:
    """A two-rate order whose stacked per-rate taxes round differently line by line."""
    order: dict[str, Any] = {
        "id": 801,
        "number": "801",
        "status": "completed",
        "currency": "usd",
        "date_created": "2026-01-05T07:00:00",
        "date_created_gmt": "2026-01-05T10:00:00",
        "date_modified": "2026-01-05T07:05:00",
        "date_modified_gmt": "2026-01-05T10:05:00",
        "date_paid_gmt": "2026-01-05T10:01:00",
        "discount_total": "1.00",
        "discount_tax": "0.08",
        "shipping_total": "5.00",
        "shipping_tax": "0.36",
        "cart_tax": "2.53",
        "total": "38.43",
        "total_tax": "2.89",
        "prices_include_tax": False,
        "customer_id": 7,
        "customer_note": "Leave at door",
        "billing": _address(),
        "shipping": _address(),
        "payment_method": "stripe",
        "payment_method_title": "Credit Card (Stripe)",
        "transaction_id": "ch_123",
        "line_items": [
            {
                "id": 1,
                "name": "Children&#8217;s Book",
                "product_id": 12,
                "variation_id": 0,
                "quantity": 3,
                "subtotal": "10.05",
                "subtotal_tax": "0.83",
                "total": "10.05",
                "total_tax": "0.83",
                "sku": "BOOK",
                "taxes": [
                    {"id": 1, "total": "0.728625", "subtotal": "0.728625"},
                    {"id": 2, "total": "0.1005", "subtotal": "0.1005"},
                ],
            },
            {
                "id": 2,
                "name": "Hoodie &ndash; Blue, M",
                "product_id": 20,
                "variation_id": 21,
                "quantity": 1,
                "subtotal": "12.99",
                "subtotal_tax": "1.07",
                "total": "11.99",
                "total_tax": "0.99",
                "sku": "HOODIE",
                "taxes": [
                    {"id": 1, "total": "0.869275", "subtotal": "0.941775"},
                    {"id": 2, "total": "0.1199", "subtotal": "0.1299"},
                ],
            },
            {
                "id": 3,
                "name": "Discontinued Poster",
                "product_id": 30,
                "variation_id": 0,
                "quantity": 1,
                "subtotal": "6.50",
                "subtotal_tax": "0.54",
                "total": "6.50",
                "total_tax": "0.54",
                "sku": None,
                "taxes": [
                    {"id": 1, "total": "0.47125", "subtotal": "0.47125"},
                    {"id": 2, "total": "0.065", "subtotal": "0.065"},
                ],
            },
        ],
        "tax_lines": [
            # tax_total as WooCommerce sums it: each line's amount rounded first.
            {
                "id": 10,
                "rate_code": "US-CA-CA STATE TAX-1",
                "rate_id": 1,
                "label": "CA State Tax",
                "compound": False,
                "tax_total": "2.22",
                "shipping_tax_total": "0.36",
                "rate_percent": 7.25,
            },
            {
                "id": 11,
                "rate_code": "US-CA-COUNTY TAX-2",
                "rate_id": 2,
                "label": "County Tax",
                "compound": False,
                "tax_total": "0.31",
                "shipping_tax_total": "0.00",
                "rate_percent": 1.0,
            },
        ],
        "shipping_lines": [
            {
                "id": 4,
                "method_title": "Flat rate",
                "method_id": "flat_rate",
                "total": "5.00",
                "total_tax": "0.36",
                "taxes": [{"id": 1, "total": "0.3625", "subtotal": ""}],
            },
        ],
        "fee_lines": [
            {
                "id": 5,
                "name": "Gift wrapping",
                "tax_status": "taxable",
                "total": "2.00",
                "total_tax": "0.17",
                "taxes": [
                    {"id": 1, "total": "0.145", "subtotal": ""},
                    {"id": 2, "total": "0.02", "subtotal": ""},
                ],
            },
        ],
        "coupon_lines": [{"id": 6, "code": "save1", "discount": "1.00", "discount_tax": "0.08"}],
        "refunds": [],
    }
    order.update(over)
    return order


def test_lines_fees_shipping_coupons_and_customer_are_mapped() -> None:
    order = normalise_order(_order(), "conn-2")

    assert order.currency == "USD"
    assert [line.sku for line in order.lines] == ["BOOK", "HOODIE", None]
    assert order.lines[0].name == "Children\u2019s Book"
    assert order.lines[1].name == "Hoodie \u2013 Blue, M"
    assert order.lines[1].discount == Decimal("1.00")
    assert order.fee_lines[0].name == "Gift wrapping"
    assert order.shipping_lines[0].method == "Flat rate"
    assert order.coupons[0].code == "save1"
    assert order.coupons[0].discount_tax == Decimal("0.08")
    assert order.tax_lines[0].percent == Decimal("7.25")
    assert order.tax_lines[0].amount == Decimal("2.58")
    assert order.customer.store_id == "7"
    assert order.customer.last_name == "O'Brien"
    assert order.payment.transaction_id == "ch_123"
    assert order.note == "Leave at door"


def _rate_tax(order: Order, rate_id: str) -> Decimal:
    """One rate's tax on item and fee lines."""
    amounts = [t.amount for line in order.lines for t in line.taxes if t.rate_id == rate_id]
    amounts += [t.amount for fee in order.fee_lines for t in fee.taxes if t.rate_id == rate_id]
    return sum(amounts, Decimal(0))


def test_line_taxes_per_rate_add_up_to_the_tax_lines() -> None:
    order = normalise_order(_order(), "c")
    for tax_line in order.tax_lines:
        items = _rate_tax(order, tax_line.rate_id)
        shipping = sum(
            (
                t.amount
                for s in order.shipping_lines
                for t in s.taxes
                if t.rate_id == tax_line.rate_id
            ),
            Decimal(0),
        )
        assert (items, shipping) == (tax_line.tax_total, tax_line.shipping_tax_total)


def test_tax_line_rounded_at_subtotal_moves_the_cent_to_the_line_that_lost_most() -> None:
    # Given a store rounding tax at subtotal: three lines of 0.335 each (0.34 rounded
    # one by one = 1.02) but a tax line of round(1.005) = 1.01
    lines = [
        {
            "id": n,
            "name": f"Pen {n}",
            "quantity": 1,
            "subtotal": "4.79",
            "total": "4.79",
            "sku": f"PEN-{n}",
            "taxes": [{"id": 9, "total": exact, "subtotal": exact}],
        }
        for n, exact in ((1, "0.335"), (2, "0.3351"), (3, "0.335"))
    ]
    raw = _order(
        line_items=lines,
        fee_lines=[],
        shipping_lines=[],
        coupon_lines=[],
        tax_lines=[
            {
                "id": 20,
                "rate_code": "X",
                "rate_id": 9,
                "label": "Tax",
                "compound": False,
                "tax_total": "1.01",
                "shipping_tax_total": "0.00",
            }
        ],
        discount_total="0.00",
        shipping_total="0.00",
        total_tax="1.01",
        total="15.38",
    )
    # When normalised
    order = normalise_order(raw, "c")
    # Then the cent comes off a line that was rounded up most (0.335 -> 0.34, not 0.3351)
    assert [line.taxes[0].amount for line in order.lines] == [
        Decimal("0.33"),
        Decimal("0.34"),
        Decimal("0.34"),
    ]


def test_a_total_off_by_a_cent_is_reported_with_the_part_that_is_off() -> None:
    with pytest.raises(TotalsMismatch, match=r"not the order total 38\.44"):
        normalise_order(_order(total="38.44"), "c")


def test_shipping_lines_that_disagree_with_the_shipping_total_are_named() -> None:
    raw = _order()
    raw["shipping_lines"] = copy.deepcopy(raw["shipping_lines"])
    raw["shipping_lines"][0]["total"] = "4.00"
    with pytest.raises(TotalsMismatch, match=r"shipping lines add up to 4\.00"):
        normalise_order(raw, "c")


def test_customer_without_modification_date_uses_creation_date() -> None:
    raw = {
        "id": 31,
        "email": "ana@example.com",
        "first_name": "",
        "last_name": "",
        "date_created_gmt": "2026-02-01T09:00:00",
        "date_modified_gmt": None,
        "billing": _address(first_name="Ana", last_name="Müller", company="Müller &amp; Co"),
        "shipping": _address(),
    }
    customer = normalise_customer(raw, "c")
    assert customer.display_name == "Ana Müller"
    assert customer.company == "Müller & Co"
    assert modified_at(raw) == datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
    assert customer.modified_at == modified_at(raw)


def test_record_without_any_date_is_refused() -> None:
    with pytest.raises(ValueError, match="date_modified_gmt"):
        modified_at({"id": 1})


def test_an_order_missing_its_total_is_refused_at_the_boundary() -> None:
    raw = _order()
    del raw["total"]
    with pytest.raises(ValueError, match="total"):
        normalise_order(raw, "c")


# -- property: everything the simulated store produces normalises -------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), inclusive=st.booleans())
def test_simulated_orders_always_normalise_and_add_up(seed: int, inclusive: bool) -> None:
    sim = WooSimulator(
        consumer_key="ck_x",
        consumer_secret="cs_x",
        seed=seed,
        prices_include_tax=inclusive,
        clock=lambda: 1_767_225_600.0,
    )
    rng = random.Random(seed)
    for _ in range(5):
        raw = sim.create_order(rng=rng)
        order = normalise_order(raw, "c")  # raises TotalsMismatch if anything is off
        assert order.total == Decimal(raw["total"])
        for tax_line in order.tax_lines:
            on_items = _rate_tax(order, tax_line.rate_id)
            assert on_items == tax_line.tax_total
        for line in order.lines:
            assert line.total <= line.subtotal

"""WooCommerce refunds become canonical Refunds: positive amounts, each line tied to its order line."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connector.model import Customer, Order, OrderLine
from connector.stores.woocommerce import normalise_refund

REFERENCE = (Path(__file__).resolve().parents[2] / ".." / "shared" / "reference").resolve()
REFUNDS = REFERENCE / "stores" / "woocommerce" / "refunds.GET-wc-v3-orders-723-refunds.docs.json"

ORDER = Order(
    connection_id="shop",
    store_id="723",
    number="723",
    status="completed",
    currency="USD",
    created_at=datetime(2026, 11, 1, tzinfo=UTC),
    modified_at=datetime(2026, 11, 2, tzinfo=UTC),
    customer=Customer(connection_id="shop", store_id="25", email="jo@example.com"),
    lines=(
        OrderLine(
            line_id="311",
            sku="ALBUM-2",
            name="Woo Album #2",
            quantity=Decimal(2),
            subtotal=Decimal("18.00"),
            total=Decimal("18.00"),
        ),
    ),
    total=Decimal("18.00"),
)


def test_a_line_refund_is_positive_and_names_the_refunded_line() -> None:
    # Given a refund of one album at 9.00 with 0.65 tax, as WooCommerce sends it (negative lines)
    raw: dict[str, Any] = {
        "id": 730,
        "date_created_gmt": "2026-11-03T10:00:00",
        "amount": "9.65",
        "reason": "Scratched &amp; bent",
        "line_items": [
            {
                "id": 900,
                "name": "Woo Album #2",
                "quantity": -1,
                "subtotal": "-9.00",
                "total": "-9.00",
                "taxes": [{"id": 75, "total": "-0.65", "subtotal": "-0.65"}],
                "sku": "ALBUM-2",
                "meta_data": [{"id": 1, "key": "_refunded_item_id", "value": "311"}],
            }
        ],
    }
    # When
    refund = normalise_refund(raw, ORDER)
    # Then
    assert refund.store_id == "730"
    assert refund.order_store_id == "723" and refund.order_number == "723"
    assert refund.amount == Decimal("9.65")
    assert refund.reason == "Scratched & bent"
    assert refund.created_at == datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
    (line,) = refund.lines
    assert line.line_id == "311"
    assert (line.quantity, line.total) == (Decimal(1), Decimal("9.00"))
    assert line.taxes[0].amount == Decimal("0.65")


def test_an_amount_only_refund_has_no_lines() -> None:
    refund = normalise_refund({"id": 731, "amount": "5.00", "line_items": []}, ORDER)
    assert refund.lines == ()
    assert refund.amount == Decimal("5.00")
    assert refund.created_at == ORDER.modified_at


@pytest.mark.reference
@pytest.mark.skipif(not REFUNDS.is_file(), reason=f"reference sample not present at {REFUNDS}")
def test_the_reference_refunds_normalise() -> None:
    import json

    first, second = (normalise_refund(r, ORDER) for r in json.loads(REFUNDS.read_text()))
    assert (first.store_id, first.amount, first.lines) == ("726", Decimal("10.00"), ())
    assert second.amount == Decimal("9.00")
    assert second.lines[0].line_id == "311"
    assert second.lines[0].total == Decimal("9.00")


def test_refunded_shipping_and_fees_are_lines_of_their_kind() -> None:
    # Given a refund of the shipping (with its tax) and a gift-wrap fee, as newer WooCommerce
    # lists them apart from the items
    raw: dict[str, Any] = {
        "id": 731,
        "amount": "8.40",
        "shipping_lines": [
            {
                "id": 901,
                "method_title": "Flat rate",
                "total": "-5.00",
                "total_tax": "-0.40",
                "taxes": [{"id": 75, "total": "-0.40"}],
                "meta_data": [{"id": 2, "key": "_refunded_item_id", "value": "320"}],
            }
        ],
        "fee_lines": [{"id": 902, "name": "Gift wrap", "total": "-3.00", "taxes": []}],
    }
    # When it is normalised
    refund = normalise_refund(raw, ORDER)
    # Then each is a positive line of its kind, tied to the order line it gives back
    shipping, fee = refund.lines
    assert (shipping.kind, shipping.line_id, shipping.total, shipping.name) == (
        "shipping",
        "320",
        Decimal("5.00"),
        "Flat rate",
    )
    assert [(t.rate_id, t.amount) for t in shipping.taxes] == [("75", Decimal("0.40"))]
    assert (fee.kind, fee.line_id, fee.total, fee.sku) == ("fee", "902", Decimal("3.00"), None)
    assert refund.amount == Decimal("8.40")

"""Which QuickBooks items are the connector's own line items, never store products (issue #13
follow-up, decision 70): read from the connection's mapping and, for Desktop, its ledger."""

from __future__ import annotations

from typing import Any

from connector.both_ways.items import line_items
from connector.config import Connection


def _connection(ledger: dict[str, Any], mapping: dict[str, Any]) -> Connection:
    return Connection.model_validate(
        {
            "id": "shop",
            "store": {"kind": "woocommerce", "url": "https://shop.example.com"},
            "ledger": ledger,
            "mapping": mapping,
        }
    )


def test_an_online_connections_line_items_come_from_its_mapping() -> None:
    connection = _connection(
        {"kind": "qbo"},
        {
            "fallback_item": "Sales",
            "refund_item": "Refunds",
            "rules": [{"when": {"category": "gifts"}, "item": "Gift Sales"}],
        },
    )

    found = line_items(connection)

    assert found == {
        "shipping": "mapping.shipping_item",  # the default, "Shipping"
        "fees": "mapping.fee_item",
        "sales": "mapping.fallback_item",
        "refunds": "mapping.refund_item",
        "gift sales": "item of a revenue rule (mapping.rules)",
    }


def test_a_desktop_connection_adds_its_sales_tax_and_discount_items() -> None:
    connection = _connection(
        {"kind": "qbd", "sales_tax_item": "Sales Tax", "discount_item": "Coupon"},
        {"shipping_item": "Freight"},
    )

    found = line_items(connection)

    assert found["sales tax"] == "ledger.sales_tax_item"
    assert found["coupon"] == "ledger.discount_item"
    assert found["freight"] == "mapping.shipping_item"
    assert "shipping" not in found

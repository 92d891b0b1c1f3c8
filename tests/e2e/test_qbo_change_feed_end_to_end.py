"""QuickBooks Online → WooCommerce by the change feed alone, on the local runtime (issue #13).

No webhook reaches the connector (the Intuit app has none configured, or they were lost): the
reconcile schedule asks the simulated QuickBooks Online company's CDC for what changed since
its watermark, queues each change, and the sync function writes the simulated store's
products through its REST API, once each.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connector.state import AuditTrail
from simulators.testbed.clocks import TickingClock
from simulators.testbed.online import QboRig, QboRigs, connection_settings

SHOP = "shop"
SYNC = {"products": "qbo_to_store", "prices": "qbo_to_store", "inventory": "qbo_to_store"}


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    mapping = {"fallback_item": "Sales", "shipping_item": "Shipping"}
    made = connection_settings(SHOP, woo_url=woo_url, qbo_url=qbo_url, mapping=mapping)
    return [{**made, "sync": SYNC}]


@pytest.fixture(scope="module")
def rig(qbo_rig: QboRigs) -> Iterator[QboRig]:
    with qbo_rig(_connections, clock=TickingClock()) as running:
        yield running


def _inventory(rig: QboRig, number: int) -> dict[str, Any]:
    return rig.qbo.seed(
        "Item",
        {
            "Name": f"Mug {number}",
            "Sku": f"MUG-{number:02d}",
            "Type": "Inventory",
            "UnitPrice": "10.00",
            "IncomeAccountRef": {"value": "1"},
            "ExpenseAccountRef": {"value": "7"},
            "AssetAccountRef": {"value": "6"},
            "QtyOnHand": "5",
            "InvStartDate": "2026-01-01",
        },
    )


def _poll(rig: QboRig) -> None:
    rig.runtime.fire_schedule("reconcile", detail={"poll": "now"})
    rig.drain()


def _feed_audit(rig: QboRig) -> list[str]:
    trail = AuditTrail(
        rig.runtime.env["CONNECTOR_AUDIT_TABLE"], resource=rig.runtime.boto3_resource("dynamodb")
    )
    return [e.outcome for e in trail.events(f"{SHOP}#ledger_poll")]


def test_price_and_stock_changes_reach_the_store_within_one_reconcile_without_webhooks(
    rig: QboRig,
) -> None:
    # Given ten inventory items in QuickBooks, and the change feed followed from now on
    mugs = [_inventory(rig, n) for n in range(10)]
    _poll(rig)
    assert "started following" in _feed_audit(rig)[-1]
    assert rig.woo.catalog.writes == 0, "the first poll does not rewrite the store unasked"

    # When the bookkeeper changes each price, and half the counts, with no webhook configured
    for number, mug in enumerate(mugs):
        fields: dict[str, Any] = {"UnitPrice": f"{11 + number}.50"}
        if number % 2 == 0:
            fields["QtyOnHand"] = str(20 + number)
        rig.qbo.edit("Item", mug["Id"], **fields)
    _poll(rig)

    # Then the store has a product for each, with QuickBooks' price and count, written once
    catalog = rig.woo.catalog
    products = {
        p.sku: catalog.render_product(p.id) for p in rig.woo.products.values() if not p.deleted
    }
    for number in range(10):
        product = products[f"MUG-{number:02d}"]
        assert product["regular_price"] == f"{11 + number}.50"
        assert product["stock_quantity"] == (20 + number if number % 2 == 0 else 5)
    writes = rig.woo.catalog.writes
    assert writes == 10
    assert "QuickBooks change feed: queued 10 (10 item)" in _feed_audit(rig)[-1]

    # And the next poll, whose overlap lists the same changes, writes nothing again
    _poll(rig)
    assert rig.woo.catalog.writes == writes


def test_fifty_prices_fifty_counts_and_ten_category_moves_arrive_once_by_the_feed(
    rig: QboRig,
) -> None:
    # Given ten categories and fifty inventory items in QuickBooks, five in each category
    categories = [
        rig.qbo.seed("Item", {"Name": f"Range {n}", "Type": "Category"}) for n in range(10)
    ]
    items = []
    for number in range(50):
        item = _inventory(rig, 100 + number)
        items.append(
            rig.qbo.edit("Item", item["Id"], ParentRef={"value": categories[number // 5]["Id"]})
        )
    _poll(rig)  # the feed is followed from here (the first test may have started it already)
    rig.drain()
    before = rig.woo.catalog.writes

    # When the bookkeeper changes fifty prices and fifty counts, and moves ten items to the
    # next category along
    for number, item in enumerate(items):
        fields: dict[str, Any] = {"UnitPrice": f"{20 + number}.25", "QtyOnHand": str(number)}
        if number % 5 == 0:
            fields["ParentRef"] = {"value": categories[(number // 5 + 1) % 10]["Id"]}
        rig.qbo.edit("Item", item["Id"], **fields)
    _poll(rig)

    # Then the store shows each price, count and category
    catalog = rig.woo.catalog
    products = {
        p.sku: catalog.render_product(p.id) for p in rig.woo.products.values() if not p.deleted
    }
    for number in range(50):
        product = products[f"MUG-{100 + number:02d}"]
        assert product["regular_price"] == f"{20 + number}.25"
        assert product["stock_quantity"] == number
        moved = number % 5 == 0
        expected = f"Range {(number // 5 + (1 if moved else 0)) % 10}"
        assert [c["name"] for c in product["categories"]] == [expected], product["categories"]
    # each product written at most once for the edit (categories made when missing count too)
    assert rig.woo.catalog.writes - before <= 50 + 10
    # And a poll of the same changes again writes nothing
    after = rig.woo.catalog.writes
    _poll(rig)
    assert rig.woo.catalog.writes == after

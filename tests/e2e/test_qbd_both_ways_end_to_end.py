"""QuickBooks Desktop → WooCommerce end to end on the local runtime (issue #13 part 7).

A bookkeeper changes stock and prices in the simulated QuickBooks Desktop company file; the
simulated Web Connector's next scheduled run asks for the items modified since the last one,
the qbwc function keeps each as a snapshot and queues it, and the sync function writes the
simulated store's products through its REST API (Desktop items have no SKU: matched by name).
Each change is written once; a run with nothing new writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest

from connector.ledgers.qbd.password import hash_password
from connector.ledgers.qbd.snapshots import SnapshotStore
from simulators.qbd import QbdCompany
from simulators.testbed.clocks import TickingClock
from simulators.testbed.deployment import Endpoints, Rig, deployment
from simulators.testbed.online import STORE_KEYS, WEBHOOK_SECRET
from simulators.woocommerce import WooSimulator

DESK, USER, PASSWORD = "desk", "shop-sync", "correct horse battery"
# A second company file whose catalogue lives in QuickBooks: products made from its items.
CATALOG, CATALOG_USER = "catalog", "catalog-sync"
# A third, whose items are sold and deleted in QuickBooks itself.
COUNTS, COUNTS_USER = "counts", "counts-sync"
MUG, STICKERS = 10, 14  # the simulated store's "Ceramic Mug" and "Sticker Pack"


def _connections(at: Endpoints) -> list[dict[str, Any]]:
    return [
        {
            "id": DESK,
            "store": {"kind": "woocommerce", "url": at.store},
            "ledger": {
                "kind": "qbd",
                "user_name": USER,
                "sales_tax_item": "Sales Tax",
                "max_returned": 2,
            },
            "mapping": {"fallback_item": "Sales"},
            "sync": {"prices": "qbo_to_store", "inventory": "qbo_to_store"},
        },
        {
            "id": CATALOG,
            "store": {"kind": "woocommerce", "url": at.store},
            "ledger": {"kind": "qbd", "user_name": CATALOG_USER, "max_returned": 12},
            "mapping": {"fallback_item": "Sales"},
            "sync": {
                "products": "qbo_to_store",
                "prices": "qbo_to_store",
                "inventory": "qbo_to_store",
            },
        },
        {
            "id": COUNTS,
            "store": {"kind": "woocommerce", "url": at.store},
            "ledger": {"kind": "qbd", "user_name": COUNTS_USER, "stock_recount_hours": 6},
            "mapping": {"fallback_item": "Sales"},
            "sync": {"products": "qbo_to_store", "inventory": "qbo_to_store"},
        },
    ]


@pytest.fixture(scope="module")
def woo() -> WooSimulator:
    return WooSimulator(
        consumer_key=STORE_KEYS["consumer_key"],
        consumer_secret=STORE_KEYS["consumer_secret"],
        clock=TickingClock(),
        seed=3,
    )


@pytest.fixture(scope="module")
def rig(woo: WooSimulator) -> Iterator[Rig]:
    secrets = {
        connection: {
            "store": {**STORE_KEYS, "webhook_secret": WEBHOOK_SECRET},
            "ledger": {"password_hash": hash_password(PASSWORD)},
        }
        for connection in (DESK, CATALOG, COUNTS)
    }
    with deployment("deskshop", _connections, secrets, store=woo) as running:
        yield running


def _run(rig: Rig, company: QbdCompany, connection: str = DESK, user: str = USER) -> None:
    with rig.web_connector(connection, user, PASSWORD, company, noop_pause_s=0) as connector:
        report = connector.run_session()
    assert report.outcome == "done", (report.outcome, report.last_errors)
    rig.drain()


def _product(woo: WooSimulator, product_id: int) -> tuple[str, int | None]:
    shown = woo.catalog.render_product(product_id)
    return cast(str, shown["regular_price"]), shown["stock_quantity"]


def test_desktop_stock_and_price_changes_reach_the_store_once(rig: Rig, woo: WooSimulator) -> None:
    # Given the store's mug and stickers kept in QuickBooks Desktop as inventory items
    company = QbdCompany()
    company.add_item("ItemInventory", "Ceramic Mug", price="12.50", quantity_on_hand=5)
    company.add_item("ItemInventory", "Sticker Pack", price="3.33", quantity_on_hand=120)
    company.add_item("ItemInventory", "Not in the store", price="1.00", quantity_on_hand=1)

    # When the Web Connector runs for the first time, every item's count reaches the store
    _run(rig, company)
    assert _product(woo, MUG) == ("12.50", 5)
    assert _product(woo, STICKERS) == ("3.33", 120)
    writes = woo.catalog.writes

    # And when the bookkeeper changes a count and a price, the next run brings just those
    company.edit_item("Ceramic Mug", quantity_on_hand=9)
    company.edit_item("Sticker Pack", price="3.50")
    _run(rig, company)
    assert _product(woo, MUG) == ("12.50", 9)
    assert _product(woo, STICKERS) == ("3.50", 120)
    assert woo.catalog.writes == writes + 2  # each product written once

    # And a run with nothing changed writes nothing (the watermark's second comes again)
    _run(rig, company)
    assert woo.catalog.writes == writes + 2
    mug = company.item("Ceramic Mug")
    assert mug is not None
    events = [e.event for e in rig.audit_of(f"{DESK}#ledger_item#{mug.list_id}")]
    assert events.count("updated") == 2, events  # first sight, then the new count


def test_a_desktop_catalogue_becomes_products_in_its_categories_and_50_counts_arrive_once(
    rig: Rig, woo: WooSimulator
) -> None:
    # Given five ranges in QuickBooks Desktop, ten inventory sub-items each
    company = QbdCompany()
    for r in range(5):
        company.add_item("ItemInventory", f"Range {r}", price="0", quantity_on_hand=0)
        for i in range(10):
            company.add_item(
                "ItemInventory", f"Item {r}-{i}", parent=f"Range {r}", price=f"{10 + i}.25",
                quantity_on_hand=i,
            )  # fmt: skip
    made_before = len(woo.products)

    # When the Web Connector runs, each item becomes a product in its range's category,
    # and no range becomes a product (twelve a page: "Range 1" ends the first page, its
    # sub-items start the second)
    _run(rig, company, CATALOG, CATALOG_USER)
    made = {p.name: p for p in woo.products.values() if p.id not in _before_ids(woo, made_before)}
    items = {f"Item {r}-{i}" for r in range(5) for i in range(10)}
    assert items <= set(made) and not [name for name in made if name.startswith("Range")]
    # (the company file's own service and non-inventory items become products too: with
    # products on, every item the store lacks is made)
    made = {name: product for name, product in made.items() if name in items}
    shown = woo.catalog.render_product(made["Item 3-4"].id)
    assert [c["name"] for c in shown["categories"]] == ["Range 3"]
    assert (shown["regular_price"], shown["stock_quantity"]) == ("14.25", 4)
    writes = woo.catalog.writes

    # And when the bookkeeper counts stock again, all 50 counts reach the store, once each
    for r in range(5):
        for i in range(10):
            company.edit_item(f"Range {r}:Item {r}-{i}", quantity_on_hand=100 + i)
    _run(rig, company, CATALOG, CATALOG_USER)
    assert [woo.catalog.render_product(p.id)["stock_quantity"] for p in made.values()] == [
        100 + int(name.rsplit("-", 1)[1]) for name in made
    ]
    assert woo.catalog.writes == writes + 50


def _before_ids(woo: WooSimulator, count: int) -> set[int]:
    return set(sorted(woo.products)[:count])


def test_an_item_deleted_and_stock_sold_in_quickbooks_desktop_reach_the_store(
    rig: Rig, woo: WooSimulator
) -> None:
    # Given two inventory items the first run made store products of
    company = QbdCompany()
    company.add_item("ItemInventory", "Walnut Board", price="45.00", quantity_on_hand=8)
    company.add_item("ItemInventory", "Linen Towel", price="9.00", quantity_on_hand=4)
    _run(rig, company, COUNTS, COUNTS_USER)
    board = next(p for p in woo.products.values() if p.name == "Walnut Board")
    towel = next(p for p in woo.products.values() if p.name == "Linen Towel")
    assert woo.catalog.render_product(board.id)["stock_quantity"] == 8
    assert woo.catalog.render_product(towel.id)["status"] == "publish"
    writes = woo.catalog.writes

    # When the bookkeeper sells three boards on a QuickBooks invoice and deletes the towel
    company.sell("Walnut Board", 3)
    company.delete_item("Linen Towel")
    _run(rig, company, COUNTS, COUNTS_USER)

    # Then the towel is taken out of sale at once (ListDeletedQuery), written once
    assert woo.catalog.render_product(towel.id)["status"] == "private"
    assert woo.catalog.writes == writes + 1
    # ...and the sale, which moved no item's TimeModified, waits for the stock read
    assert woo.catalog.render_product(board.id)["stock_quantity"] == 8

    # When stock_recount_hours have passed, the next run reads every count and the store
    # shows the board's stock as QuickBooks has it, written once
    snapshots = SnapshotStore(
        rig.runtime.env["CONNECTOR_STATE_TABLE"], resource=rig.runtime.boto3_resource("dynamodb")
    )
    snapshots.set_watermark(COUNTS, "StockRecount", "2020-01-01T00:00:00+00:00")
    _run(rig, company, COUNTS, COUNTS_USER)
    assert woo.catalog.render_product(board.id)["stock_quantity"] == 5
    assert woo.catalog.render_product(towel.id)["status"] == "private"
    assert woo.catalog.writes == writes + 2
    item = company.item("Walnut Board")
    assert item is not None
    events = rig.audit_of(f"{COUNTS}#ledger_item#{item.list_id}")
    assert [e.event for e in events] == ["received", "posted", "received", "updated"]

    # And a run with nothing new writes nothing (the deletion's second comes again)
    _run(rig, company, COUNTS, COUNTS_USER)
    assert woo.catalog.writes == writes + 2

"""QuickBooks Online → Magento end to end on the local runtime (issue #13, Magento's adapter).

A bookkeeper changes prices, stock and a category in the simulated QuickBooks Online; its
signed webhooks reach ``/webhooks/qbo/<connection>``, ingest queues one message per change,
the sync function reads each item back from QuickBooks and writes the simulated Magento's
products, stock items and category links through its signed REST API, each once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest

from simulators.httpserver import LoopbackServer
from simulators.magento import MagentoSimulator
from simulators.qbo import QboSimulator
from simulators.testbed import magento
from simulators.testbed.both_ways import seed_inventory, set_webhook_verifier
from simulators.testbed.clocks import TickingClock
from simulators.testbed.magento import CREDENTIALS
from simulators.testbed.online import LocalRig, connected_runtime, qbo_connection

TENANT = "mage2e"
SHOP = "shop"
VERIFIER = "intuit-verifier-mage-e2e"
QBO_APP = {"client_id": "mage2e-app", "client_secret": "mage2e-secret"}
SYNC = {"products": "qbo_to_store", "prices": "qbo_to_store", "inventory": "qbo_to_store"}


@dataclass
class Running:
    rig: LocalRig
    store: MagentoSimulator
    qbo: QboSimulator

    def webhooks_to(self) -> str:
        return f"{self.rig.runtime.base_url}/webhooks/qbo/{SHOP}"


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    store = magento.simulator(TickingClock())
    # Each QuickBooks edit a second after the last: a change's version is its LastUpdatedTime.
    qbo = QboSimulator(
        client_id=QBO_APP["client_id"], client_secret=QBO_APP["client_secret"], clock=TickingClock()
    )
    with LoopbackServer(store.handle) as shop, LoopbackServer(qbo.handle) as books:
        connection = qbo_connection(
            SHOP, {"kind": "magento", "url": shop.base_url}, books.base_url, sync=SYNC
        )
        store_secret = {**CREDENTIALS, "webhook_secret": "MageE2ePush7"}
        secrets = {SHOP: {"store": store_secret, "ledger": QBO_APP}}
        with connected_runtime(TENANT, [connection], secrets, qbo) as rig:
            set_webhook_verifier(rig, SHOP, VERIFIER)
            yield Running(rig, store, qbo)


def test_prices_and_stock_changed_in_quickbooks_reach_magento_once_by_webhook(
    running: Running,
) -> None:
    # Given the store's yoga brick and foam roller kept in QuickBooks as inventory
    brick = seed_inventory(running.qbo, "Sprite Foam Yoga Brick", "24-WG084", "5.00", "100")
    roller = seed_inventory(running.qbo, "Sprite Foam Roller", "24-WG086", "17.00", "20")
    sender = running.qbo.send_webhooks(running.webhooks_to(), VERIFIER)
    writes = running.store.catalog.writes
    try:
        # When the bookkeeper changes a price and a count, and another price
        running.qbo.edit("Item", brick["Id"], UnitPrice="6.25", QtyOnHand="42")
        running.qbo.edit("Item", roller["Id"], UnitPrice="18.50")
        assert sender.flush(), [d.status for d in sender.deliveries]
    finally:
        running.qbo.stop_webhooks(sender)
    running.rig.drain()

    # Then Magento shows each change
    brick_now = running.store.catalog.product("24-WG084")
    roller_now = running.store.catalog.product("24-WG086")
    assert Decimal(str(brick_now["price"])) == Decimal("6.25")
    assert brick_now["extension_attributes"]["stock_item"]["qty"] == 42
    assert Decimal(str(roller_now["price"])) == Decimal("18.50")
    assert roller_now["extension_attributes"]["stock_item"]["qty"] == 20  # first sight: written
    # each product and each stock item written once
    assert running.store.catalog.writes == writes + 4
    events = [e for e in running.rig.audit_of(f"{SHOP}#ledger_item#{brick['Id']}")]
    (update,) = [e for e in events if e.event == "updated"]
    assert update.detail["fields"] == ["price", "stock"]
    assert update.detail["store_id"] == str(brick_now["id"])


def test_a_new_quickbooks_item_in_a_category_becomes_a_magento_product_there(
    running: Running,
) -> None:
    kitchen = running.qbo.seed("Item", {"Name": "Kitchen", "Type": "Category"})
    sender = running.qbo.send_webhooks(running.webhooks_to(), VERIFIER)
    try:
        mug = seed_inventory(
            running.qbo,
            "Ceramic Mug",
            "MUG-01",
            "12.50",
            "8",
            SubItem=True,
            ParentRef={"value": kitchen["Id"]},
        )
        running.qbo.edit("Item", mug["Id"], UnitPrice="12.75")
        assert sender.flush(), [d.status for d in sender.deliveries]
    finally:
        running.qbo.stop_webhooks(sender)
    running.rig.drain()

    made = running.store.catalog.product("MUG-01")
    assert made["name"] == "Ceramic Mug" and Decimal(str(made["price"])) == Decimal("12.75")
    assert made["extension_attributes"]["stock_item"]["qty"] == 8
    category = running.store.catalog.category_named("Kitchen")
    assert made["extension_attributes"]["category_links"] == [
        {"position": 0, "category_id": str(category["id"])}
    ]

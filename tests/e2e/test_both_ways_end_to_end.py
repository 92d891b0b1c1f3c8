"""QuickBooks Online → WooCommerce end to end on the local runtime (issue #13).

A bookkeeper changes prices and stock in the simulated QuickBooks Online; its signed webhooks
reach the connector's ``/webhooks/qbo/<connection>`` route, ingest queues one message per
change, the sync function reads each item back from QuickBooks and writes the simulated
store's products through its REST API. Each change is written once; the store's own webhooks
for those writes (registered in the store as the merchant's are) bring nothing back.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from connector.messages import SyncMessage
from connector.state import now_utc
from simulators.testbed.both_ways import seed_inventory, set_webhook_verifier
from simulators.testbed.clocks import TickingClock
from simulators.testbed.online import QboRig, QboRigs, connection_settings

SHOP = "shop"
VERIFIER = "intuit-verifier-e2e"
SYNC = {
    "products": "qbo_to_store",
    "prices": "qbo_to_store",
    "inventory": "qbo_to_store",
    "customers": "both",
    "qbo_invoices_to_orders": True,
}


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    mapping = {"fallback_item": "Sales", "shipping_item": "Shipping"}
    made = connection_settings(SHOP, woo_url=woo_url, qbo_url=qbo_url, mapping=mapping)
    return [{**made, "sync": SYNC}]


@pytest.fixture(scope="module")
def rig(qbo_rig: QboRigs) -> Iterator[QboRig]:
    # Each QuickBooks edit a second after the last, as a person's: a change's version is its
    # LastUpdatedTime to the second.
    with qbo_rig(_connections, clock=TickingClock()) as running:
        set_webhook_verifier(running, SHOP, VERIFIER)
        # The store's webhooks point at the connector, as `connector webhooks sync` makes them:
        # the connector's own writes come back through them like anyone's.
        hook = running.sender(SHOP)
        topics = ("product.updated", "customer.created", "customer.updated", "order.created")
        for topic in topics:
            running.woo.webhooks.add(topic, hook.target_url, hook.secret)
        hook.close()
        yield running


def test_prices_and_stock_changed_in_quickbooks_reach_the_store_once_by_webhook(
    rig: QboRig,
) -> None:
    # Given the store's mug and print kept in QuickBooks as inventory
    mug = seed_inventory(rig.qbo, "Ceramic Mug", "MUG-01", "12.50", "5")
    art = seed_inventory(rig.qbo, "Art Print - A2", "PRINT-A2", "24.99", "3")
    sender = rig.qbo.send_webhooks(f"{rig.runtime.base_url}/webhooks/qbo/{SHOP}", VERIFIER)
    writes = rig.woo.catalog.writes
    try:
        # When the bookkeeper changes a price and a count in QuickBooks
        rig.qbo.edit("Item", mug["Id"], UnitPrice="13.75", QtyOnHand="9")
        rig.qbo.edit("Item", art["Id"], UnitPrice="26.00")
        assert sender.flush(), [d.status for d in sender.deliveries]
    finally:
        rig.qbo.stop_webhooks(sender)
    rig.drain()

    # Then the store shows each change
    mug_now = rig.woo.catalog.render_product(10)
    art_now = rig.woo.catalog.render_product(11)
    assert (mug_now["regular_price"], mug_now["stock_quantity"]) == ("13.75", 9)
    assert art_now["regular_price"] == "26.00"
    assert art_now["stock_quantity"] == 3  # first sight of the item: its count is written too
    # each product written once (the print's price and first count in one write)
    assert rig.woo.catalog.writes == writes + 2
    mug_events = rig.events(SHOP, mug["Id"], "ledger_item")
    assert mug_events[-1] == "updated", mug_events
    (update,) = [e for e in rig.audit(SHOP, mug["Id"], "ledger_item") if e.event == "updated"]
    assert update.detail["fields"] == ["price", "stock"]
    assert update.detail["store_id"] == "10"

    # And the same change delivered again (the poll's safety net) writes nothing
    rig.sync_queue().send(_message(mug["Id"]), version="ledger-poll-repeat")
    rig.drain()
    assert rig.woo.catalog.writes == writes + 2
    assert rig.events(SHOP, mug["Id"], "ledger_item")[-1] == "skipped"


def _message(item_id: str) -> SyncMessage:
    return SyncMessage(
        connection_id=SHOP,
        entity="ledger_item",
        record_id=item_id,
        topic="ledger_poll",
        received_at=now_utc(),
        version="poll-repeat",
        source="ledger_poll",
    )


def test_prices_round_to_the_cent_as_strings(rig: QboRig) -> None:
    gift = rig.qbo.seed(
        "Item",
        {
            "Name": "Gift Card",
            "Sku": "GIFT-25",
            "Type": "Service",
            "UnitPrice": "25",
            "IncomeAccountRef": {"value": "1"},
        },
    )
    sender = rig.qbo.send_webhooks(f"{rig.runtime.base_url}/webhooks/qbo/{SHOP}", VERIFIER)
    try:
        rig.qbo.edit("Item", gift["Id"], UnitPrice="27.5")
        assert sender.flush()
    finally:
        rig.qbo.stop_webhooks(sender)
    rig.drain()
    assert rig.woo.catalog.render_product(13)["regular_price"] == "27.50"
    assert Decimal(rig.woo.products[13].price) == Decimal("27.50")


def _customer_writes(rig: QboRig, mark: int) -> list[str]:
    """The connector's writes of QuickBooks customers since ``mark`` (creates and updates)."""
    return [
        f"{r.method} {r.path}"
        for r in rig.requests_since(mark)
        if r.method == "POST" and r.path.rstrip("/").endswith("/customer") and r.status < 300
    ]


def test_a_customer_edit_bounces_through_both_sides_and_is_written_once_each(
    rig: QboRig,
) -> None:
    # Given Jane in both, linked by a first sync of the store's record (QuickBooks adopts her)
    jane = rig.woo.rest_representation("customer", 2)
    billing = jane["billing"]
    booked = rig.qbo.seed(
        "Customer",
        {
            "DisplayName": "Jane Smith",
            "GivenName": "Jane",
            "FamilyName": "Smith",
            "PrimaryEmailAddr": {"Address": jane["email"]},
            "PrimaryPhone": {"FreeFormNumber": billing["phone"]},
            "BillAddr": {
                "Line1": billing["address_1"],
                "City": billing["city"],
                "CountrySubDivisionCode": billing["state"],
                "PostalCode": billing["postcode"],
                "Country": billing["country"],
            },
        },
    )
    rig.sync(SHOP, "customer.updated", 2)
    sender = rig.qbo.send_webhooks(f"{rig.runtime.base_url}/webhooks/qbo/{SHOP}", VERIFIER)
    try:
        # When the bookkeeper changes her phone in QuickBooks
        mark = len(rig.qbo.request_log)
        writes = rig.woo.catalog.writes
        rig.qbo.edit("Customer", booked["Id"], PrimaryPhone={"FreeFormNumber": "(415) 555-0142"})
        assert sender.flush()
        rig.drain()
        # Then the store has it, written once, and the store's webhook for that write (it
        # fires customer.updated like any edit) sends nothing back to QuickBooks
        assert rig.woo.rest_representation("customer", 2)["billing"]["phone"] == "(415) 555-0142"
        assert rig.woo.catalog.writes == writes + 1
        assert _customer_writes(rig, mark) == []
        outcomes = [e.outcome for e in rig.audit(SHOP, 2, "customer")]
        assert any("own write from QuickBooks" in o for o in outcomes), outcomes

        # When a person then edits her last name in the store
        mark = len(rig.qbo.request_log)
        rig.woo.update_customer(2, last_name="Smith-Jones")
        rig.deliver(SHOP, "customer.updated", 2)
        rig.drain()
        assert sender.flush()
        rig.drain()
    finally:
        rig.qbo.stop_webhooks(sender)
    # Then QuickBooks has it, written once, and QuickBooks' webhook for that write brings
    # nothing back to the store
    assert len(_customer_writes(rig, mark)) == 1
    assert rig.qbo.company.read("Customer", booked["Id"])["FamilyName"] == "Smith-Jones"
    assert rig.woo.catalog.writes == writes + 1
    ledger_events = rig.audit(SHOP, booked["Id"], "ledger_customer")
    assert ledger_events[-1].event == "skipped", [(e.event, e.outcome) for e in ledger_events]


def test_invoices_made_in_quickbooks_become_store_orders_once_with_their_shipments(
    rig: QboRig,
) -> None:
    # Given the items the store sells, with their SKUs, and a customer in QuickBooks
    book = rig.qbo.seed(
        "Item",
        {"Name": "Children\u2019s Picture Book", "Sku": "BOOK-KIDS", "Type": "NonInventory",
         "UnitPrice": "7.99", "IncomeAccountRef": {"value": "1"}},
    )  # fmt: skip
    buyer = rig.qbo.seed(
        "Customer",
        {"DisplayName": "Tom Baker", "PrimaryEmailAddr": {"Address": "tom.baker@example.net"}},
    )
    today = datetime.now(UTC).date().isoformat()
    orders_before = set(rig.woo.order_ids())
    invoices_before = len(rig.qbo.documents("Invoice"))
    sender = rig.qbo.send_webhooks(f"{rig.runtime.base_url}/webhooks/qbo/{SHOP}", VERIFIER)
    try:
        # When the bookkeeper makes 20 invoices in QuickBooks, shipped, taxed
        made = [
            rig.qbo.seed(
                "Invoice",
                {
                    "CustomerRef": {"value": buyer["Id"]},
                    "DocNumber": f"QB-{2000 + n}",
                    "TxnDate": today,
                    "BillEmail": {"Address": "tom.baker@example.net"},
                    "ShipDate": today,
                    "TrackingNum": f"1Z{n:016d}",
                    "ShipMethodRef": {"value": "UPS", "name": "UPS"},
                    "TxnTaxDetail": {"TotalTax": "1.03"},
                    "Line": [
                        {
                            "Amount": f"{Decimal('7.99') * (n % 3 + 1):.2f}",
                            "DetailType": "SalesItemLineDetail",
                            "SalesItemLineDetail": {
                                "ItemRef": {"value": book["Id"]},
                                "Qty": n % 3 + 1,
                                "UnitPrice": "7.99",
                            },
                        }
                    ],
                },
            )
            for n in range(20)
        ]
        assert sender.flush()
        # (the store's order.created for each order reaches the connector and drains too)
        rig.drain()
    finally:
        rig.qbo.stop_webhooks(sender)

    # Then the store has 20 orders, one per invoice, each to the invoice's cent
    new = sorted(set(rig.woo.order_ids()) - orders_before)
    assert len(new) == 20
    by_doc = {}
    for order_id in new:
        order = rig.woo.get_order(order_id)
        meta = {m["key"]: m["value"] for m in order["meta_data"]}
        by_doc[meta["_qbo_doc_number"]] = order
    for invoice in made:
        order = by_doc[invoice["DocNumber"]]
        assert Decimal(order["total"]) == Decimal(str(invoice["TotalAmt"]))
        notes = [n["note"] for n in rig.woo.catalog.orders.notes(order["id"])]
        assert any(invoice["TrackingNum"] in note and "via UPS" in note for note in notes)
    # and none of them came back to QuickBooks as a second invoice
    assert len(rig.qbo.documents("Invoice")) == invoices_before + 20


def test_fifty_prices_and_counts_and_ten_category_moves_each_reach_the_store_once(
    rig: QboRig,
) -> None:
    sender = rig.qbo.send_webhooks(f"{rig.runtime.base_url}/webhooks/qbo/{SHOP}", VERIFIER)
    try:
        # Given 50 inventory items in 10 QuickBooks categories, made in the store from QuickBooks
        shelves = [
            rig.qbo.seed("Item", {"Name": f"Shelf {n}", "Type": "Category"}) for n in range(10)
        ]
        items = [
            rig.qbo.seed(
                "Item",
                {
                    "Name": f"Bulk item {n}",
                    "Sku": f"BULK-{n:02d}",
                    "Type": "Inventory",
                    "UnitPrice": "10.00",
                    "IncomeAccountRef": {"value": "1"},
                    "ExpenseAccountRef": {"value": "7"},
                    "AssetAccountRef": {"value": "6"},
                    "QtyOnHand": "100",
                    "InvStartDate": "2026-01-01",
                    "ParentRef": {"value": shelves[n % 10]["Id"]},
                },
            )
            for n in range(50)
        ]
        assert sender.flush()
        rig.drain(timeout_s=120)
        products = {p.sku: p.id for p in rig.woo.products.values() if p.sku.startswith("BULK-")}
        assert len(products) == 50
        writes = rig.woo.catalog.writes

        # When each price and count changes, and ten items move to a new category
        moved = rig.qbo.seed("Item", {"Name": "Clearance", "Type": "Category"})
        for n, item in enumerate(items):
            rig.qbo.edit("Item", item["Id"], UnitPrice=f"{11 + n}.25", QtyOnHand=str(50 + n))
        for item in items[:10]:
            rig.qbo.edit("Item", item["Id"], ParentRef={"value": moved["Id"]})
        assert sender.flush()
        rig.drain(timeout_s=120)
    finally:
        rig.qbo.stop_webhooks(sender)

    # Then the store shows each, and no product was written more often than it changed
    for n in range(50):
        shown = rig.woo.catalog.render_product(products[f"BULK-{n:02d}"])
        assert (shown["regular_price"], shown["stock_quantity"]) == (f"{11 + n}.25", 50 + n)
        category = "Clearance" if n < 10 else f"Shelf {n % 10}"
        assert [c["name"] for c in shown["categories"]] == [category], shown["categories"]
    # 50 price-and-count edits and 10 moves: at most 60 writes, one more category
    assert writes + 50 <= rig.woo.catalog.writes <= writes + 61
    shelves_in_store = {c.name for c in rig.woo.catalog.categories.values()}
    assert {f"Shelf {n}" for n in range(10)} | {"Clearance"} <= shelves_in_store


def test_twenty_customers_edited_on_each_side_arrive_on_the_other_without_echo(
    rig: QboRig,
) -> None:
    # Given 20 customers in both, linked by a first sync of each store record
    people = []
    for n in range(20):
        made = rig.woo.create_customer(
            first_name=f"Pat{n}", last_name="Lee", email=f"pat{n}@example.org",
            address_1=f"{n} Elm St", city="Austin", state="TX", postcode="73301", country="US",
            phone=f"(512) 555-01{n:02d}",
        )  # fmt: skip
        booked = rig.qbo.seed(
            "Customer",
            {
                "DisplayName": f"Pat{n} Lee",
                "GivenName": f"Pat{n}",
                "FamilyName": "Lee",
                "PrimaryEmailAddr": {"Address": f"pat{n}@example.org"},
            },
        )
        rig.deliver(SHOP, "customer.created", made["id"])
        people.append((made["id"], booked["Id"]))
    rig.drain()
    sender = rig.qbo.send_webhooks(f"{rig.runtime.base_url}/webhooks/qbo/{SHOP}", VERIFIER)
    try:
        # When each one's phone changes in QuickBooks
        mark = len(rig.qbo.request_log)
        writes = rig.woo.catalog.writes
        for n, (_, booked_id) in enumerate(people):
            rig.qbo.edit(
                "Customer", booked_id, PrimaryPhone={"FreeFormNumber": f"(512) 555-09{n:02d}"}
            )
        assert sender.flush()
        rig.drain()
        # Then the store has each, written once, and nothing went back to QuickBooks
        for n, (store_id, _) in enumerate(people):
            shown = rig.woo.rest_representation("customer", store_id)
            assert shown["billing"]["phone"] == f"(512) 555-09{n:02d}"
        assert rig.woo.catalog.writes == writes + 20
        assert _customer_writes(rig, mark) == []

        # When each one's last name changes in the store
        mark = len(rig.qbo.request_log)
        for store_id, _ in people:
            rig.woo.update_customer(store_id, last_name="Lee-Park")
            rig.deliver(SHOP, "customer.updated", store_id)
        rig.drain()
        assert sender.flush()
        rig.drain()
    finally:
        rig.qbo.stop_webhooks(sender)
    # Then QuickBooks has each, written once, and the store was not written again
    assert len(_customer_writes(rig, mark)) == 20
    for _, booked_id in people:
        assert rig.qbo.company.read("Customer", booked_id)["FamilyName"] == "Lee-Park"
    assert rig.woo.catalog.writes == writes + 20


def test_a_change_whose_webhook_was_lost_reaches_the_store_with_the_next_reconcile(
    rig: QboRig,
) -> None:
    # Given a poster kept in QuickBooks, and the change feed started by a reconcile
    poster = seed_inventory(rig.qbo, "Limited Edition Poster", "POSTER-LTD", "19.00", "4")
    poll = {"poll": "now", "connection_id": SHOP}
    rig.runtime.fire_schedule("reconcile", detail=poll)
    rig.drain()
    seen = len(rig.woo.requests)
    # When its price changes in QuickBooks and no webhook arrives (none is being sent)
    rig.qbo.edit("Item", poster["Id"], UnitPrice="21.00")
    rig.runtime.fire_schedule("reconcile", detail=poll)
    rig.drain()
    # Then the next reconcile's change feed brings it to the store, written once (the feed
    # looks 5 minutes back: the earlier tests' changes come again and are settled as they are,
    # but for the customer made in QuickBooks for the invoices, whose webhook was not sent)
    shown = rig.woo.catalog.render_product(30)
    assert (shown["regular_price"], shown["stock_quantity"]) == ("21.00", 4)
    writes = [(r.method, r.path) for r in rig.woo.requests[seen:] if r.method != "GET"]
    assert writes.count(("PUT", "/wp-json/wc/v3/products/30")) == 1, writes
    assert set(writes) <= {
        ("PUT", "/wp-json/wc/v3/products/30"),
        ("POST", "/wp-json/wc/v3/customers"),
    }, writes
    # and a reconcile with nothing new writes nothing
    seen = len(rig.woo.requests)
    rig.runtime.fire_schedule("reconcile", detail=poll)
    rig.drain()
    assert [(r.method, r.path) for r in rig.woo.requests[seen:] if r.method != "GET"] == []

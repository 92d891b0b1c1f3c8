"""QuickBooks records into the simulated Magento store through the sync worker, on moto's
server (issue #13 for Magento: the store write port's Magento adapter).

The records are canonical ones (``connector.ledger_records``) held by the test, as the
ledger's read port would give them; the store is the simulated Magento over its signed REST
API; the worker is the deployed function's, with its state table, audit trail and parking.
Each test reads what a merchant would see: the product, stock and categories in Magento's
admin API, the customer, the parked record's reason.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from connector.both_ways.invoices import CREATING, INVOICE_META
from connector.both_ways.written import Written, WrittenStore
from connector.ledger_records import (
    LedgerCustomer,
    LedgerInvoice,
    LedgerInvoiceLine,
)
from connector.messages import SyncMessage
from connector.model import Address
from connector.runtime import Runtime
from connector.state import now_utc
from connector.stores.writes import OrderFields, OrderLine
from connector.sync import HandedBack, SyncResult, SyncWorker
from simulators.httpserver import LoopbackServer, Request, Response
from simulators.magento import MagentoSimulator
from simulators.qbo import QboSimulator
from simulators.testbed import magento
from simulators.testbed.both_ways import HeldLedger, apply_change, held_worker
from simulators.testbed.magento import CREDENTIALS
from simulators.testbed.online import LocalRig, connected_runtime, qbo_connection

TENANT = "magewrites"
SHOP, REMAKE = "shop", "remake"
QBO_APP = {"client_id": "magewrites-app", "client_secret": "magewrites-secret"}
SYNC: dict[str, Any] = {
    "products": "qbo_to_store",
    "prices": "qbo_to_store",
    "inventory": "qbo_to_store",
    "customers": "both",
    "qbo_invoices_to_orders": True,
}


@dataclass
class Mage:
    rig: LocalRig
    store: MagentoSimulator
    qbo: QboSimulator
    url: str


@pytest.fixture(scope="module")
def mage() -> Iterator[Mage]:
    store = magento.simulator(time.time)
    qbo = QboSimulator(client_id=QBO_APP["client_id"], client_secret=QBO_APP["client_secret"])
    # The store's handle looked up per request: a test may hold its answers back.
    with (
        LoopbackServer(lambda request: store.handle(request)) as shop,
        LoopbackServer(qbo.handle) as books,
    ):
        where = {"kind": "magento", "url": shop.base_url}
        connections = [
            qbo_connection(SHOP, where, books.base_url, sync=SYNC),
            qbo_connection(
                REMAKE, where, books.base_url, sync={**SYNC, "deleted_products": "recreate"}
            ),
        ]
        secrets = {c: {"store": dict(CREDENTIALS), "ledger": QBO_APP} for c in (SHOP, REMAKE)}
        with connected_runtime(TENANT, connections, secrets, qbo) as rig:
            yield Mage(rig, store, qbo, shop.base_url)


@pytest.fixture
def ledger() -> HeldLedger:
    return HeldLedger(_ids)


@pytest.fixture
def parked() -> list[str]:
    return []


@pytest.fixture
def worker(mage: Mage, ledger: HeldLedger, parked: list[str]) -> SyncWorker:
    return held_worker(ledger, parked)


_ids = iter(range(700, 10_000))


def _apply(worker: SyncWorker, connection: str, record_id: str, entity: str) -> SyncResult:
    return apply_change(worker, connection, entity, record_id, f"v{next(_ids)}")


def _categories(mage: Mage, sku: str) -> list[str]:
    """The names of the categories the product is in, as the admin shows them."""
    product = mage.store.catalog.product(sku)
    links = product["extension_attributes"]["category_links"]
    return [mage.store.catalog.categories[int(link["category_id"])]["name"] for link in links]


def test_a_price_and_stock_changed_in_quickbooks_reach_the_magento_product_once(
    mage: Mage, worker: SyncWorker, ledger: HeldLedger
) -> None:
    # Given the store's yoga brick (5.00, 100 in stock) as a QuickBooks inventory item
    item = ledger.add_item(
        sku="24-WG084",
        name="Sprite Foam Yoga Brick",
        unit_price=Decimal("5.00"),
        qty_on_hand=Decimal("100"),
    )
    # When QuickBooks' price and quantity on hand change and the change is synced
    ledger.change_item(item, unit_price=Decimal("6.50"), qty_on_hand=Decimal("40"))
    writes = mage.store.catalog.writes
    result = _apply(worker, SHOP, item.ledger_id, "ledger_item")

    # Then Magento's product has the new price and its stock item the new quantity
    assert result.outcome == "updated", result.detail
    product = mage.store.catalog.product("24-WG084")
    assert Decimal(str(product["price"])) == Decimal("6.50")
    stock = product["extension_attributes"]["stock_item"]
    assert stock["qty"] == 40 and stock["is_in_stock"] is True
    assert mage.store.catalog.writes == writes + 2  # the product, then its stock item
    (event,) = mage.rig.audit_of(f"{SHOP}#ledger_item#{item.ledger_id}")
    assert event.event == "updated" and event.detail["fields"] == ["price", "stock"]
    assert event.detail["store_id"] == str(product["id"])
    # And the same change delivered again writes nothing
    again = _apply(worker, SHOP, item.ledger_id, "ledger_item")
    assert again.outcome == "skipped" and mage.store.catalog.writes == writes + 2


def test_a_new_item_is_made_in_its_category_and_a_move_leaves_the_old_one(
    mage: Mage, worker: SyncWorker, ledger: HeldLedger
) -> None:
    item = ledger.add_item(
        sku="MUG-01",
        name="Ceramic Mug",
        qty_on_hand=Decimal("12"),
        category_path=("Kitchen", "Mugs"),
    )
    made = _apply(worker, SHOP, item.ledger_id, "ledger_item")
    assert made.outcome == "posted", made.detail
    assert _categories(mage, "MUG-01") == ["Mugs"]
    mugs = mage.store.catalog.category_named(
        "Mugs", mage.store.catalog.category_named("Kitchen")["id"]
    )
    assert mugs["product_count"] == 1
    product = mage.store.catalog.product("MUG-01")
    assert Decimal(str(product["price"])) == Decimal("12.50")
    assert product["extension_attributes"]["stock_item"]["qty"] == 12

    # Moved to the top category in QuickBooks: the product leaves Mugs
    ledger.change_item(item, category_path=("Kitchen",))
    moved = _apply(worker, SHOP, item.ledger_id, "ledger_item")
    assert moved.outcome == "updated" and "category" in moved.detail
    assert _categories(mage, "MUG-01") == ["Kitchen"]
    assert mage.store.catalog.category_named("Kitchen")["product_count"] == 1
    assert mage.store.catalog.category_named("Mugs", mugs["parent_id"])["product_count"] == 0


def test_a_quickbooks_customer_reaches_magento_and_its_echo_goes_no_further(
    mage: Mage, worker: SyncWorker, ledger: HeldLedger
) -> None:
    billing = Address(
        line1="2 Market St",
        city="San Francisco",
        region="CA",
        postcode="94105",
        country="US",
        phone="(415) 555-0199",
    )
    customer = LedgerCustomer(
        ledger_id="58",
        version="1",
        display_name="Jane Smith",
        first_name="Jane",
        last_name="Smith",
        email="jane.smith@example.com",
        phone="(415) 555-0199",
        billing=billing,
        customer_type="Wholesale",
    )
    ledger.customers["58"] = customer
    made = _apply(worker, SHOP, "58", "ledger_customer")
    assert made.outcome == "posted", made.detail
    (jane,) = [c for c in mage.store._customers.values() if c["email"] == customer.email]
    assert jane["addresses"][0]["street"] == ["2 Market St"]
    assert jane["addresses"][0]["region"]["region_code"] == "CA"

    # An edit in QuickBooks: only the changed name is written
    ledger.customers["58"] = customer.model_copy(update={"version": "2", "last_name": "Jones"})
    edited = _apply(worker, SHOP, "58", "ledger_customer")
    assert edited.outcome == "updated" and "last_name" in edited.detail
    assert mage.store._customers[jane["id"]]["lastname"] == "Jones"
    assert mage.store._customers[jane["id"]]["addresses"][0]["telephone"] == "(415) 555-0199"

    # The store tells the connector of the change it made: nothing goes to QuickBooks
    calls = len(mage.qbo.request_log)
    echoed = worker.process(
        SyncMessage(
            connection_id=SHOP,
            entity="customer",
            record_id=str(jane["id"]),
            topic="customer.updated",
            received_at=now_utc(),
            version="echo-1",
        )
    )
    assert echoed.outcome == "skipped" and "own write from QuickBooks" in echoed.detail
    assert len(mage.qbo.request_log) == calls


def _customer_echo(record_id: str, version: str) -> SyncMessage:
    """The message that Magento customer ``record_id`` changed (as the poll or push queues it)."""
    return SyncMessage(
        connection_id=SHOP,
        entity="customer",
        record_id=record_id,
        topic="customer.updated",
        received_at=now_utc(),
        version=version,
    )


def _outcome(worker: SyncWorker, message: SyncMessage) -> str:
    """The worker's outcome, or why it handed the record back to the queue."""
    try:
        return worker.process(message).outcome
    except HandedBack as back:
        return back.reason


def _echo_before_answering(
    handle: Callable[[Request], Response], echo: SyncWorker, seen: list[str]
) -> Callable[[Request], Response]:
    """Magento's answer to its first customer write, held until the sync worker has worked
    the message that the customer changed: the echo is decided before the connector has the
    answer, every time (the race a slow store answer makes)."""

    def answer(request: Request) -> Response:
        response = handle(request)
        wrote = request.method in ("POST", "PUT") and response.status == 200
        if not seen and wrote and "/V1/customers" in request.path:
            made = str(json.loads(response.body)["id"])
            seen.append(made)
            seen.append(_outcome(echo, _customer_echo(made, f"race-{made}")))
        return response

    return answer


def _qbo_customers(mage: Mage, email: str) -> list[dict[str, Any]]:
    return [
        c
        for c in mage.qbo.documents("Customer")
        if (c.get("PrimaryEmailAddr") or {}).get("Address") == email
    ]


@pytest.mark.parametrize("made", [False, True], ids=["update", "create"])
def test_a_change_worked_before_magentos_answer_waits_for_it_and_goes_no_further(
    mage: Mage,
    worker: SyncWorker,
    ledger: HeldLedger,
    monkeypatch: pytest.MonkeyPatch,
    made: bool,
) -> None:
    email = f"grace-{'made' if made else 'kept'}@example.org"
    if not made:
        mage.store.create_customer(email, "Grace", "Murray")
    ledger_id = str(next(_ids))
    ledger.customers[ledger_id] = LedgerCustomer(
        ledger_id=ledger_id,
        version="1",
        display_name="Grace Hopper",
        first_name="Grace",
        last_name="Hopper",
        email=email,
        phone="(202) 555-0199",
        billing=Address(
            line1="1 Navy Yard",
            city="Arlington",
            region="VA",
            postcode="22202",
            country="US",
            phone="(202) 555-0199",
        ),
    )
    seen: list[str] = []
    echo = held_worker(ledger, [])
    monkeypatch.setattr(mage.store, "handle", _echo_before_answering(mage.store.handle, echo, seen))
    result = _apply(worker, SHOP, ledger_id, "ledger_customer")
    monkeypatch.undo()
    assert result.outcome == ("posted" if made else "updated"), result.detail
    # Worked before the answer was recorded, the change went back to the queue
    cid, first = seen
    assert "the connector is writing store customer" in first
    assert "decided once its answer is recorded" in first
    # Handed out again once it is: the connector's own write, nothing goes to QuickBooks
    again = echo.process(_customer_echo(cid, f"race-{cid}-again"))
    assert again.outcome == "skipped" and "own write from QuickBooks" in again.detail
    assert _qbo_customers(mage, email) == []

    # A person's edit right after it travels to QuickBooks as usual
    mage.store.update_customer(int(cid), lastname="Hopper-Murray")
    assert echo.process(_customer_echo(cid, f"edit-{cid}")).outcome == "posted"
    (posted,) = _qbo_customers(mage, email)
    assert posted["FamilyName"] == "Hopper-Murray"


def test_two_quickbooks_items_with_one_sku_park_the_second_and_a_name_on_two_products_parks(
    mage: Mage, worker: SyncWorker, ledger: HeldLedger, parked: list[str]
) -> None:
    # Magento refuses a second product with a SKU (a save by SKU is that product): what can
    # be twice is two QuickBooks items with one SKU, or one name on two Magento products.
    first = ledger.add_item(sku="24-WG086", name="Sprite Foam Roller", unit_price=Decimal("17.00"))
    second = ledger.add_item(sku="24-WG086", name="Foam Roller", unit_price=Decimal("19.00"))
    assert _apply(worker, SHOP, first.ledger_id, "ledger_item").outcome in ("skipped", "updated")
    assert _apply(worker, SHOP, second.ledger_id, "ledger_item").outcome == "parked"
    assert f"QuickBooks item {first.ledger_id}'s" in parked[-1]
    assert Decimal(str(mage.store.catalog.product("24-WG086")["price"])) == Decimal("17.00")

    # Two Magento products named alike (their URL keys differ): an item without a SKU parks
    for sku in ("TOTE-A", "TOTE-B"):
        mage.store.catalog.products[sku] = {
            **mage.store.catalog.product("24-WG086"),
            "id": 9000 + len(sku) + ord(sku[-1]),
            "sku": sku,
            "name": "Canvas Tote",
            "custom_attributes": [{"attribute_code": "url_key", "value": sku.lower()}],
        }
    tote = ledger.add_item(sku=None, name="Canvas Tote", unit_price=Decimal("15.00"))
    assert _apply(worker, SHOP, tote.ledger_id, "ledger_item").outcome == "parked"
    assert "TOTE-A" in parked[-1] and "TOTE-B" in parked[-1]
    assert "give each its own SKU" in parked[-1]


def test_a_product_deleted_in_magento_is_parked_or_made_again_per_setting(
    mage: Mage, worker: SyncWorker, ledger: HeldLedger, parked: list[str]
) -> None:
    kept = ledger.add_item(sku="CANDLE-1", name="Candle", unit_price=Decimal("8.00"))
    remade = ledger.add_item(sku="SOAP-1", name="Soap", unit_price=Decimal("5.00"))
    assert _apply(worker, SHOP, kept.ledger_id, "ledger_item").outcome == "posted"
    assert _apply(worker, REMAKE, remade.ledger_id, "ledger_item").outcome == "posted"
    old_soap = mage.store.catalog.product("SOAP-1")["id"]
    mage.store.catalog.delete_product("CANDLE-1")
    mage.store.catalog.delete_product("SOAP-1")

    ledger.change_item(kept, unit_price=Decimal("9.00"))
    ledger.change_item(remade, unit_price=Decimal("6.00"))
    assert _apply(worker, SHOP, kept.ledger_id, "ledger_item").outcome == "parked"
    assert "was deleted in the store" in parked[-1] and "deleted_products" in parked[-1]
    with pytest.raises(KeyError):
        mage.store.catalog.product("CANDLE-1")
    again = _apply(worker, REMAKE, remade.ledger_id, "ledger_item")
    assert again.outcome == "posted" and "made again" in again.detail
    soap = mage.store.catalog.product("SOAP-1")
    assert soap["id"] != old_soap and Decimal(str(soap["price"])) == Decimal("6.00")


def test_magento_s_refusal_parks_the_item_with_its_words_and_an_outage_is_retried(
    mage: Mage, worker: SyncWorker, ledger: HeldLedger, parked: list[str]
) -> None:
    # A new item whose name makes the URL key of a product the store has
    ledger.add_item(sku="LAMP-1", name="Desk Lamp", unit_price=Decimal("30.00"))
    first = next(i for i in ledger.items.values() if i.sku == "LAMP-1")
    assert _apply(worker, SHOP, first.ledger_id, "ledger_item").outcome == "posted"
    twin = ledger.add_item(sku="LAMP-2", name="Desk Lamp!", unit_price=Decimal("32.00"))
    result = _apply(worker, SHOP, twin.ledger_id, "ledger_item")
    assert result.outcome == "parked"
    assert "Magento refused creating product LAMP-2" in parked[-1]
    assert "URL key for specified store already exists." in parked[-1]
    assert "LAMP-2" not in mage.store.catalog.products

    # A store that fails for a moment is tried again by the client: written once
    ledger.change_item(first, unit_price=Decimal("31.00"))
    mage.store.inject(503, times=1)
    assert _apply(worker, SHOP, first.ledger_id, "ledger_item").outcome == "updated"
    assert Decimal(str(mage.store.catalog.product("LAMP-1")["price"])) == Decimal("31.00")


def _invoice(ledger: HeldLedger, **fields: Any) -> LedgerInvoice:
    # Two Magento products at QuickBooks' prices, QuickBooks' 8.25% tax and shipping 7.00 as
    # the rest of the total, paid and shipped.
    base: dict[str, Any] = {
        "doc_number": "1042",
        "customer_ledger_id": "58",
        "txn_date": now_utc(),
        "currency": "USD",
        "customer_name": "Jane Smith",
        "customer_email": "guest.buyer@example.com",
        "lines": [
            LedgerInvoiceLine(
                item_ledger_id=None,
                item_name="Yoga Brick",
                sku="24-WG084",
                quantity=Decimal("3"),
                unit_price=Decimal("6.50"),
                amount=Decimal("19.50"),
            ),
            LedgerInvoiceLine(
                item_ledger_id=None,
                item_name="Foam Roller",
                sku="24-WG086",
                quantity=Decimal("1"),
                unit_price=Decimal("18.33"),
                amount=Decimal("18.33"),
            ),
        ],
        "tax_total": Decimal("3.12"),
        "total": Decimal("47.95"),
        "balance": Decimal("0"),
        "billing": Address(
            line1="12 Elm St", city="Austin", region="TX", postcode="78701", country="US"
        ),
        "ship_date": datetime(2026, 12, 2, tzinfo=UTC),
        "ship_method": "UPS Ground",
        "tracking_number": "1Z999AA10123456784",
    }
    return ledger.add_invoice(base | fields)


def _made_for(mage: Mage, invoice: LedgerInvoice) -> list[dict[str, Any]]:
    """The store's orders marked with the invoice, as GET /V1/orders/{id} answers them."""
    with mage.store._lock:
        ids = [
            oid
            for oid, stored in mage.store._orders.items()
            if stored.doc.get("ext_order_id") == f"qbo-invoice-{invoice.ledger_id}"
        ]
    return [mage.store.order(oid) for oid in ids]


def _comments(order: dict[str, Any]) -> list[str]:
    return [h["comment"] for h in order["status_histories"]]


def test_an_invoice_becomes_one_magento_order_to_the_cent_then_changes_and_is_cancelled(
    mage: Mage, worker: SyncWorker, ledger: HeldLedger
) -> None:
    invoice = _invoice(ledger)
    result = _apply(worker, SHOP, invoice.ledger_id, "ledger_invoice")
    assert result.outcome == "posted", result.detail
    (order,) = _made_for(mage, invoice)
    # The invoice's figures, the same in the base currency, and its tax as the order's tax
    assert (order["grand_total"], order["base_grand_total"]) == ("47.95", "47.95")
    assert (order["subtotal"], order["tax_amount"], order["shipping_amount"]) == (
        "37.83",
        "3.12",
        "7.00",
    )
    assert [(i["sku"], i["qty_ordered"], i["row_total"]) for i in order["items"]] == [
        ("24-WG084", 3, "19.50"),
        ("24-WG086", 1, "18.33"),
    ]
    assert sum(Decimal(i["tax_amount"]) for i in order["items"]) == Decimal("3.12")
    assert (order["state"], order["status"], order["total_paid"]) == (
        "complete",
        "complete",
        "47.95",
    )
    assert order["customer_email"] == "guest.buyer@example.com"
    assert order["customer_is_guest"] == 1  # no Magento customer has that e-mail
    assert order["billing_address"]["city"] == "Austin"
    comments = _comments(order)
    assert f"Made from QuickBooks invoice 1042 (Id {invoice.ledger_id})." in comments
    assert (
        "Shipment from QuickBooks: shipped 2026-12-02, via UPS Ground, tracking number "
        "1Z999AA10123456784." in comments
    )

    # A later change in QuickBooks: one more brick, the tax and total with it
    lines = list(invoice.lines)
    lines[0] = lines[0].model_copy(update={"quantity": Decimal("4"), "amount": Decimal("26.00")})
    ledger.invoices[invoice.ledger_id] = invoice.model_copy(
        update={
            "version": "1",
            "lines": tuple(lines),
            "tax_total": Decimal("3.66"),
            "total": Decimal("55.99"),
        }
    )
    result = _apply(worker, SHOP, invoice.ledger_id, "ledger_invoice")
    assert result.outcome == "updated", result.detail
    (order,) = _made_for(mage, invoice)
    assert (order["grand_total"], order["tax_amount"], order["total_paid"]) == (
        "55.99",
        "3.66",
        "55.99",
    )
    assert [(i["sku"], i["qty_ordered"]) for i in order["items"]] == [
        ("24-WG084", 4),
        ("24-WG086", 1),
    ]
    # Nothing changed: nothing written
    writes = mage.store.order_writes.writes
    assert _apply(worker, SHOP, invoice.ledger_id, "ledger_invoice").outcome == "skipped"
    assert mage.store.order_writes.writes == writes

    # Voided in QuickBooks: the order is cancelled, with a comment saying why
    ledger.invoices[invoice.ledger_id] = ledger.invoices[invoice.ledger_id].model_copy(
        update={"version": "2", "voided": True}
    )
    assert _apply(worker, SHOP, invoice.ledger_id, "ledger_invoice").outcome == "updated"
    (order,) = _made_for(mage, invoice)
    assert (order["state"], order["status"]) == ("canceled", "canceled")


def test_an_open_invoice_is_a_pending_order_of_the_magento_customer_with_that_e_mail(
    mage: Mage, worker: SyncWorker, ledger: HeldLedger
) -> None:
    customer_id = mage.store.create_customer("pat.open@example.com", "Pat", "Open")
    invoice = _invoice(
        ledger,
        customer_email="pat.open@example.com",
        balance=Decimal("47.95"),
        ship_date=None,
        ship_method=None,
        tracking_number=None,
    )
    assert _apply(worker, SHOP, invoice.ledger_id, "ledger_invoice").outcome == "posted"
    (order,) = _made_for(mage, invoice)
    assert (order["state"], order["status"], order["total_paid"]) == ("new", "pending", 0)
    assert (order["customer_id"], order["customer_is_guest"]) == (customer_id, 0)


def test_a_lost_create_answer_is_found_again_and_the_order_s_poll_is_not_posted_back(
    mage: Mage, worker: SyncWorker, ledger: HeldLedger
) -> None:
    invoice = _invoice(ledger, doc_number="QB-LOST")
    # An earlier attempt sent the order (Magento made it) and lost the answer
    orders = len(mage.store._orders)
    runtime = Runtime.from_environment()
    writes = runtime.store_writes(runtime.connection(SHOP))
    written = WrittenStore(runtime.dynamodb.Table(runtime.settings.state_table))
    key = f"{SHOP}#ledger_invoice#{invoice.ledger_id}"
    written.put(key, Written(store_id="", fields={CREATING: now_utc().isoformat()}))
    sent = writes.create_order(
        OrderFields(
            email="guest.buyer@example.com",
            lines=(
                OrderLine(product_id="21", name="Yoga Brick", quantity=1, total=Decimal("6.50")),
            ),
            meta=((INVOICE_META, invoice.ledger_id),),
        )
    )
    assert len(mage.store._orders) == orders + 1

    # The poll lists it like any order; worked, it is recognised by its marker, not posted
    message = SyncMessage.model_validate(
        {
            "connection_id": SHOP,
            "entity": "order",
            "record_id": sent.store_id,
            "topic": "order.updated",
            "received_at": now_utc(),
            "version": f"v{next(_ids)}",
            "source": "reconcile",
        }
    )
    assert worker.process(message).outcome == "skipped"
    events = mage.rig.events(f"{SHOP}#order#{sent.store_id}")
    assert events[-1] == (
        "skipped",
        f"made by the connector from QuickBooks invoice {invoice.ledger_id}; not posted",
    )
    assert mage.qbo.documents("Invoice") == []

    # The invoice tried again adopts that order: no second order, its figures the invoice's
    result = _apply(worker, SHOP, invoice.ledger_id, "ledger_invoice")
    assert result.outcome == "updated", result.detail
    assert len(mage.store._orders) == orders + 1
    order = mage.store.order(int(sent.store_id))
    assert (order["grand_total"], order["status"]) == ("47.95", "complete")
    assert "Made from QuickBooks invoice QB-LOST" in " ".join(_comments(order))


def test_an_invoice_without_an_e_mail_parks_saying_magento_requires_one(
    mage: Mage, worker: SyncWorker, ledger: HeldLedger, parked: list[str]
) -> None:
    invoice = _invoice(ledger, customer_email="")
    orders = len(mage.store._orders)
    assert _apply(worker, SHOP, invoice.ledger_id, "ledger_invoice").outcome == "parked"
    assert "has no customer e-mail, and a Magento order requires one" in parked[-1]
    assert len(mage.store._orders) == orders


def test_simulated_magento_refuses_an_order_or_comment_missing_what_the_definition_requires(
    mage: Mage,
) -> None:
    # The reference's sales-data-order-interface requires base_grand_total, customer_email,
    # grand_total and items; an item its sku; a comment its four fields
    item = {"sku": "24-WG084", "qty_ordered": 1, "row_total": "5.00"}
    order = {"base_grand_total": "5.00", "grand_total": "5.00", "items": [item]}
    with magento.client(mage.url) as client:
        refused = client.write("POST", "orders", {"entity": order}, "creating an order")
        assert refused.status_code == 400
        assert refused.json() == {
            "message": '"%fieldName" is required. Enter and try again.',
            "parameters": {"fieldName": "customer_email"},
        }
        no_sku = {**order, "customer_email": "a@example.com", "items": [{"qty_ordered": 1}]}
        refused = client.write("POST", "orders", {"entity": no_sku}, "creating an order")
        assert refused.json()["parameters"] == {"fieldName": "sku"}
        unknown = {**order, "customer_email": "a@example.com", "entity_id": 999_999}
        refused = client.write("POST", "orders", {"entity": unknown}, "updating an order")
        assert refused.status_code == 404
        made = client.write(
            "POST", "orders", {"entity": {**order, "customer_email": "a@example.com"}}, "making"
        ).json()
        oid = made["entity_id"]
        history = {"comment": "hello", "is_customer_notified": 0, "is_visible_on_front": 0}
        refused = client.write(
            "POST", f"orders/{oid}/comments", {"statusHistory": history}, "commenting"
        )
        assert refused.json()["parameters"] == {"fieldName": "parent_id"}
        # The order made through the API is one of the store's: read and listed like any
        assert client.record(f"orders/{oid}", "the order")["grand_total"] == "5.00"
        listed = client.search("orders", [], "orders")
        assert oid in [raw["entity_id"] for raw in listed]


def test_a_discounted_invoice_s_order_reads_back_to_its_total_and_is_not_posted_back(
    mage: Mage, worker: SyncWorker, ledger: HeldLedger, parked: list[str]
) -> None:
    # 37.83 of lines and 3.12 of tax, 36.95 in all: a 4.00 discount, shared over the items
    invoice = _invoice(ledger, doc_number="QB-DISC", total=Decimal("36.95"))
    assert _apply(worker, SHOP, invoice.ledger_id, "ledger_invoice").outcome == "posted"
    (order,) = _made_for(mage, invoice)
    assert (order["grand_total"], order["discount_amount"], order["shipping_amount"]) == (
        "36.95",
        "-4.00",
        "0",
    )
    assert sum(Decimal(i["discount_amount"]) for i in order["items"]) == Decimal("4.00")
    # The store's poll reads it with the connector's Magento reader: its parts add up to its
    # total (nothing parked) and its marker keeps it from QuickBooks
    message = SyncMessage.model_validate(
        {
            "connection_id": SHOP,
            "entity": "order",
            "record_id": str(order["entity_id"]),
            "topic": "order.updated",
            "received_at": now_utc(),
            "version": f"v{next(_ids)}",
            "source": "reconcile",
        }
    )
    assert worker.process(message).outcome == "skipped", parked[-1:]
    assert mage.qbo.documents("Invoice") == []

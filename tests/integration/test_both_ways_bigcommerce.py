"""QuickBooks records into the simulated BigCommerce store through the sync worker, on moto's
server (issue #13 for BigCommerce: connector.stores.bigcommerce.writes).

The records are canonical ones (``connector.ledger_records``) held by the test, as the ledger's
read port would give them; the store is the simulated BigCommerce over its REST API, with the
connector's own hooks registered, so the store's webhooks for the connector's writes come back
to it; the worker is the deployed function's, with its state table, audit trail and parking.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connector.both_ways import invoices
from connector.both_ways.invoices import CREATING, INVOICE_META
from connector.both_ways.written import Written, WrittenStore
from connector.ledger_records import (
    LedgerCustomer,
    LedgerInvoice,
)
from connector.model import Address
from connector.runtime import Runtime
from connector.state import now_utc
from connector.stores.bigcommerce import writes as bc_writes
from connector.stores.bigcommerce.hooks import BigCommerceHooks
from connector.stores.writes import OrderFields, OrderLine
from connector.sync import SyncResult, SyncWorker
from simulators.bigcommerce import BigCommerceSimulator
from simulators.httpserver import LoopbackServer, Request, Response
from simulators.qbo import QboSimulator
from simulators.testbed.bigcommerce import bigcommerce_shop
from simulators.testbed.both_ways import (
    HeldLedger,
    apply_change,
    held_worker,
    mug_and_print_invoice,
)
from simulators.testbed.clocks import TickingClock
from simulators.testbed.online import LocalRig, connected_runtime

TENANT = SHOP = "bcboth"
REMAKE = "bcremake"
WEBHOOK_SECRET = "BigCommerceBothWays7"
QBO_APP = {"client_id": "bcboth-app", "client_secret": "bcboth-secret"}
SYNC = {
    "products": "qbo_to_store",
    "prices": "qbo_to_store",
    "inventory": "qbo_to_store",
    "customers": "both",
    "qbo_invoices_to_orders": True,
}
D = Decimal


@dataclass
class Store:
    rig: LocalRig
    bc: BigCommerceSimulator
    mug: int
    hoodie: int
    # Run after the store has made a write and fired its webhooks, before it answers.
    before_answer: list[Callable[[Request], None]] = field(default_factory=list)

    def product(self, pid: int | str) -> dict[str, Any]:
        return self.bc.catalog.render_product(int(pid))


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    # Each reading a second on: the ingest tells two callbacks for one record by created_at.
    bc = BigCommerceSimulator(quota=10_000, loopback_destinations=True, clock=TickingClock())
    mug = bc.catalog.add_product("Ceramic Mug", "MUG-01", D("12.50"), inventory_tracking="product")
    bc.catalog.add_product("Art Print", "PRINT-A2", D("24.99"))
    hoodie = bc.catalog.add_product(
        "Hoodie", "HOODIE", D("40.00"), variants=[("HOODIE-S", D("40")), ("HOODIE-M", D("42"))]
    )
    qbo = QboSimulator(client_id=QBO_APP["client_id"], client_secret=QBO_APP["client_secret"])
    before_answer: list[Callable[[Request], None]] = []

    def answer(request: Request) -> Response:
        response = bc.handle(request)
        for hold in list(before_answer):
            hold(request)
        return response

    with (
        LoopbackServer(answer) as bc_server,
        LoopbackServer(qbo.handle) as qbo_server,
        httpx.Client(timeout=10) as http,
    ):
        connections, secrets = [], {}
        for connection_id, sync in (
            (SHOP, SYNC),
            (REMAKE, {**SYNC, "deleted_products": "recreate"}),
        ):
            connection, secret = bigcommerce_shop(
                connection_id,
                bc,
                bc_server.base_url,
                qbo_server.base_url,
                webhook_secret=WEBHOOK_SECRET,
                ledger=QBO_APP,
            )
            connections.append({**connection, "sync": sync})
            secrets.update(secret)
        with connected_runtime(TENANT, connections, secrets, qbo) as rig:
            hooks = BigCommerceHooks(
                api_base=bc_server.base_url,
                store_hash=bc.store_hash,
                access_token=SecretStr(bc.access_token),
                http=http,
                connection_id=SHOP,
            )
            hooks.sync_webhooks(rig.webhook_url(SHOP), WEBHOOK_SECRET)
            yield Store(rig, bc, mug, hoodie, before_answer)


@pytest.fixture
def ledger() -> HeldLedger:
    return HeldLedger(_ids)


@pytest.fixture
def parked() -> list[str]:
    return []


@pytest.fixture
def worker(store: Store, ledger: HeldLedger, parked: list[str]) -> SyncWorker:
    return held_worker(ledger, parked)


_ids = iter(range(700, 10_000))


def _apply(worker: SyncWorker, record_id: str, entity: str, connection: str = SHOP) -> SyncResult:
    return apply_change(worker, connection, entity, record_id, f"v{next(_ids)}")


# -- products, prices, stock, categories -------------------------------------------------------


def test_a_price_and_stock_change_reach_the_product_once(
    store: Store, worker: SyncWorker, ledger: HeldLedger
) -> None:
    item = ledger.add_item(unit_price=D("13.75"), qty_on_hand=D("9"))
    writes = store.bc.catalog.writes
    result = _apply(worker, item.ledger_id, "ledger_item")
    assert result.outcome == "updated", result.detail
    product = store.product(store.mug)
    assert (product["price"], product["inventory_tracking"], product["inventory_level"]) == (
        13.75,
        "product",
        9,
    )
    assert store.bc.catalog.writes == writes + 1
    (event,) = store.rig.events(f"{SHOP}#ledger_item#{item.ledger_id}")
    assert event == ("updated", result.detail)
    # The same change again writes nothing
    assert _apply(worker, item.ledger_id, "ledger_item").outcome == "skipped"
    assert store.bc.catalog.writes == writes + 1


def test_quantity_on_hand_becomes_a_variants_stock_found_by_sku(
    store: Store, worker: SyncWorker, ledger: HeldLedger
) -> None:
    item = ledger.add_item(sku="HOODIE-M", name="Hoodie M", unit_price=D("42"), qty_on_hand=D("4"))
    result = _apply(worker, item.ledger_id, "ledger_item")
    assert result.outcome == "updated", result.detail
    variants = {
        v.sku: v for v in store.bc.catalog.variants.values() if v.product_id == store.hoodie
    }
    assert variants["HOODIE-M"].inventory_level == 4
    assert store.product(store.hoodie)["inventory_tracking"] == "variant"
    assert variants["HOODIE-S"].inventory_level == 0


def test_a_new_item_becomes_a_product_in_its_category_made_once(
    store: Store, worker: SyncWorker, ledger: HeldLedger
) -> None:
    item = ledger.add_item(
        sku="TEA-GRN",
        name="Green Tea",
        unit_price=D("6.40"),
        qty_on_hand=D("30"),
        category_path=("Kitchen", "Tea"),
    )
    result = _apply(worker, item.ledger_id, "ledger_item")
    assert result.outcome == "posted", result.detail
    (made,) = [p for p in store.bc.catalog.products.values() if p["sku"] == "TEA-GRN"]
    categories = store.bc.catalog.categories
    (tea,) = made["categories"]
    kitchen = categories[tea]["parent_id"]
    assert (categories[tea]["name"], categories[kitchen]["name"]) == ("Tea", "Kitchen")
    assert (made["name"], made["price"], made["inventory_level"]) == ("Green Tea", D("6.40"), 30)
    # A second item in the same category makes no second category
    other = ledger.add_item(sku="TEA-BLK", name="Black Tea", category_path=("Kitchen", "Tea"))
    assert _apply(worker, other.ledger_id, "ledger_item").outcome == "posted"
    assert [c["name"] for c in categories.values()].count("Tea") == 1


# -- customers both ways -------------------------------------------------------------------------


def _qbo_customers(store: Store, email: str) -> list[dict[str, Any]]:
    return [
        c
        for c in store.rig.qbo.documents("Customer")
        if (c.get("PrimaryEmailAddr") or {}).get("Address") == email
    ]


def test_a_customer_goes_both_ways_and_its_echo_goes_no_further(
    store: Store, worker: SyncWorker, ledger: HeldLedger
) -> None:
    cid = store.bc.add_customer("ada@example.com", "Ada", "Lovelace")
    customer = LedgerCustomer(
        ledger_id="81",
        version="1",
        display_name="Ada King",
        first_name="Ada",
        last_name="King",
        email="ada@example.com",
        phone="(415) 555-0101",
        billing=Address(
            line1="12 St James Sq", city="London", region="", postcode="SW1Y 4JH", country="GB"
        ),
        customer_type="Wholesale",
        terms="Net 30",
    )
    ledger.customers["81"] = customer
    # QuickBooks → store: the customer's name, phone, address and terms
    result = _apply(worker, "81", "ledger_customer")
    assert result.outcome == "updated", result.detail
    shown = store.bc.customers[cid]
    assert (shown["last_name"], shown["phone"]) == ("King", "(415) 555-0101")
    assert shown["addresses"][0]["address1"] == "12 St James Sq"
    assert "QuickBooks terms: Net 30" in shown["notes"].splitlines()
    # The store's store/customer/updated for that write reached the connector: it goes no further
    store.rig.drain()
    assert _qbo_customers(store, "ada@example.com") == []
    events = store.rig.events(f"{SHOP}#customer#{cid}")
    assert events[-1][0] == "skipped" and "own write from QuickBooks" in events[-1][1]

    # store → QuickBooks: a shopper's own edit travels as usual
    store.bc.update_customer(cid, last_name="Lovelace-King")
    assert store.bc.deliver("store/customer/updated", cid) == [200]
    store.rig.drain()
    (posted,) = _qbo_customers(store, "ada@example.com")
    assert posted["FamilyName"] == "Lovelace-King"


def _answer_once_its_webhook_is_worked(store: Store, email: str) -> Callable[[Request], None]:
    """The store answers its first write of the customer with ``email`` only once the
    connector's worker has worked the webhook that write fired: the echo is decided before
    the connector has the answer, every time (the race a slow store answer makes)."""

    def hold(request: Request) -> None:
        if request.method not in ("POST", "PUT") or not request.path.rstrip("/").endswith(
            "/v3/customers"
        ):
            return
        store.before_answer.remove(hold)
        (cid,) = [c for c, row in store.bc.customers.items() if row["email"] == email]
        deadline = time.monotonic() + 30
        while not _worked(store, cid):
            assert time.monotonic() < deadline, "the store's webhook was never worked"
            time.sleep(0.02)

    return hold


def _worked(store: Store, cid: int) -> list[tuple[str, str]]:
    """What the sync worker made of the store customer's webhooks (the ingest's left out)."""
    return [e for e in store.rig.events(f"{SHOP}#customer#{cid}") if e[0] != "received"]


def _echo_decided_after_the_answer(store: Store, cid: int) -> None:
    """Worked before the answer, the webhook waited for it; then it was known as an echo."""
    events = _worked(store, cid)
    assert events[0][0] == "failed", events
    assert "the connector is writing store customer" in events[0][1]
    assert "decided once its answer is recorded" in events[0][1]
    assert events[-1][0] == "skipped" and "own write from QuickBooks" in events[-1][1], events


@pytest.mark.parametrize("made", [False, True], ids=["update", "create"])
def test_a_webhook_worked_before_the_stores_answer_is_still_the_connectors_echo(
    store: Store, worker: SyncWorker, ledger: HeldLedger, made: bool
) -> None:
    email = f"grace-{'made' if made else 'kept'}@example.com"
    if not made:
        store.bc.add_customer(email, "Grace", "Murray")
    ledger_id = str(next(_ids))
    ledger.customers[ledger_id] = LedgerCustomer(
        ledger_id=ledger_id,
        version="1",
        display_name="Grace Hopper",
        first_name="Grace",
        last_name="Hopper",
        email=email,
        phone="(202) 555-0199",
        billing=Address(line1="1 Navy Yard", city="Arlington", region="VA", country="US"),
    )
    store.before_answer.append(_answer_once_its_webhook_is_worked(store, email))
    try:
        result = _apply(worker, ledger_id, "ledger_customer")
    finally:
        store.before_answer.clear()
    assert result.outcome == ("posted" if made else "updated"), result.detail
    (cid,) = [c for c, row in store.bc.customers.items() if row["email"] == email]
    assert store.bc.customers[cid]["last_name"] == "Hopper"
    store.rig.drain()
    # Nothing of the connector's own write went to QuickBooks
    assert _qbo_customers(store, email) == []
    _echo_decided_after_the_answer(store, cid)

    # A person's edit right after it travels to QuickBooks as usual
    store.bc.update_customer(cid, last_name="Hopper-Murray")
    assert store.bc.deliver("store/customer/updated", cid) == [200]
    store.rig.drain()
    (posted,) = _qbo_customers(store, email)
    assert posted["FamilyName"] == "Hopper-Murray"


def test_a_customer_made_in_quickbooks_is_made_in_the_store(
    store: Store, worker: SyncWorker, ledger: HeldLedger, parked: list[str]
) -> None:
    ledger.customers["82"] = LedgerCustomer(
        ledger_id="82",
        version="1",
        display_name="Alan Turing",
        first_name="Alan",
        last_name="Turing",
        email="alan@example.com",
        billing=Address(line1="1 Bletchley Park", city="Milton Keynes", country="GB"),
    )
    assert _apply(worker, "82", "ledger_customer").outcome == "posted"
    (made,) = [c for c in store.bc.customers.values() if c["email"] == "alan@example.com"]
    assert (made["first_name"], made["addresses"][0]["city"]) == ("Alan", "Milton Keynes")
    # A company without a person's name: BigCommerce would refuse it (422), parked saying why
    ledger.customers["83"] = LedgerCustomer(
        ledger_id="83", version="1", display_name="Acme", company="Acme", email="ops@acme.test"
    )
    assert _apply(worker, "83", "ledger_customer").outcome == "parked"
    assert "BigCommerce needs a customer's first and last name" in parked[-1]
    assert "QuickBooks customer Acme has no first name" in parked[-1]


# -- invoices → orders ---------------------------------------------------------------------------


def _invoice(ledger: HeldLedger, **fields: Any) -> LedgerInvoice:
    return ledger.add_invoice(mug_and_print_invoice("QB-2001", "81") | fields)


def _order_of(store: Store, invoice: LedgerInvoice) -> dict[str, Any]:
    state = store.rig.state_of(f"{SHOP}#ledger_invoice#{invoice.ledger_id}")
    assert state is not None and state.doc_number, "the invoice's store order"
    return store.bc.orders[int(state.doc_number)]


def test_an_invoice_becomes_one_store_order_to_the_cent_with_quickbooks_tax(
    store: Store, worker: SyncWorker, ledger: HeldLedger
) -> None:
    # The adapter knows the core's tax fee by its name
    assert bc_writes.TAX_FEE == invoices.TAX_FEE
    invoice = _invoice(ledger)
    made = _apply(worker, invoice.ledger_id, "ledger_invoice")
    assert made.outcome == "posted", made.detail
    order = _order_of(store, invoice)
    # The store's total is the invoice's, QuickBooks' tax is the order's tax, lines untaxed
    assert (order["total_inc_tax"], order["total_tax"], order["status_id"]) == (
        "67.6500",
        "5.1600",
        11,
    )
    assert [(p["sku"], p["quantity"], p["total_inc_tax"]) for p in order["_products"]] == [
        ("MUG-01", 3, "37.5000"),
        ("PRINT-A2", 1, "24.9900"),
    ]
    notes = order["staff_notes"].splitlines()
    assert f"_qbo_invoice_id: {invoice.ledger_id}" in notes
    assert any("Made from QuickBooks invoice QB-2001" in n for n in notes)
    # The same invoice again makes no second order
    count = len(store.bc.orders)
    assert _apply(worker, invoice.ledger_id, "ledger_invoice").outcome == "skipped"
    assert len(store.bc.orders) == count
    # And the store's store/order/created for it posted nothing to QuickBooks
    store.rig.drain()
    assert store.rig.qbo.documents("Invoice") == []


def test_the_invoices_shipment_becomes_the_orders_shipment_once(
    store: Store, worker: SyncWorker, ledger: HeldLedger
) -> None:
    invoice = _invoice(ledger, doc_number="QB-2003")
    assert _apply(worker, invoice.ledger_id, "ledger_invoice").outcome == "posted"
    oid = _order_of(store, invoice)["id"]
    assert store.bc.catalog.shipments.get(oid) is None, "not shipped yet"
    # Shipped later in QuickBooks: ship date, method and tracking number
    when = datetime(2026, 12, 3, 15, 0, tzinfo=now_utc().tzinfo)
    ledger.invoices[invoice.ledger_id] = invoice.model_copy(
        update={"ship_date": when, "ship_method": "UPS Ground", "tracking_number": "1Z999AA1"}
    )
    assert _apply(worker, invoice.ledger_id, "ledger_invoice").outcome == "updated"
    (shipment,) = store.bc.catalog.shipments[oid]
    assert (shipment["tracking_number"], shipment["shipping_method"]) == ("1Z999AA1", "UPS Ground")
    assert shipment["comments"] == "Shipped 2026-12-03 (QuickBooks)"
    assert [i["quantity"] for i in shipment["items"]] == [3, 1]
    assert _order_of(store, invoice)["status"] == "Shipped"
    assert "tracking number 1Z999AA1" in _order_of(store, invoice)["staff_notes"]
    # The same invoice again ships nothing more
    assert _apply(worker, invoice.ledger_id, "ledger_invoice").outcome == "skipped"
    assert len(store.bc.catalog.shipments[oid]) == 1


def test_a_discount_lowers_the_total_and_a_void_cancels_the_order(
    store: Store, worker: SyncWorker, ledger: HeldLedger
) -> None:
    invoice = _invoice(ledger, doc_number="QB-2002", total=D("61.40"), balance=D("61.40"))
    assert _apply(worker, invoice.ledger_id, "ledger_invoice").outcome == "posted"
    order = _order_of(store, invoice)
    assert (order["total_inc_tax"], order["discount_amount"], order["status_id"]) == (
        "61.4000",
        "6.2500",
        7,
    )
    ledger.invoices[invoice.ledger_id] = invoice.model_copy(update={"balance": D("0")})
    assert _apply(worker, invoice.ledger_id, "ledger_invoice").outcome == "updated"
    assert _order_of(store, invoice)["status_id"] == 11
    ledger.invoices[invoice.ledger_id] = invoice.model_copy(update={"voided": True})
    _apply(worker, invoice.ledger_id, "ledger_invoice")
    assert _order_of(store, invoice)["status"] == "Cancelled"


def test_an_order_whose_answer_was_lost_is_found_again_and_its_webhook_is_not_posted(
    store: Store, worker: SyncWorker, ledger: HeldLedger
) -> None:
    # Given an earlier attempt that sent the order (the store made it) and lost the answer
    invoice = _invoice(ledger, doc_number="QB-LOST")
    runtime = Runtime.from_environment()
    written = WrittenStore(runtime.dynamodb.Table(runtime.settings.state_table))
    key = f"{SHOP}#ledger_invoice#{invoice.ledger_id}"
    written.put(key, Written(store_id="", fields={CREATING: now_utc().isoformat()}))
    sent = runtime.store_writes(runtime.connection(SHOP)).create_order(
        OrderFields(
            lines=(OrderLine(product_id=str(store.mug), name="Mug", quantity=1, total=D("12.50")),),
            meta=((INVOICE_META, invoice.ledger_id),),
        )
    )
    # The store's store/order/created is worked first: the order's marker names the invoice
    store.rig.drain()
    events = store.rig.events(f"{SHOP}#order#{sent.store_id}")
    assert events[-1] == (
        "skipped",
        f"made by the connector from QuickBooks invoice {invoice.ledger_id}; not posted",
    )
    assert store.rig.qbo.documents("Invoice") == []
    count = len(store.bc.orders)

    # When the invoice is tried again, that order is the invoice's: no second order
    result = _apply(worker, invoice.ledger_id, "ledger_invoice")
    assert result.outcome == "updated", result.detail
    assert len(store.bc.orders) == count
    order = store.bc.orders[int(sent.store_id)]
    assert (order["total_inc_tax"], order["status_id"]) == ("67.6500", 11)


# -- bad input ---------------------------------------------------------------------------------


def test_a_sku_on_two_store_products_is_parked_naming_both(
    store: Store, worker: SyncWorker, ledger: HeldLedger, parked: list[str]
) -> None:
    # An import gave a product and another product's variant one SKU (the API refuses it)
    first = store.bc.catalog.add_product("Gift Card", "GIFT-25", D("25"))
    second = store.bc.catalog.add_product("Gift Box", "BOX", D("9"), variants=[("GIFT-25", D("9"))])
    item = ledger.add_item(sku="GIFT-25", name="Gift Card", unit_price=D("30.00"))
    assert _apply(worker, item.ledger_id, "ledger_item").outcome == "parked"
    assert f"product {first}" in parked[-1] and f"of product {second}" in parked[-1]
    assert store.product(first)["price"] == 25.0, "nothing was written"


def test_a_deleted_store_product_is_parked_or_made_again_per_setting(
    store: Store, worker: SyncWorker, ledger: HeldLedger, parked: list[str]
) -> None:
    kept = ledger.add_item(sku="CANDLE-1", name="Candle", unit_price=D("8.00"))
    remade = ledger.add_item(sku="SOAP-1", name="Soap", unit_price=D("5.00"))
    assert _apply(worker, kept.ledger_id, "ledger_item").outcome == "posted"
    assert _apply(worker, remade.ledger_id, "ledger_item", REMAKE).outcome == "posted"
    for sku in ("CANDLE-1", "SOAP-1"):
        (pid,) = [p for p, raw in store.bc.catalog.products.items() if raw["sku"] == sku]
        store.bc.catalog.delete_product(pid)
    for item, price in ((kept, D("9.00")), (remade, D("6.00"))):
        ledger.items[item.ledger_id] = item.model_copy(update={"version": "1", "unit_price": price})
    assert _apply(worker, kept.ledger_id, "ledger_item").outcome == "parked"
    assert "was deleted in the store" in parked[-1] and "deleted_products" in parked[-1]
    again = _apply(worker, remade.ledger_id, "ledger_item", REMAKE)
    assert again.outcome == "posted" and "made again" in again.detail
    (soap,) = [p for p in store.bc.catalog.products.values() if p["sku"] == "SOAP-1"]
    assert soap["price"] == D("6.00")


def test_negative_stock_and_another_currency_are_parked_with_their_reason(
    store: Store, worker: SyncWorker, ledger: HeldLedger, parked: list[str]
) -> None:
    writes = store.bc.catalog.writes
    negative = ledger.add_item(sku="PRINT-A2", name="Art Print", qty_on_hand=D("-3"))
    assert _apply(worker, negative.ledger_id, "ledger_item").outcome == "parked"
    assert "negative quantity on hand (-3)" in parked[-1]
    euros = ledger.add_item(sku="PRINT-A2", name="Art Print", currency="EUR", unit_price=D("9"))
    assert _apply(worker, euros.ledger_id, "ledger_item").outcome == "parked"
    # The store's currency is BigCommerce's own (GET /v2/store)
    assert "priced in EUR and the store sells in USD" in parked[-1]
    assert store.bc.catalog.writes == writes, "nothing was written"


def test_a_store_that_refuses_the_write_parks_with_its_words_and_a_blip_is_retried(
    store: Store, worker: SyncWorker, ledger: HeldLedger, parked: list[str]
) -> None:
    item = ledger.add_item(sku="PRINT-A2", name="Art Print", unit_price=D("15.00"))
    store.bc.scopes = store.bc.scopes - {"products"}
    try:
        assert _apply(worker, item.ledger_id, "ledger_item").outcome == "parked"
    finally:
        store.bc.scopes = store.bc.scopes | {"products"}
    assert "You don't have a required scope (products)" in parked[-1]
    assert "Products (modify)" in parked[-1]
    # A store that fails for a moment is tried again by the client: written once
    store.bc.fail_next(503, times=2)
    assert _apply(worker, item.ledger_id, "ledger_item").outcome == "updated"
    (print_a2,) = [p for p in store.bc.catalog.products.values() if p["sku"] == "PRINT-A2"]
    assert print_a2["price"] == D("15.00")

"""QuickBooks records into the simulated WooCommerce store through the sync worker, on moto's
server (issue #13 parts 3, 4 and 6, store side).

The records are canonical ones (``connector.ledger_records``) held by the test, as the ledger's
read port would give them; the store is the simulated WooCommerce over its REST API; the worker
is the deployed function's, with its state table, audit trail and parking.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
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
from connector.resources import SYNC as SYNC_FUNCTION
from connector.runtime import Runtime
from connector.state import now_utc
from connector.stores.writes import OrderFields, OrderLine
from connector.sync import HandedBack, SyncResult, SyncWorker
from simulators.httpserver import Request, Response
from simulators.testbed.both_ways import (
    HeldLedger,
    apply_change,
    held_worker,
    mug_and_print_invoice,
)
from simulators.testbed.online import QboRig, QboRigs, connection_settings
from simulators.woocommerce import LineSpec, OrderSpec

SHOP, REMAKE, NOTHING = "shop", "remake", "nothing"
ALL_PRODUCT_FIELDS = {
    "products": "qbo_to_store",
    "prices": "qbo_to_store",
    "inventory": "qbo_to_store",
    "customers": "both",
    "qbo_invoices_to_orders": True,
}


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    mapping = {"fallback_item": "Sales", "shipping_item": "Shipping"}

    def one(connection_id: str, sync: dict[str, Any]) -> dict[str, Any]:
        made = connection_settings(connection_id, woo_url=woo_url, qbo_url=qbo_url, mapping=mapping)
        return {**made, "sync": sync}

    return [
        one(SHOP, ALL_PRODUCT_FIELDS),
        one(
            REMAKE,
            {**ALL_PRODUCT_FIELDS, "deleted_products": "recreate", "customers": "qbo_to_store"},
        ),
        one(NOTHING, {}),
    ]


@pytest.fixture(scope="module")
def rig(qbo_rig: QboRigs) -> Iterator[QboRig]:
    with qbo_rig(_connections) as running:
        yield running


@pytest.fixture
def ledger() -> HeldLedger:
    return HeldLedger(_ids)


@pytest.fixture
def parked() -> list[str]:
    return []


@pytest.fixture
def worker(rig: QboRig, ledger: HeldLedger, parked: list[str]) -> SyncWorker:
    return held_worker(ledger, parked)


_ids = iter(range(500, 10_000))


def _apply(worker: SyncWorker, connection: str, record_id: str, entity: str) -> SyncResult:
    return apply_change(worker, connection, entity, record_id, f"v{next(_ids)}")


def _product(rig: QboRig, product_id: int | str) -> dict[str, Any]:
    return rig.woo.catalog.render_product(int(product_id))


def test_a_price_changed_in_quickbooks_reaches_the_store_once(
    rig: QboRig, worker: SyncWorker, ledger: HeldLedger
) -> None:
    # Given QuickBooks' mug, priced like the store's
    item = ledger.add_item(sku="PRINT-A2", name="Art Print \u2013 A2", unit_price=Decimal("24.99"))
    # When its price changes in QuickBooks and the change is synced
    ledger.change_item(item, unit_price=Decimal("27.50"))
    writes = rig.woo.catalog.writes
    result = _apply(worker, SHOP, item.ledger_id, "ledger_item")

    # Then the store's product has the new price, and only that was written
    assert result.outcome == "updated"
    assert _product(rig, 11)["regular_price"] == "27.50"
    assert rig.woo.catalog.writes == writes + 1
    (event,) = rig.audit(SHOP, item.ledger_id, "ledger_item")
    assert event.event == "updated" and event.detail["fields"] == ["price"]
    assert event.detail["store_id"] == "11"
    # And the same change delivered again writes nothing
    again = _apply(worker, SHOP, item.ledger_id, "ledger_item")
    assert again.outcome == "skipped" and rig.woo.catalog.writes == writes + 1


def test_quantity_on_hand_becomes_a_variations_stock_found_by_sku(
    rig: QboRig, worker: SyncWorker, ledger: HeldLedger
) -> None:
    item = ledger.add_item(sku="HOODIE-GRN-S", name="Hoodie Green S", qty_on_hand=Decimal("7"),
        unit_price=Decimal("42.50"),
    )  # fmt: skip
    result = _apply(worker, SHOP, item.ledger_id, "ledger_item")

    assert result.outcome == "updated", result.detail
    assert rig.woo.catalog.stock(23) == 7
    # The variation's name is its product's: only price and stock are a variation's own
    assert "stock" in result.detail and "name" not in result.detail


def test_a_new_item_becomes_a_product_in_its_category_and_a_move_leaves_the_old_one(
    rig: QboRig, worker: SyncWorker, ledger: HeldLedger
) -> None:
    item = ledger.add_item(
        sku="TEAPOT-1",
        name="Teapot",
        description="Cast iron, 1 l",
        unit_price=Decimal("39.00"),
        qty_on_hand=Decimal("4"),
        category_path=("Kitchen", "Tea"),
    )
    made = _apply(worker, SHOP, item.ledger_id, "ledger_item")
    assert made.outcome == "posted"
    (found,) = [p for p in rig.woo.catalog.categories.values() if p.name == "Tea"]
    assert found.parent == 16  # under the store's own Kitchen
    (product,) = [p for p in rig.woo.products.values() if p.sku == "TEAPOT-1" and not p.deleted]
    shown = _product(rig, product.id)
    assert (shown["name"], shown["regular_price"], shown["stock_quantity"]) == (
        "Teapot",
        "39.00",
        4,
    )
    assert [c["name"] for c in shown["categories"]] == ["Tea"]

    # When QuickBooks moves it to another category
    ledger.change_item(item, category_path=("Gifts",))
    _apply(worker, SHOP, item.ledger_id, "ledger_item")
    assert [c["name"] for c in _product(rig, product.id)["categories"]] == ["Gifts"]


def test_a_sku_on_two_store_products_is_parked_naming_both(
    rig: QboRig, worker: SyncWorker, ledger: HeldLedger, parked: list[str]
) -> None:
    # A store whose import gave two products one SKU (WooCommerce refuses it through the API)
    rig.woo.products[30].sku = "GIFT-25"
    try:
        item = ledger.add_item(sku="GIFT-25", name="Gift Card", unit_price=Decimal("30.00"))
        result = _apply(worker, SHOP, item.ledger_id, "ledger_item")
    finally:
        rig.woo.products[30].sku = "POSTER-LTD"
    assert result.outcome == "parked"
    assert "product 13" in parked[-1] and "product 30" in parked[-1]
    assert "give each its own SKU" in parked[-1]
    state = rig.state_of(f"{SHOP}#ledger_item#{item.ledger_id}")
    assert state is not None and state.status == "parked"
    assert _product(rig, 13)["regular_price"] == "25.00", "nothing was written"


def test_a_deleted_store_product_is_parked_or_made_again_per_setting(
    rig: QboRig, worker: SyncWorker, ledger: HeldLedger, parked: list[str]
) -> None:
    kept = ledger.add_item(sku="KEEP-1", name="Candle", unit_price=Decimal("8.00"))
    remade = ledger.add_item(sku="REMAKE-1", name="Soap", unit_price=Decimal("5.00"))
    assert _apply(worker, SHOP, kept.ledger_id, "ledger_item").outcome == "posted"
    assert _apply(worker, REMAKE, remade.ledger_id, "ledger_item").outcome == "posted"
    for sku in ("KEEP-1", "REMAKE-1"):
        (product,) = [p for p in rig.woo.products.values() if p.sku == sku and not p.deleted]
        rig.woo.delete_product(product.id)

    ledger.change_item(kept, unit_price=Decimal("9.00"))
    ledger.change_item(remade, unit_price=Decimal("6.00"))
    assert _apply(worker, SHOP, kept.ledger_id, "ledger_item").outcome == "parked"
    assert "was deleted in the store" in parked[-1] and "deleted_products" in parked[-1]
    again = _apply(worker, REMAKE, remade.ledger_id, "ledger_item")
    assert again.outcome == "posted" and "made again" in again.detail
    (product,) = [p for p in rig.woo.products.values() if p.sku == "REMAKE-1" and not p.deleted]
    assert product.price == Decimal("6.00")


def test_negative_stock_and_another_currency_are_parked_with_their_reason(
    rig: QboRig, worker: SyncWorker, ledger: HeldLedger, parked: list[str]
) -> None:
    negative = ledger.add_item(sku="BOOK-KIDS", name="Book", qty_on_hand=Decimal("-3"))
    assert _apply(worker, SHOP, negative.ledger_id, "ledger_item").outcome == "parked"
    assert "negative quantity on hand (-3)" in parked[-1]
    euros = ledger.add_item(sku="BOOK-KIDS", name="Book", currency="EUR", unit_price=Decimal("9"))
    assert _apply(worker, SHOP, euros.ledger_id, "ledger_item").outcome == "parked"
    assert "priced in EUR and the store sells in USD" in parked[-1]
    assert _product(rig, 12)["regular_price"] == "7.99"
    events = rig.events(SHOP, euros.ledger_id, "ledger_item")
    assert events[-1] == "parked"


def test_a_store_that_refuses_the_write_parks_the_record_with_its_words(
    rig: QboRig, worker: SyncWorker, ledger: HeldLedger, parked: list[str]
) -> None:
    item = ledger.add_item(sku="MUG-01", unit_price=Decimal("14.00"))
    rig.woo._auth.permissions = "read"
    try:
        result = _apply(worker, SHOP, item.ledger_id, "ledger_item")
    finally:
        rig.woo._auth.permissions = "read_write"
    assert result.outcome == "parked"
    assert "does not have write permissions" in parked[-1]
    # A store that fails for a moment is tried again by the client: written once
    rig.woo.inject(503, times=2)
    assert _apply(worker, SHOP, item.ledger_id, "ledger_item").outcome == "updated"
    assert _product(rig, 10)["regular_price"] == "14.00"


def test_directions_off_write_nothing(rig: QboRig, worker: SyncWorker, ledger: HeldLedger) -> None:
    item = ledger.add_item(sku="MUG-01", unit_price=Decimal("99.00"))
    result = _apply(worker, NOTHING, item.ledger_id, "ledger_item")
    assert result.outcome == "skipped" and "nothing flows" in result.detail
    assert _product(rig, 10)["regular_price"] != "99.00"


def test_a_quickbooks_customer_edit_reaches_the_store_and_its_echo_goes_no_further(
    rig: QboRig, worker: SyncWorker, ledger: HeldLedger
) -> None:
    jane = rig.woo.rest_representation("customer", 2)
    customer = LedgerCustomer(
        ledger_id="58",
        version="1",
        display_name="Jane Smith",
        first_name="Jane",
        last_name="Smith-Jones",
        email=jane["email"],
        phone="(415) 555-0199",
        billing=Address(
            first_name="Jane",
            last_name="Smith-Jones",
            line1="2 Market St",
            city="San Francisco",
            region="CA",
            postcode="94105",
            country="US",
            phone="(415) 555-0199",
        ),
        customer_type="Wholesale",
        terms="Net 30",
    )
    ledger.customers["58"] = customer
    result = _apply(worker, SHOP, "58", "ledger_customer")
    assert result.outcome == "updated", result.detail
    shown = rig.woo.rest_representation("customer", 2)
    assert shown["last_name"] == "Smith-Jones"
    assert shown["billing"]["address_1"] == "2 Market St"
    assert {m["key"]: m["value"] for m in shown["meta_data"]}["_qbo_customer_type"] == "Wholesale"

    # The store tells the connector about the change it made: nothing goes to QuickBooks
    calls = len(rig.qbo.request_log)
    message = SyncMessage(
        connection_id=SHOP,
        entity="customer",
        record_id="2",
        topic="customer.updated",
        received_at=now_utc(),
        version="echo-1",
    )
    echoed = worker.process(message)
    assert echoed.outcome == "skipped" and "own write from QuickBooks" in echoed.detail
    assert len(rig.qbo.request_log) == calls


def _invoice(ledger: HeldLedger, **fields: Any) -> LedgerInvoice:
    return ledger.add_invoice(mug_and_print_invoice("QB-1042", "58") | fields)


def _order_of(rig: QboRig, invoice: LedgerInvoice) -> dict[str, Any]:
    state = rig.state_of(f"{SHOP}#ledger_invoice#{invoice.ledger_id}")
    assert state is not None and state.doc_number, "the invoice's store order"
    return dict(rig.woo.get_order(int(state.doc_number)))


def _customer_echo(record_id: str, version: str) -> SyncMessage:
    """The store's customer.updated for ``record_id``, as its webhook queues it."""
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
    """The store's answer to its first customer write, held until the sync worker has
    worked the store's webhook for that write: the echo is decided before the connector has
    the answer, every time (the race a slow store answer makes)."""

    def answer(request: Request) -> Response:
        response = handle(request)
        if not seen and request.method in ("POST", "PUT") and "/customers" in request.path:
            made = str(json.loads(response.body)["id"])
            seen.append(made)
            seen.append(_outcome(echo, _customer_echo(made, f"race-{made}")))
        return response

    return answer


@pytest.mark.parametrize("made", [False, True], ids=["update", "create"])
def test_a_webhook_worked_before_the_stores_answer_waits_for_it_and_goes_no_further(
    rig: QboRig,
    worker: SyncWorker,
    ledger: HeldLedger,
    monkeypatch: pytest.MonkeyPatch,
    made: bool,
) -> None:
    email = f"grace-{'made' if made else 'kept'}@example.org"
    if not made:
        rig.woo.create_customer(first_name="Grace", last_name="Murray", email=email)
    ledger_id = str(next(_ids))
    ledger.customers[ledger_id] = LedgerCustomer(
        ledger_id=ledger_id,
        version="1",
        display_name="Grace Hopper",
        first_name="Grace",
        last_name="Hopper",
        email=email,
        billing=Address(line1="1 Navy Yard", city="Arlington", region="VA", country="US"),
    )
    seen: list[str] = []
    echo = held_worker(ledger, [])
    monkeypatch.setattr(rig.woo, "handle", _echo_before_answering(rig.woo.handle, echo, seen))
    result = _apply(worker, SHOP, ledger_id, "ledger_customer")
    monkeypatch.undo()
    assert result.outcome == ("posted" if made else "updated"), result.detail
    # Worked before the answer was recorded, the store's webhook went back to the queue
    cid, first = seen
    assert "the connector is writing store customer" in first
    assert "decided once its answer is recorded" in first
    # Handed out again once it is: the connector's own write, nothing goes to QuickBooks
    again = echo.process(_customer_echo(cid, f"race-{cid}-again"))
    assert again.outcome == "skipped" and "own write from QuickBooks" in again.detail
    assert _qbo_customers(rig, email) == []

    # A person's edit right after it travels to QuickBooks as usual
    rig.woo.update_customer(int(cid), last_name="Hopper-Murray")
    assert echo.process(_customer_echo(cid, f"edit-{cid}")).outcome == "posted"
    (posted,) = _qbo_customers(rig, email)
    assert posted["FamilyName"] == "Hopper-Murray"


def test_a_write_announced_by_a_writer_that_died_holds_a_persons_edit_back_no_longer(
    rig: QboRig, worker: SyncWorker
) -> None:
    person = rig.woo.create_customer(first_name="Mary", last_name="Jackson", email="mj@example.org")
    cid = str(person["id"])
    runtime = Runtime.from_environment()
    table = runtime.dynamodb.Table(runtime.settings.state_table)
    # Announced by a sync function stopped before it recorded the answer (its timeout passed)
    announced = datetime.now(UTC) - timedelta(seconds=SYNC_FUNCTION.timeout_s + 1)
    table.put_item(
        Item={
            "pk": f"{SHOP}#customer_email#mj@example.org",
            "sk": "WRITING",
            "ledger_key": f"{SHOP}#ledger_customer#999",
            "since": announced.isoformat(),
        }
    )
    rig.woo.update_customer(int(cid), last_name="Jackson-Smith")
    assert worker.process(_customer_echo(cid, f"died-{cid}")).outcome == "posted"
    (posted,) = _qbo_customers(rig, "mj@example.org")
    assert posted["FamilyName"] == "Jackson-Smith"


def _qbo_customers(rig: QboRig, email: str) -> list[dict[str, Any]]:
    return [
        c
        for c in rig.qbo.documents("Customer")
        if (c.get("PrimaryEmailAddr") or {}).get("Address") == email
    ]


def test_an_invoice_made_in_quickbooks_becomes_one_store_order_to_the_cent(
    rig: QboRig, worker: SyncWorker, ledger: HeldLedger
) -> None:
    when = datetime(2026, 12, 3, 15, 0, tzinfo=now_utc().tzinfo)
    invoice = _invoice(
        ledger, ship_date=when, ship_method="UPS Ground", tracking_number="1Z999AA10123456784"
    )
    made = _apply(worker, SHOP, invoice.ledger_id, "ledger_invoice")
    assert made.outcome == "posted", made.detail

    order = _order_of(rig, invoice)
    assert order["total"] == "67.65" and order["status"] == "completed"
    assert [(i["sku"], i["quantity"], i["total"]) for i in order["line_items"]] == [
        ("MUG-01", 3, "37.50"),
        ("PRINT-A2", 1, "24.99"),
    ]
    assert [(f["name"], f["total"]) for f in order["fee_lines"]] == [("Tax", "5.16")]
    meta = {m["key"]: m["value"] for m in order["meta_data"]}
    assert meta == {"_qbo_invoice_id": invoice.ledger_id, "_qbo_doc_number": "QB-1042"}
    notes = [n["note"] for n in rig.woo.catalog.orders.notes(order["id"])]
    assert "Made from QuickBooks invoice QB-1042" in notes[-1]
    assert notes[0] == (
        "Shipment from QuickBooks: shipped 2026-12-03, via UPS Ground, "
        "tracking number 1Z999AA10123456784."
    )
    # The same invoice again makes no second order
    before = len(rig.woo.order_ids())
    assert _apply(worker, SHOP, invoice.ledger_id, "ledger_invoice").outcome == "skipped"
    assert len(rig.woo.order_ids()) == before

    # And the store's order.created for it goes no further: nothing is posted to QuickBooks
    rig.sync(SHOP, "order.created", order["id"])
    assert rig.documents("Invoice", order["id"]) == []
    assert (
        "made by the connector from QuickBooks invoice" in rig.audit(SHOP, order["id"])[-1].outcome
    )


def test_a_discount_is_an_adjustment_and_a_void_cancels_the_order(
    rig: QboRig, worker: SyncWorker, ledger: HeldLedger
) -> None:
    # 62.49 of lines, 5.16 tax, 6.25 off: the total the invoice says, whatever made it
    invoice = _invoice(ledger, total=Decimal("61.40"), balance=Decimal("61.40"))
    assert _apply(worker, SHOP, invoice.ledger_id, "ledger_invoice").outcome == "posted"
    order = _order_of(rig, invoice)
    assert (order["total"], order["status"]) == ("61.40", "pending")
    assert ("Adjustment (QuickBooks)", "-6.25") in [
        (f["name"], f["total"]) for f in order["fee_lines"]
    ]
    # Paid in part, then voided in QuickBooks
    ledger.invoices[invoice.ledger_id] = invoice.model_copy(update={"balance": Decimal("20")})
    assert _apply(worker, SHOP, invoice.ledger_id, "ledger_invoice").outcome == "updated"
    assert _order_of(rig, invoice)["status"] == "on-hold"
    ledger.invoices[invoice.ledger_id] = invoice.model_copy(update={"voided": True})
    _apply(worker, SHOP, invoice.ledger_id, "ledger_invoice")
    assert _order_of(rig, invoice)["status"] == "cancelled"


def test_the_connector_s_own_invoice_is_not_made_into_an_order(
    rig: QboRig, worker: SyncWorker, ledger: HeldLedger
) -> None:
    # A store order the connector posted to QuickBooks
    placed = rig.woo.create_order(OrderSpec(lines=[LineSpec(10, 1)], customer_id=2))
    rig.sync(SHOP, "order.created", placed["id"])
    (posted,) = rig.documents("Invoice", placed["id"])
    orders = len(rig.woo.order_ids())
    # comes back from QuickBooks (a webhook for its creation, or a payment applied to it)
    invoice = _invoice(ledger, ledger_id=str(posted["Id"]), total=Decimal(str(posted["TotalAmt"])))
    result = _apply(worker, SHOP, invoice.ledger_id, "ledger_invoice")
    assert result.outcome == "skipped" and "the connector's own document" in result.detail
    assert len(rig.woo.order_ids()) == orders


def test_an_invoice_line_without_a_store_sku_parks_the_invoice(
    rig: QboRig, worker: SyncWorker, ledger: HeldLedger, parked: list[str]
) -> None:
    line = LedgerInvoiceLine(
        item_ledger_id="9", item_name="Consulting", sku=None, quantity=Decimal("1"),
        unit_price=Decimal("50"), amount=Decimal("50"),
    )  # fmt: skip
    invoice = _invoice(ledger, lines=(line,), tax_total=Decimal("0"), total=Decimal("50"))
    orders = len(rig.woo.order_ids())
    assert _apply(worker, SHOP, invoice.ledger_id, "ledger_invoice").outcome == "parked"
    assert "line 1 of QuickBooks invoice QB-1042 ('Consulting') has no SKU" in parked[-1]
    assert len(rig.woo.order_ids()) == orders


def test_an_item_without_a_sku_is_found_through_the_item_mapping(
    rig: QboRig, worker: SyncWorker, ledger: HeldLedger
) -> None:
    # The tenant's mapping sends the store's SKU-less "Sticker Pack" to this QuickBooks item
    item = ledger.add_item(sku=None, name="Stickers", unit_price=Decimal("3.50"))
    runtime = Runtime.from_environment()
    realm = runtime.qbo_tokens(runtime.connection(SHOP)).realm_id()
    runtime.state.for_company(realm).put_mapping(SHOP, "item", "Sticker Pack", item.ledger_id)

    result = _apply(worker, SHOP, item.ledger_id, "ledger_item")

    assert result.outcome == "updated", result.detail
    shown = _product(rig, 14)
    assert (shown["name"], shown["regular_price"]) == ("Stickers", "3.50")


def test_a_customer_made_in_quickbooks_is_made_in_the_store(
    rig: QboRig, worker: SyncWorker, ledger: HeldLedger
) -> None:
    ledger.customers["77"] = LedgerCustomer(
        ledger_id="77",
        version="0",
        display_name="Ada Byron",
        first_name="Ada",
        last_name="Byron",
        email="ada@example.org",
        company="Analytical Ltd",
        billing=Address(line1="12 St James's Sq", city="London", postcode="SW1Y 4JH", country="GB"),
        terms="Net 15",
    )
    result = _apply(worker, SHOP, "77", "ledger_customer")
    assert result.outcome == "posted", result.detail
    assert result.detail.endswith("(ada@example.org)")
    made = rig.woo.rest_representation("customer", int(result.detail.split()[3]))
    assert (made["first_name"], made["billing"]["company"], made["billing"]["city"]) == (
        "Ada",
        "Analytical Ltd",
        "London",
    )
    assert {m["key"]: m["value"] for m in made["meta_data"]}["_qbo_terms"] == "Net 15"
    # A second delivery finds her by the link and writes nothing
    assert _apply(worker, SHOP, "77", "ledger_customer").outcome == "skipped"


def test_two_quickbooks_items_with_one_sku_park_the_second_naming_the_first(
    rig: QboRig, worker: SyncWorker, ledger: HeldLedger, parked: list[str]
) -> None:
    first = ledger.add_item(sku="HOODIE", name="Hoodie", unit_price=Decimal("45.00"))
    assert _apply(worker, SHOP, first.ledger_id, "ledger_item").outcome == "skipped"
    second = ledger.add_item(sku="HOODIE", name="Hoodie (old)", unit_price=Decimal("39.00"))
    assert _apply(worker, SHOP, second.ledger_id, "ledger_item").outcome == "parked"
    assert f"already QuickBooks item {first.ledger_id}'s" in parked[-1]
    assert _product(rig, 20)["regular_price"] == "45.00"
    # The first item's own changes still arrive
    ledger.change_item(first, unit_price=Decimal("47.00"))
    assert _apply(worker, SHOP, first.ledger_id, "ledger_item").outcome == "updated"


def test_with_customers_from_quickbooks_only_a_store_edit_is_not_sent(
    rig: QboRig, worker: SyncWorker
) -> None:
    calls = len(rig.qbo.request_log)
    message = SyncMessage(
        connection_id=REMAKE,
        entity="customer",
        record_id="3",
        topic="customer.updated",
        received_at=now_utc(),
        version="edit-1",
    )
    result = worker.process(message)
    assert result.outcome == "skipped"
    assert "customers flow QuickBooks → store on this connection" in result.detail
    assert len(rig.qbo.request_log) == calls


def test_an_invoice_deleted_in_quickbooks_cancels_its_store_order_with_a_note(
    rig: QboRig, worker: SyncWorker, ledger: HeldLedger
) -> None:
    invoice = _invoice(ledger, doc_number="QB-77", balance=Decimal("67.65"))
    assert _apply(worker, SHOP, invoice.ledger_id, "ledger_invoice").outcome == "posted"
    del ledger.invoices[invoice.ledger_id]
    result = _apply(worker, SHOP, invoice.ledger_id, "ledger_invoice")
    assert result.outcome == "updated" and "cancelled" in result.detail
    order = _order_of(rig, invoice)
    assert order["status"] == "cancelled"
    notes = [n["note"] for n in rig.woo.catalog.orders.notes(order["id"])]
    assert notes[0] == "Cancelled: the invoice was deleted in QuickBooks."


def test_an_order_whose_answer_was_lost_is_found_again_not_made_twice(
    rig: QboRig, worker: SyncWorker, ledger: HeldLedger
) -> None:
    # Given an earlier attempt that sent the order (the store made it) and lost the answer
    invoice = _invoice(ledger, doc_number="QB-LOST")
    runtime = Runtime.from_environment()
    written = WrittenStore(runtime.dynamodb.Table(runtime.settings.state_table))
    key = f"{SHOP}#ledger_invoice#{invoice.ledger_id}"
    written.put(key, Written(store_id="", fields={CREATING: now_utc().isoformat()}))
    sent = runtime.store_writes(runtime.connection(SHOP)).create_order(
        OrderFields(
            lines=(OrderLine(product_id="10", name="Mug", quantity=1, total=Decimal("12.50")),),
            meta=((INVOICE_META, invoice.ledger_id),),
        )
    )
    orders = len(rig.woo.order_ids())

    # When the invoice is tried again
    result = _apply(worker, SHOP, invoice.ledger_id, "ledger_invoice")

    # Then that order is the invoice's, brought to the invoice's figures: no second order
    assert result.outcome == "updated", result.detail
    assert len(rig.woo.order_ids()) == orders
    order = rig.woo.get_order(int(sent.store_id))
    assert order["total"] == "67.65" and order["status"] == "processing"
    state = rig.state_of(f"{SHOP}#order#{sent.store_id}")
    assert state is not None and state.ledger_type == "from_ledger"

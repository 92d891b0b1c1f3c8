"""QuickBooks → store where timing or the company's own items could mislead it (issue #13
follow-up), against the simulated QuickBooks Online and WooCommerce on the local runtime.

- Two QuickBooks edits of one item in the same second share a LastUpdatedTime, the version of
  both their webhooks: the second webhook is dropped as a repeat, and the next reconcile's
  change feed brings the second edit (by the SyncToken the worker last settled).
- The store's ``order.created`` for an order the connector made from a QuickBooks invoice,
  worked before the connector recorded the create, posts nothing back to QuickBooks: the
  order's marker came with the create.
- Which QuickBooks items become store products: never the items the connector posts order
  lines on, those the tenant excludes, or those it auto-created for store SKUs; services only
  with a SKU unless the tenant says so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from connector.both_ways.written import Written, WrittenStore
from connector.config import Connection
from connector.messages import SyncMessage
from connector.model import ORIGIN_META
from connector.resources import secret_name
from connector.runtime import Runtime
from connector.state import SyncState, now_utc
from connector.stores.writes import OrderFields, OrderLine, StoreOrderRecord, StoreOrderWrites
from connector.sync import SyncResult
from simulators.testbed.both_ways import both_ways_worker, ledger_message
from simulators.testbed.online import QboRig, QboRigs, connection_settings

SHOP, AUTO = "shop", "auto"
VERIFIER = "intuit-verifier-robust"
SYNC = {
    "products": "qbo_to_store",
    "prices": "qbo_to_store",
    "inventory": "qbo_to_store",
    "qbo_invoices_to_orders": True,
    "exclude_items": ["Gift Wrapping"],
}
POLL = {"poll": "now", "connection_id": SHOP}


class HeldClock:
    """The wall clock, but reading ``moment`` while a test holds it there: QuickBooks stamps
    LastUpdatedTime to the second, and a bookkeeper (or an app) can save a record twice
    within one. Held only around the saves: the company's throttle counts by this clock."""

    def __init__(self) -> None:
        self.held: float | None = None

    def __call__(self) -> float:
        return self.held if self.held is not None else time.time()

    @contextmanager
    def at(self, moment: float) -> Iterator[None]:
        self.held = moment
        try:
            yield
        finally:
            self.held = None


CLOCK = HeldClock()


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    mapping = {"fallback_item": "Sales", "shipping_item": "Shipping"}
    shop = connection_settings(SHOP, woo_url=woo_url, qbo_url=qbo_url, mapping=mapping)
    auto = connection_settings(
        AUTO,
        woo_url=woo_url,
        qbo_url=qbo_url,
        mapping={**mapping, "auto_create_items": True, "income_account": "Sales of Product"},
    )
    return [{**shop, "sync": SYNC}, {**auto, "sync": {"products": "qbo_to_store"}}]


@pytest.fixture(scope="module")
def rig(qbo_rig: QboRigs) -> Iterator[QboRig]:
    with qbo_rig(_connections, clock=CLOCK) as running:
        client = running.runtime.boto3_client("secretsmanager")
        name = secret_name(running.runtime.secret_prefix, SHOP, "webhook")
        value = json.loads(client.get_secret_value(SecretId=name)["SecretString"])
        client.put_secret_value(
            SecretId=name, SecretString=json.dumps({**value, "webhook_verifier": VERIFIER})
        )
        yield running


def _price(rig: QboRig, product_id: int) -> str:
    return str(rig.woo.catalog.render_product(product_id)["regular_price"])


def test_two_quickbooks_edits_in_one_second_both_reach_the_store(rig: QboRig) -> None:
    # Given QuickBooks' mug (the store's product 10), and the change feed started
    mug = rig.qbo.seed(
        "Item",
        {"Name": "Ceramic Mug", "Sku": "MUG-01", "Type": "NonInventory", "UnitPrice": "12.50",
         "IncomeAccountRef": {"value": "1"}},
    )  # fmt: skip
    rig.runtime.fire_schedule("reconcile", detail=POLL)
    rig.drain()
    sender = rig.qbo.send_webhooks(f"{rig.runtime.base_url}/webhooks/qbo/{SHOP}", VERIFIER)
    try:
        # When the price is changed twice within one second, the worker reading the item
        # between the two saves
        second = float(int(time.time()))
        with CLOCK.at(second):
            rig.qbo.edit("Item", mug["Id"], UnitPrice="13.00")
        assert sender.flush()
        rig.drain()
        assert _price(rig, 10) == "13.00"
        with CLOCK.at(second + 0.5):
            rig.qbo.edit("Item", mug["Id"], UnitPrice="14.00")
        assert sender.flush()
        rig.drain()
    finally:
        rig.qbo.stop_webhooks(sender)
    times = {c.at for c in rig.qbo.changes() if c.entity_id == mug["Id"] and c.entity == "Item"}
    assert len({int(t) for t in times}) == 2, "seeded, then both edits in one second"
    # (the second webhook has the first's version: SQS takes it for a repeat)
    assert _price(rig, 10) == "13.00"

    # Then the next reconcile's change feed brings the second edit, written once
    writes = rig.woo.catalog.writes
    rig.runtime.fire_schedule("reconcile", detail=POLL)
    rig.drain()
    assert _price(rig, 10) == "14.00"
    assert rig.woo.catalog.writes == writes + 1
    polled = rig.audit_of(f"{SHOP}#ledger_poll")[-1]
    assert polled.detail["queued"] >= 1

    # And a reconcile after it queues nothing for the mug: the worker settled that SyncToken
    rig.runtime.fire_schedule("reconcile", detail=POLL)
    rig.drain()
    assert rig.audit_of(f"{SHOP}#ledger_poll")[-1].detail["queued"] == 0
    assert rig.woo.catalog.writes == writes + 1


# -- the store's webhook for an order made from an invoice, worked first ----------------------


class WebhookFirst:
    """The store's writes, where the store's ``order.created`` for an order the connector
    makes is worked by the deployed sync function before the create's answer comes back."""

    def __init__(self, inner: StoreOrderWrites, rig: QboRig) -> None:
        self._inner = inner
        self._rig = rig
        self.made: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def create_order(self, fields: OrderFields) -> StoreOrderRecord:
        made = self._inner.create_order(fields)
        self.made.append(made.store_id)
        self._rig.deliver(SHOP, "order.created", int(made.store_id))
        self._rig.drain()
        return made


def _message(connection: str, entity: str, record_id: str) -> SyncMessage:
    topic = f"qbo.{entity}.update"
    return ledger_message(connection, entity, record_id, f"test-{time.time_ns()}", topic)


def test_the_store_webhook_of_an_order_made_from_an_invoice_worked_first_posts_nothing(
    rig: QboRig,
) -> None:
    # Given a paid invoice a bookkeeper made in QuickBooks for the store's print
    art = rig.qbo.seed(
        "Item",
        {"Name": "Art Print A2", "Sku": "PRINT-A2", "Type": "NonInventory",
         "UnitPrice": "24.99", "IncomeAccountRef": {"value": "1"}},
    )  # fmt: skip
    buyer = rig.qbo.seed(
        "Customer",
        {"DisplayName": "Ann Lee", "PrimaryEmailAddr": {"Address": "ann.lee@example.net"}},
    )
    invoice = rig.qbo.seed(
        "Invoice",
        {
            "CustomerRef": {"value": buyer["Id"]},
            "DocNumber": "QB-7001",
            "TxnDate": datetime.now(UTC).date().isoformat(),
            "BillEmail": {"Address": "ann.lee@example.net"},
            "Line": [
                {
                    "Amount": "49.98",
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": art["Id"]},
                        "Qty": 2,
                        "UnitPrice": "24.99",
                    },
                }
            ],
        },
    )
    rig.qbo.seed(
        "Payment",
        {
            "CustomerRef": {"value": buyer["Id"]},
            "TotalAmt": "49.98",
            "Line": [{"Amount": "49.98", "LinkedTxn": [{"TxnId": invoice["Id"],
                                                       "TxnType": "Invoice"}]}],
        },
    )  # fmt: skip
    assert Decimal(str(rig.qbo.company.read("Invoice", invoice["Id"])["Balance"])) == 0
    invoices = len(rig.qbo.documents("Invoice"))
    parked: list[str] = []
    racing: list[WebhookFirst] = []

    def writes_for(connection: Connection) -> WebhookFirst:
        racing.append(WebhookFirst(Runtime.from_environment().store_writes(connection), rig))
        return racing[-1]

    # When the invoice becomes a store order and the store's order.created is worked before
    # the connector records what it made
    result: SyncResult = both_ways_worker(parked, writes_for=writes_for).process(
        _message(SHOP, "ledger_invoice", invoice["Id"])
    )

    # Then the order is made once, QuickBooks gets no second invoice, and nothing is parked
    assert result.outcome == "posted", result.detail
    (order_id,) = [made for w in racing for made in w.made]
    assert parked == []
    assert len(rig.qbo.documents("Invoice")) == invoices
    assert rig.woo.get_order(int(order_id))["status"] == "processing"
    state = rig.sync_state(SHOP, int(order_id))
    assert (state.ledger_type, state.ledger_id) == ("from_ledger", invoice["Id"])
    outcomes = [(e.event, e.outcome) for e in rig.audit(SHOP, order_id)]
    assert (
        "skipped",
        f"made by the connector from QuickBooks invoice {invoice['Id']}; not posted",
    ) in outcomes


# -- which QuickBooks items become store products ----------------------------------------------


def _items_apply(rig: QboRig, connection: str, item_id: str) -> SyncResult:
    runtime = Runtime.from_environment()
    return both_ways_worker([], writes_for=runtime.store_writes).process(
        _message(connection, "ledger_item", item_id)
    )


def _products_named(rig: QboRig, name: str) -> list[Any]:
    return [p for p in rig.woo.products.values() if p.name == name and not p.deleted]


def test_the_connectors_own_line_items_never_become_store_products(rig: QboRig) -> None:
    # The seeded company's "Shipping" (the connection's shipping_item) and "Sales" (its
    # fallback_item), changed in QuickBooks
    for name in ("Shipping", "Sales"):
        (found,) = [d for d in rig.qbo.documents("Item") if d["Name"] == name]
        rig.qbo.edit("Item", found["Id"], Description=f"{name}, edited")
        result = _items_apply(rig, SHOP, found["Id"])
        assert result.outcome == "skipped"
        assert "is the connector's mapping." in result.detail, result.detail
        assert _products_named(rig, name) == []


def test_excluded_items_and_services_without_a_sku_are_not_made_products(rig: QboRig) -> None:
    wrap = rig.qbo.seed(
        "Item",
        {"Name": "Gift Wrapping", "Sku": "WRAP-1", "Type": "NonInventory", "UnitPrice": "3.00",
         "IncomeAccountRef": {"value": "1"}},
    )  # fmt: skip
    setup = rig.qbo.seed(
        "Item",
        {"Name": "Setup Fee", "Type": "Service", "UnitPrice": "50.00",
         "IncomeAccountRef": {"value": "1"}},
    )  # fmt: skip
    engraving = rig.qbo.seed(
        "Item",
        {"Name": "Engraving", "Sku": "ENGRAVE-1", "Type": "Service", "UnitPrice": "8.00",
         "IncomeAccountRef": {"value": "1"}},
    )  # fmt: skip

    wrapped = _items_apply(rig, SHOP, wrap["Id"])
    assert wrapped.outcome == "skipped" and "exclude_items" in wrapped.detail
    assert _products_named(rig, "Gift Wrapping") == []

    set_up = _items_apply(rig, SHOP, setup["Id"])
    assert set_up.outcome == "skipped" and "services_to_products" in set_up.detail
    assert _products_named(rig, "Setup Fee") == []

    # A service with a SKU is something the store sells
    engraved = _items_apply(rig, SHOP, engraving["Id"])
    assert engraved.outcome == "posted", engraved.detail
    (product,) = _products_named(rig, "Engraving")
    assert product.sku == "ENGRAVE-1"


def test_an_item_the_connector_auto_created_for_a_store_sku_is_left_alone(rig: QboRig) -> None:
    # auto_create_items made a NonInventory item named after the store's SKU, without price
    made = rig.qbo.seed(
        "Item", {"Name": "POSTER-LTD", "Type": "NonInventory", "IncomeAccountRef": {"value": "1"}}
    )
    before = rig.woo.catalog.render_product(30)

    result = _items_apply(rig, AUTO, made["Id"])

    assert result.outcome == "skipped" and "auto_create_items" in result.detail, result.detail
    after = rig.woo.catalog.render_product(30)
    assert (after["name"], after["regular_price"]) == (before["name"], before["regular_price"])
    assert _products_named(rig, "POSTER-LTD") == []


def test_an_order_from_an_invoice_already_posted_back_is_claimed_and_parked_once(
    rig: QboRig,
) -> None:
    # Given a store order the connector made from QuickBooks invoice 9001, which a worker
    # older than the order's marker posted back to QuickBooks as an invoice of its own
    runtime = Runtime.from_environment()
    connection = runtime.connection(SHOP)
    made = runtime.store_writes(connection).create_order(
        OrderFields(
            status="processing",
            paid=True,
            currency="USD",
            customer_id="0",
            email="old.race@example.net",
            lines=(
                OrderLine(product_id="11", name="Art Print", quantity=1, total=Decimal("24.99")),
            ),
            meta=((ORIGIN_META, "9001"),),
        )
    )
    WrittenStore(runtime.dynamodb.Table(runtime.settings.state_table)).put(
        f"{SHOP}#ledger_invoice#9001", Written(store_id=made.store_id)
    )
    key = f"{SHOP}#order#{made.store_id}"
    runtime.state.put_sync_state(
        SyncState(record_key=key, status="posted", ledger_id="4242", ledger_type="Invoice",
                  doc_number="1042", updated_at=now_utc().isoformat())
    )  # fmt: skip
    parked: list[str] = []
    worker = both_ways_worker(parked, writes_for=runtime.store_writes)
    order_message = _message(SHOP, "order", made.store_id).model_copy(
        update={"topic": "order.updated", "source": "webhook"}
    )
    invoices = len(rig.qbo.documents("Invoice"))

    # When its next store webhook is worked
    first = worker.process(order_message)

    # Then it is parked once, naming the document to delete, and claimed for the invoice
    assert first.outcome == "parked"
    assert "delete Invoice 1042 in QuickBooks" in parked[-1], parked
    state = rig.state_of(key)
    assert state is not None and (state.ledger_type, state.ledger_id) == ("from_ledger", "9001")
    # and a later webhook of it is skipped, nothing posted
    again = worker.process(order_message.model_copy(update={"version": "later"}))
    assert again.outcome == "skipped" and len(parked) == 1
    assert len(rig.qbo.documents("Invoice")) == invoices

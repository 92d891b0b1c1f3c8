"""The poll through the real runtime: orders no webhook announced reach QuickBooks.

One tenant joins a simulated WooCommerce, BigCommerce and Magento store (and a Magento
connection whose keys Magento refuses) to one simulated QuickBooks Online company. No
store sends a webhook: ``fire_schedule("reconcile", detail={"poll": "now", ...})`` runs
the poller the schedule runs, and the worker posts what it queued. Each test checks what
the merchant sees in QuickBooks and what the on-call engineer reads in the audit trail
(the record's events and the run summary under ``<connection>#reconcile``).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from connector.state import AuditEvent, AuditTrail, StateStore, SyncState
from simulators.bigcommerce import BigCommerceSimulator, Line
from simulators.httpserver import LoopbackServer, Request, Response
from simulators.magento import LineSpec as MageLine
from simulators.magento import MagentoSimulator
from simulators.magento import OrderSpec as MageOrder
from simulators.qbo import QboSimulator
from simulators.testbed.online import LocalRig, connected_runtime, qbo_connection
from simulators.woocommerce import LineSpec as WooLine
from simulators.woocommerce import OrderSpec as WooOrder
from simulators.woocommerce import WooSimulator

TENANT = "poll"
WOO, BC, MAGE, REFUSED = "woo", "bc", "mage", "mage-refused"
QBO_APP = {"client_id": "poll-app", "client_secret": "poll-app-secret"}
WOO_KEYS = {"consumer_key": "ck_poll", "consumer_secret": "cs_poll"}
MAGE_KEYS = {
    "consumer_key": "mg-poll-consumer",
    "consumer_secret": "mg-poll-consumer-secret",
    "access_token": "mg-poll-token",
    "access_token_secret": "mg-poll-token-secret",
}
# An item the QuickBooks company does not have: an order selling PRINT-A2 parks naming it.
MISSING_ITEM = "Framed Prints"
D = Decimal


class StoreClock:
    """The stores' clock: every reading is a second after the one before, so each edit is a
    new version (stores stamp modification times to the second, as a real admin's edits are)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ticks = itertools.count(1)

    def __call__(self) -> float:
        with self._lock:
            return time.time() + next(self._ticks)


class Outage:
    """A store behind a proxy that can fail: while ``down``, every request answers 503."""

    def __init__(self, app: Callable[[Request], Response]) -> None:
        self.app = app
        self.down = False

    def __call__(self, request: Request) -> Response:
        if self.down:
            return Response(503, b"<html>503 Service Unavailable</html>", {"Content-Type": "text/html"})  # fmt: skip
        return self.app(request)


@dataclass
class Placed:
    """An order placed in a store: where QuickBooks shows it and for how much."""

    connection_id: str
    order_id: int
    doc_number: str
    total: Decimal


@dataclass
class Setup:
    rig: LocalRig
    woo: WooSimulator
    bc: BigCommerceSimulator
    mage: MagentoSimulator
    outages: dict[str, Outage]
    qbo: QboSimulator

    def poll(self, connection_id: str | None = None) -> dict[str, Any]:
        """Poll now (one connection, or all), let the worker finish, and return the report
        of each connection polled."""
        detail: dict[str, Any] = {"poll": "now"}
        if connection_id is not None:
            detail["connection_id"] = connection_id
        report = self.rig.runtime.fire_schedule("reconcile", detail=detail)
        self.rig.drain()
        return {c["connection_id"]: c for c in report["connections"]}

    def polled(self, connection_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.poll(connection_id)[connection_id]
        return result

    def place(self, connection_id: str) -> Placed:
        if connection_id == WOO:
            order = self.woo.create_order(WooOrder([WooLine(10, 2)], status="processing"))
            return Placed(WOO, order["id"], f"W-{order['number']}", D(order["total"]))
        if connection_id == BC:
            oid = self.bc.place_order([Line("Mug", "MUG-1", 2, D("12.5000"))])
            total = D(str(self.bc.orders[oid]["total_inc_tax"])).quantize(D("0.01"))
            return Placed(BC, oid, f"B-{oid}", total)
        oid = self.mage.create_order(MageOrder([MageLine("24-WG084")]))
        self.mage.invoice(oid)  # paid: processing, which posts
        order = self.mage.order(oid)
        return Placed(MAGE, oid, f"M-{order['increment_id']}", D(str(order["grand_total"])))

    def cancel(self, placed: Placed) -> None:
        if placed.connection_id == WOO:
            self.woo.update_order(placed.order_id, status="cancelled")
        elif placed.connection_id == BC:
            self.bc.set_status(placed.order_id, 5)
        else:
            self.mage.cancel(placed.order_id)

    def invoices(self, placed: Placed) -> list[dict[str, Any]]:
        return [d for d in self.qbo.documents("Invoice") if d.get("DocNumber") == placed.doc_number]

    def key(self, connection_id: str, entity: str, record_id: int | str) -> str:
        return f"{connection_id}#{entity}#{record_id}"

    def events(self, record_key: str) -> list[AuditEvent]:
        trail = AuditTrail(
            self.rig.runtime.env["CONNECTOR_AUDIT_TABLE"],
            resource=self.rig.runtime.boto3_resource("dynamodb"),
        )
        return trail.events(record_key)

    def found_by_polling(self, record_key: str) -> list[AuditEvent]:
        return [
            e
            for e in self.events(record_key)
            if e.event == "received" and e.outcome.startswith("found by polling")
        ]

    def summaries(self, connection_id: str) -> list[AuditEvent]:
        return self.events(f"{connection_id}#reconcile")

    def state(self, record_key: str) -> SyncState | None:
        return self.rig.state(record_key)

    def states(self) -> StateStore:
        return StateStore(
            self.rig.runtime.env["CONNECTOR_STATE_TABLE"],
            resource=self.rig.runtime.boto3_resource("dynamodb"),
        )


def _connections(woo_url: str, bc: BigCommerceSimulator, bc_url: str, mage_url: str,
                 qbo_url: str) -> list[dict[str, Any]]:  # fmt: skip
    def mapping(prefix: str, **more: Any) -> dict[str, Any]:
        return {
            "fallback_item": "Sales",
            "shipping_item": "Shipping",
            "doc_prefix": prefix,
            "doc_number": "{prefix}{number}",
            **more,
        }

    # An hour between scheduled polls: only the tests' own requests poll while they run.
    hourly = {"reconcile_every_minutes": 60}
    magento = {
        "post_statuses": ["processing", "complete"],
        "cancel_statuses": ["canceled"],
        "refund_statuses": ["closed"],
        "mapping": mapping("M-"),
        **hourly,
    }
    return [
        qbo_connection(
            WOO,
            {"kind": "woocommerce", "url": woo_url},
            qbo_url,
            mapping=mapping("W-", items={"PRINT-A2": MISSING_ITEM}),
            **hourly,
        ),
        qbo_connection(
            BC,
            {"kind": "bigcommerce", "store_hash": bc.store_hash, "api_base": bc_url},
            qbo_url,
            post_statuses=[11, 2, 10],
            cancel_statuses=[5],
            refund_statuses=[4, 14],
            mapping=mapping("B-"),
            **hourly,
        ),
        qbo_connection(MAGE, {"kind": "magento", "url": mage_url}, qbo_url, **magento),
        qbo_connection(REFUSED, {"kind": "magento", "url": mage_url}, qbo_url, **magento),
    ]


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    clock = StoreClock()
    woo = WooSimulator(**WOO_KEYS, clock=clock, seed=5)
    bc = BigCommerceSimulator(quota=10_000, clock=clock)
    mage = MagentoSimulator(**MAGE_KEYS, clock=clock)
    qbo = QboSimulator(multicurrency=True, home_currency="USD", **QBO_APP)
    outages = {WOO: Outage(woo.handle), BC: Outage(bc.handle), MAGE: Outage(mage.handle)}
    with (
        LoopbackServer(outages[WOO]) as woo_server,
        LoopbackServer(outages[BC]) as bc_server,
        LoopbackServer(outages[MAGE]) as mage_server,
        LoopbackServer(qbo.handle) as qbo_server,
    ):
        connections = _connections(
            woo_server.base_url, bc, bc_server.base_url, mage_server.base_url, qbo_server.base_url
        )
        mage_secret = {**MAGE_KEYS, "webhook_secret": "MagentoPollSecret1"}
        secrets = {
            WOO: {"store": {**WOO_KEYS, "webhook_secret": "WooPollSecret1"}, "ledger": QBO_APP},
            BC: {
                "store": {
                    "access_token": bc.access_token,
                    "client_secret": bc.client_secret,
                    "webhook_secret": "BcPollSecret1",
                },
                "ledger": QBO_APP,
            },
            MAGE: {"store": mage_secret, "ledger": QBO_APP},
            REFUSED: {"store": {**mage_secret, "consumer_secret": "revoked"}, "ledger": QBO_APP},
        }
        with connected_runtime(TENANT, connections, secrets, qbo) as rig:
            setup = Setup(rig, woo, bc, mage, outages, qbo)
            # The first run of each connection: what changed in the last period (the
            # simulated WooCommerce's registered customers) is brought into QuickBooks.
            setup.poll()
            yield setup


STORES = [WOO, BC, MAGE]


@pytest.mark.parametrize("connection_id", STORES)
def test_an_order_no_webhook_announced_is_polled_into_one_invoice(
    setup: Setup, connection_id: str
) -> None:
    # Given an order placed in the store, and no webhook at all
    placed = setup.place(connection_id)
    # When the poll runs and the worker drains the queue
    report = setup.polled(connection_id)
    # Then QuickBooks holds exactly one invoice for the store's total
    [invoice] = setup.invoices(placed)
    assert D(str(invoice["TotalAmt"])) == placed.total
    assert report["outcome"] == "polled" and report["queued"] == 1
    # And the audit trail says polling found it, then how it was posted
    key = setup.key(connection_id, "order", placed.order_id)
    events = [e.event for e in setup.events(key)]
    assert events[0] == "received" and "fetched" in events and "posted" in events
    [found] = setup.found_by_polling(key)
    assert found.detail["source"] == "reconcile"
    # And the run's summary is in the audit trail under the connection's key
    summary = setup.summaries(connection_id)[-1]
    assert summary.event == "polled" and "queued 1" in summary.outcome
    assert summary.detail["watermarks"]["order"] == report["watermarks"]["order"]
    # When the poll runs again with nothing new
    again = setup.polled(connection_id)
    # Then nothing is queued: what it lists again (the overlap) is already current
    assert again["queued"] == 0 and again["current"] >= 1
    assert again["watermarks"] == report["watermarks"]
    assert len(setup.invoices(placed)) == 1
    assert len(setup.found_by_polling(key)) == 1


@pytest.mark.parametrize("connection_id", STORES)
def test_an_order_edited_after_the_poll_is_queued_again(setup: Setup, connection_id: str) -> None:
    # Given an order the poll brought into QuickBooks
    placed = setup.place(connection_id)
    first = setup.polled(connection_id)
    [posted] = setup.invoices(placed)
    # When the merchant cancels it in the store
    setup.cancel(placed)
    report = setup.polled(connection_id)
    # Then the poll queues it again and its invoice is voided
    assert report["queued"] == 1
    assert report["watermarks"]["order"] > first["watermarks"]["order"]
    [voided] = setup.invoices(placed)
    assert voided["Id"] == posted["Id"] and D(str(voided["TotalAmt"])) == 0
    key = setup.key(connection_id, "order", placed.order_id)
    assert len(setup.found_by_polling(key)) == 2
    state = setup.state(key)
    assert state is not None and state.status == "voided"


@pytest.mark.parametrize("connection_id", STORES)
def test_a_store_outage_leaves_the_watermark_and_the_next_run_finds_the_order(
    setup: Setup, connection_id: str
) -> None:
    before = setup.polled(connection_id)
    # Given an order placed while the store's API answers 503
    placed = setup.place(connection_id)
    setup.outages[connection_id].down = True
    try:
        failed = setup.polled(connection_id)
    finally:
        setup.outages[connection_id].down = False
    # Then the run failed for this connection, said why, and kept the watermark
    assert failed["outcome"] == "failed" and "503" in failed["error"]
    assert failed["watermarks"] == before["watermarks"]
    last = setup.summaries(connection_id)[-1]
    assert last.event == "poll_failed" and "the watermark stays" in last.outcome
    assert setup.invoices(placed) == []
    # When the store is back, the next run finds the order
    report = setup.polled(connection_id)
    assert report["outcome"] == "polled" and report["queued"] == 1
    [invoice] = setup.invoices(placed)
    assert D(str(invoice["TotalAmt"])) == placed.total


def test_magento_pages_that_shift_while_polling_neither_skip_nor_double(setup: Setup) -> None:
    # Given more new orders than one page of Magento's search holds (pending: they do not
    # post, the worker records them), each changed in a second of its own
    ids = [setup.mage.create_order(MageOrder([MageLine("24-WG084")])) for _ in range(105)]
    # And an admin who edits the first one (it moves to the end of the updated_at order)
    # while the poll asks for its second page
    searches: list[str] = []

    def edit_first(request: Request) -> None:
        if request.path.endswith("/V1/orders"):
            searches.append(request.path)
            if len(searches) == 2:
                setup.mage.touch(ids[0])

    setup.mage.before_answer = edit_first
    try:
        report = setup.polled(MAGE)
    finally:
        setup.mage.before_answer = None
    assert len(searches) >= 2
    # Then every order was queued exactly once: none skipped, none doubled
    assert report["queued"] == len(ids)
    for oid in ids:
        key = setup.key(MAGE, "order", oid)
        assert len(setup.found_by_polling(key)) == 1, oid
        state = setup.state(key)
        assert state is not None and state.status == "skipped", oid
    # And the edited order's state has seen its latest version, so the next run (which
    # lists it again at that version) queues nothing
    edited = setup.state(setup.key(MAGE, "order", ids[0]))
    assert edited is not None
    assert edited.store_modified_at is not None
    assert edited.store_modified_at.startswith(
        setup.mage.order(ids[0])["updated_at"].replace(" ", "T")
    )
    assert setup.polled(MAGE)["queued"] == 0


def test_a_parked_order_is_not_queued_again_until_it_changes(setup: Setup) -> None:
    # Given an order selling an item QuickBooks does not have: it parks
    order = setup.woo.create_order(WooOrder([WooLine(11, 1)], status="processing"))
    key = setup.key(WOO, "order", order["id"])
    setup.polled(WOO)
    state = setup.state(key)
    assert state is not None and state.status == "parked"
    assert MISSING_ITEM in (state.last_error or "")
    # When the poll runs again, the order (listed again in the overlap) is not queued again
    report = setup.polled(WOO)
    assert report["queued"] == 0 and report["parked"] == 1
    assert report["parked_ids"] == {"order": [str(order["id"])]}
    # And the summary says that replay is its way back
    summary = setup.summaries(WOO)[-1]
    assert "parked at this version" in summary.outcome and "connector replay" in summary.outcome
    assert [e.event for e in setup.events(key)].count("parked") == 1
    # When the merchant edits the order (a line QuickBooks knows), it is queued and posts
    setup.woo.update_order(order["id"], lines=[WooLine(10, 1)])
    assert setup.polled(WOO)["queued"] == 1
    state = setup.state(key)
    assert state is not None and state.status == "posted"


def test_a_customer_registered_without_a_webhook_is_polled_into_quickbooks(setup: Setup) -> None:
    customer = setup.woo.create_customer(first_name="Polly", last_name="Poll", email="polly@example.com")  # fmt: skip
    report = setup.polled(WOO)
    assert report["queued"] == 1
    names = [c["DisplayName"] for c in setup.qbo.documents("Customer")]
    assert "Polly Poll" in names
    assert len(setup.found_by_polling(setup.key(WOO, "customer", customer["id"]))) == 1
    assert setup.polled(WOO)["queued"] == 0


def test_a_store_that_refuses_our_keys_is_recorded_and_the_others_are_still_polled(
    setup: Setup,
) -> None:
    report = setup.poll()
    # The connection whose keys Magento refuses failed, with Magento's own words...
    refused = report[REFUSED]
    assert refused["outcome"] == "failed"
    assert "The signature is invalid" in refused["error"]
    last = setup.summaries(REFUSED)[-1]
    assert last.event == "poll_failed" and "refused our credentials" in last.outcome
    # ...and every other connection was polled
    assert {report[c]["outcome"] for c in STORES} == {"polled"}


def test_the_schedule_polls_a_connection_only_when_its_period_is_up(setup: Setup) -> None:
    setup.poll()
    # The schedule's own event (no request in its detail): every connection polled a
    # moment ago, with an hour between polls, is not due
    report = setup.rig.runtime.fire_schedule("reconcile")
    assert {c["outcome"] for c in report["connections"]} == {"not_due"}
    # An operator naming a connection the tenant does not have gets a clear error
    with pytest.raises(ValueError, match="no connection 'nope' to poll"):
        setup.rig.runtime.fire_schedule("reconcile", detail={"poll": "now", "connection_id": "nope"})  # fmt: skip
    with pytest.raises(ValueError, match="not a poll request"):
        setup.rig.runtime.fire_schedule("reconcile", detail={"poll": "yesterday"})

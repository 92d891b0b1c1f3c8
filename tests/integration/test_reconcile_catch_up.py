"""The reconcile run catches up: deliveries the queue refused, a disabled webhook, a backlog
longer than one run, a silent Web Connector.

A simulated WooCommerce store and QuickBooks Online behind the local runtime, its functions
reaching SQS through a fault proxy (simulators.sqs_faults) that refuses SendMessage as AWS
does. The schedule is fired by hand (``fire_schedule("reconcile", …)``); each test checks
what the store was answered, what QuickBooks holds, what the audit trail and the
connection's health item say, and the metrics the run printed (Powertools EMF lines).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connector import webhook_setup
from connector.config import Connection, TenantConfig
from connector.health import HealthMarks
from connector.reconcile import PollRequest, Reconciler, is_due
from connector.state import PollMark
from connector.stores.registry import StoreLookups, open_store
from connector.sync_queue import SyncQueue
from connector.unqueued import UnqueuedDeliveries
from simulators.qbo import QboSimulator
from simulators.sqs_faults import ENV_SQS_ENDPOINT, SqsFaultProxy
from simulators.testbed.clocks import TickingClock
from simulators.testbed.deployment import deployment
from simulators.testbed.online import (
    QBO_APP,
    STORE_KEYS,
    WEBHOOK_SECRET,
    QboRig,
    connection_settings,
)
from simulators.woocommerce import LineSpec, OrderSpec, WooSimulator

TENANT = "catchup"
SHOP = "shop"
D = Decimal


class StoreClock(TickingClock):
    """The store's clock: a second per reading, and moved on by hand when time passes."""

    def __init__(self) -> None:
        super().__init__()
        self.later = 0.0

    def __call__(self) -> float:
        return super().__call__() + self.later


@pytest.fixture(scope="module")
def store_clock() -> StoreClock:
    return StoreClock()


@pytest.fixture(scope="module")
def proxy() -> Iterator[SqsFaultProxy]:
    running = SqsFaultProxy().start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def rig(proxy: SqsFaultProxy, store_clock: StoreClock) -> Iterator[QboRig]:
    woo = WooSimulator(
        consumer_key=STORE_KEYS["consumer_key"],
        consumer_secret=STORE_KEYS["consumer_secret"],
        clock=store_clock,
        seed=4,
    )
    qbo = QboSimulator(client_id=QBO_APP["client_id"], client_secret=QBO_APP["client_secret"])

    def connections(at: Any) -> list[dict[str, Any]]:
        shop = connection_settings(
            SHOP, woo_url=at.store, qbo_url=at.qbo, mapping={"fallback_item": "Sales"}
        )
        # An hour between polls: only the tests' own requests poll.
        return [{**shop, "reconcile_every_minutes": 60}]

    secrets = {SHOP: {"store": {**STORE_KEYS, "webhook_secret": WEBHOOK_SECRET}, "ledger": QBO_APP}}
    with deployment(
        TENANT,
        connections,
        secrets,
        store=woo,
        qbo=qbo,
        rig=QboRig,
        extra_env={ENV_SQS_ENDPOINT: proxy.base_url},
    ) as running:
        proxy.target = running.runtime.aws_endpoint_url
        running.runtime.fire_schedule("reconcile", detail={"poll": "now"})  # the first run
        running.drain()
        yield running  # type: ignore[misc]


def _poll(rig: QboRig) -> dict[str, Any]:
    report = rig.runtime.fire_schedule("reconcile", detail={"poll": "now", "connection_id": SHOP})
    rig.drain()
    [polled] = report["connections"]
    assert isinstance(polled, dict)
    return polled


def _place(rig: QboRig) -> dict[str, Any]:
    return rig.woo.create_order(OrderSpec([LineSpec(10, 2)], status="processing"))


def _metrics(printed: str) -> dict[str, list[float]]:
    """The metrics Powertools printed (EMF lines), by name."""
    found: dict[str, list[float]] = {}
    for line in printed.splitlines():
        if '"CloudWatchMetrics"' not in line:
            continue
        emf = json.loads(line)
        for metric in emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            value = emf[metric["Name"]]
            found.setdefault(metric["Name"], []).extend(
                value if isinstance(value, list) else [value]
            )
    return found


def _health(rig: QboRig) -> HealthMarks:
    return HealthMarks(
        rig.runtime.env["CONNECTOR_STATE_TABLE"], resource=rig.runtime.boto3_resource("dynamodb")
    )


def _unqueued(rig: QboRig) -> UnqueuedDeliveries:
    return UnqueuedDeliveries(
        rig.runtime.env["CONNECTOR_STATE_TABLE"], resource=rig.runtime.boto3_resource("dynamodb")
    )


def test_a_delivery_the_queue_refused_is_answered_200_and_posted_once_by_the_next_run(
    rig: QboRig, proxy: SqsFaultProxy, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an order whose webhook arrives while SQS refuses every message
    order = _place(rig)
    with proxy.refusal():
        rig.deliver(SHOP, "order.created", order["id"])  # raises unless answered 200
    assert proxy.refused >= 1
    # Then nothing was posted, and the delivery waits in the state table, audited
    assert rig.documents("Invoice", order["id"]) == []
    [kept] = list(_unqueued(rig).waiting(SHOP))
    assert kept.message.record_id == str(order["id"])
    [received] = rig.audit(SHOP, order["id"])
    assert "received, not queued" in received.outcome
    assert "DeliveriesNotQueued" in _metrics(capsys.readouterr().out)
    # When the schedule runs
    report = _poll(rig)
    # Then the kept delivery was queued first and the order posted once for its total
    assert report["unqueued"] == 1
    [invoice] = rig.documents("Invoice", order["id"])
    assert D(str(invoice["TotalAmt"])) == D(order["total"])
    assert list(_unqueued(rig).waiting(SHOP)) == []
    outcomes = [e.outcome for e in rig.audit(SHOP, order["id"])]
    assert any("queued by the reconcile run: ingest kept it" in o for o in outcomes)
    summary = rig.audit_of(f"{SHOP}#reconcile")[-1]
    assert "queued 1 deliveries ingest had kept" in summary.outcome
    # And the store has none of the connector's webhooks: that is said, and none created
    noted = _health(rig).noted(SHOP).webhook_health
    assert noted is not None and noted.startswith("unhealthy: no webhooks registered")
    assert rig.woo.webhooks.webhooks == {}
    # When the schedule runs again: nothing more waits, nothing posts twice
    assert _poll(rig)["unqueued"] == 0
    assert len(rig.documents("Invoice", order["id"])) == 1


def test_a_webhook_the_store_disabled_is_switched_on_again_by_the_schedule(
    rig: QboRig, store_clock: StoreClock, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the connector's webhooks registered (connector webhooks sync)
    with httpx.Client(timeout=30) as http:
        [synced] = webhook_setup.run(
            "sync",
            [rig.connection(SHOP)],
            base_url=rig.runtime.base_url,
            vault=rig.vault,
            http=http,
        )
    assert synced.ok, synced
    hooks = {h.topic: h for h in rig.woo.webhooks.webhooks.values()}
    # And the store's order.created webhook disabled after seven failed deliveries in a row
    # (a secret out of step: each delivery is refused 401)
    created = hooks["order.created"]
    created.sender.secret = "not-the-connectors"
    for _ in range(7):
        assert rig.woo.webhooks.deliver("order.created", _place(rig)["id"]) == [401]
    assert created.status == "disabled"
    # When an order is placed, WooCommerce sends nothing (the event is lost)
    order = _place(rig)
    assert rig.woo.webhooks.deliver("order.created", order["id"]) == []
    # And ten minutes later another
    store_clock.later += 600
    last = _place(rig)
    assert rig.woo.webhooks.deliver("order.created", last["id"]) == []
    capsys.readouterr()
    # And the schedule runs
    report = _poll(rig)
    # Then the poll brought the nine orders the webhook missed, each posted once; the eight
    # older than two minutes before the latest change count as caught (the last might
    # still have had its webhook on the way)
    assert report["queued"] == 9 and report["caught"] == 8
    assert len(rig.documents("Invoice", order["id"])) == 1
    assert len(rig.documents("Invoice", last["id"])) == 1
    # And the webhook is on again, with the connector's secret, and delivers
    assert created.status == "active"
    assert report["webhooks"].startswith("repaired: order.created reactivated")
    after = _place(rig)
    assert rig.woo.webhooks.deliver("order.created", after["id"]) == [200]
    rig.drain()
    assert len(rig.documents("Invoice", after["id"])) == 1
    # And the on-call engineer reads it in the audit trail, the health item and the metrics
    [repaired] = [e for e in rig.audit_of(f"{SHOP}#webhooks") if e.event == "webhooks_repaired"]
    assert "order.created" in repaired.outcome and "switched off by the store" in repaired.outcome
    assert repaired.detail["hooks"][0]["state"] == "reactivated"
    noted = _health(rig).noted(SHOP)
    assert noted.webhook_health is not None and noted.webhook_health.startswith("repaired")
    assert noted.webhook_checked_at is not None
    printed = _metrics(capsys.readouterr().out)
    assert printed["WebhookRepaired"] == [1.0]
    assert printed["WebhookUnhealthy"] == [1.0]
    assert printed["ReconcileCaught"] == [8.0]
    # When the schedule runs again with nothing caught, within the hour
    again = _poll(rig)
    # Then the webhooks are not looked at again
    assert again["queued"] == 0 and again["webhooks"] is None


def _backlog_reconciler(
    rig: QboRig, queue: SyncQueue, connection: Connection
) -> tuple[Reconciler, httpx.Client]:
    http = httpx.Client(timeout=30)
    store = open_store(rig.connection(SHOP), vault=rig.vault, http=http, lookups=StoreLookups())
    return Reconciler(
        connections=[connection],
        store_for=lambda _: store,
        state=rig.state_store,
        audit=rig.trail,
        queue=queue,
        lease_s=300,
    ), http


class Countdown:
    """A Lambda context's remaining time: plenty for ``checks`` readings, then too little."""

    def __init__(self, checks: int) -> None:
        self.checks = checks

    def __call__(self) -> int:
        self.checks -= 1
        return 250_000 if self.checks >= 0 else 30_000


def test_a_backlog_longer_than_a_run_advances_run_by_run_and_loses_nothing(rig: QboRig) -> None:
    # Given 230 orders changed since a watermark three days back (the poll was off)
    ids = {str(_place(rig)["id"]) for _ in range(230)}
    backlog = rig.connection(SHOP).model_copy(update={"id": "backlog"})
    days_ago = datetime.now(UTC) - timedelta(days=3)
    rig.state_store.put_poll_mark(
        "backlog", PollMark(last_run_at=days_ago, watermarks={"order": days_ago})
    )
    # And a queue of its own, so the test counts what each run queued
    sqs = rig.runtime.boto3_client("sqs")
    url = sqs.create_queue(
        QueueName="backlog.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "false"},
    )["QueueUrl"]
    queue = SyncQueue(url, client=sqs)
    queued: list[str] = []
    runs: list[dict[str, Any]] = []
    marks: list[datetime] = []
    # When each run has time for only part of it (the context's remaining time runs low)
    for _ in range(6):
        reconciler, http = _backlog_reconciler(rig, queue, backlog)
        try:
            result = reconciler.run(PollRequest(), Countdown(checks=2)).connections[0]
        finally:
            http.close()
        runs.append(result.model_dump())
        mark = rig.state_store.poll_mark("backlog")
        assert mark is not None
        marks.append(mark.watermarks["order"])
        queued += _received_ids(sqs, url)
        if not result.cut_short:
            break
    # Then the first run stopped early, stored how far it got, and left the connection due
    first = runs[0]
    assert first["outcome"] == "polled" and first["cut_short"]
    assert 0 < first["queued"] < 230
    assert marks[0] > days_ago
    # And each later run went on from there until one finished
    assert len(runs) >= 2 and not runs[-1]["cut_short"]
    assert marks == sorted(marks)
    # And every order of the backlog was queued: none skipped
    assert ids <= set(queued)
    summary = next(e for e in rig.audit_of("backlog#reconcile") if e.event == "polled")
    assert "stopped at the time budget" in summary.outcome
    period = timedelta(minutes=backlog.reconcile_minutes)
    assert is_due(PollMark(last_run_at=datetime.now(UTC) - period), period, datetime.now(UTC))


def _received_ids(sqs: Any, url: str) -> list[str]:
    found: list[str] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return found
        for message in batch:
            found.append(json.loads(message["Body"])["record_id"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def _desktop(connection_id: str, run_every_minutes: int) -> Connection:
    config = TenantConfig.model_validate(
        {
            "tenant": TENANT,
            "connections": [
                {
                    "id": connection_id,
                    "store": {"kind": "woocommerce", "url": "https://desk.example"},
                    "ledger": {"kind": "qbd", "run_every_minutes": run_every_minutes},
                }
            ],
        }
    )
    return config.connections[0]


def test_a_web_connector_not_seen_for_three_of_its_runs_is_counted_silent(rig: QboRig) -> None:
    now = datetime.now(UTC)
    health = _health(rig)
    # Given three Desktop connections: one whose Web Connector (every 5 minutes) was last
    # seen 16 minutes ago, one seen 10 minutes ago, and one never seen yet
    desks = [_desktop("desk-quiet", 5), _desktop("desk-busy", 5), _desktop("desk-new", 5)]
    health.note("desk-quiet", qbwc_last_contact_at=now - timedelta(minutes=16))
    health.note("desk-busy", qbwc_last_contact_at=now - timedelta(minutes=10))
    for desk in desks:  # polled a minute ago: not due, so the run only looks at health
        rig.state_store.put_poll_mark(desk.id, PollMark(last_run_at=now))
    reconciler = Reconciler(
        connections=desks,
        store_for=lambda _: pytest.fail("no store is polled"),
        state=rig.state_store,
        audit=rig.trail,
        queue=rig.sync_queue(),
        lease_s=300,
        health=health,
    )
    # When the schedule runs
    report = reconciler.run(PollRequest())
    # Then only the quiet one is silent
    assert [c.outcome for c in report.connections] == ["not_due"] * 3
    assert report.silent_web_connectors == ["desk-quiet"]

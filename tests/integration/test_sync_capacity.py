"""A backlog larger than the company's limits through the real path: signed webhooks -> queue ->
sync handler -> simulated QuickBooks Online, on moto's server, with the limits scaled down
(120 requests a minute, a record's first call handed back when its wait is over a quarter
second).

Records that must wait for capacity go back to the queue for the time the limiter says,
audited as waiting, never as failures: the backlog posts once each, nothing parks, and the
company answers no request 429 because none goes over its limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from connector import resources
from connector.ledgers.qbo.limiter import LimiterRules, RealmLimiter
from connector.messages import SyncMessage
from connector.runtime import Runtime
from connector.state import now_utc
from connector.sync import Delivery, SyncWorker
from simulators.testbed.online import QboRig, QboRigs, connection_settings
from simulators.woocommerce import LineSpec, OrderSpec

SHOP = "shop"
MUG = 10
JANE = 2
PER_MINUTE = 120
LIMITS = {
    resources.ENV_QBO_REQUESTS_PER_MINUTE: str(PER_MINUTE),
    resources.ENV_QBO_MAX_WAIT_S: "0.25",
    # Records one by one: with batching on they wait in the function for their slot instead
    # (tests/integration/test_sync_qbo_batch_limits.py), and this is the queue's way.
    "CONNECTOR_QBO_BATCH_FROM": "0",
}


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    mapping = {"fallback_item": "Sales", "shipping_item": "Shipping"}
    return [connection_settings(SHOP, woo_url=woo_url, qbo_url=qbo_url, mapping=mapping)]


@pytest.fixture(scope="module")
def rig(qbo_rig: QboRigs) -> Iterator[QboRig]:
    # The simulated company refuses what QuickBooks would at these limits
    with qbo_rig(_connections, extra_env=LIMITS, per_minute_limit=PER_MINUTE) as running:
        yield running


def test_a_backlog_over_the_limits_posts_once_each_parks_nothing_and_draws_no_429(
    rig: QboRig,
) -> None:
    orders = [
        rig.woo.create_order(OrderSpec(lines=[LineSpec(MUG, n)], customer_id=JANE))
        for n in range(1, 13)
    ]
    mark = len(rig.qbo.request_log)
    for order in orders:
        rig.deliver(SHOP, "order.created", order["id"])
    rig.drain(timeout_s=50)

    for order in orders:
        (invoice,) = rig.documents("Invoice", order["id"])
        assert Decimal(str(invoice["TotalAmt"])) == Decimal(order["total"])
        assert rig.sync_state(SHOP, order["id"]).status == "posted"
        assert rig.parked(SHOP, order["id"]) == []
    statuses = [r.status for r in rig.requests_since(mark)]
    assert statuses.count(429) == 0 and rig.qbo.throttled == 0
    assert rig.qbo.busiest_minute <= PER_MINUTE

    # Some records waited for capacity: handed back for the limiter's delay, not failures
    trails = [rig.audit(SHOP, order["id"]) for order in orders]
    waits = [e for trail in trails for e in trail if e.detail.get("waiting_for_capacity")]
    assert waits, "the backlog was over the limits: some records waited"
    for wait in waits:
        assert wait.event == "queued" and wait.detail["delay_s"] >= 1
        assert "has no capacity yet" in wait.outcome and "(not a failure)" in wait.outcome
    assert not [e for trail in trails for e in trail if e.event == "failed"]


def test_a_throttle_answer_holds_the_record_for_the_pause_without_failing_it(
    rig: QboRig,
) -> None:
    # Another app spent the company's quota: QuickBooks refuses two requests
    order = rig.woo.create_order(OrderSpec(lines=[LineSpec(MUG, 1)], customer_id=JANE))
    rig.qbo.inject(429, times=2)
    rig.deliver(SHOP, "order.created", order["id"])
    rig.drain(timeout_s=30)

    (invoice,) = rig.documents("Invoice", order["id"])
    assert Decimal(str(invoice["TotalAmt"])) == Decimal(order["total"])
    trail = rig.audit(SHOP, order["id"])
    paused = [e for e in trail if "throttled a request to company" in e.outcome]
    assert len(paused) == 2 and all(e.event == "queued" for e in paused), trail
    # The pause is Intuit's minute, on the local runtime's retry scale (1/360): one second
    assert [e.detail["delay_s"] for e in paused] == [1, 1]
    assert "failed" not in [e.event for e in trail]


def test_a_record_waiting_on_its_last_receive_is_queued_afresh_not_parked(rig: QboRig) -> None:
    # The rig's environment is the deployed function's: build its worker as the handler does
    runtime = Runtime.from_environment()
    parked: list[str] = []
    worker = SyncWorker(
        connection_for=runtime.connection,
        store_for=runtime.store,
        ledger_for=runtime.ledger,
        state=runtime.state,
        audit=runtime.audit,
        park=lambda _message, reason: parked.append(reason),
        requeue=runtime.sync_queue.requeue,
        policy=runtime.retry_policy,
    )
    order = rig.woo.create_order(OrderSpec(lines=[LineSpec(MUG, 3)], customer_id=JANE))
    message = SyncMessage(
        connection_id=SHOP,
        entity="order",
        record_id=str(order["id"]),
        topic="order.created",
        received_at=now_utc(),
    )
    # QuickBooks throttled another function of the company a moment ago: a 3 s pause
    RealmLimiter(
        runtime.settings.state_table,
        rig.qbo.realm_id,
        rules=LimiterRules(throttle_pause_s=3),
        resource=runtime.dynamodb,
    ).throttled()

    result = worker.process(message, Delivery(receives=100, last_receive=True))

    assert result.outcome == "requeued" and parked == []
    (waited,) = [e for e in rig.audit(SHOP, order["id"]) if e.detail.get("waiting_for_capacity")]
    assert waited.event == "queued" and waited.detail["requeued"] is True
    assert "queued again afresh after 100 receives" in waited.outcome
    # The fresh copy posts once the pause is over
    rig.drain(timeout_s=30)
    (invoice,) = rig.documents("Invoice", order["id"])
    assert Decimal(str(invoice["TotalAmt"])) == Decimal(order["total"])

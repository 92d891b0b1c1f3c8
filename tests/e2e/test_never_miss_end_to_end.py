"""Never miss an order: a webhook switched off mid-day, and a queue that refuses part of a burst.

Both days run the seeded WooCommerce day (simulators.shops) through the local runtime into
the simulated QuickBooks Online, and end with the reconcile schedule's run:

(c) after the 20th of 100 checkouts the store's order webhooks are switched off (as
    WooCommerce does after failed deliveries, or a merchant does): WooCommerce sends nothing
    more, and the events are lost. The schedule's next run brings the other 80 orders and
    every later change, and switches the webhooks on again (audited, noted in the
    connection's health item).
(d) SQS refuses every message for a stretch of the burst (a fault proxy in front of moto's
    SQS answers SendMessage with AWS's own error): every delivery is still answered 2xx,
    ingest keeps what it could not queue, and the schedule's run queues it.

Each day must end with one document per postable order, totals equal to the cent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from connector.health import ConnectionHealth, HealthMarks
from connector.state import AuditEvent
from connector.unqueued import UnqueuedDeliveries
from simulators.shops import WooCommerceDriver
from simulators.shops.driver import Delivery
from simulators.shops.online import CONNECTION, DayReport, OnlineDay
from simulators.shops.stream import PlannedOrder, RefundKind
from simulators.sqs_faults import ENV_SQS_ENDPOINT, SqsFaultProxy
from simulators.testbed.deployment import Rig

ORDERS = 100
SWITCHED_OFF_AFTER = 20


@dataclass
class Seen:
    """What the on-call engineer reads once the day is over (audit trail, health item)."""

    webhook_events: list[AuditEvent] = field(default_factory=list)
    poll_summaries: list[AuditEvent] = field(default_factory=list)
    health: ConnectionHealth = field(default_factory=ConnectionHealth)
    hook_statuses: dict[str, str] = field(default_factory=dict)
    not_queued: int = 0  # orders whose trail says "received, not queued"
    still_waiting: int = 0  # deliveries still kept, unqueued, at the end


class WatchedDay(OnlineDay):
    """The day, and what the audit trail and health item say at its end."""

    seen: Seen

    def _check(self, rig: Rig) -> None:
        super()._check(rig)
        tables = rig.runtime.env["CONNECTOR_STATE_TABLE"]
        dynamodb = rig.runtime.boto3_resource("dynamodb")
        self.seen = Seen(
            webhook_events=rig.audit_of(f"{CONNECTION}#webhooks"),
            poll_summaries=[
                e for e in rig.audit_of(f"{CONNECTION}#reconcile") if e.event == "polled"
            ],
            health=HealthMarks(tables, resource=dynamodb).noted(CONNECTION),
            not_queued=sum(
                1
                for store_id in self.driver.order_ids()
                if any(
                    "received, not queued" in e.outcome
                    for e in rig.audit_of(f"{CONNECTION}#order#{store_id}")
                )
            ),
            still_waiting=len(
                list(UnqueuedDeliveries(tables, resource=dynamodb).waiting(CONNECTION))
            ),
        )
        if isinstance(self.driver, WooCommerceDriver):
            self.seen.hook_statuses = {
                h.topic: h.status for h in self.driver.sim.webhooks.webhooks.values()
            }


# --- (c) the store's webhooks switched off after 20 of 100 orders -------------------------
class SwitchedOff(WooCommerceDriver):
    """WooCommerce whose order webhooks go off after the 20th checkout; from then on it sends
    nothing for them (WC_Webhook::deliver is never called for a disabled webhook)."""

    def __init__(self, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.placed = 0

    def place(self, plan: PlannedOrder) -> tuple[str, Delivery | None]:
        store_id, delivery = super().place(plan)
        delivery = self._if_on("order.created", delivery)
        self.placed += 1
        if self.placed == SWITCHED_OFF_AFTER:
            for hook in self.sim.webhooks.webhooks.values():
                if hook.topic.startswith("order."):
                    hook.sender.status = "disabled"
        return store_id, delivery

    def pay(self, store_id: str) -> Delivery | None:
        return self._if_on("order.updated", super().pay(store_id))

    def complete(self, store_id: str) -> Delivery | None:
        return self._if_on("order.updated", super().complete(store_id))

    def cancel(self, store_id: str) -> Delivery | None:
        return self._if_on("order.updated", super().cancel(store_id))

    def refund(self, store_id: str, kind: RefundKind) -> Delivery | None:
        return self._if_on("order.updated", super().refund(store_id, kind))

    def _if_on(self, topic: str, delivery: Delivery | None) -> Delivery | None:
        hooks = [h for h in self.sim.webhooks.webhooks.values() if h.topic == topic]
        return delivery if any(h.status == "active" for h in hooks) else None


@pytest.fixture(scope="module")
def switched_off() -> tuple[DayReport, Seen]:
    day = WatchedDay(SwitchedOff(seed=21), orders=ORDERS, seed=21)
    report = day.run()
    return report, day.seen


def test_c_every_order_posts_once_though_the_webhooks_went_off_after_20(
    switched_off: tuple[DayReport, Seen],
) -> None:
    report, _ = switched_off
    assert report.orders == ORDERS
    problems = [(c.view.number, c.view.status, c.problems) for c in report.problems]
    assert problems == []
    postable = [c for c in report.checks if c.view.outcome == "posts"]
    assert len(postable) > 60
    assert all(c.documents == 1 and c.ledger_total == c.view.total for c in postable)
    # The orders after the 20th reached QuickBooks through the schedule's run alone
    found_by_poll = [c for c in report.checks if any("found by polling" in r for r in c.received)]
    assert len(found_by_poll) >= ORDERS - SWITCHED_OFF_AFTER


def test_c_the_schedule_switched_the_webhooks_on_again_and_said_so(
    switched_off: tuple[DayReport, Seen],
) -> None:
    _, seen = switched_off
    assert seen.hook_statuses["order.created"] == "active"
    assert seen.hook_statuses["order.updated"] == "active"
    [repaired] = [e for e in seen.webhook_events if e.event == "webhooks_repaired"]
    assert "order.created reactivated" in repaired.outcome
    assert "order.updated reactivated" in repaired.outcome
    assert seen.health.webhook_health is not None
    assert seen.health.webhook_health.startswith("repaired:")
    assert seen.health.webhook_checked_at is not None
    assert seen.health.last_webhook_at is not None


# --- (d) the queue refuses messages for part of a burst ---------------------------------------
class RefusedBurst(WooCommerceDriver):
    """WooCommerce whose checkouts 30 to 59 land while SQS refuses every message."""

    def __init__(self, proxy: SqsFaultProxy, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.proxy = proxy
        self.placed = 0

    def place(self, plan: PlannedOrder) -> tuple[str, Delivery | None]:
        self.placed += 1
        self.proxy.refusing = 30 <= self.placed < 60
        return super().place(plan)


@pytest.fixture(scope="module")
def proxy() -> Iterator[SqsFaultProxy]:
    running = SqsFaultProxy().start()
    yield running
    running.stop()


class RefusedBurstDay(WatchedDay):
    def __init__(self, proxy: SqsFaultProxy, driver: RefusedBurst, **options: object) -> None:
        super().__init__(driver, **options)  # type: ignore[arg-type]
        self.proxy = proxy

    def _connect(self, rig: Rig) -> None:
        # The proxy forwards to moto, whose address the running deployment knows.
        self.proxy.target = rig.runtime.aws_endpoint_url
        super()._connect(rig)


@pytest.fixture(scope="module")
def refused_burst(proxy: SqsFaultProxy) -> tuple[DayReport, Seen]:
    driver = RefusedBurst(proxy, seed=23)
    # No QuickBooks faults: the day is about the queue.
    day = RefusedBurstDay(proxy, driver, orders=ORDERS, seed=23, faults=False)
    with pytest.MonkeyPatch.context() as env:
        # The functions reach SQS through the proxy (botocore's per-service endpoint).
        env.setenv(ENV_SQS_ENDPOINT, proxy.base_url)
        report = day.run()
    return report, day.seen


def test_d_every_delivery_was_answered_2xx_while_the_queue_refused(
    refused_burst: tuple[DayReport, Seen], proxy: SqsFaultProxy
) -> None:
    report, seen = refused_burst
    assert proxy.refused >= 20, "the queue must have refused part of the burst"
    assert report.pushes.accepted == report.pushes.sent
    assert seen.not_queued >= 20


def test_d_every_order_posts_once_after_the_catch_up(
    refused_burst: tuple[DayReport, Seen],
) -> None:
    report, seen = refused_burst
    problems = [(c.view.number, c.view.status, c.problems) for c in report.problems]
    assert problems == []
    postable = [c for c in report.checks if c.view.outcome == "posts"]
    assert len(postable) > 60
    assert all(c.documents == 1 and c.ledger_total == c.view.total for c in postable)
    # The kept deliveries were queued by the schedule's run, and none is left waiting
    assert sum(int(e.detail.get("unqueued", 0)) for e in seen.poll_summaries) >= seen.not_queued
    assert seen.still_waiting == 0

"""A WooCommerce store whose REST API answers 503 for an hour, through the local runtime: every
order pushed meanwhile waits in the queue with a growing delay and posts once after it.

Halfway through a day of 40 orders the store's API goes down for an hour (every REST call
answered 503) on a clock where the local runtime's delays (scale 1/360) are the deployed ones:
ten seconds of wall time. Checkouts go on and their webhooks still arrive (WooCommerce builds a
delivery's body in process); only the connector's fetches fail. Each order must end with one
document whose total is the store's to the cent, nothing parked.
"""

from __future__ import annotations

import pytest

from connector import resources
from simulators.shops import WooCommerceDriver
from simulators.shops.driver import Delivery
from simulators.shops.online import CONNECTION, DayReport, OnlineDay
from simulators.shops.stream import PlannedOrder
from simulators.testbed.clocks import ScaledClock
from simulators.testbed.deployment import Rig

OUTAGE_S = 3600
# The local runtime's delays are the deployed ones divided by this.
SPEED = round(1 / resources.LOCAL_RETRY_SCALE)


class WatchedDriver(WooCommerceDriver):
    """Notes the orders placed while the store's API was down."""

    def __init__(self, *, seed: int) -> None:
        super().__init__(seed=seed)
        self.placed_while_down: list[str] = []

    def place(self, plan: PlannedOrder) -> tuple[str, Delivery | None]:
        store_id, delivery = super().place(plan)
        if self.sim.in_outage():
            self.placed_while_down.append(store_id)
        return store_id, delivery


class StoreOutageDay(OnlineDay):
    """The store's REST API goes down for an hour halfway through the checkouts."""

    driver: WatchedDriver

    def __init__(self, driver: WatchedDriver, *, orders: int, seed: int) -> None:
        super().__init__(driver, orders=orders, seed=seed, faults=False)
        self.outage_over_before_drained = False
        self.failures: dict[str, list[str]] = {}  # order -> what each failed attempt said
        self.posts: dict[str, int] = {}  # order -> its "posted" audit events

    def _midday(self, rig: Rig) -> None:
        super()._midday(rig)
        self.driver.sim.outage(OUTAGE_S, clock=ScaledClock(SPEED))
        self.report.faults_injected.append("one-hour store outage")

    def _fix_and_replay(self, rig: Rig) -> None:
        # Runs once the pushes have drained: the queue held them until the store came back.
        self.outage_over_before_drained = not self.driver.sim.in_outage()
        super()._fix_and_replay(rig)

    def _check(self, rig: Rig) -> None:
        super()._check(rig)
        for store_id in self.driver.order_ids():
            trail = rig.audit_of(f"{CONNECTION}#order#{store_id}")
            self.failures[store_id] = [e.outcome for e in trail if e.event == "failed"]
            self.posts[store_id] = sum(e.event == "posted" for e in trail)


@pytest.fixture(scope="module")
def day() -> tuple[DayReport, StoreOutageDay]:
    outage_day = StoreOutageDay(WatchedDriver(seed=31), orders=40, seed=31)
    return outage_day.run(), outage_day


def test_orders_pushed_during_a_store_outage_post_once_after_it(
    day: tuple[DayReport, StoreOutageDay],
) -> None:
    report, _ = day
    assert report.orders == 40 and report.postable > 25
    problems = [(c.view.number, c.view.status, c.problems) for c in report.problems]
    assert problems == []
    postable = [c for c in report.checks if c.view.outcome == "posts"]
    assert all(c.documents == 1 and c.ledger_total == c.view.total for c in postable)
    assert report.doc_number_problems == [] and not report.duplicate_customers


def test_a_store_outage_parks_nothing(day: tuple[DayReport, StoreOutageDay]) -> None:
    report, outage_day = day
    assert [c.view.number for c in report.checks if "parked" in c.audit_events] == []
    assert outage_day.outage_over_before_drained


def test_the_orders_pushed_while_the_store_was_down_each_posted_once(
    day: tuple[DayReport, StoreOutageDay],
) -> None:
    report, outage_day = day
    down = set(outage_day.driver.placed_while_down)
    assert len(down) >= 15, down
    postable = [c.view.store_id for c in report.checks if c.view.outcome == "posts"]
    posted = {sid: outage_day.posts[sid] for sid in postable if sid in down}
    assert len(posted) >= 10 and set(posted.values()) == {1}, posted


def test_the_orders_fetched_during_the_outage_went_back_to_the_queue_and_posted_after_it(
    day: tuple[DayReport, StoreOutageDay],
) -> None:
    report, outage_day = day
    checks = {c.view.store_id: c for c in report.checks}
    assert outage_day.driver.sim.outage_requests >= 8
    waited = {sid: why for sid, why in outage_day.failures.items() if why}
    # The worker's fetches fail in real seconds (the store client's own backoff), so in the ten
    # seconds of wall time the outage lasts it reaches a few orders, not all of them.
    assert len(waited) >= 2, waited
    for store_id, failures in waited.items():
        assert all("unavailable" in why and "503" in why for why in failures), failures
        assert any("back to the queue, tried again at" in why for why in failures), failures
        events = checks[store_id].audit_events
        last_failure = len(events) - 1 - events[::-1].index("failed")
        assert "fetched" in events[last_failure:], events  # fetched again once the store was back
        if checks[store_id].view.outcome == "posts":
            assert outage_day.posts[store_id] == 1, events

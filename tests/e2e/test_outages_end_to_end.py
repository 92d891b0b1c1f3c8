"""QuickBooks Online failing hard, through the local runtime: the retry budget and the circuit
breaker ride it out and every order still posts once.

(a) A day of 60 WooCommerce orders while QuickBooks answers 30 % of API calls with a 5xx, 10 % with
429 and loses 10 % of its answers after doing the work, and the access token expires midway.
(b) A two-hour QuickBooks outage (every call 503) in the middle of 200 orders, on a clock where the
local runtime's delays (scale 1/360) are the deployed ones: twenty seconds of wall time.

Each order must end with one document whose total is the store's to the cent, nothing parked; in
(b) the breaker opened and closed again, and QuickBooks saw few calls while it was down.
"""

from __future__ import annotations

from collections import Counter

import pytest

from connector import resources
from connector.state import AuditEvent
from simulators.shops import WooCommerceDriver
from simulators.shops.online import CONNECTION, DayReport, OnlineDay
from simulators.testbed.clocks import ScaledClock
from simulators.testbed.deployment import Rig

OUTAGE_S = 2 * 3600
# The local runtime's delays are the deployed ones divided by this.
SPEED = round(1 / resources.LOCAL_RETRY_SCALE)


class FaultyDay(OnlineDay):
    """QuickBooks fails at random all day (OnlineDay's midday token expiry included)."""

    def _inject_faults(self) -> None:
        self.qbo.inject_share({500: 0.15, 503: 0.15, 429: 0.10, "lost": 0.10}, seed=23)
        self.report.faults_injected += ["30 % 5xx", "10 % 429", "10 % lost responses"]


class OutageDay(OnlineDay):
    """QuickBooks goes down for two (simulated) hours halfway through the checkouts."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, faults=False, **kwargs)  # type: ignore[arg-type]
        self.circuit_events: list[AuditEvent] = []

    def _midday(self, rig: Rig) -> None:
        super()._midday(rig)
        self.qbo.outage(OUTAGE_S, clock=ScaledClock(SPEED))
        self.report.faults_injected.append("two-hour outage")

    def _check(self, rig: Rig) -> None:
        super()._check(rig)
        self.circuit_events = rig.audit_of(f"{CONNECTION}#connection#qbo")


def _parked(report: DayReport) -> list[str]:
    return [c.view.number for c in report.checks if "parked" in c.audit_events]


def _one_document_each(report: DayReport) -> None:
    problems = [(c.view.number, c.view.status, c.problems) for c in report.problems]
    assert problems == []
    postable = [c for c in report.checks if c.view.outcome == "posts"]
    assert all(c.documents == 1 and c.ledger_total == c.view.total for c in postable)
    assert report.doc_number_problems == [] and not report.duplicate_customers


@pytest.fixture(scope="module")
def faulty() -> DayReport:
    return FaultyDay(WooCommerceDriver(seed=23), orders=60, seed=23).run()


def test_heavy_faults_post_every_order_once_to_the_cent(faulty: DayReport) -> None:
    assert faulty.orders == 60 and faulty.postable > 40
    _one_document_each(faulty)


def test_heavy_faults_park_nothing(faulty: DayReport) -> None:
    assert _parked(faulty) == []


def test_the_faults_were_really_injected_and_retried(faulty: DayReport) -> None:
    statuses: Counter[int] = faulty.qbo_statuses
    assert statuses[500] + statuses[503] >= 30
    assert statuses[429] >= 10 and statuses[504] >= 10  # 504: the answer lost after the write
    assert statuses[401] >= 1  # the token expired midway
    failed = sum(c.audit_events.count("failed") for c in faulty.checks)
    assert failed >= 20


@pytest.fixture(scope="module")
def outage() -> tuple[DayReport, OutageDay]:
    day = OutageDay(WooCommerceDriver(seed=29), orders=200, seed=29)
    return day.run(), day


def test_a_two_hour_outage_posts_every_order_once_after_it(
    outage: tuple[DayReport, OutageDay],
) -> None:
    report, _ = outage
    assert report.orders == 200 and report.postable > 140
    _one_document_each(report)
    assert _parked(report) == []


def test_the_breaker_opened_during_the_outage_and_closed_after_it(
    outage: tuple[DayReport, OutageDay],
) -> None:
    _, day = outage
    changes = [(e.event, e.outcome) for e in day.circuit_events if "circuit" in e.outcome]
    opened = [o for event, o in changes if event == "failed" and o.startswith("circuit opened")]
    closed = [o for event, o in changes if event == "connected" and o.startswith("circuit closed")]
    assert opened and closed, changes
    assert changes[-1][1].startswith("circuit closed"), "it ends the day closed"


def test_quickbooks_saw_few_calls_while_it_was_down(outage: tuple[DayReport, OutageDay]) -> None:
    report, day = outage
    # Without the breaker every held order would call QuickBooks again on each receive.
    assert 8 <= day.qbo.outage_requests <= 60, day.qbo.outage_requests
    assert report.qbo_statuses[503] == day.qbo.outage_requests

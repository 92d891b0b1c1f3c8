"""BigCommerce into QuickBooks Desktop: 100 orders through the local runtime, the outbox and
the simulated Web Connector.

The same seeded day as the Online runs, in the simulated BigCommerce store; the callbacks
arrive twice and late; the sync worker fills the connection's outbox and the Web Connector
drains it into a simulated company file that locks an invoice once, while the connection
drops mid-session and a response is lost after QuickBooks did the work. Every order must
end with one transaction for the store's total to the cent, refunds as credit memos paid
out, payments in the right account, and an audit trail.
"""

from __future__ import annotations

import pytest

from simulators.shops import BigCommerceDriver, WooCommerceDriver
from simulators.shops.desktop import DeskDayReport, DesktopDay

ORDERS = 100


@pytest.fixture(scope="module")
def report() -> DeskDayReport:
    return DesktopDay(BigCommerceDriver(), orders=ORDERS, seed=31).run()


def test_every_postable_order_is_one_transaction_for_the_store_total(
    report: DeskDayReport,
) -> None:
    assert report.orders == ORDERS
    assert [(c.view.number, c.view.status, c.problems) for c in report.problems] == []
    posts = [c for c in report.checks if c.view.outcome == "posts"]
    assert len(posts) > 75
    assert all(c.transactions == 1 and c.ledger_total == c.view.total for c in posts)
    for check in report.checks:
        assert check.audit_events and check.audit_events[0] == "received"
    assert report.duplicate_customers == []


def test_the_sessions_met_the_faults_and_ended_idle(report: DeskDayReport) -> None:
    outcomes = [s.outcome for s in report.sessions]
    assert {"dropped", "response_lost"} <= set(outcomes)
    assert outcomes[-1] == "none", "the last session finds nothing waiting"
    assert report.statuses.get(3175) == 1, "the locked invoice was retried"
    assert report.pushes.duplicates >= 8 and report.pushes.accepted == report.pushes.sent
    assert report.pushes.missed_beyond_look_alike_updates() == []


def test_payments_and_refunds_land_as_the_store_says(report: DeskDayReport) -> None:
    made = sum(n for what, n in report.pushes.changes.items() if what.startswith("refund"))
    assert made >= 8 and report.credit_memos == made
    assert report.refunds_paid_out == made, "BigCommerce refunds only money it took"
    assert report.payments >= 55 and report.pushes.changes["pay"] >= 5


@pytest.mark.parametrize("driver", [BigCommerceDriver, WooCommerceDriver])
def test_a_buyer_synced_by_the_poll_and_by_his_orders_is_one_customer(
    driver: type[BigCommerceDriver] | type[WooCommerceDriver],
) -> None:
    # Given seed 7's day, where the end-of-day poll syncs Jean-François Côté's customer record
    # while his paid order's invoice waits in the same Web Connector message
    report = DesktopDay(driver(), orders=40, seed=7).run()
    # Then he is one customer, his invoice is paid off, and every order is in once
    assert report.pushes.polls == 1
    assert report.duplicate_customers == []
    assert [(c.view.number, c.problems) for c in report.problems] == []
    assert report.statuses.get(3210) is None, "no payment named another customer's invoice"

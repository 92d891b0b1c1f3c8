"""Magento end to end: 110 orders through the local runtime into a simulated QuickBooks Online.

The seeded day of ``simulators.shops`` in the simulated Magento store: card orders invoiced at
checkout, check / money orders invoiced later, abandoned ones, configurable and bundle
products, orders in CAD, EUR and GBP at Magento's rate, long increment ids, credit memos of a
line, the shipping, an amount or everything, cancellations. Magento sends no webhooks: 40 %
of the orders are never pushed at all and only the reconcile poll finds them; the rest come
as signed hints, some twice and some late. QuickBooks throttles, loses a response after
doing the work, answers 503 and expires the access token. Every order must end with the
documents the store's figures call for, to the cent, and an audit trail.
"""

from __future__ import annotations

import pytest

from simulators.shops import MagentoDriver
from simulators.shops.online import DayReport, OnlineDay

ORDERS = 110


@pytest.fixture(scope="module")
def report() -> DayReport:
    return OnlineDay(MagentoDriver(), orders=ORDERS, seed=23, silent_share=0.4).run()


def test_every_postable_order_is_one_invoice_for_the_store_total(report: DayReport) -> None:
    assert report.orders == ORDERS
    assert [(c.view.number, c.view.status, c.problems) for c in report.problems] == []
    posts = [c for c in report.checks if c.view.outcome == "posts"]
    assert len(posts) > 90
    assert all(c.documents == 1 and c.ledger_total == c.view.total for c in posts)
    # Abandoned checkouts (pending_payment) never post; cancelled ones were withdrawn
    assert {c.view.status for c in report.checks if c.view.outcome != "posts"} == {
        "pending_payment",
        "canceled",
    }
    assert not report.duplicate_customers and not report.doc_number_problems


def test_the_orders_magento_never_pushed_were_found_by_the_poll(report: DayReport) -> None:
    silent = report.pushes.silent_ids
    assert len(silent) == round(ORDERS * 0.4) and report.pushes.polls == 2
    for check in report.checks:
        found_by_poll = [r for r in check.received if r.startswith("found by polling")]
        if check.view.store_id in silent:
            # Nothing was ever pushed about it: every receipt is the poll's
            assert found_by_poll and len(found_by_poll) == len(check.received), check.received
        assert check.audit_events and check.audit_events[0] == "received"
        if check.view.outcome == "posts":
            assert "posted" in check.audit_events


def test_repeats_late_pushes_and_quickbooks_faults_were_absorbed(report: DayReport) -> None:
    assert report.pushes.duplicates >= 5 and report.pushes.late >= 5
    assert report.pushes.accepted == report.pushes.sent
    # Every hint was acted on: the end-of-day poll changed nothing for a pushed order
    assert report.pushes.caught_by_poll == []
    # QuickBooks answered the injected faults: an expired token, a 503, a lost response
    assert {401, 503, 504} <= set(report.qbo_statuses)


def test_the_books_tie_out_for_payments_refunds_and_currencies(report: DayReport) -> None:
    # Paid orders (invoiced in Magento) have their payment; credit memos are refund receipts
    assert report.payments >= 60
    made = sum(n for what, n in report.pushes.changes.items() if what.startswith("refund"))
    assert made >= 12 and report.refund_receipts == made
    assert {"refund line", "refund shipping", "refund amount", "refund full"} <= set(
        report.pushes.changes
    )
    assert report.pushes.changes["pay"] >= 5, "check / money orders invoiced later"
    assert set(report.pushes.foreign_orders) == {"CAD", "EUR", "GBP"}
    foreign = [c for c in report.checks if c.view.currency != "USD"]
    assert len(foreign) == sum(report.pushes.foreign_orders.values())
    assert report.long_numbers >= 4
    # (per order: net of refunds, payment account, open balance, currency: OrderCheck.problems)

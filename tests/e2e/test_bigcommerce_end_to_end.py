"""BigCommerce end to end: 110 orders through the local runtime into a simulated QuickBooks Online.

The seeded day of ``simulators.shops`` in the simulated BigCommerce store (four-decimal
prices, 8 % tax on every line, coupons as line discounts, handling, shoppers who saw CAD, EUR
or GBP and were charged dollars): cards captured at checkout, bank deposits captured later,
incomplete checkouts, order-level refunds of an amount or the rest, cancellations. The hooks
are registered through the API with ``X-Connector-Token``; callbacks arrive twice and late.
QuickBooks throttles, loses a response after doing the work, answers 503 and expires the
access token. Every order must end with the documents the store's figures call for, to the
cent, and an audit trail.
"""

from __future__ import annotations

import pytest

from simulators.shops import BigCommerceDriver
from simulators.shops.online import DayReport, OnlineDay

ORDERS = 110


@pytest.fixture(scope="module")
def report() -> DayReport:
    return OnlineDay(BigCommerceDriver(), orders=ORDERS, seed=29).run()


def test_every_postable_order_is_one_invoice_for_the_store_total(report: DayReport) -> None:
    assert report.orders == ORDERS
    assert [(c.view.number, c.view.status, c.problems) for c in report.problems] == []
    posts = [c for c in report.checks if c.view.outcome == "posts"]
    assert len(posts) > 85
    assert all(c.documents == 1 and c.ledger_total == c.view.total for c in posts)
    # Incomplete checkouts (0) never post; cancelled orders (5) were withdrawn
    assert {c.view.status for c in report.checks if c.view.outcome != "posts"} == {"0", "5"}
    for check in report.checks:
        assert check.audit_events and check.audit_events[0] == "received"
    assert not report.duplicate_customers and not report.doc_number_problems


def test_repeats_late_callbacks_and_quickbooks_faults_were_absorbed(report: DayReport) -> None:
    assert report.pushes.duplicates >= 10 and report.pushes.late >= 8
    assert report.pushes.accepted == report.pushes.sent
    # Each fault is injected for an operation and met by the first request carrying it, alone
    # or as a batch item, so it happens with batching on or off (not by how many calls go out)
    assert report.faults_injected[:4] == ["429 x3", "lost response", "503", "5010 stale on a void"]
    assert {401, 429, 503, 504} <= set(report.qbo_statuses)
    assert report.pushes.missed_beyond_look_alike_updates() == []


def test_the_books_tie_out_for_payments_refunds_and_currencies(report: DayReport) -> None:
    assert report.payments >= 60
    made = sum(n for what, n in report.pushes.changes.items() if what.startswith("refund"))
    assert made >= 8 and report.refund_receipts == made
    assert report.pushes.changes["pay"] >= 5, "bank deposits captured later"
    # The shopper's display currency is not the money: everything is in the store's dollars
    assert set(report.pushes.foreign_orders) == {"CAD", "EUR", "GBP"}
    assert {c.view.currency for c in report.checks} == {"USD"}
    # (per order: net of refunds, payment account, open balance, currency: OrderCheck.problems)

"""The local runtime end to end: 120 WooCommerce orders into a simulated QuickBooks Online.

Signed webhooks with repeats and stale, reordered deliveries, a product deleted after it
sold, numbers that already carry the DocNumber prefix; QuickBooks throttles, loses a
response, answers 503, reports a stale SyncToken and expires the access token; an inactive
item parks orders until the bookkeeper reactivates it and replays them. Every order must end
with exactly one document whose total equals the store's to the cent, and an audit trail;
and the books must tie out: payments in the accounts their gateways map to, refunds netting
each order to the store's net, foreign orders in their own currency, DocNumbers that fit and
never repeat.
"""

from __future__ import annotations

import pytest

from simulators.shops import WooCommerceDriver
from simulators.shops.online import QBO_RATES, DayReport, OnlineDay

GIFT_CARD = ("GIFT-25", "Gift Cards")  # the bookkeeper has made this item inactive
POSTER = 11  # deleted from the catalogue after it sold


@pytest.fixture(scope="module")
def report() -> DayReport:
    driver = WooCommerceDriver(seed=11, retire=POSTER, prefixed_numbers="WC-")
    return OnlineDay(
        driver, orders=120, seed=11, park=GIFT_CARD, doc_prefix="WC-", foreign=tuple(QBO_RATES)
    ).run()


def test_every_order_has_exactly_one_document_with_the_store_total(report: DayReport) -> None:
    assert report.orders == 120
    problems = [(c.view.number, c.view.status, c.problems) for c in report.problems]
    assert problems == []
    postable = [c for c in report.checks if c.view.outcome == "posts"]
    assert len(postable) > 80, "the scenario must post most orders"
    assert all(c.documents == 1 and c.ledger_total == c.view.total for c in postable)


def test_each_order_has_an_audit_trail_from_receipt_to_its_outcome(report: DayReport) -> None:
    for check in report.checks:
        assert check.audit_events[0] == "received", check.view.number
        if check.view.outcome == "posts":
            assert "posted" in check.audit_events, (check.view.number, check.audit_events)


def test_repeats_were_sent_and_absorbed_and_faults_were_injected(report: DayReport) -> None:
    assert report.pushes.duplicates >= 12
    assert report.pushes.late >= 5, "stale snapshots arrived after newer news"
    assert report.pushes.accepted == report.pushes.sent
    assert {"lost response", "401 expired token", "5010 stale on a void"} <= set(
        report.faults_injected
    ) | {f.split(" x")[0] for f in report.faults_injected}
    assert not report.duplicate_customers


def test_parked_orders_were_replayed_and_posted_once(report: DayReport) -> None:
    assert report.parked, "the inactive gift-card item must park some orders"
    assert all("Gift Cards" in why and "inactive" in why for why in report.parked.values()), (
        report.parked
    )
    assert report.replayed >= len(report.parked)
    parked_ids = {key.rsplit("#", 1)[1] for key in report.parked}
    for check in report.checks:
        if check.view.store_id in parked_ids:
            assert "replayed" in check.audit_events


def test_the_books_tie_out_for_payments_refunds_and_currencies(report: DayReport) -> None:
    # Every row of "What your books look like" happened
    assert report.paid_invoices >= 50 and report.open_invoices >= 5
    assert report.payments >= report.paid_invoices
    assert report.refund_receipts >= 8 and report.credit_memos >= 1
    assert report.refunds == report.refund_receipts + report.credit_memos
    foreign = report.pushes.foreign_orders
    assert len(foreign) == 5 and sum(foreign.values()) >= 12
    assert report.long_numbers >= 4
    assert any(c.view.status == "refunded" for c in report.checks)
    # And for each of them the books say what the store says (OrderCheck.problems lists them)
    assert [(c.view.number, c.problems) for c in report.checks if c.problems] == []
    assert report.doc_number_problems == []
    assert not report.duplicate_customers

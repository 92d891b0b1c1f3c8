"""The local runtime end to end: 120 WooCommerce orders into a simulated QuickBooks Online.

Signed webhooks with repeats and stale, reordered deliveries; QuickBooks throttles,
loses a response, answers 503, reports a stale SyncToken and expires the access
token; an inactive item parks orders until the bookkeeper reactivates it and
replays them. Every order must end with exactly one document whose total equals
the store's to the cent, and an audit trail; and the books must tie out: payments
in the accounts their gateways map to, refunds netting each order to the store's
net, foreign orders in their own currency, DocNumbers that fit and never repeat.
"""

from __future__ import annotations

import pytest

from simulators.scenario import POSTING, Scenario, ScenarioReport


@pytest.fixture(scope="module")
def report() -> ScenarioReport:
    return Scenario(orders=120, seed=11).run()


def test_every_order_has_exactly_one_document_with_the_store_total(report: ScenarioReport) -> None:
    assert report.orders == 120
    problems = [
        (c.number, c.status, c.documents, str(c.ledger_total), str(c.store_total))
        for c in report.problems
    ]
    assert problems == []
    postable = [c for c in report.checks if c.status in POSTING]
    assert len(postable) > 80, "the scenario must post most orders"
    assert all(c.documents == 1 and c.ledger_total == c.store_total for c in postable)


def test_each_order_has_an_audit_trail_from_receipt_to_its_outcome(report: ScenarioReport) -> None:
    for check in report.checks:
        assert check.audit_events[0] == "received", check.number
        if check.status in POSTING:
            assert "posted" in check.audit_events, (check.number, check.audit_events)


def test_repeats_were_sent_and_absorbed_and_faults_were_injected(report: ScenarioReport) -> None:
    assert report.duplicate_deliveries >= 12
    assert report.webhooks_accepted == report.webhooks_sent
    assert {"lost response", "401 expired token", "5010 stale"} <= set(report.faults_injected) | {
        f.split(" x")[0] for f in report.faults_injected
    }
    assert not report.duplicate_customers


def test_parked_orders_were_replayed_and_posted_once(report: ScenarioReport) -> None:
    assert report.parked, "the inactive gift-card item must park some orders"
    assert all("Gift Cards" in why and "inactive" in why for why in report.parked.values()), (
        report.parked
    )
    assert report.replayed >= len(report.parked)
    parked_numbers = {key.rsplit("#", 1)[1] for key in report.parked}
    for check in report.checks:
        if str(check.order_id) in parked_numbers:
            assert "replayed" in check.audit_events


def test_the_books_tie_out_for_payments_refunds_and_currencies(report: ScenarioReport) -> None:
    # Every row of "What your books look like" happened
    assert report.paid_invoices >= 50 and report.open_invoices >= 5
    assert report.payments >= report.paid_invoices
    assert report.refund_receipts >= 8 and report.credit_memos >= 1
    assert report.refunds == report.refund_receipts + report.credit_memos
    assert len(report.foreign_orders) == 5 and sum(report.foreign_orders.values()) >= 12
    assert report.long_numbers >= 4
    assert any(c.status == "refunded" for c in report.checks)
    # And for each of them the books say what the store says (OrderCheck.books lists problems)
    assert [(c.number, c.books) for c in report.checks if c.books] == []
    assert report.doc_number_problems == []
    assert not report.duplicate_customers

"""QuickBooks Desktop end to end: 300 orders through the local runtime and the simulated Web Connector.

Webhooks -> sync worker -> the connection's outbox -> Web Connector sessions into a
simulated company file that answers lookups as QuickBooks Desktop does (500 for a name
it lacks). The sessions include a dropped connection, two responses lost after
QuickBooks did the work, a locked invoice, a customer name held by a vendor and a
company file that will not open. Some buyers' names are Japanese, which Latin-1 cannot
write. Buyers pay by card, bank transfer or cheque (some of them later); orders are
cancelled, and refunded by line, shipping, amount or in full, paid and unpaid. The company
file has Multiple Currencies and class tracking on: some orders are in CAD or EUR, and
revenue rules put gift cards and a wholesale buyer's orders under classes, with payment
terms per customer group.
"""

from __future__ import annotations

import pytest

from simulators.qbd_scenario import (
    FOREIGN,
    NON_LATIN_GUEST,
    NON_LATIN_REGISTERED,
    WHOLESALE_BUYER,
    DeskScenario,
    DeskScenarioReport,
)
from simulators.scenario import POSTING


@pytest.fixture(scope="module")
def report() -> DeskScenarioReport:
    return DeskScenario(orders=300, seed=3).run()


def test_every_order_is_one_transaction_with_the_store_total(report: DeskScenarioReport) -> None:
    assert report.orders == 300
    assert [
        (c.number, c.status, c.transactions, str(c.ledger_total), str(c.store_total))
        for c in report.problems
    ] == []
    postable = [c for c in report.checks if c.status in POSTING]
    assert len(postable) > 150
    assert all(c.transactions == 1 and c.ledger_total == c.store_total for c in postable)


def test_customers_are_created_once_and_refunds_are_credit_memos(
    report: DeskScenarioReport,
) -> None:
    assert report.duplicate_customers == []
    assert report.refunds and report.refund_problems == []


def test_the_sessions_met_the_faults_and_ended_idle(report: DeskScenarioReport) -> None:
    outcomes = [s.outcome for s in report.sessions]
    assert {"dropped", "response_lost", "connection_error"} <= set(outcomes)
    assert outcomes.count("response_lost") == 2, "a lost answer, then the next run's too"
    assert outcomes[-1] == "none", "the last session finds nothing waiting"
    assert report.statuses.get(3175) == 1, "the locked invoice was retried"
    assert report.statuses.get(3100, 0) >= 1, "the vendor-held name was met"


def test_every_buyer_is_exactly_one_customer_japanese_names_included(
    report: DeskScenarioReport,
) -> None:
    # The company answered the lookups of new buyers' names 500, as QuickBooks does
    assert report.statuses.get(500, 0) > 0
    # Every buyer whose orders reached QuickBooks is one customer per currency, and no two
    # share one
    assert report.buyer_problems == []
    assert len(report.customers_by_buyer) >= 8
    # Buyers whose names Latin-1 cannot write are told apart by their e-mail
    for person in (*NON_LATIN_REGISTERED, NON_LATIN_GUEST):
        assert report.customers_by_buyer[(person.email, "USD")] == {f"Customer ({person.email})"}


def test_foreign_orders_are_in_their_currency_for_the_buyers_customer_in_it(
    report: DeskScenarioReport,
) -> None:
    # Each transaction and its customer are in the order's currency (checked per order)
    assert report.currency_problems == []
    assert set(report.foreign_orders) == set(FOREIGN) and sum(report.foreign_orders.values()) > 20
    # A buyer who paid in several currencies is one customer in each, named for the currency
    foreign = {key: names for key, names in report.customers_by_buyer.items() if key[1] != "USD"}
    assert foreign and all(
        len(names) == 1 and next(iter(names)).endswith(f" ({currency})")
        for (_, currency), names in foreign.items()
    )
    both = {buyer for buyer, currency in foreign} & {
        buyer for buyer, currency in report.customers_by_buyer if currency == "USD"
    }
    assert both, "some buyers paid in USD and in another currency"


def test_revenue_rules_classes_and_terms_land_on_every_document(
    report: DeskScenarioReport,
) -> None:
    # Per order: gift-card lines under Gift Cards, the wholesale buyer's under Wholesale, the
    # order's own class on the header and its other lines; invoices on the group's terms
    assert report.rules_problems == []
    assert report.classed["Gift Cards"] > 10 and report.classed["Wholesale"] > 10
    assert report.terms["Net 30"] > 5 and report.terms["Due on receipt"] > 50
    assert (WHOLESALE_BUYER.email, "USD") in report.customers_by_buyer


def test_the_books_tie_out_per_order(report: DeskScenarioReport) -> None:
    # Every order's documents net to the store's net to the cent; paid invoices are paid off
    # into the account their gateway maps to; unpaid ones stay open for what is owed; every
    # refund of money taken is paid out; no RefNumber is longer than QuickBooks keeps.
    assert report.books_problems == []
    assert report.payments > 100 and report.paid_later, "card orders and some paid later"
    assert report.refunds_paid_out > 0
    kinds = set(report.refund_kinds)
    assert {"line paid", "amount paid", "full paid"} <= kinds
    assert any(kind.endswith(" unpaid") for kind in kinds), "refunds of unpaid invoices too"

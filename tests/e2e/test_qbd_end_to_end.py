"""QuickBooks Desktop end to end: 300 WooCommerce orders through the local runtime and the
simulated Web Connector.

Webhooks (twice, late and stale) -> sync worker -> the connection's outbox -> Web Connector
sessions into a simulated company file that answers lookups as QuickBooks Desktop does (500
for a name it lacks). The sessions include a dropped connection, two responses lost after
QuickBooks did the work, a locked invoice, a customer name held by a vendor and a company
file that will not open. Some buyers' names are Japanese, which Latin-1 cannot write. Buyers
pay by card or bank transfer (some of them later); orders are cancelled, and refunded by
line, shipping, amount or in full, paid and unpaid. The company file has Multiple Currencies
and class tracking on: some orders are in CAD or EUR, and revenue rules put gift cards and a
wholesale buyer's orders under classes, with payment terms per customer group.
"""

from __future__ import annotations

import pytest

from simulators.shops import WooCommerceDriver
from simulators.shops.desktop import DeskDayReport, DesktopDay
from simulators.shops.stream import NON_LATIN_GUEST, NON_LATIN_REGISTERED, WHOLESALE_BUYER

FOREIGN = ("CAD", "EUR")  # the store gives no rate: QuickBooks uses its own


@pytest.fixture(scope="module")
def report() -> DeskDayReport:
    return DesktopDay(
        WooCommerceDriver(seed=3),
        orders=300,
        seed=3,
        foreign=FOREIGN,
        unusual_buyers=True,
        rules=True,
    ).run()


def test_every_order_is_one_transaction_with_the_store_total(report: DeskDayReport) -> None:
    assert report.orders == 300
    assert [(c.view.number, c.view.status, c.problems) for c in report.problems] == []
    postable = [c for c in report.checks if c.view.outcome == "posts"]
    assert len(postable) > 150
    assert all(c.transactions == 1 and c.ledger_total == c.view.total for c in postable)


def test_customers_are_created_once_and_refunds_are_credit_memos(report: DeskDayReport) -> None:
    assert report.duplicate_customers == []
    made = sum(n for what, n in report.pushes.changes.items() if what.startswith("refund"))
    # Each store refund is one credit memo for its amount (checked per order)
    assert made and report.credit_memos == made


def test_the_sessions_met_the_faults_and_ended_idle(report: DeskDayReport) -> None:
    outcomes = [s.outcome for s in report.sessions]
    assert {"dropped", "response_lost", "connection_error"} <= set(outcomes)
    assert outcomes.count("response_lost") == 2, "a lost answer, then the next run's too"
    assert outcomes[-1] == "none", "the last session finds nothing waiting"
    assert report.statuses.get(3175) == 1, "the locked invoice was retried"
    assert report.statuses.get(3100, 0) >= 1, "the vendor-held name was met"


def test_every_buyer_is_exactly_one_customer_japanese_names_included(
    report: DeskDayReport,
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
    report: DeskDayReport,
) -> None:
    # Each transaction and its customer are in the order's currency (checked per order)
    assert [c.problems for c in report.checks if any(" yet " in p for p in c.problems)] == []
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


def test_revenue_rules_classes_and_terms_land_on_every_document(report: DeskDayReport) -> None:
    # Per order: gift-card lines under Gift Cards, the wholesale buyer's under Wholesale, the
    # order's own class on the header and its other lines; invoices on the group's terms
    assert [c.problems for c in report.checks if any("classes" in p or "terms" in p
                                                     for p in c.problems)] == []  # fmt: skip
    assert report.classed["Gift Cards"] > 10 and report.classed["Wholesale"] > 10
    assert report.terms["Net 30"] > 5 and report.terms["Due on receipt"] > 50
    assert (WHOLESALE_BUYER.email, "USD") in report.customers_by_buyer


def test_the_books_tie_out_per_order(report: DeskDayReport) -> None:
    # Every order's documents net to the store's net to the cent; paid invoices are paid off
    # into the account their gateway maps to; unpaid ones stay open for what is owed; every
    # refund of money taken is paid out; no RefNumber is longer than QuickBooks keeps.
    assert [(c.view.number, c.problems) for c in report.problems] == []
    assert report.ref_number_problems == []
    assert report.payments > 100 and report.pushes.changes["pay"], "card orders, some paid later"
    assert report.refunds_paid_out > 0
    kinds = set(report.pushes.refund_kinds)
    assert {"line paid", "amount paid", "full paid"} <= kinds
    assert any(kind.endswith(" unpaid") for kind in kinds), "refunds of unpaid invoices too"

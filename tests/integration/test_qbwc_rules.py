"""Revenue rules and payment terms on QuickBooks Desktop, through POST /qbwc/{connection}, the
simulated Web Connector and the simulated company file: classes, income accounts' items and
terms land where the rules say, and what the company file lacks parks naming it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest

from connector.model import RefundLine, TaxAmount
from simulators.qbd import QbdCompany
from simulators.qbwc import WebConnector
from simulators.testbed.desktop import PASSWORD, USER, QbwcRig, QbwcRigs
from simulators.testbed.orders import refund_of, taxed_order

pytestmark = pytest.mark.reference
RULES: dict[str, Any] = {
    "rules": [
        {"when": {"customer_group": "vip"}, "class": "Nope"},
        {"when": {"sku": "LOST"}, "income_account": "No Such Account"},
        {"when": {"sku": "MUG"}, "class": "Retail", "income_account": "Gift income"},
    ],
    "terms": {"wholesale_customer": "Net 30", "late": "Net 45"},
}


@contextmanager
def books(
    qbwc_rig: QbwcRigs, *, class_tracking: bool
) -> Iterator[tuple[QbwcRig, QbdCompany, WebConnector]]:
    company = QbdCompany(class_tracking=class_tracking)
    company.add_list_record("Account", "Gift income", AccountType="Income")
    with (
        qbwc_rig(**RULES) as rig,
        WebConnector(rig.url, USER, PASSWORD, company, noop_pause_s=0.01) as wc,
    ):
        yield rig, company, wc


def drain(rig: QbwcRig, wc: WebConnector) -> None:
    for _ in range(6):
        if wc.run_session().outcome == "none":
            return
        rig.let_sessions_lapse()
    raise AssertionError(f"the outbox did not drain: {[s.outcome for s in wc.sessions]}")


def test_classes_account_items_and_terms_land_and_a_refund_follows_its_lines_classes(
    qbwc_rig: QbwcRigs,
) -> None:
    with books(qbwc_rig, class_tracking=True) as (rig, company, wc):
        # Given a wholesale buyer's order of mugs, which the rules class and post to Gift income
        order = taxed_order(1, group="wholesale_customer")
        rig.queue(order)
        # When the Web Connector runs
        drain(rig, wc)
        # Then the invoice is a Retail one, line by line, on Net 30 terms
        [invoice] = company.transactions("Invoice")
        assert rig.sync_state(1).status == "posted"
        assert (invoice.class_name, invoice.terms) == ("Retail", "Net 30")
        assert [(line.item, line.class_name) for line in invoice.lines] == [
            ("Sales (Gift income)", "Retail"),
            ("Shipping", "Retail"),
            ("Sales Tax", "Retail"),
        ]
        # And the mug posts through an item of its own whose income account is Gift income
        assert company.items()["Sales (Gift income)"] == "ItemNonInventory"
        item = company.lists.by_name(("ItemNonInventory",), "Sales (Gift income)")
        sales = item.nested("SalesOrPurchase") if item is not None else None
        assert sales is not None and sales.findtext("AccountRef/FullName") == "Gift income"
        # When one mug is refunded
        mug = RefundLine(line_id="1", sku="MUG", name="Mug", quantity=Decimal(1),
                         total=Decimal("10.00"), taxes=(TaxAmount(rate_id="1", amount=Decimal("0.80")),))  # fmt: skip
        refund = refund_of(order, 91, "10.80").model_copy(update={"lines": (mug,)})
        rig.queue_refund(refund, order)
        drain(rig, wc)
        # Then its credit memo goes back on the same item, under the same class
        [memo] = company.transactions("CreditMemo")
        assert memo.class_name == "Retail" and memo.terms is None
        assert [(line.item, line.class_name) for line in memo.lines] == [
            ("Sales (Gift income)", "Retail"),
            ("Sales Tax", "Retail"),
        ]
        assert memo.total == Decimal("10.80")


def test_what_the_company_file_lacks_parks_naming_it(qbwc_rig: QbwcRigs) -> None:
    with books(qbwc_rig, class_tracking=True) as (rig, company, wc):
        # Given orders naming a class, terms and an income account the company file lacks
        rig.queue(taxed_order(2, group="vip"))
        rig.queue(taxed_order(3, group="late"))
        rig.queue(taxed_order(4, sku="LOST"))
        # When the Web Connector runs
        drain(rig, wc)
        # Then each parks naming what to create, and no document is added
        reasons = {n: rig.sync_state(n) for n in (2, 3, 4)}
        assert {s.status for s in reasons.values()} == {"parked"}
        assert "no class named 'Nope'" in (reasons[2].last_error or "")
        assert "no payment terms named 'Net 45'" in (reasons[3].last_error or "")
        assert "no account named 'No Such Account'" in (reasons[4].last_error or "")
        assert company.transactions() == []


def test_classes_park_naming_the_preference_while_class_tracking_is_off(qbwc_rig: QbwcRigs) -> None:
    with books(qbwc_rig, class_tracking=False) as (rig, company, wc):
        rig.queue(taxed_order(5))
        drain(rig, wc)
        state = rig.sync_state(5)
        assert state.status == "parked"
        assert 'Edit → Preferences → Accounting → Company Preferences → "Use class tracking"' in (
            state.last_error or ""
        )
        assert company.transactions() == []
        assert company.statuses[3250] == 0  # parked before anything was sent

"""Tax that rounds differently: the store's tax wins in a non-US QuickBooks Online company.

WooCommerce rounds tax per line; QuickBooks computes it per rate on the subtotal. Through the
whole local path, each test reads what a bookkeeper would: the invoice's total and its tax
per rate in QuickBooks, and the audit trail's word that the store's amount was kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from simulators.testbed.online import QboRig, QboRigs, connection_settings
from simulators.woocommerce import LineSpec, OrderSpec
from simulators.woocommerce_catalogue import GUESTS

SHOP = "uk-shop"
PRINT, BOOK, STICKERS = 11, 12, 14  # 24.99 and 3.33 at 20% VAT; 7.99 at 5%
OLIVER = GUESTS[2]  # Leeds, GB


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    mapping = {
        "fallback_item": "Sales",
        "shipping_item": "Shipping",
        "tax": {
            "mode": "per_rate",
            "codes": {"5": "20.0% S", "6": "5.0% R"},
            "exempt_code": "Exempt",
        },
    }
    return [connection_settings(SHOP, woo_url=woo_url, qbo_url=qbo_url, mapping=mapping)]


@pytest.fixture(scope="module")
def rig(qbo_rig: QboRigs) -> Iterator[QboRig]:
    with qbo_rig(_connections, country="GB") as running:
        yield running


def _order(rig: QboRig, *lines: tuple[int, int], **spec: Any) -> dict[str, Any]:
    spec.setdefault("guest", OLIVER)
    spec.setdefault("currency", "GBP")
    return rig.woo.create_order(OrderSpec(lines=[LineSpec(p, q) for p, q in lines], **spec))


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


def _tax_by_rate(document: dict[str, Any]) -> dict[str, Decimal]:
    return {
        t["TaxLineDetail"]["TaxRateRef"]["value"]: _money(t["Amount"])
        for t in document["TxnTaxDetail"]["TaxLine"]
    }


def _store_tax_by_rate(order: dict[str, Any]) -> dict[int, Decimal]:
    return {
        t["rate_id"]: _money(t["tax_total"]) + _money(t["shipping_tax_total"])
        for t in order["tax_lines"]
    }


def test_per_line_rounding_posts_the_store_total_and_is_audited(rig: QboRig) -> None:
    # Given a print (24.99: 4.998 VAT, 5.00 on its line), stickers (3.33: 0.666, 0.67) and
    # flat-rate shipping (7.95: 1.59): the store charges 7.26 VAT; 20% of 36.27 is 7.254
    order = _order(rig, (PRINT, 1), (STICKERS, 1), shipping="flat_rate")
    assert _store_tax_by_rate(order) == {5: Decimal("7.26")}
    # When it syncs
    rig.sync(SHOP, "order.created", order["id"])
    # Then QuickBooks holds the store's total to the cent, and the store's VAT for the rate
    (invoice,) = rig.documents("Invoice", order["id"])
    assert _money(invoice["TotalAmt"]) == Decimal(order["total"]) == Decimal("43.53")
    assert _tax_by_rate(invoice) == {"1": Decimal("7.26")}
    assert _money(invoice["TxnTaxDetail"]["TotalTax"]) == Decimal("7.26")
    (line,) = invoice["TxnTaxDetail"]["TaxLine"]
    assert _money(line["TaxLineDetail"]["NetAmountTaxable"]) == Decimal("36.27")
    # and the audit trail says which rate was adjusted, with no total mismatch
    events = rig.audit(SHOP, order["id"])
    (adjusted,) = [e for e in events if e.event == "tax_adjusted"]
    assert adjusted.outcome == (
        "tax 20.0% S (20%) on 36.27: store 7.26, QuickBooks would compute 7.25; store's amount kept"
    )
    assert adjusted.ledger_id == invoice["Id"]
    assert "total_mismatch" not in [e.event for e in events]


def test_two_rates_on_one_invoice_each_keep_the_store_amount(rig: QboRig) -> None:
    # Given two prints at 20% (9.996: 10.00 on the line) and three books at 5% (1.1985: 1.20)
    order = _order(rig, (PRINT, 2), (BOOK, 3), shipping=None)
    rig.sync(SHOP, "order.created", order["id"])
    (invoice,) = rig.documents("Invoice", order["id"])
    assert _tax_by_rate(invoice) == {"1": Decimal("10.00"), "2": Decimal("1.20")}
    assert _money(invoice["TotalAmt"]) == Decimal(order["total"])
    # and QuickBooks agrees on both (49.98 and 23.97 round the same way): nothing to report
    assert "tax_adjusted" not in rig.events(SHOP, order["id"])


def test_a_known_company_costs_no_reads_for_tax_codes_and_rates(rig: QboRig) -> None:
    # Given a company whose codes and rates an earlier order read
    first = _order(rig, (STICKERS, 1), shipping=None)
    rig.sync(SHOP, "order.created", first["id"])
    # When the same buyer orders again, with the same rates
    mark = len(rig.qbo.request_log)
    second = _order(rig, (STICKERS, 2), (BOOK, 1), shipping="flat_rate")
    rig.sync(SHOP, "order.created", second["id"])
    # Then nothing is asked of QuickBooks but the writes, and the total is still the store's
    calls = [(r.method, r.path.rsplit("/", 1)[-1]) for r in rig.requests_since(mark)]
    assert ("GET", "query") not in calls, calls
    assert [c for c in calls if c[0] == "POST"] == [("POST", "invoice"), ("POST", "payment")]
    (invoice,) = rig.documents("Invoice", second["id"])
    assert _money(invoice["TotalAmt"]) == Decimal(second["total"])
    # and the cached facts are in the state table, per tax code Id (and per company)
    cached = rig.state.for_company(rig.qbo.realm_id).mappings(SHOP, "taxcode-rates")
    assert set(cached) >= {"2", "3"}


def test_a_refund_gives_back_the_store_tax_per_rate(rig: QboRig) -> None:
    # Given a paid order of a print and stickers, both refunded: 5.00 + 0.67 VAT by the lines,
    # where QuickBooks would take 20% of 28.32, 5.66
    order = _order(rig, (PRINT, 1), (STICKERS, 1), shipping=None)
    rig.sync(SHOP, "order.created", order["id"])
    items = {line["id"]: 1 for line in order["line_items"]}
    refund = rig.woo.add_refund(order["id"], items=items, reason="wrong address")
    rig.sync(SHOP, "order.updated", order["id"])
    # Then the refund receipt gives back the store's amount, its VAT as the store refunded it
    (receipt,) = rig.documents("RefundReceipt", order["id"])
    assert _money(receipt["TotalAmt"]) == Decimal(refund["amount"]) == Decimal("33.99")
    assert _tax_by_rate(receipt) == {"1": Decimal("5.67")}
    # and the refund's audit trail has the adjustment, not a mismatch
    events = rig.events(SHOP, refund["id"], "refund")
    assert "tax_adjusted" in events and "total_mismatch" not in events


def test_codes_known_by_id_alone_have_their_rates_read_once(rig: QboRig) -> None:
    # Given a connection that cached its tax code ids before rates were cached too
    first = _order(rig, (PRINT, 1), shipping=None)
    rig.sync(SHOP, "order.created", first["id"])
    company = rig.state.for_company(rig.qbo.realm_id)
    for code_id in company.mappings(SHOP, "taxcode-rates"):
        company.delete_mapping(SHOP, "taxcode-rates", code_id)
    # When the next order posts
    mark = len(rig.qbo.request_log)
    second = _order(rig, (PRINT, 1), (BOOK, 1), shipping=None)
    rig.sync(SHOP, "order.created", second["id"])
    # Then the codes are read by Id and their rates in one query each, and cached again
    queries = [r.query.get("query", "") for r in rig.requests_since(mark) if r.method == "GET"]
    assert [q.split(" WHERE ")[0] for q in queries] == [
        "SELECT * FROM TaxCode",
        "SELECT * FROM TaxRate",
    ], queries
    assert "Id IN ('2', '3')" in queries[0]
    (invoice,) = rig.documents("Invoice", second["id"])
    assert _money(invoice["TotalAmt"]) == Decimal(second["total"])
    assert set(company.mappings(SHOP, "taxcode-rates")) == {"2", "3"}

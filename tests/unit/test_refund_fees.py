"""A Magento credit memo with an adjustment fee: the refund document carries the fee as a
negative line on the refund item and totals exactly what Magento refunded, on QuickBooks
Online and Desktop alike."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from connector.config import Connection, MagentoStore, MappingRules, QbdLedger, QboLedger
from connector.errors import PermanentError
from connector.ledgers.qbd import qbxml
from connector.ledgers.qbo.documents import ResolvedRefs, document_total
from connector.ledgers.qbo.payments import MoneyRefs, build_refund_document, refund_item_names
from connector.model import Order, Refund
from connector.stores.magento.normalise import normalise_order, normalise_refund

D = Decimal
MAPPING = {"fallback_item": "Sales", "shipping_item": "Shipping", "refund_item": "Refunds"}
ITEM_IDS = {"Sales": "1", "Shipping": "30", "Refunds": "77"}
MONEY = MoneyRefs(customer_id="58", deposit_account_id="35")


def _order() -> Order:
    """A paid order: the tee 22.00 and 5.00 shipping, no tax."""
    raw: dict[str, Any] = {
        "entity_id": 41, "increment_id": "000000041", "status": "complete",
        "created_at": "2026-03-01 10:00:00", "order_currency_code": "USD",
        "base_currency_code": "USD", "customer_is_guest": 1, "customer_email": "gail@example.com",
        "subtotal": 22, "shipping_amount": 5, "shipping_description": "Flat Rate - Fixed",
        "tax_amount": 0, "grand_total": 27, "total_paid": 27,
        "items": [{"item_id": 10, "sku": "WS12-M-Orange", "name": "Radiant Tee-M-Orange",
                   "product_type": "simple", "qty_ordered": 1, "price": 22, "row_total": 22}],
    }  # fmt: skip
    return normalise_order(raw, "shop")


def _memo(positive: str, negative: str, grand: str) -> dict[str, Any]:
    """The tee and the shipping refunded, with Magento's two adjustments."""
    return {
        "entity_id": 3, "order_id": 41, "increment_id": "000000003",
        "created_at": "2026-03-05 09:00:00", "grand_total": grand, "subtotal": 22,
        "shipping_amount": 5, "adjustment_positive": positive, "adjustment_negative": negative,
        "customer_note": "Restocking",
        "items": [{"entity_id": 30, "order_item_id": 10, "sku": "WS12-M-Orange", "qty": 1,
                   "row_total": 22}],
    }  # fmt: skip


def _connection(ledger: QboLedger | QbdLedger) -> Connection:
    return Connection(
        id="shop",
        store=MagentoStore(kind="magento", url="https://shop.example.com"),
        ledger=ledger,
        mapping=MappingRules(**MAPPING),
    )


def _qbo_lines(refund: Refund, order: Order) -> tuple[list[tuple[str, str, Decimal]], Decimal]:
    connection = _connection(QboLedger(kind="qbo"))
    assert refund_item_names(refund, order, connection) >= {"Refunds"}
    body = build_refund_document(
        refund, order, connection, ResolvedRefs(customer_id="58", items=ITEM_IDS), MONEY,
        entity="RefundReceipt", doc_number="R3",
    )  # fmt: skip
    lines = [
        (
            line["Description"],
            line["SalesItemLineDetail"]["ItemRef"]["name"],
            D(str(line["Amount"])),
        )
        for line in body["Line"]
    ]
    return lines, document_total(body)


def test_a_fee_larger_than_the_adjustment_refund_is_a_negative_line_on_the_refund_item() -> None:
    # Given a credit memo of 24.00: tee 22.00 + shipping 5.00 + 1.00 refunded - 4.00 fee
    order = _order()
    refund = normalise_refund(_memo("1", "4", "24"), order, {})
    assert (refund.amount, refund.fee) == (D("24.00"), D("4.00"))
    # When its QuickBooks Online refund receipt is built
    lines, total = _qbo_lines(refund, order)
    # Then each adjustment is a line of its own on the refund item, the fee negative
    assert lines == [
        ("Radiant Tee-M-Orange", "Sales", D("22.00")),
        ("Flat Rate - Fixed", "Shipping", D("5.00")),
        ("Refund: Restocking", "Refunds", D("1.00")),
        ("Adjustment fee: Restocking", "Refunds", D("-4.00")),
    ]
    # And the document totals what Magento refunded, to the cent
    assert total == D("24.00")


def test_a_fee_alone_leaves_no_zero_refund_line() -> None:
    order = _order()
    refund = normalise_refund(_memo("0", "2.50", "24.50"), order, {})
    lines, total = _qbo_lines(refund, order)
    assert [(description, amount) for description, _, amount in lines][2:] == [
        ("Adjustment fee: Restocking", D("-2.50"))
    ]
    assert total == D("24.50")


def test_without_a_fee_the_document_is_as_before() -> None:
    order = _order()
    refund = normalise_refund(_memo("3", "0", "30"), order, {})
    assert refund.fee == 0 and "fee" not in refund.model_dump()  # the refund's digest is unchanged
    lines, total = _qbo_lines(refund, order)
    assert lines[2:] == [("Refund: Restocking", "Refunds", D("3.00"))] and total == D("30.00")


def test_lines_beyond_the_refund_and_its_fee_are_still_refused() -> None:
    # A memo whose figures Magento could not have made: the lines give back more than the
    # refund and its fee explain
    order = _order()
    refund = normalise_refund(_memo("0", "4", "23"), order, {}).model_copy(
        update={"amount": D("20.00")}
    )
    with pytest.raises(PermanentError, match=r"a fee of 4\.00 kept back"):
        _qbo_lines(refund, order)


def test_a_fee_without_a_refund_or_fallback_item_names_the_setting() -> None:
    order = _order()
    refund = normalise_refund(_memo("0", "4", "23"), order, {})
    connection = Connection(
        id="shop",
        store=MagentoStore(kind="magento", url="https://shop.example.com"),
        ledger=QboLedger(kind="qbo"),
        mapping=MappingRules(shipping_item="Shipping", items={"WS12-M-Orange": "Tee"}),
    )
    with pytest.raises(PermanentError, match=r"keeps back a fee of 4\.00 USD.*refund_item"):
        refund_item_names(refund, order, connection)


def test_desktop_credit_memo_carries_the_fee_as_a_negative_line_too() -> None:
    # Given the same credit memo for a QuickBooks Desktop company
    order = _order()
    refund = normalise_refund(_memo("1", "4", "24"), order, {})
    connection = _connection(QbdLedger(kind="qbd"))
    refs = qbxml.refs_for_refund(refund, connection, customer="Gail Guest")
    # When its CreditMemoAdd is built
    request = qbxml.credit_memo_add(refund, refs, request_id="r")
    lines = [
        (
            line.findtext("ItemRef/FullName"),
            line.findtext("Desc"),
            D(line.findtext("Amount") or "0"),
        )
        for line in request.element.iter("CreditMemoLineAdd")
    ]
    # Then the fee is its own negative line on the refund item and the lines total 24.00
    assert lines[2:] == [
        ("Refunds", "Refund: Restocking", D("1.00")),
        ("Refunds", "Adjustment fee: Restocking", D("-4.00")),
    ]
    assert sum(amount for _, _, amount in lines) == D("24.00")

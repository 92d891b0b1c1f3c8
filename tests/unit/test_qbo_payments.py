"""QuickBooks Online payments and refund documents: what a bookkeeper reconciles against."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connector.config import MappingRules, PaymentRoute
from connector.errors import PermanentError
from connector.ledgers.qbo.documents import ResolvedRefs, build_sales_document, document_total
from connector.ledgers.qbo.payments import (
    MoneyRefs,
    build_credit_application,
    build_payment,
    build_refund_document,
    refund_item_names,
)
from connector.model import Order, Payment, Refund, RefundLine, ShippingLine
from simulators.testbed.orders import item, make_order, refund_of, tax
from simulators.testbed.refs import QBO_REFS, online_connection

D = Decimal
PAID_AT = datetime(2024, 5, 3, 9, 0, tzinfo=UTC)
MONEY = MoneyRefs(customer_id="58", deposit_account_id="35", payment_method_id="4")


def paid_order(transaction_id: str = "ch_3PQ") -> Order:
    return make_order(
        lines=(item("1", "MUG-01", 2, "20.00", "20.00", tax("1", "1.60")),),
        shipping_lines=(ShippingLine(line_id="9", method="Flat rate", total=D("5.00")),),
        payment=Payment(
            method="stripe",
            method_title="Credit card (Stripe)",
            paid_at=PAID_AT,
            transaction_id=transaction_id,
        ),
    )


def refund(amount: str, *lines: RefundLine, reason: str = "") -> Refund:
    """Refund 801 of order 1042 (id 727)."""
    when = datetime(2024, 5, 9, 12, 0, tzinfo=UTC)
    return refund_of(make_order(), 801, amount, lines=lines, reason=reason, created_at=when)


# --- configuration ---------------------------------------------------------------------------


def test_a_mapped_payment_method_routes_its_money_and_others_take_the_default() -> None:
    # Given stripe mapped, and a default for the rest
    rules = MappingRules(
        payments={
            "stripe": PaymentRoute(method="Visa", deposit_account="Stripe Clearing"),
            "default": PaymentRoute(deposit_account="Checking"),
        }
    )
    # Then stripe is mapped, paypal falls to the default, and no mapping means Undeposited Funds
    assert rules.payment_route("stripe") == (
        PaymentRoute(method="Visa", deposit_account="Stripe Clearing"),
        True,
    )
    assert rules.payment_route("paypal") == (PaymentRoute(deposit_account="Checking"), False)
    assert MappingRules().payment_route("bacs") == (
        PaymentRoute(deposit_account="Undeposited Funds"),
        False,
    )


# --- payments --------------------------------------------------------------------------------


def test_a_paid_invoice_gets_one_payment_linked_to_it_in_the_mapped_account() -> None:
    # Given a paid order whose invoice is 1001
    order = paid_order()
    # When its payment is built
    body = build_payment(order, online_connection(), MONEY, invoice_id="1001", applied=order.total)
    # Then it pays the whole total into the account its gateway maps to, linked to the invoice
    assert body["TotalAmt"] == D("26.60")
    assert body["Line"] == [
        {"Amount": D("26.60"), "LinkedTxn": [{"TxnId": "1001", "TxnType": "Invoice"}]}
    ]
    assert body["DepositToAccountRef"] == {"value": "35"}
    assert body["PaymentMethodRef"] == {"value": "4"}
    assert body["PaymentRefNum"] == "ch_3PQ"
    assert body["TxnDate"] == "2024-05-03"
    assert body["CustomerRef"] == {"value": "58"}
    assert "WooCommerce order #1042 (id 727)" in body["PrivateNote"]


def test_a_long_transaction_id_is_cut_in_the_reference_and_kept_whole_in_the_note() -> None:
    long_id = "pi_" + "x" * 40
    order = paid_order(long_id)
    body = build_payment(order, online_connection(), MONEY, invoice_id="1", applied=D("26.60"))
    assert body["PaymentRefNum"] == long_id[:21]
    assert long_id in body["PrivateNote"]


def test_a_sales_receipt_carries_its_payment_method_and_deposit_account() -> None:
    order = paid_order()
    refs = QBO_REFS.model_copy(update={"payment_method_id": "4", "deposit_account_id": "35"})
    body = build_sales_document(order, online_connection("sales_receipt"), refs)
    assert body["PaymentMethodRef"] == {"value": "4"}
    assert body["DepositToAccountRef"] == {"value": "35"}


def test_a_credit_memo_is_applied_by_a_zero_payment_linking_both() -> None:
    body = build_credit_application("58", "USD", "1001", "1500", D("10.00"))
    assert body["TotalAmt"] == D("0.00")
    assert [link["LinkedTxn"][0]["TxnType"] for link in body["Line"]] == ["Invoice", "CreditMemo"]
    assert {line["Amount"] for line in body["Line"]} == {D("10.00")}


# --- refunds ---------------------------------------------------------------------------------


def refund_refs(**items: str) -> ResolvedRefs:
    return ResolvedRefs(customer_id="58", items={"Mug": "11", "Sales": "1", **items})


def test_a_line_refund_with_its_tax_totals_the_refunded_amount() -> None:
    # Given one mug of two refunded with its tax (US automated tax)
    order = paid_order()
    store_refund = refund("10.80", RefundLine(line_id="1", sku="MUG-01", name="Mug", quantity=D(1), total=D("10.00"), taxes=tax("1", "0.80")))  # fmt: skip
    # When its refund receipt is built
    body = build_refund_document(
        store_refund, order, online_connection(), refund_refs(), MONEY,
        entity="RefundReceipt", doc_number="R801",
    )  # fmt: skip
    # Then it refunds the mug's item and tax, out of the payment's deposit account
    (line,) = body["Line"]
    assert line["SalesItemLineDetail"]["ItemRef"] == {"value": "11", "name": "Mug"}
    assert line["SalesItemLineDetail"]["Qty"] == D(1)
    assert body["TxnTaxDetail"] == {"TotalTax": D("0.80")}
    assert document_total(body) == D("10.80")
    assert body["DepositToAccountRef"] == {"value": "35"}
    assert body["DocNumber"] == "R801"
    assert "WooCommerce refund 801 of order #1042 (id 727)" in body["PrivateNote"]


def test_an_amount_only_refund_lands_on_the_refund_item() -> None:
    order = paid_order()
    conn = online_connection(refund_item="Refunds")
    assert refund_item_names(refund("7.25"), order, conn) == {"Refunds"}
    body = build_refund_document(
        refund("7.25", reason="late delivery"), order, conn, refund_refs(Refunds="77"), MONEY,
        entity="RefundReceipt", doc_number="R801",
    )  # fmt: skip
    (line,) = body["Line"]
    assert line["SalesItemLineDetail"]["ItemRef"]["value"] == "77"
    assert line["Amount"] == D("7.25")
    assert line["Description"] == "Refund: late delivery"
    assert document_total(body) == D("7.25")


def test_shipping_refunds_use_the_shipping_item_and_a_credit_memo_has_no_deposit() -> None:
    order = paid_order()
    store_refund = refund("5.00", RefundLine(line_id="9", kind="shipping", sku=None, name="Flat rate", quantity=D(1), total=D("5.00")))  # fmt: skip
    conn = online_connection()
    assert refund_item_names(store_refund, order, conn) == {"Shipping"}
    body = build_refund_document(
        store_refund, order, conn, refund_refs(Shipping="30"), MONEY,
        entity="CreditMemo", doc_number="R801",
    )  # fmt: skip
    assert body["Line"][0]["SalesItemLineDetail"]["ItemRef"]["value"] == "30"
    assert "DepositToAccountRef" not in body
    assert document_total(body) == D("5.00")


def test_refund_lines_worth_more_than_the_refund_are_refused() -> None:
    order = paid_order()
    store_refund = refund("3.00", RefundLine(line_id="1", sku="MUG-01", name="Mug", quantity=D(1), total=D("10.00")))  # fmt: skip
    with pytest.raises(PermanentError, match=r"more than the refunded 3\.00"):
        build_refund_document(
            store_refund, order, online_connection(), refund_refs(), MONEY,
            entity="RefundReceipt", doc_number="R801",
        )  # fmt: skip


def test_an_amount_only_refund_without_a_refund_or_fallback_item_names_the_setting() -> None:
    order = paid_order()
    conn = online_connection(fallback_item=None)
    with pytest.raises(PermanentError, match=r"mapping\.refund_item nor mapping\.fallback_item"):
        refund_item_names(refund("7.25"), order, conn)


def test_a_refund_goes_back_through_the_class_item_and_location_its_line_was_sold_on() -> None:
    # Given a gift card sold on its account item with a class, and a US location
    rules = (
        {"when": {"sku": "GIFT-*"}, "class": "Gift cards", "income_account": "Gift card liability"},
        {"when": {"country": "US"}, "location": "US web"},
        {"class": "Retail"},
    )
    conn = online_connection(rules=rules)
    order = make_order(
        lines=(item("1", "GIFT-25", 1, "25.00", "25.00"), item("2", "MUG-01", 1, "10.00", "10.00")),
        shipping_lines=(ShippingLine(line_id="9", method="Flat rate", total=D("5.00")),),
    )
    store_refund = refund(
        "30.00",
        RefundLine(line_id="1", sku="GIFT-25", name="Gift Card", quantity=D(1), total=D("25.00")),
        RefundLine(
            line_id="9", kind="shipping", sku=None, name="Flat rate", quantity=D(1), total=D("5.00")
        ),
    )
    # When the refund's items are named and its document built, classes per line
    names = refund_item_names(store_refund, order, conn)
    assert names == {"Sales (Gift card liability)", "Shipping"}
    refs = refund_refs(**{"Sales (Gift card liability)": "40", "Shipping": "30"}).model_copy(
        update={
            "classes": {"Gift cards": "200", "Retail": "201"},
            "class_placement": "line",
            "department_id": "300",
        }
    )
    body = build_refund_document(
        store_refund, order, conn, refs, MONEY, entity="RefundReceipt", doc_number="R801"
    )
    # Then the gift card comes back off the gift card account item in its class, shipping in
    # the order's class, and the document is in the order's location
    gift, shipping = (line["SalesItemLineDetail"] for line in body["Line"])
    assert gift["ItemRef"]["value"] == "40" and gift["ClassRef"] == {"value": "200"}
    assert shipping["ItemRef"]["value"] == "30" and shipping["ClassRef"] == {"value": "201"}
    assert body["DepartmentRef"] == {"value": "300"}
    assert document_total(body) == D("30.00")

"""qbXML requests QuickBooks Desktop receives, and the responses we read back."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from connector.config import Connection, MappingRules, QbdLedger, WooCommerceStore
from connector.errors import PermanentError
from connector.ledgers.qbd import qbxml
from connector.ledgers.qbd.qbxml_lists import account_item_name
from connector.mapping import doc_number
from connector.model import (
    Address,
    Order,
    OrderLine,
    ShippingLine,
)
from simulators.testbed.orders import OBRIEN, full_order, make_refund
from simulators.testbed.refs import qbd_refs
from simulators.testbed.strategies import desktop_orders

D = Decimal


def tags(element: etree._Element) -> list[str]:
    return [child.tag for child in element]


def body_of(request: qbxml.QbRequest) -> etree._Element:
    return request.element[0]


def line_elements(request: qbxml.QbRequest) -> list[etree._Element]:
    return [c for c in body_of(request) if c.tag.endswith(("LineAdd", "LineMod"))]


def line_summary(request: qbxml.QbRequest) -> list[tuple[str, str, str | None]]:
    return [
        (
            line.findtext("ItemRef/FullName") or "",
            line.findtext("Amount") or "",
            line.findtext("Desc"),
        )
        for line in line_elements(request)
    ]


# -- customers and items


def test_customer_query_asks_by_full_name() -> None:
    request = qbxml.customer_query("Siobhán O'Brien", request_id="q1")
    assert request.kind == "CustomerQuery"
    assert request.element.tag == "CustomerQueryRq"
    assert request.element.get("requestID") == "q1"
    assert tags(request.element) == ["FullName"]
    assert request.element.findtext("FullName") == "Siobhán O'Brien"


def test_customer_add_fields_in_schema_order_and_escaped() -> None:
    # Given a customer with an accent, an ampersand and angle brackets
    name = qbxml.customer_name(OBRIEN)
    # When the CustomerAdd is built and rendered
    request = qbxml.customer_add(OBRIEN, name, request_id="c1")
    text = qbxml.render_message([request])
    # Then the fields come in the order the schema demands
    add = body_of(request)
    assert add.tag == "CustomerAdd"
    assert tags(add) == [
        "Name",
        "CompanyName",
        "FirstName",
        "LastName",
        "BillAddress",
        "ShipAddress",
        "Phone",
        "Email",
    ]
    assert add.findtext("Name") == "Siobhán O'Brien"
    assert tags(add.find("BillAddress")) == [
        "Addr1",
        "Addr2",
        "Addr3",
        "Addr4",
        "City",
        "State",
        "PostalCode",
        "Country",
    ]
    assert add.findtext("BillAddress/Addr3") == "1 Lódz Street"
    # And the text is escaped, and Latin-1 only
    assert "<CompanyName>Ryan &amp; Sons &lt;Ltd&gt;</CompanyName>" in text
    text.encode("latin-1")


def test_customer_add_cuts_fields_to_quickbooks_lengths() -> None:
    long = Address(
        first_name="F" * 30,
        last_name="L" * 30,
        line1="A" * 60,
        city="C" * 40,
        region="R" * 30,
        postcode="P" * 20,
        country="K" * 40,
    )
    customer = OBRIEN.model_copy(
        update={
            "first_name": "F" * 30,
            "last_name": "L" * 30,
            "company": "Q" * 60,
            "phone": "9" * 30,
            "billing": long,
        }
    )
    add = body_of(qbxml.customer_add(customer, "N" * 60, request_id="c1"))
    lengths = {
        "Name": 41,
        "CompanyName": 41,
        "FirstName": 25,
        "LastName": 25,
        "Phone": 21,
        "BillAddress/Addr1": 41,
        "BillAddress/Addr2": 41,
        "BillAddress/City": 31,
        "BillAddress/State": 21,
        "BillAddress/PostalCode": 13,
        "BillAddress/Country": 31,
    }
    for path, limit in lengths.items():
        assert len(add.findtext(path) or "") == limit, path


def test_customer_add_leaves_out_an_email_quickbooks_would_garble() -> None:
    customer = OBRIEN.model_copy(update={"email": "jürgen@bücher.example"})
    add = body_of(qbxml.customer_add(customer, "Jürgen", request_id="c1"))
    assert add.findtext("Email") == "jürgen@bücher.example"  # Latin-1: sent exactly
    customer = OBRIEN.model_copy(update={"email": "анна@example.com"})
    add = body_of(qbxml.customer_add(customer, "Anna", request_id="c1"))
    assert add.find("Email") is None  # transliterated it would be someone else's address


def test_customer_name_has_no_colon_and_fits() -> None:
    customer = OBRIEN.model_copy(
        update={"first_name": "Ann:Marie", "last_name": "X" * 50, "company": ""}
    )
    name = qbxml.customer_name(customer)
    assert ":" not in name
    assert len(name) == 41


def test_customer_mod_carries_list_id_and_edit_sequence_first() -> None:
    request = qbxml.customer_mod(OBRIEN, "Siobhán O'Brien", "80000001-1", "1717", request_id="m1")
    mod = body_of(request)
    assert request.kind == "CustomerMod"
    assert tags(mod)[:3] == ["ListID", "EditSequence", "Name"]
    assert mod.findtext("ListID") == "80000001-1"
    assert mod.findtext("EditSequence") == "1717"
    with pytest.raises(ValueError, match="EditSequence"):
        qbxml.customer_mod(OBRIEN, "x", "80000001-1", "1" * 17, request_id="m1")


def test_item_query_lists_each_name_once_fitted() -> None:
    request = qbxml.item_query(["Mug", "Shirts:" + "T" * 40, "Mug"], request_id="i1")
    assert [e.text for e in request.element] == ["Mug", "Shirts:" + "T" * 31]
    with pytest.raises(ValueError):
        qbxml.item_query([], request_id="i1")


def test_item_non_inventory_add_names_its_income_account() -> None:
    request = qbxml.item_non_inventory_add("SKU:" + "9" * 40, "Sales Income", request_id="n1")
    add = body_of(request)
    assert tags(add) == ["Name", "SalesOrPurchase"]
    name = add.findtext("Name") or ""
    assert len(name) == 31 and ":" not in name
    # The same fitting is used by item_query, so the query finds what this creates.
    assert qbxml.item_query([name], request_id="q").element.findtext("FullName") == name
    assert add.findtext("SalesOrPurchase/AccountRef/FullName") == "Sales Income"


# -- sales transactions


def test_invoice_add_header_and_lines_in_schema_order() -> None:
    # Given an order with discount, fee, shipping and tax
    order = full_order()
    # When the InvoiceAdd is built
    request = qbxml.sales_txn_add("Invoice", order, qbd_refs(), request_id="t1")
    body = body_of(request)
    # Then header fields come before the lines, in the schema's order
    assert request.kind == "InvoiceAdd"
    assert body.tag == "InvoiceAdd"
    assert tags(body) == [
        "CustomerRef",
        "TxnDate",
        "RefNumber",
        "BillAddress",
        "ShipAddress",
        "Memo",
        *["InvoiceLineAdd"] * 6,
    ]
    assert body.findtext("CustomerRef/FullName") == "Siobhán O'Brien"
    assert body.findtext("TxnDate") == "2024-05-01"
    assert body.findtext("RefNumber") == "1001"
    for line in line_elements(request):
        assert tags(line) in (
            ["ItemRef", "Desc", "Quantity", "Amount", "SalesTaxCodeRef"],
            ["ItemRef", "Desc", "Amount", "SalesTaxCodeRef"],
        )
        assert line.findtext("SalesTaxCodeRef/FullName") == "Non"
    # And each part of the order is an item line with an exact two-decimal Amount
    assert line_summary(request) == [
        ("Mug", "20.00", 'Mug "big"'),
        ("Shirts:T-shirt", "15.00", "T-shirt"),
        ("Discount", "-2.00", "Coupons: SAVE10"),
        ("Fees", "1.50", "Gift wrap"),
        ("Shipping", "5.00", "Flat rate"),
        ("Sales Tax", "2.64", "Sales tax: CA Tax 8%"),
    ]
    assert line_elements(request)[0].findtext("Quantity") == "2"
    assert qbxml.request_total(request) == qbxml.expected_total(order) == D("42.14")


def test_memo_names_the_store_order_like_quickbooks_online() -> None:
    body = body_of(qbxml.sales_txn_add("Invoice", full_order(), qbd_refs(), request_id="t1"))
    memo = (body.findtext("Memo") or "").split("\n")
    assert memo[0] == "WooCommerce order #1001 (id 101)"
    assert "Coupons: SAVE10" in memo
    assert "Payment transaction ch_123" in memo
    assert "Customer note: Leave at the door" in memo


def test_without_a_discount_item_lines_go_at_their_discounted_amounts() -> None:
    request = qbxml.sales_txn_add(
        "SalesReceipt", full_order(), qbd_refs(discount_item=None), request_id="t1"
    )
    assert body_of(request).tag == "SalesReceiptAdd"
    assert line_summary(request)[:2] == [
        ("Mug", "18.00", 'Mug "big"'),
        ("Shirts:T-shirt", "15.00", "T-shirt"),
    ]
    assert "Discount" not in [item for item, _, _ in line_summary(request)]
    assert qbxml.request_total(request) == D("42.14")


def test_txn_date_is_the_stores_day() -> None:
    body = body_of(
        qbxml.sales_txn_add(
            "Invoice", full_order(), qbd_refs(), request_id="t1", timezone="Asia/Tokyo"
        )
    )
    assert body.findtext("TxnDate") == "2024-05-02"


def test_zero_tax_item_is_the_transaction_sales_tax() -> None:
    body = body_of(
        qbxml.sales_txn_add(
            "Invoice", full_order(), qbd_refs(zero_tax_item="Out of State"), request_id="t1"
        )
    )
    assert tags(body)[5:7] == ["ItemSalesTaxRef", "Memo"]
    assert body.findtext("ItemSalesTaxRef/FullName") == "Out of State"


def test_tax_without_a_sales_tax_item_parks_with_the_fix() -> None:
    with pytest.raises(PermanentError, match="sales_tax_item"):
        qbxml.sales_txn_add("Invoice", full_order(), qbd_refs(sales_tax_item=None), request_id="t")


def test_unmapped_sku_parks_with_the_fix() -> None:
    with pytest.raises(PermanentError, match=r"SKU TEE.*fallback_item"):
        qbxml.sales_txn_add("Invoice", full_order(), qbd_refs(skus={"MUG": "Mug"}), request_id="t")


def test_auto_created_item_is_found_by_its_sku_name() -> None:
    refs = qbd_refs(skus={"MUG": "Mug"}, items={"TEE": "TEE"})
    request = qbxml.sales_txn_add("Invoice", full_order(), refs, request_id="t")
    assert line_summary(request)[1][0] == "TEE"


def test_free_shipping_needs_no_shipping_item() -> None:
    order = full_order(
        shipping_lines=(ShippingLine(line_id="s1", method="Free", total=D("0")),),
        shipping_total=D("0"),
        total=D("37.14"),
    )
    request = qbxml.sales_txn_add("Invoice", order, qbd_refs(shipping_item=None), request_id="t")
    assert qbxml.request_total(request) == D("37.14")
    with pytest.raises(PermanentError, match="shipping_item"):
        qbxml.sales_txn_add("Invoice", full_order(), qbd_refs(shipping_item=None), request_id="t")


def test_parts_that_do_not_add_up_park() -> None:
    with pytest.raises(PermanentError, match=r"not the order total 50.00"):
        qbxml.sales_txn_add("Invoice", full_order(total=D("50.00")), qbd_refs(), request_id="t")


def test_three_decimal_currency_cannot_be_sent_exactly() -> None:
    order = full_order(
        currency="KWD",
        lines=(
            OrderLine(
                line_id="1",
                sku="MUG",
                name="Mug",
                quantity=D(1),
                subtotal=D("1.005"),
                total=D("1.005"),
            ),
        ),
        shipping_lines=(),
        fee_lines=(),
        coupons=(),
        tax_lines=(),
        discount_total=D(0),
        shipping_total=D(0),
        total_tax=D(0),
        total=D("1.005"),
    )
    with pytest.raises(PermanentError, match="two decimals"):
        qbxml.sales_txn_add("Invoice", order, qbd_refs(), request_id="t")


def test_invoice_mod_replaces_every_line() -> None:
    request = qbxml.sales_txn_mod(
        "Invoice", full_order(), qbd_refs(), "1A-1700000000", "1700000001", request_id="m"
    )
    body = body_of(request)
    assert request.kind == "InvoiceMod"
    assert tags(body)[:4] == ["TxnID", "EditSequence", "CustomerRef", "TxnDate"]
    assert body.findtext("TxnID") == "1A-1700000000"
    lines = line_elements(request)
    assert [line.tag for line in lines] == ["InvoiceLineMod"] * 6
    assert all(tags(line)[:2] == ["TxnLineID", "ItemRef"] for line in lines)
    assert {line.findtext("TxnLineID") for line in lines} == {"-1"}
    assert qbxml.request_total(request) == D("42.14")


def test_sales_receipt_mod() -> None:
    request = qbxml.sales_txn_mod(
        "SalesReceipt", full_order(), qbd_refs(), "1A-1", "2", request_id="m"
    )
    assert body_of(request).tag == "SalesReceiptMod"
    assert {line.tag for line in line_elements(request)} == {"SalesReceiptLineMod"}


# -- refunds, voids, deletes


def test_credit_memo_refunds_items_tax_and_the_rest() -> None:
    refund = make_refund()
    request = qbxml.credit_memo_add(refund, qbd_refs(ref_number="R55"), request_id="r")
    body = body_of(request)
    assert tags(body) == [
        "CustomerRef",
        "TxnDate",
        "RefNumber",
        "Memo",
        *["CreditMemoLineAdd"] * 3,
    ]
    assert body.findtext("RefNumber") == "R55"
    assert (body.findtext("Memo") or "").startswith("WooCommerce refund 55 of order #1001 (id 101)")
    assert line_summary(request) == [
        ("Mug", "9.00", "Mug"),
        ("Sales Tax", "0.72", "Sales tax refunded"),
        ("Fees", "15.28", "Refund: Broken"),
    ]
    assert qbxml.request_total(request) == qbxml.expected_refund_total(refund) == D("25.00")


def test_amount_only_refund_is_one_refund_line() -> None:
    refund = make_refund(lines=(), reason="")
    request = qbxml.credit_memo_add(refund, qbd_refs(), request_id="r")
    assert line_summary(request) == [("Fees", "25.00", "Refund")]
    # Given mapping.refund_item, the amount goes on it instead of the fee item
    refunded = qbxml.credit_memo_add(refund, qbd_refs(refund_item="Refunds"), request_id="r")
    assert line_summary(refunded) == [("Refunds", "25.00", "Refund")]
    with pytest.raises(PermanentError, match="refund_item"):
        qbxml.credit_memo_add(refund, qbd_refs(fee_item=None), request_id="r")


def test_void_and_delete_name_the_transaction() -> None:
    void = qbxml.txn_void("Invoice", "1A-1", request_id="v")
    assert void.element.tag == "TxnVoidRq"
    assert [(c.tag, c.text) for c in void.element] == [
        ("TxnVoidType", "Invoice"),
        ("TxnID", "1A-1"),
    ]
    delete = qbxml.txn_del("SalesReceipt", "1A-1", request_id="d")
    assert [(c.tag, c.text) for c in delete.element] == [
        ("TxnDelType", "SalesReceipt"),
        ("TxnID", "1A-1"),
    ]
    with pytest.raises(ValueError):
        qbxml.txn_void("Bill", "1A-1", request_id="v")  # type: ignore[arg-type]


# -- RefNumber


def test_ref_number_from_the_template() -> None:
    rules = MappingRules(doc_number="{prefix}{number}", doc_prefix="WC-")
    assert qbxml.ref_number("1001", rules) == "WC-1001"
    assert qbxml.order_ref_number(full_order(), MappingRules(doc_number="S{id}")) == "S101"
    assert qbxml.refund_ref_number(make_refund(), rules) == "WC-R55"


LONG_NUMBER = "SHOP-EUROPE-2024-0000123456789"  # 30 characters


def test_a_ref_number_longer_than_eleven_is_fitted_not_refused() -> None:
    # Given a prefix that makes a short order's RefNumber 13 characters, and a 30-character number
    rules = MappingRules(doc_number="{prefix}{number}", doc_prefix="WOO-")
    # When their RefNumbers are derived
    short = qbxml.ref_number("123456789", rules)
    long = qbxml.order_ref_number(full_order(number=LONG_NUMBER), rules)
    # Then both are exactly 11 characters: the prefix, "~", a base-36 hash (the tail has no room)
    assert re.fullmatch(r"WOO-~[0-9A-Z]{6}", short), short
    assert re.fullmatch(r"WOO-~[0-9A-Z]{6}", long), long
    assert short != long
    # And the same order always gets the same one, which is QuickBooks Online's shortened
    # DocNumber cut to Desktop's length (one rule for both ledgers)
    assert qbxml.order_ref_number(full_order(number=LONG_NUMBER), rules) == long
    assert doc_number(full_order(number=LONG_NUMBER), rules, limit=11) == long


def test_a_ref_number_without_a_prefix_keeps_the_numbers_tail() -> None:
    rules = MappingRules(doc_number="{number}")
    ref = qbxml.order_ref_number(full_order(number=LONG_NUMBER), rules)
    assert re.fullmatch(r"~[0-9A-Z]{6}6789", ref), ref


def test_a_store_number_with_the_prefix_gets_it_once_on_desktop_too() -> None:
    rules = MappingRules(doc_number="{prefix}{number}", doc_prefix="WC-")
    assert qbxml.order_ref_number(full_order(number="WC-10045"), rules) == "WC-10045"
    assert qbxml.order_ref_number(full_order(number="10045"), rules) == "WC-10045"


def test_a_credit_memo_ref_number_is_fitted_the_same_way() -> None:
    # Given a refund whose id makes "R<refund id>" longer than 11 characters
    rules = MappingRules(doc_number="{prefix}{number}", doc_prefix="WC-")
    refund = make_refund(store_id="123456789012")
    # When its credit memo's RefNumber is derived
    ref = qbxml.refund_ref_number(refund, rules)
    # Then it is fitted, keeping the prefix; a short one is unchanged
    assert len(ref) == 11 and re.fullmatch(r"WC-~[0-9A-Z]{6}2", ref), ref
    assert qbxml.refund_ref_number(refund, rules) == ref
    assert qbxml.refund_ref_number(make_refund(), rules) == "WC-R55"
    assert qbxml.refund_ref_number(refund, MappingRules(doc_number="S{id}")).startswith("S~")


def test_a_prefix_too_long_to_shorten_a_ref_number_names_doc_prefix() -> None:
    rules = MappingRules(doc_number="{prefix}{number}", doc_prefix="WOOSTORE-")
    assert qbxml.ref_number("10", rules) == "WOOSTORE-10"
    with pytest.raises(PermanentError, match=r"doc_prefix \('WOOSTORE-'\) at most 4 characters"):
        qbxml.ref_number("1001", rules)


def test_invoice_add_for_a_long_number_fits_ref_number_and_keeps_the_number_in_memo() -> None:
    # Given a Desktop connection and an order whose store number is 30 characters
    connection = Connection(
        id="shop",
        store=WooCommerceStore(kind="woocommerce", url="https://shop.example"),
        ledger=QbdLedger(kind="qbd", sales_tax_item="Sales Tax"),
        mapping=MappingRules(fallback_item="Misc", doc_prefix="W", doc_number="{prefix}{number}"),
    )
    order = full_order(number=LONG_NUMBER)
    # When its InvoiceAdd is built from the tenant's mapping
    refs = qbxml.refs_for_order(order, connection, customer="Siobhán O'Brien")
    body = body_of(qbxml.sales_txn_add("Invoice", order, refs, request_id="t1"))
    # Then the RefNumber is the fitted one, 11 characters, and the Memo names the full number
    ref = body.findtext("RefNumber") or ""
    assert ref == refs.ref_number == qbxml.order_ref_number(order, connection.mapping)
    assert len(ref) == 11 and ref.startswith("W~")
    memo = (body.findtext("Memo") or "").split("\n")
    assert memo[0] == f"WooCommerce order #{LONG_NUMBER} (id 101)"
    # And the RefNumber pre-check asks for the fitted number
    query = qbxml.txn_query_by_ref("Invoice", ref, request_id="q")
    assert query.element.findtext("RefNumber") == ref


def test_a_ref_number_not_fitted_by_its_maker_is_a_bug_not_a_parked_order() -> None:
    with pytest.raises(ValueError, match="order_ref_number"):
        qbxml.sales_txn_add("Invoice", full_order(), qbd_refs(ref_number="X" * 12), request_id="t")
    with pytest.raises(PermanentError, match="RefNumber is empty"):
        qbxml.sales_txn_add("Invoice", full_order(), qbd_refs(ref_number=" "), request_id="t")


def test_ref_number_with_id_needs_the_store_id() -> None:
    with pytest.raises(ValueError, match="store_id"):
        qbxml.ref_number("1001", MappingRules(doc_number="{id}"))


def test_refs_for_order_follow_the_tenant_mapping() -> None:
    connection = Connection(
        id="shop",
        store=WooCommerceStore(kind="woocommerce", url="https://shop.example"),
        ledger=QbdLedger(kind="qbd", sales_tax_item="Sales Tax"),
        mapping=MappingRules(items={"MUG": "Mug"}, fallback_item="Misc", doc_prefix="W"),
    )
    refs = qbxml.refs_for_order(
        full_order(), connection, customer="Siobhán O'Brien", items={"Misc": "Other:Misc"}
    )
    assert refs.skus == {"MUG": "Mug", "TEE": "Misc"}
    assert refs.ref_number == "1001"
    assert refs.item_names() == ["Mug", "Other:Misc", "Shipping", "Fees", "Discount", "Sales Tax"]
    request = qbxml.sales_txn_add("Invoice", full_order(), refs, request_id="t")
    assert [item for item, _, _ in line_summary(request)][:2] == ["Mug", "Other:Misc"]
    refund_refs = qbxml.refs_for_refund(make_refund(), connection, customer="Siobhán O'Brien")
    assert refund_refs.ref_number == "R55"
    assert refund_refs.skus == {"MUG": "Mug"}


# -- revenue rules and payment terms

RULED = {
    "txn_class": "Online",
    "line_classes": {"1": "Retail", "2": "Gift Cards"},
    "line_items": {"2": "Tee (Gift income)"},
    "terms": "Net 30",
}


def _classes(request: qbxml.QbRequest) -> list[tuple[str, str | None]]:
    return [
        (line.findtext("ItemRef/FullName") or "", line.findtext("ClassRef/FullName"))
        for line in line_elements(request)
    ]


def test_invoice_carries_classes_per_line_the_transactions_class_and_terms_in_schema_order() -> (
    None
):
    # Given refs where rules gave each product line a class, the order a class and line 2 an item
    request = qbxml.sales_txn_add("Invoice", full_order(), qbd_refs(**RULED), request_id="t")
    body = body_of(request)
    # Then the header has ClassRef after CustomerRef and TermsRef after the addresses
    assert tags(body)[:7] == [
        "CustomerRef", "ClassRef", "TxnDate", "RefNumber", "BillAddress", "ShipAddress", "TermsRef",
    ]  # fmt: skip
    assert body.findtext("ClassRef/FullName") == "Online"
    assert body.findtext("TermsRef/FullName") == "Net 30"
    # And product lines carry their own class (before Amount), the rest the transaction's
    assert _classes(request) == [
        ("Mug", "Retail"),
        ("Tee (Gift income)", "Gift Cards"),
        ("Discount", "Online"),
        ("Fees", "Online"),
        ("Shipping", "Online"),
        ("Sales Tax", "Online"),
    ]
    assert tags(line_elements(request)[0]) == [
        "ItemRef", "Desc", "Quantity", "ClassRef", "Amount", "SalesTaxCodeRef",
    ]  # fmt: skip


def test_a_sales_receipt_has_no_terms_and_no_rules_means_no_classes() -> None:
    receipt = qbxml.sales_txn_add("SalesReceipt", full_order(), qbd_refs(**RULED), request_id="t")
    assert body_of(receipt).find("TermsRef") is None
    assert body_of(receipt).findtext("ClassRef/FullName") == "Online"
    plain = qbxml.sales_txn_add("Invoice", full_order(), qbd_refs(), request_id="t")
    assert not any(el.tag in ("ClassRef", "TermsRef") for el in body_of(plain).iter())


def test_a_credit_memo_follows_the_classes_its_lines_were_sold_under() -> None:
    # Given a refund of the mug (sold under Retail) with tax and money beyond the line
    request = qbxml.credit_memo_add(
        make_refund(), qbd_refs(ref_number="R55", **RULED), request_id="r"
    )
    # Then the mug goes back under Retail; tax, the rest and the header under the order's class
    assert body_of(request).findtext("ClassRef/FullName") == "Online"
    assert body_of(request).find("TermsRef") is None
    assert _classes(request) == [("Mug", "Retail"), ("Sales Tax", "Online"), ("Fees", "Online")]


def test_an_account_item_name_fits_31_characters_the_same_way_every_time() -> None:
    # A pair that fits is kept whole; colons (sub-items, sub-accounts) become dashes
    assert account_item_name("Mug", "Income:Gifts") == "Mug (Income-Gifts)"
    # A long pair is cut: the account to 12, the item to the rest, with a hash of the whole
    long = account_item_name("Gift Card Deluxe Edition", "Gift card liability")
    assert len(long) == 31 and re.fullmatch(r"Gift Card D~[0-9a-f]{4} \(Gift card li\)", long)
    assert account_item_name("Gift Card Deluxe Edition", "Gift card liability") == long
    # Two pairs that cut alike still name two items
    other = account_item_name("Gift Card Deluxe Edition", "Gift card liability 2")
    assert other != long and len(other) == 31
    # And the name is what ItemQuery and ItemNonInventoryAdd use, unchanged
    add = qbxml.item_non_inventory_add(long, "Gift card liability", request_id="n")
    assert body_of(add).findtext("Name") == long
    assert qbxml.item_query([long], request_id="q").element.findtext("FullName") == long


def test_refs_for_order_apply_revenue_rules_and_terms_for_the_buyers_group() -> None:
    # Given rules: gift SKUs post through "Gift income", tees under "Gift Cards" as item
    # "Tee", everything under "Online"; wholesale buyers on Net 30
    mapping = MappingRules.model_validate(
        {
            "items": {"MUG": "Mug"},
            "rules": [
                {"when": {"sku": "MUG"}, "class": "Retail", "income_account": "Gift income"},
                {"when": {"sku": "TEE"}, "class": "Gift Cards", "item": "Tee"},
                {"class": "Online"},
            ],
            "terms": {"wholesale_customer": "Net 30"},
        }
    )
    connection = Connection(
        id="shop",
        store=WooCommerceStore(kind="woocommerce", url="https://shop.example"),
        ledger=QbdLedger(kind="qbd", sales_tax_item="Sales Tax"),
        mapping=mapping,
    )
    wholesale = OBRIEN.model_copy(update={"group": "wholesale_customer"})
    order = full_order(customer=wholesale)
    # When the refs are made (TEE has no SKU mapping and no fallback: the rule's item decides)
    refs = qbxml.refs_for_order(order, connection, customer="Siobhán O'Brien")
    # Then each line has its rule's item and class, the order its own class, the buyer terms
    assert refs.skus == {}  # the rules decide both lines' items
    assert refs.line_items == {"1": "Mug (Gift income)", "2": "Tee"}
    assert refs.item_accounts == {"Mug (Gift income)": "Gift income"}
    assert refs.line_classes == {"1": "Retail", "2": "Gift Cards"}
    assert (refs.txn_class, refs.terms) == ("Online", "Net 30")
    assert _classes(qbxml.sales_txn_add("Invoice", order, refs, request_id="t"))[:2] == [
        ("Mug (Gift income)", "Retail"),
        ("Tee", "Gift Cards"),
    ]
    # And a refund of the mug goes back on its account item under Retail
    refund_refs = qbxml.refs_for_refund(make_refund(), connection, customer="S", order=order)
    assert refund_refs.line_items == {"1": "Mug (Gift income)"}
    assert _classes(qbxml.credit_memo_add(make_refund(), refund_refs, request_id="r"))[0] == (
        "Mug (Gift income)",
        "Retail",
    )
    # And a guest (no group, no default terms) gets none
    assert qbxml.refs_for_order(full_order(), connection, customer="S").terms is None


# -- totals to the cent


@settings(max_examples=150, deadline=None)
@given(desktop_orders(), st.booleans(), st.sampled_from(["Invoice", "SalesReceipt"]))
def test_transaction_lines_add_up_to_the_order_total(
    order: Order, discount_item: bool, kind: Any
) -> None:
    # Given any order whose parts add up
    refs = qbd_refs(discount_item="Discount" if discount_item else None)
    # When it becomes an Add and is rendered as QuickBooks receives it
    request = qbxml.sales_txn_add(kind, order, refs, request_id="t")
    text = qbxml.render_message([request])
    parsed = etree.fromstring(text.split("\n", 2)[2].encode("utf-8"))
    # Then the Amounts QuickBooks adds up equal the store's total to the cent
    amounts = [D(a.text) for a in parsed.iter("Amount")]
    assert sum(amounts, D(0)) == qbxml.expected_total(order) == order.total
    assert all(a == a.quantize(D("0.01")) for a in amounts)
    text.encode("latin-1")


# -- queries and paging


def test_txn_query_by_ref_number() -> None:
    request = qbxml.txn_query_by_ref("SalesReceipt", "WC-1001", request_id="q")
    assert request.element.tag == "SalesReceiptQueryRq"
    assert tags(request.element) == ["RefNumber"]
    with_lines = qbxml.txn_query_by_ref("CreditMemo", "R5", request_id="q", include_line_items=True)
    assert tags(with_lines.element) == ["RefNumber", "IncludeLineItems"]
    with pytest.raises(ValueError):
        qbxml.txn_query_by_ref("Invoice", "123456789012", request_id="q")


def test_paged_queries_start_continue_and_stop() -> None:
    start = qbxml.query_page("Customer", request_id="p1", max_returned=100)
    assert start.element.get("iterator") == "Start"
    assert start.element.get("iteratorID") is None
    assert start.element.findtext("MaxReturned") == "100"
    iterator = "{eb05f701-e727-472f-8ade-6753c4f67a46}"
    more = qbxml.query_page(
        "Invoice",
        request_id="p2",
        max_returned=50,
        iterator_id=iterator,
        modified_since=datetime(2024, 1, 1, tzinfo=UTC),
    )
    assert (more.element.get("iterator"), more.element.get("iteratorID")) == ("Continue", iterator)
    assert tags(more.element) == ["MaxReturned", "ModifiedDateRangeFilter"]
    assert more.element.findtext("ModifiedDateRangeFilter/FromModifiedDate") == (
        "2024-01-01T00:00:00+00:00"
    )
    stop = qbxml.query_stop("Item", iterator, request_id="p3")
    assert stop.element.get("iterator") == "Stop"
    with pytest.raises(ValueError):
        qbxml.query_page("Customer", request_id="p", max_returned=0)


# -- messages


def test_render_message_envelope() -> None:
    requests = [
        qbxml.customer_query("A", request_id="1"),
        qbxml.item_query(["Mug"], request_id="2"),
    ]
    text = qbxml.render_message(requests, new_message_set_id="set-1", old_message_set_id="set-0")
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="13.0"?>\n')
    root = etree.fromstring(text.split("\n", 2)[2])
    msgs = root[0]
    assert (root.tag, msgs.tag) == ("QBXML", "QBXMLMsgsRq")
    assert dict(msgs.attrib) == {
        "oldMessageSetID": "set-0",
        "newMessageSetID": "set-1",
        "onError": "continueOnError",
    }
    assert [(c.tag, c.get("requestID")) for c in msgs] == [
        ("CustomerQueryRq", "1"),
        ("ItemQueryRq", "2"),
    ]
    # The same requests render again (nothing was moved out of them).
    assert qbxml.render_message(requests, version="16.0").count("<CustomerQueryRq") == 1
    assert '<?qbxml version="16.0"?>' in qbxml.render_message(requests, version="16.0")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"version": "12.0"},
        {"on_error": "rollbackOnError"},
        {"new_message_set_id": "x" * 24},
        {"old_message_set_id": ""},
    ],
)
def test_render_message_refuses_what_quickbooks_would(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        qbxml.render_message([qbxml.customer_query("A", request_id="1")], **kwargs)


def test_render_message_refuses_repeated_request_ids_and_long_ones() -> None:
    with pytest.raises(ValueError, match="repeat"):
        qbxml.render_message(
            [qbxml.customer_query("A", request_id="1"), qbxml.customer_query("B", request_id="1")]
        )
    with pytest.raises(ValueError, match="1060"):
        qbxml.customer_query("A", request_id="x" * 51)


def test_render_messages_bounds_count_and_size_and_keeps_order() -> None:
    requests = [qbxml.customer_add(OBRIEN, f"Customer {n}", request_id=str(n)) for n in range(25)]
    one = len(requests[0].to_xml().encode("utf-8"))
    # By count
    by_count = qbxml.render_messages(requests, max_requests=10)
    assert [m.count("<CustomerAddRq") for m in by_count] == [10, 10, 5]
    # By size: room for three requests per message
    max_bytes = 500 + 3 * (one + 5)
    by_size = qbxml.render_messages(
        requests, max_requests=100, max_bytes=max_bytes, new_message_set_id=qbxml.message_set_id
    )
    assert all(len(m.encode("utf-8")) <= max_bytes for m in by_size)
    assert [m.count("<CustomerAddRq") for m in by_size] == [3] * 8 + [1]
    ids = [rq.get("requestID") for m in by_size for rq in etree.fromstring(m.split("\n", 2)[2])[0]]
    assert ids == [str(n) for n in range(25)]
    set_ids = [etree.fromstring(m.split("\n", 2)[2])[0].get("newMessageSetID") for m in by_size]
    assert len(set(set_ids)) == len(set_ids) and all(len(s or "") == 23 for s in set_ids)


def test_a_request_larger_than_the_bound_travels_alone() -> None:
    requests = [
        qbxml.customer_query("A", request_id="1"),
        qbxml.customer_query("B", request_id="2"),
    ]
    groups = qbxml.split_requests(requests, max_requests=10, max_bytes=10)
    assert [[r.request_id for r in g] for g in groups] == [["1"], ["2"]]


def test_message_set_id_is_deterministic() -> None:
    requests = [qbxml.customer_query("A", request_id="1")]
    assert qbxml.message_set_id(requests) == qbxml.message_set_id(list(requests))
    assert qbxml.message_set_id(requests) != qbxml.message_set_id(
        [qbxml.customer_query("A", request_id="2")]
    )


# -- responses

RESPONSE = """<?xml version="1.0" encoding="ISO-8859-1"?>
<?qbxml version="13.0"?>
<QBXML>
  <QBXMLMsgsRs newMessageSetID="set-1" messageSetStatusCode="0">
    <CustomerQueryRs requestID="1" statusCode="0" statusSeverity="Info" statusMessage="Status OK"
        iteratorRemainingCount="2" iteratorID="{eb05f701-e727-472f-8ade-6753c4f67a46}">
      <CustomerRet>
        <ListID>80000001-1</ListID>
        <EditSequence>1717</EditSequence>
        <Name>Siobhán O'Brien &amp; Co</Name>
      </CustomerRet>
      <CustomerRet>
        <ListID>80000002-1</ListID>
        <EditSequence>1718</EditSequence>
        <Name>Zürich AG</Name>
      </CustomerRet>
    </CustomerQueryRs>
    <InvoiceAddRs requestID="2" statusCode="0" statusSeverity="Info" statusMessage="Status OK">
      <InvoiceRet>
        <TxnID>1A-1</TxnID>
        <EditSequence>1</EditSequence>
        <RefNumber>1001</RefNumber>
        <Subtotal>42.14</Subtotal>
        <InvoiceLineRet><TxnLineID>1</TxnLineID><Amount>20.00</Amount></InvoiceLineRet>
        <InvoiceLineRet><TxnLineID>2</TxnLineID><Amount>22.14</Amount></InvoiceLineRet>
      </InvoiceRet>
      <ErrorRecovery><TxnID>1A-1</TxnID><EditSequence>1</EditSequence></ErrorRecovery>
    </InvoiceAddRs>
    <ItemQueryRs requestID="3" statusCode="1" statusSeverity="Info"
        statusMessage="A query request did not find a matching object in QuickBooks" />
    <CustomerAddRs requestID="4" statusCode="3100" statusSeverity="Error"
        statusMessage="The name &quot;Ann&quot; of the list element is already in use." />
    <TxnDelRs requestID="5" statusCode="0" statusSeverity="Info" statusMessage="Status OK">
      <TxnDelType>Invoice</TxnDelType>
      <TxnID>1A-2</TxnID>
    </TxnDelRs>
  </QBXMLMsgsRs>
</QBXML>
"""


def test_parse_response_reads_every_response() -> None:
    # Given a response message with five answers
    # When it is parsed
    message = qbxml.parse_response(RESPONSE)
    # Then each answer keeps its request id, status and records
    assert message.new_message_set_id == "set-1"
    assert message.message_set_status_code == 0
    assert [(r.request_id, r.kind, r.status_code) for r in message.responses] == [
        ("1", "CustomerQueryRs", 0),
        ("2", "InvoiceAddRs", 0),
        ("3", "ItemQueryRs", 1),
        ("4", "CustomerAddRs", 3100),
        ("5", "TxnDelRs", 0),
    ]
    query, invoice, items, clash, deleted = message.responses
    assert query.iterator_remaining == 2
    assert query.iterator_id == "{eb05f701-e727-472f-8ade-6753c4f67a46}"
    assert [r["Name"] for r in query.rets] == ["Siobhán O'Brien & Co", "Zürich AG"]
    assert query.ret == query.rets[0]
    assert query.ret_kinds == ["CustomerRet", "CustomerRet"]
    assert invoice.ret is not None
    assert invoice.ret["TxnID"] == "1A-1"
    assert [line["Amount"] for line in invoice.ret["InvoiceLineRet"]] == ["20.00", "22.14"]
    assert invoice.other["ErrorRecovery"] == {"TxnID": "1A-1", "EditSequence": "1"}
    assert items.ret is None and items.rets == [] and items.ok
    assert clash.status_severity == "Error" and clash.is_error and not clash.ok
    assert clash.status_message == 'The name "Ann" of the list element is already in use.'
    assert deleted.other == {"TxnDelType": "Invoice", "TxnID": "1A-2"}
    assert message.by_request_id()["4"] is clash


def test_parse_response_takes_bytes_and_single_children_stay_dicts() -> None:
    message = qbxml.parse_response(RESPONSE.encode("iso-8859-1"))
    invoice = message.responses[1]
    assert invoice.ret is not None
    assert qbxml.as_list(invoice.ret.get("InvoiceLineRet"))[0]["TxnLineID"] == "1"
    assert message.responses[0].rets[0]["Name"] == "Siobhán O'Brien & Co"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("<QBXML><QBXMLMsgsRs>", "not well-formed"),
        ("<Envelope/>", "root element is <Envelope>"),
        ("<QBXML><SignonMsgsRs/></QBXML>", "no <QBXMLMsgsRs>"),
        ("<QBXML><QBXMLMsgsRs><Foo/></QBXMLMsgsRs></QBXML>", "<Foo>, which is not a response"),
        (
            '<QBXML><QBXMLMsgsRs><InvoiceAddRs requestID="1"/></QBXMLMsgsRs></QBXML>',
            "InvoiceAddRs \\(response 1\\) has no statusCode",
        ),
        (
            '<QBXML><QBXMLMsgsRs><InvoiceAddRs statusCode="OK"/></QBXMLMsgsRs></QBXML>',
            "statusCode 'OK' is not a whole number",
        ),
    ],
)
def test_parse_response_names_the_problem(text: str, problem: str) -> None:
    with pytest.raises(qbxml.QbxmlParseError, match=problem):
        qbxml.parse_response(text)


def test_parse_response_refuses_entities() -> None:
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE QBXML [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<QBXML><QBXMLMsgsRs><CustomerQueryRs statusCode="0" statusMessage="&b;"/>'
        "</QBXMLMsgsRs></QBXML>"
    )
    with pytest.raises(qbxml.QbxmlParseError, match="DOCTYPE"):
        qbxml.parse_response(laughs)
    external = (
        '<!DOCTYPE QBXML [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<QBXML><QBXMLMsgsRs><CustomerQueryRs statusCode="0" statusMessage="&x;"/>'
        "</QBXMLMsgsRs></QBXML>"
    )
    with pytest.raises(qbxml.QbxmlParseError):
        qbxml.parse_response(external)


def test_round_trip_of_our_own_request_ids() -> None:
    # A response built from the ids we sent maps back to each request.
    requests = [qbxml.customer_query("A", request_id="a"), qbxml.item_query(["B"], request_id="b")]
    answers = "".join(
        f'<{r.kind}Rs requestID="{r.request_id}" statusCode="1" statusSeverity="Info" '
        f'statusMessage="no match"/>'
        for r in requests
    )
    message = qbxml.parse_response(f"<QBXML><QBXMLMsgsRs>{answers}</QBXMLMsgsRs></QBXML>")
    assert [r.request_id for r in message.responses] == ["a", "b"]
    assert [r.kind for r in message.responses] == ["CustomerQueryRs", "ItemQueryRs"]

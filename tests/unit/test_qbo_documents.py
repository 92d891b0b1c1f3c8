"""QuickBooks Online bodies: the document QuickBooks receives adds up to the store's total."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from connector.config import TaxRules
from connector.errors import PermanentError
from connector.ledgers.qbo.documents import (
    build_customer,
    build_sales_document,
    document_entity,
    expected_total,
    sparse_update,
    to_json,
)
from connector.mapping import doc_number
from connector.model import (
    Coupon,
    Customer,
    FeeLine,
    Order,
    Payment,
    ShippingLine,
    TaxAmount,
    TaxLine,
)
from simulators.testbed.orders import ADDRESS, item, make_order, tax
from simulators.testbed.refs import QBO_REFS, online_connection
from simulators.testbed.strategies import online_orders

D = Decimal
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "qbo"


def lines_of(document: dict[str, Any], detail: str) -> list[dict[str, Any]]:
    return [line for line in document["Line"] if line["DetailType"] == detail]


def adds_up(document: dict[str, Any]) -> Decimal:
    """What QuickBooks would total: sales lines - discount + the forced tax (outside the US,
    the sum of the TaxLine overrides, which must be the TotalTax sent)."""
    sales = sum((line["Amount"] for line in lines_of(document, "SalesItemLineDetail")), D(0))
    discount = sum((line["Amount"] for line in lines_of(document, "DiscountLineDetail")), D(0))
    detail = document.get("TxnTaxDetail", {})
    tax = detail.get("TotalTax", D(0))
    if "TaxLine" in detail:
        assert sum((t["Amount"] for t in detail["TaxLine"]), D(0)) == tax
    return sales - discount + tax


def tax_lines_of(document: dict[str, Any]) -> dict[str, tuple[Decimal, dict[str, Any]]]:
    """TaxRate Id -> (the Amount sent, its TaxLineDetail)."""
    return {
        t["TaxLineDetail"]["TaxRateRef"]["value"]: (t["Amount"], t["TaxLineDetail"])
        for t in document["TxnTaxDetail"]["TaxLine"]
    }


def assert_prices_consistent(document: dict[str, Any]) -> None:
    """QuickBooks rejects a line whose UnitPrice x Qty does not give its Amount."""
    for line in lines_of(document, "SalesItemLineDetail"):
        detail = line["SalesItemLineDetail"]
        if "Qty" in detail:
            assert -detail["UnitPrice"].as_tuple().exponent <= 7
            product = (detail["UnitPrice"] * detail["Qty"]).quantize(D("0.01"))
            assert product == line["Amount"], line


# --- scenarios ---------------------------------------------------------------------------------


def test_invoice_with_coupon_shipping_and_us_sales_tax_adds_up() -> None:
    # Given a US order: 2 mugs at 15.00 with a 5.00 coupon, taxed; an untaxed hoodie; shipping
    order = make_order(
        lines=(
            item("1", "MUG-01", 2, "30.00", "25.00", tax("1", "2.06")),
            item("2", "HOODIE-M", 1, "40.00", "40.00"),
        ),
        shipping_lines=(ShippingLine(line_id="9", method="Flat rate", total=D("7.50")),),
        coupons=(Coupon(code="SPRING5", discount=D("5.00")),),
    )
    # When the invoice is built
    doc = build_sales_document(order, online_connection(), QBO_REFS)
    # Then item lines carry the pre-discount amounts, one discount line takes the coupon off,
    sales = lines_of(doc, "SalesItemLineDetail")
    assert [(s["Amount"], s["SalesItemLineDetail"]["ItemRef"]["value"]) for s in sales] == [
        (D("30.00"), "11"),
        (D("40.00"), "12"),
        (D("7.50"), "30"),
    ]
    assert sales[0]["SalesItemLineDetail"]["Qty"] == 2
    assert sales[0]["SalesItemLineDetail"]["UnitPrice"] == D(15)
    assert sales[0]["Description"] == "Product 1"
    [discount] = lines_of(doc, "DiscountLineDetail")
    assert discount["Amount"] == D("5.00")
    assert discount["Description"] == "Coupons: SPRING5"
    assert discount["DiscountLineDetail"] == {
        "PercentBased": False,
        "DiscountAccountRef": {"value": "86"},
    }
    # taxed lines are TAX, the rest NON, and the store's tax is forced through TxnTaxDetail
    assert [s["SalesItemLineDetail"]["TaxCodeRef"]["value"] for s in sales] == ["TAX", "NON", "NON"]
    assert doc["TxnTaxDetail"] == {"TxnTaxCodeRef": {"value": "3"}, "TotalTax": D("2.06")}
    assert "GlobalTaxCalculation" not in doc
    # and the whole adds up to the store's total
    assert order.total == D("74.56")
    assert adds_up(doc) == expected_total(order) == D("74.56")
    assert [line["LineNum"] for line in doc["Line"]] == [1, 2, 3, 4]


def test_invoice_header_fields() -> None:
    order = make_order(lines=(item("1", "MUG-01", 1, "10.00", "10.00"),), note="Ring twice")
    doc = build_sales_document(
        order, online_connection(doc_number="{prefix}{number}", doc_prefix="WC-"), QBO_REFS
    )
    assert doc["CustomerRef"] == {"value": "58"}
    assert doc["DocNumber"] == "WC-1042"
    assert doc["TxnDate"] == "2024-05-02"
    assert doc["CurrencyRef"] == {"value": "USD"}
    assert doc["PrivateNote"] == "WooCommerce order #1042 (id 727)\nCustomer note: Ring twice"
    assert doc["BillEmail"] == {"Address": "ann@example.com"}
    expected_addr = {
        "Line1": "1 Main St",
        "Line2": "Apt 4",
        "City": "Springfield",
        "CountrySubDivisionCode": "IL",
        "PostalCode": "62701",
        "Country": "US",
    }
    assert doc["BillAddr"] == expected_addr
    assert doc["ShipAddr"] == expected_addr
    assert document_entity(online_connection()) == "Invoice"


def test_a_long_store_number_gets_a_fitted_docnumber_and_stays_whole_in_the_note() -> None:
    # Given an order numbered by a store plugin with 30 characters, and the prefix "WC-"
    number = "SHOP-EUROPE-2024-0000123456789"
    order = make_order(lines=(item("1", "MUG-01", 1, "10.00", "10.00"),), number=number)
    conn = online_connection(doc_number="{prefix}{number}", doc_prefix="WC-")
    # When its invoice body is built
    doc = build_sales_document(order, conn, QBO_REFS)
    # Then DocNumber is QuickBooks' 21 characters: the prefix, "~", a hash, the number's tail
    assert len(doc["DocNumber"]) == 21
    assert doc["DocNumber"].startswith("WC-~") and doc["DocNumber"].endswith("456789")
    assert doc["DocNumber"] == doc_number(order, conn.mapping)  # what the lookup asks for
    # And PrivateNote names the whole store number, as adoption by DocNumber expects
    assert doc["PrivateNote"].split("\n")[0] == f"WooCommerce order #{number} (id 727)"


def test_txn_date_uses_the_store_timezone() -> None:
    # Given an order placed 21:30 on 1 May in New York (01:30 UTC on 2 May)
    order = make_order(lines=(item("1", "MUG-01", 1, "10.00", "10.00"),))
    doc = build_sales_document(order, online_connection(), QBO_REFS, timezone="America/New_York")
    assert doc["TxnDate"] == "2024-05-01"


def test_fees_and_the_builtin_shipping_line() -> None:
    # Given two shipping lines, a fee and a negative fee (a store-side discount)
    order = make_order(
        lines=(item("1", "MUG-01", 3, "30.00", "30.00", tax("1", "1.80")),),
        shipping_lines=(
            ShippingLine(line_id="8", method="Courier", total=D("6.00"), taxes=tax("1", "0.36")),
            ShippingLine(line_id="9", method="Insurance", total=D("1.25")),
        ),
        fee_lines=(
            FeeLine(line_id="5", name="Gift wrap", total=D("2.00")),
            FeeLine(line_id="6", name="Loyalty credit", total=D("-3.00")),
        ),
    )
    # When shipping goes to QuickBooks' built-in shipping line
    doc = build_sales_document(order, online_connection(shipping_item="SHIPPING_ITEM_ID"), QBO_REFS)
    sales = lines_of(doc, "SalesItemLineDetail")
    # Then fees use the fee item and shipping is one combined, taxed line
    assert [(s["Description"], s["Amount"]) for s in sales] == [
        ("Product 1", D("30.00")),
        ("Gift wrap", D("2.00")),
        ("Loyalty credit", D("-3.00")),
        ("Courier, Insurance", D("7.25")),
    ]
    assert sales[1]["SalesItemLineDetail"]["ItemRef"]["value"] == "31"
    assert sales[2]["SalesItemLineDetail"]["UnitPrice"] == D("-3")
    assert sales[3]["SalesItemLineDetail"] == {
        "ItemRef": {"value": "SHIPPING_ITEM_ID", "name": "Shipping"},
        "TaxCodeRef": {"value": "TAX"},
    }
    assert not lines_of(doc, "DiscountLineDetail")
    assert adds_up(doc) == order.total == D("38.41")


def test_per_rate_tax_codes_for_several_rates() -> None:
    # Given a UK order: standard-rated mug, reduced-rate hoodie, untaxed shipping
    rules: dict[str, Any] = {
        "tax": TaxRules(
            mode="per_rate", codes={"1": "VAT 20%", "2": "VAT 5%"}, exempt_code="Exempt"
        )
    }
    order = make_order(
        lines=(
            item("1", "MUG-01", 1, "12.00", "10.00", tax("1", "2.00")),
            item("2", "HOODIE-M", 2, "40.00", "40.00", tax("2", "2.00")),
        ),
        shipping_lines=(ShippingLine(line_id="9", method="Royal Mail", total=D("3.95")),),
        coupons=(Coupon(code="TEN", discount=D("2.00")),),
        currency="GBP",
    )
    # When the invoice is built
    doc = build_sales_document(order, online_connection(**rules), QBO_REFS)
    # Then each line carries its rate's QuickBooks tax code id, and tax is computed exclusive
    codes = [s["SalesItemLineDetail"]["TaxCodeRef"] for s in lines_of(doc, "SalesItemLineDetail")]
    assert codes == [{"value": "5"}, {"value": "6"}, {"value": "7"}]
    assert doc["GlobalTaxCalculation"] == "TaxExcluded"
    # and the store's VAT goes per QuickBooks rate, on the amounts QuickBooks taxes: the 2.00
    # discount line spread over all 55.95 of lines (QuickBooks would charge 2.31 and 1.93)
    assert doc["TxnTaxDetail"]["TotalTax"] == D("4.00")
    rates = tax_lines_of(doc)
    assert {rate: amount for rate, (amount, _) in rates.items()} == {
        "1": D("2.00"),
        "2": D("2.00"),
        "4": D("0.00"),
    }
    assert [d["NetAmountTaxable"] for _, d in rates.values()] == [
        D("11.57"),
        D("38.57"),
        D("3.81"),
    ]
    assert rates["1"][1]["TaxPercent"] == D(20) and rates["1"][1]["PercentBased"] is True
    assert doc["CurrencyRef"] == {"value": "GBP"}
    assert adds_up(doc) == order.total == D("57.95")


def test_prices_including_tax_send_net_amounts_marked_inclusive() -> None:
    # Given prices including 20% VAT: 12.00 gross is 10.00 net + 2.00 tax
    rules: dict[str, Any] = {
        "tax": TaxRules(mode="per_rate", codes={"1": "VAT 20%"}, exempt_code="Exempt")
    }
    order = make_order(
        lines=(item("1", "MUG-01", 3, "10.00", "10.00", tax("1", "2.00")),),
        prices_include_tax=True,
        currency="GBP",
    )
    doc = build_sales_document(order, online_connection(**rules), QBO_REFS)
    [line] = lines_of(doc, "SalesItemLineDetail")
    assert doc["GlobalTaxCalculation"] == "TaxInclusive"
    # Then the Amount is the net figure, the unit price has the 7 decimals QuickBooks keeps
    assert line["Amount"] == D("10.00")
    assert line["SalesItemLineDetail"]["UnitPrice"] == D("3.3333333")
    assert "TaxInclusiveAmt" not in line["SalesItemLineDetail"]
    # and the rate's TaxLine has the net taxed and the gross it makes
    [(amount, detail)] = tax_lines_of(doc).values()
    assert (amount, detail["NetAmountTaxable"], detail["TaxInclusiveAmount"]) == (
        D("2.00"),
        D("10.00"),
        D("12.00"),
    )
    assert_prices_consistent(doc)
    assert adds_up(doc) == order.total == D("12.00")


def test_compound_rates_on_one_line_use_the_combined_code() -> None:
    # Given Quebec: GST 5% and compound QST 9.975% on the same line
    rates = {
        "1": TaxLine(rate_id="1", code="CA-GST", label="GST", percent=D(5), tax_total=D(0)),
        "2": TaxLine(rate_id="2", code="CA-QC-QST", label="QST", compound=True, tax_total=D(0)),
    }
    taxes = (TaxAmount(rate_id="1", amount=D("5.00")), TaxAmount(rate_id="2", amount=D("10.47")))
    order = make_order(
        lines=(item("1", "MUG-01", 1, "100.00", "100.00", taxes),), rates=rates, currency="CAD"
    )
    rules: dict[str, Any] = {"tax": TaxRules(mode="per_rate", codes={"1+2": "GST/QST QC"})}
    doc = build_sales_document(order, online_connection(**rules), QBO_REFS)
    [line] = lines_of(doc, "SalesItemLineDetail")
    assert line["SalesItemLineDetail"]["TaxCodeRef"] == {"value": "8"}
    # and QuickBooks' GST and QST (9.975% of the net: 9.98) share the store's 15.47
    # in proportion to what QuickBooks computes: 5.00 / 14.98 and 9.98 / 14.98 of it
    rates = tax_lines_of(doc)
    assert (rates["11"][0], rates["14"][0]) == (D("5.17"), D("10.30"))
    assert adds_up(doc) == order.total == D("115.47")


def test_guest_order_without_addresses() -> None:
    guest = Customer(connection_id="shop-us", store_id=None, email="guest@example.com")
    order = make_order(lines=(item("1", None, 1, "9.99", "9.99"),), customer=guest)
    doc = build_sales_document(order, online_connection(), QBO_REFS)
    assert doc["BillEmail"] == {"Address": "guest@example.com"}
    assert "BillAddr" not in doc and "ShipAddr" not in doc
    # The deleted product's line goes to the fallback item
    [line] = lines_of(doc, "SalesItemLineDetail")
    assert line["SalesItemLineDetail"]["ItemRef"] == {"value": "1", "name": "Sales"}
    assert adds_up(doc) == order.total == D("9.99")


def test_net_lines_mode_has_no_discount_line() -> None:
    order = make_order(
        lines=(item("1", "MUG-01", 4, "40.00", "30.00", tax("1", "2.40")),),
        coupons=(Coupon(code="QUARTER", discount=D("10.00")),),
    )
    doc = build_sales_document(order, online_connection(discounts="net_lines"), QBO_REFS)
    [line] = lines_of(doc, "SalesItemLineDetail")
    assert line["Amount"] == D("30.00")
    assert line["SalesItemLineDetail"]["UnitPrice"] == D("7.5")
    assert not lines_of(doc, "DiscountLineDetail")
    assert "Coupons: QUARTER" in doc["PrivateNote"]
    assert adds_up(doc) == order.total == D("32.40")


def test_sales_receipt_keeps_the_whole_transaction_id_in_the_note() -> None:
    order = make_order(
        lines=(item("1", "MUG-01", 1, "10.00", "10.00"),),
        payment=Payment(
            method="stripe", method_title="Card", transaction_id="ch_3PAbCdEfGhIjKlMnOpQrStUv"
        ),
    )
    doc = build_sales_document(order, online_connection("sales_receipt"), QBO_REFS)
    assert document_entity(online_connection("sales_receipt")) == "SalesReceipt"
    assert doc["PaymentRefNum"] == "ch_3PAbCdEfGhIjKlMnOp"[:21]
    assert len(doc["PaymentRefNum"]) == 21
    assert "Payment transaction ch_3PAbCdEfGhIjKlMnOpQrStUv" in doc["PrivateNote"]


def test_invoice_has_no_payment_reference() -> None:
    order = make_order(
        lines=(item("1", "MUG-01", 1, "10.00", "10.00"),), payment=Payment(transaction_id="T1")
    )
    assert "PaymentRefNum" not in build_sales_document(order, online_connection(), QBO_REFS)


def test_private_note_is_cut_to_4000_characters() -> None:
    order = make_order(lines=(item("1", "MUG-01", 1, "10.00", "10.00"),), note="x" * 5000)
    note = build_sales_document(order, online_connection(), QBO_REFS)["PrivateNote"]
    assert len(note) == 4000
    assert note.startswith("WooCommerce order #1042 (id 727)\nCustomer note: xxx")


def test_tax_mode_none_refuses_a_taxed_order() -> None:
    order = make_order(lines=(item("1", "MUG-01", 1, "10.00", "10.00", tax("1", "0.80")),))
    with pytest.raises(PermanentError) as caught:
        build_sales_document(order, online_connection(tax=TaxRules(mode="none")), QBO_REFS)
    assert "charges 0.80 tax but the tenant file's tax mode is 'none'" in caught.value.reason


def test_tax_mode_none_marks_the_document_not_applicable() -> None:
    order = make_order(lines=(item("1", "MUG-01", 1, "10.00", "10.00"),))
    doc = build_sales_document(order, online_connection(tax=TaxRules(mode="none")), QBO_REFS)
    assert doc["GlobalTaxCalculation"] == "NotApplicable"
    assert "TxnTaxDetail" not in doc
    assert "TaxCodeRef" not in lines_of(doc, "SalesItemLineDetail")[0]["SalesItemLineDetail"]


def test_order_whose_parts_do_not_add_up_is_parked() -> None:
    order = make_order(lines=(item("1", "MUG-01", 1, "10.00", "10.00"),)).model_copy(
        update={"total": D("10.01")}
    )
    with pytest.raises(PermanentError) as caught:
        build_sales_document(order, online_connection(), QBO_REFS)
    assert "not the order total 10.01" in caught.value.reason


def test_missing_item_id_is_parked_with_the_item_name() -> None:
    order = make_order(lines=(item("1", "HOODIE-M", 1, "10.00", "10.00"),))
    refs = QBO_REFS.model_copy(update={"items": {"Mug": "11"}})
    with pytest.raises(PermanentError) as caught:
        build_sales_document(order, online_connection(), refs)
    assert "QuickBooks item 'Hoodie' (for SKU HOODIE-M) was not found" in caught.value.reason


def test_missing_shipping_item_is_parked() -> None:
    order = make_order(
        lines=(item("1", "MUG-01", 1, "10.00", "10.00"),),
        shipping_lines=(ShippingLine(line_id="9", method="Courier", total=D("5.00")),),
    )
    refs = QBO_REFS.model_copy(update={"shipping_item_id": None})
    with pytest.raises(PermanentError) as caught:
        build_sales_document(order, online_connection(), refs)
    assert "has shipping, but the QuickBooks item 'Shipping' was not found" in caught.value.reason


# --- property: any order whose parts add up gives a document that adds up -----------------------


@settings(max_examples=150, deadline=None)
@given(
    order=online_orders(),
    discounts=st.sampled_from(["discount_line", "net_lines"]),
    tax_mode=st.sampled_from(["us_automated", "per_rate"]),
    shipping_item=st.sampled_from(["Shipping", "SHIPPING_ITEM_ID"]),
    document=st.sampled_from(["invoice", "sales_receipt"]),
)
def test_document_lines_minus_discount_plus_tax_equal_the_order_total(
    order: Order,
    discounts: str,
    tax_mode: str,
    shipping_item: str,
    document: Literal["invoice", "sales_receipt"],
) -> None:
    # Given any order whose parts add up, and any mapping choice
    tax_rules = (
        TaxRules(mode="per_rate", codes={"1": "VAT 20%", "2": "VAT 5%"}, exempt_code="Exempt")
        if tax_mode == "per_rate"
        else TaxRules()
    )
    conn = online_connection(
        document, discounts=discounts, tax=tax_rules, shipping_item=shipping_item
    )
    # When the document is built
    doc = build_sales_document(order, conn, QBO_REFS)
    # Then it adds up to the store's total to the cent, with consistent unit prices
    assert adds_up(doc) == order.total
    assert_prices_consistent(doc)
    discount_lines = lines_of(doc, "DiscountLineDetail")
    if discounts == "net_lines":
        assert not discount_lines
    else:
        assert sum((d["Amount"] for d in discount_lines), D(0)) == order.discount_total
    # and it survives the trip through JSON exactly
    parsed = json.loads(to_json(doc), parse_float=Decimal)
    assert adds_up(parsed) == order.total


# --- customers, updates, JSON ------------------------------------------------------------------


def test_customer_body_respects_quickbooks_limits() -> None:
    person = Customer(
        connection_id="shop-us",
        store_id="15",
        email="ann@example.com",
        first_name="A" * 150,
        last_name="  Lee  ",
        company="Acme: Tools",
        billing=ADDRESS.model_copy(update={"postcode": "9" * 40}),
    )
    body = build_customer(person)
    assert body["DisplayName"] == ("A" * 150 + " Lee")
    assert len(body["GivenName"]) == 100
    assert body["FamilyName"] == "Lee"
    assert body["CompanyName"] == "Acme: Tools"
    assert body["PrimaryEmailAddr"] == {"Address": "ann@example.com"}
    # The customer has no phone of their own; the billing address's phone is used
    assert body["PrimaryPhone"] == {"FreeFormNumber": "555-0100"}
    assert len(body["BillAddr"]["PostalCode"]) == 30
    assert "ShipAddr" not in body


def test_guest_customer_body_has_a_display_name_and_no_empty_fields() -> None:
    guest = Customer(connection_id="shop-us", store_id=None, email="x" * 95 + "@e.com")
    body = build_customer(guest)
    # An email QuickBooks cannot hold is left out rather than cut into a wrong address
    assert body == {"DisplayName": "Guest " + "x" * 95 + "@e.com"}


def test_sparse_update_carries_id_and_sync_token() -> None:
    body = sparse_update({"PrivateNote": "changed"}, "130", "4")
    assert body == {"Id": "130", "SyncToken": "4", "sparse": True, "PrivateNote": "changed"}


def test_to_json_writes_exact_numbers() -> None:
    text = to_json(
        {"Amount": D("0.10"), "UnitPrice": D("3.3333333"), "Qty": D(3), "ok": True, "n": None}
    )
    assert text == '{"Amount":0.10,"UnitPrice":3.3333333,"Qty":3,"ok":true,"n":null}'
    with pytest.raises(TypeError):
        to_json({"Amount": 0.1})


# --- conformance with Intuit's published schema and responses ----------------------------------


def _parse(path: Path) -> etree._ElementTree:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.parse(str(path), parser)


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


@pytest.mark.reference
def test_every_field_we_send_is_declared_in_intuits_xsd() -> None:
    if not (REFERENCE / "xsd" / "Finance.xsd").exists():
        pytest.skip(f"reference material not found at {REFERENCE}")
    xs = "{http://www.w3.org/2001/XMLSchema}"
    declared: set[str] = set()
    for name in ("Finance.xsd", "IntuitBaseTypes.xsd", "IntuitNamesTypes.xsd"):
        declared |= {el.get("name") for el in _parse(REFERENCE / "xsd" / name).iter(f"{xs}element")}
    order = make_order(
        lines=(item("1", "MUG-01", 2, "30.00", "25.00", tax("1", "2.00")),),
        shipping_lines=(ShippingLine(line_id="9", method="Courier", total=D("5.00")),),
        fee_lines=(FeeLine(line_id="5", name="Wrap", total=D("1.00")),),
        coupons=(Coupon(code="C", discount=D("5.00")),),
        payment=Payment(transaction_id="T-1"),
        note="n",
    )
    per_rate = TaxRules(mode="per_rate", codes={"1": "VAT 20%"}, exempt_code="Exempt")
    bodies = [
        build_sales_document(order, online_connection("sales_receipt"), QBO_REFS),
        build_sales_document(order, online_connection(tax=per_rate), QBO_REFS),
        build_customer(order.customer),
        sparse_update({"PrivateNote": "x"}, "1", "0"),
    ]
    # "value"/"name" are a reference's JSON spelling and "sparse" an attribute in the XML
    json_only = {"value", "name", "sparse"}
    assert set().union(*(_keys(b) for b in bodies)) - json_only - declared == set()


@pytest.mark.reference
def test_discount_line_arithmetic_matches_a_real_quickbooks_invoice() -> None:
    path = (
        REFERENCE / "fixtures" / "quickbooks-ruby" / "invoice_with_discount_line_item_response.xml"
    )
    if not path.exists():
        pytest.skip(f"reference fixture not found at {path}")
    ns = {"q": "http://schema.intuit.com/finance/v3"}
    invoice = _parse(path).getroot().find("q:Invoice", ns)
    assert invoice is not None
    document = {
        "Line": [
            {
                "DetailType": line.findtext("q:DetailType", namespaces=ns),
                "Amount": D(line.findtext("q:Amount", namespaces=ns)),
            }
            for line in invoice.findall("q:Line", ns)
        ]
    }
    # QuickBooks' own TotalAmt is sales lines minus the discount line (subtotal lines do not count)
    assert adds_up(document) == D(invoice.findtext("q:TotalAmt", namespaces=ns))


# --- revenue rules: classes, locations, account items ------------------------------------------

RULES = (
    {"when": {"sku": "GIFT-*"}, "class": "Gift cards", "income_account": "Gift card liability"},
    {"when": {"country": "US"}, "location": "US web"},
    {"class": "Retail"},
)
RULE_REFS = QBO_REFS.model_copy(
    update={
        "items": {**QBO_REFS.items, "Sales (Gift card liability)": "40"},
        "classes": {"Gift cards": "200", "Retail": "201"},
        "department_id": "300",
    }
)


def _gift_order() -> Order:
    return make_order(
        lines=(
            item("1", "GIFT-25", 1, "25.00", "25.00"),
            item("2", "MUG-01", 2, "20.00", "18.00", tax("1", "1.44")),
        ),
        shipping_lines=(ShippingLine(line_id="9", method="Flat rate", total=D("5.00")),),
        coupons=(Coupon(code="save10", discount=D("2.00")),),
    )


def test_classes_per_line_where_quickbooks_tracks_them_per_line() -> None:
    # Given a gift card and a mug, classes tracked per line
    refs = RULE_REFS.model_copy(update={"class_placement": "line"})
    body = build_sales_document(_gift_order(), online_connection(rules=RULES), refs)
    sales = lines_of(body, "SalesItemLineDetail")
    # Then the gift card line has its class and posts on the gift card account item; the mug,
    # shipping and the discount line carry the order's class; the location is the document's
    gift, mug, shipping = (line["SalesItemLineDetail"] for line in sales)
    assert gift["ClassRef"] == {"value": "200"}
    assert gift["ItemRef"] == {"value": "40", "name": "Sales (Gift card liability)"}
    assert mug["ClassRef"] == {"value": "201"} and mug["ItemRef"]["name"] == "Mug"
    assert shipping["ClassRef"] == {"value": "201"}
    (discount,) = lines_of(body, "DiscountLineDetail")
    assert discount["DiscountLineDetail"]["ClassRef"] == {"value": "201"}
    assert "ClassRef" not in body
    assert body["DepartmentRef"] == {"value": "300"}
    assert adds_up(body) == expected_total(_gift_order())


def test_one_class_per_transaction_where_quickbooks_tracks_them_so() -> None:
    refs = RULE_REFS.model_copy(update={"class_placement": "transaction"})
    body = build_sales_document(_gift_order(), online_connection(rules=RULES), refs)
    # The order as a whole is not all gift cards: the default class, on the document only
    assert body["ClassRef"] == {"value": "201"}
    assert not any("ClassRef" in line.get(line["DetailType"], {}) for line in body["Line"])


def test_no_class_where_quickbooks_tracks_none_and_no_rules_no_refs() -> None:
    # The ledger parks an order needing classes a company does not track; unplaced, none is sent
    body = build_sales_document(_gift_order(), online_connection(rules=RULES), RULE_REFS)
    assert "ClassRef" not in body and body["DepartmentRef"] == {"value": "300"}
    plain = build_sales_document(_gift_order(), online_connection(), QBO_REFS)
    assert "ClassRef" not in plain and "DepartmentRef" not in plain
    assert not any("ClassRef" in line.get(line["DetailType"], {}) for line in plain["Line"])


def test_a_class_or_location_without_an_id_is_parked_naming_it() -> None:
    refs = RULE_REFS.model_copy(update={"class_placement": "line", "classes": {"Retail": "201"}})
    with pytest.raises(PermanentError, match=r"class 'Gift cards' \(from mapping\.rules\)"):
        build_sales_document(_gift_order(), online_connection(rules=RULES), refs)
    no_location = RULE_REFS.model_copy(update={"department_id": None})
    with pytest.raises(PermanentError, match=r"location 'US web' \(from mapping\.rules\)"):
        build_sales_document(_gift_order(), online_connection(rules=RULES), no_location)

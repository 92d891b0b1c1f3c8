"""Every qbXML request we build is valid against Intuit's qbxmlops130.xsd (and 160),
and parse_response reads real QuickBooks Desktop responses.

Reads ../shared/reference/qbd (skips where it is absent).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from connector.ledgers.qbd import qbxml, qbxml_money, qbxml_queries
from connector.ledgers.qbd.qbxml_txns import SALES_KINDS, SalesKind
from connector.model import Order, Payment
from simulators.testbed.orders import OBRIEN, full_order, make_refund
from simulators.testbed.refs import qbd_refs
from simulators.testbed.strategies import desktop_orders

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "qbd"
XSD = {
    "13.0": REFERENCE / "xsd" / "130" / "qbxmlops130.xsd",
    "16.0": REFERENCE / "xsd" / "160" / "qbxmlops160.xsd",
}
ITERATOR = "{eb05f701-e727-472f-8ade-6753c4f67a46}"
SINCE = datetime(2024, 1, 1, 8, 30, tzinfo=UTC)

pytestmark = [
    pytest.mark.reference,
    pytest.mark.skipif(not REFERENCE.is_dir(), reason=f"reference material absent: {REFERENCE}"),
]


@pytest.fixture(scope="module", params=list(XSD))
def schema(request: pytest.FixtureRequest) -> tuple[str, etree.XMLSchema]:
    version: str = request.param
    path = XSD[version]
    if not path.is_file():
        pytest.skip(f"qbXML {version} schema not found at {path}")
    return version, etree.XMLSchema(etree.parse(str(path)))


def _document(text: str) -> etree._Element:
    # The message as QuickBooks reads it: the declaration, the qbxml PI, then <QBXML>.
    return etree.fromstring(text.encode("utf-8"))


def _assert_valid(schema: etree.XMLSchema, text: str, what: str) -> None:
    if not schema.validate(_document(text)):
        errors = "\n".join(f"line {e.line}: {e.message}" for e in schema.error_log)
        pytest.fail(f"{what} is not valid qbXML:\n{errors}\n{text}")


# Revenue rules and terms: a header class, per-line classes, a rule's item, invoice terms.
CLASSES: dict[str, Any] = {
    "txn_class": "Online",
    "line_classes": {"1": "Retail", "2": "Gift Cards:Seasonal"},
    "line_items": {"2": "Tee (Gift income)"},
    "terms": "Net 30",
}


def _classed(kind: SalesKind, op: str) -> qbxml.QbRequest:
    refs = qbd_refs(zero_tax_item="Out of State", payment_method="Visa", **CLASSES)
    if op == "Add":
        return qbxml.sales_txn_add(kind, full_order(), refs, request_id="1")
    return qbxml.sales_txn_mod(kind, full_order(), refs, "1A-1", "2", request_id="1")


def _order_of_items_only() -> Order:
    return full_order(
        shipping_lines=(),
        fee_lines=(),
        coupons=(),
        tax_lines=(),
        discount_total=Decimal("2.00"),
        shipping_total=Decimal("0"),
        total_tax=Decimal("0"),
        total=Decimal("33.00"),
    )


BUILDERS: dict[str, Callable[[], qbxml.QbRequest]] = {
    "CustomerQuery": lambda: qbxml.customer_query("Siobhán O'Brien", request_id="1"),
    "CustomerAdd full": lambda: qbxml.customer_add(
        OBRIEN, qbxml.customer_name(OBRIEN), request_id="1"
    ),
    "CustomerAdd bare": lambda: qbxml.customer_add(
        OBRIEN.model_copy(
            update={
                "email": "",
                "phone": "",
                "company": "",
                "billing": OBRIEN.billing.model_copy(
                    update={"line1": "", "city": "", "country": "", "line2": "", "postcode": ""}
                ),
                "shipping": OBRIEN.billing.model_copy(
                    update={"line1": "", "city": "", "country": "", "line2": "", "postcode": ""}
                ),
            }
        ),
        "Guest",
        request_id="1",
    ),
    "CustomerMod": lambda: qbxml.customer_mod(
        OBRIEN, "Siobhán O'Brien", "80000001-1232697602", "1232697602", request_id="1"
    ),
    "ItemQuery": lambda: qbxml.item_query(["Mug", "Shirts:T-shirt", "Shipping"], request_id="1"),
    "ItemNonInventoryAdd": lambda: qbxml.item_non_inventory_add(
        "MUG-BLUE-XL", "Sales:Merchandise", request_id="1", description="Blue mug"
    ),
    "InvoiceQuery": lambda: qbxml.txn_query_by_ref("Invoice", "1001", request_id="1"),
    "SalesReceiptQuery lines": lambda: qbxml.txn_query_by_ref(
        "SalesReceipt", "1001", request_id="1", include_line_items=True
    ),
    "CreditMemoQuery": lambda: qbxml.txn_query_by_ref("CreditMemo", "R55", request_id="1"),
    "InvoiceAdd": lambda: qbxml.sales_txn_add("Invoice", full_order(), qbd_refs(), request_id="1"),
    "InvoiceAdd net lines, zero tax item": lambda: qbxml.sales_txn_add(
        "Invoice",
        full_order(),
        qbd_refs(discount_item=None, zero_tax_item="Out of State"),
        request_id="1",
    ),
    "InvoiceAdd no tax code": lambda: qbxml.sales_txn_add(
        "Invoice", _order_of_items_only(), qbd_refs(non_taxable_code=None), request_id="1"
    ),
    "SalesReceiptAdd": lambda: qbxml.sales_txn_add(
        "SalesReceipt", full_order(), qbd_refs(zero_tax_item="Out of State"), request_id="1"
    ),
    "InvoiceMod": lambda: qbxml.sales_txn_mod(
        "Invoice",
        full_order(),
        qbd_refs(zero_tax_item="Out of State"),
        "1A-1232697602",
        "1232697602",
        request_id="1",
    ),
    "SalesReceiptMod": lambda: qbxml.sales_txn_mod(
        "SalesReceipt",
        full_order(),
        qbd_refs(zero_tax_item="Out of State"),
        "1A-1",
        "2",
        request_id="1",
    ),
    "CreditMemoAdd itemised": lambda: qbxml.credit_memo_add(
        make_refund(), qbd_refs(ref_number="R55", zero_tax_item="Out of State"), request_id="1"
    ),
    "CreditMemoAdd amount only": lambda: qbxml.credit_memo_add(
        make_refund(lines=()), qbd_refs(ref_number="R55"), request_id="1"
    ),
    "CustomerQuery stop": lambda: qbxml.query_stop("Customer", ITERATOR, request_id="1"),
    **{
        f"{kind}{op} classes and terms": partial(_classed, kind, op)
        for kind in SALES_KINDS
        for op in ("Add", "Mod")
    },
    "CreditMemoAdd classes": lambda: qbxml.credit_memo_add(
        make_refund(),
        qbd_refs(ref_number="R55", zero_tax_item="Out of State", **CLASSES),
        request_id="1",
    ),
    "SalesReceiptAdd paid, foreign": lambda: qbxml.sales_txn_add(
        "SalesReceipt",
        full_order(),
        qbd_refs(
            zero_tax_item="Out of State",
            payment_method="Visa",
            deposit_account="Checking",
            exchange_rate=Decimal("0.7312"),
        ),
        request_id="1",
    ),
    "InvoiceAdd foreign": lambda: qbxml.sales_txn_add(
        "Invoice", full_order(), qbd_refs(exchange_rate=Decimal("1.08")), request_id="1"
    ),
    "CreditMemoAdd foreign": lambda: qbxml.credit_memo_add(
        make_refund(), qbd_refs(ref_number="R55", exchange_rate=Decimal("1.08")), request_id="1"
    ),
    "ReceivePaymentAdd": lambda: qbxml_money.receive_payment_add(
        full_order(
            payment=Payment(
                method="stripe", method_title="Card", paid_at=SINCE, transaction_id="ch_" + "x" * 30
            )
        ),
        customer="Siobhán O'Brien",
        invoice_txn_id="1A-1",
        total=Decimal("30.00"),
        applied=Decimal("30.00"),
        ref_number="ch_xxxxxxxxxxxxxxxxx",
        payment_method="Visa",
        deposit_account="Undeposited Funds",
        exchange_rate=Decimal("1.08"),
        store="WooCommerce",
        request_id="1",
    ),
    "ReceivePaymentAdd credit applied": lambda: qbxml_money.credit_application_add(
        make_refund(),
        customer="Siobhán O'Brien",
        invoice_txn_id="1A-1",
        credit_txn_id="1B-1",
        ref_number="R55",
        store="WooCommerce",
        request_id="1",
    ),
    "ARRefundCreditCardAdd": lambda: qbxml_money.refund_payout_add(
        make_refund(),
        customer="Siobhán O'Brien",
        credit_txn_id="1B-1",
        ref_number="R55",
        refund_from_account="Undeposited Funds",
        payment_method="Visa",
        exchange_rate=Decimal("1.08"),
        store="WooCommerce",
        request_id="1",
    ),
    "ReceivePaymentQuery": lambda: qbxml.txn_query_by_ref(
        "ReceivePayment", "ch_xxxxxxxxxxxxxxxxx", request_id="1"
    ),
    "ARRefundCreditCardQuery": lambda: qbxml.txn_query_by_ref(
        "ARRefundCreditCard", "R55", request_id="1"
    ),
    "TxnVoid ARRefundCreditCard": lambda: qbxml.txn_void(
        "ARRefundCreditCard", "1A-1", request_id="1"
    ),
    "TxnDel ReceivePayment": lambda: qbxml.txn_del("ReceivePayment", "1A-1", request_id="1"),
}


TXN_KINDS: tuple[qbxml_queries.TxnKind, ...] = ("Invoice", "SalesReceipt", "CreditMemo")
QUERY_KINDS: tuple[qbxml_queries.ListKind | qbxml_queries.TxnKind, ...] = (
    "Customer",
    "Item",
    *TXN_KINDS,
)
for _kind in TXN_KINDS:
    BUILDERS[f"TxnVoid {_kind}"] = partial(qbxml.txn_void, _kind, "1A-1", request_id="1")
    BUILDERS[f"TxnDel {_kind}"] = partial(qbxml.txn_del, _kind, "1A-1", request_id="1")
for _query in QUERY_KINDS:
    BUILDERS[f"{_query}Query start"] = partial(
        qbxml.query_page, _query, request_id="1", max_returned=100, modified_since=SINCE
    )
    BUILDERS[f"{_query}Query continue"] = partial(
        qbxml.query_page, _query, request_id="1", max_returned=100, iterator_id=ITERATOR
    )

# The QuickBooks → store session's pages (issue #13): the watermark is QuickBooks' own text.
for _changes in qbxml_queries.CHANGES_KINDS:
    BUILDERS[f"{_changes}Query changed since"] = partial(
        qbxml_queries.changes_page,
        _changes,
        request_id="1",
        max_returned=100,
        modified_since="2026-01-05T09:00:00-05:00",
    )
    BUILDERS[f"{_changes}Query changes continue"] = partial(
        qbxml_queries.changes_page, _changes, request_id="1", max_returned=100, iterator_id=ITERATOR
    )

# Items deleted in QuickBooks, and the stock recount's light page (IncludeRetElement).
BUILDERS["ListDeletedQuery items"] = partial(qbxml_queries.deleted_items_query, request_id="1")
BUILDERS["ListDeletedQuery items deleted since"] = partial(
    qbxml_queries.deleted_items_query, request_id="1", deleted_since="2026-01-05T09:00:00-05:00"
)
BUILDERS["ItemInventoryQuery stock recount"] = partial(
    qbxml_queries.changes_page,
    "ItemInventory",
    request_id="1",
    max_returned=100,
    include=("ListID", "EditSequence", "QuantityOnHand"),
)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_every_request_is_valid_qbxml(schema: tuple[str, etree.XMLSchema], name: str) -> None:
    # Given a request from one of our builders
    version, xsd = schema
    request = BUILDERS[name]()
    # When it is rendered as a message for this qbXML version
    text = qbxml.render_message(
        [request], version=version, new_message_set_id="abc", old_message_set_id="abb"
    )
    # Then Intuit's schema accepts it
    _assert_valid(xsd, text, f"{name} ({version})")


def test_a_message_of_many_requests_is_valid(schema: tuple[str, etree.XMLSchema]) -> None:
    version, xsd = schema
    requests = [
        qbxml.QbRequest(str(n), r.kind, r.element)
        for n, r in enumerate(build() for build in BUILDERS.values())
    ]
    for request in requests:
        request.element.set("requestID", request.request_id)
    for text in qbxml.render_messages(
        requests,
        max_requests=7,
        version=version,
        new_message_set_id=qbxml.message_set_id,
    ):
        _assert_valid(xsd, text, f"a batch ({version})")


def test_the_schema_check_catches_a_misordered_request(
    schema: tuple[str, etree.XMLSchema],
) -> None:
    # Proves the conformance test can fail: Memo moved ahead of RefNumber.
    version, xsd = schema
    request = qbxml.sales_txn_add("Invoice", full_order(), qbd_refs(), request_id="1")
    body = request.element[0]
    memo = body.find("Memo")
    assert memo is not None
    body.remove(memo)
    body.insert(1, memo)
    assert not xsd.validate(_document(qbxml.render_message([request], version=version)))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(order=desktop_orders(), discount_item=st.booleans())
def test_random_orders_are_valid_qbxml(
    schema: tuple[str, etree.XMLSchema], order: Order, discount_item: bool
) -> None:
    version, xsd = schema
    refs = qbd_refs(discount_item="Discount" if discount_item else None)
    for request in (
        qbxml.sales_txn_add("Invoice", order, refs, request_id="1"),
        qbxml.sales_txn_mod("SalesReceipt", order, refs, "1A-1", "2", request_id="2"),
    ):
        _assert_valid(xsd, qbxml.render_message([request], version=version), "random order")


# -- real responses

SPEC_RESPONSES = sorted((REFERENCE / "samples" / "qbwc-qbxml-spec").glob("*rs*.xml"))
SOAP_RESPONSES = sorted((REFERENCE / "samples" / "flowlink").glob("*rs*.xml"))


def _unwrap(path: Path) -> str:
    """The qbXML a receiveResponseXML envelope carries (as text, or as inline elements)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.parse(str(path), parser).getroot()
    response = root.find(".//{http://developer.intuit.com/}response")
    assert response is not None, f"{path.name} has no receiveResponseXML response"
    inline = [c for c in response if isinstance(c.tag, str)]
    if inline:
        return etree.tostring(inline[0], encoding="unicode")
    return response.text or ""


@pytest.mark.parametrize("path", SPEC_RESPONSES, ids=lambda p: p.name)
def test_parse_response_reads_reference_responses(path: Path) -> None:
    message = qbxml.parse_response(path.read_bytes())
    assert message.responses
    for response in message.responses:
        assert response.kind.endswith("Rs")
        assert response.status_code == 0
        assert response.status_severity == "Info"
        assert response.rets and response.ret == response.rets[0]
        # Lists answer with ListID + EditSequence, transactions with TxnID + EditSequence.
        assert "EditSequence" in response.ret
        assert "ListID" in response.ret or "TxnID" in response.ret


def test_parse_response_reads_the_reference_iterator_page() -> None:
    path = REFERENCE / "samples" / "qbwc-qbxml-spec" / "responses_customer_query_terator_rs.xml"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    (response,) = qbxml.parse_response(path.read_text(encoding="utf-8")).responses
    assert response.iterator_remaining == 18
    assert response.iterator_id == ITERATOR
    assert response.ret is not None
    assert response.ret["ItemSalesTaxRef"] == {
        "ListID": "10000-1232327661",
        "FullName": "Out of State",
    }


@pytest.mark.parametrize("path", SOAP_RESPONSES, ids=lambda p: p.name)
def test_parse_response_reads_responses_carried_by_the_web_connector(path: Path) -> None:
    message = qbxml.parse_response(_unwrap(path))
    assert message.responses
    by_code: dict[int, list[Any]] = {}
    for response in message.responses:
        by_code.setdefault(response.status_code, []).append(response)
    if 3140 in by_code:
        (invalid,) = by_code[3140]
        assert invalid.is_error and invalid.ret is None
        assert "invalid reference to QuickBooks Customer" in invalid.status_message
    for response in by_code.get(0, []):
        assert response.ret is not None and "TxnID" in response.ret
    for response in by_code.get(1, []):
        assert response.ok and response.rets == []

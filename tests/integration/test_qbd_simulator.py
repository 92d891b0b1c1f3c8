"""The simulated QuickBooks Desktop company, driven by qbXML request documents as QBWC hands them over."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from connector.ledgers.qbd import qbxml
from connector.model import (
    Coupon,
    Customer,
    FeeLine,
    ShippingLine,
    TaxLine,
)
from simulators.qbd import QbdCompany, QbXmlParseError, ResponseLost
from simulators.testbed.orders import item, make_order, tax
from simulators.testbed.qbxml_messages import customer_add, invoice_add, line, message, responses

XSD = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "qbd" / "xsd"
).resolve()
SAMPLES = XSD.parent / "samples"
reference = pytest.mark.skipif(not XSD.is_dir(), reason="../shared/reference/qbd is absent")


@pytest.fixture
def company() -> QbdCompany:
    return QbdCompany()


def test_customer_add_returns_ids_and_a_second_add_of_the_same_name_is_3100(
    company: QbdCompany,
) -> None:
    # Given a new customer
    first = responses(company.process(message(customer_add("Jane Doe", email="jane@example.com"))))[
        0
    ]
    # When the same name (in another case) is added again
    second = responses(company.process(message(customer_add("JANE DOE", rid="2"))))[0]
    # Then the first got a ListID and EditSequence, the second the name-in-use error
    assert first.get("statusCode") == "0"
    ret = first.find("CustomerRet")
    assert ret.findtext("ListID") and ret.findtext("EditSequence")
    assert ret.findtext("Email") == "jane@example.com"
    assert second.get("statusCode") == "3100"
    assert second.get("statusSeverity") == "Error"
    assert (
        second.get("statusMessage") == 'The name "JANE DOE" of the list element is already in use.'
    )
    assert [c.name for c in company.customers()].count("Jane Doe") == 1


def test_a_customer_name_used_by_a_vendor_is_in_use_too(company: QbdCompany) -> None:
    company.add_list_record("Vendor", "Acme Supplies")
    answer = responses(company.process(message(customer_add("Acme Supplies"))))[0]
    assert answer.get("statusCode") == "3100"


def test_customer_mod_with_a_stale_edit_sequence_is_3200_and_a_fresh_one_changes_it(
    company: QbdCompany,
) -> None:
    ret = responses(company.process(message(customer_add("Jane Doe"))))[0].find("CustomerRet")
    list_id, seq = ret.findtext("ListID"), ret.findtext("EditSequence")
    mod = (
        '<CustomerModRq requestID="m"><CustomerMod><ListID>{}</ListID><EditSequence>{}</EditSequence>'
        "<Email>{}</Email></CustomerMod></CustomerModRq>"
    )
    fresh = responses(company.process(message(mod.format(list_id, seq, "new@example.com"))))[0]
    stale = responses(company.process(message(mod.format(list_id, seq, "old@example.com"))))[0]
    assert fresh.get("statusCode") == "0"
    new_seq = fresh.find("CustomerRet").findtext("EditSequence")
    assert new_seq != seq
    assert stale.get("statusCode") == "3200"
    assert stale.get("statusMessage") == f'The provided edit sequence "{seq}" is out-of-date. '
    assert company.customers()[-1].email == "new@example.com"


def test_customer_mod_of_an_unknown_list_id_is_3000(company: QbdCompany) -> None:
    body = (
        "<CustomerModRq><CustomerMod><ListID>80000999-1</ListID><EditSequence>1</EditSequence>"
        "<Email>a@b.c</Email></CustomerMod></CustomerModRq>"
    )
    answer = responses(company.process(message(body)))[0]
    assert answer.get("statusCode") == "3000"


def test_invoice_totals_come_from_the_lines_with_discounts_subtracted(company: QbdCompany) -> None:
    company.process(message(customer_add("Jane Doe")))
    lines = (
        line("Sales", qty="3", rate="19.99")
        + line("Shipping", amount="5.00")
        + line("Discount", amount="4.00")
        + line("Fees", amount="1.50")
        + line("Sales Tax", amount="3.21")
    )
    answer = responses(company.process(message(invoice_add("Jane Doe", "WC1001", lines))))[0]
    ret = answer.find("InvoiceRet")
    assert answer.get("statusCode") == "0"
    assert ret.findtext("RefNumber") == "WC1001"
    assert ret.findtext("Subtotal") == "65.68"  # 59.97 + 5.00 - 4.00 + 1.50 + 3.21
    assert ret.findtext("BalanceRemaining") == "65.68"
    assert [r.findtext("Amount") for r in ret.findall("InvoiceLineRet")] == [
        "59.97", "5.00", "-4.00", "1.50", "3.21",
    ]  # fmt: skip
    assert ret.find("TotalAmount") is None  # an InvoiceRet has no TotalAmount
    (txn,) = company.transactions("Invoice")
    assert txn.total == Decimal("65.68") and txn.txn_number == 1


def test_sales_tax_item_on_the_header_taxes_the_taxable_lines(company: QbdCompany) -> None:
    company.add_list_record(
        "ItemSalesTax", "CA Tax", TaxRate="8.25", TaxVendorRef="State Board of Equalization"
    )
    company.process(message(customer_add("Jane Doe")))
    body = (
        "<SalesReceiptAddRq><SalesReceiptAdd><CustomerRef><FullName>Jane Doe</FullName></CustomerRef>"
        "<RefNumber>WC7</RefNumber><ItemSalesTaxRef><FullName>CA Tax</FullName></ItemSalesTaxRef>"
        + line("Sales", qty="2", rate="10.00", kind="SalesReceipt", tax="Tax")
        + line("Shipping", amount="4.99", kind="SalesReceipt")
        + "</SalesReceiptAdd></SalesReceiptAddRq>"
    )
    ret = responses(company.process(message(body)))[0].find("SalesReceiptRet")
    assert ret.findtext("Subtotal") == "24.99"
    assert ret.findtext("SalesTaxPercentage") == "8.25"
    assert ret.findtext("SalesTaxTotal") == "1.65"  # 8.25 % of 20.00, half up
    assert ret.findtext("TotalAmount") == "26.64"


def test_an_unknown_customer_or_item_is_an_invalid_reference_3140(company: QbdCompany) -> None:
    company.process(message(customer_add("Jane Doe")))
    no_customer = invoice_add("Nobody", "1", line("Sales", amount="1.00"))
    no_item = invoice_add("Jane Doe", "2", line("SKU-404", amount="1.00"), rid="2")
    first, second = responses(company.process(message(no_customer + no_item)))
    assert first.get("statusCode") == "3140"
    assert first.get("statusMessage").startswith(
        'There is an invalid reference to QuickBooks Customer "Nobody" in the Invoice.'
    )
    assert second.get("statusCode") == "3140"
    assert 'QuickBooks Item "SKU-404" in the Invoice line.' in second.get("statusMessage")
    assert company.transactions() == []


def _classed_invoice(ref: str, *, header: str | None, line_class: str | None, terms: str | None,
                     rid: str = "1") -> str:  # fmt: skip
    """An InvoiceAdd for Jane Doe with a header ClassRef, a line ClassRef and TermsRef as given."""
    head = f"<ClassRef><FullName>{header}</FullName></ClassRef>" if header else ""
    term = f"<TermsRef><FullName>{terms}</FullName></TermsRef>" if terms else ""
    cls = f"<ClassRef><FullName>{line_class}</FullName></ClassRef>" if line_class else ""
    return (
        f'<InvoiceAddRq requestID="{rid}"><InvoiceAdd><CustomerRef><FullName>Jane Doe</FullName>'
        f"</CustomerRef>{head}<RefNumber>{ref}</RefNumber>{term}<InvoiceLineAdd><ItemRef>"
        f"<FullName>Sales</FullName></ItemRef>{cls}<Amount>10.00</Amount></InvoiceLineAdd>"
        "</InvoiceAdd></InvoiceAddRq>"
    )


def test_class_tracking_is_off_by_default_and_a_class_is_then_refused_with_3250(
    company: QbdCompany,
) -> None:
    # Given a company file as QuickBooks creates it (class tracking off)
    company.process(message(customer_add("Jane Doe")))
    prefs = responses(company.process(message("<PreferencesQueryRq/>")))[0]
    assert prefs.findtext("PreferencesRet/AccountingPreferences/IsUsingClassTracking") == "false"
    # When an invoice names a class on a line, or on the header
    on_line = _classed_invoice("C1", header=None, line_class="Retail", terms=None)
    on_header = _classed_invoice("C2", header="Retail", line_class=None, terms=None, rid="2")
    first, second = responses(company.process(message(on_line + on_header)))
    # Then both are refused as a feature that is not enabled, and nothing is added
    for answer in (first, second):
        assert answer.get("statusCode") == "3250"
        assert "not enabled" in answer.get("statusMessage")
    assert company.transactions() == []


def test_with_class_tracking_classes_and_terms_land_and_unknown_ones_are_3140() -> None:
    # Given a company file that tracks classes (seeded classes and standard terms)
    company = QbdCompany(class_tracking=True)
    company.process(message(customer_add("Jane Doe")))
    prefs = responses(company.process(message("<PreferencesQueryRq/>")))[0]
    assert prefs.findtext("PreferencesRet/AccountingPreferences/IsUsingClassTracking") == "true"
    # When invoices name a known class and terms, an unknown class, and unknown terms
    good = _classed_invoice("C1", header="Online", line_class="Retail", terms="Net 15")
    no_class = _classed_invoice("C2", header=None, line_class="Nope", terms=None, rid="2")
    no_terms = _classed_invoice("C3", header=None, line_class=None, terms="Net 45", rid="3")
    first, second, third = responses(company.process(message(good + no_class + no_terms)))
    # Then the known ones land where they were put
    assert first.get("statusCode") == "0"
    (txn,) = company.transactions("Invoice")
    assert (txn.class_name, txn.terms) == ("Online", "Net 15")
    assert [line.class_name for line in txn.lines] == ["Retail"]
    # And the unknown ones are invalid references, in QuickBooks' words
    assert second.get("statusCode") == "3140"
    assert second.get("statusMessage").startswith(
        'There is an invalid reference to QuickBooks Class "Nope" in the Invoice line.'
    )
    assert third.get("statusCode") == "3140"
    assert third.get("statusMessage").startswith(
        'There is an invalid reference to QuickBooks Terms "Net 45" in the Invoice.'
    )


def test_an_item_posting_to_an_unknown_account_is_3140(company: QbdCompany) -> None:
    body = (
        "<ItemNonInventoryAddRq><ItemNonInventoryAdd><Name>Mug (Gift income)</Name>"
        "<SalesOrPurchase><AccountRef><FullName>Gift income</FullName></AccountRef>"
        "</SalesOrPurchase></ItemNonInventoryAdd></ItemNonInventoryAddRq>"
    )
    (answer,) = responses(company.process(message(body)))
    assert answer.get("statusCode") == "3140"
    assert 'QuickBooks Account "Gift income"' in answer.get("statusMessage")
    assert "Mug (Gift income)" not in company.items()


def test_stop_on_error_leaves_the_rest_unprocessed_and_continue_on_error_runs_it(
    company: QbdCompany,
) -> None:
    body = customer_add("A", "1") + customer_add("A", "2") + customer_add("B", "3")
    stopped = responses(company.process(message(body, on_error="stopOnError")))
    assert [(r.get("requestID"), r.get("statusCode")) for r in stopped] == [
        ("1", "0"),
        ("2", "3100"),
    ]
    assert "B" not in [c.name for c in company.customers()]
    body = customer_add("C", "1") + customer_add("C", "2") + customer_add("D", "3")
    continued = responses(company.process(message(body)))
    assert [r.get("statusCode") for r in continued] == ["0", "3100", "0"]


def test_invoice_mod_needs_the_current_edit_sequence_and_replaces_the_lines(
    company: QbdCompany,
) -> None:
    company.process(message(customer_add("Jane Doe")))
    ret = responses(
        company.process(message(invoice_add("Jane Doe", "WC1", line("Sales", amount="10.00"))))
    )[0]
    txn_id = ret.find("InvoiceRet").findtext("TxnID")
    seq = ret.find("InvoiceRet").findtext("EditSequence")
    mod = (
        "<InvoiceModRq><InvoiceMod><TxnID>{}</TxnID><EditSequence>{}</EditSequence>"
        "<InvoiceLineMod><TxnLineID>-1</TxnLineID><ItemRef><FullName>Sales</FullName></ItemRef>"
        "<Amount>12.50</Amount></InvoiceLineMod></InvoiceMod></InvoiceModRq>"
    )
    ok = responses(company.process(message(mod.format(txn_id, seq))))[0]
    stale = responses(company.process(message(mod.format(txn_id, seq))))[0]
    assert ok.get("statusCode") == "0"
    assert ok.find("InvoiceRet").findtext("Subtotal") == "12.50"
    assert ok.find("InvoiceRet").findtext("EditSequence") != seq
    assert stale.get("statusCode") == "3200"
    (txn,) = company.transactions("Invoice")
    assert [ln.amount for ln in txn.lines] == [Decimal("12.50")]


def test_query_by_ref_number_finds_the_transaction_and_no_match_is_status_1(
    company: QbdCompany,
) -> None:
    company.process(message(customer_add("Jane Doe")))
    company.process(message(invoice_add("Jane Doe", "WC1001", line("Sales", amount="10.00"))))
    found, missing = responses(
        company.process(
            message(
                '<InvoiceQueryRq requestID="a"><RefNumber>wc1001</RefNumber></InvoiceQueryRq>'
                '<InvoiceQueryRq requestID="b"><RefNumber>WC9999</RefNumber></InvoiceQueryRq>'
            )
        )
    )
    assert found.get("statusCode") == "0"
    assert found.find("InvoiceRet").findtext("RefNumber") == "WC1001"
    assert found.find("InvoiceRet").find("InvoiceLineRet") is None  # lines only on request
    assert missing.get("statusCode") == "1"
    assert missing.get("statusSeverity") == "Info"
    assert (
        missing.get("statusMessage")
        == "A query request did not find a matching object in QuickBooks"
    )


NOT_FOUND_500 = (
    "The query request has not been fully completed. There was a required element "
    '("{}") that could not be found in QuickBooks.'
)


def test_a_query_naming_what_the_file_lacks_warns_500_not_1(company: QbdCompany) -> None:
    # Given a company file without "Nobody", ListID "80000999-1" or TxnID "FFFF-1"
    # When it is asked for them by name or id, as QuickBooks Desktop is
    answers = responses(
        company.process(
            message(
                '<CustomerQueryRq requestID="name"><FullName>Nobody</FullName></CustomerQueryRq>'
                '<CustomerQueryRq requestID="id"><ListID>80000999-1</ListID></CustomerQueryRq>'
                '<ItemQueryRq requestID="item"><FullName>No Such Item</FullName></ItemQueryRq>'
                '<AccountQueryRq requestID="acct"><FullName>No Account</FullName></AccountQueryRq>'
                '<InvoiceQueryRq requestID="txn"><TxnID>FFFF-1</TxnID></InvoiceQueryRq>'
            )
        )
    )
    # Then each answer is 500 Warn naming what was missing, with no records
    named = ["Nobody", "80000999-1", "No Such Item", "No Account", "FFFF-1"]
    assert [(a.get("statusCode"), a.get("statusSeverity")) for a in answers] == [
        ("500", "Warn")
    ] * 5
    assert [a.get("statusMessage") for a in answers] == [NOT_FOUND_500.format(n) for n in named]
    assert all(len(a) == 0 for a in answers)


def test_a_filter_that_matches_nothing_is_status_1(company: QbdCompany) -> None:
    # Given a company file with no customer whose name starts with "Zz"
    # When a filter asks for them
    (answer,) = responses(
        company.process(
            message(
                "<CustomerQueryRq><NameFilter><MatchCriterion>StartsWith</MatchCriterion>"
                "<Name>Zz</Name></NameFilter></CustomerQueryRq>"
            )
        )
    )
    # Then QuickBooks says it found no match (Info), not that something is missing
    assert (answer.get("statusCode"), answer.get("statusSeverity")) == ("1", "Info")


def test_item_query_by_names_with_one_missing_warns_500_and_returns_the_others(
    company: QbdCompany,
) -> None:
    body = "<ItemQueryRq><FullName>Shipping</FullName><FullName>Discount</FullName><FullName>Nope</FullName></ItemQueryRq>"
    answer = responses(company.process(message(body)))[0]
    assert answer.get("statusCode") == "500"
    assert answer.get("statusSeverity") == "Warn"
    assert answer.get("statusMessage") == NOT_FOUND_500.format("Nope")
    assert [r.tag for r in answer] == ["ItemOtherChargeRet", "ItemDiscountRet"]


def test_iterators_page_through_a_query_with_remaining_counts(company: QbdCompany) -> None:
    for n in range(5):
        company.process(message(customer_add(f"Customer {n}")))
    first = responses(
        company.process(
            message(
                '<CustomerQueryRq iterator="Start"><MaxReturned>2</MaxReturned></CustomerQueryRq>'
            )
        )
    )[0]
    iterator = first.get("iteratorID")
    seen = [r.findtext("Name") for r in first]
    remaining = [int(first.get("iteratorRemainingCount"))]
    while remaining[-1]:
        page = responses(
            company.process(
                message(
                    f'<CustomerQueryRq iterator="Continue" iteratorID="{iterator}"><MaxReturned>2</MaxReturned></CustomerQueryRq>'
                )
            )
        )[0]
        seen += [r.findtext("Name") for r in page]
        remaining.append(int(page.get("iteratorRemainingCount")))
    assert remaining == [4, 2, 0]  # 6 customers: 5 added + the seeded "Cash Customer"
    assert sorted(seen) == sorted(["Cash Customer"] + [f"Customer {n}" for n in range(5)])


def test_iterators_do_not_survive_the_session(company: QbdCompany) -> None:
    company.open_session()
    first = responses(
        company.process(
            message('<ItemQueryRq iterator="Start"><MaxReturned>1</MaxReturned></ItemQueryRq>')
        )
    )[0]
    company.close_session()
    again = responses(
        company.process(
            message(
                f'<ItemQueryRq iterator="Continue" iteratorID="{first.get("iteratorID")}"></ItemQueryRq>'
            )
        )
    )[0]
    assert again.get("statusCode") == "3000"


def test_error_recovery_returns_the_stored_response_instead_of_adding_twice(
    company: QbdCompany,
) -> None:
    # Given an add whose answer was lost on the way back
    company.process(message(customer_add("Jane Doe")))
    add = invoice_add("Jane Doe", "WC1001", line("Sales", amount="10.00"))
    company.lose_next_response()
    with pytest.raises(ResponseLost):
        company.process(message(add, newMessageSetID="set-1"))
    # When the same message is sent again naming the old message set
    again = company.process(message(add, oldMessageSetID="set-1", newMessageSetID="set-1"))
    # Then QuickBooks answers what it answered the first time, and there is one invoice
    msgs = etree.fromstring(again.encode()).find("QBXMLMsgsRs")
    assert msgs.get("messageSetStatusCode") == "0"
    assert msgs.find("InvoiceAddRs").get("statusCode") == "0"
    assert len(company.transactions("Invoice")) == 1
    assert msgs.find("InvoiceAddRs/InvoiceRet/TxnID").text == company.transactions()[0].txn_id


def test_the_same_message_set_id_with_other_requests_is_9001_and_runs_nothing(
    company: QbdCompany,
) -> None:
    company.process(message(customer_add("A"), newMessageSetID="set-9"))
    answer = company.process(message(customer_add("B"), newMessageSetID="set-9"))
    msgs = etree.fromstring(answer.encode()).find("QBXMLMsgsRs")
    assert msgs.get("messageSetStatusCode") == "9001"
    assert list(msgs) == []
    assert "B" not in [c.name for c in company.customers()]


def test_old_message_set_id_answers_the_saved_responses_then_this_messages_own(
    company: QbdCompany,
) -> None:
    # Given a message set whose answer never arrived
    company.lose_next_response()
    with pytest.raises(ResponseLost):
        company.process(message(customer_add("Jane Doe", rid="add-1"), newMessageSetID="set-1"))
    # When the next message asks about it and carries a query of its own
    query = '<CustomerQueryRq requestID="q-1"><FullName>Jane Doe</FullName></CustomerQueryRq>'
    answer = company.process(message(query, oldMessageSetID="set-1"))
    # Then the saved answer comes first, then the query's
    msgs = etree.fromstring(answer.encode()).find("QBXMLMsgsRs")
    assert msgs.get("messageSetStatusCode") == "0"
    assert [(r.tag, r.get("requestID"), r.get("statusCode")) for r in msgs] == [
        ("CustomerAddRs", "add-1", "0"),
        ("CustomerQueryRs", "q-1", "0"),
    ]
    assert [c.name for c in company.customers()].count("Jane Doe") == 1


def test_an_empty_status_check_for_an_unknown_set_is_600(company: QbdCompany) -> None:
    answer = company.process(message("", oldMessageSetID="never-sent"))
    assert (
        etree.fromstring(answer.encode()).find("QBXMLMsgsRs").get("messageSetStatusCode") == "600"
    )


def test_an_unknown_old_message_set_runs_the_requests(company: QbdCompany) -> None:
    company.process(message(customer_add("Jane Doe")))
    add = invoice_add("Jane Doe", "WC1", line("Sales", amount="10.00"))
    company.process(message(add, oldMessageSetID="never-sent", newMessageSetID="set-2"))
    assert len(company.transactions("Invoice")) == 1


def test_void_zeroes_the_amounts_and_delete_removes(company: QbdCompany) -> None:
    company.process(message(customer_add("Jane Doe")))
    body = invoice_add("Jane Doe", "V1", line("Sales", amount="10.00")) + invoice_add(
        "Jane Doe", "D1", line("Sales", amount="5.00"), rid="2"
    )
    first, second = responses(company.process(message(body)))
    void_id = first.find("InvoiceRet").findtext("TxnID")
    del_id = second.find("InvoiceRet").findtext("TxnID")
    voided, deleted, missing = responses(
        company.process(
            message(
                f"<TxnVoidRq><TxnVoidType>Invoice</TxnVoidType><TxnID>{void_id}</TxnID></TxnVoidRq>"
                f"<TxnDelRq><TxnDelType>Invoice</TxnDelType><TxnID>{del_id}</TxnID></TxnDelRq>"
                "<TxnDelRq><TxnDelType>Invoice</TxnDelType><TxnID>FFFF-1</TxnID></TxnDelRq>"
            )
        )
    )
    assert voided.findtext("TxnID") == void_id and voided.findtext("RefNumber") == "V1"
    assert deleted.findtext("TxnID") == del_id and deleted.findtext("TimeDeleted")
    assert missing.get("statusCode") == "3120"
    (txn,) = company.transactions()
    assert txn.voided and txn.total == Decimal("0.00") and (txn.memo or "").startswith("VOID:")


def test_injected_lock_errors_fail_the_next_matching_requests_only(company: QbdCompany) -> None:
    company.inject(3175, times=1, request="CustomerAdd")
    first, second = responses(company.process(message(customer_add("A") + customer_add("B", "2"))))
    assert first.get("statusCode") == "3175" and "could not be locked" in first.get("statusMessage")
    assert second.get("statusCode") == "0"
    assert [c.name for c in company.customers()] == ["Cash Customer", "B"]


def test_characters_outside_latin1_are_a_parse_error(company: QbdCompany) -> None:
    with pytest.raises(QbXmlParseError) as caught:
        company.process(message(customer_add("Łukasz Żółw")))
    assert caught.value.hresult == "0x80040400"
    assert (
        caught.value.message
        == "QuickBooks found an error when parsing the provided XML text stream."
    )
    assert company.process(message(customer_add("José Müller")))  # Latin-1 is fine


def test_malformed_and_unversioned_documents_are_parse_errors(company: QbdCompany) -> None:
    with pytest.raises(QbXmlParseError):
        company.process(message(customer_add("A")).replace("</QBXML>", ""))
    with pytest.raises(QbXmlParseError):
        company.process(message(customer_add("A")).replace('<?qbxml version="13.0"?>', ""))
    with pytest.raises(QbXmlParseError):
        company.process(message(customer_add("A"), on_error="rollbackOnError"))
    assert [c.name for c in company.customers()] == ["Cash Customer"]


def test_without_the_schema_a_structural_check_still_rejects_unknown_requests() -> None:
    company = QbdCompany(xsd_dir=None)
    with pytest.raises(QbXmlParseError, match="unknown request <FrobnicateRq>"):
        company.process(message("<FrobnicateRq/>"))


def test_company_file_that_cannot_be_opened(company: QbdCompany) -> None:
    from simulators.qbd import CompanyOpenError

    company.fail_open_company(times=1)
    with pytest.raises(CompanyOpenError) as caught:
        company.open_session("")
    assert caught.value.hresult == "0x80040408"
    company.open_session("")  # the next attempt works
    assert company.session_open


def test_concurrent_adds_get_distinct_ids(company: QbdCompany) -> None:
    def add(n: int) -> None:
        company.process(message(customer_add(f"Parallel {n}")))

    threads = [threading.Thread(target=add, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [c.list_id for c in company.customers()]
    assert len(ids) == len(set(ids)) == 21


# -- conformance with Intuit's schema and samples -----------------------------------------------


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD / "130" / "qbxmlops130.xsd")))


@reference
def test_an_element_out_of_schema_order_is_a_parse_error(company: QbdCompany) -> None:
    # RefNumber must come after CustomerRef in InvoiceAdd (xsd:sequence)
    body = (
        "<InvoiceAddRq><InvoiceAdd><RefNumber>1</RefNumber><CustomerRef><FullName>Cash Customer</FullName>"
        "</CustomerRef></InvoiceAdd></InvoiceAddRq>"
    )
    with pytest.raises(QbXmlParseError, match="RefNumber"):
        company.process(message(body))
    with pytest.raises(QbXmlParseError):  # Name is at most 41 characters
        company.process(message(customer_add("x" * 42)))


@reference
def test_responses_are_valid_against_the_schema(
    company: QbdCompany, schema: etree.XMLSchema
) -> None:
    company.process(message(customer_add("Jane Doe", email="j@example.com")))
    body = (
        invoice_add(
            "Jane Doe",
            "WC1",
            line("Sales", qty="2", rate="3.333") + line("Discount", amount="1.00"),
        )
        + invoice_add(
            "Jane Doe",
            "WC2",
            line("Shipping", amount="1.00", kind="SalesReceipt"),
            "2",
            "SalesReceipt",
        )
        + invoice_add(
            "Jane Doe", "WC3", line("Sales", amount="1.00", kind="CreditMemo"), "3", "CreditMemo"
        )
        + "<InvoiceQueryRq><RefNumber>WC1</RefNumber><IncludeLineItems>true</IncludeLineItems></InvoiceQueryRq>"
        + "<ItemQueryRq/><AccountQueryRq/><CustomerQueryRq/>"
        + customer_add("Jane Doe", "dup")
    )
    for text in (company.process(message(body)), company.host_company_preferences_response()):
        document = etree.fromstring(text.encode())
        assert schema.validate(document), schema.error_log


@reference
@pytest.mark.parametrize(
    "sample",
    [
        "requests_customer_add_rq.xml",
        "requests_invoice_add_rq.xml",
        "requests_sales_receipt_add_rq.xml",
    ],
)
def test_intuit_sample_requests_parse(sample: str) -> None:
    # Given Intuit's own sample request (names that may not exist in our company file)
    text = (SAMPLES / "qbwc-qbxml-spec" / sample).read_text(encoding="utf-8")
    text = re.sub(r'<\?qbxml version="[0-9.]+"\?>', '<?qbxml version="13.0"?>', text)
    company = QbdCompany()
    # Then QuickBooks parses it and answers every request with a status
    answers = responses(company.process(text))
    assert answers and all(a.get("statusCode") is not None for a in answers)


# -- the connector's own qbXML builders, run by the simulated company ---------------------------


def test_the_connectors_qbxml_runs_in_the_simulated_company(company: QbdCompany) -> None:
    # Given an order built into qbXML by the connector's own builders
    buyer = Customer(
        connection_id="desk",
        store_id="77",
        email="zoe@example.com",
        first_name="Zoë",
        last_name="O'Brien",
    )
    order = make_order(
        connection_id="desk",
        store_id="1001",
        number="1001",
        created_at=datetime(2026, 1, 5, 10, 0, tzinfo=UTC),
        modified_at=datetime(2026, 1, 5, 10, 0, tzinfo=UTC),
        customer=buyer,
        lines=(
            item("1", "TSHIRT", 3, "59.97", "53.97", tax("1", "4.45"), name="T-shirt"),
            item("2", "MUG", 1, "12.00", "12.00", tax("1", "0.99"), name="Mug “Café”"),
        ),
        shipping_lines=(ShippingLine(line_id="3", method="Flat rate", total=Decimal("5.00")),),
        fee_lines=(FeeLine(line_id="4", name="Gift wrap", total=Decimal("2.50")),),
        coupons=(Coupon(code="SAVE10", discount=Decimal("6.00")),),
        tax_lines=(
            TaxLine(
                rate_id="1",
                code="US-CA-TAX-1",
                label="Tax",
                percent=Decimal("8.25"),
                tax_total=Decimal("5.44"),
            ),
        ),
    )
    refs = qbxml.QbdRefs(
        customer="Zoe O'Brien", store_name="WooCommerce", skus={"TSHIRT": "Sales", "MUG": "Sales"},
        shipping_item="Shipping",
        fee_item="Fees", discount_item="Discount", sales_tax_item="Sales Tax", ref_number="1001",
        zero_tax_item="Out of State",
    )  # fmt: skip
    requests = [
        qbxml.customer_add(order.customer, "Zoe O'Brien", request_id="c1"),
        qbxml.sales_txn_add("Invoice", order, refs, request_id="t1"),
    ]
    text = qbxml.render_message(requests, new_message_set_id="set-1001")
    # When QuickBooks runs it
    answer = qbxml.parse_response(company.process(text))
    # Then both requests succeeded and the invoice's balance is the store total to the cent
    assert [(r.kind, r.status_code) for r in answer.responses] == [
        ("CustomerAddRs", 0),
        ("InvoiceAddRs", 0),
    ]
    (txn,) = company.transactions("Invoice")
    assert txn.total == order.total == qbxml.expected_total(order)
    assert txn.sales_tax_total == Decimal("0.00")  # the store's tax travels on the Sales Tax line
    assert txn.ref_number == "1001"
    assert answer.new_message_set_id == "set-1001"

"""The simulated QuickBooks Desktop's items and customers, queried the way a Web Connector
session asks for what changed: ItemInventoryQuery / ItemNonInventoryQuery / ItemServiceQuery /
CustomerQuery with FromModifiedDate, ActiveStatus and iterators, and QuickBooks' refusals."""

from __future__ import annotations

from decimal import Decimal

import pytest
from lxml import etree

from connector.ledgers.qbd import qbxml
from simulators.qbd import QbdCompany, QbXmlParseError
from simulators.qbd_records import QbStatus
from simulators.qbd_schema import default_library


def _message(body: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><?qbxml version="13.0"?><QBXML>'
        f'<QBXMLMsgsRq onError="continueOnError">{body}</QBXMLMsgsRq></QBXML>'
    )


def _query(company: QbdCompany, kind: str, *, attrs: str = "", body: str = "") -> qbxml.QbResponse:
    request = f'<{kind}QueryRq requestID="1" {attrs}>{body}</{kind}QueryRq>'
    return qbxml.parse_response(company.process(_message(request))).responses[0]


@pytest.fixture
def company() -> QbdCompany:
    company = QbdCompany()
    company.add_item("ItemInventory", "Shirts", desc="All shirts")
    company.add_item(
        "ItemInventory",
        "Linen shirt",
        parent="Shirts",
        price="39.5",
        desc="Linen",
        quantity_on_hand=12,
    )
    company.add_item("ItemInventory", "Scarf", price="19.00", quantity_on_hand=3)
    company.add_item("ItemService", "Hemming", price="8.00", desc="Hemming per item")
    company.process(
        _message(
            "<CustomerAddRq><CustomerAdd><Name>Ada Lovelace</Name><FirstName>Ada</FirstName>"
            "<LastName>Lovelace</LastName><Email>ada@example.com</Email></CustomerAdd></CustomerAddRq>"
        )
    )
    return company


def test_an_inventory_sub_item_answers_with_its_full_name_parent_price_and_stock(
    company: QbdCompany,
) -> None:
    found = _query(company, "ItemInventory", body="<FullName>Shirts:Linen shirt</FullName>")
    assert found.status_code == 0 and found.ret_kinds == ["ItemInventoryRet"]
    ret = found.ret
    assert ret is not None
    assert ret["Name"] == "Linen shirt" and ret["FullName"] == "Shirts:Linen shirt"
    assert ret["ParentRef"]["FullName"] == "Shirts" and ret["Sublevel"] == "1"
    assert (ret["SalesPrice"], ret["SalesDesc"], ret["QuantityOnHand"]) == ("39.50", "Linen", "12")
    # Each item query answers its own type only; ItemQuery answers every type.
    services = _query(
        company, "ItemService", attrs='iterator="Start"', body="<MaxReturned>50</MaxReturned>"
    )
    assert [r["FullName"] for r in services.rets] == ["Gift Wrapping", "Hemming"]
    every = _query(company, "Item", body="<MaxReturned>100</MaxReturned>")
    assert {"ItemInventoryRet", "ItemNonInventoryRet", "ItemServiceRet"} <= set(every.ret_kinds)


def test_a_change_by_hand_moves_edit_sequence_and_time_modified_and_only_it_is_found_since(
    company: QbdCompany,
) -> None:
    before = company.item("Scarf")
    assert before is not None
    everything = _query(company, "ItemInventory", body="<ActiveStatus>All</ActiveStatus>")
    latest = max(r["TimeModified"] for r in everything.rets)
    after = company.edit_item("Scarf", quantity_on_hand=Decimal("7"), price="21.00")
    assert after.edit_sequence != before.edit_sequence
    assert after.time_modified > before.time_modified > ""
    assert (after.quantity_on_hand, after.price) == (Decimal("7"), Decimal("21.00"))
    company.edit_item("Shirts:Linen shirt", active=False)
    # FromModifiedDate is inclusive, compared as moments (an offset or local time alike).
    since = after.time_modified
    active_only = _query(
        company, "ItemInventory", body=f"<FromModifiedDate>{since}</FromModifiedDate>"
    )
    assert [r["FullName"] for r in active_only.rets] == ["Scarf"]
    both = _query(
        company,
        "ItemInventory",
        body=f"<ActiveStatus>All</ActiveStatus><FromModifiedDate>{since}</FromModifiedDate>",
    )
    assert [(r["FullName"], r["IsActive"]) for r in both.rets] == [
        ("Scarf", "true"),
        ("Shirts:Linen shirt", "false"),
    ]
    local = since[:19]  # the same moment without its offset: the company file's local time
    assert (
        len(
            _query(
                company,
                "ItemInventory",
                body=f"<ActiveStatus>All</ActiveStatus><FromModifiedDate>{local}</FromModifiedDate>",
            ).rets
        )
        == 2
    )
    assert latest < since
    nothing = _query(
        company, "ItemInventory", body="<FromModifiedDate>2030-01-01T00:00:00</FromModifiedDate>"
    )
    assert (nothing.status_code, nothing.rets) == (1, [])


def test_a_customer_edited_by_hand_is_found_since_with_its_new_fields(company: QbdCompany) -> None:
    first = _query(company, "Customer", body="<FullName>Ada Lovelace</FullName>").ret
    assert first is not None
    edited = company.edit_customer(
        "Ada Lovelace",
        Email="ada@analytical.example",
        Phone="555-0100",
        BillAddress={"Addr1": "12 St James's Square", "City": "London", "Country": "UK"},
    )
    assert edited.edit_sequence != first["EditSequence"]
    since = _query(
        company, "Customer", body=f"<FromModifiedDate>{first['TimeModified']}</FromModifiedDate>"
    )
    changed = [r for r in since.rets if r["FullName"] == "Ada Lovelace"]
    assert changed and changed[0]["Email"] == "ada@analytical.example"
    assert changed[0]["BillAddress"]["City"] == "London" and changed[0]["Phone"] == "555-0100"
    later = _query(
        company,
        "Customer",
        body=f"<FromModifiedDate>{changed[0]['TimeModified']}</FromModifiedDate>",
    )
    assert [r["FullName"] for r in later.rets] == ["Ada Lovelace"]


def test_iterators_page_through_a_long_list_and_refuse_an_unknown_or_used_up_id(
    company: QbdCompany,
) -> None:
    for number in range(7):
        company.add_item("ItemInventory", f"Sock {number}", price="4.00", quantity_on_hand=number)
    seen: list[str] = []
    page = _query(
        company, "ItemInventory", attrs='iterator="Start"', body="<MaxReturned>3</MaxReturned>"
    )
    remaining = [page.iterator_remaining]
    seen += [r["FullName"] for r in page.rets]
    iterator = page.iterator_id
    assert iterator and iterator.startswith("{")
    while page.iterator_remaining:
        page = _query(
            company,
            "ItemInventory",
            attrs=f'iterator="Continue" iteratorID="{iterator}"',
            body="<MaxReturned>3</MaxReturned>",
        )
        assert page.status_code == 0 and page.iterator_id == iterator
        remaining.append(page.iterator_remaining)
        seen += [r["FullName"] for r in page.rets]
    assert remaining == [7, 4, 1, 0]
    assert len(seen) == len(set(seen)) == 10  # 7 socks, the scarf, the shirts and a shirt
    used_up = _query(company, "ItemInventory", attrs=f'iterator="Continue" iteratorID="{iterator}"')
    assert used_up.status_code == 3000 and iterator in used_up.status_message
    unknown = "{00000000-0000-4000-8000-000000000000}"
    made_up = _query(company, "ItemInventory", attrs=f'iterator="Continue" iteratorID="{unknown}"')
    assert (made_up.status_code, made_up.status_severity) == (3000, "Error")
    # An iterator of another list is not this list's.
    customers = _query(
        company, "Customer", attrs='iterator="Start"', body="<MaxReturned>1</MaxReturned>"
    )
    crossed = _query(
        company, "ItemInventory", attrs=f'iterator="Continue" iteratorID="{customers.iterator_id}"'
    )
    assert crossed.status_code == 3000


def test_an_iterator_ends_with_the_session_and_stop_lets_it_go(company: QbdCompany) -> None:
    page = _query(
        company, "ItemInventory", attrs='iterator="Start"', body="<MaxReturned>1</MaxReturned>"
    )
    assert page.iterator_remaining == 2
    company.close_session()
    company.open_session()
    expired = _query(
        company, "ItemInventory", attrs=f'iterator="Continue" iteratorID="{page.iterator_id}"'
    )
    assert expired.status_code == 3000
    again = _query(
        company, "ItemInventory", attrs='iterator="Start"', body="<MaxReturned>1</MaxReturned>"
    )
    stopped = _query(
        company, "ItemInventory", attrs=f'iterator="Stop" iteratorID="{again.iterator_id}"'
    )
    assert (stopped.status_code, stopped.rets) == (0, [])
    after_stop = _query(
        company, "ItemInventory", attrs=f'iterator="Continue" iteratorID="{again.iterator_id}"'
    )
    assert after_stop.status_code == 3000


@pytest.mark.parametrize(
    "body",
    [
        "<MaxReturned>0</MaxReturned>",
        "<MaxReturned>-5</MaxReturned>",
        "<MaxReturned>ten</MaxReturned>",
        "<FromModifiedDate>yesterday</FromModifiedDate>",
        "<FromModifiedDate>05/01/2026</FromModifiedDate>",
    ],
)
def test_a_filter_the_schema_refuses_refuses_the_whole_message(
    company: QbdCompany, body: str
) -> None:
    before = company.requests_processed.copy()
    with pytest.raises(QbXmlParseError) as refused:
        company.process(
            _message(
                "<CustomerAddRq><CustomerAdd><Name>Never added</Name></CustomerAdd></CustomerAddRq>"
                f'<ItemInventoryQueryRq requestID="2">{body}</ItemInventoryQueryRq>'
            )
        )
    assert refused.value.hresult == "0x80040400"
    assert company.requests_processed == before  # nothing ran, not even the add before it
    assert "Never added" not in {c.name for c in company.customers()}


def test_a_date_in_the_pattern_that_is_no_date_is_refused_on_its_request(
    company: QbdCompany,
) -> None:
    refused = _query(
        company, "ItemInventory", body="<FromModifiedDate>2026-13-45T09:00:00</FromModifiedDate>"
    )
    assert refused.status_code == 3020 and "2026-13-45" in refused.status_message
    assert refused.status_severity == "Error"


def _deleted(company: QbdCompany, body: str) -> qbxml.QbResponse:
    request = f'<ListDeletedQueryRq requestID="1">{body}</ListDeletedQueryRq>'
    return qbxml.parse_response(company.process(_message(request))).responses[0]


def test_a_deleted_item_leaves_the_list_and_list_deleted_query_reports_it_in_the_schemas_shape(
    company: QbdCompany,
) -> None:
    scarf = company.item("Scarf")
    assert scarf is not None
    gone = company.delete_item("Scarf")
    assert company.item("Scarf") is None
    assert _query(company, "ItemInventory", body="<FullName>Scarf</FullName>").status_code == 500
    text = company.process(
        _message(
            '<ListDeletedQueryRq requestID="1"><ListDelType>ItemInventory</ListDelType>'
            "<ListDelType>ItemService</ListDelType></ListDeletedQueryRq>"
        )
    )
    library = default_library()
    if library.available:  # the answer is valid qbXML 13.0 (Intuit's qbxmlops130.xsd)
        schema = library.schema("13.0")
        assert schema is not None
        root = etree.fromstring(text.split("?>", 1)[-1].encode("utf-8"))
        assert schema.validate(root), schema.error_log
    found = qbxml.parse_response(text).responses[0]
    assert found.status_code == 0 and found.ret_kinds == ["ListDeletedRet"]
    assert found.ret is not None and list(found.ret) == [
        "ListDelType",
        "ListID",
        "TimeCreated",
        "TimeDeleted",
        "FullName",
    ]
    assert (found.ret["ListDelType"], found.ret["ListID"], found.ret["FullName"]) == (
        "ItemInventory",
        scarf.list_id,
        "Scarf",
    )
    stamp = gone.deleted.isoformat()
    assert found.ret["TimeDeleted"] == stamp
    window = f"<DeletedDateRangeFilter><FromDeletedDate>{stamp}</FromDeletedDate>"
    inclusive = _deleted(company, f"<ListDelType>ItemInventory</ListDelType>{window}"
                         "</DeletedDateRangeFilter>")  # fmt: skip
    assert [r["ListID"] for r in inclusive.rets] == [scarf.list_id]
    later = _deleted(
        company,
        "<ListDelType>ItemInventory</ListDelType><DeletedDateRangeFilter>"
        "<FromDeletedDate>2027-01-01</FromDeletedDate></DeletedDateRangeFilter>",
    )
    assert later.status_code == 1 and later.rets == []  # nothing deleted since: no match
    other_type = _deleted(company, "<ListDelType>ItemService</ListDelType>")
    assert other_type.status_code == 1
    trimmed = _deleted(
        company,
        "<ListDelType>ItemInventory</ListDelType><IncludeRetElement>ListID</IncludeRetElement>",
    )
    assert trimmed.rets == [{"ListID": scarf.list_id}]
    bad_date = _deleted(
        company,
        "<ListDelType>ItemInventory</ListDelType><DeletedDateRangeFilter>"
        "<FromDeletedDate>2026-13-45</FromDeletedDate></DeletedDateRangeFilter>",
    )
    assert bad_date.status_code == 3020 and "FromDeletedDate" in bad_date.status_message


def test_quickbooks_refuses_to_delete_a_parent_or_a_used_item_and_a_malformed_query(
    company: QbdCompany,
) -> None:
    with pytest.raises(QbStatus, match="has sub-items") as parent:
        company.delete_item("Shirts")
    assert parent.value.code == 3170
    company.sell("Scarf", 1, customer="Ada Lovelace")
    with pytest.raises(QbStatus, match="used in transactions"):
        company.delete_item("Scarf")
    assert company.item("Scarf") is not None and company.item("Shirts") is not None
    if not default_library().available:
        pytest.skip("Intuit's schemas are not here: the structural check does not read ListDelType")
    for body in ("", "<ListDelType>Item</ListDelType>"):  # required; one of the schema's types
        with pytest.raises(QbXmlParseError):
            _deleted(company, body)


def test_a_sale_or_an_adjustment_moves_quantity_on_hand_but_not_time_modified(
    company: QbdCompany,
) -> None:
    before = company.item("Shirts:Linen shirt")
    assert before is not None
    company.sell("Shirts:Linen shirt", 5, customer="Ada Lovelace")
    assert company.adjust_quantity("Shirts:Linen shirt", 2) == Decimal("9")
    after = company.item("Shirts:Linen shirt")
    assert after is not None and after.quantity_on_hand == Decimal("9")
    assert (after.time_modified, after.edit_sequence) == (
        before.time_modified,
        before.edit_sequence,
    )
    invoice = company.transactions("Invoice")[-1]
    assert invoice.lines[0].item == "Shirts:Linen shirt"
    # A modified-since query after the item's last edit does not see the sale.
    since = _query(
        company,
        "ItemInventory",
        body=f"<FromModifiedDate>{company.item('Scarf').time_modified}</FromModifiedDate>",  # type: ignore[union-attr]
    )
    assert "Shirts:Linen shirt" not in [r["FullName"] for r in since.rets]
    with pytest.raises(ValueError, match="not an inventory item"):
        company.adjust_quantity("Hemming", 1)

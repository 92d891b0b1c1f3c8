"""QuickBooks Desktop → store: the Web Connector session asks for the items and customers
modified since the connection's last run (issue #13 part 7).

The qbwc function runs in the local runtime against moto server; the simulated Web Connector
carries its messages to the simulated company file. What is checked is what a person would:
the queries QuickBooks received, the snapshots the store side reads (QbdChanges), the sync
messages queued, and the watermark, which moves only when a query's last page came back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from connector.ledgers.qbd.changes import QbdChanges
from connector.ledgers.qbd.snapshots import SnapshotStore
from simulators.qbd import QbdCompany
from simulators.testbed.desktop import CONN, PASSWORD, USER, QbwcRig, QbwcRigs
from simulators.testbed.orders import taxed_order

SYNC_ON = {
    "products": "qbo_to_store",
    "prices": "qbo_to_store",
    "inventory": "qbo_to_store",
    "customers": "qbo_to_store",
}


@pytest.fixture()
def rig(qbwc_rig: QbwcRigs) -> Iterator[QbwcRig]:
    with qbwc_rig(sync=SYNC_ON, ledger={"max_returned": 2}) as running:
        yield running


@pytest.fixture()
def company() -> QbdCompany:
    company = QbdCompany()
    company.add_item("ItemInventory", "Shirts", desc="All shirts", price="0", quantity_on_hand=0)
    company.add_item(
        "ItemInventory",
        "Linen shirt",
        parent="Shirts",
        price="39.50",
        desc="Linen",
        quantity_on_hand=12,
    )
    for number in range(4):
        company.add_item("ItemInventory", f"Sock {number}", price="4.00", quantity_on_hand=number)
    company.process(
        '<?xml version="1.0"?><?qbxml version="13.0"?><QBXML><QBXMLMsgsRq onError="stopOnError">'
        "<CustomerAddRq><CustomerAdd><Name>Ada Lovelace</Name><FirstName>Ada</FirstName>"
        "<LastName>Lovelace</LastName><BillAddress><Addr1>Ada Lovelace</Addr1>"
        "<Addr2>12 St James's Square</Addr2><City>London</City><Country>UK</Country></BillAddress>"
        "<Email>ada@example.com</Email></CustomerAdd></CustomerAddRq></QBXMLMsgsRq></QBXML>"
    )
    return company


def _snapshots(rig: QbwcRig) -> SnapshotStore:
    return SnapshotStore(
        rig.runtime.env["CONNECTOR_STATE_TABLE"], resource=rig.runtime.boto3_resource("dynamodb")
    )


def _queued(rig: QbwcRig) -> list[dict[str, Any]]:
    """Every message on the sync queue, taken off it."""
    found: list[dict[str, Any]] = []
    while True:
        answer = rig.sqs.receive_message(
            QueueUrl=rig.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        messages = answer.get("Messages", [])
        if not messages:
            return found
        for message in messages:
            found.append(json.loads(message["Body"]))
            rig.sqs.delete_message(QueueUrl=rig.queue_url, ReceiptHandle=message["ReceiptHandle"])


def _queries(requests: list[str]) -> list[etree._Element]:
    found: list[etree._Element] = []
    for text in requests:
        root = etree.fromstring(text.split("?>", 2)[-1].encode("utf-8"))
        found += [r for r in root.iter() if isinstance(r.tag, str) and r.tag.endswith("QueryRq")]
    return found


def test_a_first_session_reads_every_item_and_customer_in_pages_and_queues_each_once(
    rig: QbwcRig, company: QbdCompany
) -> None:
    with rig.web_connector(CONN, USER, PASSWORD, company, noop_pause_s=0) as connector:
        report = connector.run_session()
    assert report.outcome == "done", report.last_errors
    deleted = [q for q in _queries(report.requests) if q.tag == "ListDeletedQueryRq"]
    assert len(deleted) == 1 and deleted[0].find("DeletedDateRangeFilter") is None
    queries = [q for q in _queries(report.requests) if q.tag != "ListDeletedQueryRq"]
    inventory = [q for q in queries if q.tag == "ItemInventoryQueryRq"]
    # Five inventory items, two a page: Start, then Continue with QuickBooks' iteratorID.
    assert [q.get("iterator") for q in inventory] == ["Start", "Continue", "Continue"]
    assert len({q.get("iteratorID") for q in inventory[1:]}) == 1
    assert all(q.findtext("ActiveStatus") == "All" for q in queries)
    assert all(q.find("FromModifiedDate") is None for q in queries)  # the first run: everything
    assert {q.tag for q in queries} == {
        "ItemInventoryQueryRq",
        "ItemNonInventoryQueryRq",
        "ItemServiceQueryRq",
        "CustomerQueryRq",
    }
    assert "QuickBooks changes for the store" in (report.close_message or "")

    messages = _queued(rig)
    items = {m["record_id"]: m for m in messages if m["entity"] == "ledger_item"}
    names = set(company.items())
    wanted = {
        company.item(n).list_id  # type: ignore[union-attr]
        for n in names
        if company.items()[n] in ("ItemInventory", "ItemNonInventory", "ItemService")
    }
    assert set(items) == wanted and len(items) == len(
        [m for m in messages if m["entity"] == "ledger_item"]
    )
    linen = company.item("Shirts:Linen shirt")
    assert linen is not None
    message = items[linen.list_id]
    assert (message["source"], message["version"]) == ("qbwc", linen.edit_sequence)

    changes = QbdChanges(CONN, _snapshots(rig))
    item = changes.item(linen.list_id)
    assert item is not None
    assert (item.name, item.category_path, item.kind) == ("Linen shirt", ("Shirts",), "inventory")
    assert item.currency == "USD"  # the company's home currency, from its preferences
    shirts = company.item("Shirts")
    assert shirts is not None
    # An item a sub-item sits under is Desktop's category: the store makes no product of it.
    assert changes.item(shirts.list_id).kind == "category"  # type: ignore[union-attr]
    assert (item.unit_price, item.qty_on_hand, item.description) == (
        Decimal("39.50"),
        Decimal("12"),
        "Linen",
    )
    ada = next(c for c in company.customers() if c.name == "Ada Lovelace")
    customer = changes.customer(ada.list_id)
    assert customer is not None and customer.email == "ada@example.com"
    assert customer.billing.line1 == "12 St James's Square" and customer.billing.city == "London"
    assert any(m["entity"] == "ledger_customer" and m["record_id"] == ada.list_id for m in messages)
    assert changes.invoice("anything") is None
    since = datetime(2000, 1, 1, tzinfo=UTC)
    assert {c.ledger_id for c in changes.changed_since(since)} >= wanted | {ada.list_id}
    audit = rig.trail.events(f"{CONN}#ledger_item#{linen.list_id}")
    assert [e.event for e in audit] == ["received"]

    watermarks = _snapshots(rig).watermarks(CONN)
    assert watermarks["ItemInventory"] == max(
        company.item(n).time_modified  # type: ignore[union-attr]
        for n, kind in company.items().items()
        if kind == "ItemInventory"
    )


def test_the_next_session_asks_only_for_what_changed_since_and_the_store_gets_the_new_stock(
    rig: QbwcRig, company: QbdCompany
) -> None:
    with rig.web_connector(CONN, USER, PASSWORD, company, noop_pause_s=0) as connector:
        assert connector.run_session().outcome == "done"
        mark = _snapshots(rig).watermarks(CONN)["ItemInventory"]
        _queued(rig)
        changed = company.edit_item("Sock 2", quantity_on_hand=40, price="4.50")
        report = connector.run_session()
    assert report.outcome == "done", report.last_errors
    inventory = [q for q in _queries(report.requests) if q.tag == "ItemInventoryQueryRq"]
    assert inventory[0].findtext("FromModifiedDate") == mark
    messages = [m for m in _queued(rig) if m["entity"] == "ledger_item"]
    # The changed item, and per item query the record of its watermark's own second
    # (FromModifiedDate is inclusive): again at the EditSequence it had, a harmless repeat.
    assert changed.list_id in {m["record_id"] for m in messages}
    assert len(messages) <= 1 + 3
    before = {i.list_id: i.edit_sequence for i in map(company.item, company.items()) if i}
    repeats = [m for m in messages if m["record_id"] != changed.list_id]
    assert all(m["version"] == before[m["record_id"]] for m in repeats)
    item = QbdChanges(CONN, _snapshots(rig)).item(changed.list_id)
    assert item is not None and (item.qty_on_hand, item.unit_price) == (
        Decimal("40"),
        Decimal("4.50"),
    )
    assert item.version == changed.edit_sequence
    assert _snapshots(rig).watermarks(CONN)["ItemInventory"] == changed.time_modified


def test_the_watermark_stays_when_a_query_ends_before_its_last_page(
    rig: QbwcRig, company: QbdCompany
) -> None:
    ticket, status = rig.login()[:2]
    assert status == ""
    first = rig.send(ticket, first=True)
    percent = rig.receive(ticket, company.process(first))
    assert 0 < percent < 100
    # QuickBooks was restarted between two pages: its iterators are gone (3000).
    company.close_session()
    company.open_session()
    second = rig.send(ticket)
    assert 'iterator="Continue"' in second
    rig.receive(ticket, company.process(second))
    while True:
        following = rig.send(ticket)
        if not following:
            break
        if rig.receive(ticket, company.process(following)) == 100:
            break
    assert "ItemInventoryQuery refused (3000)" in rig.call("getLastError", ticket=ticket).value()
    rig.call("closeConnection", ticket=ticket)
    marks = _snapshots(rig).watermarks(CONN)
    assert "ItemInventory" not in marks  # it never read to the end
    assert "ItemService" in marks  # one page, read whole
    first_page = {m["record_id"] for m in _queued(rig) if m["entity"] == "ledger_item"}
    assert first_page  # what came back was kept and queued
    with rig.web_connector(CONN, USER, PASSWORD, company, noop_pause_s=0) as connector:
        report = connector.run_session()
    assert report.outcome == "done"
    inventory = [q for q in _queries(report.requests) if q.tag == "ItemInventoryQueryRq"]
    assert inventory[0].find("FromModifiedDate") is None  # from the start again
    assert "ItemInventory" in _snapshots(rig).watermarks(CONN)


def test_a_desktop_connection_with_sync_off_asks_nothing_new(qbwc_rig: QbwcRigs) -> None:
    company = QbdCompany()
    company.add_item("ItemInventory", "Scarf", price="19.00", quantity_on_hand=3)
    with qbwc_rig() as rig:
        assert rig.login()[1] == "none"  # nothing waiting and nothing to read
        rig.queue(taxed_order(7001))
        with rig.web_connector(CONN, USER, PASSWORD, company, noop_pause_s=0) as connector:
            report = connector.run_session()
        assert report.outcome == "done"
        assert [t.ref_number for t in company.transactions("Invoice")]
        assert not [
            q
            for q in _queries(report.requests)
            if q.tag in ("ItemInventoryQueryRq", "ItemNonInventoryQueryRq", "ItemServiceQueryRq")
        ]
        assert _queued(rig) == []
        assert _snapshots(rig).watermarks(CONN) == {}


def test_a_sync_queue_that_refuses_keeps_the_watermark_so_nothing_is_lost(
    rig: QbwcRig, company: QbdCompany
) -> None:
    rig.sqs.delete_queue(QueueUrl=rig.queue_url)
    with rig.web_connector(CONN, USER, PASSWORD, company, noop_pause_s=0) as connector:
        report = connector.run_session()
    assert report.outcome == "done"
    assert "not all kept, asked again next run: the sync queue refused" in (
        report.close_message or ""
    )
    # The snapshots were kept, but no query's watermark moved: the next session reads again.
    assert _snapshots(rig).watermarks(CONN) == {}
    linen = company.item("Shirts:Linen shirt")
    assert linen is not None and QbdChanges(CONN, _snapshots(rig)).item(linen.list_id) is not None


def test_an_item_deleted_in_quickbooks_is_reported_and_the_store_side_reads_it_inactive(
    rig: QbwcRig, company: QbdCompany
) -> None:
    with rig.web_connector(CONN, USER, PASSWORD, company, noop_pause_s=0) as connector:
        assert connector.run_session().outcome == "done"
        _queued(rig)
        sock = company.item("Sock 3")
        assert sock is not None
        # QuickBooks refuses to delete an item other items sit under.
        with pytest.raises(Exception, match="has sub-items"):
            company.delete_item("Shirts")
        gone = company.delete_item("Sock 3")
        report = connector.run_session()
        assert report.outcome == "done", report.last_errors
        asked = [q for q in _queries(report.requests) if q.tag == "ListDeletedQueryRq"]
        assert [t.text for t in asked[0].findall("ListDelType")] == [
            "ItemInventory",
            "ItemNonInventory",
            "ItemService",
        ]
        messages = [m for m in _queued(rig) if m["entity"] == "ledger_item"]
        stamp = gone.deleted.replace(microsecond=0).isoformat()
        # (beside the harmless repeats of each query's watermark second)
        assert [
            (m["record_id"], m["version"]) for m in messages if m["version"].startswith("deleted")
        ] == [(sock.list_id, f"deleted {stamp}")]
        item = QbdChanges(CONN, _snapshots(rig)).item(sock.list_id)
        # The store side takes it out of sale as it does an item made inactive.
        assert item is not None and (item.active, item.name) == (False, "Sock 3")
        audit = rig.trail.events(f"{CONN}#ledger_item#{sock.list_id}")
        assert "deleted in QuickBooks Desktop" in audit[-1].outcome
        assert _snapshots(rig).watermarks(CONN)["ListDeleted"] == stamp

        # The next session asks from that moment (inclusive): the same deletion again, at
        # the same version, which the sync queue and the worker drop.
        report = connector.run_session()
    asked = [q for q in _queries(report.requests) if q.tag == "ListDeletedQueryRq"]
    assert asked[0].findtext("DeletedDateRangeFilter/FromDeletedDate") == stamp
    again = [m for m in _queued(rig) if m["record_id"] == sock.list_id]
    assert [m["version"] for m in again] == [f"deleted {stamp}"]


def test_stock_sold_in_quickbooks_reaches_the_snapshots_with_the_periodic_stock_read(
    rig: QbwcRig, company: QbdCompany
) -> None:
    with rig.web_connector(CONN, USER, PASSWORD, company, noop_pause_s=0) as connector:
        assert connector.run_session().outcome == "done"
        marks = _snapshots(rig).watermarks(CONN)
        assert "StockRecount" in marks  # the first whole read counts as one
        _queued(rig)
        sock = company.item("Sock 2")
        assert sock is not None and sock.quantity_on_hand == Decimal("2")
        company.sell("Sock 2", 1)  # an invoice a person made: TimeModified does not move
        company.adjust_quantity("Shirts:Linen shirt", -2)
        # Within stock_recount_hours (6 by default) only the modified-since queries run,
        # and they do not see the sale.
        report = connector.run_session()
        assert not [q for q in _queries(report.requests) if q.find("IncludeRetElement") is not None]
        changes = QbdChanges(CONN, _snapshots(rig))
        assert changes.item(sock.list_id).qty_on_hand == Decimal("2")  # type: ignore[union-attr]
        _queued(rig)

        # Seven hours later the session reads every inventory item's count.
        _snapshots(rig).set_watermark(CONN, "StockRecount", "2020-01-01T00:00:00+00:00")
        report = connector.run_session()
    assert report.outcome == "done", report.last_errors
    recount = [q for q in _queries(report.requests) if q.find("IncludeRetElement") is not None]
    assert recount and all(q.tag == "ItemInventoryQueryRq" for q in recount)
    assert [t.text for t in recount[0].findall("IncludeRetElement")] == [
        "ListID",
        "EditSequence",
        "QuantityOnHand",
    ]
    assert [q.get("iterator") for q in recount] == ["Start", "Continue", "Continue"]
    linen = company.item("Shirts:Linen shirt")
    assert linen is not None
    messages = {m["record_id"]: m for m in _queued(rig) if m["entity"] == "ledger_item"}
    # Only the two counts that moved (the item at the watermark's second may come again).
    # (its EditSequence did not move: the count and the read's moment tell the version apart)
    assert messages[sock.list_id]["version"].startswith(f"{sock.edit_sequence} qty 1 20")
    assert messages[linen.list_id]["version"].startswith(f"{linen.edit_sequence} qty 10 20")
    assert len([m for m in messages.values() if " qty " in (m["version"] or "")]) == 2
    assert changes.item(sock.list_id).qty_on_hand == Decimal("1")  # type: ignore[union-attr]
    audit = rig.trail.events(f"{CONN}#ledger_item#{sock.list_id}")
    assert "stock changed in QuickBooks Desktop by a transaction" in audit[-1].outcome
    assert _snapshots(rig).watermarks(CONN)["StockRecount"] > "2026"


def test_a_sync_queue_that_refuses_the_recounted_stock_loses_no_count(
    rig: QbwcRig, company: QbdCompany
) -> None:
    with rig.web_connector(CONN, USER, PASSWORD, company, noop_pause_s=0) as connector:
        assert connector.run_session().outcome == "done"
        _queued(rig)
        sock = company.item("Sock 1")
        assert sock is not None
        company.sell("Sock 1", 1)
        _snapshots(rig).set_watermark(CONN, "StockRecount", "2020-01-01T00:00:00+00:00")
        attributes = rig.sqs.get_queue_attributes(
            QueueUrl=rig.queue_url, AttributeNames=["FifoQueue", "ContentBasedDeduplication"]
        )["Attributes"]
        rig.sqs.delete_queue(QueueUrl=rig.queue_url)
        report = connector.run_session()
        assert "the sync queue refused" in (report.close_message or "")
        # The count is not taken for kept: the snapshot still holds the old one, and the
        # recount's mark did not move.
        changes = QbdChanges(CONN, _snapshots(rig))
        assert changes.item(sock.list_id).qty_on_hand == Decimal("1")  # type: ignore[union-attr]
        assert _snapshots(rig).watermarks(CONN)["StockRecount"].startswith("2020")
        rig.sqs.create_queue(QueueName=rig.queue_url.rsplit("/", 1)[-1], Attributes=attributes)
        report = connector.run_session()
    assert report.outcome == "done", report.last_errors
    counted = [m for m in _queued(rig) if m["record_id"] == sock.list_id]
    assert len(counted) == 1 and counted[0]["version"].startswith(f"{sock.edit_sequence} qty 0 ")
    assert changes.item(sock.list_id).qty_on_hand == Decimal("0")  # type: ignore[union-attr]

"""Reading QuickBooks Desktop's item and customer records for the store, and a session's
progress through its change queries: what moves a watermark and what keeps it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from connector.config import Connection
from connector.ledger_records import LedgerItem
from connector.ledgers.qbd import changes_session, deleted_items, stock_recount
from connector.ledgers.qbd.ledger_records import (
    UnreadableRecord,
    customer_from_ret,
    item_from_ret,
)
from connector.ledgers.qbd.qbxml_responses import QbResponse


def _connection(sync: dict[str, Any] | None = None, **ledger: Any) -> Connection:
    return Connection.model_validate(
        {
            "id": "desk",
            "store": {"kind": "woocommerce", "url": "https://shop.example"},
            "ledger": {"kind": "qbd", "max_requests_per_message": 2, **ledger},
            **({"sync": sync} if sync is not None else {}),
        }
    )


def _rs(
    request_id: str,
    kind: str,
    rets: list[tuple[str, dict[str, Any]]],
    *,
    code: int = 0,
    remaining: int | None = 0,
    message: str = "Status OK",
) -> QbResponse:
    return QbResponse(
        request_id=request_id,
        kind=f"{kind}QueryRs",
        status_code=code,
        status_severity="Error" if code >= 1000 else "Info",
        status_message=message,
        ret=rets[0][1] if rets else None,
        rets=[r for _, r in rets],
        iterator_id="{it}" if remaining else None,
        iterator_remaining=remaining,
        ret_kinds=[t for t, _ in rets],
    )


def _item(list_id: str, modified: str, **fields: Any) -> dict[str, Any]:
    return {
        "ListID": list_id,
        "EditSequence": "17",
        "Name": list_id,
        "FullName": list_id,
        "IsActive": "true",
        "TimeModified": modified,
        **fields,
    }


def test_each_item_type_gives_its_sales_price_description_and_category_path() -> None:
    inventory = item_from_ret(
        "ItemInventoryRet",
        _item(
            "1",
            "2026-01-05T09:00:00-05:00",
            Name="Linen",
            FullName="Clothes:Shirts:Linen",
            SalesPrice="39.50",
            SalesDesc="Linen shirt",
            QuantityOnHand="-2",
        ),
        currency="USD",
    )
    assert inventory.category_path == ("Clothes", "Shirts")
    assert (inventory.unit_price, inventory.qty_on_hand) == (Decimal("39.50"), Decimal("-2"))
    bought_and_sold = item_from_ret(
        "ItemNonInventoryRet",
        _item(
            "2",
            "2026-01-05T09:00:00-05:00",
            IsActive="false",
            SalesAndPurchase={"SalesDesc": "Gift box", "SalesPrice": "3.25"},
        ),
        currency=None,
    )
    assert (bought_and_sold.description, bought_and_sold.unit_price) == (
        "Gift box",
        Decimal("3.25"),
    )
    assert not bought_and_sold.active and bought_and_sold.qty_on_hand is None
    service = item_from_ret(
        "ItemServiceRet",
        _item(
            "3", "2026-01-05T09:00:00-05:00", SalesOrPurchase={"Desc": "Hem", "PricePercent": "5"}
        ),
        currency=None,
    )
    assert (service.kind, service.unit_price, service.description) == ("service", None, "Hem")


def test_a_record_that_cannot_be_read_says_which_and_why() -> None:
    with pytest.raises(UnreadableRecord, match="9: the sales price 'abc' is not a number"):
        item_from_ret("ItemInventoryRet", _item("9", "", SalesPrice="abc"), currency=None)
    with pytest.raises(UnreadableRecord, match="without ListID"):
        customer_from_ret({"Name": "No id"})
    with pytest.raises(UnreadableRecord, match="ItemDiscountRet"):
        item_from_ret("ItemDiscountRet", _item("4", ""), currency=None)


def test_a_customer_address_leaves_out_the_lines_that_repeat_the_name() -> None:
    customer = customer_from_ret(
        {
            "ListID": "80",
            "EditSequence": "5",
            "Name": "Ada",
            "FullName": "Ada",
            "FirstName": "Ada",
            "LastName": "Lovelace",
            "CompanyName": "Engines Ltd",
            "Phone": "555",
            "Email": "ada@example.com",
            "TermsRef": {"FullName": "Net 30"},
            "BillAddress": {
                "Addr1": "Ada Lovelace",
                "Addr2": "Engines Ltd",
                "Addr3": "12 Square",
                "Addr4": "Flat 2",
                "City": "London",
                "PostalCode": "SW1",
                "Country": "UK",
            },
        }
    )
    assert (customer.billing.line1, customer.billing.line2) == ("12 Square", "Flat 2")
    assert customer.billing.company == "Engines Ltd" and customer.terms == "Net 30"
    assert customer.shipping.is_empty()


def test_directions_off_ask_nothing_and_each_direction_asks_its_lists() -> None:
    assert changes_session.wanted(_connection()) == ()
    assert changes_session.wanted(_connection({"inventory": "qbo_to_store"})) == (
        changes_session.ITEM_QUERIES
    )
    assert changes_session.wanted(_connection({"customers": "both"})) == ("Customer",)


def test_pages_stay_within_the_message_budget_and_a_watermark_moves_only_on_a_whole_read() -> None:
    connection = _connection(
        {"products": "qbo_to_store", "customers": "qbo_to_store"}, max_returned=5
    )
    progress = changes_session.start(connection, {"ItemInventory": "2026-01-01T00:00:00-05:00"})
    requests, purposes = changes_session.plan(progress, connection, prefix="m1")
    assert list(purposes.values()) == ["ItemInventory", "ItemNonInventory"]  # two a message
    assert "<FromModifiedDate>2026-01-01T00:00:00-05:00</FromModifiedDate>" in requests[0].to_xml()
    assert "<MaxReturned>5</MaxReturned><ActiveStatus>All</ActiveStatus>" in requests[1].to_xml()
    page = changes_session.read(
        progress,
        purposes,
        [
            _rs(
                "m1c0",
                "ItemInventory",
                [
                    ("ItemInventoryRet", _item("1", "2026-01-05T09:00:00-05:00")),
                    ("ItemInventoryRet", _item("2", "2026-01-05T10:00:00-05:00")),
                ],
                remaining=3,
            ),
            _rs(
                "m1c1",
                "ItemNonInventory",
                [
                    (
                        "ItemNonInventoryRet",
                        _item("3", "2026-01-05T08:00:00-05:00", SalesOrPurchase={"Price": "x"}),
                    )
                ],
            ),
        ],
        currency="USD",
    )
    assert [r.ledger_id for r in page.kept] == ["1", "2"]  # kept as snapshots, both
    # The page's last item waits: the next page shows whether its sub-items follow it.
    assert [r.ledger_id for r in page.queued] == ["1"]
    assert page.complete == []  # inventory has pages left; non-inventory lost a record
    assert "3: the sales price 'x' is not a number" in page.problems[0]
    requests, purposes = changes_session.plan(progress, connection, prefix="m2")
    assert list(purposes.values()) == ["ItemInventory", "ItemService"]
    assert 'iterator="Continue" iteratorID="{it}"' in requests[0].to_xml()
    changes_session.restart(progress, purposes)  # the answer was lost
    requests, purposes = changes_session.plan(progress, connection, prefix="m3")
    assert 'iterator="Start"' in requests[0].to_xml()
    page = changes_session.read(
        progress,
        purposes,
        [
            _rs(
                "m3c0",
                "ItemInventory",
                [("ItemInventoryRet", _item("1", "2026-01-05T09:00:00-05:00"))],
            ),
            _rs("m3c1", "ItemService", [], code=1, message="no match"),
        ],
        currency="USD",
    )
    assert page.complete == ["ItemInventory", "ItemService"]
    assert [r.ledger_id for r in page.queued] == ["1"]  # the restart let the held one go
    # The latest TimeModified of the query, as QuickBooks wrote it; nothing returned: none.
    assert changes_session.watermark_of(progress, "ItemInventory") == "2026-01-05T10:00:00-05:00"
    assert changes_session.watermark_of(progress, "ItemService") is None
    requests, purposes = changes_session.plan(progress, connection, prefix="m4")
    # The deleted items ride along: one request, no iterator, from its own watermark.
    assert list(purposes.values()) == ["Customer", "ListDeleted"]
    assert "<ListDelType>ItemService</ListDelType>" in requests[1].to_xml()
    assert "DeletedDateRangeFilter" not in requests[1].to_xml()  # no watermark: every one
    refused = changes_session.read(
        progress,
        purposes,
        [
            _rs("m4c0", "Customer", [], code=3250, message="off"),
            _rs("m4c1", "ListDeleted", [], code=1, message="no match"),
        ],
        currency=None,
    )
    assert refused.problems == ["CustomerQuery refused (3250): off"]
    assert refused.complete == ["ListDeleted"] and refused.deleted == []
    assert changes_session.plan(progress, connection, prefix="m5") == ([], {})


def test_a_parent_at_a_page_end_waits_for_the_page_that_shows_its_sub_items() -> None:
    connection = _connection({"products": "qbo_to_store"})
    progress = changes_session.start(connection, {})
    at = "2026-01-05T09:00:00-05:00"
    purposes = {"p1": "ItemInventory"}
    first = changes_session.read(
        progress,
        purposes,
        [
            _rs(
                "p1",
                "ItemInventory",
                [("ItemInventoryRet", _item("A", at)), ("ItemInventoryRet", _item("B", at))],
                remaining=2,
            )
        ],
        currency=None,
    )
    assert [r.ledger_id for r in first.queued] == ["A"]
    purposes = {"p2": "ItemInventory"}
    child = _item("C", at, Name="C", FullName="B:C")
    second = changes_session.read(
        progress,
        purposes,
        [_rs("p2", "ItemInventory", [("ItemInventoryRet", child)], remaining=0)],
        currency=None,
    )
    # B goes with its sub-item's page, whose parent mark is written before any message.
    assert [r.ledger_id for r in second.queued] == ["B", "C"]
    assert [r.category_path for r in second.kept if isinstance(r, LedgerItem)] == [("B",)]
    assert second.complete == ["ItemInventory"] and progress["read"] == 3


def _deleted(list_id: str, when: str) -> dict[str, Any]:
    return {
        "ListDelType": "ItemInventory",
        "ListID": list_id,
        "TimeCreated": "2026-01-01T09:00:00-05:00",
        "TimeDeleted": when,
        "FullName": f"Item {list_id}",
    }


def test_deleted_items_come_back_with_their_latest_time_deleted_as_the_watermark() -> None:
    connection = _connection({"prices": "qbo_to_store"}, max_requests_per_message=10)
    since = "2026-01-05T09:00:00-05:00"
    progress = changes_session.start(connection, {"ListDeleted": since})
    requests, purposes = changes_session.plan(progress, connection, prefix="d1")
    deleted_id = next(r for r, kind in purposes.items() if kind == "ListDeleted")
    xml = next(r for r in requests if r.request_id == deleted_id).to_xml()
    assert (
        "<ListDelType>ItemInventory</ListDelType><ListDelType>ItemNonInventory</ListDelType>"
        "<ListDelType>ItemService</ListDelType><DeletedDateRangeFilter>"
        f"<FromDeletedDate>{since}</FromDeletedDate></DeletedDateRangeFilter>"
    ) in xml
    later = "2026-01-05T11:00:00-05:00"
    page = changes_session.read(
        progress,
        {deleted_id: "ListDeleted"},
        [
            _rs(
                deleted_id,
                "ListDeleted",
                [
                    ("ListDeletedRet", _deleted("1", later)),
                    ("ListDeletedRet", _deleted("2", since)),
                ],
                remaining=None,
            )
        ],
        currency=None,
    )
    assert [(d.list_id, d.time_deleted) for d in page.deleted] == [("1", later), ("2", since)]
    assert page.complete == ["ListDeleted"]
    now = datetime(2026, 1, 5, 17, tzinfo=UTC)
    assert changes_session.watermarks_of(progress, "ListDeleted", now) == {"ListDeleted": later}


def test_the_stock_recount_is_due_every_n_hours_and_reads_only_the_counts_after_the_changes() -> (
    None
):
    connection = _connection({"inventory": "qbo_to_store"}, max_requests_per_message=10)
    now = datetime(2026, 1, 5, 18, tzinfo=UTC)
    marks = {"ItemInventory": "2026-01-05T09:00:00-05:00"}
    # The first session reads every item whole: no recount, and its whole read counts as one.
    first = changes_session.start(connection, {}, now)
    assert "StockRecount" not in first["kinds"]
    first["kinds"]["ItemInventory"]["latest"] = "2026-01-05T09:00:00-05:00"
    assert changes_session.watermarks_of(first, "ItemInventory", now) == {
        "ItemInventory": "2026-01-05T09:00:00-05:00",
        "StockRecount": "2026-01-05T18:00:00+00:00",
    }
    recent = {**marks, "StockRecount": "2026-01-05T13:00:00+00:00"}  # five hours ago
    assert "StockRecount" not in changes_session.start(connection, recent, now)["kinds"]
    off = _connection({"inventory": "qbo_to_store"}, stock_recount_hours=0)
    assert "StockRecount" not in changes_session.start(off, marks, now)["kinds"]
    prices_only = _connection({"prices": "qbo_to_store"})
    assert "StockRecount" not in changes_session.start(prices_only, marks, now)["kinds"]

    progress = changes_session.start(
        connection, {**marks, "StockRecount": "2026-01-05T12:00:00+00:00"}, now
    )
    _, purposes = changes_session.plan(progress, connection, prefix="r1")
    # Not beside the modified-since inventory query: after it, against its snapshots.
    assert "StockRecount" not in purposes.values()
    for state in progress["kinds"].values():
        state["status"] = "done" if state is not progress["kinds"]["StockRecount"] else "todo"
    requests, purposes = changes_session.plan(progress, connection, prefix="r2")
    assert list(purposes.values()) == ["StockRecount"]
    xml = requests[0].to_xml()
    assert "<ItemInventoryQueryRq" in xml and "FromModifiedDate" not in xml
    assert (
        "<IncludeRetElement>ListID</IncludeRetElement><IncludeRetElement>EditSequence"
        "</IncludeRetElement><IncludeRetElement>QuantityOnHand</IncludeRetElement>"
    ) in xml
    page = changes_session.read(
        progress,
        purposes,
        [
            _rs(
                "r2c0",
                "ItemInventory",
                [
                    (
                        "ItemInventoryRet",
                        {"ListID": "1", "EditSequence": "17", "QuantityOnHand": "4"},
                    )
                ],
            )
        ],
        currency=None,
    )
    assert [(c.list_id, c.quantity) for c in page.counts] == [("1", Decimal("4"))]
    assert page.complete == ["StockRecount"] and page.queued == []
    assert changes_session.watermarks_of(progress, "StockRecount", now) == {
        "StockRecount": "2026-01-05T18:00:00+00:00"
    }


def test_only_counts_that_moved_are_queued_and_a_deleted_item_is_kept_inactive() -> None:
    held_item = item_from_ret(
        "ItemInventoryRet",
        _item("1", "2026-01-05T09:00:00-05:00", QuantityOnHand="5"),
        currency="USD",
    )
    same = item_from_ret(
        "ItemInventoryRet",
        _item("2", "2026-01-05T09:00:00-05:00", QuantityOnHand="3"),
        currency="USD",
    )
    held = {"1": (held_item, False), "2": (same, False)}
    counts = [
        stock_recount.Count("1", "17", Decimal("2")),
        stock_recount.Count("2", "17", Decimal("3")),  # unchanged: nothing queued
        stock_recount.Count("3", "17", Decimal("9")),  # never seen: nothing to compare
        stock_recount.Count("1", "18", Decimal("1")),  # edited since: its own query brings it
    ]
    moved = stock_recount.changed(counts, held, datetime(2026, 1, 5, 18, tzinfo=UTC))
    assert [(m.ledger_id, m.qty_on_hand, m.version) for m in moved] == [
        ("1", Decimal("2"), "17 qty 2 2026-01-05T18:00:00+00:00")
    ]
    gone = deleted_items.gone(
        [deleted_items.DeletedItem("1", "ItemInventory", "2026-01-05T11:00:00-05:00", "Item 1")],
        held,
    )
    assert [(g.ledger_id, g.active, g.version) for g in gone] == [
        ("1", False, "deleted 2026-01-05T11:00:00-05:00")
    ]

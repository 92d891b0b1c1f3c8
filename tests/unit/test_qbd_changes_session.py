"""Reading QuickBooks Desktop's item and customer records for the store, and a session's
progress through its change queries: what moves a watermark and what keeps it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from connector.config import Connection
from connector.ledgers.qbd import changes_session
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
    assert list(purposes.values()) == ["Customer"]
    refused = changes_session.read(
        progress, purposes, [_rs("m4c0", "Customer", [], code=3250, message="off")], currency=None
    )
    assert refused.complete == [] and refused.problems == ["CustomerQuery refused (3250): off"]
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
    assert [r.category_path for r in second.kept] == [("B",)]
    assert second.complete == ["ItemInventory"] and progress["read"] == 3

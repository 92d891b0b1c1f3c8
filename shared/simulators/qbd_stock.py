"""What a bookkeeper does to the simulated QuickBooks Desktop's stock and item list that the
modified-since item queries do not show: a sale or an inventory adjustment (QuantityOnHand
moves, the item's TimeModified and EditSequence do not), and deleting an item (it leaves
the list; ``ListDeletedQuery`` reports it).

The reference (../shared/reference/qbd) is silent on whether a transaction moves an item's
TimeModified; QuickBooks changes a list record only when the record itself is saved, so a
sale does not [U]. Deleting an item that sub-items sit under, or that a transaction uses, is
refused as QuickBooks' Item List refuses it [U: the messages are the simulator's words].

ListDeletedQuery (qbxml130.xsd group ListDeletedQuery; ListDeletedRet in the order
ListDelType, ListID, TimeCreated, TimeDeleted, FullName): one or more ListDelType, an
optional DeletedDateRangeFilter (FromDeletedDate, ToDeletedDate, both inclusive), and
IncludeRetElement; no iterator. Nothing deleted in range answers status 1, as other queries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal

from lxml import etree

from simulators.qbd_items import parse_query_date
from simulators.qbd_lists import Lists
from simulators.qbd_records import (
    ITEM_KINDS,
    ListRecord,
    QbStatus,
    TxnRecord,
    decimal_text,
    element,
    qb_time,
)


@dataclass(frozen=True)
class DeletedRecord:
    kind: str
    list_id: str
    created: datetime
    deleted: datetime
    full_name: str

    def ret(self) -> etree._Element:
        node = element("ListDeletedRet")
        for tag, text in (
            ("ListDelType", self.kind),
            ("ListID", self.list_id),
            ("TimeCreated", qb_time(self.created)),
            ("TimeDeleted", qb_time(self.deleted)),
            ("FullName", self.full_name),
        ):
            etree.SubElement(node, tag).text = text
        return node


def only(ret: etree._Element, wanted: set[str]) -> etree._Element:
    """IncludeRetElement: the record with only the named elements (top level)."""
    for child in list(ret):
        if isinstance(child.tag, str) and child.tag not in wanted:
            ret.remove(child)
    return ret


class Stockroom:
    def __init__(
        self,
        lists: Lists,
        txns: Callable[[], list[TxnRecord]],
        clock: Callable[[], datetime],
        tick: Callable[[], None],
    ) -> None:
        self._lists = lists
        self._txns = txns
        self._clock = clock
        self._tick = tick
        self.deleted: list[DeletedRecord] = []

    def _inventory(self, full_name: str) -> ListRecord:
        record = self._lists.by_name(ITEM_KINDS, full_name)
        if record is None:
            raise KeyError(f"no item {full_name!r}")
        if record.kind != "ItemInventory":
            raise ValueError(f"{full_name!r} is not an inventory item: it has no quantity on hand")
        return record

    def move_quantity(self, full_name: str, difference: Decimal) -> Decimal:
        """QuantityOnHand moves by ``difference``; the item's TimeModified does not. QuickBooks
        lets stock go negative (it warns the person), so this does too."""
        record = self._inventory(full_name)
        quantity = Decimal(record.value("QuantityOnHand") or "0") + difference
        record.fields["QuantityOnHand"] = [element("QuantityOnHand", decimal_text(quantity))]
        return quantity

    def delete_item(self, full_name: str) -> DeletedRecord:
        record = self._lists.by_name(ITEM_KINDS, full_name)
        if record is None:
            raise KeyError(f"no item {full_name!r}")
        if any(r.parent is record for r in self._lists.records.values()):
            raise QbStatus(3170, f'"{full_name}" has sub-items: it cannot be deleted.')
        used = any(line.item is record for txn in self._txns() for line in txn.lines)
        if used:
            raise QbStatus(
                3170, f'"{full_name}" is used in transactions: make it inactive instead.'
            )
        del self._lists.records[record.list_id]
        gone = DeletedRecord(record.kind, record.list_id, record.created, self._clock(), full_name)
        self.deleted.append(gone)
        self._tick()
        return gone

    def query(self, request: etree._Element, local: tzinfo) -> list[etree._Element]:
        kinds = {n.text or "" for n in request.findall("ListDelType")}
        found = [d for d in self.deleted if d.kind in kinds]
        window = request.find("DeletedDateRangeFilter")
        if window is not None:
            since = window.findtext("FromDeletedDate")
            if since:
                low = parse_query_date(since, "FromDeletedDate", local)
                found = [d for d in found if d.deleted.replace(microsecond=0) >= low]
            until = window.findtext("ToDeletedDate")
            if until:
                high = parse_query_date(until, "ToDeletedDate", local)
                found = [d for d in found if d.deleted.replace(microsecond=0) <= high]
        if not found:
            raise QbStatus(1, "A query request did not find a matching object in QuickBooks")
        wanted = {n.text or "" for n in request.findall("IncludeRetElement")}
        rets = [d.ret() for d in sorted(found, key=lambda d: d.deleted)]
        return [only(r, wanted) for r in rets] if wanted else rets

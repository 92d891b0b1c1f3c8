"""The lists of the simulated QuickBooks Desktop company: customers, items, accounts and the rest.

Names are unique per name space and compared without case, as in QuickBooks: customers,
vendors, employees and other names share one space; items share another; each other list
its own. Every write moves the record's EditSequence on.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable
from datetime import datetime

from lxml import etree

from simulators.qbd_records import (
    ITEM_KINDS,
    KIND_LABELS,
    NAME_KINDS,
    REF_KINDS,
    RET_ORDER,
    ListRecord,
    QbStatus,
    children,
)

_COMPUTED = frozenset(
    {"ListID", "TimeCreated", "TimeModified", "EditSequence", "Name", "FullName", "IsActive",
     "Sublevel", "Balance", "TotalBalance", "JobStatus", "ParentRef"}
)  # fmt: skip


def name_space(kind: str) -> str:
    if kind in NAME_KINDS:
        return "names"
    if kind in ITEM_KINDS:
        return "items"
    return kind


class Ids:
    """Deterministic ListIDs, TxnIDs and EditSequences (QuickBooks derives them from the clock)."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._list = 0
        self._txn = 0
        self._edit = 0
        self._lock = threading.Lock()

    def _epoch(self) -> int:
        return int(self._clock().timestamp())

    def list_id(self) -> str:
        with self._lock:
            self._list += 1
            return f"{0x80000000 + self._list:08X}-{self._epoch()}"

    def txn_id(self) -> str:
        with self._lock:
            self._txn += 1
            return f"{self._txn:X}-{self._epoch()}"

    def edit_sequence(self) -> str:
        # A timestamp in QuickBooks; strictly increasing here so every write changes it.
        with self._lock:
            self._edit = max(self._edit + 1, self._epoch())
            return str(self._edit)


class Lists:
    def __init__(self, ids: Ids, clock: Callable[[], datetime]) -> None:
        self.ids = ids
        self.clock = clock
        self.records: dict[str, ListRecord] = {}  # ListID -> record

    # -- lookup -----------------------------------------------------------------------------

    def of_kind(self, kinds: Iterable[str]) -> list[ListRecord]:
        wanted = set(kinds)
        return [r for r in self.records.values() if r.kind in wanted]

    def by_name(self, kinds: Iterable[str], name: str) -> ListRecord | None:
        key = name.strip().casefold()
        return next((r for r in self.of_kind(kinds) if r.full_name.casefold() == key), None)

    def by_id(self, kinds: Iterable[str], list_id: str) -> ListRecord | None:
        record = self.records.get(list_id.strip())
        return record if record is not None and record.kind in set(kinds) else None

    def resolve(self, ref: etree._Element, kinds: tuple[str, ...], where: str) -> ListRecord:
        """The record a ``*Ref`` names by ListID or FullName, else status 3140 as QuickBooks says it."""
        list_id = ref.findtext("ListID")
        full_name = ref.findtext("FullName")
        record = None
        if list_id:
            record = self.by_id(kinds, list_id)
        elif full_name:
            record = self.by_name(kinds, full_name)
        if record is None:
            label = KIND_LABELS.get(kinds[0], kinds[0])
            shown = full_name or list_id or ""
            raise QbStatus(
                3140,
                f'There is an invalid reference to QuickBooks {label} "{shown}" in the {where}.  '
                "QuickBooks error message: Invalid argument.  The specified record does not "
                "exist in the list.",
            )
        return record

    def resolved_copy(self, node: etree._Element, where: str) -> etree._Element:
        """A copy of ``node`` with every known ``*Ref`` inside (or itself) as ListID + FullName."""
        clone = copy.deepcopy(node)
        refs = [clone] if clone.tag in REF_KINDS else []
        refs += [
            d for d in clone.iterdescendants() if isinstance(d.tag, str) and d.tag in REF_KINDS
        ]
        for ref in refs:
            record = self.resolve(ref, REF_KINDS[ref.tag], where)
            for child in list(ref):
                ref.remove(child)
            etree.SubElement(ref, "ListID").text = record.list_id
            etree.SubElement(ref, "FullName").text = record.full_name
        return clone

    # -- writes -------------------------------------------------------------------------------

    def check_name_free(self, kind: str, name: str, *, except_id: str | None = None) -> None:
        space = name_space(kind)
        key = name.strip().casefold()
        for record in self.records.values():
            if record.list_id == except_id or name_space(record.kind) != space:
                continue
            if record.full_name.casefold() == key:
                raise QbStatus(3100, f'The name "{name}" of the list element is already in use.')

    def add(
        self,
        kind: str,
        name: str,
        fields: dict[str, list[etree._Element]],
        *,
        parent: ListRecord | None = None,
    ) -> ListRecord:
        self.check_name_free(kind, f"{parent.full_name}:{name}" if parent else name)
        now = self.clock()
        record = ListRecord(
            kind=kind,
            list_id=self.ids.list_id(),
            name=name,
            created=now,
            modified=now,
            edit_sequence=self.ids.edit_sequence(),
            fields=fields,
            parent=parent,
        )
        self.records[record.list_id] = record
        return record

    def add_from_request(self, kind: str, body: etree._Element) -> ListRecord:
        name = (body.findtext("Name") or "").strip()
        if not name:
            raise QbStatus(3150, f'There is a missing element: "Name" in the {kind}Add.')
        fields = self._fields(kind, body)
        parent_ref = body.find("ParentRef")
        parent = None
        if parent_ref is not None:
            # A sub-item's parent is an item of its own type; a job's parent is a customer.
            parent = self.resolve(parent_ref, (kind,), f"{kind}Add")
        record = self.add(kind, name, fields, parent=parent)
        active = body.findtext("IsActive")
        record.is_active = active != "false"
        return record

    def modify_from_request(self, kind: str, body: etree._Element) -> ListRecord:
        list_id = body.findtext("ListID") or ""
        record = self.by_id((kind,), list_id)
        if record is None:
            raise QbStatus(
                3000, f'The given object ID "{list_id}" in the field "list id" is invalid.'
            )
        sent = body.findtext("EditSequence") or ""
        if sent != record.edit_sequence:
            raise QbStatus(3200, f'The provided edit sequence "{sent}" is out-of-date. ')
        new_name = body.findtext("Name")
        fields = self._fields(kind, body)  # resolve refs before changing anything
        if new_name is not None and new_name.strip() != record.name:
            prefix = f"{record.parent.full_name}:" if record.parent is not None else ""
            self.check_name_free(kind, prefix + new_name.strip(), except_id=record.list_id)
            record.name = new_name.strip()
        active = body.findtext("IsActive")
        if active is not None:
            record.is_active = active == "true"
        record.fields.update(fields)
        self.touch(record)
        return record

    def touch(self, record: ListRecord) -> None:
        record.modified = self.clock()
        record.edit_sequence = self.ids.edit_sequence()

    def _fields(self, kind: str, body: etree._Element) -> dict[str, list[etree._Element]]:
        kept = set(RET_ORDER.get(kind, ())) - _COMPUTED
        if kind in ("SalesTaxCode",):
            kept = {"IsTaxable", "Desc"}
        fields: dict[str, list[etree._Element]] = {}
        where = "Customer" if kind == "Customer" else ("Item" if kind in ITEM_KINDS else kind)
        for child in children(body):
            if child.tag in kept:
                fields.setdefault(child.tag, []).append(self.resolved_copy(child, where))
        return fields

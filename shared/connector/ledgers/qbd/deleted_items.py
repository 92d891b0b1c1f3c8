"""Items deleted in QuickBooks Desktop, as ListDeletedQuery reports them (issue #13).

A modified-since query never returns a deleted item, so each session also asks
``ListDeletedQuery`` (ListDelType ItemInventory, ItemNonInventory, ItemService) for the items
deleted since its own watermark (the latest TimeDeleted it returned). A deleted item whose
snapshot the connector holds gets that snapshot again, inactive and marked deleted, and one
sync message: the store side then takes its product out of sale as it does for an item made
inactive. An item the connector never saw has nothing in the store to take back: left alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connector.ledger_records import LedgerItem


@dataclass(frozen=True)
class DeletedItem:
    """One ListDeletedRet: ListDelType, ListID, TimeCreated, TimeDeleted, FullName."""

    list_id: str
    kind: str
    time_deleted: str
    full_name: str


def from_ret(ret: dict[str, Any]) -> DeletedItem | None:
    """None for a record without ListID or TimeDeleted (nothing to act on)."""
    list_id = str(ret.get("ListID") or "").strip()
    deleted = str(ret.get("TimeDeleted") or "").strip()
    if not list_id or not deleted:
        return None
    return DeletedItem(
        list_id=list_id,
        kind=str(ret.get("ListDelType") or "").strip(),
        time_deleted=deleted,
        full_name=str(ret.get("FullName") or "").strip(),
    )


def version_of(item: DeletedItem) -> str:
    """A deleted item has no EditSequence: its deletion's moment tells this version apart."""
    return f"deleted {item.time_deleted}"


def gone(
    deleted: Sequence[DeletedItem], held: Mapping[str, tuple[LedgerItem, bool]]
) -> list[LedgerItem]:
    """The snapshots to keep and queue: each deleted item the connector holds. One marked
    deleted already is queued again at the same version (FromDeletedDate is inclusive, and a
    queue that refused must get it next time): the sync queue and the worker drop a repeat."""
    out: list[LedgerItem] = []
    for item in deleted:
        found = held.get(item.list_id)
        if found is None:
            continue
        snapshot = found[0]
        try:
            moment: datetime | None = datetime.fromisoformat(item.time_deleted)
        except ValueError:
            moment = snapshot.updated_at
        out.append(
            snapshot.model_copy(
                update={"active": False, "version": version_of(item), "updated_at": moment}
            )
        )
    return out

"""The periodic full stock read of inventory items (issue #13, QuickBooks Desktop).

QuickBooks Desktop moves an item's QuantityOnHand when an invoice, sales receipt, bill or
inventory adjustment is saved, but not the item's TimeModified or EditSequence (the
reference is silent; QuickBooks' own list records change only when the item is edited), so
the modified-since query misses stock sold in QuickBooks. Every ``stock_recount_hours`` a
session reads every inventory item again, only ListID, EditSequence and QuantityOnHand
(IncludeRetElement), page by page, and queues the items whose quantity differs from the
snapshot. The first session reads every item whole anyway: it counts as a recount.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from connector.ledger_records import LedgerItem

if TYPE_CHECKING:
    from connector.config import Connection

RECOUNT = "StockRecount"  # the session's pseudo-query, and its watermark (the last one's end)
FIELDS: tuple[str, ...] = ("ListID", "EditSequence", "QuantityOnHand")


@dataclass(frozen=True)
class Count:
    list_id: str
    edit_sequence: str
    quantity: Decimal


def due(connection: Connection, watermarks: Mapping[str, str], now: datetime) -> bool:
    hours = connection.qbd.stock_recount_hours
    if connection.sync.inventory != "qbo_to_store" or hours == 0:
        return False
    if "ItemInventory" not in watermarks:
        return False  # no watermark: this session reads every inventory item whole
    last = watermarks.get(RECOUNT)
    if not last:
        return True
    return now - _aware(datetime.fromisoformat(last)) >= timedelta(hours=hours)


def count_of(ret: dict[str, Any]) -> Count | None:
    """None for a record without what the comparison needs."""
    list_id = str(ret.get("ListID") or "").strip()
    version = str(ret.get("EditSequence") or "").strip()
    try:
        quantity = Decimal(str(ret.get("QuantityOnHand") or "").strip())
    except InvalidOperation:
        return None
    if not list_id or not version:
        return None
    return Count(list_id, version, quantity)


def changed(
    counts: Sequence[Count], held: Mapping[str, tuple[LedgerItem, bool]], now: datetime
) -> list[LedgerItem]:
    """Snapshots whose quantity moved, with the new one. An item edited since its snapshot
    (another EditSequence) is skipped: the next modified-since query brings it whole."""
    stamp = now_iso(now)
    out: list[LedgerItem] = []
    for count in counts:
        found = held.get(count.list_id)
        if found is None or found[1]:
            continue
        snapshot = found[0]
        if snapshot.version.split(" ")[0] != count.edit_sequence:
            continue
        if snapshot.qty_on_hand is not None and snapshot.qty_on_hand == count.quantity:
            continue
        out.append(
            snapshot.model_copy(
                update={
                    "qty_on_hand": count.quantity,
                    # The EditSequence did not move: the count and the read's moment tell
                    # this version apart (the sync queue and the worker drop a repeated
                    # version, and a count can come back to an earlier one: 5, 4, 5, 4).
                    "version": f"{count.edit_sequence} qty {count.quantity} {stamp}",
                }
            )
        )
    return out


def now_iso(now: datetime) -> str:
    return now.astimezone(UTC).isoformat(timespec="seconds")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

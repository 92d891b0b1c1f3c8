"""Parked records, listed from DynamoDB at any age (`connector parked`).

A record parks when a retry cannot fix it (an inactive item, a missing mapping,
QuickBooks refusing the document): its sync state says ``parked`` with the
reason, and stays so until a replay, however long that takes. The dead-letter
queue keeps a QuickBooks Online record's message only 14 days; the state table
keeps the record for ever, so this list, not the queue, is what replay works
from. Desktop work that QuickBooks refused also waits as a parked outbox entry
(its place in the connection's order), which replay puts back to pending.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from connector.config import TenantConfig
from connector.ledgers.qbd.outbox import OutboxEntry, OutboxStore
from connector.state import StateStore, SyncState

LedgerKind = Literal["qbo", "qbd", "unknown"]  # unknown: replay without the tenant file


class ParkedRecord(BaseModel):
    """One parked record, as the on-call engineer reads it."""

    model_config = ConfigDict(frozen=True)

    record_key: str
    connection_id: str
    entity: str
    record_id: str
    ledger: LedgerKind
    since: datetime
    reason: str
    attempts: int
    outbox_seq: int | None = None  # Desktop: the entry waiting in the outbox

    @property
    def age_days(self) -> int:
        return (datetime.now(UTC) - self.since).days


def split_key(record_key: str) -> tuple[str, str, str]:
    """``<conn>#<entity>#<id>`` -> (connection, entity, id)."""
    connection_id, entity, record_id = record_key.split("#", 2)
    return connection_id, entity, record_id


def parked_records(
    config: TenantConfig | None,
    *,
    state: StateStore,
    outbox: OutboxStore | None,
    connection_id: str | None = None,
    record_id: str | None = None,
) -> list[ParkedRecord]:
    """Parked records of the tenant (or one connection, or one store record), oldest first."""
    kinds: dict[str, LedgerKind] | None = (
        {c.id: c.ledger.kind for c in config.connections} if config else None
    )
    found: dict[str, ParkedRecord] = {}
    for parked_state in state.parked_states(connection_id):
        record = _from_state(parked_state, kinds)
        if record is not None:
            found[record.record_key] = record
    if outbox is not None and kinds is not None:
        desktop = [c for c, kind in kinds.items() if kind == "qbd"]
        for conn in desktop if connection_id is None else [connection_id]:
            if kinds.get(conn) != "qbd":
                continue
            for entry in outbox.entries(conn, ("parked", "failed")):
                found[entry.record_key] = _with_entry(found.get(entry.record_key), entry)
    records = [r for r in found.values() if record_id is None or r.record_id == str(record_id)]
    return sorted(records, key=lambda r: (r.since, r.record_key))


def counts(records: Iterable[ParkedRecord]) -> dict[str, int]:
    """Parked records per connection."""
    tally: dict[str, int] = {}
    for record in records:
        tally[record.connection_id] = tally.get(record.connection_id, 0) + 1
    return tally


def _from_state(state: SyncState, kinds: dict[str, LedgerKind] | None) -> ParkedRecord | None:
    try:
        connection_id, entity, record_id = split_key(state.record_key)
    except ValueError:
        return None  # not a record's state
    kind: LedgerKind | None = "unknown" if kinds is None else kinds.get(connection_id)
    if kind is None:
        return None  # a connection no longer in the tenant file
    return ParkedRecord(
        record_key=state.record_key,
        connection_id=connection_id,
        entity=entity,
        record_id=record_id,
        ledger=kind,
        # States parked before parked_at existed: their last write is when they parked.
        since=_moment(state.parked_at or state.updated_at),
        reason=state.last_error or "(no reason recorded)",
        attempts=state.attempts,
    )


def _with_entry(record: ParkedRecord | None, entry: OutboxEntry) -> ParkedRecord:
    """A parked Desktop entry: the outbox's reason and attempts are QuickBooks' own."""
    connection_id, entity, record_id = split_key(entry.record_key)
    stamp = entry.updated_at or entry.created_at
    since = record.since if record else _moment(stamp) if stamp else datetime.now(UTC)
    return ParkedRecord(
        record_key=entry.record_key,
        connection_id=connection_id,
        entity=entity,
        record_id=record_id,
        ledger="qbd",
        since=since,
        reason=entry.last_error or (record.reason if record else "(no reason recorded)"),
        attempts=max(entry.attempts, record.attempts if record else 0),
        outbox_seq=entry.seq,
    )


def _moment(stamp: str) -> datetime:
    moment = datetime.fromisoformat(stamp)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def render(records: list[ParkedRecord]) -> str:
    """The table `connector parked` prints."""
    if not records:
        return "nothing parked"
    rows = [("RECORD", "LEDGER", "PARKED SINCE", "ATTEMPTS", "REASON")]
    for record in records:
        rows.append(
            (
                record.record_key,
                record.ledger + (f" (outbox #{record.outbox_seq})" if record.outbox_seq else ""),
                f"{record.since:%Y-%m-%d %H:%M} UTC ({record.age_days} d)",
                str(record.attempts),
                record.reason,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4]
        for row in rows
    ]
    total = f"{len(records)} parked; replay with `connector replay` once the reason is fixed"
    return "\n".join([*lines, total])

"""One place says what became of a store record: its sync-state change, its audit events, the
total check and the metric.

The sync worker records an outcome at once (a version-conditional put and an
audit append); the Web Connector service records a whole answer's outcomes
with a few batched calls. Both build them here, so a posted, queued, withdrawn
or parked record reads alike in the state table and the audit trail whichever
ledger carried it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from connector.dynamo_batch import Write
from connector.ledgers.posting import Posted
from connector.observability import metrics
from connector.state import AuditEventType, AuditTrail, StateStore, SyncState


@dataclass(frozen=True)
class Event:
    event: AuditEventType
    outcome: str
    ledger_id: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """Where a record now stands: sync-state fields to change, events to append, a metric."""

    state: Mapping[str, Any]
    events: tuple[Event, ...] = ()
    metric: str | None = None


def carried(
    posted: Posted,
    *,
    summary: str,
    store_total: Decimal | None = None,
    detail: Mapping[str, Any] | None = None,
    metric: str | None = "DocumentsPosted",
    previous: SyncState | None = None,
) -> Outcome:
    """A document, payment or refund QuickBooks now holds, or that waits for the Web Connector.

    A queued change keeps the ids of what it will modify (``previous``); QuickBooks'
    total is compared with the store's once QuickBooks has answered, and the store's tax
    kept over QuickBooks' own (``posted.adjustments``) is one "tax_adjusted" event.
    """
    queued = posted.operation == "queued"
    event: AuditEventType = (
        "queued"
        if queued
        else "posted"
        if posted.operation in ("created", "adopted")
        else "updated"
    )
    ledger_id = posted.ledger_id or (previous.ledger_id if previous else None)
    state = {
        "status": "queued" if queued else "posted",
        "ledger_id": ledger_id,
        "ledger_type": posted.ledger_type,
        "sync_token": posted.sync_token or (previous.sync_token if previous else None),
        "doc_number": posted.doc_number,
        "ledger_total": str(posted.total) if posted.total is not None else None,
        "attempts": 0,
        "last_error": None,
    }
    events = [Event(event, summary, posted.ledger_id, dict(detail or {}))]
    if posted.adjustments and not queued:
        # The store's figures kept over QuickBooks' own (tax rates that round differently).
        events.append(
            Event(
                "tax_adjusted",
                "; ".join(posted.adjustments),
                posted.ledger_id,
                {"adjustments": list(posted.adjustments)},
            )
        )
    mismatch = None if queued else total_mismatch(store_total, posted.total, posted.ledger_id)
    if mismatch is not None:
        events.append(mismatch)
    return Outcome(state, tuple(events), "DocumentsQueued" if queued else metric)


Withdrawal = Literal["voided", "deleted", "queued"]


def withdrawal_status(posted: Posted) -> Withdrawal:
    """What a withdrawal left: voided, deleted, or queued for the Web Connector."""
    if posted.operation in ("voided", "queued"):
        return "voided" if posted.operation == "voided" else "queued"
    return "deleted"


# A queued withdrawal's content, in place of the order's: "queued" alone cannot tell a post
# waiting for the Web Connector from a void or delete waiting there.
WITHDRAWAL_QUEUED = "withdrawal queued"


def withdrawn(
    status: Withdrawal, summary: str, ledger_id: str | None, sync_token: str | None = None
) -> Outcome:
    """A document voided or deleted in QuickBooks (or queued to be, for the Web Connector)."""
    state: dict[str, Any] = {"status": status, "attempts": 0, "last_error": None}
    if status == "queued":
        state["content_hash"] = WITHDRAWAL_QUEUED
    if sync_token:
        state["sync_token"] = sync_token
    return Outcome(state, (Event(status, summary, ledger_id),))


def withdrawal_waiting(state: SyncState) -> bool:
    """Whether what waits in the outbox for this record is its withdrawal, not its post."""
    return state.status == "queued" and state.content_hash == WITHDRAWAL_QUEUED


def parked(reason: str) -> Outcome:
    """Nothing a retry can fix: the record waits, with its reason, for a replay."""
    return Outcome(
        {"status": "parked", "last_error": reason},
        (Event("parked", reason, detail={"replay": "connector replay"}),),
        "RecordsParked",
    )


def total_mismatch(
    store_total: Decimal | None, ledger_total: Decimal | None, ledger_id: str | None
) -> Event | None:
    """An event when QuickBooks' total is not the store's (recorded, never silently accepted)."""
    if store_total is None or ledger_total is None or ledger_total == store_total:
        return None
    return Event(
        "total_mismatch",
        f"QuickBooks total {ledger_total} differs from the store total {store_total}",
        ledger_id,
        {"store_total": str(store_total), "ledger_total": str(ledger_total)},
    )


class OutcomeRecorder:
    """Writes outcomes: one at a time (the sync worker) or as batchable writes (Web Connector)."""

    def __init__(self, state: StateStore, audit: AuditTrail) -> None:
        self._state = state
        self._audit = audit

    def record(self, key: str, outcome: Outcome, base: SyncState) -> SyncState:
        """Apply an outcome to ``base`` (version-checked), then append its events."""
        written = self._state.put_sync_state(base.model_copy(update=dict(outcome.state)))
        self.append_events(key, outcome)
        return written

    def append_events(self, key: str, outcome: Outcome) -> None:
        """The outcome's audit events and metric, without touching the sync state."""
        for event in outcome.events:
            self._audit.append(
                key, event.event, event.outcome, ledger_id=event.ledger_id, detail=event.detail
            )
        count(outcome)

    def event_writes(self, key: str, outcome: Outcome) -> list[Write]:
        """The audit appends of an outcome, for a BatchWriteItem (the caller counts metrics)."""
        return [
            self._audit.event_put(
                key, event.event, event.outcome, ledger_id=event.ledger_id, detail=event.detail
            )
            for event in outcome.events
        ]


def count(outcome: Outcome) -> None:
    if outcome.metric:
        metrics.add_metric(name=outcome.metric, unit="Count", value=1)
    if any(e.event == "total_mismatch" for e in outcome.events):
        metrics.add_metric(name="TotalMismatch", unit="Count", value=1)

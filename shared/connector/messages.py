"""The sync queue's message: what ingest, reconcile and replay put on the queue."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from connector.ledger_records import LedgerEntity
from connector.model import Entity

Action = Literal["upsert", "delete"]


class SyncMessage(BaseModel):
    """One record to bring into step. The worker always re-fetches the record itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    connection_id: str
    # A store record (order, customer) goes store → QuickBooks; a ledger record (issue #13)
    # goes QuickBooks → store when the connection's `sync` directions allow it.
    entity: Entity | LedgerEntity
    record_id: str
    action: Action = "upsert"
    topic: str  # as the store named it, e.g. "order.updated"
    modified_at: datetime | None = None  # the store's modification time, when the event had one
    # What tells this version of the record from others: the modification time (one-second
    # resolution) plus a digest of the event's body. Ingest derives SQS deduplication from it.
    version: str | None = None
    received_at: datetime
    source: Literal[
        "webhook", "reconcile", "replay", "backfill", "ledger_webhook", "ledger_poll", "qbwc"
    ] = "webhook"

    @property
    def group_id(self) -> str:
        """FIFO message group: one record's events stay in order."""
        return f"{self.connection_id}:{self.entity}:{self.record_id}"

    @property
    def record_key(self) -> str:
        """Key of the record's sync state and audit trail."""
        return f"{self.connection_id}#{self.entity}#{self.record_id}"

"""Where a backfill stands, in the state table, so a stopped run resumes where it stopped.

Key: ``<conn>#backfill`` / ``<since>..<until>`` (``until`` is ``now`` when not given; the
moment it stood for is kept in the item). The item holds the cursor (the last order
handled, by creation time and id: a resumed run skips everything up to it), the counts a
progress line shows, and the orders queued that the worker has not settled yet, so a
resumed run still counts them when they post or park. That set is bounded by the pace's
backlog, which keeps the item small.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import boto3
from pydantic import BaseModel, ConfigDict

from connector.state import _plain


class Checkpoint(BaseModel):
    model_config = ConfigDict(extra="ignore")

    connection_id: str
    window: str  # the sort key: "<since>..<until>"
    since: datetime
    until: datetime
    # The last order queued or found settled, by (created_at, record id).
    cursor_created_at: datetime | None = None
    cursor_id: str | None = None
    found: int = 0  # orders the store lists in the window (the latest listing)
    queued: int = 0  # sent to the sync queue by this backfill
    current: int = 0  # already in step at the version listed: not queued
    held: int = 0  # parked at the version listed before the backfill: replay is their way
    posted: int = 0
    outbox: int = 0  # QuickBooks Desktop: waiting in the outbox for the Web Connector
    skipped: int = 0  # statuses that do not post, cancellations, deletions
    parked: int = 0
    # Queued and not yet settled by the worker: record id -> the version queued.
    waiting: dict[str, str] = {}
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    runs: int = 1

    @property
    def settled(self) -> int:
        return self.posted + self.outbox + self.skipped + self.parked

    @property
    def handled(self) -> int:
        """Orders the backfill is done with: settled, or found in step or parked before."""
        return self.current + self.held + self.settled


class CheckpointStore:
    def __init__(self, table_name: str, *, resource: Any | None = None) -> None:
        self._table = (resource or boto3.resource("dynamodb")).Table(table_name)

    def get(self, connection_id: str, window: str) -> Checkpoint | None:
        item = self._table.get_item(
            Key={"pk": f"{connection_id}#backfill", "sk": window}, ConsistentRead=True
        ).get("Item")
        return Checkpoint.model_validate(_plain(item)) if item else None

    def put(self, checkpoint: Checkpoint) -> None:
        self._table.put_item(
            Item={
                "pk": f"{checkpoint.connection_id}#backfill",
                "sk": checkpoint.window,
                **checkpoint.model_dump(mode="json", exclude_none=True),
            }
        )

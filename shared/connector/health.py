"""How a connection is doing, as the functions last saw it: one item per connection.

Ingest notes the last webhook, the sync worker the last post, the reconcile
poll the webhook health it checked, the Web Connector its last contact.
`connector status` reads them back. Key (state table): <conn>#health / HEALTH.

Moments that change with every event (a webhook, a post) are written at most
once a minute per function instance: status needs "about when", and one more
DynamoDB write per order would double the state table's write bill.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import boto3
from pydantic import BaseModel, ConfigDict

from connector.state import _plain

# How often a busy function writes the same moment again.
MOMENT_EVERY_S = 60.0


class ConnectionHealth(BaseModel):
    """What the functions last noted of one connection (None: never noted)."""

    model_config = ConfigDict(extra="ignore")

    last_webhook_at: datetime | None = None
    last_post_at: datetime | None = None
    webhook_health: str | None = None  # "healthy", "repaired: …", "unhealthy: …", "polled"
    webhook_checked_at: datetime | None = None
    qbwc_last_contact_at: datetime | None = None


_MOMENTS = ("last_webhook_at", "last_post_at", "qbwc_last_contact_at")


class HealthMarks:
    def __init__(self, table_name: str, *, resource: Any | None = None) -> None:
        self._table = (resource or boto3.resource("dynamodb")).Table(table_name)
        self._written: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def note(self, connection_id: str, **fields: Any) -> None:
        """Set ``fields`` (names of ConnectionHealth) on the connection's item; others stay.

        A moment (``last_webhook_at=…``) noted again within a minute by this instance is not
        written; anything else always is.
        """
        unknown = set(fields) - set(ConnectionHealth.model_fields)
        if unknown:
            raise ValueError(f"not a health field: {sorted(unknown)}")
        now = time.monotonic()
        with self._lock:
            due = {
                name: value
                for name, value in fields.items()
                if name not in _MOMENTS
                or now - self._written.get((connection_id, name), -MOMENT_EVERY_S) >= MOMENT_EVERY_S
            }
            for name in due:
                if name in _MOMENTS:
                    self._written[(connection_id, name)] = now
        if not due:
            return
        names = {f"#{name}": name for name in due}
        values = {f":{name}": _stored(value) for name, value in due.items()}
        self._table.update_item(
            Key={"pk": f"{connection_id}#health", "sk": "HEALTH"},
            UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in due),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def noted(self, connection_id: str) -> ConnectionHealth:
        item = self._table.get_item(
            Key={"pk": f"{connection_id}#health", "sk": "HEALTH"}, ConsistentRead=True
        ).get("Item")
        return ConnectionHealth.model_validate(_plain(item)) if item else ConnectionHealth()


def now_moment() -> datetime:
    return datetime.now(UTC)


def _stored(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value

"""Deliveries ingest verified but the sync queue would not take: kept until the poll queues them.

WooCommerce never sends a failed delivery again, so a 503 while SQS is unavailable
would lose the order until the next change or poll. Ingest writes the delivery's
sync message here first and answers 200; each reconcile run queues what waits, oldest
first, and deletes each item once SQS took it (the worker settles a repeat by its
version, so an item queued twice posts once).

Key (state table): ``<conn>#unqueued`` / ``<received_at>#<entity>#<id>``, with the
SyncMessage as JSON and the version its SQS deduplication id is made from.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key

from connector.messages import SyncMessage


@dataclass(frozen=True)
class Unqueued:
    """One delivery waiting for the queue."""

    key: str  # the item's sort key
    message: SyncMessage
    version: str


def partition(connection_id: str) -> str:
    return f"{connection_id}#unqueued"


class UnqueuedDeliveries:
    def __init__(self, table_name: str, *, resource: Any | None = None) -> None:
        self._table = (resource or boto3.resource("dynamodb")).Table(table_name)

    def keep(self, message: SyncMessage, version: str) -> str:
        """Write the message durably; its sort key. Raises botocore's errors when it cannot."""
        key = f"{message.received_at.isoformat()}#{message.entity}#{message.record_id}"
        self._table.put_item(
            Item={
                "pk": partition(message.connection_id),
                "sk": key,
                "message": message.model_dump_json(),
                "version": version,
            }
        )
        return key

    def waiting(self, connection_id: str) -> Iterator[Unqueued]:
        """What waits for the connection, oldest first (paged)."""
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(partition(connection_id)),
            "ConsistentRead": True,
        }
        while True:
            page = self._table.query(**kwargs)
            for item in page.get("Items", []):
                yield Unqueued(
                    key=str(item["sk"]),
                    message=SyncMessage.model_validate_json(str(item["message"])),
                    version=str(item["version"]),
                )
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def forget(self, connection_id: str, key: str) -> None:
        """Delete one item, once the queue has taken its message."""
        self._table.delete_item(Key={"pk": partition(connection_id), "sk": key})

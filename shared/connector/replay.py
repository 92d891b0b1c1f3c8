"""Replay parked records: move them from the dead-letter queue back onto the sync queue, and send
again what is parked in the state table at any age (its dead-letter message may be long gone).

SQS's own redrive (StartMessageMoveTask, the console's "Start DLQ redrive")
works too, since the worker is idempotent; this move is ours so that it runs
everywhere (moto has no StartMessageMoveTask), can pick one connection or one
record, and marks each message as a replay for the audit trail.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from connector.messages import SyncMessage
from connector.parked import ParkedRecord
from connector.sync_queue import SyncQueue

_BATCH = 10


class ReplayReport(BaseModel):
    replayed: list[str] = []
    kept: int = 0  # parked records that did not match the filter
    unreadable: list[str] = []  # message ids of bodies that are not sync messages (left in place)


def replay_parked(
    sqs: Any,
    *,
    dlq_url: str,
    queue: SyncQueue,
    connection_id: str | None = None,
    record_id: str | None = None,
    visibility_timeout_s: int = 60,
) -> ReplayReport:
    """Move matching parked messages back; others stay parked. Each is sent before it is deleted."""
    report = ReplayReport()
    seen: set[str] = set()
    left: list[str] = []  # receipt handles of messages that stay parked
    now = datetime.now(UTC)
    while True:
        batch = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=_BATCH,
            VisibilityTimeout=visibility_timeout_s,
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        fresh = [m for m in batch if m["MessageId"] not in seen]
        if not fresh:
            break
        for raw in fresh:
            seen.add(raw["MessageId"])
            try:
                message = SyncMessage.model_validate_json(raw["Body"])
            except ValidationError:
                report.unreadable.append(raw["MessageId"])
                left.append(raw["ReceiptHandle"])
                continue
            if (connection_id and message.connection_id != connection_id) or (
                record_id and message.record_id != record_id
            ):
                report.kept += 1
                left.append(raw["ReceiptHandle"])
                continue
            again = message.model_copy(update={"source": "replay", "received_at": now})
            queue.send(again, version=f"replay:{now.isoformat()}")
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=raw["ReceiptHandle"])
            report.replayed.append(message.record_key)
    # What stays parked becomes visible again at once, not after the timeout.
    for handle in left:
        sqs.change_message_visibility(QueueUrl=dlq_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return report


class ResentReport(BaseModel):
    resent: list[str] = []
    # record key -> why it cannot go through the sync queue (not an order or customer)
    refused: dict[str, str] = {}


def resend_parked(
    records: list[ParkedRecord], *, queue: SyncQueue, skip: set[str] | None = None
) -> ResentReport:
    """A replay message for each parked record, rebuilt from its record key.

    The worker fetches the record from the store as it always does, so the key is all a
    message needs; ``skip`` holds records already replayed (from the dead-letter queue or
    the Desktop outbox) so that none is sent twice.
    """
    report = ResentReport()
    now = datetime.now(UTC)
    for record in records:
        if skip and record.record_key in skip:
            continue
        try:
            message = SyncMessage(
                connection_id=record.connection_id,
                entity=record.entity,  # validated here
                record_id=record.record_id,
                topic=f"{record.entity}.replayed",
                received_at=now,
                source="replay",
            )
        except ValidationError:
            report.refused[record.record_key] = (
                f"{record.entity} records are not sent through the sync queue; replay its order"
            )
            continue
        queue.send(message, version=f"replay:{now.isoformat()}")
        report.resent.append(record.record_key)
    return report

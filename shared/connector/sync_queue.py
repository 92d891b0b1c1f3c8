"""Producer side of the SQS FIFO sync queue, and handing a received message back with a delay."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from connector.messages import SyncMessage

SEND_BATCH_MAX = 10  # SendMessageBatch's limit


class QueueUnavailable(Exception):
    """SQS did not take the message: the caller must not acknowledge the event."""


def deduplication_id(message: SyncMessage, version: str) -> str:
    """Same record at the same version -> same id, so SQS drops the repeat within 5 minutes.

    ``version`` is the record's modification time. A deletion carries none (WooCommerce's
    ``{"id": N}``), so each delete delivery is its own message, told apart by when it was
    received: a trash, restore and trash again within five minutes must not lose the second
    trash. The worker fetches the order for each and withdraws its document once.
    """
    raw = f"{message.connection_id}:{message.entity}:{message.record_id}:{message.action}:{version}"
    if message.action == "delete":
        raw += f":{message.received_at.isoformat()}"
    return hashlib.sha256(raw.encode()).hexdigest()


class SyncQueue:
    def __init__(self, queue_url: str, *, client: Any | None = None) -> None:
        self._url = queue_url
        self._client = client or boto3.client("sqs")

    def send(self, message: SyncMessage, *, version: str, reason: str | None = None) -> str:
        """Queue ``message``; ``reason`` (why it was parked) travels as a message attribute."""
        attributes: dict[str, Any] = (
            {"reason": {"DataType": "String", "StringValue": reason[:1000]}} if reason else {}
        )
        try:
            response = self._client.send_message(
                QueueUrl=self._url,
                MessageBody=message.model_dump_json(),
                MessageGroupId=message.group_id,
                MessageDeduplicationId=deduplication_id(message, version),
                MessageAttributes=attributes,
            )
        except (BotoCoreError, ClientError) as exc:
            raise QueueUnavailable(str(exc)) from exc
        return str(response["MessageId"])

    def send_many(self, messages: Sequence[tuple[SyncMessage, str]]) -> list[str | None]:
        """Queue ``(message, version)`` pairs ten to a request (SendMessageBatch), in order;
        each one's error, or None once SQS took it. A request SQS refused as a whole gives
        each of its messages that error (they are the caller's to keep)."""
        errors: list[str | None] = []
        for start in range(0, len(messages), SEND_BATCH_MAX):
            chunk = messages[start : start + SEND_BATCH_MAX]
            entries: list[Any] = [
                {
                    "Id": str(index),
                    "MessageBody": message.model_dump_json(),
                    "MessageGroupId": message.group_id,
                    "MessageDeduplicationId": deduplication_id(message, version),
                }
                for index, (message, version) in enumerate(chunk)
            ]
            try:
                answer = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
            except (BotoCoreError, ClientError) as exc:
                errors.extend([str(exc)] * len(chunk))
                continue
            failed = {
                str(f["Id"]): f"{f.get('Code', '')}: {f.get('Message', '')}"
                for f in answer.get("Failed") or []
            }
            errors.extend(failed.get(str(index)) for index in range(len(chunk)))
        return errors

    def requeue(self, message: SyncMessage) -> str:
        """Queue a fresh copy of a received message (its own deduplication id, its receive
        count from zero): for a record that is only waiting, whose receives run out."""
        return self.send(message, version=f"requeued:{uuid.uuid4().hex}")

    def hand_back(self, receipt_handle: str, delay_s: int) -> bool:
        """Make a received message visible again in ``delay_s`` seconds (ChangeMessageVisibility).

        False when SQS refused (the receipt expired, or SQS is unavailable): the message then
        comes back after the queue's own visibility timeout, which loses nothing.
        """
        try:
            self._client.change_message_visibility(
                QueueUrl=self._url, ReceiptHandle=receipt_handle, VisibilityTimeout=delay_s
            )
        except (BotoCoreError, ClientError):
            return False
        return True

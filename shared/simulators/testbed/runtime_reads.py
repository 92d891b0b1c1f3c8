"""What a test reads from a bare local runtime (no rig): the sync queue's messages and a
record's audit trail; and the sync queue taken away while a test runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from connector.local import LocalRuntime
from connector.state import AuditEvent, AuditTrail


def take_queued(runtime: LocalRuntime) -> list[dict[str, Any]]:
    """Every message now on the sync queue, received and deleted (the queue left empty)."""
    sqs = runtime.boto3_client("sqs")
    url = runtime.env["CONNECTOR_SYNC_QUEUE_URL"]
    found: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", [])
        if not batch:
            return found
        for message in batch:
            found.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def audit_events(runtime: LocalRuntime, key: str) -> list[AuditEvent]:
    """The audit trail of record ``key`` (``<connection>#<entity>#<id>``)."""
    trail = AuditTrail(
        runtime.env["CONNECTOR_AUDIT_TABLE"], resource=runtime.boto3_resource("dynamodb")
    )
    return trail.events(key)


@contextmanager
def sync_queue_gone(runtime: LocalRuntime) -> Iterator[None]:
    """SQS refuses every message: the queue is deleted, then made again as it was."""
    sqs = runtime.boto3_client("sqs")
    url = runtime.env["CONNECTOR_SYNC_QUEUE_URL"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    sqs.delete_queue(QueueUrl=url)
    try:
        yield
    finally:
        name = url.rsplit("/", 1)[1]
        keep = {
            k: attributes[k]
            for k in ("FifoQueue", "VisibilityTimeout", "RedrivePolicy")
            if k in attributes
        }
        sqs.create_queue(QueueName=name, Attributes=keep)

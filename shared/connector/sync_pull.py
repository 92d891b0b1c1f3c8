"""More records from the sync queue, pulled by the sync function itself to fill batch requests.

Lambda hands a FIFO queue's function at most 10 records per invocation, so with batching on
(connector.ledgers.qbo.batching) the handler may receive more from the same queue and work
them with the event's. SQS FIFO never hands out a message of a group that has one in flight,
so a record's versions stay in order. A pulled record is the function's to settle, not the
event source's: deleted once done, otherwise left to come back (its own hand-back delay, or
the queue's visibility timeout), exactly as a record of the event reported failed.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from connector.observability import logger

_MAX_RECEIVE = 10  # SQS's most per ReceiveMessage


def pull(
    sqs: Any,
    queue_url: str,
    count: int,
    *,
    like: Mapping[str, Any],
    hidden_s: int | None = None,
) -> list[dict[str, Any]]:
    """Up to ``count`` messages now visible on the queue, as Lambda event records (shaped
    like ``like``, a record of the event: its source ARN and region). Never waits; an SQS
    failure ends the pull with what it has (the event's records still go on).

    ``hidden_s``: how long the messages stay invisible to other receivers (default the
    queue's visibility timeout): at least as long as the function may hold them, or another
    receive would hand out a record still being worked."""
    records: list[dict[str, Any]] = []
    visibility = {} if hidden_s is None else {"VisibilityTimeout": hidden_s}
    while len(records) < count:
        try:
            messages = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=min(_MAX_RECEIVE, count - len(records)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
                **visibility,
            ).get("Messages", [])
        except (BotoCoreError, ClientError) as exc:
            logger.warning("could not pull more records from the sync queue", error=str(exc))
            break
        if not messages:
            break
        records.extend(_as_record(m, like) for m in messages)
    return records


def settle(sqs: Any, queue_url: str, records: Sequence[Mapping[str, Any]]) -> None:
    """Delete pulled records that are done (the event source deletes the event's own)."""
    for start in range(0, len(records), _MAX_RECEIVE):
        chunk = records[start : start + _MAX_RECEIVE]
        entries = [
            {"Id": str(n), "ReceiptHandle": str(r["receiptHandle"])} for n, r in enumerate(chunk)
        ]
        try:
            answer = sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
        except (BotoCoreError, ClientError) as exc:
            # Each comes back and is answered from the idempotency record: nothing is lost.
            logger.warning("could not delete pulled records", error=str(exc), count=len(chunk))
            continue
        if answer.get("Failed"):
            logger.warning("could not delete some pulled records", failed=answer["Failed"])


def hide(sqs: Any, queue_url: str, records: Sequence[Mapping[str, Any]], hidden_s: int) -> None:
    """Keep records the function holds invisible for ``hidden_s`` more seconds (the event's
    own, received with the queue's visibility timeout, which may be shorter than the
    function will hold them). A failure is logged: the record may then be handed out again,
    and its second worker finds it in progress or done (the idempotency record)."""
    for start in range(0, len(records), _MAX_RECEIVE):
        chunk = records[start : start + _MAX_RECEIVE]
        entries = [
            {"Id": str(n), "ReceiptHandle": str(r["receiptHandle"]), "VisibilityTimeout": hidden_s}
            for n, r in enumerate(chunk)
        ]
        try:
            answer = sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)
        except (BotoCoreError, ClientError) as exc:
            logger.warning("could not keep held records hidden", error=str(exc), count=len(chunk))
            continue
        if answer.get("Failed"):
            logger.warning("could not keep some held records hidden", failed=answer["Failed"])


def _as_record(message: Mapping[str, Any], like: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {k: str(v) for k, v in message.get("Attributes", {}).items()},
        "messageAttributes": {
            name: lambda_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": like.get("eventSourceARN", ""),
        "awsRegion": like.get("awsRegion", ""),
    }


def lambda_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """ReceiveMessage's attribute shape -> the Lambda event's (lower camel case)."""
    attribute: dict[str, Any] = {
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    return attribute

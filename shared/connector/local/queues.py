"""Delivers SQS messages to queue-triggered functions as Lambda's event source mapping does.

One poller thread per queue-triggered function receives up to ``batch_size``
messages, hands them over as an SQS event, then deletes the records the
function did not report in ``batchItemFailures`` (ReportBatchItemFailures).
Reported records stay in the queue and come back after the visibility timeout
(or the delay the function set with ChangeMessageVisibility); when the function
raises, the whole batch does. Moving a message to the dead-letter queue after
``maxReceiveCount`` receives is SQS's job, which moto's server does on receive
as SQS does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from connector.local.aws import LocalQueue
from connector.resources import FunctionSpec
from connector.sync_pull import lambda_attribute

log = logging.getLogger(__name__)

# SQS hands out at most ten messages per receive; Lambda batches larger
# than that are gathered over a batching window, which the local runtime skips.
_MAX_RECEIVE = 10


def sqs_record(message: Mapping[str, Any], queue: LocalQueue, region: str) -> dict[str, Any]:
    """One record of a Lambda SQS event, from one ReceiveMessage message."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {name: str(value) for name, value in message.get("Attributes", {}).items()},
        "messageAttributes": {
            name: lambda_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue.arn,
        "awsRegion": region,
    }


class InvalidBatchResponse(ValueError):
    """The function's batch response names a record that is not in the batch."""


def failed_message_ids(response: Any, batch_ids: set[str]) -> set[str]:
    """The message ids a ReportBatchItemFailures response asks to keep.

    Lambda treats a response naming an empty or unknown id as a failure of
    the whole batch, so this raises and the caller keeps every message.
    """
    if not isinstance(response, Mapping):
        return set()
    failures = response.get("batchItemFailures") or []
    failed: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
        if not identifier or identifier not in batch_ids:
            raise InvalidBatchResponse(f"batchItemFailures names {identifier!r}, not in the batch")
        failed.add(str(identifier))
    return failed


Invoke = Callable[[FunctionSpec, dict[str, Any]], Any]


class QueuePoller:
    """Feeds one queue to one function from a background thread."""

    def __init__(
        self,
        *,
        spec: FunctionSpec,
        queue: LocalQueue,
        sqs: Any,
        invoke: Invoke,
        region: str,
        poll_interval_s: float,
    ) -> None:
        self.spec = spec
        self.queue = queue
        self._sqs = sqs
        self._invoke = invoke
        self._region = region
        self._poll_interval_s = poll_interval_s
        self._stopping = threading.Event()
        self._busy = threading.Event()
        # Messages handed back to the queue (reported failed, or the function raised), until
        # this poller receives them again or they have left the queue (its dead-letter queue).
        self._held: set[str] = set()
        self._held_lock = threading.Lock()
        # Reads in a row, after a receive that brought nothing, in which the queue held nothing.
        self._empty_reads = 0
        self._thread = threading.Thread(
            target=self._run, name=f"local-sqs-{spec.name}", daemon=True
        )

    @property
    def busy(self) -> bool:
        """True from a receive until its batch's deletes are done."""
        return self._busy.is_set()

    @property
    def holding(self) -> bool:
        """True while a message this poller handed back may be counted by none of SQS's
        counters: at the moment its visibility ends it moves from "not visible" to "visible"
        (or to the dead-letter queue), and one read of the three counters can miss it. The
        function may have changed that visibility to anything (a retry delay), so no timer
        says when the moment is past: the message is held until this poller receives it
        again, or two reads in a row find the queue empty (it went to the dead-letter queue;
        a message still there is missed at most at one instant)."""
        with self._held_lock:
            return bool(self._held)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=self.spec.timeout_s)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                delivered = self.poll_once()
            except Exception:
                # An error talking to the embedded AWS must not kill delivery for good.
                log.exception("polling %s for %s failed", self.queue.name, self.spec.name)
                delivered = 0
            if not delivered:
                self._stopping.wait(self._poll_interval_s)

    def poll_once(self) -> int:
        """Receives and delivers one batch; returns how many messages it held."""
        self._busy.set()
        try:
            messages = self._sqs.receive_message(
                QueueUrl=self.queue.url,
                MaxNumberOfMessages=min(self.spec.batch_size, _MAX_RECEIVE),
                AttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if messages:
                with self._held_lock:
                    self._empty_reads = 0
                    for message in messages:
                        self._held.discard(message["MessageId"])
                self._deliver(messages)
            elif self.holding:
                self._release_if_gone()
            return len(messages)
        finally:
            self._busy.clear()

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        event = {"Records": [sqs_record(m, self.queue, self._region) for m in messages]}
        try:
            response = self._invoke(self.spec, event)
            failed = failed_message_ids(response, {m["MessageId"] for m in messages})
        except Exception:
            log.exception(
                "function %s failed on a batch of %d from %s; the batch returns to the queue",
                self.spec.name,
                len(messages),
                self.queue.name,
            )
            self._hold([m["MessageId"] for m in messages])
            return
        self._hold(sorted(failed))
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            result = self._sqs.delete_message_batch(
                QueueUrl=self.queue.url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": m["ReceiptHandle"]}
                    for index, m in enumerate(done)
                ],
            )
            for failure in result.get("Failed", []):
                log.error("could not delete a message from %s: %s", self.queue.name, failure)

    def _hold(self, message_ids: list[str]) -> None:
        with self._held_lock:
            self._held.update(message_ids)
            self._empty_reads = 0

    def _release_if_gone(self) -> None:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.queue.url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        empty = not any(int(count) for count in attributes.values())
        with self._held_lock:
            self._empty_reads = self._empty_reads + 1 if empty else 0
            if self._empty_reads >= 2:
                self._held.clear()
                self._empty_reads = 0

"""SQS queues (and their dead-letter queues) from connector.resources.QUEUES."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from connector.resources import QUEUES, QueueSpec


class ConnectorQueues(Construct):
    """Each QueueSpec's queue with its DLQ: FIFO where declared, SQS-managed SSE, TLS only."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.by_id: dict[str, sqs.Queue] = {}
        self.dead_letter_by_id: dict[str, sqs.Queue] = {}
        for spec in QUEUES:
            self._queue(spec)

    def _queue(self, spec: QueueSpec) -> None:
        dead_letter: sqs.DeadLetterQueue | None = None
        if spec.dlq_logical_id:
            dlq = sqs.Queue(
                self,
                spec.dlq_logical_id,
                fifo=spec.fifo or None,
                # Parked messages wait for `connector replay`; keep them as long as SQS allows.
                retention_period=Duration.days(14),
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
            )
            self.dead_letter_by_id[spec.logical_id] = dlq
            self.by_id[spec.dlq_logical_id] = dlq
            dead_letter = sqs.DeadLetterQueue(queue=dlq, max_receive_count=spec.max_receive_count)
        self.by_id[spec.logical_id] = sqs.Queue(
            self,
            spec.logical_id,
            fifo=spec.fifo or None,
            # Deduplication is by the delivery id the producer sets, not by body hash.
            content_based_deduplication=False if spec.fifo else None,
            visibility_timeout=Duration.seconds(spec.visibility_timeout_s),
            retention_period=Duration.seconds(spec.retention_s),
            dead_letter_queue=dead_letter,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )

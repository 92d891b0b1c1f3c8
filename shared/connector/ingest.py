"""Webhook ingest: verify, classify, and queue one sync message per store record.

The answer matters to the store: WooCommerce disables a webhook after repeated
failures and never retries a failed delivery. So every verified delivery gets a 2xx:
one about something the connector does not sync (another topic, an ``action.*``
body, another shape) is recorded as ``ignored``; one the sync queue refuses is
written to the state table (connector.unqueued) for the next reconcile run to
queue, and audited ``received, not queued``. Only when that write fails too does
the store get a 503 (it counts it; nothing was recorded to lose).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from connector.config import Connection, TenantConfig
from connector.health import HealthMarks
from connector.messages import SyncMessage
from connector.observability import logger, metrics
from connector.secrets import SecretVault
from connector.state import AuditTrail
from connector.stores.port import WebhookReader, WebhookReading, WebhookRecord
from connector.sync_queue import QueueUnavailable, SyncQueue
from connector.unqueued import UnqueuedDeliveries

MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class IngestAnswer:
    status: int
    message: str
    queued: int = 0
    # Records the queue refused, kept in the state table for the next reconcile run.
    kept: int = 0

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "queued": self.queued}
        return body | {"kept": self.kept} if self.kept else body


class WebhookIngest:
    def __init__(
        self,
        *,
        config: TenantConfig,
        vault: SecretVault,
        queue: SyncQueue,
        audit: AuditTrail,
        reader_for: Callable[[Connection], WebhookReader],
        unqueued: UnqueuedDeliveries,
        health: HealthMarks | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._config = config
        self._vault = vault
        self._queue = queue
        self._audit = audit
        self._reader_for = reader_for
        self._unqueued = unqueued
        self._health = health
        self._clock = clock

    def receive(self, connection_id: str, headers: Mapping[str, str], body: bytes) -> IngestAnswer:
        headers = {k.lower(): v for k, v in headers.items()}
        connection = self._config.connection(connection_id)
        if connection is None:
            return IngestAnswer(404, f"no connection named {connection_id!r}")
        if len(body) > MAX_BODY_BYTES:
            return IngestAnswer(413, f"body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")

        def secret() -> str:
            return self._vault.webhook_secret(connection_id)

        def store_secret(field: str) -> str:
            # Another field of the webhook secret: ingest may read no other secret.
            return self._vault.webhook_field(connection_id, field)

        reading = self._reader_for(connection)(headers, body, secret, store_secret)
        if reading.status == 401:
            metrics.add_metric(name="WebhookRejected", unit="Count", value=1)
            logger.warning("webhook signature rejected", connection_id=connection_id)
        if reading.status != 200:
            return IngestAnswer(reading.status, reading.message)
        if reading.is_ping:
            logger.info("webhook ping answered", connection_id=connection_id)
            return IngestAnswer(200, reading.message)
        self._note_webhook(connection_id)
        if reading.ignored_topic is not None:
            # Acknowledged so the store keeps the webhook enabled; recorded so nothing is silent.
            topic = reading.ignored_topic
            self._audit.append(
                f"{connection_id}#topic#{topic}",
                "ignored",
                f"{reading.message}; not synced",
                detail=dict(reading.detail),
            )
            metrics.add_metric(name="WebhookIgnored", unit="Count", value=1)
            return IngestAnswer(200, f"{reading.message}; not synced, recorded")

        queued = kept = 0
        for record in reading.records:
            message = SyncMessage(
                connection_id=connection_id,
                entity=record.entity,
                record_id=record.record_id,
                action=record.action,
                topic=record.topic,
                modified_at=record.modified_at,
                version=record.version,
                received_at=self._clock(),
            )
            try:
                self._queue.send(message, version=record.version)
            except QueueUnavailable as exc:
                if not self._keep(message, record, reading, str(exc)):
                    return IngestAnswer(
                        503, "could not queue the event; please retry", queued=queued, kept=kept
                    )
                kept += 1
                continue
            self._audit.append(
                message.record_key,
                "received",
                f"{record.topic} queued",
                detail=_received(record, reading),
            )
            metrics.add_metric(name="WebhookQueued", unit="Count", value=1)
            queued += 1
        if kept:
            return IngestAnswer(
                200, "received; kept for the next reconcile run", queued=queued, kept=kept
            )
        return IngestAnswer(200, "queued", queued=queued)

    def _keep(
        self, message: SyncMessage, record: WebhookRecord, reading: WebhookReading, error: str
    ) -> bool:
        """The queue refused ``message``: write it where the reconcile run finds it. False
        when that write failed too (the store must then be told to retry)."""
        logger.error(
            "sync queue unavailable", connection_id=message.connection_id, error=error[:500]
        )
        try:
            self._unqueued.keep(message, record.version)
        except (BotoCoreError, ClientError) as exc:
            logger.error(
                "could not keep the delivery either",
                connection_id=message.connection_id,
                error=str(exc)[:500],
            )
            return False
        metrics.add_metric(name="DeliveriesNotQueued", unit="Count", value=1)
        self._audit.append(
            message.record_key,
            "received",
            f"{record.topic} received, not queued: the sync queue refused it; kept for the next "
            "reconcile run, which queues it",
            detail={**_received(record, reading), "not_queued": error[:300]},
        )
        return True

    def _note_webhook(self, connection_id: str) -> None:
        """The health item's last webhook (for ``connector status``); never fails a delivery."""
        if self._health is None:
            return
        try:
            self._health.note(connection_id, last_webhook_at=self._clock())
        except (BotoCoreError, ClientError) as exc:
            logger.warning("could not note the webhook's time", error=str(exc)[:300])


def _received(record: WebhookRecord, reading: WebhookReading) -> dict[str, Any]:
    return {
        "topic": record.topic,
        "store_modified_at": record.version,
        "delivery_id": reading.detail.get("delivery_id"),
    }

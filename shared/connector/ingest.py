"""Webhook ingest: verify, classify, and queue one sync message per store record.

The answer matters to the store: WooCommerce disables a webhook after repeated
failures and never retries a failed delivery, so only a verified, queued event
gets a 2xx, and an event we cannot queue gets a 503 for the store to count.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connector.config import Connection, TenantConfig
from connector.messages import SyncMessage
from connector.observability import logger, metrics
from connector.secrets import SecretVault
from connector.state import AuditTrail
from connector.stores.port import WebhookReader
from connector.sync_queue import QueueUnavailable, SyncQueue

MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class IngestAnswer:
    status: int
    message: str
    queued: int = 0

    def body(self) -> dict[str, Any]:
        return {"message": self.message, "queued": self.queued}


class WebhookIngest:
    def __init__(
        self,
        *,
        config: TenantConfig,
        vault: SecretVault,
        queue: SyncQueue,
        audit: AuditTrail,
        reader_for: Callable[[Connection], WebhookReader],
    ) -> None:
        self._config = config
        self._vault = vault
        self._queue = queue
        self._audit = audit
        self._reader_for = reader_for

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
            return self._vault.store_field(connection_id, field)

        reading = self._reader_for(connection)(headers, body, secret, store_secret)
        if reading.status == 401:
            metrics.add_metric(name="WebhookRejected", unit="Count", value=1)
            logger.warning("webhook signature rejected", connection_id=connection_id)
        if reading.status != 200:
            return IngestAnswer(reading.status, reading.message)
        if reading.is_ping:
            logger.info("webhook ping answered", connection_id=connection_id)
            return IngestAnswer(200, reading.message)
        if reading.ignored_topic is not None:
            # Acknowledged so the store keeps the webhook enabled; recorded so nothing is silent.
            topic = reading.ignored_topic
            self._audit.append(
                f"{connection_id}#topic#{topic}",
                "ignored",
                f"topic {topic} is not synced",
                detail=dict(reading.detail),
            )
            return IngestAnswer(200, f"topic {topic} is not synced; recorded")

        queued = 0
        for record in reading.records:
            message = SyncMessage(
                connection_id=connection_id,
                entity=record.entity,
                record_id=record.record_id,
                action=record.action,
                topic=record.topic,
                modified_at=record.modified_at,
                version=record.version,
                received_at=datetime.now(UTC),
            )
            try:
                self._queue.send(message, version=record.version)
            except QueueUnavailable as exc:
                logger.error("sync queue unavailable", connection_id=connection_id, error=str(exc))
                return IngestAnswer(503, "could not queue the event; please retry", queued=queued)
            self._audit.append(
                message.record_key,
                "received",
                f"{record.topic} queued",
                detail={
                    "topic": record.topic,
                    "store_modified_at": record.version,
                    "delivery_id": reading.detail.get("delivery_id"),
                },
            )
            metrics.add_metric(name="WebhookQueued", unit="Count", value=1)
            queued += 1
        return IngestAnswer(200, "queued", queued=queued)

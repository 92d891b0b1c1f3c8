"""Webhook ingest: verify, classify, and queue one sync message per store record.

The answer matters to the store: WooCommerce disables a webhook after repeated
failures and never retries a failed delivery, so only a verified, queued event
gets a 2xx, and an event we cannot queue gets a 503 for the store to count.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connector.config import TenantConfig
from connector.messages import SyncMessage
from connector.observability import logger, metrics
from connector.secrets import SecretVault
from connector.state import AuditTrail
from connector.stores import woocommerce
from connector.sync_queue import QueueUnavailable, SyncQueue

MAX_BODY_BYTES = 1024 * 1024
_ENTITIES = {"order": "order", "customer": "customer"}
_ACTIONS = {"created": "upsert", "updated": "upsert", "restored": "upsert", "deleted": "delete"}


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
    ) -> None:
        self._config = config
        self._vault = vault
        self._queue = queue
        self._audit = audit

    def receive(self, connection_id: str, headers: Mapping[str, str], body: bytes) -> IngestAnswer:
        headers = {k.lower(): v for k, v in headers.items()}
        connection = self._config.connection(connection_id)
        if connection is None:
            return IngestAnswer(404, f"no connection named {connection_id!r}")
        if len(body) > MAX_BODY_BYTES:
            return IngestAnswer(413, f"body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
        if woocommerce.is_ping(headers.get("content-type"), body, headers):
            logger.info("webhook ping answered", connection_id=connection_id)
            return IngestAnswer(200, "pong")

        secret = self._vault.store(connection_id).webhook_secret.get_secret_value()
        if not woocommerce.verify_webhook(body, headers.get("x-wc-webhook-signature"), secret):
            metrics.add_metric(name="WebhookRejected", unit="Count", value=1)
            logger.warning("webhook signature rejected", connection_id=connection_id)
            return IngestAnswer(401, "signature missing or invalid")

        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return IngestAnswer(400, f"body is not JSON: {exc}")
        if not isinstance(payload, dict) or "id" not in payload:
            return IngestAnswer(400, "body is not a WooCommerce resource (no 'id')")

        topic = headers.get("x-wc-webhook-topic", "")
        resource, _, event = topic.partition(".")
        record_id = str(payload["id"])
        entity = _ENTITIES.get(resource)
        action = _ACTIONS.get(event)
        if entity is None or action is None:
            # Acknowledged so WooCommerce keeps the webhook enabled; recorded so nothing is silent.
            self._audit.append(
                f"{connection_id}#topic#{topic or 'none'}",
                "ignored",
                f"topic {topic or '(none)'} is not synced",
                detail={
                    "record_id": record_id,
                    "delivery_id": headers.get("x-wc-webhook-delivery-id"),
                },
            )
            return IngestAnswer(200, f"topic {topic or '(none)'} is not synced; recorded")

        modified = _modified_at(payload) if action == "upsert" else None
        if action == "delete":
            version = "deleted"
        elif modified is not None:
            # WooCommerce's modified time has one-second resolution: two edits within a
            # second differ only in content, so the body's digest is part of the version.
            version = f"{modified.isoformat()}:{hashlib.sha256(body).hexdigest()[:16]}"
        else:  # no modification time: the same body is the same event
            version = hashlib.sha256(body).hexdigest()
        message = SyncMessage(
            connection_id=connection_id,
            entity=entity,
            record_id=record_id,
            action=action,
            topic=topic,
            modified_at=modified,
            version=version,
            received_at=datetime.now(UTC),
        )
        try:
            self._queue.send(message, version=version)
        except QueueUnavailable as exc:
            logger.error("sync queue unavailable", connection_id=connection_id, error=str(exc))
            return IngestAnswer(503, "could not queue the event; please retry")
        self._audit.append(
            message.record_key,
            "received",
            f"{topic} queued",
            detail={
                "topic": topic,
                "store_modified_at": version,
                "delivery_id": headers.get("x-wc-webhook-delivery-id"),
            },
        )
        metrics.add_metric(name="WebhookQueued", unit="Count", value=1)
        return IngestAnswer(200, "queued", queued=1)


def _modified_at(payload: Mapping[str, Any]) -> datetime | None:
    try:
        return woocommerce.modified_at(payload)
    except (KeyError, TypeError, ValueError):
        return None

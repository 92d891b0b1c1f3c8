"""The connector's signed Magento push: a hint to fetch a record now.

Magento Open Source sends no webhooks, so polling is the primary trigger; a merchant's
module (or Adobe Commerce's webhooks relayed) may also POST a hint to
``/webhooks/<connection>``::

    {"entity": "order", "entity_id": "42"}        entity optional (default "order"),
                                                   entity_id a string or a number

signed with ``x-magento-signature`` = hex(HMAC-SHA256(webhook_secret, raw body)). Only the
id is read: totals in the body are never trusted, the worker fetches the record itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from connector.model import Entity
from connector.stores.port import StoreSecretField, WebhookReading, WebhookRecord

SIGNATURE_HEADER = "x-magento-signature"
_ENTITIES: dict[str, Entity] = {"order": "order", "customer": "customer"}
# An entity name longer than this is cut: it names an audit key.
MAX_KIND = 60


def sign_body(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, signature: str | None, secret: str) -> bool:
    """True when ``signature`` is the hex HMAC-SHA256 of the exact raw body (constant time)."""
    if not signature or not secret:
        return False
    expected = sign_body(body, secret)
    return hmac.compare_digest(signature.strip().lower().encode(), expected.encode())


def _record_id(payload: Mapping[str, Any]) -> str | None:
    value = payload.get("entity_id")
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return str(value)
    if isinstance(value, str) and value.strip().isdigit() and int(value) > 0:
        return value.strip()
    return None


def _ignored(topic: str, why: str, detail: Mapping[str, Any]) -> WebhookReading:
    kept = {key: value for key, value in detail.items() if value}
    return WebhookReading(200, f"{topic}: {why}", ignored_topic=topic, detail=kept)


def read_webhook(
    headers: Mapping[str, str],
    body: bytes,
    secret: Callable[[], str],
    store_secret: StoreSecretField | None = None,
) -> WebhookReading:
    """A push hint: the signature checked over the raw body, then the record's id read."""
    headers = {k.lower(): v for k, v in headers.items()}
    if not verify_signature(body, headers.get(SIGNATURE_HEADER), secret()):
        return WebhookReading(401, "signature missing or invalid")
    # Signed by the merchant's module: whatever it says, a 200 (a sender that sees errors may
    # stop sending), and what the connector cannot use is recorded.
    delivery = {"delivery_id": headers.get("x-magento-delivery-id")}
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _ignored("(unknown).hint", f"body is not JSON ({exc})", delivery)
    if not isinstance(payload, dict):
        return _ignored("(unknown).hint", "body is not a JSON object", delivery)
    kind = str(payload.get("entity") or "order").strip().lower()[:MAX_KIND]
    record_id = _record_id(payload)
    if record_id is None:
        why = "no entity_id (a positive number, or its digits)"
        return _ignored(f"{kind}.hint", why, delivery)
    entity = _ENTITIES.get(kind)
    detail = {"record_id": record_id, **delivery}
    if entity is None:
        return _ignored(f"{kind}.hint", "not synced", detail)
    # A hint carries no trustworthy modification time: each one is its own event, and the
    # worker's content hash makes a repeat a no-op.
    version = f"hint:{time.time_ns()}:{hashlib.sha256(body).hexdigest()[:16]}"
    record = WebhookRecord(entity, record_id, "upsert", f"{entity}.hint", None, version)
    return WebhookReading(200, "queued", records=(record,), detail=detail)

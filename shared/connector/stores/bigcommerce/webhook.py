"""BigCommerce's webhook callbacks: who sent them, and which record they are about.

A callback is a stub (``scope``, ``data.type``, ``data.id``, ``hash``, ``created_at``): the
record itself is always fetched. It is trusted when either

- its ``X-Connector-Token`` header equals the connection's ``webhook_secret`` (the connector
  registers its hooks with that header, which BigCommerce echoes on every callback), or
- its Standard Webhooks headers (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``)
  carry ``v1,<base64 HMAC-SHA256(client_secret, id.timestamp.body)>`` stamped within five
  minutes of now.

A re-sent event keeps its ``hash`` and its ``created_at``. The record's version is the hash
plus the event's ``created_at``: SQS drops a re-sent event within its deduplication window,
while two real updates of one order, which may share a hash, differ in ``created_at`` and are
both queued (the worker's content hash absorbs a true repeat that arrives after the window).
Deduplicating on the hash alone, even only within the window, would drop the second update
until the next poll. A stub without ``created_at`` falls back to the hash plus the five-minute
window it arrived in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connector.model import Entity
from connector.stores.port import Action, WebhookReading, WebhookRecord

TOKEN_HEADER = "x-connector-token"
TOLERANCE_S = 300
# SQS FIFO's deduplication window: a stub without created_at repeats only inside it.
DEDUP_WINDOW_S = 300
# A scope longer than this is cut: it names an audit key.
MAX_SCOPE = 120

# scope -> (entity, action); refund/created names its order, which is fetched with its refunds.
SCOPES: dict[str, tuple[Entity, Action]] = {
    "store/order/created": ("order", "upsert"),
    "store/order/updated": ("order", "upsert"),
    "store/order/statusUpdated": ("order", "upsert"),
    "store/order/refund/created": ("order", "upsert"),
    "store/order/archived": ("order", "delete"),
    "store/customer/created": ("customer", "upsert"),
    "store/customer/updated": ("customer", "upsert"),
    "store/customer/deleted": ("customer", "delete"),
}

# A field of the connection's webhook secret by name ("client_secret"); see read_webhook.
StoreSecret = Callable[[str], str]


class _Data(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str
    id: int | str


class Callback(BaseModel):
    """A BigCommerce webhook stub as it arrives."""

    model_config = ConfigDict(extra="ignore")

    scope: str = Field(min_length=1)
    store_id: str | int | None = None
    data: _Data
    hash: str = Field(min_length=1)
    created_at: int | None = None


def token_matches(given: str | None, expected: str) -> bool:
    """The registered header's value against the webhook secret, in constant time."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.strip().encode("utf-8"), expected.encode("utf-8"))


def standard_signature(client_secret: str, webhook_id: str, timestamp: str, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>`` over ``id.timestamp.body``, keyed with the client secret.

    BigCommerce documents verifying with a Standard Webhooks library keyed with
    base64(client secret): the library decodes it again, so the HMAC key is the secret's bytes.
    """
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(client_secret.encode("utf-8"), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def standard_webhook_problem(
    headers: Mapping[str, str], body: bytes, client_secret: str, now: float
) -> str | None:
    """None when the Standard Webhooks headers verify; otherwise what is wrong with them."""
    webhook_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not (webhook_id and stamp and signatures):
        return "Standard Webhooks headers missing"
    try:
        sent = int(stamp)
    except ValueError:
        return "webhook-timestamp is not a number"
    if abs(now - sent) > TOLERANCE_S:
        return f"webhook-timestamp is {int(now - sent)} s from now (limit {TOLERANCE_S} s)"
    if not client_secret:
        return "no client secret to verify the Standard Webhooks signature with"
    expected = standard_signature(client_secret, webhook_id, stamp, body).split(",", 1)[1]
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version != "v1":
            continue
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(value.encode("ascii"), expected.encode("ascii")):
            return None
    return "webhook-signature does not verify"


def read_callback(
    headers: Mapping[str, str],
    body: bytes,
    secret: Callable[[], str],
    store_secret: StoreSecret | None,
    now: float,
) -> WebhookReading:
    """Read one callback at ``now`` (epoch seconds); see read_webhook."""
    headers = {k.lower(): v for k, v in headers.items()}
    if TOKEN_HEADER in headers:
        if not token_matches(headers[TOKEN_HEADER], secret()):
            return WebhookReading(401, "X-Connector-Token missing or invalid")
    elif "webhook-signature" in headers or "webhook-id" in headers:
        client_secret = store_secret("client_secret") if store_secret is not None else ""
        problem = standard_webhook_problem(headers, body, client_secret, now)
        if problem is not None:
            return WebhookReading(401, problem)
    else:
        return WebhookReading(401, "neither X-Connector-Token nor a Standard Webhooks signature")
    # Verified: from here every callback gets a 200, since BigCommerce switches off a hook
    # whose callbacks keep failing. What the connector does not sync is recorded instead.
    delivery = {"delivery_id": headers["webhook-id"]} if headers.get("webhook-id") else {}
    try:
        callback = Callback.model_validate(json.loads(body))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _ignored(_scope_of(body), f"body is not JSON ({exc})", delivery)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        return _ignored(_scope_of(body), f"not a BigCommerce callback ({fields})", delivery)

    record_id = str(callback.data.id).strip()
    detail: dict[str, Any] = {"record_id": record_id, "delivery_id": callback.hash}
    found = SCOPES.get(callback.scope)
    if found is None:
        return _ignored(callback.scope, "not synced", detail)
    entity, action = found
    if not record_id.isdigit():
        return _ignored(callback.scope, f"data.id {record_id!r} is not a record id", detail)
    when = callback.created_at
    moment = str(when) if when is not None else f"w{int(now // DEDUP_WINDOW_S)}"
    record = WebhookRecord(
        entity=entity,
        record_id=record_id,
        action=action,
        topic=callback.scope,
        modified_at=None,  # a stub carries no modification time; the fetch reads it
        version=f"{callback.hash}@{moment}",
    )
    return WebhookReading(200, "queued", records=(record,), detail=detail)


def _scope_of(body: bytes) -> str:
    """The scope a callback names, when its body says one (for the record of what came)."""
    try:
        scope = json.loads(body).get("scope")
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return "(unknown)"
    return scope[:MAX_SCOPE] if isinstance(scope, str) and scope.strip() else "(unknown)"


def _ignored(scope: str, why: str, detail: Mapping[str, Any]) -> WebhookReading:
    """A verified callback the connector does not sync: a 200, recorded by scope and delivery
    id (never the body)."""
    scope = scope[:MAX_SCOPE]
    return WebhookReading(200, f"scope {scope}: {why}", ignored_topic=scope, detail=dict(detail))


def read_webhook(
    headers: Mapping[str, str],
    body: bytes,
    secret: Callable[[], str],
    store_secret: StoreSecret | None = None,
) -> WebhookReading:
    """A BigCommerce callback read against the store port (connector.stores.port.WebhookReader).

    ``secret`` gives the connection's ``webhook_secret`` (the X-Connector-Token). Standard
    Webhooks need the app's client secret too: ``store_secret("client_secret")`` reads a named
    field of the connection's webhook secret, asked for only when such a delivery comes. The port's
    three-argument call leaves it out, and a Standard-Webhooks-only callback is then refused.
    """
    return read_callback(headers, body, secret, store_secret, time.time())

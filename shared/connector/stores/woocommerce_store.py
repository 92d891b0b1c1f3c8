"""WooCommerce behind the store port: its webhooks read, its records fetched as the canonical model."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, get_args

import httpx

from connector.config import Connection, WooCommerceStore
from connector.model import Customer, Entity, Order, Refund
from connector.secrets import SecretVault
from connector.stores.port import (
    Action,
    ChangedRecord,
    HistoricOrder,
    StoreSecretField,
    WebhookReading,
    WebhookRecord,
)
from connector.stores.woocommerce_client import (
    StoreLookups,
    WooClient,
    WooCredentials,
    created_at,
)
from connector.stores.woocommerce_normalise import (
    modified_at,
    normalise_customer,
    normalise_order,
    normalise_refund,
)
from connector.stores.woocommerce_webhook import is_ping, verify_webhook

DISPLAY_NAME = "WooCommerce"
# A topic header longer than this is cut: it names an audit key.
MAX_TOPIC = 120
_ENTITIES: dict[str, Entity] = {"order": "order", "customer": "customer"}
_ACTIONS: dict[str, Action] = {
    "created": "upsert",
    "updated": "upsert",
    "restored": "upsert",
    "deleted": "delete",
}


def read_webhook(
    headers: Mapping[str, str],
    body: bytes,
    secret: Callable[[], str],
    store_secret: StoreSecretField | None = None,
) -> WebhookReading:
    """A WooCommerce delivery: the unsigned ping answered, the HMAC checked over the raw body,
    the topic (``order.updated``) and the resource's id and modification time read."""
    headers = {k.lower(): v for k, v in headers.items()}
    if is_ping(headers.get("content-type"), body, headers):
        return WebhookReading(200, "pong")
    if not verify_webhook(body, headers.get("x-wc-webhook-signature"), secret()):
        return WebhookReading(401, "signature missing or invalid")
    # From here the delivery is the store's own: whatever it is about, it gets a 200 (an
    # error answer counts towards WooCommerce disabling the webhook, and it never retries).
    topic = headers.get("x-wc-webhook-topic", "").strip()[:MAX_TOPIC] or "(none)"
    delivery = {
        "delivery_id": headers.get("x-wc-webhook-delivery-id"),
        "webhook_id": headers.get("x-wc-webhook-id"),
    }
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _ignored(topic, f"body is not JSON ({exc})", delivery)
    if isinstance(payload, dict) and "action" in payload and "id" not in payload:
        # An ``action.*`` topic: {"action": "<hook>", "arg": <its first argument>}.
        return _ignored(topic, f"action {str(payload['action'])[:MAX_TOPIC]!r}", delivery)
    if not isinstance(payload, dict) or "id" not in payload:
        return _ignored(topic, "body is not a WooCommerce resource (no 'id')", delivery)

    resource, _, event = topic.partition(".")
    record_id = str(payload["id"])
    delivery = {"record_id": record_id, **delivery}
    entity = _ENTITIES.get(resource)
    action = _ACTIONS.get(event)
    if entity is None or action is None:
        return _ignored(topic, "not synced", delivery)
    modified = _modified_at(payload) if action == "upsert" else None
    if action == "delete":
        version = "deleted"
    elif modified is not None:
        # WooCommerce's modified time has one-second resolution: two edits within a second
        # differ only in content, so the body's digest is part of the version.
        version = f"{modified.isoformat()}:{hashlib.sha256(body).hexdigest()[:16]}"
    else:  # no modification time: the same body is the same event
        version = hashlib.sha256(body).hexdigest()
    record = WebhookRecord(entity, record_id, action, topic, modified, version)
    return WebhookReading(200, "queued", records=(record,), detail=delivery)


def _ignored(topic: str, why: str, delivery: Mapping[str, Any]) -> WebhookReading:
    """A verified delivery the connector does not sync: acknowledged and recorded by topic and
    delivery id (never the body, which carries the buyer's details)."""
    detail = {key: value for key, value in delivery.items() if value}
    return WebhookReading(200, f"topic {topic}: {why}", ignored_topic=topic, detail=detail)


def _modified_at(payload: Mapping[str, Any]) -> datetime | None:
    try:
        return modified_at(payload)
    except (KeyError, TypeError, ValueError):
        return None


class WooStore:
    """A WooCommerce store's records as the canonical model (the REST client does the I/O)."""

    display_name = DISPLAY_NAME

    def __init__(self, *, client: WooClient, connection_id: str) -> None:
        self._client = client
        self._connection_id = connection_id

    @property
    def calls(self) -> int:
        return self._client.calls

    def get_order(self, store_id: str) -> Order:
        return normalise_order(self._client.get_order(store_id), self._connection_id)

    def get_refunds(self, order: Order) -> list[Refund]:
        return [normalise_refund(raw, order) for raw in self._client.list_refunds(order.store_id)]

    def get_customer(self, store_id: str) -> Customer:
        return normalise_customer(self._client.get_customer(store_id), self._connection_id)

    def list_changed(self, entity: Entity, since: datetime) -> Iterator[ChangedRecord]:
        if entity not in get_args(Entity):
            raise ValueError(f"unknown entity {entity!r}")
        for raw in self._client.list_modified(entity, since):
            yield ChangedRecord(entity, str(raw["id"]), modified_at(raw))

    def list_created(self, since: datetime, until: datetime) -> Iterator[HistoricOrder]:
        for raw in self._client.list_created(since, until):
            yield HistoricOrder(str(raw["id"]), created_at(raw), modified_at(raw))


def open_client(
    connection: Connection,
    vault: SecretVault,
    http: httpx.Client,
    lookups: StoreLookups | None = None,
) -> WooClient:
    """The REST client with the connection's API keys (orders, refunds, webhooks)."""
    if not isinstance(connection.store, WooCommerceStore):
        raise ValueError(f"connection {connection.id} is not a WooCommerce store")
    secrets = vault.store(connection.id)
    return WooClient(
        base_url=connection.store.url,
        credentials=WooCredentials(
            consumer_key=secrets.consumer_key, consumer_secret=secrets.consumer_secret
        ),
        http=http,
        connection_id=connection.id,
        categories=connection.mapping.rules_use_categories,
        customer_group=connection.mapping.rules_use_customer_group,
        lookups=lookups,
    )


def open_store(
    connection: Connection, vault: SecretVault, http: httpx.Client, lookups: StoreLookups
) -> WooStore:
    """The registry's opener: the REST client with the connection's API keys."""
    return WooStore(
        client=open_client(connection, vault, http, lookups), connection_id=connection.id
    )

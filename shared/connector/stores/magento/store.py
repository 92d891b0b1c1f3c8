"""Magento 2 / Adobe Commerce behind the store port: push hints read, records fetched as the
canonical model, changes listed by ``updated_at`` for the poller."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, get_args

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from connector.config import Connection, MagentoStore
from connector.model import Customer, Entity, Order, Refund
from connector.secrets import SecretVault
from connector.stores.lookups import StoreLookups
from connector.stores.magento.client import MagentoClient
from connector.stores.magento.normalise import (
    credit_memos,
    modified_at,
    normalise_customer,
    normalise_order,
    normalise_refund,
)
from connector.stores.magento.oauth import OAuthCredentials
from connector.stores.magento.payloads import MageItem, parse_time
from connector.stores.port import ChangedRecord, HistoricOrder

DISPLAY_NAME = "Magento"


class MagentoSecrets(BaseModel):
    """The connection's store secret for Magento: the integration's four OAuth values (the
    secret the push hints are signed with is in the webhook secret)."""

    model_config = ConfigDict(extra="ignore")

    consumer_key: SecretStr
    consumer_secret: SecretStr
    access_token: SecretStr
    access_token_secret: SecretStr

    def credentials(self) -> OAuthCredentials:
        return OAuthCredentials(
            consumer_key=self.consumer_key,
            consumer_secret=self.consumer_secret,
            access_token=self.access_token,
            access_token_secret=self.access_token_secret,
        )


class MagentoShop:
    """A Magento store's records as the canonical model (the REST client does the I/O)."""

    display_name = DISPLAY_NAME

    def __init__(self, *, client: MagentoClient, connection_id: str) -> None:
        self._client = client
        self._connection_id = connection_id
        # Order entity id -> child row -> parent row, and its credit memos, from the last fetch.
        self._parents: dict[str, dict[int, int]] = {}
        self._memos: dict[str, list[dict[str, Any]]] = {}

    @property
    def calls(self) -> int:
        return self._client.calls

    def get_order(self, store_id: str) -> Order:
        raw = self._client.get_order(store_id)
        order = normalise_order(raw, self._connection_id)
        self._parents[order.store_id] = _parents(raw)
        self._memos[order.store_id] = credit_memos(raw)
        return order

    def get_refunds(self, order: Order) -> list[Refund]:
        parents = self._parents.get(order.store_id)
        memos = self._memos.get(order.store_id)
        if parents is None or memos is None:
            raw = self._client.get_order(order.store_id)
            parents, memos = _parents(raw), credit_memos(raw)
        return [normalise_refund(memo, order, parents) for memo in memos]

    def get_customer(self, store_id: str) -> Customer:
        return normalise_customer(self._client.get_customer(store_id), self._connection_id)

    def list_changed(self, entity: Entity, since: datetime) -> Iterator[ChangedRecord]:
        if entity not in get_args(Entity):
            raise ValueError(f"unknown entity {entity!r}")
        id_key = "entity_id" if entity == "order" else "id"
        for raw in self._client.list_changed(entity, since):
            yield ChangedRecord(entity, str(raw[id_key]), modified_at(raw))

    def list_created(self, since: datetime, until: datetime) -> Iterator[HistoricOrder]:
        for raw in self._client.list_created(since, until):
            created = parse_time(raw.get("created_at"))
            if created is None:
                raise ValueError(f"Magento order {raw.get('entity_id')} has no created_at")
            yield HistoricOrder(str(raw["entity_id"]), created, modified_at(raw))


def _parents(raw: dict[str, Any]) -> dict[int, int]:
    items = [MageItem.model_validate(i) for i in raw.get("items") or [] if isinstance(i, dict)]
    return {i.item_id: i.parent_item_id for i in items if i.parent_item_id is not None}


def open_store(
    connection: Connection, vault: SecretVault, http: httpx.Client, lookups: StoreLookups
) -> MagentoShop:
    """The registry's opener: the REST client signed with the connection's integration."""
    return MagentoShop(
        client=open_client(connection, vault, http, lookups), connection_id=connection.id
    )


def open_client(
    connection: Connection,
    vault: SecretVault,
    http: httpx.Client,
    lookups: StoreLookups | None = None,
) -> MagentoClient:
    """The REST client signed with the connection's integration. With ``lookups`` (the
    reader's) it also looks up what the revenue rules match on; the writer needs none."""
    if not isinstance(connection.store, MagentoStore):
        raise ValueError(f"connection {connection.id} is not a Magento store")
    secrets = vault.store_as(connection.id, MagentoSecrets, DISPLAY_NAME)
    reads_rules = lookups is not None
    return MagentoClient(
        base_url=connection.store.url,
        store_code=connection.store.store_code,
        credentials=secrets.credentials(),
        http=http,
        connection_id=connection.id,
        categories=reads_rules and connection.mapping.rules_use_categories,
        customer_group=reads_rules and connection.mapping.rules_use_customer_group,
        lookups=lookups,
    )

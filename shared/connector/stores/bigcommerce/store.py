"""BigCommerce behind the store port: its callbacks read, its records fetched as the canonical model."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import get_args

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from connector.config import BigCommerceStore, Connection
from connector.model import Customer, Entity, Order, Refund
from connector.secrets import SecretVault
from connector.stores.bigcommerce.client import BcCredentials, BigCommerceClient, created_at
from connector.stores.bigcommerce.normalise import (
    modified_at,
    normalise_customer,
    normalise_order,
    normalise_refund,
)
from connector.stores.limiter import StoreLimits
from connector.stores.lookups import StoreLookups
from connector.stores.port import (
    ChangedRecord,
    HistoricOrder,
    StoreRecordMissing,
    StoreRecordNotFound,
)

DISPLAY_NAME = "BigCommerce"


class BigCommerceSecrets(BaseModel):
    """The connection's store secret: the API account's token. The X-Connector-Token value
    and the app's client secret (Standard Webhooks) are in the webhook secret."""

    model_config = ConfigDict(extra="ignore")

    access_token: SecretStr


class BigCommerceOrderArchived(StoreRecordNotFound):
    """The store says the order is deleted (archived): its document is withdrawn."""


class BigCommerceOrderMissing(StoreRecordMissing):
    """The store has no such order at all. BigCommerce archives what a merchant deletes, so
    this is not a deletion: the event is recorded and nothing in QuickBooks is touched."""


class BigCommerceStoreAdapter:
    """A BigCommerce store's records as the canonical model (the REST client does the I/O)."""

    display_name = DISPLAY_NAME

    def __init__(self, *, client: BigCommerceClient, connection_id: str) -> None:
        self._client = client
        self._connection_id = connection_id

    @property
    def calls(self) -> int:
        return self._client.calls

    def get_order(self, store_id: str) -> Order:
        try:
            raw = self._client.get_order(store_id)
        except StoreRecordNotFound as exc:
            raise BigCommerceOrderMissing(
                f"{exc}. BigCommerce archives the orders a merchant deletes, so a missing order "
                "is not treated as a deletion: its QuickBooks document, if any, is left as it is"
            ) from None
        if raw.get("is_deleted") is True:
            raise BigCommerceOrderArchived(
                f"BigCommerce order {store_id} is archived (is_deleted) on connection "
                f"{self._connection_id}"
            )
        return normalise_order(raw, self._connection_id)

    def get_refunds(self, order: Order) -> list[Refund]:
        return [normalise_refund(raw, order) for raw in self._client.list_refunds(order.store_id)]

    def get_customer(self, store_id: str) -> Customer:
        return normalise_customer(self._client.get_customer(store_id), self._connection_id)

    def list_changed(self, entity: Entity, since: datetime) -> Iterator[ChangedRecord]:
        if entity not in get_args(Entity):
            raise ValueError(f"unknown entity {entity!r}")
        for raw in self._client.list_modified(entity, since):
            moment = modified_at(raw)
            if moment > since:
                yield ChangedRecord(entity, str(raw["id"]), moment)

    def list_created(self, since: datetime, until: datetime) -> Iterator[HistoricOrder]:
        for raw in self._client.list_created(since, until):
            yield HistoricOrder(str(raw["id"]), created_at(raw), modified_at(raw))


def open_store(
    connection: Connection,
    vault: SecretVault,
    http: httpx.Client,
    lookups: StoreLookups,
    limits: StoreLimits | None = None,
) -> BigCommerceStoreAdapter:
    """The registry's opener: the REST client with the connection's access token."""
    del lookups  # BigCommerce orders carry what revenue rules read; nothing is looked up
    return BigCommerceStoreAdapter(
        client=open_client(connection, vault, http, limits), connection_id=connection.id
    )


def open_client(
    connection: Connection,
    vault: SecretVault,
    http: httpx.Client,
    limits: StoreLimits | None = None,
) -> BigCommerceClient:
    """The REST client with the connection's access token (the reader's and the writer's).

    With ``limits`` (a deployed function's state table) its requests are booked with the
    store's shared limiter, keyed by store hash: every connection and function on one store
    spends one quota. Without, the client paces itself alone."""
    if not isinstance(connection.store, BigCommerceStore):
        raise ValueError(f"connection {connection.id} is not a BigCommerce store")
    secrets = vault.store_as(connection.id, BigCommerceSecrets, DISPLAY_NAME)
    store_hash = connection.store.store_hash
    limiter = (
        limits.for_store(f"bigcommerce#{store_hash}", label=f"BigCommerce store {store_hash}")
        if limits is not None
        else None
    )
    return BigCommerceClient(
        api_base=connection.store.api_base,
        store_hash=store_hash,
        credentials=BcCredentials(access_token=secrets.access_token),
        http=http,
        connection_id=connection.id,
        limiter=limiter,
    )

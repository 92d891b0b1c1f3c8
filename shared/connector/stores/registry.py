"""Which adapter serves a connection's store: the one place that names the store kinds' modules.

The runtime asks here; the ingest and the sync worker see only the port
(connector.stores.port). A new store is a package of its own, a config kind and
an entry in ADAPTERS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from connector.config import Connection
from connector.secrets import SecretVault
from connector.stores import woocommerce_store
from connector.stores.bigcommerce import store as bigcommerce_store
from connector.stores.bigcommerce import webhook as bigcommerce_webhook
from connector.stores.magento import store as magento_store
from connector.stores.magento import webhook as magento_webhook
from connector.stores.port import Store, WebhookReader
from connector.stores.woocommerce_client import StoreLookups

__all__ = ["ADAPTERS", "StoreAdapter", "StoreLookups", "open_store", "webhook_reader"]

# (connection, its secrets, the shared HTTP client, per-connection lookups) -> the store
StoreOpener = Callable[[Connection, SecretVault, httpx.Client, StoreLookups], Store]


@dataclass(frozen=True)
class StoreAdapter:
    read_webhook: WebhookReader
    open: StoreOpener


ADAPTERS: dict[str, StoreAdapter] = {
    "woocommerce": StoreAdapter(woocommerce_store.read_webhook, woocommerce_store.open_store),
    "magento": StoreAdapter(magento_webhook.read_webhook, magento_store.open_store),
    "bigcommerce": StoreAdapter(bigcommerce_webhook.read_webhook, bigcommerce_store.open_store),
}


def _adapter(connection: Connection) -> StoreAdapter:
    found = ADAPTERS.get(connection.store.kind)
    if found is None:
        raise ValueError(f"no store adapter for kind {connection.store.kind!r}")
    return found


def webhook_reader(connection: Connection) -> WebhookReader:
    """How the connection's store signs and shapes its webhooks."""
    return _adapter(connection).read_webhook


def open_store(
    connection: Connection, *, vault: SecretVault, http: httpx.Client, lookups: StoreLookups
) -> Store:
    """The connection's store, reached with its secrets over the shared HTTP client."""
    return _adapter(connection).open(connection, vault, http, lookups)

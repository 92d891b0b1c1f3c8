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
from connector.stores import woocommerce_hooks, woocommerce_store
from connector.stores.bigcommerce import hooks as bigcommerce_hooks
from connector.stores.bigcommerce import store as bigcommerce_store
from connector.stores.bigcommerce import webhook as bigcommerce_webhook
from connector.stores.magento import hooks as magento_hooks
from connector.stores.magento import store as magento_store
from connector.stores.magento import webhook as magento_webhook
from connector.stores.port import Store, WebhookReader, WebhookRegistration
from connector.stores.woocommerce_client import StoreLookups

__all__ = [
    "ADAPTERS",
    "StoreAdapter",
    "StoreLookups",
    "open_store",
    "open_webhooks",
    "webhook_reader",
]

# (connection, its secrets, the shared HTTP client, per-connection lookups) -> the store
StoreOpener = Callable[[Connection, SecretVault, httpx.Client, StoreLookups], Store]
# (connection, its secrets, an HTTP client) -> the connector's webhooks in that store
HooksOpener = Callable[[Connection, SecretVault, httpx.Client], WebhookRegistration]


@dataclass(frozen=True)
class StoreAdapter:
    read_webhook: WebhookReader
    open: StoreOpener
    open_hooks: HooksOpener


ADAPTERS: dict[str, StoreAdapter] = {
    "woocommerce": StoreAdapter(
        woocommerce_store.read_webhook, woocommerce_store.open_store, woocommerce_hooks.open_hooks
    ),
    "magento": StoreAdapter(
        magento_webhook.read_webhook, magento_store.open_store, magento_hooks.open_hooks
    ),
    "bigcommerce": StoreAdapter(
        bigcommerce_webhook.read_webhook, bigcommerce_store.open_store, bigcommerce_hooks.open_hooks
    ),
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


def open_webhooks(
    connection: Connection, *, vault: SecretVault, http: httpx.Client
) -> WebhookRegistration:
    """The connector's webhooks in the connection's store (``connector webhooks``)."""
    return _adapter(connection).open_hooks(connection, vault, http)

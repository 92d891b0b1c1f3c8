"""Which adapter serves a connection's store: the one place that names the store kinds' modules.

The runtime asks here; the ingest and the sync worker see only the port
(connector.stores.port). A new store is a package of its own, a config kind and
an entry in ADAPTERS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import httpx

from connector.config import Connection
from connector.errors import PermanentError
from connector.secrets import SecretVault
from connector.stores.lookups import StoreLookups
from connector.stores.port import Store, WebhookReader, WebhookRegistration
from connector.stores.writes import StoreOrderWrites

if TYPE_CHECKING:
    from connector.stores.limiter import StoreLimits

__all__ = [
    "ADAPTERS",
    "StoreAdapter",
    "StoreLookups",
    "open_store",
    "open_webhooks",
    "open_writes",
    "webhook_reader",
]

# (connection, its secrets, the shared HTTP client, per-connection lookups) -> the store
StoreOpener = Callable[[Connection, SecretVault, httpx.Client, StoreLookups], Store]
# ... and the shared limiters of stores that publish their rate limits (connector.stores.limiter)
LimitedStoreOpener = Callable[
    [Connection, SecretVault, httpx.Client, StoreLookups, "StoreLimits"], Store
]
# (connection, its secrets, an HTTP client) -> the connector's webhooks in that store
HooksOpener = Callable[[Connection, SecretVault, httpx.Client], WebhookRegistration]


@dataclass(frozen=True)
class StoreAdapter:
    read_webhook: WebhookReader
    open: StoreOpener
    open_hooks: HooksOpener
    # A store that publishes its rate limits (BigCommerce) opens with the shared limiters;
    # one that does not (WooCommerce, Magento) keeps its client's backoff.
    open_limited: LimitedStoreOpener | None = None


def _woocommerce() -> StoreAdapter:
    from connector.stores import woocommerce_hooks, woocommerce_store

    return StoreAdapter(
        woocommerce_store.read_webhook, woocommerce_store.open_store, woocommerce_hooks.open_hooks
    )


def _magento() -> StoreAdapter:
    from connector.stores.magento import hooks, store, webhook

    return StoreAdapter(webhook.read_webhook, store.open_store, hooks.open_hooks)


def _bigcommerce() -> StoreAdapter:
    from connector.stores.bigcommerce import hooks, store, webhook

    return StoreAdapter(
        webhook.read_webhook, store.open_store, hooks.open_hooks, open_limited=store.open_store
    )


# Store kind -> what imports its adapter. A function imports a store's modules the first time
# one of its connections needs them: a WooCommerce-only tenant never loads Magento's.
ADAPTERS: dict[str, Callable[[], StoreAdapter]] = {
    "woocommerce": _woocommerce,
    "magento": _magento,
    "bigcommerce": _bigcommerce,
}


@cache
def _load(kind: str) -> StoreAdapter:
    return ADAPTERS[kind]()


def _adapter(connection: Connection) -> StoreAdapter:
    if connection.store.kind not in ADAPTERS:
        raise ValueError(f"no store adapter for kind {connection.store.kind!r}")
    return _load(connection.store.kind)


def webhook_reader(connection: Connection) -> WebhookReader:
    """How the connection's store signs and shapes its webhooks."""
    return _adapter(connection).read_webhook


def open_store(
    connection: Connection,
    *,
    vault: SecretVault,
    http: httpx.Client,
    lookups: StoreLookups,
    limits: StoreLimits | None = None,
) -> Store:
    """The connection's store, reached with its secrets over the shared HTTP client; with
    ``limits`` (a function's state table), a store that publishes its rate limits is called
    through its shared limiter."""
    adapter = _adapter(connection)
    if limits is not None and adapter.open_limited is not None:
        return adapter.open_limited(connection, vault, http, lookups, limits)
    return adapter.open(connection, vault, http, lookups)


def open_webhooks(
    connection: Connection, *, vault: SecretVault, http: httpx.Client
) -> WebhookRegistration:
    """The connector's webhooks in the connection's store (``connector webhooks``)."""
    return _adapter(connection).open_hooks(connection, vault, http)


def open_writes(
    connection: Connection,
    *,
    vault: SecretVault,
    http: httpx.Client,
    limits: StoreLimits | None = None,
) -> StoreOrderWrites:
    """The connection's store, written (issue #13: QuickBooks → store). WooCommerce,
    BigCommerce and Magento have a write adapter; for another store a ledger record is parked
    with that reason."""
    if connection.store.kind == "woocommerce":
        from connector.stores.woocommerce_writes import open_writes as open_woo_writes

        return open_woo_writes(connection, vault, http)
    if connection.store.kind == "bigcommerce":
        from connector.stores.bigcommerce.writes import open_writes as open_bc_writes

        return open_bc_writes(connection, vault, http, limits)
    if connection.store.kind == "magento":
        from connector.stores.magento.writes import open_writes as open_magento_writes

        return open_magento_writes(connection, vault, http)
    raise PermanentError(
        f"connection {connection.id}: writing QuickBooks changes to a {connection.store.kind} "
        "store is not supported yet (only WooCommerce, BigCommerce and Magento); turn "
        "[connections.sync] off for it"
    )

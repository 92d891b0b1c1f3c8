"""Which adapter serves a connection's store: the one place that names store kinds' modules.

The runtime asks here; the ingest and the sync worker only see the port
(connector.stores.port). A new store is a package of its own, a config kind
and an entry in these two tables.
"""

from __future__ import annotations

import httpx

from connector.config import Connection
from connector.secrets import StoreSecrets
from connector.stores import woocommerce
from connector.stores.port import Store, WebhookReader
from connector.stores.woocommerce_client import StoreLookups

__all__ = ["READERS", "StoreLookups", "open_store", "webhook_reader"]

READERS: dict[str, WebhookReader] = {"woocommerce": woocommerce.read_webhook}


def webhook_reader(connection: Connection) -> WebhookReader:
    """How the connection's store signs and shapes its webhooks."""
    return READERS[connection.store.kind]


def open_store(
    connection: Connection,
    *,
    secrets: StoreSecrets,
    http: httpx.Client,
    lookups: StoreLookups,
) -> Store:
    """The connection's store, reached with its secrets over the shared HTTP client."""
    if connection.store.kind == "woocommerce":
        client = woocommerce.WooClient(
            base_url=connection.store.url,
            credentials=woocommerce.WooCredentials(
                consumer_key=secrets.consumer_key, consumer_secret=secrets.consumer_secret
            ),
            http=http,
            connection_id=connection.id,
            categories=connection.mapping.rules_use_categories,
            customer_group=connection.mapping.rules_use_customer_group,
            lookups=lookups,
        )
        return woocommerce.WooStore(client=client, connection_id=connection.id)
    raise ValueError(f"no store adapter for kind {connection.store.kind!r}")

"""The WooCommerce store adapter: verify webhooks, fetch records, normalise them.

- ``read_webhook`` / ``WooStore``: WooCommerce behind the store port
  (connector.stores.port), which is all the ingest and the sync worker see.
- ``verify_webhook`` / ``is_ping``: the delivery checks ``read_webhook`` makes.
- ``WooClient``: REST v3 reads with retries and classified failures.
- ``normalise_order`` / ``normalise_customer`` / ``modified_at``: REST payloads to the
  canonical model.
"""

from __future__ import annotations

from connector.stores.port import (
    StoreAuthFailed,
    StoreRecordNotFound,
    StoreRequestRejected,
    StoreUnavailable,
)
from connector.stores.woocommerce_client import (
    StoreLookups,
    WooClient,
    WooCredentials,
    oauth1_signed_query,
)
from connector.stores.woocommerce_normalise import (
    modified_at,
    normalise_customer,
    normalise_order,
    normalise_refund,
)
from connector.stores.woocommerce_store import DISPLAY_NAME, WooStore, read_webhook
from connector.stores.woocommerce_webhook import is_ping, verify_webhook

__all__ = [
    "DISPLAY_NAME",
    "StoreAuthFailed",
    "StoreLookups",
    "StoreRecordNotFound",
    "StoreRequestRejected",
    "StoreUnavailable",
    "WooClient",
    "WooCredentials",
    "WooStore",
    "is_ping",
    "modified_at",
    "normalise_customer",
    "normalise_order",
    "normalise_refund",
    "oauth1_signed_query",
    "read_webhook",
    "verify_webhook",
]

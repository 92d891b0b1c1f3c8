"""The BigCommerce store adapter (``store.kind = "bigcommerce"``) behind the store port.

- ``webhook.read_webhook``: callbacks trusted by X-Connector-Token or Standard Webhooks.
- ``store.open_store`` / ``BigCommerceStoreAdapter``: records fetched as the canonical model.
- ``client.BigCommerceClient``: V2/V3 reads paced by the rate-limit headers.
- ``normalise``: V2 orders, V3 refunds and customers to the canonical model, to the cent.
"""

from __future__ import annotations

from connector.stores.bigcommerce.store import (
    DISPLAY_NAME,
    BigCommerceSecrets,
    BigCommerceStoreAdapter,
    open_store,
)
from connector.stores.bigcommerce.webhook import read_webhook

__all__ = [
    "DISPLAY_NAME",
    "BigCommerceSecrets",
    "BigCommerceStoreAdapter",
    "open_store",
    "read_webhook",
]

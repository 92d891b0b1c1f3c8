"""A simulated BigCommerce store as a tenant-file connection to the simulated QuickBooks Online."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simulators.bigcommerce import BigCommerceSimulator
from simulators.testbed.online import qbo_connection


def bigcommerce_shop(
    connection_id: str,
    store: BigCommerceSimulator,
    api_base: str,
    qbo_url: str,
    *,
    webhook_secret: str,
    ledger: Mapping[str, str],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The connection (statuses as a tenant file gives them: TOML integers, status_id;
    handling and gift wrapping as fee lines) and its secrets."""
    connection = qbo_connection(
        connection_id,
        {"kind": "bigcommerce", "store_hash": store.store_hash, "api_base": api_base},
        qbo_url,
        post_statuses=[11, 2, 10],
        cancel_statuses=[5],
        refund_statuses=[4, 14],
        mapping={"fallback_item": "Sales", "shipping_item": "Shipping", "fee_item": "Services"},
    )
    store_secret = {
        "access_token": store.access_token,
        "client_secret": store.client_secret,
        "webhook_secret": webhook_secret,
    }
    return connection, {connection_id: {"store": store_secret, "ledger": dict(ledger)}}

"""Magento Open Source sends no webhooks: what ``connector webhooks`` reports for it.

The reconcile poll is Magento's trigger (every ``reconcile_every_minutes``, 2 by default); a
signed push from a module or an Adobe Commerce webhook is an optional hint the store's admin
sets up, which the connector cannot see through the API. Nothing is created or changed here.
"""

from __future__ import annotations

import httpx

from connector.config import Connection, MagentoStore
from connector.secrets import SecretVault
from connector.stores.magento.store import DISPLAY_NAME
from connector.stores.port import HookStatus, WebhookReport

PUSH_NOTE = (
    "An optional signed push (x-magento-signature) from a module or an Adobe Commerce webhook "
    "is set up in Magento and cannot be checked from here."
)


class MagentoHooks:
    """Magento's answer to the webhook verbs: the store is polled."""

    display_name = DISPLAY_NAME

    def __init__(self, *, poll_minutes: int) -> None:
        self._poll_minutes = poll_minutes

    def check_webhooks(self, delivery_url: str, secret: str) -> WebhookReport:
        del secret
        return self._report(delivery_url, dry_run=False)

    def sync_webhooks(
        self, delivery_url: str, secret: str, *, dry_run: bool = False
    ) -> WebhookReport:
        del secret  # nothing to register
        return self._report(delivery_url, dry_run=dry_run)

    def _report(self, delivery_url: str, *, dry_run: bool) -> WebhookReport:
        status = HookStatus(
            "orders, customers",
            "polled",
            detail=(
                "Magento Open Source sends no webhooks: the connector polls changed orders "
                f"and customers every {self._poll_minutes} minutes"
            ),
        )
        return WebhookReport(DISPLAY_NAME, delivery_url, (status,), dry_run=dry_run, note=PUSH_NOTE)


def open_hooks(connection: Connection, vault: SecretVault, http: httpx.Client) -> MagentoHooks:
    """The registry's opener: no store call and no secret is needed to say Magento is polled."""
    del vault, http
    if not isinstance(connection.store, MagentoStore):
        raise ValueError(f"connection {connection.id} is not a Magento store")
    return MagentoHooks(poll_minutes=connection.reconcile_minutes)

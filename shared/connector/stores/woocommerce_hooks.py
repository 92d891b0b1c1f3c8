"""The connector's webhooks in a WooCommerce store (``/wp-json/wc/v3/webhooks``).

One webhook per topic the connector reads, delivering to its URL with the connection's
webhook secret, API version v3. WooCommerce disables a webhook after repeated failed
deliveries (status ``disabled``; ``paused`` is an admin's doing): sync switches it back on.
WooCommerce never returns a webhook's secret (the REST schema keeps it write-only), so a
check cannot compare it and every sync sets it again. Changing webhooks needs an API key
with Read/Write permissions; listing them needs Read.
"""

from __future__ import annotations

from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from connector.config import Connection
from connector.secrets import SecretVault
from connector.stores.hook_plan import (
    HookStep,
    RemoteHook,
    apply_plan,
    check_statuses,
    plan_hooks,
)
from connector.stores.port import (
    StoreAuthFailed,
    StoreRequestRejected,
    WebhookReport,
)
from connector.stores.woocommerce_client import WooClient
from connector.stores.woocommerce_payloads import WooError
from connector.stores.woocommerce_store import DISPLAY_NAME, open_client

# What woocommerce_store.read_webhook queues. order.restored brings back an order taken out
# of the trash; customers are never trashed, so customer.restored never fires.
TOPICS = (
    "order.created",
    "order.updated",
    "order.deleted",
    "order.restored",
    "customer.created",
    "customer.updated",
    "customer.deleted",
)
UNREADABLE_SECRET = "secret not shown by WooCommerce; sync sets it again"
SECRET_RESET = "secret set again (WooCommerce never shows it)"
NOTE = (
    "WooCommerce never shows a webhook's secret: check cannot compare it, and sync sets it "
    "again on every webhook."
)


class WooHook(BaseModel):
    """A webhook as ``GET /wc/v3/webhooks`` lists it (no secret: WooCommerce never shows it)."""

    model_config = ConfigDict(extra="ignore")

    id: int
    name: str = ""
    status: str
    topic: str
    delivery_url: str


class WooWebhooks:
    """The connector's webhooks in one WooCommerce store, through the REST client."""

    display_name = DISPLAY_NAME

    def __init__(self, *, client: WooClient, connection_id: str) -> None:
        self._client = client
        self._connection_id = connection_id

    def check_webhooks(self, delivery_url: str, secret: str) -> WebhookReport:
        del secret  # WooCommerce never shows it, so there is nothing to compare it with
        plan = plan_hooks(TOPICS, self._listed(), delivery_url)
        statuses = check_statuses(plan, TOPICS, unreadable_secret=UNREADABLE_SECRET)
        return WebhookReport(DISPLAY_NAME, delivery_url, statuses, note=NOTE)

    def sync_webhooks(
        self, delivery_url: str, secret: str, *, dry_run: bool = False
    ) -> WebhookReport:
        plan = plan_hooks(TOPICS, self._listed(), delivery_url)
        statuses = apply_plan(
            plan,
            TOPICS,
            create=lambda topic: self._create(topic, delivery_url, secret),
            update=lambda step: self._update(step, delivery_url, secret),
            dry_run=dry_run,
            reset_secret=SECRET_RESET,
        )
        return WebhookReport(DISPLAY_NAME, delivery_url, statuses, dry_run=dry_run, note=NOTE)

    # -- the store ------------------------------------------------------------------------

    def _listed(self) -> list[RemoteHook]:
        found = []
        for raw in self._client.pages("webhooks", [], "webhooks"):
            try:
                hook = WooHook.model_validate(raw)
            except ValidationError as exc:
                raise StoreRequestRejected(
                    f"WooCommerce listed a webhook on connection {self._connection_id} the "
                    f"connector cannot read: {exc.errors()[0]['msg']}"
                ) from None
            found.append(
                RemoteHook(
                    id=str(hook.id),
                    topic=hook.topic,
                    url=hook.delivery_url,
                    active=hook.status == "active",
                    secret_matches=None,
                    status=hook.status,
                )
            )
        return found

    def _name(self, topic: str) -> str:
        return f"ml-connector {self._connection_id}: {topic}"

    def _create(self, topic: str, delivery_url: str, secret: str) -> str:
        body = {
            "name": self._name(topic),
            "topic": topic,
            "delivery_url": delivery_url,
            "secret": secret,
            "status": "active",
        }
        made = self._send("POST", "webhooks", body, f"creating the {topic} webhook")
        return str(made.id)

    def _update(self, step: HookStep, delivery_url: str, secret: str) -> None:
        assert step.hook is not None
        body: dict[str, str] = {"secret": secret}
        if "url" in step.drift:
            body["delivery_url"] = delivery_url
        if "topic" in step.drift:
            body["topic"] = step.topic
            body["name"] = self._name(step.topic)
        if "inactive" in step.drift:
            body["status"] = "active"
        what = f"updating webhook {step.hook.id} ({step.topic})"
        self._send("PUT", f"webhooks/{step.hook.id}", body, what)

    def _send(
        self, method: Literal["POST", "PUT"], path: str, body: dict[str, str], what: str
    ) -> WooHook:
        response = self._client.write(method, path, body, what)
        status = response.status_code
        if status in (401, 403):
            raise StoreAuthFailed(
                f"WooCommerce refused {what} on connection {self._connection_id}: "
                f"{_message(response) or f'HTTP {status}'}. Changing webhooks needs an API key "
                "with Read/Write permissions (WooCommerce > Settings > Advanced > REST API) "
                "whose user can manage WooCommerce; put its keys into the connection's store "
                "secret, or create the webhooks by hand"
            )
        if status >= 300:
            said = _message(response)
            raise StoreRequestRejected(
                f"WooCommerce refused {what} on connection {self._connection_id}: "
                f"HTTP {status}{': ' + said if said else ''}"
            )
        try:
            return WooHook.model_validate(response.json())
        except (ValueError, ValidationError):
            raise StoreRequestRejected(
                f"WooCommerce answered {what} on connection {self._connection_id} with "
                "something that is not a webhook; check the store URL"
            ) from None


def _message(response: httpx.Response) -> str:
    """WooCommerce's words ("Webhook topic must be valid."), which never hold a secret."""
    try:
        error = WooError.model_validate(response.json())
    except (ValueError, ValidationError):
        return ""
    if not error.message:
        return ""
    return f"{error.message} ({error.code})" if error.code else error.message


def open_hooks(connection: Connection, vault: SecretVault, http: httpx.Client) -> WooWebhooks:
    """The registry's opener: the REST client with the connection's API keys."""
    return WooWebhooks(client=open_client(connection, vault, http), connection_id=connection.id)

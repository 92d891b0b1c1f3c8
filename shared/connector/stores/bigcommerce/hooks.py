"""The connector's hooks in a BigCommerce store (``/v3/hooks``).

One hook per scope the connector reads, delivering to its URL with the header
``X-Connector-Token: <webhook_secret>``, which BigCommerce echoes on every callback (see
``webhook.read_callback``). BigCommerce shows a hook's headers, so a wrong token is drift
like a wrong destination or scope. It deactivates a hook (``is_active: false``) after about
48 hours of failed deliveries and after 90 days without any: sync switches it back on.
Hooks need no OAuth scope, and only the API account that created them sees them. The
destination must be https on port 443.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from connector.config import BigCommerceStore, Connection
from connector.secrets import SecretVault
from connector.stores.bigcommerce.store import DISPLAY_NAME, BigCommerceSecrets
from connector.stores.bigcommerce.webhook import SCOPES, TOKEN_HEADER, token_matches
from connector.stores.hook_plan import (
    HookStep,
    RemoteHook,
    apply_plan,
    check_statuses,
    plan_hooks,
)
from connector.stores.port import StoreAuthFailed, StoreRequestRejected, WebhookReport
from connector.stores.retries import get_with_retries

# The scopes read_webhook queues, but store/order/statusUpdated: store/order/updated fires
# for every status change too, so a hook for both would only double each delivery.
REGISTERED_SCOPES = tuple(scope for scope in SCOPES if scope != "store/order/statusUpdated")
TOKEN_HEADER_NAME = "X-Connector-Token"
PAGE = 250


class BcHook(BaseModel):
    """A hook as ``/v3/hooks`` shows it (webhook_Full in the reference)."""

    model_config = ConfigDict(extra="ignore")

    id: int
    scope: str
    destination: str
    is_active: bool = True
    headers: dict[str, str] | None = None


class _BcRefusal(BaseModel):
    """A V3 error: ``title``, and for a 422 the fields at fault under ``errors``."""

    model_config = ConfigDict(extra="ignore")

    title: str = ""
    errors: dict[str, Any] = Field(default_factory=dict)


class BigCommerceHooks:
    """The connector's hooks in one BigCommerce store, with the API account's access token."""

    display_name = DISPLAY_NAME

    def __init__(
        self,
        *,
        api_base: str,
        store_hash: str,
        access_token: SecretStr,
        http: httpx.Client,
        connection_id: str,
        timeout_s: float = 20.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
    ) -> None:
        self._root = f"{api_base.rstrip('/')}/stores/{store_hash}/v3/hooks"
        self._token = access_token
        self._http = http
        self._label = connection_id
        self._timeout_s = timeout_s
        self._max_retries = max_retries
        self._backoff_s = backoff_s

    def check_webhooks(self, delivery_url: str, secret: str) -> WebhookReport:
        listed, _ = self._listed(secret)
        plan = plan_hooks(REGISTERED_SCOPES, listed, delivery_url)
        return WebhookReport(DISPLAY_NAME, delivery_url, check_statuses(plan, REGISTERED_SCOPES))

    def sync_webhooks(
        self, delivery_url: str, secret: str, *, dry_run: bool = False
    ) -> WebhookReport:
        listed, headers = self._listed(secret)
        plan = plan_hooks(REGISTERED_SCOPES, listed, delivery_url)
        statuses = apply_plan(
            plan,
            REGISTERED_SCOPES,
            create=lambda scope: self._create(scope, delivery_url, secret),
            update=lambda step: self._update(step, delivery_url, secret, headers),
            dry_run=dry_run,
        )
        return WebhookReport(DISPLAY_NAME, delivery_url, statuses, dry_run=dry_run)

    # -- the store ------------------------------------------------------------------------

    def _listed(self, secret: str) -> tuple[list[RemoteHook], dict[str, dict[str, str]]]:
        """The API account's hooks, and each one's headers by id (kept when the token is
        replaced)."""
        hooks: list[RemoteHook] = []
        headers: dict[str, dict[str, str]] = {}
        page = 1
        while True:
            paged = [("page", str(page)), ("limit", str(PAGE))]
            body = self._json("GET", "", "listing its hooks", params=paged)
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                raise StoreRequestRejected(
                    f"BigCommerce listed the hooks of connection {self._label} without a data list"
                )
            for raw in data:
                hook = _parse(raw, self._label)
                headers[str(hook.id)] = dict(hook.headers or {})
                token = _header(hook.headers or {}, TOKEN_HEADER)
                hooks.append(
                    RemoteHook(
                        id=str(hook.id),
                        topic=hook.scope,
                        url=hook.destination,
                        active=hook.is_active,
                        secret_matches=token_matches(token, secret),
                        status="" if hook.is_active else "is_active: false",
                    )
                )
            pagination = (body.get("meta") or {}).get("pagination") or {}
            if not data or page >= int(pagination.get("total_pages") or 1):
                return hooks, headers
            page += 1

    def _create(self, scope: str, delivery_url: str, secret: str) -> str:
        body = {
            "scope": scope,
            "destination": delivery_url,
            "is_active": True,
            "headers": {TOKEN_HEADER_NAME: secret},
        }
        made = _parse(self._data("POST", "", f"creating the {scope} hook", body), self._label)
        return str(made.id)

    def _update(
        self,
        step: HookStep,
        delivery_url: str,
        secret: str,
        headers: Mapping[str, Mapping[str, str]],
    ) -> None:
        assert step.hook is not None
        body: dict[str, Any] = {}
        if "url" in step.drift:
            body["destination"] = delivery_url
        if "topic" in step.drift:
            body["scope"] = step.topic
        if "inactive" in step.drift:
            body["is_active"] = True
        if "secret" in step.drift:
            # The hook's other headers stay; only the token is replaced.
            kept = {k: v for k, v in headers.get(step.hook.id, {}).items()
                    if k.lower() != TOKEN_HEADER}  # fmt: skip
            body["headers"] = {**kept, TOKEN_HEADER_NAME: secret}
        what = f"updating hook {step.hook.id} ({step.topic})"
        self._data("PUT", f"/{step.hook.id}", what, body)

    # -- transport ------------------------------------------------------------------------

    def _data(
        self, method: Literal["POST", "PUT"], path: str, what: str, body: Mapping[str, Any]
    ) -> Any:
        answer = self._json(method, path, what, body=body)
        return answer.get("data") if isinstance(answer, dict) else None

    def _json(
        self,
        method: Literal["GET", "POST", "PUT"],
        path: str,
        what: str,
        *,
        params: list[tuple[str, str]] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        url = self._root + path

        def send() -> httpx.Response:
            return self._http.request(
                method,
                url,
                params=tuple(params or ()),
                json=body,
                headers={
                    "X-Auth-Token": self._token.get_secret_value(),
                    "Accept": "application/json",
                },
                timeout=self._timeout_s,
            )

        response = get_with_retries(
            send,
            # A POST is sent once: a retry after an unknown outcome could make a second hook.
            max_retries=0 if method == "POST" else self._max_retries,
            backoff_s=self._backoff_s,
            timeout_s=self._timeout_s,
            message=lambda r: f": {_refusal(r)}" if _refusal(r) else "",
            unavailable=f"BigCommerce store for connection {self._label} is unavailable {what}",
        )
        status = response.status_code
        if status in (401, 403):
            raise StoreAuthFailed(
                f"BigCommerce refused the access token for connection {self._label} "
                f"{what} (HTTP {status}: {_refusal(response) or 'no reason given'}). Hooks "
                "need no OAuth scope, but only the API account that created them sees them: "
                "put the access token of the connector's store-level API account into the "
                "connection's store secret"
            )
        if status >= 300:
            raise StoreRequestRejected(
                f"BigCommerce refused {what} on connection {self._label}: HTTP {status}: "
                f"{_refusal(response) or 'no reason given'}"
            )
        try:
            return response.json()
        except ValueError:
            raise StoreRequestRejected(
                f"BigCommerce answered {what} on connection {self._label} with a body that is "
                "not JSON; check the connection's api_base and store_hash"
            ) from None


def _parse(raw: Any, label: str) -> BcHook:
    try:
        return BcHook.model_validate(raw)
    except ValidationError as exc:
        raise StoreRequestRejected(
            f"BigCommerce showed a hook on connection {label} the connector cannot read: "
            f"{exc.errors()[0]['msg']}"
        ) from None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def _refusal(response: httpx.Response) -> str:
    """BigCommerce's title and the fields it names (``destination: error.path.missing.``)."""
    try:
        refusal = _BcRefusal.model_validate(response.json())
    except (ValueError, ValidationError):
        return ""
    fields = "; ".join(f"{name}: {why}" for name, why in sorted(refusal.errors.items()))
    return f"{refusal.title} ({fields})" if fields else refusal.title


def open_hooks(connection: Connection, vault: SecretVault, http: httpx.Client) -> BigCommerceHooks:
    """The registry's opener: the hooks API with the connection's access token."""
    if not isinstance(connection.store, BigCommerceStore):
        raise ValueError(f"connection {connection.id} is not a BigCommerce store")
    secrets = vault.store_as(connection.id, BigCommerceSecrets, DISPLAY_NAME)
    return BigCommerceHooks(
        api_base=connection.store.api_base,
        store_hash=connection.store.store_hash,
        access_token=secrets.access_token,
        http=http,
        connection_id=connection.id,
    )

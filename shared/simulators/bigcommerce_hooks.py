"""The simulated BigCommerce store's hooks (``/v3/hooks``), from the Webhooks v3 reference.

- List (filters ``is_active``, ``scope``, ``destination``; paged), read, create, update,
  delete; a hook shows its ``headers`` (the connector's X-Connector-Token among them).
- Create needs ``scope`` and ``destination`` (422 "JSON data is missing or invalid" with
  ``errors: {destination: "error.path.missing."}``, the reference's example); the scope must
  be one the reference documents; the destination must be https on port 443 ("custom ports
  are not currently supported"). One hook per scope and destination, ten per scope.
- Update needs at least one field and checks the same; switching a hook on clears its
  failures.
- ``deliver`` posts a callback to every active hook for the scope with the hook's headers,
  and deactivates a hook after ``deactivate_after`` failed deliveries in a row (BigCommerce:
  after about 48 hours of retries).

The simulator answers on plain http from 127.0.0.1, so tests that register the connector
running on loopback set ``loopback_destinations`` to let http://127.0.0.1 (any port) through.
That is the simulator's only exception to the reference, and it is off unless asked for.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from simulators.httpserver import Request, Response

# Every scope the Webhooks v3 reference documents (wildcards included).
SCOPES = frozenset({
    "store/app/uninstalled", "store/cart/*", "store/cart/abandoned", "store/cart/converted",
    "store/cart/couponApplied", "store/cart/created", "store/cart/deleted",
    "store/cart/lineItem/*", "store/cart/lineItem/created", "store/cart/lineItem/deleted",
    "store/cart/lineItem/updated", "store/cart/updated", "store/category/*",
    "store/category/created", "store/category/deleted", "store/category/updated",
    "store/channel/*", "store/channel/created", "store/channel/updated", "store/customer/*",
    "store/customer/address/created", "store/customer/address/deleted",
    "store/customer/address/updated", "store/customer/created", "store/customer/deleted",
    "store/customer/payment/instrument/default/updated", "store/customer/updated",
    "store/information/updated", "store/order/*", "store/order/archived",
    "store/order/created", "store/order/message/created", "store/order/refund/created",
    "store/order/statusUpdated", "store/order/updated", "store/product/*",
    "store/product/created", "store/product/deleted", "store/product/inventory/order/updated",
    "store/product/inventory/updated", "store/product/updated", "store/shipment/*",
    "store/shipment/created", "store/shipment/deleted", "store/shipment/updated",
    "store/sku/*", "store/sku/created", "store/sku/deleted",
    "store/sku/inventory/order/updated", "store/sku/inventory/updated", "store/sku/updated",
    "store/subscriber/*", "store/subscriber/created", "store/subscriber/deleted",
    "store/subscriber/updated",
})  # fmt: skip
MAX_PER_SCOPE = 10
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class Hook:
    id: int
    scope: str
    destination: str
    headers: dict[str, str]
    is_active: bool = True
    failures: int = 0
    created_at: int = 0
    updated_at: int = 0


class _Unprocessable(Exception):
    def __init__(self, errors: Mapping[str, str], title: str = "JSON data is missing or invalid"):
        super().__init__(title)
        self.title, self.errors = title, dict(errors)


@dataclass
class HookRegistry:
    """One API account's hooks in one store."""

    store_hash: str
    client_id: str
    clock: Callable[[], float]
    deactivate_after: int = 3
    loopback_destinations: bool = False
    hooks: dict[int, Hook] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._ids = itertools.count(18_048_287)

    # -- the store's events ------------------------------------------------------------------

    def deliver(
        self,
        scope: str,
        body: bytes,
        signed: Callable[[], Mapping[str, str]],
        http: httpx.Client | None = None,
    ) -> list[int]:
        """POST ``body`` to every active hook for ``scope``; the answers' statuses (0: none).
        ``signed`` gives each delivery its Standard Webhooks headers."""
        with self._lock:
            targets = [h for h in self.hooks.values() if h.scope == scope and h.is_active]
        statuses = []
        client = http or httpx.Client(timeout=30)
        try:
            for hook in targets:
                headers = {"Content-Type": "application/json", **hook.headers, **signed()}
                try:
                    status = client.post(
                        hook.destination, content=body, headers=headers
                    ).status_code
                except httpx.HTTPError:
                    status = 0
                statuses.append(status)
                with self._lock:
                    hook.failures = 0 if 200 <= status < 300 else hook.failures + 1
                    if hook.failures >= self.deactivate_after:
                        hook.is_active = False
        finally:
            if http is None:
                client.close()
        return statuses

    # -- REST -----------------------------------------------------------------------------------

    def handle(self, request: Request, hook_id: str | None) -> Response:
        try:
            with self._lock:
                if hook_id is None:
                    return self._list(request) if request.method == "GET" else self._add(request)
                hook = self.hooks.get(int(hook_id))
                if hook is None:
                    return _error(404, f"Webhook with id [{hook_id}] not found")
                if request.method == "GET":
                    return self._one(hook)
                if request.method == "PUT":
                    return self._update(hook, request)
                del self.hooks[hook.id]
                return self._one(hook)
        except _Unprocessable as exc:
            return Response.of_json(
                {"status": 422, "title": exc.title, "type": "/api-docs/getting-started/api-status-codes",
                 "errors": exc.errors}, 422,
            )  # fmt: skip

    def _list(self, request: Request) -> Response:
        rows = list(self.hooks.values())
        active = request.arg("is_active")
        if active is not None:
            rows = [h for h in rows if h.is_active == (active.lower() == "true")]
        if request.arg("scope"):
            rows = [h for h in rows if h.scope == request.arg("scope")]
        if request.arg("destination"):
            rows = [h for h in rows if h.destination == request.arg("destination")]
        page = max(1, int(request.arg("page") or 1))
        limit = max(1, int(request.arg("limit") or 50))
        chunk = rows[(page - 1) * limit : page * limit]
        pages = max(1, -(-len(rows) // limit))
        meta = {"pagination": {"total": len(rows), "count": len(chunk), "per_page": limit,
                               "current_page": page, "total_pages": pages}}  # fmt: skip
        return Response.of_json({"data": [self._shown(h) for h in chunk], "meta": meta})

    def _add(self, request: Request) -> Response:
        spec = _spec(request)
        missing = {name: "error.path.missing." for name in ("scope", "destination")
                   if not spec.get(name)}  # fmt: skip
        if missing:
            raise _Unprocessable(missing)
        scope, destination = str(spec["scope"]), str(spec["destination"])
        self._check(scope, destination)
        same = [h for h in self.hooks.values() if h.scope == scope]
        if any(h.destination == destination for h in same):
            raise _Unprocessable({"destination": "a hook for this scope and destination exists"})
        if len(same) >= MAX_PER_SCOPE:
            raise _Unprocessable({"scope": f"at most {MAX_PER_SCOPE} hooks per scope"})
        now = int(self.clock())
        hook = Hook(next(self._ids), scope, destination, _headers(spec),
                    bool(spec.get("is_active", True)), created_at=now, updated_at=now)  # fmt: skip
        self.hooks[hook.id] = hook
        return self._one(hook)

    def _update(self, hook: Hook, request: Request) -> Response:
        spec = _spec(request)
        known = {
            k: v for k, v in spec.items() if k in ("scope", "destination", "is_active", "headers")
        }
        if not known:
            raise _Unprocessable({"body": "at least one field is required to perform an update"})
        scope = str(known.get("scope") or hook.scope)
        destination = str(known.get("destination") or hook.destination)
        self._check(scope, destination)
        if any(h.id != hook.id and h.scope == scope and h.destination == destination
               for h in self.hooks.values()):  # fmt: skip
            raise _Unprocessable({"destination": "a hook for this scope and destination exists"})
        hook.scope, hook.destination = scope, destination
        if "headers" in known:
            hook.headers = _headers(known)
        if "is_active" in known:
            hook.is_active = bool(known["is_active"])
            if hook.is_active:
                hook.failures = 0
        hook.updated_at = int(self.clock())
        return self._one(hook)

    def _check(self, scope: str, destination: str) -> None:
        if scope not in SCOPES:
            raise _Unprocessable({"scope": f"{scope} is not a webhook scope"})
        parts = urlsplit(destination)
        if self.loopback_destinations and parts.hostname in _LOOPBACK:
            return
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme != "https" or not parts.hostname or port not in (None, 443):
            why = (
                "must be an https URL served on port 443 (custom ports are not currently supported)"
            )
            if parts.hostname in _LOOPBACK:  # for the developer, not BigCommerce's words
                why += "; simulator: BigCommerceSimulator(loopback_destinations=True) allows it"
            raise _Unprocessable({"destination": why})

    def _shown(self, hook: Hook) -> dict[str, Any]:
        return {"id": hook.id, "client_id": self.client_id, "store_hash": self.store_hash,
                "scope": hook.scope, "destination": hook.destination, "is_active": hook.is_active,
                "headers": dict(hook.headers), "created_at": hook.created_at,
                "updated_at": hook.updated_at}  # fmt: skip

    def _one(self, hook: Hook) -> Response:
        return Response.of_json({"data": self._shown(hook), "meta": {}})


def _spec(request: Request) -> dict[str, Any]:
    try:
        spec = request.json() if request.body else {}
    except ValueError:
        spec = None
    if not isinstance(spec, dict):
        raise _Unprocessable({"body": "error.expected.jsobject"}, "Input is invalid")
    return spec


def _headers(spec: Mapping[str, Any]) -> dict[str, str]:
    given = spec.get("headers") or {}
    return {str(k): str(v) for k, v in given.items()} if isinstance(given, dict) else {}


def _error(status: int, title: str) -> Response:
    return Response.of_json(
        {"status": status, "title": title, "type": "/api-docs/getting-started/api-status-codes"},
        status,
    )

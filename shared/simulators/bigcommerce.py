"""A simulated BigCommerce store: Orders V2 and its sub-resources, V3 refunds, customers and
hooks, built from the public API references.

``BigCommerceSimulator.handle(request)`` answers under ``/stores/{hash}/``: money as 4-decimal
strings, RFC 2822 dates, 204 for an empty V2 list, ``X-Auth-Token`` checked (401) and the API
account's scopes enforced (403), the rate-limit headers on every answer and 429 once the
window's quota is spent, and injected faults (``fail_next``). ``place_order`` prices an order
the way BigCommerce does (tax per line at 4 decimals, totals rounded); ``archive``,
``set_status`` and ``refund`` change it. ``deliver`` sends a callback stub to every active hook
registered for its scope, with the hook's headers (X-Connector-Token) and Standard Webhooks
signing; the hooks themselves (``/v3/hooks``, their refusals and their deactivation after
``deactivate_after`` failed deliveries in a row) are ``simulators.bigcommerce_hooks``. Tests
whose connector listens on loopback set ``loopback_destinations`` (the reference takes https on
port 443 only).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import httpx

from simulators.bigcommerce_catalog import WRITE_SCOPES, BigCommerceCatalog
from simulators.bigcommerce_hooks import Hook, HookRegistry
from simulators.bigcommerce_orders import Line, line_refund, price_lines
from simulators.bigcommerce_orders import m as _m
from simulators.httpserver import Request, Response

__all__ = ["BigCommerceSimulator", "Line"]

# The OAuth scopes the simulator checks: Orders, Order Transactions, Customers (read-only);
# Products, Customers and Orders (modify) for the writes.
# Hooks need none: an API account manages its own hooks with its default scope.
ALL_SCOPES = frozenset({"orders", "transactions", "customers"}) | WRITE_SCOPES


@dataclass
class BigCommerceSimulator:
    store_hash: str = "abc123"
    access_token: str = "sim-access-token"
    client_secret: str = "sim-client-secret"
    scopes: frozenset[str] = ALL_SCOPES
    quota: int = 150
    window_ms: int = 30_000
    tax_rate: Decimal = Decimal("8.0000")  # percent
    deactivate_after: int = 3
    # Let hooks deliver to http://127.0.0.1 (any port): the one exception to the reference.
    loopback_destinations: bool = False
    clock: Callable[[], float] = time.time
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    customers: dict[int, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._ids = itertools.count(100)
        self._window_start = self.clock()
        self._used = 0
        # What a test checks of the quota: requests refused with 429 for it, and the most
        # requests any one window took (never above the quota the store enforced).
        self.quota_refusals = 0
        self.busiest_window = 0
        self.windows: list[int] = []  # requests each past window took, oldest first
        self._faults: list[tuple[int, dict[str, str]]] = []
        self.hook_registry = HookRegistry(
            store_hash=self.store_hash,
            client_id=f"sim-client-{self.store_hash}",
            clock=self.clock,
            deactivate_after=self.deactivate_after,
            loopback_destinations=self.loopback_destinations,
        )
        # The writes (catalog, customers, orders, shipments): simulators.bigcommerce_catalog.
        self.catalog = BigCommerceCatalog(self)

    @property
    def hooks(self) -> dict[int, Hook]:
        """The API account's hooks by id."""
        return self.hook_registry.hooks

    # -- the merchant and the shoppers ----------------------------------------------------
    def add_customer(self, email: str, first_name: str, last_name: str) -> int:
        with self._lock:
            cid = next(self._ids)
            stamp = datetime.fromtimestamp(self.clock(), UTC).isoformat()
            self.customers[cid] = {
                "id": cid, "email": email, "first_name": first_name, "last_name": last_name,
                "company": "", "phone": "", "customer_group_id": 0,
                "date_created": stamp, "date_modified": stamp,
                "addresses": [{"first_name": first_name, "last_name": last_name,
                               "address1": "1 Main St", "city": "Austin",
                               "state_or_province": "Texas", "postal_code": "78751",
                               "country_code": "US"}],
            }  # fmt: skip
            return cid

    def update_customer(self, cid: int, **changes: Any) -> None:
        """The shopper or the merchant edits the account (``date_modified`` moves on)."""
        with self._lock:
            stamp = datetime.fromtimestamp(self.clock(), UTC).isoformat()
            self.customers[cid].update(changes, date_modified=stamp)

    def place_order(
        self,
        lines: list[Line],
        *,
        shipping: Decimal = Decimal(0),
        handling: Decimal = Decimal(0),
        wrapping: Decimal = Decimal(0),
        tax_inclusive: bool = False,
        status_id: int = 11,
        customer_id: int = 0,
        store_credit: Decimal = Decimal(0),
        gift_certificate: Decimal = Decimal(0),
        currency: str = "USD",
        display_currency: str | None = None,
        store_currency: str | None = None,
        store_to_order_rate: Decimal = Decimal(1),
        payment_status: str = "captured",
        payment_method: str = "Credit Card",
        payment_provider_id: str = "",
        guest: tuple[str, str, str] | None = None,
    ) -> int:
        """An order priced like BigCommerce (simulators.bigcommerce_orders): taxes per line at
        4 decimals, totals rounded; with ``tax_inclusive``, from shelf prices with tax.

        ``currency`` is the transactional currency (what was charged), ``display_currency``
        what the shopper's screen showed, ``store_currency`` the store's default currency with
        ``store_to_order_rate`` transactional units per unit of it. ``payment_status``
        "pending" is an order awaiting an offline payment (see ``capture``); ``guest`` is a
        guest's (first name, last name, email) for the billing address."""
        with self._lock:
            oid = next(self._ids)
            priced = price_lines(
                oid, lines, rate=self.tax_rate / 100, tax_inclusive=tax_inclusive,
                shipping=shipping, handling=handling, wrapping=wrapping,
                tax_row=lambda kind, product, amount: self._tax_row(oid, kind, product, amount),
            )  # fmt: skip
            now = format_datetime(datetime.fromtimestamp(self.clock(), UTC))
            buyer = self.customers.get(customer_id, {})
            if guest is not None and not buyer:
                buyer = dict(zip(("first_name", "last_name", "email"), guest, strict=True))
            discount = sum((ln.discount for ln in lines), Decimal(0))
            fields = priced.fields
            self.orders[oid] = {
                "id": oid, "customer_id": customer_id, "date_created": now, "date_modified": now,
                "status_id": status_id, "status": _STATUS_NAMES.get(status_id, "Custom"),
                **fields, "payment_method": payment_method,
                "payment_provider_id": payment_provider_id, "payment_status": payment_status,
                "refunded_amount": _m(Decimal(0)), "store_credit_amount": _m(store_credit),
                "gift_certificate_amount": _m(gift_certificate),
                "discount_amount": _m(Decimal(0)),
                "currency_code": display_currency or currency, "currency_exchange_rate": "1.0000000000",
                "default_currency_code": currency,
                "store_default_currency_code": store_currency or currency,
                "store_default_to_transactional_exchange_rate": f"{store_to_order_rate:.10f}",
                "customer_message": "", "is_deleted": False,
                "billing_address": {"first_name": buyer.get("first_name", "Guest"),
                                    "last_name": buyer.get("last_name", "Shopper"),
                                    "street_1": "1 Main St", "city": "Austin", "state": "Texas",
                                    "zip": "78751", "country": "United States",
                                    "country_iso2": "US",
                                    "email": buyer.get("email", "guest@example.com")},
                "_products": priced.products, "_taxes": priced.taxes,
                "_shipping_addresses": [{"id": oid * 10 + 1, "order_id": oid, "first_name": "Jane",
                                         "street_1": "1 Main St", "city": "Austin", "country_iso2": "US",
                                         "shipping_method": "Flat Rate",
                                         "cost_ex_tax": fields["shipping_cost_ex_tax"],
                                         "cost_inc_tax": fields["shipping_cost_inc_tax"],
                                         "cost_tax": fields["shipping_cost_tax"]}] if shipping else [],
                "_coupons": [{"id": 1, "code": "SAVE", "discount": _m(discount)}] if discount else [],
                "_fees": [],
            }  # fmt: skip
            return oid

    def _tax_row(self, oid: int, kind: str, product: str | None, amount: Decimal) -> dict[str, Any]:
        return {"id": next(self._ids), "order_id": oid, "tax_rate_id": 1, "tax_class_id": 0,
                "name": "Sales Tax", "class": "Default Tax Class", "rate": _m(self.tax_rate),
                "priority_amount": _m(amount), "line_amount": _m(amount),
                "order_product_id": product, "line_item_type": kind}  # fmt: skip

    def _touch(self, oid: int) -> None:
        self.orders[oid]["date_modified"] = format_datetime(
            datetime.fromtimestamp(self.clock(), UTC)
        )

    def set_status(self, oid: int, status_id: int) -> None:
        with self._lock:
            self.orders[oid]["status_id"] = status_id
            self.orders[oid]["status"] = _STATUS_NAMES.get(status_id, "Custom")
            self._touch(oid)

    def capture(self, oid: int, status_id: int = 11) -> None:
        """The offline payment arrives: the merchant marks it paid and moves the order on."""
        with self._lock:
            self.orders[oid]["payment_status"] = "captured"
            self.set_status(oid, status_id)

    def archive(self, oid: int) -> None:
        with self._lock:
            self.orders[oid]["is_deleted"] = True
            self._touch(oid)

    def purge(self, oid: int) -> None:
        """Gone for good (what BigCommerce support can do): the order answers 404."""
        with self._lock:
            del self.orders[oid]

    def refund(self, oid: int, amount: Decimal, tax: Decimal, reason: str = "") -> int:
        """An order-level (``ORDER``) refund of ``amount`` including ``tax``."""
        item = {"item_type": "ORDER", "item_id": oid, "quantity": 0,
                "requested_amount": float(amount)}  # fmt: skip
        return self._refund(oid, [item], amount, tax, reason)

    def refund_lines(
        self,
        oid: int,
        quantities: dict[int, int] | None = None,
        *,
        shipping: bool = False,
        reason: str = "",
    ) -> int:
        """A refund of ``quantities`` (order product id -> quantity) and, with ``shipping``,
        of the shipping, each with its tax, as BigCommerce quotes it."""
        with self._lock:
            items, amount, tax = line_refund(self.orders[oid], quantities or {}, shipping)
            return self._refund(oid, items, amount, tax, reason)

    def _refund(
        self, oid: int, items: list[dict[str, Any]], amount: Decimal, tax: Decimal, reason: str
    ) -> int:
        with self._lock:
            rid = next(self._ids)
            self.refunds.setdefault(oid, []).append({
                "id": rid, "order_id": oid, "user_id": 0,
                "created": datetime.fromtimestamp(self.clock(), UTC).isoformat(),
                "reason": reason, "total_amount": float(amount), "total_tax": float(tax),
                "uses_merchant_override_values": False, "items": items,
                "payments": [{"id": rid, "provider_id": "storecredit", "amount": float(amount),
                              "offline": True, "is_declined": False}],
            })  # fmt: skip
            order = self.orders[oid]
            refunded = Decimal(order["refunded_amount"]) + amount
            order["refunded_amount"] = _m(refunded)
            # BigCommerce moves the order to Refunded (4) or Partially Refunded (14) itself.
            in_full = refunded >= Decimal(order["total_inc_tax"])
            order["payment_status"] = "refunded" if in_full else "partially refunded"
            self.set_status(oid, 4 if in_full else 14)
            return rid

    def change_plan(self, quota: int, window_ms: int | None = None) -> None:
        """The merchant changes plan (Standard 150 per 30 s, Pro 450...): the quota applies
        from the next request, in the window under way."""
        with self._lock:
            self.quota = quota
            if window_ms is not None:
                self.window_ms = window_ms

    def fail_next(self, status: int, times: int = 1, **headers: str) -> None:
        """The next ``times`` API requests answer ``status`` (429 with ``headers``, 500...)."""
        with self._lock:
            self._faults.extend([(status, dict(headers))] * times)

    # -- webhooks -------------------------------------------------------------------------
    def callback(self, scope: str, record_id: int, **extras: Any) -> bytes:
        """The stub BigCommerce sends: the same event keeps the same ``hash``."""
        data: dict[str, Any] = {"type": scope.split("/")[1], "id": record_id, **extras}
        digest = hashlib.sha1(f"{scope}:{record_id}:{extras}".encode()).hexdigest()
        body = {"scope": scope, "store_id": "1025646", "data": data, "hash": digest,
                "created_at": int(self.clock()), "producer": f"stores/{self.store_hash}"}  # fmt: skip
        return json.dumps(body).encode()

    def sign(self, body: bytes, webhook_id: str, timestamp: int) -> dict[str, str]:
        """Standard Webhooks headers keyed with the app's client secret."""
        signed = f"{webhook_id}.{timestamp}.".encode() + body
        mac = hmac.new(self.client_secret.encode(), signed, hashlib.sha256).digest()
        return {"webhook-id": webhook_id, "webhook-timestamp": str(timestamp),
                "webhook-signature": "v1," + base64.b64encode(mac).decode()}  # fmt: skip

    def deliver(
        self, scope: str, record_id: int, *, http: httpx.Client | None = None, **extras: Any
    ) -> list[int]:
        """POST the callback to every active hook for ``scope``; the answers' statuses."""
        body = self.callback(scope, record_id, **extras)
        return self.hook_registry.deliver(
            scope,
            body,
            lambda: self.sign(body, f"msg_{next(self._ids)}", int(self.clock())),
            http,
        )

    # -- the API --------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        """The answer, then the webhooks a write fired (after the lock: a receiver may read)."""
        response = self._handle(request)
        self.catalog.deliver_fired()
        return response

    def _handle(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(request)
            prefix = f"/stores/{self.store_hash}"
            if not request.path.startswith(prefix + "/"):
                return _v3_error(404, "Store not found")
            if not hmac.compare_digest(
                request.headers.get("x-auth-token", "").encode(), self.access_token.encode()
            ):
                return _v3_error(401, "Unauthorized: the access token is invalid or revoked")
            limited = self._meter()
            if limited is not None:
                return limited
            if self._faults:
                status, headers = self._faults.pop(0)
                return self._with_quota(_v3_error(status, "Injected fault"), **headers)
            return self._with_quota(self._route(request, request.path[len(prefix) :]))

    def _meter(self) -> Response | None:
        now = self.clock()
        if (now - self._window_start) * 1000 >= self.window_ms:
            self.windows.append(self._used)
            self._window_start, self._used = now, 0
        if self._used >= self.quota:
            self.quota_refusals += 1
            return self._with_quota(_v3_error(429, "Too many requests"))
        self._used += 1
        self.busiest_window = max(self.busiest_window, self._used)
        return None

    def _with_quota(self, response: Response, **override: str) -> Response:
        reset = max(0, int(self.window_ms - (self.clock() - self._window_start) * 1000))
        response.headers.update({
            "X-Rate-Limit-Time-Window-Ms": str(self.window_ms),
            "X-Rate-Limit-Time-Reset-Ms": str(reset),
            "X-Rate-Limit-Requests-Quota": str(self.quota),
            "X-Rate-Limit-Requests-Left": str(max(0, self.quota - self._used)),
        })  # fmt: skip
        for name, value in override.items():
            response.headers[name.replace("_", "-")] = value
        return response

    def _route(self, request: Request, path: str) -> Response:
        written = self.catalog.route(request, path)
        if written is not None:
            return written()
        for pattern, scope, answer in self._routes():
            match = pattern.fullmatch(path)
            if match and request.method in answer:
                if scope and scope not in self.scopes:
                    return _v3_error(403, f"You don't have a required scope ({scope})")
                return answer[request.method](request, *match.groups())
        return _v3_error(404, "The requested resource was not found.")

    def _routes(self) -> list[tuple[re.Pattern[str], str, dict[str, Any]]]:
        return [
            (re.compile(r"/v2/orders"), "orders", {"GET": self._list_orders}),
            (re.compile(r"/v2/orders/(\d+)"), "orders", {"GET": self._order}),
            (
                re.compile(r"/v2/orders/(\d+)/(products|shipping_addresses|coupons|taxes|fees)"),
                "orders",
                {"GET": self._order_part},
            ),
            (
                re.compile(r"/v3/orders/(\d+)/payment_actions/refunds"),
                "transactions",
                {"GET": self._refunds},
            ),
            (re.compile(r"/v3/customers"), "customers", {"GET": self._customers}),
            (re.compile(r"/v3/hooks"), "", {"GET": self._hooks, "POST": self._hooks}),
            (
                re.compile(r"/v3/hooks/(\d+)"),
                "",
                {"GET": self._hooks, "PUT": self._hooks, "DELETE": self._hooks},
            ),
        ]

    def _order(self, request: Request, oid: str) -> Response:
        if int(oid) not in self.orders:
            return _v2_error(404, "The requested resource was not found.")
        return Response.of_json(self._public(int(oid)))

    def _public(self, oid: int) -> dict[str, Any]:
        """The order as V2 shows it: sub-resources as links."""
        public = {k: v for k, v in self.orders[oid].items() if not k.startswith("_")}
        base = f"/orders/{oid}"
        for part in ("products", "shipping_addresses", "coupons"):
            public[part] = {"url": f"https://api.bigcommerce.com/stores/{self.store_hash}/v2"
                            f"{base}/{part}", "resource": f"{base}/{part}"}  # fmt: skip
        return public

    def _list_orders(self, request: Request) -> Response:
        """``GET /v2/orders?min_date_modified=..&min_date_created=..&max_date_created=..
        &sort=date_modified:asc|date_created:asc&page=&limit=`` (bounds inclusive; by id
        unless sorted)."""
        since = _when(request.arg("min_date_modified"))
        created_from = _when(request.arg("min_date_created"))
        created_to = _when(request.arg("max_date_created"))
        rows = [
            self._public(oid)
            for oid, order in self.orders.items()
            if _at_or_after(order["date_modified"], since)
            and _at_or_after(order["date_created"], created_from)
            and (created_to is None or not _at_or_after(order["date_created"],
                                                         created_to + timedelta(seconds=1)))
        ]  # fmt: skip
        sort = request.arg("sort")
        if sort in ("date_modified:asc", "date_created:asc"):
            field = sort.split(":")[0]
            rows.sort(key=lambda r: (parsedate_to_datetime(r[field]), r["id"]))
        page, limit = int(request.arg("page", "1") or 1), int(request.arg("limit", "50") or 50)
        rows = rows[(page - 1) * limit : page * limit]
        return Response.of_json(rows) if rows else Response(204)

    def _order_part(self, request: Request, oid: str, part: str) -> Response:
        order = self.orders.get(int(oid))
        if order is None:
            return _v2_error(404, "The requested resource was not found.")
        rows = [dict(r) for r in order[f"_{part}"]]
        if part == "taxes" and request.arg("details") != "true":
            for row in rows:
                row.pop("order_product_id", None)
                row.pop("line_item_type", None)
        page, limit = int(request.arg("page", "1") or 1), int(request.arg("limit", "50") or 50)
        rows = rows[(page - 1) * limit : page * limit]
        return Response.of_json(rows) if rows else Response(204)

    def _refunds(self, request: Request, oid: str) -> Response:
        if int(oid) not in self.orders:
            return _v3_error(404, "Order not found")
        rows = self.refunds.get(int(oid), [])
        return Response.of_json({"data": rows, "meta": _pagination(len(rows))})

    def _customers(self, request: Request) -> Response:
        wanted = {int(i) for i in (request.arg("id:in") or "").split(",") if i.strip()}
        since = _when(request.arg("date_modified:min"))
        rows = [
            c
            for cid, c in self.customers.items()
            if (not wanted or cid in wanted) and _at_or_after(c["date_modified"], since)
        ]
        if request.arg("sort") == "date_modified:asc":
            rows.sort(key=lambda c: (c["date_modified"], c["id"]))
        return Response.of_json({"data": rows, "meta": _pagination(len(rows))})

    def _hooks(self, request: Request, hook_id: str | None = None) -> Response:
        return self.hook_registry.handle(request, hook_id)


_STATUS_NAMES = {
    0: "Incomplete", 1: "Pending", 2: "Shipped", 3: "Partially Shipped", 4: "Refunded",
    5: "Cancelled", 6: "Declined", 7: "Awaiting Payment", 8: "Awaiting Pickup",
    9: "Awaiting Shipment", 10: "Completed", 11: "Awaiting Fulfillment",
    12: "Manual Verification Required", 13: "Disputed", 14: "Partially Refunded",
}  # fmt: skip


def _when(text: str | None) -> datetime | None:
    """A date as BigCommerce takes it in a filter: RFC 2822 or ISO 8601 (UTC when naive)."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = parsedate_to_datetime(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _at_or_after(text: str, since: datetime | None) -> bool:
    moment = _when(text)
    return since is None or (moment is not None and moment >= since)


def _pagination(total: int) -> dict[str, Any]:
    return {"pagination": {"total": total, "count": total, "per_page": 250, "current_page": 1,
                           "total_pages": 1}}  # fmt: skip


def _v3_error(status: int, title: str) -> Response:
    return Response.of_json({"status": status, "title": title, "type": "about:blank"}, status)


def _v2_error(status: int, message: str) -> Response:
    return Response.of_json([{"status": status, "message": message}], status)

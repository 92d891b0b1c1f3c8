"""A simulated WooCommerce store: catalogue, customers, orders, refunds, REST v3, webhooks.

``WooSimulator.handle(request)`` answers like ``/wp-json/wc/v3/`` on a real store:
the exact record shapes of the REST docs' samples, money as 2-dp strings, per-rate
taxes unrounded, paging headers, WooCommerce's error bodies, OAuth 1.0a over http and
Basic over https (``X-Forwarded-Proto``), injected faults (5xx, 429, slowness), outages
of the REST API for a span of (any) clock, and plugin filters on the order responses.
Mutations (``create_order`` ... ``add_refund``) let a scenario drive the store; the
``WebhookSender`` in ``simulators.woocommerce_webhooks`` tells a receiver about them.

Deterministic for a given ``seed`` and ``clock``; safe to call from several threads.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from simulators.httpserver import LoopbackServer, Request, Response
from simulators.woocommerce_auth import AuthError, StoreAuth
from simulators.woocommerce_catalog import CatalogError, WooCatalog
from simulators.woocommerce_catalogue import (
    CATEGORIES,
    COUPONS,
    CUSTOMERS,
    GUESTS,
    PAYMENT_METHODS,
    SELLABLE,
    SHIPPING,
    TAX_RATES,
    Person,
    Product,
    TaxRate,
    catalogue_products,
)
from simulators.woocommerce_pricing import (
    ZERO,
    FeeInput,
    LineInput,
    money,
    price_order,
    r2,
)
from simulators.woocommerce_webhook_api import WebhookResource
from simulators.woocommerce_webhooks import WebhookSender, php_json

__all__ = ["FeeSpec", "LineSpec", "OrderFilter", "OrderSpec", "WebhookSender", "WooSimulator"]

_API = "/wp-json/wc/v3"
_PAID = ("processing", "completed", "refunded")
_ORDER_STATUSES = (
    "pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed", "trash",
)  # fmt: skip
_ROUTES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(_API + pattern + "/?$"))
    for name, pattern in (
        ("orders", "/orders"),
        ("order", r"/orders/(\d+)"),
        ("refunds", r"/orders/(\d+)/refunds"),
        ("refund", r"/orders/(\d+)/refunds/(\d+)"),
        ("customers", "/customers"),
        ("customer", r"/customers/(\d+)"),
        ("product", r"/products/(\d+)"),
    )
)


@dataclass(frozen=True)
class LineSpec:
    product_id: int  # a simple product or a variation
    quantity: int = 1


@dataclass(frozen=True)
class FeeSpec:
    name: str
    amount: Decimal
    taxable: bool = True


@dataclass
class OrderSpec:
    lines: list[LineSpec]
    customer_id: int = 0  # 0 = guest checkout
    guest: Person | None = None  # billing/shipping of a guest
    coupons: list[str] = field(default_factory=list)
    shipping: str | None = "flat_rate"
    fees: list[FeeSpec] = field(default_factory=list)
    status: str = "processing"
    payment_method: tuple[str, str] = ("bacs", "Direct bank transfer")
    customer_note: str = ""
    # A sequential-numbers plugin's order number (WooCommerce's own is the post id).
    number: str | None = None
    # A multi-currency plugin's checkout currency (the store's own when None).
    currency: str | None = None


@dataclass
class _Fault:
    status: int | None
    delay_s: float


@dataclass(frozen=True)
class _Outage:
    start: float
    end: float
    status: int
    clock: Callable[[], float]

    def covers(self) -> bool:
        return self.start <= self.clock() < self.end


# A plugin's woocommerce_rest_prepare_shop_order_object filter: (order id, response) -> response.
OrderFilter = Callable[[int, dict[str, Any]], dict[str, Any]]


@dataclass
class _StoredOrder:
    doc: dict[str, Any]
    spec: OrderSpec
    refunds: list[dict[str, Any]] = field(default_factory=list)  # newest first
    status_before_trash: str = ""


class _ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.data = status, code, message, data


class WooSimulator:
    """One WooCommerce store with one REST API key pair."""

    def __init__(
        self,
        *,
        consumer_key: str,
        consumer_secret: str,
        clock: Callable[[], float] = time.time,
        seed: int = 0,
        prices_include_tax: bool = False,
        currency: str = "USD",
        utc_offset_hours: int = -3,
        home_url: str = "http://shop.example",
        key_permissions: str = "read_write",
    ) -> None:
        self._lock = threading.RLock()
        self._clock = clock
        self._rng = random.Random(seed)
        self._salt = f"sim-salt-{seed}".encode()
        # The timestamp window is checked against wall-clock time: clients sign with it.
        self._auth = StoreAuth(
            consumer_key, consumer_secret, clock=time.time, permissions=key_permissions
        )
        self.prices_include_tax = prices_include_tax
        self.currency = currency
        self._offset = timedelta(hours=utc_offset_hours)
        self.home_url = home_url.rstrip("/")
        self.products: dict[int, Product] = catalogue_products()
        self._post_ids = itertools.count(700)  # orders and refunds share WordPress post ids
        self._item_ids = itertools.count(300)
        self._user_ids = itertools.count(2)  # user 1 is the shop admin
        self._orders: dict[int, _StoredOrder] = {}
        self._customers: dict[int, dict[str, Any]] = {}
        self._faults: deque[_Fault] = deque()
        self._outages: list[_Outage] = []
        self.outage_requests = 0  # REST requests answered with an error because of an outage
        self._order_filters: list[OrderFilter] = []
        self.requests: list[Request] = []
        for person in CUSTOMERS:
            self.create_customer(person)
        # /wc/v3/webhooks: the store's webhooks, which deliver through WebhookSender.
        self.webhooks = WebhookResource(self)
        # Product, variation, category and customer writes (simulators.woocommerce_catalog).
        self.catalog = WooCatalog(self)

    # -- time and ids ------------------------------------------------------------------

    def now(self) -> float:
        return self._clock()

    def _stamp(self) -> tuple[str, str]:
        """(site-local, GMT) ISO dates without offset, as the REST API prints them."""
        gmt = datetime.fromtimestamp(int(self._clock()), UTC).replace(tzinfo=None)
        return (gmt + self._offset).isoformat(), gmt.isoformat()

    def wp_hash(self, data: str) -> str:
        return hmac.new(self._salt, data.encode("utf-8"), hashlib.md5).hexdigest()

    def _token(self, length: int) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        return "".join(self._rng.choice(alphabet) for _ in range(length))

    # -- faults ------------------------------------------------------------------------

    def inject(self, status: int | None, times: int = 1, *, delay_s: float = 0.0) -> None:
        """The next ``times`` requests answer ``status`` (500, 503, 429, ...) after ``delay_s``;
        ``status=None`` answers normally, only late. 404 is a proxy's HTML page, without
        WooCommerce's error code."""
        with self._lock:
            self._faults.extend(_Fault(status, delay_s) for _ in range(times))

    def outage(
        self, duration_s: float, *, status: int = 503, clock: Callable[[], float] | None = None
    ) -> None:
        """The REST API is down from now for ``duration_s`` seconds of ``clock`` (the store's
        own by default; a scaled one plays an hour in seconds): every ``/wp-json/`` request is
        answered ``status`` (503: the host's or a proxy's page; 500: PHP's critical error)
        before authentication, and changes nothing.

        Checkouts go on and webhooks are still delivered, as when a failing API sits behind a
        working front end: WooCommerce builds a delivery's body in process (WC_Webhook calls
        the REST controller directly, not over HTTP), so only the connector's fetches fail.
        """
        timer = clock or self._clock
        with self._lock:
            start = timer()
            self._outages.append(_Outage(start, start + duration_s, status, timer))

    def in_outage(self) -> bool:
        with self._lock:
            return any(o.covers() for o in self._outages)

    def clear_faults(self) -> None:
        """No more injected faults or outages."""
        with self._lock:
            self._faults.clear()
            self._outages.clear()

    def filter_orders(self, order_filter: OrderFilter | None) -> None:
        """Every order the store renders (REST answers, lists and webhook bodies) passes through
        ``order_filter``, as through a plugin hooked on
        ``woocommerce_rest_prepare_shop_order_object``; ``None`` removes the plugin's filters."""
        with self._lock:
            if order_filter is None:
                self._order_filters.clear()
            else:
                self._order_filters.append(order_filter)

    # -- catalogue and customers -------------------------------------------------------

    def delete_product(self, product_id: int) -> None:
        """Delete a product for good (its variations too): order lines then show sku null."""
        with self._lock:
            for product in self.products.values():
                if product_id in (product.id, product.parent_id):
                    product.deleted = True

    def _sku(self, product_id: int, variation_id: int) -> str | None:
        product = self.products.get(variation_id or product_id)
        if product is None or product.deleted:
            return None
        if not product.sku and product.parent_id:
            parent = self.products.get(product.parent_id)
            return parent.sku if parent is not None and not parent.deleted else ""
        return product.sku

    def create_customer(
        self,
        person: Person | None = None,
        *,
        username: str | None = None,
        role: str = "customer",
        **fields: str,
    ) -> dict[str, Any]:
        """Register a customer from a Person, or from first_name/last_name/email/... fields;
        ``role`` is the WordPress role ("customer", or a plugin's "wholesale_customer")."""
        if person is None:
            person = Person(
                first_name=fields.get("first_name", ""),
                last_name=fields.get("last_name", ""),
                email=fields["email"],
                address_1=fields.get("address_1", ""),
                city=fields.get("city", ""),
                state=fields.get("state", ""),
                postcode=fields.get("postcode", ""),
                country=fields.get("country", ""),
                phone=fields.get("phone", ""),
                company=fields.get("company", ""),
            )
        with self._lock:
            user_id = next(self._user_ids)
            local, gmt = self._stamp()
            self._customers[user_id] = {
                "id": user_id,
                "date_created": local,
                "date_created_gmt": gmt,
                "date_modified": local,
                "date_modified_gmt": gmt,
                "email": person.email,
                "first_name": person.first_name,
                "last_name": person.last_name,
                "role": role,
                "username": username or person.email.split("@")[0],
                "billing": person.billing(),
                "shipping": person.shipping(),
                "is_paying_customer": False,
                "avatar_url": "https://secure.gravatar.com/avatar/"
                + hashlib.md5(person.email.lower().encode()).hexdigest()
                + "?s=96&d=mm&r=g",
                "meta_data": [],
            }
            return self._render_customer(user_id)

    def update_customer(self, customer_id: int, **changes: Any) -> dict[str, Any]:
        """Change top-level fields or merge into ``billing``/``shipping``; bumps date_modified."""
        with self._lock:
            customer = self._customers[customer_id]
            for key, value in changes.items():
                if key in ("billing", "shipping"):
                    customer[key].update(value)
                elif key in ("email", "first_name", "last_name", "username", "role"):
                    customer[key] = value
                else:
                    raise ValueError(f"customers have no editable field {key!r}")
            customer["date_modified"], customer["date_modified_gmt"] = self._stamp()
            return self._render_customer(customer_id)

    def customer_ids(self) -> list[int]:
        with self._lock:
            return sorted(self._customers)

    # -- orders ------------------------------------------------------------------------

    def random_spec(self, rng: random.Random | None = None) -> OrderSpec:
        """A plausible checkout: 1-4 lines, sometimes a guest, a coupon, a fee, no shipping."""
        rng = rng or self._rng
        lines = [
            LineSpec(product_id, rng.choice((1, 1, 1, 2, 3, 7)))
            for product_id in rng.sample(
                [p for p in SELLABLE if not self.products[p].deleted], rng.randint(1, 4)
            )
        ]
        guest = rng.random() < 0.35
        with self._lock:
            customer_ids = sorted(self._customers)
        fees: list[FeeSpec] = []
        if rng.random() < 0.2:
            fees.append(FeeSpec("Gift wrapping", Decimal("4.50")))
        if rng.random() < 0.1:
            fees.append(FeeSpec("Loyalty discount", Decimal("-2.00"), taxable=False))
        return OrderSpec(
            lines=lines,
            customer_id=0 if guest or not customer_ids else rng.choice(customer_ids),
            guest=rng.choice(GUESTS) if guest else None,
            coupons=[rng.choice(sorted(COUPONS))] if rng.random() < 0.3 else [],
            shipping=rng.choice(("flat_rate", "flat_rate", "express", "free_shipping", None)),
            fees=fees,
            status=rng.choice(("processing", "processing", "completed", "on-hold", "pending")),
            payment_method=rng.choice(PAYMENT_METHODS),
        )

    def create_order(
        self, spec: OrderSpec | None = None, *, rng: random.Random | None = None
    ) -> dict[str, Any]:
        """Place an order (random from ``rng`` or the store's seed when no spec); returns its
        REST representation."""
        with self._lock:
            spec = spec if spec is not None else self.random_spec(rng)
            order_id = next(self._post_ids)
            local, gmt = self._stamp()
            doc: dict[str, Any] = {
                "id": order_id,
                "parent_id": 0,
                "number": spec.number or str(order_id),
                "order_key": "wc_order_" + self._token(13),
                "created_via": "checkout",
                "version": "9.8.5",
                "status": spec.status,
                "currency": spec.currency or self.currency,
                "date_created": local,
                "date_created_gmt": gmt,
                "date_modified": local,
                "date_modified_gmt": gmt,
            }
            doc.update(self._price(spec))
            doc.update(self._parties(spec))
            doc.update(
                {
                    "customer_ip_address": f"203.0.113.{order_id % 250 + 1}",
                    "customer_user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
                    "customer_note": spec.customer_note,
                    "payment_method": spec.payment_method[0],
                    "payment_method_title": spec.payment_method[1],
                    "transaction_id": (
                        "ch_" + self._token(24) if spec.payment_method[0] == "stripe" else ""
                    ),
                    "date_paid": None,
                    "date_paid_gmt": None,
                    "date_completed": None,
                    "date_completed_gmt": None,
                    "cart_hash": self._token(32).lower(),
                    "meta_data": [],
                }
            )
            self._set_status_dates(doc, spec.status)
            self._orders[order_id] = _StoredOrder(doc=doc, spec=spec)
            if spec.customer_id in self._customers and spec.status in _PAID:
                self._customers[spec.customer_id]["is_paying_customer"] = True
            return self._render_order(order_id)

    def _parties(self, spec: OrderSpec) -> dict[str, Any]:
        if spec.customer_id:
            customer = self._customers.get(spec.customer_id)
            if customer is None:
                raise ValueError(f"no customer {spec.customer_id}")
            billing, shipping = dict(customer["billing"]), dict(customer["shipping"])
        else:
            guest = spec.guest or GUESTS[0]
            billing, shipping = guest.billing(), guest.shipping()
        shipping["phone"] = ""
        return {"customer_id": spec.customer_id, "billing": billing, "shipping": shipping}

    def _rates(self, country: str, state: str, tax_class: str) -> tuple[TaxRate, ...]:
        # WooCommerce applies at most one matching rate per priority.
        chosen: dict[int, TaxRate] = {}
        for rate in TAX_RATES:
            if rate.tax_class == tax_class and rate.applies_to(country, state):
                chosen.setdefault(rate.priority, rate)
        return tuple(chosen[p] for p in sorted(chosen))

    def _price(self, spec: OrderSpec) -> dict[str, Any]:
        parties = self._parties(spec)
        country, state = parties["shipping"]["country"], parties["shipping"]["state"]
        lines: list[LineInput] = []
        for line in spec.lines:
            product = self.products[line.product_id]
            if product.deleted:
                raise ValueError(f"product {product.id} has been deleted")
            name = product.name
            if product.parent_id:
                name += " &ndash; " + ", ".join(value for _, value in product.attributes)
            lines.append(
                LineInput(
                    product=product,
                    name=name,
                    quantity=line.quantity,
                    rates=self._rates(country, state, product.tax_class),
                )
            )
        standard = self._rates(country, state, "")
        priced = price_order(
            lines=lines,
            coupons=[COUPONS[code] for code in spec.coupons],
            shipping=SHIPPING[spec.shipping] if spec.shipping else None,
            shipping_rates=tuple(r for r in standard if r.shipping),
            fees=[FeeInput(f.name, f.amount, f.taxable, standard) for f in spec.fees],
            prices_include_tax=self.prices_include_tax,
            next_item_id=lambda: next(self._item_ids),
        )
        for item, priced_line in zip(priced["line_items"], lines, strict=True):
            if priced_line.product.attributes:
                item["meta_data"] = [
                    {"id": next(self._item_ids), "key": key, "value": value.lower(),
                     "display_key": key.removeprefix("pa_").capitalize(), "display_value": value}
                    for key, value in priced_line.product.attributes
                ]  # fmt: skip
        return priced

    def _set_status_dates(self, doc: dict[str, Any], status: str) -> None:
        local, gmt = self._stamp()
        if status in _PAID and doc.get("date_paid") is None:
            doc["date_paid"], doc["date_paid_gmt"] = local, gmt
        if status == "completed" and doc.get("date_completed") is None:
            doc["date_completed"], doc["date_completed_gmt"] = local, gmt

    def _touch(self, doc: dict[str, Any]) -> None:
        doc["date_modified"], doc["date_modified_gmt"] = self._stamp()

    def _stored(self, order_id: int) -> _StoredOrder:
        stored = self._orders.get(order_id)
        if stored is None:
            raise KeyError(f"no order {order_id}")
        return stored

    def update_order(self, order_id: int, **changes: Any) -> dict[str, Any]:
        """Edit an order like the admin screen: status, note, addresses, payment, or the
        priced parts (``lines``, ``coupons``, ``fees``, ``shipping``) which re-total it."""
        with self._lock:
            stored = self._stored(order_id)
            doc = stored.doc
            repriced = False
            for key, value in changes.items():
                if key == "status":
                    if value not in _ORDER_STATUSES:
                        raise ValueError(f"unknown order status {value!r}")
                    doc["status"] = value
                    self._set_status_dates(doc, value)
                elif key in ("billing", "shipping"):
                    doc[key].update(value)
                elif key in ("customer_note", "transaction_id"):
                    doc[key] = value
                elif key in ("lines", "coupons", "fees", "shipping_method"):
                    setattr(stored.spec, "shipping" if key == "shipping_method" else key, value)
                    repriced = True
                else:
                    raise ValueError(f"orders have no editable field {key!r}")
            if repriced:
                doc.update(self._price(stored.spec))
            self._touch(doc)
            return self._render_order(order_id)

    def trash_order(self, order_id: int) -> dict[str, Any]:
        """Move to the bin (status ``trash``; still readable, fires ``order.deleted``)."""
        with self._lock:
            stored = self._stored(order_id)
            stored.status_before_trash = stored.doc["status"]
            stored.doc["status"] = "trash"
            self._touch(stored.doc)
            return self._render_order(order_id)

    def restore_order(self, order_id: int) -> dict[str, Any]:
        with self._lock:
            stored = self._stored(order_id)
            stored.doc["status"] = stored.status_before_trash or "pending"
            self._touch(stored.doc)
            return self._render_order(order_id)

    def delete_order(self, order_id: int) -> None:
        """Delete for good: the REST API answers 404 from now on."""
        with self._lock:
            self._stored(order_id)
            del self._orders[order_id]

    def order_ids(self) -> list[int]:
        with self._lock:
            return sorted(self._orders)

    def add_refund(
        self,
        order_id: int,
        *,
        amount: Decimal | None = None,
        items: Mapping[int, int] | None = None,
        shipping: bool = False,
        reason: str = "",
    ) -> dict[str, Any]:
        """Refund line quantities (``items``: order item id -> quantity), the whole shipping
        (``shipping``) and/or an amount.

        Refund lines carry negative amounts and ``_refunded_item_id`` like WooCommerce's; an
        amount-only refund has no lines. The order becomes ``refunded`` when fully refunded.
        """
        with self._lock:
            stored = self._stored(order_id)
            doc = stored.doc
            line_items: list[dict[str, Any]] = []
            computed = ZERO
            by_id = {item["id"]: item for item in doc["line_items"]}
            for item_id, quantity in (items or {}).items():
                item = by_id.get(item_id)
                if item is None or not 0 < quantity <= item["quantity"]:
                    raise ValueError(
                        f"order {order_id} has no item {item_id} to refund x{quantity}"
                    )
                share = Decimal(quantity) / Decimal(item["quantity"])
                total = r2(Decimal(item["total"]) * share)
                taxes = [
                    {"id": t["id"], "total": money(-r2(Decimal(t["total"]) * share)),
                     "subtotal": money(-r2(Decimal(t["total"]) * share))}
                    for t in item["taxes"]
                ]  # fmt: skip
                tax = sum((-Decimal(t["total"]) for t in taxes), ZERO)
                computed += total + tax
                line_items.append(
                    {
                        "id": next(self._item_ids),
                        "name": item["name"],
                        "product_id": item["product_id"],
                        "variation_id": item["variation_id"],
                        "quantity": -quantity,
                        "tax_class": item["tax_class"],
                        "subtotal": money(-total),
                        "subtotal_tax": money(-tax),
                        "total": money(-total),
                        "total_tax": money(-tax),
                        "taxes": taxes,
                        "meta_data": [
                            {
                                "id": next(self._item_ids),
                                "key": "_refunded_item_id",
                                "value": str(item_id),
                            }
                        ],
                        "price": float(-total / quantity),
                    }
                )
            shipping_lines: list[dict[str, Any]] = []
            for ship in doc["shipping_lines"] if shipping else []:
                ship_taxes = [
                    {"id": t["id"], "total": money(-Decimal(t["total"])), "subtotal": ""}
                    for t in ship["taxes"]
                ]
                computed += Decimal(ship["total"]) + Decimal(ship["total_tax"])
                shipping_lines.append(
                    {
                        "id": next(self._item_ids),
                        "method_title": ship["method_title"],
                        "method_id": ship["method_id"],
                        "total": money(-Decimal(ship["total"])),
                        "total_tax": money(-Decimal(ship["total_tax"])),
                        "taxes": ship_taxes,
                        "meta_data": [
                            {
                                "id": next(self._item_ids),
                                "key": "_refunded_item_id",
                                "value": str(ship["id"]),
                            }
                        ],
                    }
                )
            refund_amount = r2(amount) if amount is not None else computed
            already = sum((Decimal(r["amount"]) for r in stored.refunds), ZERO)
            order_total = Decimal(doc["total"])
            if refund_amount <= 0 or already + refund_amount > order_total:
                raise ValueError("Invalid refund amount.")
            local, gmt = self._stamp()
            refund = {
                "id": next(self._post_ids),
                "date_created": local,
                "date_created_gmt": gmt,
                "amount": money(refund_amount),
                "reason": reason,
                "refunded_by": 1,
                "refunded_payment": False,
                "meta_data": [],
                "line_items": line_items,
                "shipping_lines": shipping_lines,
                "fee_lines": [],
            }
            stored.refunds.insert(0, refund)
            if already + refund_amount == order_total:
                doc["status"] = "refunded"
            self._touch(doc)
            return self._render_refund(order_id, refund)

    def delete_refund(self, order_id: int, refund_id: int) -> None:
        """Delete a refund, as DELETE /orders/{id}/refunds/{refund_id}?force=true does: it is gone
        from the order's refunds (WooCommerce then sends ``order.updated``)."""
        with self._lock:
            stored = self._stored(order_id)
            kept = [r for r in stored.refunds if r["id"] != refund_id]
            if len(kept) == len(stored.refunds):
                raise ValueError(f"order {order_id} has no refund {refund_id}")
            stored.refunds = kept
            self._touch(stored.doc)

    # -- representations ---------------------------------------------------------------

    def _links(self, path: str, collection: str, **extra: str) -> dict[str, Any]:
        links: dict[str, Any] = {
            "self": [{"href": f"{self.home_url}{_API}/{path}"}],
            "collection": [{"href": f"{self.home_url}{_API}/{collection}"}],
        }
        for rel, target in extra.items():
            links[rel] = [{"href": f"{self.home_url}{_API}/{target}"}]
        return links

    def _render_order(self, order_id: int) -> dict[str, Any]:
        stored = self._orders[order_id]
        doc = copy.deepcopy(stored.doc)
        for item in doc["line_items"]:
            # Read live from the product, as WooCommerce does: deleted -> null.
            item["sku"] = self._sku(item["product_id"], item["variation_id"])
        doc["refunds"] = [
            {"id": r["id"], "reason": r["reason"], "total": money(-Decimal(r["amount"]))}
            for r in stored.refunds
        ]
        status = doc["status"]
        doc["currency_symbol"] = (
            "$" if doc["currency"] in ("USD", "CAD", "AUD", "NZD") else doc["currency"]
        )
        doc["payment_url"] = (
            f"{self.home_url}/checkout/order-pay/{order_id}/?pay_for_order=true"
            f"&key={doc['order_key']}"
        )
        doc["is_editable"] = status in ("pending", "on-hold", "auto-draft")
        doc["needs_payment"] = status in ("pending", "failed") and Decimal(doc["total"]) > 0
        doc["needs_processing"] = True
        extra = {"customer": f"customers/{doc['customer_id']}"} if doc["customer_id"] else {}
        doc["_links"] = self._links(f"orders/{order_id}", "orders", **extra)
        for order_filter in self._order_filters:
            doc = order_filter(order_id, doc)
        return doc

    def _render_refund(self, order_id: int, refund: Mapping[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(dict(refund))
        for item in out["line_items"]:
            item["sku"] = self._sku(item["product_id"], item["variation_id"])
        out["_links"] = self._links(
            f"orders/{order_id}/refunds/{refund['id']}",
            f"orders/{order_id}/refunds",
            up=f"orders/{order_id}",
        )
        return out

    def _render_customer(self, customer_id: int) -> dict[str, Any]:
        out = copy.deepcopy(self._customers[customer_id])
        out["_links"] = self._links(f"customers/{customer_id}", "customers")
        return out

    def _render_product(self, product_id: int) -> dict[str, Any]:
        product = self.products.get(product_id)
        if product is None or product.deleted:
            raise _ApiError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        kind = "variation" if product.parent_id else "simple"
        if any(p.parent_id == product_id for p in self.products.values()):
            kind = "variable"
        price = money(product.price)
        return {
            "id": product.id,
            "name": product.name,
            "slug": re.sub(r"[^a-z0-9]+", "-", product.name.lower()).strip("-"),
            "type": kind,
            "status": "publish",
            "sku": product.sku,
            "price": price,
            "regular_price": price,
            "sale_price": "",
            "tax_status": product.tax_status,
            "tax_class": product.tax_class,
            "parent_id": product.parent_id,
            "categories": [
                {"id": CATEGORIES[slug][0], "name": CATEGORIES[slug][1], "slug": slug}
                for slug in product.categories
            ],
            "_links": self._links(f"products/{product_id}", "products"),
        }

    def get_order(self, order_id: int) -> dict[str, Any]:
        with self._lock:
            self._stored(order_id)
            return self._render_order(order_id)

    def rest_representation(self, resource: str, resource_id: int) -> Any:
        """What ``GET /wc/v3/{resource}s/{id}`` answers, errors included (webhook bodies)."""
        try:
            with self._lock:
                return self._single(resource, resource_id)
        except _ApiError as exc:
            return {"code": exc.code, "message": exc.message, "data": {"status": exc.status}}

    def _single(self, resource: str, resource_id: int) -> dict[str, Any]:
        if resource == "order":
            if resource_id not in self._orders:
                raise _ApiError(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
            return self._render_order(resource_id)
        if resource == "customer":
            if resource_id not in self._customers:
                raise _ApiError(404, "woocommerce_rest_invalid_id", "Invalid resource ID.")
            return self._render_customer(resource_id)
        if resource == "product":
            try:
                return self.catalog.render_product(resource_id)
            except CatalogError as exc:
                raise _ApiError(exc.status, exc.code, exc.message) from None
        raise _ApiError(
            404, "rest_no_route", "No route was found matching the URL and request method."
        )

    # -- HTTP --------------------------------------------------------------------------

    def serve(self) -> LoopbackServer:
        """A loopback server for this store, not yet started (use ``with sim.serve() as s``).

        The store's home URL becomes the server's address, as a real site's would be.
        """
        server = LoopbackServer(self.handle)
        self.home_url = server.base_url
        return server

    def handle(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(request)
            down = next((o for o in self._outages if o.covers()), None)
            if down is not None:
                self.outage_requests += 1
            fault = self._faults.popleft() if self._faults and down is None else None
        if down is not None:
            return _fault_response(down.status)
        if fault is not None:
            if fault.delay_s:
                time.sleep(fault.delay_s)
            if fault.status is not None:
                return _fault_response(fault.status)
        try:
            return self._dispatch(request)
        except _ApiError as exc:
            body = {
                "code": exc.code,
                "message": exc.message,
                "data": {"status": exc.status, **exc.data},
            }
            return _json(body, exc.status)

    def _dispatch(self, request: Request) -> Response:
        if not request.path.startswith("/wp-json/"):
            # Outside the REST API WordPress renders its theme's "not found" page: HTML, no
            # WooCommerce error code (what a wrong store address gets).
            return _not_found_page()
        auth = self._auth.authenticate(request)
        if isinstance(auth, AuthError):
            raise _ApiError(auth.status, auth.code, auth.message)
        if request.path.startswith(_API + "/webhooks"):
            return self.webhooks.handle(request, authenticated=auth is True)
        if self.catalog.claims(request):
            return self.catalog.handle(request, authenticated=auth is True)
        route = next(
            ((name, m) for name, pattern in _ROUTES if (m := pattern.match(request.path))), None
        )
        if route is None or request.method != "GET":
            raise _ApiError(
                404, "rest_no_route", "No route was found matching the URL and request method."
            )
        name, match = route
        collection = name in ("orders", "customers", "refunds")
        if auth is not True:
            raise _ApiError(
                401,
                "woocommerce_rest_cannot_view",
                "Sorry, you cannot list resources."
                if collection
                else "Sorry, you cannot view this resource.",
            )
        ids = [int(g) for g in match.groups()]
        with self._lock:
            if name == "order":
                return _json(self._single("order", ids[0]))
            if name == "customer":
                return _json(self._single("customer", ids[0]))
            if name == "product":
                return _json(self._render_product(ids[0]))
            if name == "orders":
                return self._list_orders(request)
            if name == "customers":
                return self._list_customers(request)
            if ids[0] not in self._orders:
                raise _ApiError(404, "woocommerce_rest_order_invalid_id", "Invalid order ID.")
            refunds = self._orders[ids[0]].refunds
            if name == "refund":
                for refund in refunds:
                    if refund["id"] == ids[1]:
                        return _json(self._render_refund(ids[0], refund))
                raise _ApiError(404, "woocommerce_rest_shop_order_refund_invalid_id", "Invalid ID.")
            rendered = [self._render_refund(ids[0], r) for r in refunds]
            return self._page(request, rendered, f"orders/{ids[0]}/refunds")

    def _page(self, request: Request, items: Sequence[Any], path: str) -> Response:
        per_page = _int_param(request, "per_page", 10, 1, 100)
        page = _int_param(request, "page", 1, 1, None)
        total = len(items)
        pages = -(-total // per_page)
        chunk = list(items[(page - 1) * per_page : page * per_page])
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        base = {k: v[-1] for k, v in request.query.items() if not k.startswith("oauth_")}
        links = []
        if page > 1:
            links.append(f'<{self._url(path, base, min(page - 1, max(pages, 1)))}>; rel="prev"')
        if page < pages:
            links.append(f'<{self._url(path, base, page + 1)}>; rel="next"')
        if links:
            headers["Link"] = ", ".join(links)
        return _json(chunk, 200, headers)

    def _url(self, path: str, params: dict[str, str], page: int) -> str:
        return f"{self.home_url}{_API}/{path}?{urlencode({**params, 'page': str(page)})}"

    def _list_orders(self, request: Request) -> Response:
        gmt = (request.arg("dates_are_gmt") or "").lower() in ("1", "true")
        date_field = "_gmt" if gmt else ""
        status = request.arg("status") or "any"
        wanted = set(status.split(",")) if status != "any" else None
        bounds = {
            ("date_created", ">"): request.arg("after"),
            ("date_created", "<"): request.arg("before"),
            ("date_modified", ">"): request.arg("modified_after"),
            ("date_modified", "<"): request.arg("modified_before"),
        }
        limits = {key: self._date_param(name, value, gmt) for key, value in bounds.items()
                  if value is not None for name in [key[0]]}  # fmt: skip
        customer = request.arg("customer")
        docs = []
        for order_id in self._orders:
            doc = self._orders[order_id].doc
            if wanted is None and doc["status"] == "trash":
                continue
            if wanted is not None and doc["status"] not in wanted:
                continue
            if customer is not None and str(doc["customer_id"]) != customer:
                continue
            if not all(
                (doc[f + date_field] > v) if op == ">" else (doc[f + date_field] < v)
                for (f, op), v in limits.items()
            ):
                continue
            docs.append(doc)
        orderby = request.arg("orderby") or "date"
        keys: dict[str, Callable[[dict[str, Any]], Any]] = {
            "date": lambda d: (d["date_created_gmt"], d["id"]),
            "modified": lambda d: (d["date_modified_gmt"], d["id"]),
            "id": lambda d: d["id"],
            "include": lambda d: d["id"],
            "title": lambda d: d["id"],
            "slug": lambda d: d["id"],
        }
        if orderby not in keys:
            raise _invalid_param("orderby", f"orderby is not one of {', '.join(keys)}.")
        order = request.arg("order") or "desc"
        docs.sort(key=keys[orderby], reverse=order == "desc")
        return self._page(request, [self._render_order(d["id"]) for d in docs], "orders")

    def _date_param(self, name: str, value: str, gmt: bool) -> str:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise _invalid_param(name, "Invalid date.") from None
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
            if not gmt:
                moment += self._offset
        return moment.replace(microsecond=0).isoformat()

    def _list_customers(self, request: Request) -> Response:
        # The customers endpoint has no modified_after (woocommerce#41371); it is ignored.
        role = request.arg("role") or "customer"
        email = request.arg("email")
        customers = [
            c for c in self._customers.values()
            if (role == "all" or c["role"] == role) and (email is None or c["email"] == email)
        ]  # fmt: skip
        orderby = request.arg("orderby") or "name"
        keys: dict[str, Callable[[dict[str, Any]], Any]] = {
            "id": lambda c: c["id"],
            "include": lambda c: c["id"],
            "name": lambda c: (f"{c['first_name']} {c['last_name']}".lower(), c["id"]),
            "registered_date": lambda c: (c["date_created_gmt"], c["id"]),
        }
        if orderby not in keys:
            raise _invalid_param("orderby", f"orderby is not one of {', '.join(keys)}.")
        customers.sort(key=keys[orderby], reverse=(request.arg("order") or "asc") == "desc")
        return self._page(request, [self._render_customer(c["id"]) for c in customers], "customers")


def _json(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        status,
        php_json(payload),
        {"Content-Type": "application/json; charset=UTF-8", **(headers or {})},
    )


def _invalid_param(name: str, reason: str) -> _ApiError:
    return _ApiError(
        400, "rest_invalid_param", f"Invalid parameter(s): {name}", params={name: reason}
    )


def _int_param(request: Request, name: str, default: int, low: int, high: int | None) -> int:
    raw = request.arg(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _invalid_param(name, f"{name} is not of type integer.") from None
    if value < low or (high is not None and value > high):
        bound = f"between {low} (inclusive) and {high} (inclusive)" if high else f">= {low}"
        raise _invalid_param(name, f"{name} must be {bound}")
    return value


def _not_found_page() -> Response:
    return Response.of_text(
        "<!DOCTYPE html><html><head><title>Page not found</title></head><body>"
        "<h1>Oops! That page can&rsquo;t be found.</h1></body></html>",
        404,
        "text/html",
    )


def _fault_response(status: int) -> Response:
    if status == 404:
        # A proxy, cache or security plugin answering in the store's place: no error code.
        return Response.of_text(
            "<html><body><h1>404 Not Found</h1></body></html>", 404, "text/html"
        )
    if status == 429:
        response = Response.of_text("<html><body>Too Many Requests</body></html>", 429, "text/html")
        response.headers["Retry-After"] = "1"
        return response
    if status == 503:
        return Response.of_text(
            "<html><body><h1>503 Service Unavailable</h1></body></html>", 503, "text/html"
        )
    if status == 500:
        return _json(
            {
                "code": "internal_server_error",
                "message": "<p>There has been a critical error on this website.</p>",
                "data": {"status": 500},
            },
            500,
        )
    return _json(
        {"code": "simulated_fault", "message": "Simulated fault.", "data": {"status": status}},
        status,
    )

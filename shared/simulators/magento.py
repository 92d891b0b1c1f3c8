"""A simulated Magento 2 store: catalogue, customers, orders, invoices, credit memos, REST V1.

``MagentoSimulator.handle(request)`` answers like ``/rest/<store_code>/V1/`` on a real
store, in the shapes of the Adobe Commerce REST reference: every money field twice (``x``
in the order currency, ``base_x`` in the base currency, ``base_to_order_rate`` between
them), configurable products as a parent row carrying the price and the child's SKU plus a
child row at price 0, bundles as a parent plus children that repeat their prices, guests
with ``customer_is_guest``, credit memos with adjustments (refused when not positive),
searchCriteria filtering, sorting and paging, the catalogue's products, categories and
customer groups (simulators.magento_catalogue), orders persisted through ``POST /V1/orders``
with their comments (simulators.magento_order_writes), OAuth 1.0a HMAC-SHA256 checks
(simulators.magento_auth), the integration's API resources (``granted``: a read outside them
is Magento's 401 naming the resource) and injected faults (5xx, 429, slowness). Mutations (``create_order``, ``invoice``, ``refund`` ...) let a
scenario drive the store; ``signed_hint`` builds the connector's push.

Deterministic for a given ``clock``; safe to call from several threads.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import unquote

from simulators.httpserver import LoopbackServer, Request, Response
from simulators.magento_auth import IntegrationAuth
from simulators.magento_catalog import MagentoCatalog
from simulators.magento_catalogue import (
    CATALOGUE,
    CATEGORIES,
    GROUPS,
    Product,
    category_doc,
    group_doc,
    product_doc,
)
from simulators.magento_order_writes import OrderWrites
from simulators.magento_search import SearchError, apply, parse

__all__ = ["CATALOGUE", "LineSpec", "MagentoSimulator", "OrderSpec", "Product", "signed_hint"]

ZERO = Decimal("0")
CENT = Decimal("0.01")


def r2(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _num(amount: Decimal) -> float | int:
    """Money as Magento prints it in JSON: a number."""
    value = r2(amount)
    return int(value) if value == value.to_integral_value() else float(value)


_API = re.compile(r"^/rest/(?P<code>[a-z0-9_]+)/V1/(?P<path>.+?)/?$")


@dataclass(frozen=True)
class LineSpec:
    sku: str  # a simple SKU, a configurable's child SKU (sold through its parent), or a bundle
    qty: int = 1
    parent: str | None = None  # the configurable parent's SKU


@dataclass
class OrderSpec:
    lines: list[LineSpec]
    currency: str | None = None  # the order currency (the base one when None)
    base_to_order_rate: Decimal = Decimal(1)
    tax_percent: Decimal = ZERO
    shipping: Decimal = Decimal("5.00")  # base currency, per order
    customer_id: int | None = None  # None: a guest
    customer_group_id: int | None = None  # None: the customer's group (guests: 0)
    email: str = "guest@example.com"
    firstname: str = "Gail"
    lastname: str = "Guest"
    status: str = "pending"
    payment_method: str = "checkmo"


@dataclass
class _Fault:
    status: int | None
    delay_s: float


@dataclass
class _Stored:
    doc: dict[str, Any]
    spec: OrderSpec


def signed_hint(entity_id: int | str, secret: str, **extra: Any) -> tuple[bytes, dict[str, str]]:
    """The connector's push for a record: a JSON body and its hex HMAC-SHA256 header."""
    body = json.dumps({"entity_id": entity_id, **extra}).encode("utf-8")
    signature = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "X-Magento-Signature": signature}


class MagentoSimulator:
    def __init__(
        self,
        *,
        consumer_key: str,
        consumer_secret: str,
        access_token: str,
        access_token_secret: str,
        clock: Callable[[], float] = time.time,
        base_currency: str = "USD",
        store_code: str = "default",
        auth_clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self.base_currency = base_currency
        self.store_code = store_code
        self.auth = IntegrationAuth(
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            access_token=access_token,
            access_token_secret=access_token_secret,
            clock=auth_clock,  # OAuth timestamps are checked against the server's real time
        )
        self._lock = threading.RLock()
        self._orders: dict[int, _Stored] = {}
        self._invoices: dict[int, dict[str, Any]] = {}
        self._memos: dict[int, dict[str, Any]] = {}
        self._customers: dict[int, dict[str, Any]] = {}
        self._ids = {k: itertools.count(1) for k in ("order", "item", "invoice", "memo", "cust")}
        self._faults: deque[_Fault] = deque()
        # Called with each authenticated request before it is answered (tests move records).
        self.before_answer: Callable[[Request], None] | None = None
        # The API resources the integration was given (System > Integrations > API).
        self.granted: set[str] = set(RESOURCES.values())
        self.requests: list[Request] = []
        # Products, stock, categories and customer writes (issue #13), over the same customers.
        self.catalog = MagentoCatalog(
            self._customers, self.stamp, lambda: next(self._ids["cust"]), base_currency
        )
        # Orders persisted through POST /V1/orders with the totals given (invoices → orders).
        self.order_writes = OrderWrites(
            order_id=lambda: next(self._ids["order"]),
            item_id=lambda: next(self._ids["item"]),
            orders=lambda oid: self._orders[oid].doc if oid in self._orders else None,
            save=lambda oid, doc: self._orders.__setitem__(oid, _Stored(doc, OrderSpec([]))),
            stamp=self.stamp,
            base_currency=base_currency,
        )

    # -- time and faults -------------------------------------------------------------------
    def stamp(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%d %H:%M:%S")

    def inject(self, status: int | None, times: int = 1, *, delay_s: float = 0.0) -> None:
        """The next ``times`` requests fail with ``status`` (None: only slow) after ``delay_s``."""
        with self._lock:
            self._faults.extend(_Fault(status, delay_s) for _ in range(times))

    # -- customers -------------------------------------------------------------------------
    def create_customer(self, email: str, firstname: str, lastname: str, group_id: int = 1) -> int:
        with self._lock:
            cid = next(self._ids["cust"])
            now = self.stamp()
            self._customers[cid] = {
                "id": cid, "group_id": group_id, "email": email, "firstname": firstname,
                "lastname": lastname, "created_at": now, "updated_at": now, "store_id": 1,
                "website_id": 1, "addresses": [], "default_billing": "",
            }  # fmt: skip
            return cid

    def update_customer(self, customer_id: int, **changes: Any) -> None:
        with self._lock:
            self._customers[customer_id].update(changes, updated_at=self.stamp())

    # -- orders ----------------------------------------------------------------------------
    def create_order(self, spec: OrderSpec) -> int:
        with self._lock:
            oid = next(self._ids["order"])
            doc = self._price(oid, spec)
            self._orders[oid] = _Stored(doc, spec)
            return oid

    def _rows(self, oid: int, line: LineSpec) -> list[dict[str, Any]]:
        product = CATALOGUE[line.sku]
        if line.parent is not None:
            parent = CATALOGUE[line.parent]
            if parent.type != "configurable" or line.sku not in parent.children:
                raise ValueError(f"{line.sku} is not an option of {line.parent}")
            head = self._row(oid, parent, line.qty, sku=product.sku, name=parent.name)
            child = self._row(oid, product, line.qty, price=ZERO)
            return [head, _child_of(child, head)]
        if product.type == "bundle":
            parts = [CATALOGUE[s] for s in product.children]
            head = self._row(oid, product, line.qty, price=sum((p.price for p in parts), ZERO))
            head["sku"] = "-".join([product.sku, *product.children])
            return [head, *(_child_of(self._row(oid, p, line.qty), head) for p in parts)]
        return [self._row(oid, product, line.qty)]

    def _row(
        self,
        oid: int,
        product: Product,
        qty: int,
        *,
        price: Decimal | None = None,
        sku: str | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        return {
            "item_id": next(self._ids["item"]), "order_id": oid, "product_id": product.id,
            "product_type": product.type, "sku": sku or product.sku, "name": name or product.name,
            "qty_ordered": qty, "_base_price": product.price if price is None else price,
        }  # fmt: skip

    def _price(self, oid: int, spec: OrderSpec) -> dict[str, Any]:
        rate = spec.base_to_order_rate
        currency = spec.currency or self.base_currency
        rows = [row for line in spec.lines for row in self._rows(oid, line)]
        pct = spec.tax_percent / 100
        sums = {k: ZERO for k in ("subtotal", "tax", "base_subtotal", "base_tax")}
        for row in rows:
            base_price = row.pop("_base_price")
            price = r2(base_price * rate)
            row_total = r2(price * row["qty_ordered"])
            base_row = r2(base_price * row["qty_ordered"])
            counted = "parent_item_id" not in row
            tax = r2(row_total * pct) if counted else ZERO
            base_tax = r2(base_row * pct) if counted else ZERO
            row.update(
                price=_num(price), base_price=_num(base_price), original_price=_num(price),
                row_total=_num(row_total), base_row_total=_num(base_row),
                tax_amount=_num(tax), base_tax_amount=_num(base_tax),
                tax_percent=_num(spec.tax_percent) if counted else 0,
                row_total_incl_tax=_num(row_total + tax),
                discount_amount=0, base_discount_amount=0,
                discount_tax_compensation_amount=0,
                qty_invoiced=0, qty_refunded=0, amount_refunded=0,
            )  # fmt: skip
            if counted:
                sums["subtotal"] += row_total
                sums["tax"] += tax
                sums["base_subtotal"] += base_row
                sums["base_tax"] += base_tax
        for row in rows:  # the child rows carry a copy of their parent, as Magento does
            if "parent_item_id" in row:
                parent = next(r for r in rows if r["item_id"] == row["parent_item_id"])
                row["parent_item"] = {k: v for k, v in parent.items() if k != "parent_item"}
        shipping = r2(spec.shipping * rate)
        ship_tax = r2(shipping * pct)
        base_ship_tax = r2(spec.shipping * pct)
        tax = sums["tax"] + ship_tax
        base_tax = sums["base_tax"] + base_ship_tax
        grand = sums["subtotal"] + shipping + tax
        base_grand = sums["base_subtotal"] + spec.shipping + base_tax
        now = self.stamp()
        guest = spec.customer_id is None
        address = {
            "address_type": "billing", "firstname": spec.firstname, "lastname": spec.lastname,
            "street": ["1 Market St", "Suite 5"], "city": "Austin", "region": "Texas",
            "region_code": "TX", "postcode": "78701", "country_id": "US",
            "telephone": "512-555-0100", "email": spec.email, "parent_id": oid,
        }  # fmt: skip
        applied = []
        if tax:
            applied = [{"code": "US-TX-*-Rate 1", "title": "US-TX-*-Rate 1",
                        "percent": _num(spec.tax_percent), "amount": _num(tax),
                        "base_amount": _num(base_tax)}]  # fmt: skip
        doc: dict[str, Any] = {
            "entity_id": oid, "increment_id": f"{oid:09d}", "state": "new",
            "status": spec.status, "created_at": now, "updated_at": now,
            "order_currency_code": currency, "base_currency_code": self.base_currency,
            "global_currency_code": self.base_currency, "store_currency_code": self.base_currency,
            "base_to_order_rate": _rate(rate), "base_to_global_rate": 1,
            "customer_email": spec.email, "customer_firstname": spec.firstname,
            "customer_lastname": spec.lastname, "customer_is_guest": 1 if guest else 0,
            "customer_group_id": 0 if guest else self._group_of(spec),
            "subtotal": _num(sums["subtotal"]), "base_subtotal": _num(sums["base_subtotal"]),
            "shipping_amount": _num(shipping), "base_shipping_amount": _num(spec.shipping),
            "shipping_tax_amount": _num(ship_tax), "base_shipping_tax_amount": _num(base_ship_tax),
            "shipping_discount_amount": 0, "shipping_description": "Flat Rate - Fixed",
            "discount_amount": 0, "base_discount_amount": 0,
            "discount_tax_compensation_amount": 0,
            "tax_amount": _num(tax), "base_tax_amount": _num(base_tax),
            "grand_total": _num(grand), "base_grand_total": _num(base_grand),
            "total_paid": 0, "base_total_paid": 0, "total_refunded": 0,
            "base_total_refunded": 0, "total_due": _num(grand), "is_virtual": 0,
            "items": rows, "billing_address": address,
            "payment": {"method": spec.payment_method, "amount_ordered": _num(grand),
                        "additional_information": ["Check / Money order"]},
            "status_histories": [],
            "extension_attributes": {
                "shipping_assignments": [{"shipping": {
                    "address": {**address, "address_type": "shipping"},
                    "method": "flatrate_flatrate",
                    "total": {"shipping_amount": _num(shipping)}}, "items": rows}],
                "applied_taxes": applied,
            },
        }  # fmt: skip
        if not guest:
            doc["customer_id"] = spec.customer_id
        return doc

    def _group_of(self, spec: OrderSpec) -> int:
        if spec.customer_group_id is not None:
            return spec.customer_group_id
        customer = self._customers.get(spec.customer_id or 0)
        return int(customer["group_id"]) if customer else 1

    def _doc(self, order_id: int) -> dict[str, Any]:
        stored = self._orders.get(order_id)
        if stored is None:
            raise KeyError(order_id)
        return stored.doc

    def update_order(self, order_id: int, **changes: Any) -> None:
        with self._lock:
            doc = self._doc(order_id)
            doc.update(changes)
            doc["updated_at"] = self.stamp()

    def touch(self, order_id: int) -> None:
        self.update_order(order_id)

    def delete_order(self, order_id: int) -> None:
        with self._lock:
            del self._orders[order_id]

    def cancel(self, order_id: int) -> None:
        self.update_order(order_id, state="canceled", status="canceled")

    def invoice(self, order_id: int) -> int:
        """Invoice the whole order: paid (``total_paid``), ``processing``."""
        with self._lock:
            doc = self._doc(order_id)
            iid = next(self._ids["invoice"])
            now = self.stamp()
            self._invoices[iid] = {
                "entity_id": iid, "order_id": order_id, "increment_id": f"{iid:09d}",
                "created_at": now, "updated_at": now, "grand_total": doc["grand_total"],
                "base_grand_total": doc["base_grand_total"], "state": 2,
            }  # fmt: skip
            for row in doc["items"]:
                row["qty_invoiced"] = row["qty_ordered"]
            self.update_order(
                order_id, total_paid=doc["grand_total"], base_total_paid=doc["base_grand_total"],
                total_due=0, state="processing", status="processing",
            )  # fmt: skip
            return iid

    def refund(
        self,
        order_id: int,
        qtys: Mapping[str, int] | None = None,
        *,
        shipping: bool = True,
        adjustment_positive: Decimal = ZERO,
        adjustment_negative: Decimal = ZERO,
        comment: str = "",
    ) -> int:
        """A credit memo for ``qtys`` (order SKU -> qty; every row when None), the shipping, and
        the adjustments (order currency). The order closes when all of it is refunded."""
        with self._lock:
            doc = self._doc(order_id)
            stored = self._orders[order_id]
            mid = next(self._ids["memo"])
            pct = stored.spec.tax_percent / 100
            items: list[dict[str, Any]] = []
            taken: list[tuple[dict[str, Any], int]] = []
            subtotal, tax = ZERO, ZERO
            for row in doc["items"]:
                head = row.get("parent_item_id")
                key = row["parent_item"]["sku"] if head else row["sku"]
                wanted = row["qty_ordered"] if qtys is None else qtys.get(key, 0)
                if not wanted:
                    continue
                row_total = r2(Decimal(str(row["price"])) * wanted)
                row_tax = r2(row_total * pct) if head is None else ZERO
                if head is None:
                    subtotal += row_total
                    tax += row_tax
                taken.append((row, wanted))
                items.append({
                    "entity_id": mid * 100 + len(items), "parent_id": mid,
                    "order_item_id": row["item_id"], "sku": row["sku"], "name": row["name"],
                    "qty": wanted, "price": row["price"], "row_total": _num(row_total),
                    "tax_amount": _num(row_tax), "discount_amount": 0,
                })  # fmt: skip
            ship = Decimal(str(doc["shipping_amount"])) if shipping else ZERO
            ship_tax = Decimal(str(doc["shipping_tax_amount"])) if shipping else ZERO
            grand = subtotal + ship + tax + ship_tax + adjustment_positive - adjustment_negative
            if grand <= 0:
                raise ValueError("The credit memo's total must be positive.")
            available = Decimal(str(doc["total_paid"])) - Decimal(str(doc["total_refunded"]))
            if grand > available:
                raise ValueError(f"The most money available to refund is {available}.")
            for row, wanted in taken:
                row["qty_refunded"] = row.get("qty_refunded", 0) + wanted
            now = self.stamp()
            self._memos[mid] = {
                "entity_id": mid, "order_id": order_id, "increment_id": f"{mid:09d}",
                "created_at": now, "updated_at": now, "state": 2,
                "order_currency_code": doc["order_currency_code"],
                "subtotal": _num(subtotal), "shipping_amount": _num(ship),
                "shipping_tax_amount": _num(ship_tax), "tax_amount": _num(tax + ship_tax),
                "adjustment_positive": _num(adjustment_positive),
                "adjustment_negative": _num(adjustment_negative),
                "adjustment": _num(adjustment_positive - adjustment_negative),
                "grand_total": _num(grand), "customer_note": comment, "items": items,
            }  # fmt: skip
            refunded = Decimal(str(doc["total_refunded"])) + grand
            closed = refunded >= Decimal(str(doc["grand_total"]))
            self.update_order(
                order_id,
                total_refunded=_num(refunded),
                **({"state": "closed", "status": "closed"} if closed else {}),
            )
            return mid

    def amend_credit_memo(self, memo_id: int, **fields: Any) -> None:
        """Overwrite fields of a stored credit memo, as a third-party module writing memos
        straight to the database can: its totals then disagree with its rows."""
        with self._lock:
            memo = self._memos[memo_id]
            memo.update(fields)
            memo["updated_at"] = self.stamp()

    def order(self, order_id: int) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._doc(order_id))

    # -- HTTP ------------------------------------------------------------------------------
    def serve(self) -> LoopbackServer:
        return LoopbackServer(self.handle).start()

    def handle(self, request: Request) -> Response:
        fault = None
        with self._lock:
            self.requests.append(request)
            if self._faults:
                fault = self._faults.popleft()
        if fault is not None:
            if fault.delay_s:
                time.sleep(fault.delay_s)
            if fault.status is not None:
                return _error(fault.status, _FAULT_MESSAGES.get(fault.status, "Server error"))
        match = _API.match(request.path)
        if match is None or match.group("code") != self.store_code:
            return _error(404, "Request does not match any route.")
        url = f"http://{request.headers.get('host', '')}{request.path}"
        refusal = self.auth.authenticate(request, url)
        if refusal is not None:
            return _error(401, refusal.message, list(refusal.parameters))
        resource = RESOURCES.get(match.group("path").split("/", 1)[0])
        if resource is not None and resource not in self.granted:
            # The integration was saved without this API resource.
            return _error(
                401, "The consumer isn't authorized to access %resources.", {"resources": resource}
            )
        if self.before_answer is not None:
            self.before_answer(request)
        try:
            with self._lock:
                return self._route(request, match.group("path"))
        except SearchError as exc:
            return _error(400, str(exc))

    def _route(self, request: Request, path: str) -> Response:
        answered = self.catalog.route(request, path) or self.order_writes.route(request, path)
        if answered is not None:
            return answered
        if request.method != "GET":
            return _error(405, "Request does not match any route.")
        parts = path.split("/")
        if parts[0] == "orders" and len(parts) == 2 and parts[1].isdigit():
            found = self._orders.get(int(parts[1]))
            if found is None:
                return _error(404, "The entity that was requested doesn't exist. Verify the entity and try again.")  # fmt: skip
            return Response.of_json(found.doc)
        if path == "orders":
            return self._search(request, [s.doc for s in self._orders.values()], "entity_id")
        if path == "creditmemos":
            return self._search(request, list(self._memos.values()), "entity_id")
        if parts[0] == "creditmemo" and len(parts) == 2 and parts[1].isdigit():
            memo = self._memos.get(int(parts[1]))
            if memo is None:
                return _error(404, "The entity that was requested doesn't exist. Verify the entity and try again.")  # fmt: skip
            return Response.of_json(memo)
        if path == "invoices":
            return self._search(request, list(self._invoices.values()), "entity_id")
        if path == "products":
            rows = [product_doc(p) for p in CATALOGUE.values()]
            return self._search(request, rows, "entity_id", drop=("entity_id",))
        if parts[0] == "products" and len(parts) == 2:
            product = CATALOGUE.get(unquote(parts[1]))
            if product is None:
                return _error(404, "The product that was requested doesn't exist. Verify the product and try again.")  # fmt: skip
            return Response.of_json({k: v for k, v in product_doc(product).items() if k != "entity_id"})  # fmt: skip
        if parts[0] == "categories" and len(parts) == 2 and parts[1].isdigit():
            category = CATEGORIES.get(int(parts[1]))
            if category is None:
                return _error(404, "No such entity with %fieldName = %fieldValue", {"fieldName": "id", "fieldValue": parts[1]})  # fmt: skip
            return Response.of_json(category_doc(category))
        if parts[0] == "customerGroups" and len(parts) == 2 and parts[1].isdigit():
            code = GROUPS.get(int(parts[1]))
            if code is None:
                return _error(404, "No such entity with %fieldName = %fieldValue", {"fieldName": "id", "fieldValue": parts[1]})  # fmt: skip
            return Response.of_json(group_doc(int(parts[1]), code))
        if path == "customers/search":
            rows = [{**c, "entity_id": c["id"]} for c in self._customers.values()]
            return self._search(request, rows, "entity_id", drop=("entity_id",))
        if parts[0] == "customers" and len(parts) == 2 and parts[1].isdigit():
            customer = self._customers.get(int(parts[1]))
            if customer is None:
                return _error(404, 'No such entity with %fieldName = %fieldValue', {"fieldName": "customerId", "fieldValue": parts[1]})  # fmt: skip
            return Response.of_json(customer)
        return _error(404, "Request does not match any route.")

    def _search(
        self,
        request: Request,
        records: list[dict[str, Any]],
        default_sort: str,
        drop: tuple[str, ...] = (),
    ) -> Response:
        search = parse(request.query)
        page, total = apply(search, records, default_sort)
        items = [{k: v for k, v in r.items() if k not in drop} for r in page]
        return Response.of_json(
            {"items": copy.deepcopy(items), "search_criteria": search.echo(), "total_count": total}
        )


# The API resource (ACL) each family of reads needs, as an integration is granted them.
RESOURCES = {
    "orders": "Magento_Sales::actions_view",
    "creditmemo": "Magento_Sales::sales_creditmemo",
    "creditmemos": "Magento_Sales::sales_creditmemo",
    "invoices": "Magento_Sales::sales_invoice",
    "customers": "Magento_Customer::customer",
    "customerGroups": "Magento_Customer::group",
    "products": "Magento_Catalog::products",
    "categories": "Magento_Catalog::categories",
}


_FAULT_MESSAGES = {429: "Too Many Requests", 500: "Internal Error.", 503: "Service Unavailable"}


def _child_of(child: dict[str, Any], parent: dict[str, Any]) -> dict[str, Any]:
    child["parent_item_id"] = parent["item_id"]
    return child


def _rate(rate: Decimal) -> float | int:
    return int(rate) if rate == rate.to_integral_value() else float(rate)


def _error(status: int, message: str, parameters: Any = None) -> Response:
    body: dict[str, Any] = {"message": message}
    if parameters:
        body["parameters"] = parameters
    return Response.of_json(body, status)

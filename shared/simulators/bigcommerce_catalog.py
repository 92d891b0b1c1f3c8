"""The simulated BigCommerce store's writes (issue #13): catalog, customers, orders, shipments.

What the connector writes back from QuickBooks, as BigCommerce's REST API takes it:

- ``/v3/catalog/products`` (GET ``?sku=``, ``?name=``, ``?id:in=``; POST; GET, PUT and DELETE
  by id): a product needs ``name``, ``type``, ``weight`` and ``price`` (422 with ``errors``
  naming each one missing); a name or SKU another product has is refused 409 ("The product
  name is a duplicate"). ``inventory_level`` is kept only while ``inventory_tracking`` is
  "product" (a variant's while it is "variant"); otherwise BigCommerce ignores it.
- ``/v3/catalog/products/{id}/variants`` (GET; PUT by id: ``price``, ``inventory_level``,
  ``sku``) and ``/v3/catalog/variants?sku=``.
- Categories through the category trees API, BigCommerce's current one (``/v3/catalog/
  categories`` is deprecated): ``/v3/catalog/trees`` (the default channel's tree, id 1) and
  ``/v3/catalog/trees/categories`` (GET ``?name=``, ``?parent_id:in=``, ``?tree_id:in=``;
  POST an array of ``name``, ``tree_id``, ``parent_id``): a name is unique among its
  siblings (422 with ``errors``).
- ``/v3/customers``: GET ``?email:in=``; POST and PUT take arrays (up to 10; 413 above);
  a duplicate e-mail is refused 422 with ``errors``; PUT refuses sub-resources (addresses),
  which go through ``/v3/customers/addresses`` (POST, PUT, arrays).
- ``/v2/store`` (the store's ``currency``); ``/v2/orders`` POST and ``/v2/orders/{id}`` PUT:
  catalog ``products`` by ``product_id`` (their prices as given with and without tax, else the
  catalog price with the store's tax added), ``fees``, ``billing_address`` (required),
  ``status_id``, ``staff_notes``, ``customer_message``, the total overrides (``total_ex_tax``
  and ``total_inc_tax`` together, or 400); a product line given as ``{id, quantity: 0}`` on a
  PUT is removed and ``fees`` given replace the order's. ``/v2/orders/{id}/shipments`` POST
  needs ``order_address_id`` (one of the order's shipping addresses) and ``items``.

Every write fires its webhook (``store/product/updated``, ``store/customer/created``,
``store/order/created``...) after the store's lock is let go, as BigCommerce's hooks do for
any change, so the connector's own writes come back to it as echoes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import format_datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from simulators.bigcommerce_orders import m as _m
from simulators.httpserver import Request, Response

if TYPE_CHECKING:
    from simulators.bigcommerce import BigCommerceSimulator

# The write scopes (Products modify, Customers modify, Orders modify) the API account needs.
WRITE_SCOPES = frozenset({"products", "customers_modify", "orders_modify"})
MAX_CUSTOMERS_PER_CALL = 10
TREE_ID = 1  # the default channel's category tree
_ZERO = Decimal(0)


class Refusal(Exception):
    """A BigCommerce error answer (V3: status, title, errors; V2: [{status, message}])."""

    def __init__(
        self, status: int, title: str, errors: dict[str, str] | None = None, *, v2: bool = False
    ) -> None:
        super().__init__(title)
        self.status, self.title, self.errors, self.v2 = status, title, errors or {}, v2

    def response(self) -> Response:
        if self.v2:
            return Response.of_json([{"status": self.status, "message": self.title}], self.status)
        body: dict[str, Any] = {"status": self.status, "title": self.title, "type": "about:blank"}
        if self.errors:
            body["errors"] = self.errors
        return Response.of_json(body, self.status)


@dataclass
class Variant:
    id: int
    product_id: int
    sku: str
    price: Decimal | None
    option_values: list[dict[str, Any]]
    inventory_level: int = 0


@dataclass
class Fired:
    """Webhooks a write fired, delivered once the store's lock is let go."""

    events: list[tuple[str, int]] = field(default_factory=list)

    def add(self, scope: str, record_id: int) -> None:
        self.events.append((scope, record_id))


class BigCommerceCatalog:
    """The writes of one simulated BigCommerce store; ``sim`` holds its orders and customers."""

    def __init__(self, sim: BigCommerceSimulator, currency: str = "USD") -> None:
        self._sim = sim
        self.currency = currency
        self._ids = itertools.count(1000)
        self.products: dict[int, dict[str, Any]] = {}
        self.variants: dict[int, Variant] = {}
        self.categories: dict[int, dict[str, Any]] = {}
        self.shipments: dict[int, list[dict[str, Any]]] = {}
        self.writes = 0  # successful writes ("written once" tests count them)
        self.pending = Fired()

    # -- the merchant's own catalogue ---------------------------------------------------------

    def add_product(
        self,
        name: str,
        sku: str,
        price: Decimal,
        *,
        variants: Sequence[tuple[str, Decimal]] = (),
        inventory_tracking: str = "none",
        inventory_level: int = 0,
    ) -> int:
        pid = next(self._ids)
        self.products[pid] = {
            "id": pid, "name": name, "type": "physical", "sku": sku, "description": "",
            "price": price, "weight": Decimal(1), "categories": [], "is_visible": True,
            "inventory_tracking": inventory_tracking,
            "inventory_level": inventory_level if inventory_tracking == "product" else 0,
            "date_created": self._now(), "date_modified": self._now(),
        }  # fmt: skip
        for n, (variant_sku, variant_price) in enumerate(variants, start=1):
            vid = next(self._ids)
            self.variants[vid] = Variant(
                vid, pid, variant_sku, variant_price, [{"option_display_name": "Size", "id": n}]
            )
        return pid

    def delete_product(self, pid: int) -> None:
        self.products.pop(pid, None)
        for vid in [v.id for v in self.variants.values() if v.product_id == pid]:
            del self.variants[vid]

    # -- routing ------------------------------------------------------------------------------

    def route(self, request: Request, path: str) -> Callable[[], Response] | None:
        """The answer for a write route (None: not the catalog's)."""
        method, parts = request.method, path.strip("/").split("/")
        table: list[tuple[tuple[str, ...], str, str, Callable[..., Response]]] = [
            (("v3", "catalog", "products"), "GET", "", self._list_products),
            (("v3", "catalog", "products"), "POST", "products", self._create_product),
            (("v3", "catalog", "products", "#"), "GET", "", self._get_product),
            (("v3", "catalog", "products", "#"), "PUT", "products", self._update_product),
            (("v3", "catalog", "products", "#"), "DELETE", "products", self._delete_product),
            (("v3", "catalog", "products", "#", "variants"), "GET", "", self._product_variants),
            (
                ("v3", "catalog", "products", "#", "variants", "#"),
                "PUT",
                "products",
                self._update_variant,
            ),
            (("v3", "catalog", "variants"), "GET", "", self._find_variants),
            (("v3", "catalog", "trees"), "GET", "", self._trees),
            (("v3", "catalog", "trees", "categories"), "GET", "", self._list_categories),
            (("v3", "catalog", "trees", "categories"), "POST", "products", self._create_categories),
            (("v3", "customers"), "POST", "customers_modify", self._create_customers),
            (("v3", "customers"), "PUT", "customers_modify", self._update_customers),
            (("v3", "customers", "addresses"), "POST", "customers_modify", self._add_addresses),
            (("v3", "customers", "addresses"), "PUT", "customers_modify", self._put_addresses),
            (("v2", "store"), "GET", "", self._store),
            (("v2", "orders"), "POST", "orders_modify", self._create_order),
            (("v2", "orders", "#"), "PUT", "orders_modify", self._update_order),
            (("v2", "orders", "#", "shipments"), "POST", "orders_modify", self._ship),
            (("v2", "orders", "#", "shipments"), "GET", "", self._shipments),
        ]
        if parts[:2] == ["v3", "customers"] and len(parts) == 2 and method == "GET":
            if request.arg("email:in") is None:
                return None  # the reader's listing (simulators.bigcommerce)
            return partial(self._answer, partial(self._find_customers, request))
        for shape, verb, scope, answer in table:
            if verb != method or len(shape) != len(parts):
                continue
            ids = [p for s, p in zip(shape, parts, strict=True) if s == "#"]
            if any(not i.isdigit() for i in ids) or any(
                s != "#" and s != p for s, p in zip(shape, parts, strict=True)
            ):
                continue
            if scope and scope not in self._sim.scopes:
                return Refusal(403, f"You don't have a required scope ({scope})").response
            return partial(self._answer, partial(answer, request, *(int(i) for i in ids)))
        return None

    def _answer(self, make: Callable[[], Response]) -> Response:
        mark = len(self.pending.events)  # under the store's lock: this request's come after
        try:
            return make()
        except Refusal as exc:
            del self.pending.events[mark:]  # a refused write fires nothing
            return exc.response()

    def deliver_fired(self) -> None:
        with self._sim._lock:
            events, self.pending = self.pending.events, Fired()
        for scope, record_id in events:
            self._sim.deliver(scope, record_id)

    def _wrote(self, scope: str, record_id: int) -> None:
        self.writes += 1
        self.pending.add(scope, record_id)

    def _now(self) -> str:
        return datetime.fromtimestamp(self._sim.clock(), UTC).isoformat()

    # -- products -----------------------------------------------------------------------------

    def render_product(self, pid: int) -> dict[str, Any]:
        raw = self.products[pid]
        return {**raw, "price": float(raw["price"]), "weight": float(raw["weight"])}

    def _list_products(self, request: Request) -> Response:
        sku, name = request.arg("sku"), request.arg("name")
        wanted = {int(i) for i in (request.arg("id:in") or "").split(",") if i.strip().isdigit()}
        rows = [
            self.render_product(pid)
            for pid, p in self.products.items()
            if (sku is None or p["sku"] == sku)
            and (name is None or p["name"] == name)
            and (not wanted or pid in wanted)
        ]
        return _data(rows)

    def _get_product(self, request: Request, pid: int) -> Response:
        if pid not in self.products:
            raise Refusal(404, "The requested product was not found.")
        return Response.of_json({"data": self.render_product(pid), "meta": {}})

    def _create_product(self, request: Request) -> Response:
        body = _object(request)
        missing = {
            k: f"{k} is required" for k in ("name", "type", "weight", "price") if k not in body
        }
        if missing:
            raise Refusal(422, "JSON data is missing or invalid", missing)
        pid = next(self._ids)
        product = {
            "id": pid, "name": "", "type": "physical", "sku": "", "description": "",
            "price": _ZERO, "weight": _ZERO, "categories": [], "is_visible": True,
            "inventory_tracking": "none", "inventory_level": 0,
            "date_created": self._now(), "date_modified": self._now(),
        }  # fmt: skip
        self._apply_product(product, body, pid)
        self.products[pid] = product
        self._wrote("store/product/created", pid)
        return Response.of_json({"data": self.render_product(pid), "meta": {}})

    def _update_product(self, request: Request, pid: int) -> Response:
        product = self.products.get(pid)
        if product is None:
            raise Refusal(404, "The requested product was not found.")
        changed = dict(product)
        self._apply_product(changed, _object(request), pid)
        changed["date_modified"] = self._now()
        self.products[pid] = changed
        self._wrote("store/product/updated", pid)
        return Response.of_json({"data": self.render_product(pid), "meta": {}})

    def _delete_product(self, request: Request, pid: int) -> Response:
        if pid not in self.products:
            raise Refusal(404, "The requested product was not found.")
        self.delete_product(pid)
        self._wrote("store/product/deleted", pid)
        return Response(204)

    def _apply_product(self, product: dict[str, Any], body: dict[str, Any], pid: int) -> None:
        errors: dict[str, str] = {}
        for name in ("name", "sku", "description", "type"):
            if name in body and not isinstance(body[name], str):
                errors[name] = f"{name} must be a string"
        for name in ("price", "weight"):
            if name in body:
                amount = _amount(body[name])
                if amount is None or amount < 0:
                    errors[name] = f"{name} must be a number, not negative"
        if "categories" in body:
            cats = body["categories"]
            if not isinstance(cats, list) or any(c not in self.categories for c in cats):
                errors["categories"] = "categories must be ids of existing categories"
        tracking = body.get("inventory_tracking", product["inventory_tracking"])
        if tracking not in ("none", "product", "variant"):
            errors["inventory_tracking"] = "must be one of none, product, variant"
        level = body.get("inventory_level")
        if level is not None and (not isinstance(level, int) or level < 0):
            errors["inventory_level"] = "inventory_level must be a whole number, not negative"
        if errors:
            raise Refusal(422, "JSON data is missing or invalid", errors)
        for name, taken in (("name", "The product name is a duplicate"),
                            ("sku", "The product sku is a duplicate")):  # fmt: skip
            value = body.get(name)
            if value and any(
                other[name] == value for oid, other in self.products.items() if oid != pid
            ):
                raise Refusal(409, taken, {name: taken})
            if name == "sku" and value and any(v.sku == value for v in self.variants.values()):
                raise Refusal(409, taken, {name: taken})
        for name in ("name", "sku", "description", "type", "categories", "is_visible"):
            if name in body:
                product[name] = body[name]
        for name in ("price", "weight"):
            if name in body:
                product[name] = _amount(body[name])
        product["inventory_tracking"] = tracking
        # BigCommerce keeps a product's stock level only while it tracks the product's stock.
        if level is not None and tracking == "product":
            product["inventory_level"] = level

    # -- variants -----------------------------------------------------------------------------

    def _render_variant(self, variant: Variant) -> dict[str, Any]:
        return {
            "id": variant.id,
            "product_id": variant.product_id,
            "sku": variant.sku,
            "price": float(variant.price) if variant.price is not None else None,
            "inventory_level": variant.inventory_level,
            "option_values": variant.option_values,
        }

    def _product_variants(self, request: Request, pid: int) -> Response:
        if pid not in self.products:
            raise Refusal(404, "The requested product was not found.")
        return _data(
            [self._render_variant(v) for v in self.variants.values() if v.product_id == pid]
        )

    def _find_variants(self, request: Request) -> Response:
        sku = request.arg("sku")
        return _data(
            [self._render_variant(v) for v in self.variants.values() if sku is None or v.sku == sku]
        )

    def _update_variant(self, request: Request, pid: int, vid: int) -> Response:
        variant = self.variants.get(vid)
        if pid not in self.products or variant is None or variant.product_id != pid:
            raise Refusal(404, "The requested variant was not found.")
        body = _object(request)
        if "price" in body:
            price = _amount(body["price"])
            if price is None or price < 0:
                raise Refusal(422, "JSON data is missing or invalid", {"price": "not a price"})
            variant.price = price
        level = body.get("inventory_level")
        if level is not None:
            if not isinstance(level, int) or level < 0:
                raise Refusal(
                    422, "JSON data is missing or invalid", {"inventory_level": "not negative"}
                )
            if self.products[pid]["inventory_tracking"] == "variant":
                variant.inventory_level = level
        if "sku" in body:
            variant.sku = str(body["sku"])
        self.products[pid]["date_modified"] = self._now()
        self._wrote("store/sku/updated", vid)
        return Response.of_json({"data": self._render_variant(variant), "meta": {}})

    # -- categories ---------------------------------------------------------------------------

    def _trees(self, request: Request) -> Response:
        return _data([{"id": TREE_ID, "name": "Default tree", "channels": [1]}])

    def _list_categories(self, request: Request) -> Response:
        """``GET /v3/catalog/trees/categories?name=&parent_id:in=&tree_id:in=``."""
        name = request.arg("name")
        parents = _ids(request.arg("parent_id:in"))
        trees = _ids(request.arg("tree_id:in"))
        rows = [
            c
            for c in self.categories.values()
            if (name is None or c["name"] == name)
            and (parents is None or c["parent_id"] in parents)
            and (trees is None or c["tree_id"] in trees)
        ]
        return _data(rows)

    def _create_categories(self, request: Request) -> Response:
        """``POST /v3/catalog/trees/categories``: an array; ``name``, ``tree_id`` and
        ``parent_id`` required; a name is unique among its siblings."""
        rows = _array(request)
        errors: dict[str, str] = {}
        for n, row in enumerate(rows):
            name, parent, tree = row.get("name"), row.get("parent_id"), row.get("tree_id")
            if not isinstance(name, str) or not name.strip():
                errors[f"{n}.name"] = "name is required"
            if tree != TREE_ID:
                errors[f"{n}.tree_id"] = f"tree {tree} not found"
            if not isinstance(parent, int) or (parent and parent not in self.categories):
                errors[f"{n}.parent_id"] = f"parent category {parent} not found"
            elif isinstance(name, str) and any(
                c["name"].lower() == name.lower() and c["parent_id"] == parent
                for c in self.categories.values()
            ):
                errors[f"{n}.name"] = f"Category name '{name}' is already in use under its parent"
        if errors:
            raise Refusal(422, "Categories were not created", errors)
        made = []
        for row in rows:
            cid = next(self._ids)
            self.categories[cid] = {
                "category_id": cid, "parent_id": row["parent_id"], "tree_id": TREE_ID,
                "name": row["name"], "is_visible": row.get("is_visible", True),
            }  # fmt: skip
            made.append(self.categories[cid])
            self._wrote("store/category/created", cid)
        return _data(made)

    # -- customers ----------------------------------------------------------------------------

    def _find_customers(self, request: Request) -> Response:
        emails = {e.strip().lower() for e in (request.arg("email:in") or "").split(",") if e}
        rows = [c for c in self._sim.customers.values() if c["email"].lower() in emails]
        return _data([self._render_customer(c) for c in rows])

    def _render_customer(self, customer: dict[str, Any]) -> dict[str, Any]:
        for address in customer.get("addresses", []):
            address.setdefault("id", next(self._ids))
            address.setdefault("customer_id", customer["id"])
        return customer

    def _create_customers(self, request: Request) -> Response:
        rows = _array(request)
        made: list[int] = []
        for n, row in enumerate(rows):
            missing = {
                f"{n}.{k}": f"{k} is required"
                for k in ("email", "first_name", "last_name")
                if not row.get(k)
            }
            if missing:
                raise Refusal(422, "Create customers failed.", missing)
            if self._email_taken(str(row["email"]), None):
                raise Refusal(
                    422,
                    "Create customers failed.",
                    {f"{n}.email": f"The email address {row['email']} is already in use."},
                )
            for address in row.get("addresses") or []:
                _check_address(address, f"{n}.addresses")
        for row in rows:
            cid = next(self._ids)
            stamp = self._now()
            customer = {
                "id": cid, "email": row["email"], "first_name": row["first_name"],
                "last_name": row["last_name"], "company": row.get("company", ""),
                "phone": row.get("phone", ""), "notes": row.get("notes", ""),
                "customer_group_id": row.get("customer_group_id", 0),
                "date_created": stamp, "date_modified": stamp, "addresses": [],
            }  # fmt: skip
            for address in row.get("addresses") or []:
                customer["addresses"].append({**address, "id": next(self._ids), "customer_id": cid})
            self._sim.customers[cid] = customer
            made.append(cid)
            self._wrote("store/customer/created", cid)
        return _data([self._render_customer(self._sim.customers[c]) for c in made])

    def _update_customers(self, request: Request) -> Response:
        rows = _array(request)
        for n, row in enumerate(rows):
            cid = row.get("id")
            if not isinstance(cid, int) or cid not in self._sim.customers:
                raise Refusal(422, "Update customers failed.", {f"{n}.id": "customer not found"})
            if "addresses" in row:
                raise Refusal(
                    422,
                    "Update customers failed.",
                    {f"{n}.addresses": "Subresource updates are not supported"},
                )
            if "email" in row and self._email_taken(str(row["email"]), cid):
                raise Refusal(
                    422,
                    "Update customers failed.",
                    {f"{n}.email": f"The email address {row['email']} is already in use."},
                )
        for row in rows:
            customer = self._sim.customers[row["id"]]
            customer.update({k: v for k, v in row.items() if k != "id"})
            customer["date_modified"] = self._now()
            self._wrote("store/customer/updated", row["id"])
        return _data([self._render_customer(self._sim.customers[r["id"]]) for r in rows])

    def _add_addresses(self, request: Request) -> Response:
        rows = _array(request)
        for n, row in enumerate(rows):
            if row.get("customer_id") not in self._sim.customers:
                raise Refusal(
                    422, "JSON data is missing or invalid", {f"{n}.customer_id": "unknown"}
                )
            _check_address(row, str(n))
        made = []
        for row in rows:
            address = {**row, "id": next(self._ids)}
            self._sim.customers[row["customer_id"]]["addresses"].append(address)
            made.append(address)
            self._sim.customers[row["customer_id"]]["date_modified"] = self._now()
            self._wrote("store/customer/address/created", row["customer_id"])
        return _data(made)

    def _put_addresses(self, request: Request) -> Response:
        rows = _array(request)
        found = []
        for n, row in enumerate(rows):
            hit = next(
                (
                    (c, a)
                    for c in self._sim.customers.values()
                    for a in self._render_customer(c)["addresses"]
                    if a["id"] == row.get("id")
                ),
                None,
            )
            if hit is None:
                raise Refusal(422, "JSON data is missing or invalid", {f"{n}.id": "not found"})
            found.append(hit)
        for row, (customer, address) in zip(rows, found, strict=True):
            address.update(row)
            customer["date_modified"] = self._now()
            self._wrote("store/customer/address/updated", customer["id"])
        return _data([a for _, a in found])

    def _email_taken(self, email: str, cid: int | None) -> bool:
        return any(
            c["email"].lower() == email.lower() and c["id"] != cid
            for c in self._sim.customers.values()
        )

    # -- orders -------------------------------------------------------------------------------

    def _store(self, request: Request) -> Response:
        return Response.of_json(
            {"id": self._sim.store_hash, "name": "Simulated store", "currency": self.currency}
        )

    def _create_order(self, request: Request) -> Response:
        body = _object(request, v2=True)
        if not isinstance(body.get("billing_address"), dict):
            raise Refusal(400, "The field 'billing_address' is invalid.", v2=True)
        if not isinstance(body.get("products"), list) or not body["products"]:
            raise Refusal(400, "The field 'products' is invalid.", v2=True)
        oid = next(self._ids)
        now = format_datetime(datetime.fromtimestamp(self._sim.clock(), UTC))
        status_id = int(body.get("status_id", 1))
        billing = dict(body["billing_address"])
        order: dict[str, Any] = {
            "id": oid, "customer_id": int(body.get("customer_id") or 0),
            "date_created": now, "date_modified": now, "status_id": status_id,
            "status": _status_name(status_id), "payment_status": "",
            "payment_method": "Manual", "payment_provider_id": "",
            "refunded_amount": _m(_ZERO), "store_credit_amount": _m(_ZERO),
            "gift_certificate_amount": _m(_ZERO), "discount_amount": _m(_ZERO),
            "currency_code": self.currency, "currency_exchange_rate": "1.0000000000",
            "default_currency_code": self.currency,
            "store_default_currency_code": self.currency,
            "store_default_to_transactional_exchange_rate": "1.0000000000",
            "customer_message": "", "staff_notes": "", "is_deleted": False,
            "billing_address": billing, "_products": [], "_taxes": [], "_coupons": [],
            "_fees": [],
            "_shipping_addresses": [
                {**dict(a), "id": next(self._ids), "order_id": oid}
                for a in (body.get("shipping_addresses") or [billing])
            ],
        }  # fmt: skip
        self._set_order(order, body)
        self._sim.orders[oid] = order
        self._wrote("store/order/created", oid)
        return Response.of_json(self._sim._public(oid), 201)

    def _update_order(self, request: Request, oid: int) -> Response:
        order = self._sim.orders.get(oid)
        if order is None:
            raise Refusal(404, "The requested resource was not found.", v2=True)
        body = _object(request, v2=True)
        before = order["status_id"]
        changed = {**order, "_products": list(order["_products"])}
        self._set_order(changed, body)
        changed["date_modified"] = format_datetime(datetime.fromtimestamp(self._sim.clock(), UTC))
        self._sim.orders[oid] = changed
        self._wrote("store/order/updated", oid)
        if changed["status_id"] != before:
            self.pending.add("store/order/statusUpdated", oid)
        return Response.of_json(self._sim._public(oid))

    def _set_order(self, order: dict[str, Any], body: dict[str, Any]) -> None:
        oid = order["id"]
        if "status_id" in body:
            if body["status_id"] not in range(15):
                raise Refusal(400, "The field 'status_id' is invalid.", v2=True)
            order["status_id"] = body["status_id"]
            order["status"] = _status_name(body["status_id"])
        for name in ("staff_notes", "customer_message", "customer_id"):
            if name in body:
                order[name] = body[name]
        if isinstance(body.get("billing_address"), dict):
            order["billing_address"] = {**order["billing_address"], **body["billing_address"]}
        for entry in body.get("products") or []:
            self._order_product(order, entry)
        if "fees" in body:
            order["_fees"] = [self._fee(oid, f) for f in body["fees"] or []]
        if "discount_amount" in body:
            discount = _amount(body["discount_amount"])
            if discount is None or discount < 0:
                raise Refusal(400, "The field 'discount_amount' is invalid.", v2=True)
            order["discount_amount"] = _m(discount)
        # A write that leaves the lines, fees and totals alone leaves the totals as they are.
        if (
            "subtotal_ex_tax" not in order
            or {"products", "fees", "discount_amount", "total_ex_tax", "total_inc_tax"}
            & body.keys()
        ):
            self._totals(order, body)

    def _order_product(self, order: dict[str, Any], entry: dict[str, Any]) -> None:
        if "id" in entry:
            line = next((p for p in order["_products"] if p["id"] == entry["id"]), None)
            if line is None:
                raise Refusal(400, f"Order product {entry['id']} was not found.", v2=True)
            if entry.get("quantity") == 0:
                order["_products"].remove(line)
                return
            order["_products"].remove(line)
        pid = entry.get("product_id")
        product = self.products.get(pid) if isinstance(pid, int) else None
        if product is None:
            raise Refusal(400, f"Product {pid} was not found in the catalog.", v2=True)
        quantity = entry.get("quantity")
        if not isinstance(quantity, int) or quantity <= 0:
            raise Refusal(400, "The field 'quantity' is invalid.", v2=True)
        ex, inc = _amount(entry.get("price_ex_tax")), _amount(entry.get("price_inc_tax"))
        if ex is None and inc is None:
            ex = product["price"]
        # With both prices given they are the line's; otherwise the store's tax is added.
        rate = self._sim.tax_rate / 100
        ex = ex if ex is not None else (inc or _ZERO) / (1 + rate)
        inc = inc if inc is not None else ex * (1 + rate)
        order["_products"].append({
            "id": next(self._ids), "order_id": order["id"], "product_id": pid,
            "variant_id": entry.get("variant_id") or 0, "name": entry.get("name") or product["name"],
            "sku": product["sku"], "quantity": quantity, "base_price": _m(ex),
            "price_ex_tax": _m(ex), "price_inc_tax": _m(inc), "price_tax": _m(inc - ex),
            "total_ex_tax": _m(ex * quantity), "total_inc_tax": _m(inc * quantity),
            "total_tax": _m((inc - ex) * quantity), "applied_discounts": [],
        })  # fmt: skip

    def _fee(self, oid: int, fee: dict[str, Any]) -> dict[str, Any]:
        costs = [_amount(fee.get(k)) for k in ("cost_ex_tax", "cost_inc_tax")]
        if not (fee.get("display_name_merchant") or fee.get("display_name_customer")):
            raise Refusal(
                400, "A fee needs display_name_merchant or display_name_customer.", v2=True
            )
        if any(c is None or c < 0 for c in costs):
            raise Refusal(400, "The fee's cost_ex_tax and cost_inc_tax can't be negative.", v2=True)
        ex, inc = costs[0] or _ZERO, costs[1] or _ZERO
        return {
            "id": next(self._ids), "type": fee.get("type", "custom_fee"),
            "display_name_merchant": fee.get("display_name_merchant", ""),
            "display_name_customer": fee.get("display_name_customer", ""),
            "source": fee.get("source", "API"), "cost_ex_tax": _m(ex), "cost_inc_tax": _m(inc),
            "cost_tax": _m(inc - ex),
        }  # fmt: skip

    def _totals(self, order: dict[str, Any], body: dict[str, Any]) -> None:
        ex = sum((Decimal(p["total_ex_tax"]) for p in order["_products"]), _ZERO)
        inc = sum((Decimal(p["total_inc_tax"]) for p in order["_products"]), _ZERO)
        fees_ex = sum((Decimal(f["cost_ex_tax"]) for f in order["_fees"]), _ZERO)
        fees_inc = sum((Decimal(f["cost_inc_tax"]) for f in order["_fees"]), _ZERO)
        discount = Decimal(order["discount_amount"])
        total_ex, total_inc = ex + fees_ex - discount, inc + fees_inc - discount
        given = [k for k in ("total_ex_tax", "total_inc_tax") if k in body]
        if len(given) == 1:
            raise Refusal(400, "total_ex_tax and total_inc_tax go together.", v2=True)
        if given:
            over_ex, over_inc = _amount(body["total_ex_tax"]), _amount(body["total_inc_tax"])
            if over_ex is None or over_inc is None or over_ex < 0 or over_inc < 0:
                raise Refusal(400, "The field 'total_inc_tax' is invalid.", v2=True)
            total_ex, total_inc = over_ex, over_inc
        order.update(
            subtotal_ex_tax=_m(ex), subtotal_inc_tax=_m(inc), subtotal_tax=_m(inc - ex),
            total_ex_tax=_m(total_ex), total_inc_tax=_m(total_inc),
            total_tax=_m(total_inc - total_ex), items_total=sum(p["quantity"] for p in order["_products"]),
            shipping_cost_ex_tax=_m(_ZERO), shipping_cost_inc_tax=_m(_ZERO), shipping_cost_tax=_m(_ZERO),
            handling_cost_ex_tax=_m(_ZERO), handling_cost_inc_tax=_m(_ZERO), handling_cost_tax=_m(_ZERO),
            wrapping_cost_ex_tax=_m(_ZERO), wrapping_cost_inc_tax=_m(_ZERO), wrapping_cost_tax=_m(_ZERO),
            is_tax_inclusive_pricing=False,
        )  # fmt: skip

    def _ship(self, request: Request, oid: int) -> Response:
        order = self._sim.orders.get(oid)
        if order is None:
            raise Refusal(404, "The requested resource was not found.", v2=True)
        body = _object(request, v2=True)
        addresses = {a["id"] for a in order["_shipping_addresses"]}
        if body.get("order_address_id") not in addresses:
            raise Refusal(400, "The field 'order_address_id' is invalid.", v2=True)
        lines = {p["id"]: p["quantity"] for p in order["_products"]}
        items = body.get("items")
        if (
            not isinstance(items, list)
            or not items
            or any(not isinstance(i, dict) or i.get("order_product_id") not in lines for i in items)
        ):
            raise Refusal(400, "The field 'items' is invalid.", v2=True)
        sid = next(self._ids)
        shipment = {
            "id": sid, "order_id": oid, "order_address_id": body["order_address_id"],
            "date_created": format_datetime(datetime.fromtimestamp(self._sim.clock(), UTC)),
            "tracking_number": body.get("tracking_number", ""),
            "shipping_method": body.get("shipping_method", ""),
            "shipping_provider": body.get("shipping_provider", ""),
            "tracking_carrier": body.get("tracking_carrier", ""),
            "comments": body.get("comments", ""), "items": items,
        }  # fmt: skip
        self.shipments.setdefault(oid, []).append(shipment)
        shipped = sum(int(i.get("quantity") or 0) for s in self.shipments[oid] for i in s["items"])
        # BigCommerce moves the order to Shipped (2) or Partially Shipped (3) itself.
        order["status_id"] = 2 if shipped >= sum(lines.values()) else 3
        order["status"] = _status_name(order["status_id"])
        self._wrote("store/shipment/created", sid)
        return Response.of_json(shipment, 201)

    def _shipments(self, request: Request, oid: int) -> Response:
        if oid not in self._sim.orders:
            raise Refusal(404, "The requested resource was not found.", v2=True)
        rows = self.shipments.get(oid, [])
        return Response.of_json(rows) if rows else Response(204)


def _status_name(status_id: int) -> str:
    from simulators.bigcommerce import _STATUS_NAMES

    return _STATUS_NAMES.get(status_id, "Custom")


def _amount(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _object(request: Request, *, v2: bool = False) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise Refusal(400 if v2 else 422, "The request body is not a JSON object.", v2=v2)
    return body


def _array(request: Request) -> list[dict[str, Any]]:
    try:
        body = request.json()
    except ValueError:
        body = None
    if not isinstance(body, list) or not all(isinstance(r, dict) for r in body) or not body:
        raise Refusal(422, "JSON data is missing or invalid", {"": "an array of records"})
    if len(body) > MAX_CUSTOMERS_PER_CALL:
        raise Refusal(413, "The request payload is too large (10 records at most).")
    return body


def _ids(text: str | None) -> set[int] | None:
    if text is None:
        return None
    return {int(i) for i in text.split(",") if i.strip().isdigit()}


def _check_address(address: Any, where: str) -> None:
    required = ("first_name", "last_name", "address1", "city", "country_code")
    if not isinstance(address, dict):
        raise Refusal(422, "JSON data is missing or invalid", {where: "an address"})
    missing = {f"{where}.{k}": f"{k} is required" for k in required if not address.get(k)}
    if missing:
        raise Refusal(422, "JSON data is missing or invalid", missing)


def _data(rows: list[dict[str, Any]]) -> Response:
    return Response.of_json(
        {
            "data": rows,
            "meta": {
                "pagination": {
                    "total": len(rows),
                    "count": len(rows),
                    "per_page": 250,
                    "current_page": 1,
                    "total_pages": 1,
                }
            },
        }
    )

"""The simulated WooCommerce store's writable REST resources: products, variations, categories,
customers (issue #13: what a connector writes into a store).

Routes under ``/wp-json/wc/v3/`` as WooCommerce's REST controllers answer them:

- ``products``: GET list (``sku`` — comma-separated, matching variations too, as the
  controller's SKU filter searches ``product_variation`` posts as well —, ``search``,
  ``status``, ``category``, paging), POST; ``products/<id>``: GET, PUT, DELETE (to the trash,
  or for good with ``force=true``).
- ``products/<id>/variations``: GET; ``products/<id>/variations/<vid>``: GET, PUT.
- ``products/categories``: GET (``search``, ``slug``, ``parent``), POST; ``.../<id>``: GET, PUT.
- ``customers``: POST; ``customers/<id>``: PUT (GET stays with ``simulators.woocommerce``).

WooCommerce's refusals: a SKU another product or variation has (400 ``product_invalid_sku``),
unknown ids (404 ``woocommerce_rest_product_invalid_id``, ``..._product_variation_invalid_id``,
``woocommerce_rest_term_invalid``, ``woocommerce_rest_invalid_id``), a category name already
under that parent (400 ``term_exists`` with ``resource_id``), an e-mail already registered
(400 ``registration-error-email-exists``), values of the wrong type (400 ``rest_invalid_param``:
prices are strings, ``stock_quantity`` an integer, ``manage_stock`` a boolean). A
``stock_quantity`` is kept only while ``manage_stock`` is on, as ``WC_Product::set_stock_quantity``
is ignored for unmanaged stock. Every write fires the store's webhooks (``product.updated``,
``customer.created``...) through ``WebhookResource.deliver``, as WooCommerce's hooks do, so a
connector's own writes come back to it like anyone's.
"""

from __future__ import annotations

import copy
import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from simulators.httpserver import Request, Response
from simulators.woocommerce_catalogue import CATEGORIES, Person, Product
from simulators.woocommerce_order_writes import OrderRefusal, OrderWrites
from simulators.woocommerce_pricing import money
from simulators.woocommerce_webhooks import php_json

if TYPE_CHECKING:
    from simulators.woocommerce import WooSimulator

_API = "/wp-json/wc/v3"
_STATUSES = ("draft", "pending", "private", "publish", "trash")
_ROUTES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(_API + pattern + "/?$"))
    for name, pattern in (
        ("categories", "/products/categories"),
        ("category", r"/products/categories/(\d+)"),
        ("variations", r"/products/(\d+)/variations"),
        ("variation", r"/products/(\d+)/variations/(\d+)"),
        ("products", "/products"),
        ("product", r"/products/(\d+)"),
        ("customers", "/customers"),
        ("customer", r"/customers/(\d+)"),
        ("currency", "/settings/general/woocommerce_currency"),
        ("orders", "/orders"),
        ("order", r"/orders/(\d+)"),
        ("notes", r"/orders/(\d+)/notes"),
    )
)
# Writes to these are the catalogue's; their GETs stay with the store's own routes.
_WRITE_ONLY = frozenset({"customers", "customer", "orders", "order"})


class CatalogError(Exception):
    def __init__(self, status: int, code: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.data = status, code, message, data


@dataclass
class Category:
    id: int
    name: str
    slug: str
    parent: int = 0
    description: str = ""


@dataclass
class _Extras:
    """What a product has beyond the order-pricing fields of ``woocommerce_catalogue.Product``."""

    status: str = "publish"
    description: str = ""
    manage_stock: bool = False
    stock_quantity: int | None = None
    meta_data: list[dict[str, Any]] = field(default_factory=list)
    modified: datetime | None = None


class WooCatalog:
    """The writable resources of one ``WooSimulator`` (it holds the lock and the records)."""

    def __init__(self, sim: WooSimulator) -> None:
        self._sim = sim
        self._ids = itertools.count(1000)
        self._term_ids = itertools.count(100)
        self.categories: dict[int, Category] = {
            term: Category(term, name, slug) for slug, (term, name) in CATEGORIES.items()
        }
        self._more: dict[int, _Extras] = {}
        self.writes = 0  # successful writes (benchmarks and "written once" tests count them)
        self.orders = OrderWrites(sim)

    # -- routing ----------------------------------------------------------------------

    def claims(self, request: Request) -> bool:
        found = self._route(request.path)
        if found is None:
            return False
        return found[0] not in _WRITE_ONLY or request.method in ("POST", "PUT")

    def handle(self, request: Request, *, authenticated: bool) -> Response:
        """The answer, then the webhooks the write fired (delivered after the store's lock is
        let go, so a receiver may read the store back)."""
        fired: list[tuple[str, int]] = []
        try:
            response = self._answer(request, authenticated, fired)
        except (CatalogError, OrderRefusal) as exc:
            data = {"status": exc.status, **exc.data}
            return _json({"code": exc.code, "message": exc.message, "data": data}, exc.status)
        for topic, record_id in fired:
            self._sim.webhooks.deliver(topic, record_id)
        return response

    def _route(self, path: str) -> tuple[str, list[int]] | None:
        for name, pattern in _ROUTES:
            match = pattern.match(path)
            if match:
                return name, [int(g) for g in match.groups()]
        return None

    def _answer(
        self, request: Request, authenticated: bool, fired: list[tuple[str, int]]
    ) -> Response:
        found = self._route(request.path)
        assert found is not None
        name, ids = found
        method = request.method
        if not authenticated:
            action = {"GET": "view", "DELETE": "delete", "POST": "create"}.get(method, "edit")
            raise _denied(action)
        with self._sim._lock:  # one store, one lock (the store's own)
            if name == "products" and method == "GET":
                return self._list_products(request)
            if name == "products" and method == "POST":
                doc = self._create_product(_body(request), fired)
                return _json(doc, 201)
            if name == "product" and method == "GET":
                return _json(self.render_product(ids[0]))
            if name == "product" and method in ("PUT", "POST", "PATCH"):
                return _json(self._update_product(ids[0], _body(request), fired))
            if name == "product" and method == "DELETE":
                force = (request.arg("force") or "").lower() in ("1", "true")
                return _json(self._delete_product(ids[0], force, fired))
            if name == "variations" and method == "GET":
                parent = self._product(ids[0])
                rows = [self._render_variation(parent.id, v) for v in self._variation_ids(parent)]
                return _page(request, rows)
            if name == "variation" and method == "GET":
                return _json(self._render_variation(ids[0], ids[1]))
            if name == "variation" and method in ("PUT", "POST", "PATCH"):
                return _json(self._update_variation(ids[0], ids[1], _body(request), fired))
            if name == "categories" and method == "GET":
                return self._list_categories(request)
            if name == "categories" and method == "POST":
                return _json(self._create_category(_body(request)), 201)
            if name == "category" and method == "GET":
                return _json(self._render_category(self._category(ids[0])))
            if name == "category" and method in ("PUT", "POST", "PATCH"):
                return _json(self._update_category(ids[0], _body(request)))
            if name == "orders" and method == "POST":
                made = self.orders.create(_body(request))
                self._wrote(fired, "order.created", made["id"])
                return _json(made, 201)
            if name == "order" and method in ("PUT", "POST", "PATCH"):
                changed = self.orders.update(ids[0], _body(request))
                self._wrote(fired, "order.updated", ids[0])
                return _json(changed)
            if name == "notes" and method == "POST":
                return _json(self.orders.add_note(ids[0], _body(request)), 201)
            if name == "notes" and method == "GET":
                return _page(request, self.orders.notes(ids[0]))
            if name == "currency" and method == "GET":
                return _json(self._currency_setting())
            if name == "customers" and method == "POST":
                return _json(self._create_customer(_body(request), fired), 201)
            if name == "customer" and method in ("PUT", "POST", "PATCH"):
                return _json(self._update_customer(ids[0], _body(request), fired))
        raise CatalogError(
            404, "rest_no_route", "No route was found matching the URL and request method."
        )

    # -- products ---------------------------------------------------------------------

    def _extras(self, product_id: int) -> _Extras:
        return self._more.setdefault(product_id, _Extras())

    def _product(self, product_id: int, *, variation: bool = False) -> Product:
        product = self._sim.products.get(product_id)
        if product is None or product.deleted or bool(product.parent_id) != variation:
            code = "product_variation" if variation else "product"
            raise CatalogError(404, f"woocommerce_rest_{code}_invalid_id", "Invalid ID.")
        return product

    def _variation_ids(self, parent: Product) -> list[int]:
        return sorted(
            p.id for p in self._sim.products.values() if p.parent_id == parent.id and not p.deleted
        )

    def _slug_category(self, slug: str) -> Category | None:
        return next((c for c in self.categories.values() if c.slug == slug), None)

    def render_product(self, product_id: int) -> dict[str, Any]:
        """``GET /products/<id>``: a simple or variable product, or a variation by its id."""
        product = self._sim.products.get(product_id)
        if product is None or product.deleted:
            raise CatalogError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        if product.parent_id:
            return self._render_variation(product.parent_id, product_id, as_product=True)
        extras = self._extras(product_id)
        variations = self._variation_ids(product)
        local, gmt = self._stamp(extras.modified)
        return {
            "id": product.id,
            "name": product.name,
            "slug": re.sub(r"[^a-z0-9]+", "-", product.name.lower()).strip("-"),
            "permalink": f"{self._sim.home_url}/product/{product.id}/",
            "date_modified": local,
            "date_modified_gmt": gmt,
            "type": "variable" if variations else "simple",
            "status": extras.status,
            "description": extras.description,
            "sku": product.sku,
            "price": money(product.price),
            "regular_price": money(product.price),
            "sale_price": "",
            "tax_status": product.tax_status,
            "tax_class": product.tax_class,
            "manage_stock": extras.manage_stock,
            "stock_quantity": extras.stock_quantity if extras.manage_stock else None,
            "stock_status": _stock_status(extras),
            "parent_id": 0,
            "categories": [
                {"id": c.id, "name": c.name, "slug": c.slug}
                for slug in product.categories
                if (c := self._slug_category(slug)) is not None
            ],
            "variations": variations,
            "meta_data": copy.deepcopy(extras.meta_data),
            "_links": self._sim._links(f"products/{product_id}", "products"),
        }

    def _render_variation(
        self, parent_id: int, variation_id: int, *, as_product: bool = False
    ) -> dict[str, Any]:
        parent = self._product(parent_id)
        variation = self._sim.products.get(variation_id)
        if variation is None or variation.deleted or variation.parent_id != parent.id:
            raise CatalogError(404, "woocommerce_rest_product_variation_invalid_id", "Invalid ID.")
        extras = self._extras(variation_id)
        local, gmt = self._stamp(extras.modified)
        shown: dict[str, Any] = {"id": variation.id}
        if as_product:
            shown["type"] = "variation"
        options = ", ".join(value for _, value in variation.attributes)
        return shown | {
            "name": f"{parent.name} - {options}" if options else parent.name,
            "parent_id": parent.id,
            "date_modified": local,
            "date_modified_gmt": gmt,
            "status": extras.status,
            "description": extras.description,
            # A variation without its own SKU shows its parent's (get_sku in 'view' context).
            "sku": variation.sku or parent.sku,
            "price": money(variation.price),
            "regular_price": money(variation.price),
            "sale_price": "",
            "manage_stock": extras.manage_stock,
            "stock_quantity": extras.stock_quantity if extras.manage_stock else None,
            "stock_status": _stock_status(extras),
            "attributes": [
                {"id": 0, "name": key.removeprefix("pa_").capitalize(), "option": value}
                for key, value in variation.attributes
            ],
            "meta_data": copy.deepcopy(extras.meta_data),
            "_links": self._sim._links(
                f"products/{parent.id}/variations/{variation.id}",
                f"products/{parent.id}/variations",
                up=f"products/{parent.id}",
            ),
        }

    def _list_products(self, request: Request) -> Response:
        skus = [s.strip() for s in (request.arg("sku") or "").split(",") if s.strip()]
        search = (request.arg("search") or "").lower()
        status = request.arg("status") or "any"
        if status not in ("any", *_STATUSES):
            raise _invalid("status", f"status is not one of any, {', '.join(_STATUSES)}.")
        category = request.arg("category")
        rows = []
        for product in sorted(self._sim.products.values(), key=lambda p: p.id, reverse=True):
            if product.deleted:
                continue
            extras = self._extras(product.id)
            if product.parent_id and not skus:
                continue  # variations are listed only by the SKU filter
            own = product.sku
            if skus and own not in skus:
                continue
            if status == "any" and extras.status == "trash":
                continue
            if status != "any" and extras.status != status:
                continue
            if search and search not in product.name.lower():
                continue
            if category is not None:
                slugs = {c.slug for c in self.categories.values() if str(c.id) == category}
                if not slugs & set(product.categories):
                    continue
            rows.append(self.render_product(product.id))
        return _page(request, rows)

    def _check_sku(self, sku: str, own_id: int | None) -> None:
        if not sku:
            return
        for product in self._sim.products.values():
            if product.id == own_id or product.deleted:
                continue
            if self._extras(product.id).status == "trash":
                continue
            if product.sku == sku:
                raise CatalogError(400, "product_invalid_sku", "Invalid or duplicated SKU.")

    def _create_product(self, body: dict[str, Any], fired: list[tuple[str, int]]) -> dict[str, Any]:
        name = _string(body, "name") or ""
        product_id = next(self._ids)
        sku = _string(body, "sku") or ""
        self._check_sku(sku, None)
        price = _price(body, "regular_price")
        product = Product(product_id, name, sku, price if price is not None else Decimal("0"))
        self._sim.products[product_id] = product
        try:
            self._apply_product(product, body)
        except CatalogError:
            del self._sim.products[product_id]
            raise
        self._wrote(fired, "product.created", product_id)
        return self.render_product(product_id)

    def _update_product(
        self, product_id: int, body: dict[str, Any], fired: list[tuple[str, int]]
    ) -> dict[str, Any]:
        product = self._product(product_id)
        self._apply_product(product, body)
        self._wrote(fired, "product.updated", product_id)
        return self.render_product(product_id)

    def _apply_product(self, product: Product, body: dict[str, Any]) -> None:
        """Check every field first, then change: a refused write changes nothing."""
        extras = self._extras(product.id)
        name = _string(body, "name")
        sku = _string(body, "sku")
        description = _string(body, "description")
        price = _price(body, "regular_price")
        status = _string(body, "status")
        if status is not None and status not in _STATUSES:
            raise _invalid("status", f"status is not one of {', '.join(_STATUSES)}.")
        manage, quantity = _stock(body)
        slugs: tuple[str, ...] | None = None
        if "categories" in body:
            slugs = tuple(self._category_ref(ref).slug for ref in _list(body, "categories"))
        meta = _list(body, "meta_data") if "meta_data" in body else None
        if sku is not None:
            self._check_sku(sku, product.id)
            product.sku = sku
        if name is not None:
            product.name = name
        if description is not None:
            extras.description = description
        if price is not None:
            product.price = price
        if status is not None:
            extras.status = status
        if manage is not None:
            extras.manage_stock = manage
        if quantity is not None and extras.manage_stock:
            extras.stock_quantity = quantity
        if slugs is not None:
            product.categories = slugs
        if meta is not None:
            _merge_meta(extras.meta_data, meta)
        extras.modified = self._now()

    def _delete_product(
        self, product_id: int, force: bool, fired: list[tuple[str, int]]
    ) -> dict[str, Any]:
        product = self._product(product_id)
        shown = self.render_product(product_id)
        if force:
            self._sim.delete_product(product_id)
            self._wrote(fired, "product.deleted", product_id)
            return shown
        if self._extras(product_id).status == "trash":
            raise CatalogError(
                410, "woocommerce_rest_already_trashed", "The product has already been deleted."
            )
        self._extras(product.id).status = "trash"
        self._wrote(fired, "product.deleted", product_id)
        return self.render_product(product_id)

    def _update_variation(
        self, parent_id: int, variation_id: int, body: dict[str, Any], fired: list[tuple[str, int]]
    ) -> dict[str, Any]:
        self._render_variation(parent_id, variation_id)  # 404s first
        variation = self._sim.products[variation_id]
        extras = self._extras(variation_id)
        sku = _string(body, "sku")
        price = _price(body, "regular_price")
        manage, quantity = _stock(body)
        if sku is not None:
            self._check_sku(sku, variation_id)
            variation.sku = sku
        if price is not None:
            variation.price = price
        if manage is not None:
            extras.manage_stock = manage
        if quantity is not None and extras.manage_stock:
            extras.stock_quantity = quantity
        extras.modified = self._now()
        # WooCommerce fires product.updated for a variation's parent (the variation's own
        # save runs woocommerce_update_product_variation, which the product topic hooks).
        self._wrote(fired, "product.updated", parent_id)
        return self._render_variation(parent_id, variation_id)

    def stock(self, product_id: int) -> int | None:
        """A product's or variation's managed stock (tests read it)."""
        with self._sim._lock:
            extras = self._extras(product_id)
            return extras.stock_quantity if extras.manage_stock else None

    def status(self, product_id: int) -> str:
        with self._sim._lock:
            return self._extras(product_id).status

    # -- categories -------------------------------------------------------------------

    def _category(self, term_id: int) -> Category:
        found = self.categories.get(term_id)
        if found is None:
            raise CatalogError(404, "woocommerce_rest_term_invalid", "Resource does not exist.")
        return found

    def _category_ref(self, ref: Any) -> Category:
        if not isinstance(ref, dict) or not isinstance(ref.get("id"), int):
            raise _invalid("categories", "categories[0][id] is not of type integer.")
        return self._category(ref["id"])

    def _render_category(self, category: Category) -> dict[str, Any]:
        count = sum(
            1
            for p in self._sim.products.values()
            if not p.deleted and category.slug in p.categories
        )
        return {
            "id": category.id,
            "name": category.name,
            "slug": category.slug,
            "parent": category.parent,
            "description": category.description,
            "display": "default",
            "count": count,
            "_links": self._sim._links(f"products/categories/{category.id}", "products/categories"),
        }

    def _list_categories(self, request: Request) -> Response:
        search = (request.arg("search") or "").lower()
        slug = request.arg("slug")
        parent = request.arg("parent")
        rows = [
            self._render_category(c)
            for c in sorted(self.categories.values(), key=lambda c: c.name.lower())
            if (not search or search in c.name.lower())
            and (slug is None or c.slug == slug)
            and (parent is None or str(c.parent) == parent)
        ]
        return _page(request, rows)

    def _create_category(self, body: dict[str, Any]) -> dict[str, Any]:
        name = _string(body, "name")
        if not name:
            raise CatalogError(
                400, "rest_missing_callback_param", "Missing parameter(s): name", params=["name"]
            )
        parent = _int(body, "parent") or 0
        if parent:
            self._category(parent)
        for existing in self.categories.values():
            if existing.parent == parent and existing.name.lower() == name.lower():
                # wp_insert_term's refusal, with the existing term's id.
                raise CatalogError(
                    400,
                    "term_exists",
                    "A term with the name provided already exists with this parent.",
                    resource_id=existing.id,
                )
        slug = _string(body, "slug") or _slugify(name)
        taken = {c.slug for c in self.categories.values()}
        base, n = slug, 2
        while slug in taken:  # WordPress makes a unique slug with a number
            slug, n = f"{base}-{n}", n + 1
        term = Category(
            next(self._term_ids), name, slug, parent, _string(body, "description") or ""
        )
        self.categories[term.id] = term
        self.writes += 1
        return self._render_category(term)

    def _update_category(self, term_id: int, body: dict[str, Any]) -> dict[str, Any]:
        category = self._category(term_id)
        name = _string(body, "name")
        parent = _int(body, "parent")
        if parent is not None and parent:
            self._category(parent)
        if name is not None:
            category.name = name
        if parent is not None:
            category.parent = parent
        self.writes += 1
        return self._render_category(category)

    def _currency_setting(self) -> dict[str, Any]:
        """``GET /settings/general/woocommerce_currency``: the store's one currency."""
        return {
            "id": "woocommerce_currency",
            "label": "Currency",
            "type": "select",
            "default": "USD",
            "value": self._sim.currency,
        }

    # -- customers --------------------------------------------------------------------

    def _create_customer(
        self, body: dict[str, Any], fired: list[tuple[str, int]]
    ) -> dict[str, Any]:
        email = _string(body, "email")
        if not email:
            raise CatalogError(
                400, "rest_missing_callback_param", "Missing parameter(s): email", params=["email"]
            )
        self._email_free(email, None)
        billing = _address(body, "billing")
        shipping = _address(body, "shipping")
        person = Person(
            first_name=_string(body, "first_name") or "",
            last_name=_string(body, "last_name") or "",
            email=email,
            address_1="",
            city="",
            state="",
            postcode="",
            country="",
        )
        made = self._sim.create_customer(person, username=_string(body, "username"))
        stored = self._sim._customers[made["id"]]
        stored["billing"].update(billing)
        stored["shipping"].update(shipping)
        if "meta_data" in body:
            _merge_meta(stored["meta_data"], _list(body, "meta_data"))
        self._wrote(fired, "customer.created", made["id"])
        return self._sim._render_customer(made["id"])

    def _update_customer(
        self, customer_id: int, body: dict[str, Any], fired: list[tuple[str, int]]
    ) -> dict[str, Any]:
        stored = self._sim._customers.get(customer_id)
        if stored is None:
            raise CatalogError(404, "woocommerce_rest_invalid_id", "Invalid resource ID.")
        email = _string(body, "email")
        if email is not None:
            self._email_free(email, customer_id)
        first, last = _string(body, "first_name"), _string(body, "last_name")
        billing, shipping = _address(body, "billing"), _address(body, "shipping")
        meta = _list(body, "meta_data") if "meta_data" in body else None
        if email is not None:
            stored["email"] = email
        if first is not None:
            stored["first_name"] = first
        if last is not None:
            stored["last_name"] = last
        stored["billing"].update(billing)
        stored["shipping"].update(shipping)
        if meta is not None:
            _merge_meta(stored["meta_data"], meta)
        local, gmt = self._stamp(self._now())
        stored["date_modified"], stored["date_modified_gmt"] = local, gmt
        self._wrote(fired, "customer.updated", customer_id)
        return self._sim._render_customer(customer_id)

    def _email_free(self, email: str, own_id: int | None) -> None:
        if "@" not in email:
            raise _invalid("email", "Invalid email address.")
        for customer in self._sim._customers.values():
            if customer["id"] != own_id and customer["email"].lower() == email.lower():
                raise CatalogError(
                    400,
                    "registration-error-email-exists",
                    "An account is already registered with your email address. "
                    '<a href="#" class="showlogin">Please log in.</a>',
                )

    # -- helpers ----------------------------------------------------------------------

    def _wrote(self, fired: list[tuple[str, int]], topic: str, record_id: int) -> None:
        self.writes += 1
        fired.append((topic, record_id))

    def _now(self) -> datetime:
        return datetime.fromtimestamp(int(self._sim.now()), UTC)

    def _stamp(self, moment: datetime | None) -> tuple[str, str]:
        if moment is None:
            return self._sim._stamp()
        gmt = moment.replace(tzinfo=None)
        return (gmt + self._sim._offset).isoformat(), gmt.isoformat()


def _stock_status(extras: _Extras) -> str:
    if not extras.manage_stock or extras.stock_quantity is None:
        return "instock"
    return "instock" if extras.stock_quantity > 0 else "outofstock"


def _slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "category"


def _merge_meta(into: list[dict[str, Any]], changes: list[Any]) -> None:
    """``meta_data`` entries replace the one with the same key, or are added."""
    for entry in changes:
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            raise _invalid("meta_data", "meta_data[0][key] is not of type string.")
        for existing in into:
            if existing["key"] == entry["key"]:
                existing["value"] = entry.get("value")
                break
        else:
            into.append({"id": 9000 + len(into), "key": entry["key"], "value": entry.get("value")})


def _body(request: Request) -> dict[str, Any]:
    try:
        body = request.json() if request.body else {}
    except ValueError:
        raise CatalogError(400, "rest_invalid_json", "Invalid JSON body passed.") from None
    if not isinstance(body, dict):
        raise CatalogError(400, "rest_invalid_json", "Invalid JSON body passed.")
    return body


def _invalid(name: str, reason: str) -> CatalogError:
    return CatalogError(
        400, "rest_invalid_param", f"Invalid parameter(s): {name}", params={name: reason}
    )


def _typed(body: dict[str, Any], name: str, kind: type, word: str) -> Any:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _invalid(name, f"{name} is not of type {word}.")
    return value


def _string(body: dict[str, Any], name: str) -> str | None:
    value: str | None = _typed(body, name, str, "string")
    return value


def _int(body: dict[str, Any], name: str) -> int | None:
    value: int | None = _typed(body, name, int, "integer")
    return value


def _list(body: dict[str, Any], name: str) -> list[Any]:
    value: list[Any] | None = _typed(body, name, list, "array")
    return value or []


def _price(body: dict[str, Any], name: str) -> Decimal | None:
    """Prices are strings in WooCommerce's REST schema; a number is refused."""
    text = _string(body, name)
    if text is None or text == "":
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise _invalid(name, f"{name} is not a valid price.") from None


def _stock(body: dict[str, Any]) -> tuple[bool | None, int | None]:
    manage: bool | None = _typed(body, "manage_stock", bool, "boolean")
    quantity = _int(body, "stock_quantity")
    return manage, quantity


def _address(body: dict[str, Any], name: str) -> dict[str, str]:
    value = _typed(body, name, dict, "object") or {}
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(item, str):
            raise _invalid(name, f"{name}[{key}] is not of type string.")
        out[key] = item
    return out


def _page(request: Request, rows: list[dict[str, Any]]) -> Response:
    try:
        per_page = int(request.arg("per_page") or 10)
        page = int(request.arg("page") or 1)
    except ValueError:
        raise _invalid("per_page", "per_page is not of type integer.") from None
    if not 1 <= per_page <= 100:
        raise _invalid("per_page", "per_page must be between 1 (inclusive) and 100 (inclusive)")
    total = len(rows)
    pages = -(-total // per_page)
    chunk = rows[(page - 1) * per_page : page * per_page]
    return _json(chunk, 200, {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)})


def _denied(action: str) -> CatalogError:
    words = {
        "view": "Sorry, you cannot list resources.",
        "create": "Sorry, you are not allowed to create resources.",
        "edit": "Sorry, you are not allowed to edit this resource.",
        "delete": "Sorry, you are not allowed to delete this resource.",
    }
    return CatalogError(401, f"woocommerce_rest_cannot_{action}", words[action])


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status,
        php_json(payload),
        {"Content-Type": "application/json; charset=UTF-8", **(headers or {})},
    )

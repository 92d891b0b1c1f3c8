"""WooCommerce behind the store write port (issue #13), through the REST client's retries.

Prices go as strings (WooCommerce's schema refuses numbers); stock goes with
``manage_stock: true``, since WooCommerce ignores a quantity on a product whose stock it does
not manage; a variation is written at ``products/<parent>/variations/<id>``. A category is
found by name under its parent, else created; WooCommerce's ``term_exists`` refusal (a
concurrent creation) names the existing term, which is then used. Customer type and payment
terms ride in the customer's ``meta_data`` (``_qbo_customer_type``, ``_qbo_terms``).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import httpx
from pydantic import Field, ValidationError

from connector.config import Connection
from connector.model import Address
from connector.secrets import SecretVault
from connector.stores.payload_types import RawPayload, Text
from connector.stores.port import (
    StoreAuthFailed,
    StoreRecordNotFound,
    StoreRequestRejected,
)
from connector.stores.woocommerce_client import GONE_ORDER, GONE_PRODUCT, WooClient
from connector.stores.woocommerce_payloads import WooAddress, WooError
from connector.stores.woocommerce_store import open_client
from connector.stores.writes import (
    CustomerFields,
    OrderFields,
    ProductFields,
    StoreCustomerRecord,
    StoreOrderRecord,
    StoreProduct,
)

TYPE_META = "_qbo_customer_type"
TERMS_META = "_qbo_terms"


class _Ref(RawPayload):
    id: int


class _Meta(RawPayload):
    key: Text = ""
    value: Any = None


class WooProductIn(RawPayload):
    id: int
    parent_id: int = 0
    type: Text = "simple"
    name: Text = ""
    sku: Text = ""
    description: Text = ""
    regular_price: Text = ""
    status: Text = "publish"
    categories: list[_Ref] = Field(default_factory=list)
    manage_stock: bool | Literal["parent"] = False
    stock_quantity: int | None = None


class _CategoryIn(RawPayload):
    id: int
    name: Text = ""
    parent: int = 0


class WooCustomerIn(RawPayload):
    id: int
    email: Text = ""
    first_name: Text = ""
    last_name: Text = ""
    billing: WooAddress = WooAddress()
    shipping: WooAddress = WooAddress()
    meta_data: list[_Meta] = Field(default_factory=list)


class _ItemIn(RawPayload):
    id: int


class WooOrderIn(RawPayload):
    id: int
    number: Text = ""
    status: Text = ""
    currency: Text = ""
    total: Text = "0"
    line_items: list[_ItemIn] = Field(default_factory=list)
    fee_lines: list[_ItemIn] = Field(default_factory=list)
    meta_data: list[_Meta] = Field(default_factory=list)


class WooWrites:
    """One connection's WooCommerce store, written."""

    display_name = "WooCommerce"

    def __init__(self, *, client: WooClient, connection_id: str) -> None:
        self._client = client
        self._connection_id = connection_id
        self._currency: str | None = None

    @property
    def calls(self) -> int:
        return self._client.calls

    def currency(self) -> str:
        if self._currency is None:
            raw = self._client.get_record(
                "settings/general/woocommerce_currency", "the store's currency", ""
            )
            self._currency = str(raw.get("value") or "").upper()
        return self._currency

    # -- products -------------------------------------------------------------------------

    def find_products(self, sku: str) -> list[StoreProduct]:
        # The SKU filter matches variations as well (their parent_id says whose they are).
        found = self._client.pages("products", [("sku", sku)], f"products with SKU {sku!r}")
        return [p for p in (_product(raw) for raw in found) if p.sku == sku]

    def find_products_named(self, name: str) -> list[StoreProduct]:
        found = self._client.pages("products", [("search", name)], f"products named {name!r}")
        return [p for p in (_product(raw) for raw in found) if p.name == name]

    def get_product(self, store_id: str) -> StoreProduct | None:
        try:
            raw = self._client.get_record(
                f"products/{int(store_id)}", f"product {store_id}", GONE_PRODUCT
            )
        except StoreRecordNotFound:
            return None
        product = _product(raw)
        trashed = str(raw.get("status") or "") == "trash"
        return None if trashed else product

    def create_product(self, fields: ProductFields) -> StoreProduct:
        body = _product_body(fields)
        body.setdefault("type", "simple")
        raw = self._send("POST", "products", body, f"creating product {fields.sku or fields.name}")
        return _product(raw)

    def update_product(self, product: StoreProduct, fields: ProductFields) -> StoreProduct:
        body = _product_body(fields)
        if product.parent_id:
            # A variation has no name, description or categories of its own.
            body = {k: v for k, v in body.items() if k not in ("name", "description", "categories")}
            path = f"products/{product.parent_id}/variations/{product.store_id}"
        else:
            path = f"products/{product.store_id}"
        raw = self._send("PUT", path, body, f"updating {product.label}")
        written = _product(raw)
        if product.parent_id and not written.parent_id:
            return StoreProduct(**{**written.__dict__, "parent_id": product.parent_id})
        return written

    # -- categories -----------------------------------------------------------------------

    def ensure_category(self, path: tuple[str, ...]) -> str:
        parent = 0
        for name in path:
            parent = self._category(name, parent)
        return str(parent)

    def _category(self, name: str, parent: int) -> int:
        listed = self._client.pages(
            "products/categories",
            [("search", name), ("parent", str(parent))],
            f"category {name!r}",
        )
        for raw in listed:
            category = _CategoryIn.model_validate(raw)
            if _unescape(category.name).lower() == name.lower() and category.parent == parent:
                return category.id
        response = self._client.write(
            "POST", "products/categories", {"name": name, "parent": parent}, f"creating {name!r}"
        )
        error = _error(response)
        if response.status_code == 400 and error.code == "term_exists":
            # Made by someone else since we looked: WooCommerce names the one that exists.
            existing = error.data.get("resource_id") or error.data.get("term_id")
            if isinstance(existing, int):
                return existing
        return _CategoryIn.model_validate(self._read(response, f"creating category {name!r}")).id

    # -- customers ------------------------------------------------------------------------

    def find_customer(self, email: str) -> StoreCustomerRecord | None:
        found = self._client.pages(
            "customers", [("email", email), ("role", "all")], "the customer with that e-mail"
        )
        for raw in found:
            customer = _customer(raw)
            if customer.email.lower() == email.lower():
                return customer
        return None

    def get_customer(self, store_id: str) -> StoreCustomerRecord | None:
        try:
            raw = self._client.get_customer(store_id)
        except StoreRecordNotFound:
            return None
        return _customer(raw)

    def create_customer(self, fields: CustomerFields) -> StoreCustomerRecord:
        raw = self._send("POST", "customers", _customer_body(fields), "creating a customer")
        return _customer(raw)

    def update_customer(
        self, customer: StoreCustomerRecord, fields: CustomerFields
    ) -> StoreCustomerRecord:
        raw = self._send(
            "PUT",
            f"customers/{int(customer.store_id)}",
            _customer_body(fields),
            f"updating customer {customer.store_id}",
        )
        return _customer(raw)

    # -- orders ---------------------------------------------------------------------------

    def create_order(self, fields: OrderFields) -> StoreOrderRecord:
        raw = self._send("POST", "orders", _order_body(fields), "creating an order")
        return _order(raw)

    def get_order(self, store_id: str) -> StoreOrderRecord | None:
        try:
            raw = self._client.get_record(
                f"orders/{int(store_id)}", f"order {store_id}", GONE_ORDER
            )
        except StoreRecordNotFound:
            return None
        return _order(raw)

    def update_order(self, order: StoreOrderRecord, fields: OrderFields) -> StoreOrderRecord:
        body = _order_body(fields)
        # WooCommerce removes a line item given with its id and quantity 0, a fee line given
        # with its id and name null.
        if fields.lines is not None:
            body["line_items"] = [
                *({"id": int(i), "quantity": 0} for i in order.line_ids),
                *body["line_items"],
            ]
        if fields.fees is not None:
            body["fee_lines"] = [
                *({"id": int(i), "name": None} for i in order.fee_ids),
                *body["fee_lines"],
            ]
        raw = self._send(
            "PUT", f"orders/{int(order.store_id)}", body, f"updating order {order.number}"
        )
        return _order(raw)

    def find_order_made_for(self, key: str, value: str, since: datetime) -> StoreOrderRecord | None:
        # Orders have no metadata filter in the REST API: the few created since are read.
        params = [
            ("after", since.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat()),
            ("dates_are_gmt", "true"),
            ("orderby", "date"),
            ("order", "asc"),
        ]
        for raw in self._client.pages("orders", params, "orders created since the last attempt"):
            meta = WooOrderIn.model_validate(raw).meta_data
            if any(m.key == key and str(m.value) == value for m in meta):
                return _order(raw)
        return None

    def add_order_note(self, store_id: str, note: str) -> None:
        self._send("POST", f"orders/{int(store_id)}/notes", {"note": note}, "adding an order note")

    # -- transport ------------------------------------------------------------------------

    def _send(
        self, method: Literal["POST", "PUT"], path: str, body: Mapping[str, Any], what: str
    ) -> dict[str, Any]:
        return self._read(self._client.write(method, path, body, what), what)

    def _read(self, response: httpx.Response, what: str) -> dict[str, Any]:
        status = response.status_code
        said = _words(response)
        if status in (401, 403):
            raise StoreAuthFailed(
                f"WooCommerce refused {what} on connection {self._connection_id}: "
                f"{said or f'HTTP {status}'}. Writing to the store needs an API key with "
                "Read/Write permissions (WooCommerce > Settings > Advanced > REST API)"
            )
        if status >= 300:
            raise StoreRequestRejected(
                f"WooCommerce refused {what} on connection {self._connection_id}: "
                f"HTTP {status}{': ' + said if said else ''}"
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise StoreRequestRejected(
                f"WooCommerce answered {what} on connection {self._connection_id} with "
                "something that is not a record; check the store URL"
            )
        return body


def _product(raw: Mapping[str, Any]) -> StoreProduct:
    try:
        woo = WooProductIn.model_validate(raw)
    except ValidationError as exc:
        raise StoreRequestRejected(
            f"WooCommerce answered a product the connector cannot read: {exc.error_count()} "
            "fields wrong"
        ) from None
    return StoreProduct(
        store_id=str(woo.id),
        parent_id=str(woo.parent_id) if woo.parent_id else None,
        name=_unescape(woo.name),
        sku=woo.sku,
        description=woo.description,
        price=Decimal(woo.regular_price) if woo.regular_price else None,
        active=woo.status == "publish",
        category_ids=tuple(str(c.id) for c in woo.categories),
        stock=woo.stock_quantity if woo.manage_stock is True else None,
    )


def _product_body(fields: ProductFields) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if fields.name is not None:
        body["name"] = fields.name
    if fields.sku is not None:
        body["sku"] = fields.sku
    if fields.description is not None:
        body["description"] = fields.description
    if fields.price is not None:
        body["regular_price"] = f"{fields.price:.2f}"  # a string, as the schema wants
    if fields.active is not None:
        # A product made inactive in QuickBooks stays in the store as a private product.
        body["status"] = "publish" if fields.active else "private"
    if fields.category_id is not None:
        body["categories"] = [{"id": int(fields.category_id)}]
    if fields.stock is not None:
        body["manage_stock"] = True
        body["stock_quantity"] = fields.stock
    return body


def _customer(raw: Mapping[str, Any]) -> StoreCustomerRecord:
    woo = WooCustomerIn.model_validate(raw)
    meta = {m.key: str(m.value) for m in woo.meta_data if m.key and m.value is not None}
    return StoreCustomerRecord(
        store_id=str(woo.id),
        email=woo.email,
        first_name=woo.first_name,
        last_name=woo.last_name,
        company=woo.billing.company,
        phone=woo.billing.phone,
        billing=_address(woo.billing),
        shipping=_address(woo.shipping),
        customer_type=meta.get(TYPE_META) or None,
        terms=meta.get(TERMS_META) or None,
    )


def _address(woo: WooAddress) -> Address:
    return Address(
        first_name=woo.first_name,
        last_name=woo.last_name,
        company=woo.company,
        line1=woo.address_1,
        line2=woo.address_2,
        city=woo.city,
        region=woo.state,
        postcode=woo.postcode,
        country=woo.country,
        phone=woo.phone,
    )


def _woo_address(address: Address) -> dict[str, str]:
    """The postal parts only: names, company and phone are written as fields of their own."""
    return {
        "address_1": address.line1,
        "address_2": address.line2,
        "city": address.city,
        "state": address.region,
        "postcode": address.postcode,
        "country": address.country,
    }


def _customer_body(fields: CustomerFields) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name in ("first_name", "last_name", "email"):
        value = getattr(fields, name)
        if value is not None:
            body[name] = value
    billing: dict[str, str] = {}
    if fields.billing is not None:
        billing.update(_woo_address(fields.billing))
    # The billing names are what the store's orders and emails show: kept with the customer's.
    if fields.first_name is not None:
        billing["first_name"] = fields.first_name
    if fields.last_name is not None:
        billing["last_name"] = fields.last_name
    if fields.company is not None:
        billing["company"] = fields.company
    if fields.phone is not None:
        billing["phone"] = fields.phone
    if fields.email is not None and billing:
        billing["email"] = fields.email
    if billing:
        body["billing"] = billing
    if fields.shipping is not None:
        body["shipping"] = _woo_address(fields.shipping)
    meta = []
    if fields.customer_type is not None:
        meta.append({"key": TYPE_META, "value": fields.customer_type})
    if fields.terms is not None:
        meta.append({"key": TERMS_META, "value": fields.terms})
    if meta:
        body["meta_data"] = meta
    return body


def _order(raw: Mapping[str, Any]) -> StoreOrderRecord:
    woo = WooOrderIn.model_validate(raw)
    return StoreOrderRecord(
        store_id=str(woo.id),
        number=woo.number or str(woo.id),
        status=woo.status,
        currency=woo.currency,
        total=Decimal(woo.total or "0"),
        line_ids=tuple(str(i.id) for i in woo.line_items),
        fee_ids=tuple(str(i.id) for i in woo.fee_lines),
    )


def _order_body(fields: OrderFields) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if fields.status is not None:
        body["status"] = fields.status
    if fields.paid:
        body["set_paid"] = True
    if fields.currency is not None:
        body["currency"] = fields.currency
    if fields.customer_id is not None:
        body["customer_id"] = int(fields.customer_id or 0)
    if fields.billing is not None:
        billing = {
            **_woo_address(fields.billing),
            "first_name": fields.billing.first_name,
            "last_name": fields.billing.last_name,
            "company": fields.billing.company,
            "phone": fields.billing.phone,
        }
        if fields.email:
            billing["email"] = fields.email
        body["billing"] = billing
    if fields.shipping is not None:
        body["shipping"] = {
            **_woo_address(fields.shipping),
            "first_name": fields.shipping.first_name,
            "last_name": fields.shipping.last_name,
            "company": fields.shipping.company,
        }
    if fields.lines is not None:
        # zero-rate: the store adds no tax of its own; the ledger's tax is a fee line.
        body["line_items"] = [
            {
                "product_id": int(line.product_id),
                "quantity": line.quantity,
                "subtotal": f"{line.total:.2f}",
                "total": f"{line.total:.2f}",
                "tax_class": "zero-rate",
            }
            for line in fields.lines
        ]
    if fields.fees is not None:
        body["fee_lines"] = [
            {"name": name, "total": f"{amount:.2f}", "tax_status": "none"}
            for name, amount in fields.fees
        ]
    if fields.meta:
        body["meta_data"] = [{"key": key, "value": value} for key, value in fields.meta]
    return body


def _error(response: httpx.Response) -> WooError:
    try:
        return WooError.model_validate(response.json())
    except (ValueError, ValidationError):
        return WooError()


def _words(response: httpx.Response) -> str:
    """WooCommerce's own explanation and code ("Invalid or duplicated SKU. (product_invalid_sku)"),
    which never holds the keys."""
    error = _error(response)
    if not error.message:
        return ""
    return f"{error.message} ({error.code})" if error.code else error.message


def _unescape(text: str) -> str:
    """WooCommerce stores names HTML-escaped ("Art &amp; Prints")."""
    return html.unescape(text)


def open_writes(connection: Connection, vault: SecretVault, http: httpx.Client) -> WooWrites:
    """The registry's opener: the REST client with the connection's API keys."""
    return WooWrites(client=open_client(connection, vault, http), connection_id=connection.id)

"""Magento 2 / Adobe Commerce behind the store write port (issue #13), through the REST client.

A product is addressed by SKU in Magento's API and kept by its entity id here (a product
deleted and made again under the same SKU is another product). Price, name, status and
description go in one ``PUT /V1/products/{sku}``; a category as the product's
``category_links`` (which replace its old ones); stock through its stock item
(``PUT /V1/products/{sku}/stockItems/{itemId}`` with ``qty`` and ``is_in_stock``), managed
from then on. A configurable's options are simple products with SKUs of their own, so a
QuickBooks item reaches one by SKU directly (no parent). Categories are made under the store's
root category (Default Category, id 2) by name; a sibling made meanwhile (Magento's "URL key
... already exists") is looked up again and used.

Customers: names and e-mail on the customer; billing and shipping as its default addresses
(phone and company ride on the billing address, where Magento keeps them). Magento has no
field for QuickBooks' customer type or terms: they are not written (README "Both ways").

Invoices → orders are refused: Magento's REST API makes orders only by checking out a cart
whose totals Magento computes with its own catalogue prices, tax and shipping rules, so the
order cannot be made to equal the QuickBooks invoice to the cent (decision in the README).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import Field, ValidationError

from connector.config import Connection, MagentoStore
from connector.errors import PermanentError
from connector.model import Address
from connector.secrets import SecretVault
from connector.stores.magento.client import Filter, MagentoClient
from connector.stores.magento.normalise import normalise_customer
from connector.stores.magento.payloads import MageError, OptionalMoney
from connector.stores.magento.store import DISPLAY_NAME, MagentoSecrets
from connector.stores.payload_types import RawPayload, Text
from connector.stores.port import StoreAuthFailed, StoreRecordMissing, StoreRequestRejected
from connector.stores.writes import (
    CustomerFields,
    OrderFields,
    ProductFields,
    StoreCustomerRecord,
    StoreOrderRecord,
    StoreProduct,
)

ROOT_CATEGORY = 2  # the default store's root, "Default Category"
ENABLED, DISABLED = 1, 2
NO_ORDERS = (
    "QuickBooks invoices cannot become Magento orders: Magento's REST API makes an order only "
    "by checking out a cart, whose totals Magento computes from its own prices, tax and "
    "shipping rules, so the order would not equal the QuickBooks invoice to the cent. Set "
    "qbo_invoices_to_orders = false for connection {connection}"
)


class _Link(RawPayload):
    category_id: Text = ""


class _StockItem(RawPayload):
    item_id: int | None = None
    qty: Decimal | None = None
    manage_stock: bool = True


class _Extension(RawPayload):
    category_links: list[_Link] = Field(default_factory=list)
    stock_item: _StockItem | None = None


class _Attribute(RawPayload):
    attribute_code: Text = ""
    value: Any = None


class MageProductIn(RawPayload):
    id: int
    sku: Text = ""
    name: Text = ""
    price: OptionalMoney = None
    status: int = ENABLED
    extension_attributes: _Extension = _Extension()
    custom_attributes: list[_Attribute] = Field(default_factory=list)


class _CategoryIn(RawPayload):
    id: int
    name: Text = ""
    parent_id: int = 0


class MagentoWrites:
    """One connection's Magento store, written."""

    display_name = DISPLAY_NAME

    def __init__(self, *, client: MagentoClient, connection_id: str) -> None:
        self._client = client
        self._connection_id = connection_id
        self._currency: str | None = None
        # Product entity id -> its stock item's id, from the products read (saves a read).
        self._stock_items: dict[str, int] = {}

    @property
    def calls(self) -> int:
        return self._client.calls

    def currency(self) -> str:
        # The base currency, in which Magento keeps catalogue prices; read once.
        if self._currency is None:
            raw = self._client.record("directory/currency", "the store's currencies")
            self._currency = str(raw.get("base_currency_code") or "").upper()
        return self._currency

    # -- products -------------------------------------------------------------------------

    def find_products(self, sku: str) -> list[StoreProduct]:
        # Magento's SKUs are unique without regard to case: at most one answers.
        found = self._client.search("products", [Filter("sku", sku)], f"products with SKU {sku!r}")
        return [p for p in self._products(found) if p.sku.lower() == sku.lower()]

    def find_products_named(self, name: str) -> list[StoreProduct]:
        found = self._client.search("products", [Filter("name", name)], f"products named {name!r}")
        return [p for p in self._products(found) if p.name == name]

    def get_product(self, store_id: str) -> StoreProduct | None:
        if not store_id.isdigit():
            return None
        found = list(
            self._client.search("products", [Filter("entity_id", store_id)], f"product {store_id}")
        )
        return _product(found[0], self._stock_items) if found else None  # none: deleted

    def create_product(self, fields: ProductFields) -> StoreProduct:
        body = _product_body(fields)
        body.update(attribute_set_id=4, type_id="simple", visibility=4)
        body.setdefault("status", ENABLED)
        if fields.stock is not None:
            body.setdefault("extension_attributes", {})["stock_item"] = _stock_body(fields.stock)
        raw = self._send(
            "POST", "products", {"product": body}, f"creating product {fields.sku or fields.name}"
        )
        return _product(raw, self._stock_items)

    def _products(self, found: Iterable[Mapping[str, Any]]) -> list[StoreProduct]:
        return [_product(raw, self._stock_items) for raw in found]

    def update_product(self, product: StoreProduct, fields: ProductFields) -> StoreProduct:
        sku = _path(product.sku)
        body = _product_body(fields)
        body.pop("sku", None)  # the connector never renames a SKU
        written = product
        if body:
            raw = self._send(
                "PUT", f"products/{sku}", {"product": body}, f"updating {product.label}"
            )
            written = _product(raw, self._stock_items)
        if fields.stock is not None:
            item_id = self._stock_items.get(product.store_id)
            if item_id is None:
                raw = self._client.record(f"stockItems/{sku}", f"the stock of {product.label}")
                item_id = _StockItem.model_validate(raw).item_id or 1
            what = f"setting the stock of {product.label}"
            stock = {"stockItem": _stock_body(fields.stock)}
            # Magento answers the stock item's id, not the product: the product as written is
            # the one the PUT answered (or read) with its new quantity.
            self._refused(
                self._client.write("PUT", f"products/{sku}/stockItems/{item_id}", stock, what),
                what,
            )
            written = replace(written, stock=fields.stock)
        return written

    # -- categories -----------------------------------------------------------------------

    def ensure_category(self, path: tuple[str, ...]) -> str:
        parent = ROOT_CATEGORY
        for name in path:
            parent = self._category(name, parent)
        return str(parent)

    def _category(self, name: str, parent: int) -> int:
        found = self._find_category(name, parent)
        if found is not None:
            return found
        body = {"category": {"name": name, "parent_id": parent, "is_active": True}}
        response = self._client.write("POST", "categories", body, f"creating category {name!r}")
        if response.status_code == 400 and "URL key" in _words(response):
            # A sibling made since we looked (or one whose name differs only in case).
            found = self._find_category(name, parent)
            if found is not None:
                return found
        return _CategoryIn.model_validate(self._read(response, f"creating category {name!r}")).id

    def _find_category(self, name: str, parent: int) -> int | None:
        listed = self._client.search(
            "categories/list",
            [Filter("name", name), Filter("parent_id", str(parent))],
            f"category {name!r}",
        )
        for raw in listed:
            category = _CategoryIn.model_validate(raw)
            if category.name.lower() == name.lower() and category.parent_id == parent:
                return category.id
        return None

    # -- customers ------------------------------------------------------------------------

    def find_customer(self, email: str) -> StoreCustomerRecord | None:
        found = self._client.search(
            "customers/search", [Filter("email", email)], "the customer with that e-mail"
        )
        for raw in found:
            customer = self._customer(raw)
            if customer.email.lower() == email.lower():
                return customer
        return None

    def get_customer(self, store_id: str) -> StoreCustomerRecord | None:
        raw = self._raw_customer(store_id)
        return self._customer(raw) if raw is not None else None

    def create_customer(self, fields: CustomerFields) -> StoreCustomerRecord:
        body = _customer_body({"website_id": 1, "addresses": []}, fields)
        raw = self._send("POST", "customers", {"customer": body}, "creating a customer")
        return self._customer(raw)

    def update_customer(
        self, customer: StoreCustomerRecord, fields: CustomerFields
    ) -> StoreCustomerRecord:
        current = self._raw_customer(customer.store_id)
        if current is None:
            raise StoreRequestRejected(
                f"Magento has no customer {customer.store_id} on connection "
                f"{self._connection_id} any more (deleted since it was read)"
            )
        body = _customer_body(current, fields)
        if body == current:
            return customer  # only what Magento has no field for changed
        raw = self._send(
            "PUT",
            f"customers/{int(customer.store_id)}",
            {"customer": body},
            f"updating customer {customer.store_id}",
        )
        return self._customer(raw)

    def _raw_customer(self, store_id: str) -> dict[str, Any] | None:
        if not store_id.isdigit():
            return None
        try:
            return self._client.get_customer(store_id)
        except StoreRecordMissing:
            return None

    def _customer(self, raw: Mapping[str, Any]) -> StoreCustomerRecord:
        customer = normalise_customer(raw, self._connection_id)
        return StoreCustomerRecord(
            store_id=customer.store_id or "",
            email=customer.email,
            first_name=customer.first_name,
            last_name=customer.last_name,
            company=customer.company,
            phone=customer.phone,
            billing=customer.billing,
            shipping=customer.shipping,
        )

    # -- orders: refused ------------------------------------------------------------------

    def _no_orders(self) -> PermanentError:
        return PermanentError(NO_ORDERS.format(connection=self._connection_id))

    def create_order(self, fields: OrderFields) -> StoreOrderRecord:
        raise self._no_orders()

    def get_order(self, store_id: str) -> StoreOrderRecord | None:
        raise self._no_orders()

    def update_order(self, order: StoreOrderRecord, fields: OrderFields) -> StoreOrderRecord:
        raise self._no_orders()

    def add_order_note(self, store_id: str, note: str) -> None:
        raise self._no_orders()

    def find_order_made_for(self, key: str, value: str, since: datetime) -> StoreOrderRecord | None:
        raise self._no_orders()

    # -- transport ------------------------------------------------------------------------

    def _send(
        self, method: Literal["POST", "PUT"], path: str, body: Mapping[str, Any], what: str
    ) -> dict[str, Any]:
        return self._read(self._client.write(method, path, body, what), what)

    def _read(self, response: httpx.Response, what: str) -> dict[str, Any]:
        self._refused(response, what)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise StoreRequestRejected(
                f"Magento answered {what} on connection {self._connection_id} with something "
                "that is not a record; check the store URL and store code"
            )
        return body

    def _refused(self, response: httpx.Response, what: str) -> None:
        """Raise what a refusal stands for; nothing for an answer Magento accepted."""
        status = response.status_code
        said = _words(response)
        if status in (401, 403):
            raise StoreAuthFailed(
                f"Magento refused {what} on connection {self._connection_id}: "
                f"{said or f'HTTP {status}'}. Writing to the store needs the integration's "
                "Catalog (Products, Categories, Inventory) and Customers resources "
                "(System > Extensions > Integrations > API)"
            )
        if status >= 300:
            raise StoreRequestRejected(
                f"Magento refused {what} on connection {self._connection_id}: "
                f"HTTP {status}{': ' + said if said else ''}"
            )


def _path(sku: str) -> str:
    """A SKU as one path segment (Magento decodes it)."""
    return quote(sku, safe="")


def _product(raw: Mapping[str, Any], stock_items: dict[str, int]) -> StoreProduct:
    try:
        mage = MageProductIn.model_validate(raw)
    except ValidationError as exc:
        raise StoreRequestRejected(
            f"Magento answered a product the connector cannot read: {exc.error_count()} "
            "fields wrong"
        ) from None
    attributes = {a.attribute_code: a.value for a in mage.custom_attributes}
    stock = mage.extension_attributes.stock_item
    if stock is not None and stock.item_id:
        stock_items[str(mage.id)] = stock.item_id
    return StoreProduct(
        store_id=str(mage.id),
        parent_id=None,
        name=mage.name,
        sku=mage.sku,
        description=str(attributes.get("description") or ""),
        price=mage.price,
        active=mage.status == ENABLED,
        category_ids=tuple(
            link.category_id for link in mage.extension_attributes.category_links
        ),
        stock=int(stock.qty) if stock is not None and stock.manage_stock and stock.qty is not None
        else None,
    )  # fmt: skip


def _product_body(fields: ProductFields) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if fields.sku is not None:
        body["sku"] = fields.sku
    if fields.name is not None:
        body["name"] = fields.name
    if fields.price is not None:
        # As text: Magento's REST casts it to its decimal price (JSON has no decimal numbers).
        body["price"] = f"{fields.price:.2f}"
    if fields.active is not None:
        # An item made inactive in QuickBooks stays in Magento, disabled.
        body["status"] = ENABLED if fields.active else DISABLED
    if fields.description is not None:
        body["custom_attributes"] = [{"attribute_code": "description", "value": fields.description}]
    if fields.category_id is not None:
        body["extension_attributes"] = {
            "category_links": [{"position": 0, "category_id": fields.category_id}]
        }
    return body


def _stock_body(qty: int) -> dict[str, Any]:
    # Managed from now on: Magento ignores a quantity on an item whose stock it does not manage.
    return {"qty": qty, "is_in_stock": qty > 0, "manage_stock": True,
            "use_config_manage_stock": False}  # fmt: skip


def _customer_body(current: Mapping[str, Any], fields: CustomerFields) -> dict[str, Any]:
    """The whole customer as Magento's PUT wants it: ``current`` with ``fields`` set."""
    body = dict(current)
    for name, key in (("first_name", "firstname"), ("last_name", "lastname"), ("email", "email")):
        value = getattr(fields, name)
        if value is not None:
            body[key] = value
    addresses = [dict(a) for a in current.get("addresses") or []]
    billing_id = str(current.get("default_billing") or "")
    shipping_id = str(current.get("default_shipping") or "")
    billing = next((a for a in addresses if str(a.get("id")) == billing_id), None)
    shipping = next((a for a in addresses if str(a.get("id")) == shipping_id), None)
    # Magento wants a telephone on every address: the customer's, when the address has none.
    phone = fields.phone or str((billing or {}).get("telephone") or "")
    first = fields.first_name or str(body.get("firstname") or "")
    last = fields.last_name or str(body.get("lastname") or "")
    if fields.billing is not None:
        new = _mage_address(fields.billing, first, last, billing, phone)
        new["default_billing"] = True
        if shipping is billing and fields.shipping is None:
            new["default_shipping"] = True
        addresses = _replace(addresses, billing, new)
        billing = new
    if fields.shipping is not None:
        old = None if shipping is billing else shipping
        new = _mage_address(fields.shipping, first, last, old, phone)
        new["default_shipping"] = True
        if shipping is not None and shipping is not billing:
            addresses = _replace(addresses, shipping, new)
        else:
            addresses.append(new)
            if billing is not None:
                billing["default_shipping"] = False
    if billing is not None and (fields.phone is not None or fields.company is not None):
        # Magento keeps a customer's phone and company on the address, not the customer.
        if fields.phone is not None:
            billing["telephone"] = fields.phone
        if fields.company is not None:
            billing["company"] = fields.company
    if addresses != list(current.get("addresses") or []):
        for address in addresses:
            address.setdefault("default_billing", str(address.get("id")) == billing_id)
            address.setdefault("default_shipping", str(address.get("id")) == shipping_id)
        body["addresses"] = addresses
    return body


def _replace(
    addresses: list[dict[str, Any]], old: dict[str, Any] | None, new: dict[str, Any]
) -> list[dict[str, Any]]:
    if old is None:
        return [*addresses, new]
    return [new if a is old else a for a in addresses]


def _mage_address(
    address: Address, first: str, last: str, old: Mapping[str, Any] | None, phone: str
) -> dict[str, Any]:
    kept = dict(old or {})
    street = [line for line in (address.line1, address.line2) if line]
    return {
        **kept,
        "firstname": address.first_name or kept.get("firstname") or first,
        "lastname": address.last_name or kept.get("lastname") or last,
        "street": street,
        "city": address.city,
        "region": {"region_code": address.region, "region": address.region},
        "postcode": address.postcode,
        "country_id": address.country,
        "telephone": address.phone or kept.get("telephone") or phone,
        "company": address.company or kept.get("company") or "",
    }


def _words(response: httpx.Response) -> str:
    """Magento's own explanation, its placeholders filled ("URL key for specified store already
    exists.")."""
    try:
        return MageError.model_validate(response.json()).text()
    except (ValueError, ValidationError):
        return ""


def open_writes(connection: Connection, vault: SecretVault, http: httpx.Client) -> MagentoWrites:
    """The registry's opener: the REST client signed with the connection's integration."""
    if not isinstance(connection.store, MagentoStore):
        raise ValueError(f"connection {connection.id} is not a Magento store")
    secrets = vault.store_as(connection.id, MagentoSecrets, DISPLAY_NAME)
    client = MagentoClient(
        base_url=connection.store.url,
        store_code=connection.store.store_code,
        credentials=secrets.credentials(),
        http=http,
        connection_id=connection.id,
    )
    return MagentoWrites(client=client, connection_id=connection.id)

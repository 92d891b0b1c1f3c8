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

Invoices → orders through ``POST /V1/orders`` ("performs persist operations for a specified
order"): the order is saved with the totals it is given, as order imports do, so it equals the
invoice to the cent. Lines by SKU; QuickBooks' tax as the order's tax (one applied tax, shared
over the items), a positive rest as the shipping amount, a negative one as the discount;
``base_*`` the same (the invoice is in the store's base currency); state and status from the
balance; the invoice as the marker ``ext_order_id = qbo-invoice-<Id>`` (read back by
normalise.origin_ledger_id); notes as the order's comments. An update sends the order as
Magento has it with the changes (it persists what it is given). Decision 73.
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

from connector.config import Connection
from connector.model import ORIGIN_META, Address
from connector.secrets import SecretVault
from connector.stores.allocation import split
from connector.stores.magento.client import Filter, MagentoClient
from connector.stores.magento.normalise import ORIGIN_PREFIX, normalise_customer, origin_ledger_id
from connector.stores.magento.payloads import MageError, MageOrder, OptionalMoney, format_time
from connector.stores.magento.store import DISPLAY_NAME, open_client
from connector.stores.payload_types import RawPayload, Text
from connector.stores.port import StoreAuthFailed, StoreRecordMissing, StoreRequestRejected
from connector.stores.writes import (
    CustomerFields,
    OrderFields,
    OrderLine,
    ProductFields,
    StoreCustomerRecord,
    StoreOrderRecord,
    StoreProduct,
)

ROOT_CATEGORY = 2  # the default store's root, "Default Category"
ENABLED, DISABLED = 1, 2
ZERO, CENT, FOUR = Decimal(0), Decimal("0.01"), Decimal("0.0001")
# The core's fee for QuickBooks' tax (connector.both_ways.invoices.TAX_FEE): the order's tax.
TAX_FEE = "Tax"
TAX_CODE = "QuickBooks tax"
ADJUSTMENT = "Adjustment (QuickBooks)"
# The core's status words -> Magento's (state, status); and back from a status.
STATES = {
    "pending": ("new", "pending"),
    "on-hold": ("holded", "holded"),
    "processing": ("processing", "processing"),
    "completed": ("complete", "complete"),
    "cancelled": ("canceled", "canceled"),
}
STATUS_WORDS = {status: word for word, (_, status) in STATES.items()}


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
        # Product entity id -> its SKU, from the products found (an order line's SKU).
        self._skus: dict[str, str] = {}

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
        products = [_product(raw, self._stock_items) for raw in found]
        self._skus.update((p.store_id, p.sku) for p in products)
        return products

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

    # -- orders ---------------------------------------------------------------------------

    def create_order(self, fields: OrderFields) -> StoreOrderRecord:
        marker = dict(fields.meta).get(ORIGIN_META, "")
        if not fields.email:
            raise StoreRequestRejected(
                f"QuickBooks invoice {marker or '(no id)'} has no customer e-mail, and a Magento "
                f"order requires one (customer_email) on connection {self._connection_id}: give "
                "the QuickBooks customer an e-mail, then replay"
            )
        if fields.lines is None:
            raise StoreRequestRejected("a Magento order needs its lines (none were given)")
        currency = (fields.currency or self.currency()).upper()
        buyer = fields.customer_id if fields.customer_id not in (None, "", "0") else None
        named = fields.billing or fields.shipping
        entity: dict[str, Any] = {
            "customer_email": fields.email,
            "customer_is_guest": 0 if buyer else 1,
            "customer_firstname": named.first_name if named is not None else "",
            "customer_lastname": named.last_name if named is not None else "",
            "order_currency_code": currency,
            "base_currency_code": self.currency() or currency,
            "global_currency_code": self.currency() or currency,
            "store_currency_code": self.currency() or currency,
            "base_to_order_rate": 1,
            "base_to_global_rate": 1,
            # The payment is QuickBooks' to record: the order says so, with the fields the
            # order payment definition requires.
            "payment": {"method": "checkmo", "account_status": "", "cc_last4": "",
                        "additional_information": ["Invoiced in QuickBooks"]},
        }  # fmt: skip
        if buyer:
            entity["customer_id"] = int(buyer)
        if marker:
            entity["ext_order_id"] = f"{ORIGIN_PREFIX}{marker}"
        _set_amounts(entity, self._amounts(fields.lines, fields.fees or (), currency))
        billing = _order_address(fields.billing, "billing", fields.email)
        if billing is not None:
            entity["billing_address"] = billing
        shipping = _order_address(fields.shipping, "shipping", fields.email)
        if shipping is not None:
            entity["extension_attributes"]["shipping_assignments"] = [
                {"shipping": {"address": shipping}}
            ]
        _set_status(entity, fields.status or "pending", fields.paid)
        raw = self._send("POST", "orders", {"entity": entity}, "creating an order")
        return _order(raw)

    def get_order(self, store_id: str) -> StoreOrderRecord | None:
        raw = self._raw_order(store_id)
        return _order(raw) if raw is not None else None

    def _raw_order(self, store_id: str) -> dict[str, Any] | None:
        if not store_id.isdigit():
            return None
        try:
            return self._client.record(f"orders/{int(store_id)}", f"order {store_id}")
        except StoreRecordMissing:
            return None  # the merchant deleted it

    def update_order(self, order: StoreOrderRecord, fields: OrderFields) -> StoreOrderRecord:
        # Magento persists the whole order it is given: the order as it is, with the changes.
        entity = self._raw_order(order.store_id)
        if entity is None:
            raise StoreRequestRejected(
                f"Magento has no order {order.number} on connection {self._connection_id} any "
                "more (deleted since it was read)"
            )
        if fields.lines is not None:
            currency = str(entity.get("order_currency_code") or self.currency())
            _set_amounts(entity, self._amounts(fields.lines, fields.fees or (), currency))
            if Decimal(str(entity.get("total_paid") or 0)) > 0:
                entity["total_paid"] = entity["base_total_paid"] = entity["grand_total"]
        billing = _order_address(fields.billing, "billing", str(entity.get("customer_email")))
        if billing is not None:
            entity["billing_address"] = {**(entity.get("billing_address") or {}), **billing}
        if fields.status is not None:
            _set_status(entity, fields.status, fields.paid)
        raw = self._send("POST", "orders", {"entity": entity}, f"updating order {order.number}")
        return _order(raw)

    def add_order_note(self, store_id: str, note: str) -> None:
        # The order's comments history (admin: Comments History), not shown to the customer.
        history = {"comment": note, "is_customer_notified": 0, "is_visible_on_front": 0,
                   "parent_id": int(store_id)}  # fmt: skip
        what = f"adding a comment to order {store_id}"
        self._refused(
            self._client.write(
                "POST", f"orders/{int(store_id)}/comments", {"statusHistory": history}, what
            ),
            what,
        )

    def find_order_made_for(self, key: str, value: str, since: datetime) -> StoreOrderRecord | None:
        if key != ORIGIN_META:
            raise ValueError(f"Magento orders carry only the {ORIGIN_META} marker, not {key}")
        found = self._client.search(
            "orders",
            [
                Filter("ext_order_id", f"{ORIGIN_PREFIX}{value}"),
                Filter("created_at", format_time(since), "gteq"),
            ],
            "orders made for the invoice since the last attempt",
        )
        for raw in found:
            if origin_ledger_id(str(raw.get("ext_order_id") or "")) == value:
                return _order(raw)
        return None

    def _amounts(
        self, lines: Iterable[OrderLine], fees: Iterable[tuple[str, Decimal]], currency: str
    ) -> dict[str, Any]:
        """Items and totals to the cent, in the order currency and the same in the base one:
        QuickBooks' tax as the order's tax (shared over the items so each row adds up), a
        positive rest (shipping, charges) as the shipping amount, a negative one as the
        discount (shared over the items)."""
        rows = list(lines)
        tax = sum((amount for name, amount in fees if name == TAX_FEE), ZERO)
        rest = sum((amount for name, amount in fees if name != TAX_FEE), ZERO)
        shipping = rest if rest > 0 else ZERO
        discount = -rest if rest < 0 else ZERO
        totals = [line.total for line in rows]
        discounts = split(discount, totals, currency) if discount else [ZERO] * len(rows)
        taxes = split(tax, [t - d for t, d in zip(totals, discounts, strict=True)], currency)
        if not tax:
            taxes = [ZERO] * len(rows)
        items = []
        for line, line_tax, line_discount in zip(rows, taxes, discounts, strict=True):
            sku = self._skus.get(line.product_id) or self._sku_of(line.product_id)
            unit = (line.total / line.quantity).quantize(FOUR)
            figures = {"price": unit, "original_price": unit, "row_total": line.total,
                       "tax_amount": line_tax, "discount_amount": line_discount,
                       "row_total_incl_tax": line.total + line_tax}  # fmt: skip
            item: dict[str, Any] = {
                "sku": sku, "name": line.name, "product_id": int(line.product_id),
                "product_type": "simple", "qty_ordered": line.quantity,
                "tax_percent": 0,
            }  # fmt: skip
            for name, amount in figures.items():
                item[name] = item[f"base_{name}"] = str(amount)
            items.append(item)
        subtotal = sum(totals, ZERO)
        grand = subtotal + shipping + tax - discount
        figures = {"subtotal": subtotal, "shipping_amount": shipping, "tax_amount": tax,
                   "discount_amount": -discount, "grand_total": grand,
                   "shipping_tax_amount": ZERO}  # fmt: skip
        body: dict[str, Any] = {"items": items, "total_due": str(grand)}
        for name, amount in figures.items():
            body[name] = body[f"base_{name}"] = str(amount)
        body["shipping_description"] = ADJUSTMENT if shipping else ""
        body["discount_description"] = ADJUSTMENT if discount else ""
        body["applied_taxes"] = (
            [{"code": TAX_CODE, "title": TAX_CODE, "amount": str(tax), "base_amount": str(tax)}]
            if tax
            else []
        )
        return body

    def _sku_of(self, product_id: str) -> str:
        product = self.get_product(product_id)
        if product is None or not product.sku:
            raise StoreRequestRejected(
                f"Magento has no product {product_id} (with a SKU) on connection "
                f"{self._connection_id} for an order line; it was deleted since it was found"
            )
        return product.sku

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
                "Catalog (Products, Categories, Inventory) and Customers resources, and for "
                "orders from invoices Sales > Operations > Orders > Actions (Create, Edit, "
                "Comment) (System > Extensions > Integrations > API)"
            )
        if status >= 300:
            raise StoreRequestRejected(
                f"Magento refused {what} on connection {self._connection_id}: "
                f"HTTP {status}{': ' + said if said else ''}"
            )


def _set_amounts(entity: dict[str, Any], amounts: dict[str, Any]) -> None:
    applied = amounts.pop("applied_taxes")
    entity.update(amounts)
    extension = dict(entity.get("extension_attributes") or {})
    extension["applied_taxes"] = applied
    entity["extension_attributes"] = extension


def _set_status(entity: dict[str, Any], status: str, paid: bool | None) -> None:
    """The core's status word as Magento's state and status; a paid order's total paid."""
    state, mage_status = STATES.get(status, STATES["pending"])
    entity["state"], entity["status"] = state, mage_status
    if paid:
        grand = entity.get("grand_total") or 0
        entity.update(total_paid=grand, base_total_paid=grand, total_due="0")


def _order(raw: Mapping[str, Any]) -> StoreOrderRecord:
    try:
        mage = MageOrder.model_validate(raw)
    except ValidationError as exc:
        raise StoreRequestRejected(
            f"Magento answered an order the connector cannot read: {exc.error_count()} fields wrong"
        ) from None
    return StoreOrderRecord(
        store_id=str(mage.entity_id),
        number=mage.increment_id or str(mage.entity_id),
        status=STATUS_WORDS.get(mage.status, mage.status),
        currency=mage.order_currency_code.upper(),
        total=mage.grand_total.quantize(CENT),
        line_ids=tuple(str(item.item_id) for item in mage.items),
    )


def _order_address(address: Address | None, kind: str, email: str | None) -> dict[str, Any] | None:
    """An order address as Magento requires it; None when QuickBooks' lacks what Magento
    requires (city, postcode, country): the order then goes without it."""
    if address is None or not (address.city and address.postcode and address.country):
        return None
    return {
        "address_type": kind,
        "firstname": address.first_name or "-",
        "lastname": address.last_name or "-",
        "company": address.company,
        "street": [line for line in (address.line1, address.line2) if line],
        "city": address.city,
        "region": address.region,
        "region_code": address.region,
        "postcode": address.postcode,
        "country_id": address.country,
        # Magento requires a telephone on an order address; QuickBooks' often has none.
        "telephone": address.phone or "-",
        "email": email or "",
    }


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
    return MagentoWrites(client=open_client(connection, vault, http), connection_id=connection.id)

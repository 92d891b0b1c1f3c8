"""BigCommerce behind the store write port (issue #13), through the REST client's pacing.

Products are the V3 catalog's: a product needs a type, a weight and a price to be made (the
connector sends ``physical``, weight 0 and price 0 when prices do not flow); a stock count goes
with ``inventory_tracking: "product"`` (BigCommerce ignores a level it does not track), a
variant's with its product tracking ``"variant"``. A variant's store id is ``v<id>``: variant
ids are a sequence of their own and may equal a product's. Categories are written through the
category trees API (``/v3/catalog/trees/categories``, in the default channel's tree), the
current one; a name is unique among its siblings, so a 422 on create is read again (someone
made it since).

Customers are V3 customers, written as arrays of one; BigCommerce keeps an address book, not a
billing and a shipping address: QuickBooks' billing address (else its shipping address) is the
customer's first address, which is what the connector reads back as both. The customer type
and payment terms are lines of the customer's ``notes`` ("QuickBooks customer type: ...").

Orders are V2 orders. Lines are catalog products by ``product_id`` at the invoice's amounts,
given with and without tax alike so the store adds no tax of its own; QuickBooks' tax is the
order's tax through the total overrides (``total_inc_tax`` less ``total_ex_tax``), so
BigCommerce shows it as tax; any other fee is an order fee, a negative one the order's discount.
Statuses: cancelled 5, paid and shipped 2 (Shipped), paid 11 (Awaiting Fulfillment), open or
part paid 7 (Awaiting Payment). The invoice's ship date, method and tracking number become an
order shipment of every line (``/v2/orders/{id}/shipments``). Metadata and notes go to ``staff_notes`` ("key: value" lines),
where an order whose create answer was lost is found again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import httpx
from pydantic import Field, ValidationError

from connector.config import Connection
from connector.model import Address
from connector.secrets import SecretVault
from connector.stores.bigcommerce.client import BigCommerceClient
from connector.stores.bigcommerce.payloads import BcCustomer, BcCustomerAddress
from connector.stores.bigcommerce.store import DISPLAY_NAME, open_client
from connector.stores.limiter import StoreLimits
from connector.stores.payload_types import Money, RawPayload, Text
from connector.stores.port import StoreAuthFailed, StoreRecordNotFound, StoreRequestRejected
from connector.stores.writes import (
    CustomerFields,
    OrderFields,
    OrderLine,
    OrderShipment,
    ProductFields,
    StoreCustomerRecord,
    StoreOrderRecord,
    StoreProduct,
)

SCOPE_PRODUCTS = "Products (modify)"
SCOPE_CUSTOMERS = "Customers (modify)"
SCOPE_ORDERS = "Orders (modify)"
SCOPE_INFO = "Information & Settings (read-only)"
TYPE_NOTE = "QuickBooks customer type: "
TERMS_NOTE = "QuickBooks terms: "
# The core's fee for QuickBooks' tax (connector.both_ways.invoices.TAX_FEE): the order's tax here.
TAX_FEE = "Tax"
CENT = Decimal("0.01")
FOUR = Decimal("0.0001")
ZERO = Decimal(0)

# The core's order statuses (WooCommerce's words) as BigCommerce status ids, and back.
STATUS_IDS = {"cancelled": 5, "completed": 2, "processing": 11, "on-hold": 7, "pending": 7}
_STATUS_WORDS = {
    5: "cancelled", 2: "completed", 3: "completed", 10: "completed", 11: "processing",
    9: "processing", 8: "processing", 7: "pending", 1: "pending", 0: "pending",
}  # fmt: skip


class _ProductIn(RawPayload):
    id: int
    name: Text = ""
    sku: Text = ""
    description: Text = ""
    price: Money | None = None
    is_visible: bool = True
    categories: list[int] = Field(default_factory=list)
    inventory_tracking: Text = "none"
    inventory_level: int = 0


class _VariantIn(RawPayload):
    id: int
    product_id: int
    sku: Text = ""
    price: Money | None = None
    inventory_level: int = 0
    option_values: list[dict[str, Any]] = Field(default_factory=list)


class _TreeIn(RawPayload):
    id: int


class _CategoryIn(RawPayload):
    category_id: int
    name: Text = ""
    parent_id: int = 0


class _OrderIn(RawPayload):
    id: int
    status_id: int = 0
    status: Text = ""
    currency_code: Text = ""
    total_inc_tax: Money = ZERO
    staff_notes: Text = ""
    is_deleted: bool = False


class _ErrorIn(RawPayload):
    title: Text = ""
    message: Text = ""
    errors: dict[str, Any] = Field(default_factory=dict)


class BigCommerceWrites:
    """One connection's BigCommerce store, written."""

    display_name = DISPLAY_NAME

    def __init__(self, *, client: BigCommerceClient, connection_id: str) -> None:
        self._client = client
        self._connection_id = connection_id
        self._currency: str | None = None
        self._tree_id: int | None = None

    @property
    def calls(self) -> int:
        return self._client.calls

    def currency(self) -> str:
        if self._currency is None:
            raw = self._client.get_json("/v2/store", [], "the store's currency", SCOPE_INFO)
            self._currency = str((raw or {}).get("currency") or "").upper()
        return self._currency

    # -- products -------------------------------------------------------------------------

    def find_products(self, sku: str) -> list[StoreProduct]:
        found = [
            _product(raw)
            for raw in self._client.v3_pages(
                "/v3/catalog/products", [("sku", sku)], f"products with SKU {sku!r}", SCOPE_PRODUCTS
            )
        ]
        variants = self._client.v3_pages(
            "/v3/catalog/variants", [("sku", sku)], f"variants with SKU {sku!r}", SCOPE_PRODUCTS
        )
        for raw in variants:
            variant = _VariantIn.model_validate(raw)
            # A product without options has one base variant carrying the product's own SKU.
            if variant.option_values:
                parent = self._raw_product(str(variant.product_id))
                if parent is not None:
                    found.append(_variant(variant, parent))
        return [p for p in found if p.sku == sku]

    def find_products_named(self, name: str) -> list[StoreProduct]:
        listed = self._client.v3_pages(
            "/v3/catalog/products", [("name", name)], f"products named {name!r}", SCOPE_PRODUCTS
        )
        return [p for p in (_product(raw) for raw in listed) if p.name == name]

    def get_product(self, store_id: str) -> StoreProduct | None:
        if store_id.startswith("v"):
            listed = list(
                self._client.v3_pages(
                    "/v3/catalog/variants",
                    [("id:in", store_id[1:])],
                    f"variant {store_id[1:]}",
                    SCOPE_PRODUCTS,
                )
            )
            if not listed:
                return None
            variant = _VariantIn.model_validate(listed[0])
            parent = self._raw_product(str(variant.product_id))
            return _variant(variant, parent) if parent is not None else None
        raw = self._raw_product(store_id)
        return _product(raw) if raw is not None else None

    def _raw_product(self, product_id: str) -> _ProductIn | None:
        if not product_id.isdigit():
            return None
        try:
            body = self._client.get_json(
                f"/v3/catalog/products/{product_id}", [], f"product {product_id}", SCOPE_PRODUCTS
            )
        except StoreRecordNotFound:
            return None
        return _ProductIn.model_validate((body or {}).get("data") or {})

    def create_product(self, fields: ProductFields) -> StoreProduct:
        body = {"type": "physical", "weight": 0, "price": 0, **_product_body(fields)}
        raw = self._send("POST", "/v3/catalog/products", body, f"creating product {fields.sku}")
        return _product(raw.get("data") or {})

    def update_product(self, product: StoreProduct, fields: ProductFields) -> StoreProduct:
        if not product.parent_id:
            raw = self._send(
                "PUT",
                f"/v3/catalog/products/{product.store_id}",
                _product_body(fields),
                f"updating {product.label}",
            )
            return _product(raw.get("data") or {})
        # A variant has a price and a stock level of its own; its stock counts only while its
        # product tracks stock by variant.
        if fields.stock is not None:
            self._send(
                "PUT",
                f"/v3/catalog/products/{product.parent_id}",
                {"inventory_tracking": "variant"},
                f"tracking stock by variant on product {product.parent_id}",
            )
        body: dict[str, Any] = {}
        if fields.price is not None:
            body["price"] = float(fields.price.quantize(FOUR))
        if fields.stock is not None:
            body["inventory_level"] = fields.stock
        if fields.sku is not None:
            body["sku"] = fields.sku
        raw = self._send(
            "PUT",
            f"/v3/catalog/products/{product.parent_id}/variants/{product.store_id[1:]}",
            body,
            f"updating {product.label}",
        )
        written = self.get_product(product.store_id)
        if written is None:
            raise StoreRequestRejected(f"BigCommerce lost {product.label} while writing it: {raw}")
        return written

    # -- categories -----------------------------------------------------------------------

    def ensure_category(self, path: tuple[str, ...]) -> str:
        parent = 0
        for name in path:
            parent = self._category(name, parent)
        return str(parent)

    def _tree(self) -> int:
        """The default channel's category tree (read once per connection)."""
        if self._tree_id is None:
            trees = list(
                self._client.v3_pages(
                    "/v3/catalog/trees",
                    [("channel_id:in", "1")],
                    "the store's category tree",
                    SCOPE_PRODUCTS,
                )
            )
            if not trees:
                raise StoreRequestRejected(
                    f"BigCommerce store of connection {self._connection_id} has no category "
                    "tree for its default channel; create one (Products > Product Categories)"
                )
            self._tree_id = _TreeIn.model_validate(trees[0]).id
        return self._tree_id

    def _category(self, name: str, parent: int) -> int:
        tree = self._tree()

        def existing() -> int | None:
            listed = self._client.v3_pages(
                "/v3/catalog/trees/categories",
                [("name", name), ("parent_id:in", str(parent)), ("tree_id:in", str(tree))],
                f"category {name!r}",
                SCOPE_PRODUCTS,
            )
            for raw in listed:
                category = _CategoryIn.model_validate(raw)
                if category.name.lower() == name.lower() and category.parent_id == parent:
                    return category.category_id
            return None

        found = existing()
        if found is not None:
            return found
        what = f"creating category {name!r}"
        row = {"name": name, "parent_id": parent, "tree_id": tree}
        response = self._client.write("POST", "/v3/catalog/trees/categories", [row], what)
        if response.status_code == 422:
            found = existing()  # made by someone else since it was looked for
            if found is not None:
                return found
        return _CategoryIn.model_validate(_first(self._read(response, what), what)).category_id

    # -- customers ------------------------------------------------------------------------

    def find_customer(self, email: str) -> StoreCustomerRecord | None:
        listed = self._client.v3_pages(
            "/v3/customers",
            [("email:in", email), ("include", "addresses")],
            "the customer with that e-mail",
            SCOPE_CUSTOMERS,
        )
        for raw in listed:
            customer = _customer(raw)
            if customer.email.lower() == email.lower():
                return customer
        return None

    def get_customer(self, store_id: str) -> StoreCustomerRecord | None:
        try:
            return _customer(self._client.get_customer(store_id))
        except StoreRecordNotFound:
            return None

    def create_customer(self, fields: CustomerFields) -> StoreCustomerRecord:
        if not (fields.first_name and fields.last_name):
            # BigCommerce refuses a customer without both (422); said here in QuickBooks' terms.
            raise StoreRequestRejected(
                f"BigCommerce needs a customer's first and last name, and QuickBooks customer "
                f"{fields.company or fields.email or ''} has "
                f"{'no first name' if not fields.first_name else 'no last name'}: fill in its "
                "First name and Last name in QuickBooks (the company stays as it is), then replay"
            )
        body = _customer_body(fields, notes="")
        address = _address_body(fields)
        if address is not None:
            body["addresses"] = [address]
        raw = self._send("POST", "/v3/customers", [body], "creating a customer")
        return _customer(_first(raw, "creating a customer"))

    def update_customer(
        self, customer: StoreCustomerRecord, fields: CustomerFields
    ) -> StoreCustomerRecord:
        what = f"updating customer {customer.store_id}"
        body = _customer_body(fields, notes=customer.extra.get("notes", ""))
        if body:
            self._send("PUT", "/v3/customers", [{"id": int(customer.store_id), **body}], what)
        address = _address_body(fields)
        if address is not None:
            # Addresses are a sub-resource: a customer's PUT cannot change them.
            first = customer.extra.get("address_id")
            if first:
                self._send("PUT", "/v3/customers/addresses", [{"id": int(first), **address}], what)
            else:
                row = {"customer_id": int(customer.store_id), **address}
                self._send("POST", "/v3/customers/addresses", [row], what)
        found = self.get_customer(customer.store_id)
        if found is None:
            raise StoreRecordNotFound(
                f"BigCommerce customer {customer.store_id} was deleted while it was written"
            )
        return found

    # -- orders ---------------------------------------------------------------------------

    def create_order(self, fields: OrderFields) -> StoreOrderRecord:
        body = _order_body(fields)
        body.setdefault("status_id", STATUS_IDS["pending"])
        if fields.customer_id is not None:
            body["customer_id"] = int(fields.customer_id or 0)
        notes = [f"{key}: {value}" for key, value in fields.meta]
        if notes:
            body["staff_notes"] = "\n".join(notes)
        if "billing_address" not in body:
            body["billing_address"] = {"email": fields.email or ""}
        raw = self._send("POST", "/v2/orders", body, "creating an order")
        made = self._order(raw)
        if fields.shipment is not None:
            return self._ship(made, fields.shipment)
        return made

    def get_order(self, store_id: str) -> StoreOrderRecord | None:
        raw = self._raw_order(store_id)
        return self._order(raw) if raw is not None else None

    def _raw_order(self, store_id: str) -> dict[str, Any] | None:
        if not store_id.isdigit():
            return None
        try:
            raw = self._client.get_json(
                f"/v2/orders/{store_id}", [], f"order {store_id}", SCOPE_ORDERS
            )
        except StoreRecordNotFound:
            return None
        if not isinstance(raw, dict) or raw.get("is_deleted") is True:
            return None  # archived: the merchant deleted it
        return raw

    def update_order(self, order: StoreOrderRecord, fields: OrderFields) -> StoreOrderRecord:
        body = _order_body(fields)
        if fields.lines is not None:
            # An order product given with its id and quantity 0 is removed.
            body["products"] = [
                *({"id": int(i), "quantity": 0} for i in order.line_ids),
                *body["products"],
            ]
        raw = self._send(
            "PUT", f"/v2/orders/{int(order.store_id)}", body, f"updating order {order.number}"
        )
        written = self._order(raw)
        if fields.shipment is not None:
            return self._ship(written, fields.shipment)
        return written

    def _ship(self, order: StoreOrderRecord, shipment: OrderShipment) -> StoreOrderRecord:
        """The invoice's shipment as the order's shipment of all its lines, to its first
        shipping address (BigCommerce then marks the order Shipped itself)."""
        oid = order.store_id
        addresses = list(
            self._client.v2_pages(
                f"/v2/orders/{oid}/shipping_addresses", [], f"shipping addresses of order {oid}"
            )
        )
        lines = list(
            self._client.v2_pages(f"/v2/orders/{oid}/products", [], f"products of order {oid}")
        )
        if not addresses or not lines:
            raise StoreRequestRejected(
                f"BigCommerce order {oid} has no shipping address or no lines to ship; the "
                "invoice's shipment was not recorded"
            )
        body: dict[str, Any] = {
            "order_address_id": int(addresses[0]["id"]),
            "tracking_number": shipment.tracking_number,
            "shipping_method": shipment.method,
            "items": [
                {"order_product_id": int(p["id"]), "quantity": int(Decimal(str(p["quantity"])))}
                for p in lines
            ],
        }
        if shipment.ship_date is not None:
            body["comments"] = f"Shipped {shipment.ship_date.isoformat()} (QuickBooks)"
        self._send("POST", f"/v2/orders/{oid}/shipments", body, f"shipping order {oid}")
        return self.get_order(oid) or order

    def add_order_note(self, store_id: str, note: str) -> None:
        raw = self._raw_order(store_id)
        if raw is None:
            raise StoreRecordNotFound(f"BigCommerce has no order {store_id} to add a note to")
        before = _OrderIn.model_validate(raw).staff_notes
        notes = f"{before}\n{note}" if before else note
        self._send("PUT", f"/v2/orders/{int(store_id)}", {"staff_notes": notes}, "adding a note")

    def find_order_made_for(self, key: str, value: str, since: datetime) -> StoreOrderRecord | None:
        # V2 orders have no metadata filter: the few created since are read.
        moment = since.astimezone(UTC).replace(microsecond=0).isoformat()
        wanted = f"{key}: {value}"
        listed = self._client.v2_pages(
            "/v2/orders", [("min_date_created", moment)], "orders created since the last attempt"
        )
        for raw in listed:
            if wanted in _OrderIn.model_validate(raw).staff_notes.splitlines():
                return self._order(raw)
        return None

    def _order(self, raw: Mapping[str, Any]) -> StoreOrderRecord:
        order = _OrderIn.model_validate(raw)
        products = self._client.v2_pages(
            f"/v2/orders/{order.id}/products", [], f"products of order {order.id}"
        )
        return StoreOrderRecord(
            store_id=str(order.id),
            number=str(order.id),
            status=_STATUS_WORDS.get(order.status_id, order.status.lower()),
            currency=order.currency_code,
            total=order.total_inc_tax.quantize(CENT),
            line_ids=tuple(str(p.get("id")) for p in products),
        )

    # -- transport ------------------------------------------------------------------------

    def _send(
        self, method: Literal["POST", "PUT"], path: str, body: Any, what: str
    ) -> dict[str, Any]:
        return self._read(self._client.write(method, path, body, what), what)

    def _read(self, response: httpx.Response, what: str) -> dict[str, Any]:
        status = response.status_code
        said = _words(response)
        on = f"on connection {self._connection_id}"
        if status in (401, 403):
            raise StoreAuthFailed(
                f"BigCommerce refused {what} {on}: {said or f'HTTP {status}'}. Writing to the "
                f"store needs an API account with {SCOPE_PRODUCTS}, {SCOPE_CUSTOMERS} and "
                f"{SCOPE_ORDERS} (Settings > API > Store-level API accounts)"
            )
        if status == 404:
            raise StoreRecordNotFound(f"BigCommerce has no such record ({what}) {on}")
        if status >= 300:
            raise StoreRequestRejected(
                f"BigCommerce refused {what} {on}: HTTP {status}{': ' + said if said else ''}"
            )
        try:
            body = json.loads(response.content or b"{}", parse_float=Decimal)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise StoreRequestRejected(
                f"BigCommerce answered {what} {on} with something that is not a record; check "
                "the connection's api_base and store_hash"
            )
        return body


def _product(raw: Mapping[str, Any] | _ProductIn) -> StoreProduct:
    try:
        bc = raw if isinstance(raw, _ProductIn) else _ProductIn.model_validate(raw)
    except ValidationError as exc:
        raise StoreRequestRejected(
            f"BigCommerce answered a product the connector cannot read: {exc.error_count()} "
            "fields wrong"
        ) from None
    return StoreProduct(
        store_id=str(bc.id),
        parent_id=None,
        name=bc.name,
        sku=bc.sku,
        description=bc.description,
        price=bc.price,
        active=bc.is_visible,
        category_ids=tuple(str(c) for c in bc.categories),
        stock=bc.inventory_level if bc.inventory_tracking == "product" else None,
    )


def _variant(variant: _VariantIn, parent: _ProductIn) -> StoreProduct:
    return StoreProduct(
        store_id=f"v{variant.id}",
        parent_id=str(parent.id),
        name=parent.name,
        sku=variant.sku,
        description="",
        price=variant.price if variant.price is not None else parent.price,
        active=parent.is_visible,
        category_ids=(),
        stock=variant.inventory_level if parent.inventory_tracking == "variant" else None,
    )


def _product_body(fields: ProductFields) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name in ("name", "sku", "description"):
        value = getattr(fields, name)
        if value is not None:
            body[name] = value
    if fields.price is not None:
        # V3 takes a JSON number; four decimals are what BigCommerce keeps. A float's repr is
        # the shortest text that reads back as it, so the number sent is the decimal's digits.
        body["price"] = float(fields.price.quantize(FOUR))
    if fields.active is not None:
        # A product made inactive in QuickBooks stays in the store, hidden from shoppers.
        body["is_visible"] = fields.active
    if fields.category_id is not None:
        body["categories"] = [int(fields.category_id)]
    if fields.stock is not None:
        body["inventory_tracking"] = "product"
        body["inventory_level"] = fields.stock
    return body


def _customer(raw: Mapping[str, Any]) -> StoreCustomerRecord:
    # The V3 customer as the reader parses it (connector.stores.bigcommerce.normalise).
    bc = BcCustomer.model_validate(raw)
    first = bc.addresses[0] if bc.addresses else BcCustomerAddress()
    address = Address(
        first_name=first.first_name.strip(),
        last_name=first.last_name.strip(),
        company=first.company.strip(),
        line1=first.address1.strip(),
        line2=first.address2.strip(),
        city=first.city.strip(),
        region=first.state_or_province.strip(),
        postcode=first.postal_code.strip(),
        country=first.country_code.strip(),
        phone=first.phone.strip(),
    )
    noted = {
        line[len(p) :]: p for line in bc.notes.splitlines() for p in (TYPE_NOTE, TERMS_NOTE)
        if line.startswith(p)
    }  # fmt: skip
    by_prefix = {prefix: value for value, prefix in noted.items()}
    extra = {"notes": bc.notes}
    if bc.addresses:
        extra["address_id"] = str(first.id)
    return StoreCustomerRecord(
        store_id=str(bc.id),
        email=bc.email.strip(),
        first_name=bc.first_name.strip(),
        last_name=bc.last_name.strip(),
        company=bc.company.strip(),
        phone=bc.phone.strip(),
        billing=address,
        shipping=address,  # one address book: the first address is both (as the reader has it)
        customer_type=by_prefix.get(TYPE_NOTE),
        terms=by_prefix.get(TERMS_NOTE),
        extra=extra,
    )


def _customer_body(fields: CustomerFields, *, notes: str) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name in ("first_name", "last_name", "email", "company", "phone"):
        value = getattr(fields, name)
        if value is not None:
            body[name] = value
    if fields.customer_type is not None or fields.terms is not None:
        kept = [
            line
            for line in notes.splitlines()
            if not (
                (fields.customer_type is not None and line.startswith(TYPE_NOTE))
                or (fields.terms is not None and line.startswith(TERMS_NOTE))
            )
        ]
        if fields.customer_type is not None:
            kept.append(TYPE_NOTE + fields.customer_type)
        if fields.terms is not None:
            kept.append(TERMS_NOTE + fields.terms)
        body["notes"] = "\n".join(kept)
    return body


def _address_body(fields: CustomerFields) -> dict[str, Any] | None:
    address = fields.billing or fields.shipping
    if address is None or address.is_empty():
        return None
    return {
        "first_name": address.first_name or fields.first_name or "",
        "last_name": address.last_name or fields.last_name or "",
        "company": address.company or fields.company or "",
        "address1": address.line1,
        "address2": address.line2,
        "city": address.city,
        "state_or_province": address.region,
        "postal_code": address.postcode,
        "country_code": address.country,
        "phone": address.phone or fields.phone or "",
    }


def _order_address(address: Address, email: str | None) -> dict[str, Any]:
    body = {
        "first_name": address.first_name,
        "last_name": address.last_name,
        "company": address.company,
        "street_1": address.line1,
        "street_2": address.line2,
        "city": address.city,
        "state": address.region,
        "zip": address.postcode,
        "country_iso2": address.country,
        "phone": address.phone,
    }
    if email:
        body["email"] = email
    return body


def _order_body(fields: OrderFields) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if fields.status is not None:
        body["status_id"] = STATUS_IDS.get(fields.status, STATUS_IDS["pending"])
    if fields.billing is not None:
        body["billing_address"] = _order_address(fields.billing, fields.email)
    if fields.shipping is not None:
        body["shipping_addresses"] = [_order_address(fields.shipping, fields.email)]
    if fields.lines is not None:
        body["products"] = [_order_product(line) for line in fields.lines]
    if fields.lines is not None and fields.fees is not None:
        body.update(_amounts(fields.lines, fields.fees))
    return body


def _order_product(line: OrderLine) -> dict[str, Any]:
    # Both prices given and equal: BigCommerce takes them as they are and adds no tax.
    unit = str((line.total / line.quantity).quantize(FOUR))
    return {
        "product_id": int(line.product_id),
        "quantity": line.quantity,
        "name": line.name,
        "price_ex_tax": unit,
        "price_inc_tax": unit,
    }


def _amounts(lines: Iterable[OrderLine], fees: Iterable[tuple[str, Decimal]]) -> dict[str, Any]:
    """Fees, discount and the total overrides: the order's total is the invoice's to the cent
    whatever four-decimal unit prices add up to, and QuickBooks' tax is the order's tax."""
    subtotal = sum((line.total for line in lines), ZERO)
    tax = sum((amount for name, amount in fees if name == TAX_FEE), ZERO)
    others = [(name, amount) for name, amount in fees if name != TAX_FEE]
    added = [
        {
            "type": "custom_fee",
            "display_name_merchant": name,
            "display_name_customer": name,
            "cost_ex_tax": str(amount),
            "cost_inc_tax": str(amount),
            "cost_tax": "0",
        }
        for name, amount in others
        if amount > 0
    ]
    discount = -sum((amount for _, amount in others if amount < 0), ZERO)
    total_ex = subtotal + sum((a for _, a in others if a > 0), ZERO) - discount
    return {
        "fees": added,
        "discount_amount": str(discount),
        "subtotal_ex_tax": str(subtotal),
        "subtotal_inc_tax": str(subtotal),
        "total_ex_tax": str(total_ex),
        "total_inc_tax": str(total_ex + tax),
    }


def _first(body: Mapping[str, Any], what: str) -> Mapping[str, Any]:
    data = body.get("data")
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        raise StoreRequestRejected(f"BigCommerce answered {what} without the record")
    return data[0]


def _words(response: httpx.Response) -> str:
    """BigCommerce's explanation: V3 ``title`` and its ``errors``, V2 ``[{message}]``."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, list) and body:
        body = body[0]
    try:
        error = _ErrorIn.model_validate(body)
    except ValidationError:
        return ""
    said = error.title or error.message
    details = "; ".join(f"{k}: {v}" if k else str(v) for k, v in error.errors.items())
    return f"{said} ({details})" if said and details else said or details


def open_writes(
    connection: Connection,
    vault: SecretVault,
    http: httpx.Client,
    limits: StoreLimits | None = None,
) -> BigCommerceWrites:
    """The registry's opener: the REST client with the connection's access token (booked
    with the store's shared limiter when ``limits`` are given)."""
    return BigCommerceWrites(
        client=open_client(connection, vault, http, limits), connection_id=connection.id
    )

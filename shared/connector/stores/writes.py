"""What a store adapter offers the QuickBooks → store direction (issue #13): the writes.

One small protocol like ``connector.ledgers.posting``: find products by SKU or name, create or
update the fields the connector may write, set stock, make sure a category path exists, find,
create and update customers by e-mail. Each adapter speaks its store's API behind it
(WooCommerce: ``connector.stores.woocommerce_writes``); what it refuses is raised as the store
port's failures (``StoreRequestRejected`` with the store's words, ``StoreUnavailable`` after
retries), which the sync worker parks or retries like any other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from connector.model import Address


@dataclass(frozen=True)
class ProductFields:
    """Fields of a store product the connector writes; None leaves a field as the store has it."""

    name: str | None = None
    sku: str | None = None
    description: str | None = None
    price: Decimal | None = None
    active: bool | None = None
    category_id: str | None = None  # the product's one category (its old ones are left)
    stock: int | None = None  # managed stock quantity


@dataclass(frozen=True)
class StoreProduct:
    """A product or variation as the store has it now (what the connector compares with)."""

    store_id: str
    parent_id: str | None  # a variation's product; None for a product
    name: str
    sku: str
    description: str
    price: Decimal | None
    active: bool
    category_ids: tuple[str, ...]
    stock: int | None  # None while the store does not manage the product's stock

    @property
    def label(self) -> str:
        kind = (
            f"variation {self.store_id} of product {self.parent_id}"
            if self.parent_id
            else (f"product {self.store_id}")
        )
        return f"{kind} ({self.name!r}, SKU {self.sku or '(none)'})"


@dataclass(frozen=True)
class CustomerFields:
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    company: str | None = None
    phone: str | None = None
    billing: Address | None = None
    shipping: Address | None = None
    # Kept on the store customer as metadata: the store has no field for either.
    customer_type: str | None = None
    terms: str | None = None


@dataclass(frozen=True)
class StoreCustomerRecord:
    store_id: str
    email: str
    first_name: str
    last_name: str
    company: str
    phone: str
    billing: Address
    shipping: Address
    customer_type: str | None = None
    terms: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


class StoreWrites(Protocol):
    @property
    def calls(self) -> int:
        """Requests made to the store (benchmarks count them)."""
        ...

    @property
    def display_name(self) -> str: ...

    def currency(self) -> str:
        """The store's currency (ISO 4217), read once per connection."""
        ...

    def find_products(self, sku: str) -> list[StoreProduct]:
        """Every product and variation with this SKU (more than one is the merchant's to fix)."""
        ...

    def find_products_named(self, name: str) -> list[StoreProduct]:
        """Products (not variations) whose name is exactly ``name``."""
        ...

    def get_product(self, store_id: str) -> StoreProduct | None:
        """The product or variation; None when the store deleted it (or it is in the trash)."""
        ...

    def create_product(self, fields: ProductFields) -> StoreProduct: ...

    def update_product(self, product: StoreProduct, fields: ProductFields) -> StoreProduct:
        """Write only the fields set in ``fields`` (a variation through its product)."""
        ...

    def ensure_category(self, path: tuple[str, ...]) -> str:
        """The id of the category at ``path`` (top first), each missing level created."""
        ...

    def find_customer(self, email: str) -> StoreCustomerRecord | None: ...

    def get_customer(self, store_id: str) -> StoreCustomerRecord | None: ...

    def create_customer(self, fields: CustomerFields) -> StoreCustomerRecord: ...

    def update_customer(
        self, customer: StoreCustomerRecord, fields: CustomerFields
    ) -> StoreCustomerRecord: ...


@dataclass(frozen=True)
class OrderLine:
    """One line of an order the connector makes: the product by id (found by SKU first)."""

    product_id: str
    name: str
    quantity: int
    total: Decimal  # the line's total before tax


@dataclass(frozen=True)
class OrderShipment:
    """The ledger's shipment details for an order (ship date, method, tracking number)."""

    ship_date: date | None = None
    method: str = ""
    tracking_number: str = ""


@dataclass(frozen=True)
class OrderFields:
    """An order as the connector writes it; None leaves a part as the store has it."""

    status: str | None = None
    paid: bool | None = None
    currency: str | None = None
    customer_id: str | None = None  # None or "0": a guest order
    email: str | None = None
    billing: Address | None = None
    shipping: Address | None = None
    lines: tuple[OrderLine, ...] | None = None
    # Untaxed fee lines by name (the tax, an adjustment to the ledger's total).
    fees: tuple[tuple[str, Decimal], ...] | None = None
    meta: tuple[tuple[str, str], ...] = ()
    # A store with a shipments API records one (BigCommerce); the others keep the core's note.
    shipment: OrderShipment | None = None


@dataclass(frozen=True)
class StoreOrderRecord:
    store_id: str
    number: str
    status: str
    currency: str
    total: Decimal
    line_ids: tuple[str, ...] = ()
    fee_ids: tuple[str, ...] = ()


class OrderWrites(Protocol):
    """What the invoices → orders direction needs of a store besides ``StoreWrites``."""

    def create_order(self, fields: OrderFields) -> StoreOrderRecord: ...

    def get_order(self, store_id: str) -> StoreOrderRecord | None:
        """None when the store deleted the order."""
        ...

    def update_order(self, order: StoreOrderRecord, fields: OrderFields) -> StoreOrderRecord:
        """Lines and fees given replace the order's; other parts given are set."""
        ...

    def add_order_note(self, store_id: str, note: str) -> None: ...

    def find_order_made_for(self, key: str, value: str, since: datetime) -> StoreOrderRecord | None:
        """The order created since ``since`` whose metadata ``key`` is ``value``: one made by
        an earlier attempt whose answer was lost."""
        ...


class StoreOrderWrites(StoreWrites, OrderWrites, Protocol):
    """A store that takes the connector's orders as well as its catalogue and customer writes."""

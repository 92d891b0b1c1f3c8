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

"""Which fields go to the store, and which of them to write now (pure decisions, issue #13).

Values are compared as text (prices to the cent, stock as a whole number), so what the store
echoes back compares equal to what was written. A field is written only when QuickBooks changed
it since the connector last wrote it (or it was never written) and the store does not already
hold it: an edit made in the store to a field QuickBooks did not change is left alone, and a
change that is already there costs no call.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from connector.config import SyncDirections
from connector.errors import PermanentError
from connector.ledger_records import LedgerCustomer, LedgerItem
from connector.model import Address
from connector.stores.writes import StoreCustomerRecord, StoreProduct

# Product fields by the direction setting that allows them.
PRODUCT_FIELDS = {
    "products": ("name", "description", "active", "category"),
    "prices": ("price",),
    "inventory": ("stock",),
}
CUSTOMER_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "company",
    "phone",
    "billing",
    "shipping",
    "customer_type",
    "terms",
)


def allowed_product_fields(directions: SyncDirections) -> tuple[str, ...]:
    allowed: list[str] = []
    for setting, names in PRODUCT_FIELDS.items():
        if getattr(directions, setting) == "qbo_to_store":
            allowed.extend(names)
    return tuple(allowed)


def price_text(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01')):.2f}"


def whole_stock(item: LedgerItem) -> int:
    """QtyOnHand as the store's whole-number stock; negative or fractional stock is refused."""
    qty = item.qty_on_hand
    assert qty is not None
    if qty < 0:
        raise PermanentError(
            f"QuickBooks item {item.name!r} (Id {item.ledger_id}) has a negative quantity on "
            f"hand ({qty}): the store cannot hold negative stock. Correct the quantity in "
            "QuickBooks (an inventory adjustment); the next change brings it to the store"
        )
    if qty != qty.to_integral_value():
        raise PermanentError(
            f"QuickBooks item {item.name!r} (Id {item.ledger_id}) has {qty} on hand, not a "
            "whole number, and the store counts stock in whole units: adjust it in QuickBooks"
        )
    return int(qty)


def wanted_product(
    item: LedgerItem, allowed: tuple[str, ...], category_id: str | None
) -> dict[str, str]:
    """The product as QuickBooks says it should be, for the fields the directions allow."""
    wanted: dict[str, str] = {}
    if "name" in allowed:
        wanted["name"] = item.name
    if "description" in allowed and item.description is not None:
        wanted["description"] = item.description
    if "active" in allowed:
        wanted["active"] = "yes" if item.active else "no"
    if "category" in allowed and category_id is not None:
        wanted["category"] = category_id
    if "price" in allowed and item.unit_price is not None:
        wanted["price"] = price_text(item.unit_price)
    if "stock" in allowed and item.kind == "inventory" and item.qty_on_hand is not None:
        wanted["stock"] = str(whole_stock(item))
    return wanted


def product_now(product: StoreProduct) -> dict[str, str]:
    """What the store holds, in the same words."""
    now = {
        "name": product.name,
        "description": product.description,
        "active": "yes" if product.active else "no",
        # A product in several categories is not yet in only QuickBooks' one.
        "category": product.category_ids[0] if len(product.category_ids) == 1 else "",
    }
    if product.price is not None:
        now["price"] = price_text(product.price)
    if product.stock is not None:
        now["stock"] = str(product.stock)
    return now


def to_write(
    wanted: Mapping[str, str], now: Mapping[str, str], written: Mapping[str, str]
) -> dict[str, str]:
    """The fields QuickBooks changed since the connector last wrote them and the store lacks."""
    return {
        name: value
        for name, value in wanted.items()
        if value != written.get(name) and value != now.get(name)
    }


def address_text(address: Address) -> str:
    """An address's postal parts as one comparable text (empty ones kept). Names, company and
    phone are fields of their own: QuickBooks' addresses carry none of them."""
    return "|".join(
        (
            address.line1,
            address.line2,
            address.city,
            address.region,
            address.postcode,
            address.country,
        )
    )


def wanted_customer(customer: LedgerCustomer) -> dict[str, str]:
    """The customer's fields QuickBooks has a value for: a blank in QuickBooks (no shipping
    address, no phone) leaves the store's value, it does not erase it."""
    wanted = {
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "email": customer.email,
        "company": customer.company,
        "phone": customer.phone,
        "customer_type": customer.customer_type or "",
        "terms": customer.terms or "",
    }
    if not customer.billing.is_empty():
        wanted["billing"] = address_text(customer.billing)
    if not customer.shipping.is_empty():
        wanted["shipping"] = address_text(customer.shipping)
    return {name: value for name, value in wanted.items() if value}


def customer_now(customer: StoreCustomerRecord) -> dict[str, str]:
    now = {
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "email": customer.email,
        "company": customer.company,
        "phone": customer.phone,
        "billing": address_text(customer.billing),
        "shipping": address_text(customer.shipping),
    }
    if customer.customer_type is not None:
        now["customer_type"] = customer.customer_type
    if customer.terms is not None:
        now["terms"] = customer.terms
    return now

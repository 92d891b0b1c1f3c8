"""Magento 2 REST payloads as they arrive, validated at the boundary.

Only the fields the connector reads are declared. Money arrives as JSON numbers (``165``,
``27.5``) and becomes exact Decimal; every money field exists twice, ``x`` in the order
currency and ``base_x`` in the store's base currency, and the connector reads ``x``.
Dates are ``YYYY-MM-DD HH:MM:SS`` in UTC without an offset, so they are made aware here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from connector.model import to_decimal
from connector.stores.payload_types import Money, RawPayload, Text, as_utc

MAGENTO_TIME = "%Y-%m-%d %H:%M:%S"


def parse_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        parsed = datetime.fromisoformat(str(value).replace(" ", "T"))
    return as_utc(parsed)


def format_time(moment: datetime) -> str:
    """A searchCriteria value: UTC, to the second, as Magento stores it."""
    if moment.tzinfo is None:
        raise ValueError("Magento filter times must be timezone-aware")
    return moment.astimezone(UTC).strftime(MAGENTO_TIME)


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true")


OptionalMoney = Annotated[
    Decimal | None, BeforeValidator(lambda v: None if v is None else to_decimal(v))
]
Time = Annotated[datetime | None, BeforeValidator(parse_time)]
Flag = Annotated[bool, BeforeValidator(_flag)]


class MageAddress(RawPayload):
    """An order's address (``region`` and ``region_code`` as text) or a customer's (``region``
    an object holding both), read the same way."""

    firstname: Text = ""
    lastname: Text = ""
    company: Text = ""
    street: tuple[str, ...] = ()
    city: Text = ""
    region: Text = ""
    region_code: Text = ""
    postcode: Text = ""
    country_id: Text = ""
    telephone: Text = ""
    email: Text = ""

    @model_validator(mode="before")
    @classmethod
    def _region_object(cls, data: Any) -> Any:
        region = data.get("region") if isinstance(data, dict) else None
        if isinstance(region, dict):
            code = data.get("region_code") or region.get("region_code") or ""
            return {**data, "region": region.get("region") or "", "region_code": code}
        return data


class MageItem(RawPayload):
    """An order row: a simple product, or a configurable/bundle parent, or a parent's child."""

    item_id: int
    parent_item_id: int | None = None
    product_id: int | None = None
    product_type: Text = "simple"
    sku: Text = ""
    name: Text = ""
    qty_ordered: Money = Decimal(0)
    price: Money = Decimal(0)
    row_total: Money = Decimal(0)
    discount_amount: Money = Decimal(0)
    tax_amount: Money = Decimal(0)
    tax_percent: OptionalMoney = None
    discount_tax_compensation_amount: Money = Decimal(0)


class MagePayment(RawPayload):
    method: Text = ""
    last_trans_id: Text = ""
    additional_information: tuple[str, ...] = ()


class MageShippingTotal(RawPayload):
    shipping_amount: Money = Decimal(0)


class MageShipping(RawPayload):
    method: Text = ""
    address: MageAddress | None = None


class MageShippingAssignment(RawPayload):
    shipping: MageShipping = MageShipping()


class MageAppliedTax(RawPayload):
    code: Text = ""
    title: Text = ""
    percent: OptionalMoney = None
    amount: Money = Decimal(0)


class MageOrderExtension(RawPayload):
    shipping_assignments: tuple[MageShippingAssignment, ...] = ()
    applied_taxes: tuple[MageAppliedTax, ...] = ()


class MageOrder(RawPayload):
    entity_id: int
    increment_id: Text = ""
    ext_order_id: Text = ""  # the connector's invoice marker on orders it made (writes.py)
    state: Text = ""
    status: Text
    created_at: Time
    updated_at: Time = None
    order_currency_code: Text
    base_currency_code: Text = ""
    base_to_order_rate: OptionalMoney = None
    customer_id: int | None = None
    customer_is_guest: Flag = False
    customer_group_id: int | None = None
    customer_email: Text = ""
    customer_firstname: Text = ""
    customer_lastname: Text = ""
    customer_note: Text = ""
    coupon_code: Text = ""
    discount_description: Text = ""
    grand_total: Money
    subtotal: Money = Decimal(0)
    discount_amount: Money = Decimal(0)
    discount_tax_compensation_amount: Money = Decimal(0)
    shipping_amount: Money = Decimal(0)
    shipping_discount_amount: Money = Decimal(0)
    shipping_discount_tax_compensation_amount: Money = Decimal(0)
    shipping_tax_amount: Money = Decimal(0)
    shipping_description: Text = ""
    tax_amount: Money = Decimal(0)
    total_paid: Money = Decimal(0)
    total_refunded: Money = Decimal(0)
    is_virtual: Flag = False
    items: tuple[MageItem, ...] = ()
    billing_address: MageAddress = MageAddress()
    payment: MagePayment = MagePayment()
    extension_attributes: MageOrderExtension = MageOrderExtension()


class MageTotals(RawPayload):
    """What the client reads of an order to know which facts to look up beside it."""

    entity_id: int
    grand_total: Money = Decimal(0)
    total_paid: Money = Decimal(0)
    total_refunded: Money = Decimal(0)


class MageCreditMemoItem(RawPayload):
    entity_id: int
    order_item_id: int
    sku: Text = ""
    name: Text = ""
    qty: Money = Decimal(0)
    row_total: Money = Decimal(0)
    discount_amount: Money = Decimal(0)
    tax_amount: Money = Decimal(0)
    discount_tax_compensation_amount: Money = Decimal(0)


class MageCreditMemo(RawPayload):
    """GET /V1/creditmemos: a refund, amounts positive, with its adjustments."""

    entity_id: int
    order_id: int
    increment_id: Text = ""
    created_at: Time = None
    grand_total: Money
    subtotal: Money = Decimal(0)
    shipping_amount: Money = Decimal(0)
    shipping_tax_amount: Money = Decimal(0)
    tax_amount: Money = Decimal(0)
    adjustment_positive: Money = Decimal(0)
    adjustment_negative: Money = Decimal(0)
    customer_note: Text = ""
    items: tuple[MageCreditMemoItem, ...] = ()


class MageInvoice(RawPayload):
    entity_id: int
    order_id: int
    created_at: Time = None
    grand_total: Money = Decimal(0)


class MageCustomer(RawPayload):
    id: int
    email: Text = ""
    firstname: Text = ""
    lastname: Text = ""
    group_id: int | None = None
    created_at: Time = None
    updated_at: Time = None
    default_billing: Text = ""
    default_shipping: Text = ""
    addresses: tuple[dict[str, Any], ...] = ()


class MageCustomAttribute(RawPayload):
    attribute_code: Text = ""
    value: Any = None


def attribute(attributes: tuple[MageCustomAttribute, ...], code: str) -> Any:
    """A custom attribute's value (``category_ids``, ``url_key``), None when absent."""
    return next((a.value for a in attributes if a.attribute_code == code), None)


class MageCategoryLink(RawPayload):
    category_id: Text = ""


class MageProductExtension(RawPayload):
    category_links: tuple[MageCategoryLink, ...] = ()


class MageProduct(RawPayload):
    """GET /V1/products: a catalogue product and the categories it is assigned to."""

    id: int
    sku: Text = ""
    extension_attributes: MageProductExtension = MageProductExtension()
    custom_attributes: tuple[MageCustomAttribute, ...] = ()

    @property
    def category_ids(self) -> tuple[int, ...]:
        """Its categories: ``category_links``, else the ``category_ids`` attribute."""
        linked = [link.category_id for link in self.extension_attributes.category_links]
        listed = attribute(self.custom_attributes, "category_ids")
        found = linked or (listed if isinstance(listed, list) else [])
        return tuple(dict.fromkeys(int(c) for c in found if str(c).strip().isdigit()))


class MageCategory(RawPayload):
    """GET /V1/categories/{id}."""

    id: int
    name: Text = ""
    custom_attributes: tuple[MageCustomAttribute, ...] = ()

    @property
    def url_key(self) -> str:
        return str(attribute(self.custom_attributes, "url_key") or "")


class MageCustomerGroup(RawPayload):
    """GET /V1/customerGroups/{id}: ``code`` is the group's name ("Wholesale")."""

    id: int
    code: Text = ""


class MageSearchResult(RawPayload):
    items: tuple[dict[str, Any], ...] = ()
    total_count: int = 0


class MageError(RawPayload):
    """Magento's error body: ``{"message": "... %1 ...", "parameters": [...]}``."""

    message: Text = ""
    parameters: Any = Field(default=None)

    def text(self) -> str:
        """The message with its %1/%fieldName placeholders filled in."""
        result = self.message
        if isinstance(self.parameters, list):
            for n, value in enumerate(self.parameters, start=1):
                result = result.replace(f"%{n}", str(value))
        elif isinstance(self.parameters, dict):
            for name, value in self.parameters.items():
                result = result.replace(f"%{name}", str(value))
        return result

"""WooCommerce REST v3 payloads as they arrive, validated at the boundary.

Only the fields the connector reads are declared; everything else is ignored so a
plugin adding fields never breaks a sync. Money arrives as strings ("12.00"), per-rate
taxes as unrounded strings ("0.9", "1.2375"); both become exact Decimals here.
Dates ending in ``_gmt`` are UTC without an offset, so they are made aware here.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from connector.stores.payload_types import Money, RawPayload, Text, as_utc


def _gmt(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return as_utc(parsed)


GmtDatetime = Annotated[datetime | None, BeforeValidator(_gmt)]


class WooAddress(RawPayload):
    first_name: Text = ""
    last_name: Text = ""
    company: Text = ""
    address_1: Text = ""
    address_2: Text = ""
    city: Text = ""
    state: Text = ""
    postcode: Text = ""
    country: Text = ""
    email: Text = ""
    phone: Text = ""


class WooRateAmount(RawPayload):
    """One rate's share of a line's tax: ``id`` is the tax rate id, amounts unrounded."""

    id: int
    total: Money = Decimal(0)
    subtotal: Money = Decimal(0)


class WooLineItem(RawPayload):
    id: int
    name: Text = ""
    product_id: int = 0
    variation_id: int = 0
    quantity: Money = Decimal(0)
    subtotal: Money = Decimal(0)
    subtotal_tax: Money = Decimal(0)
    total: Money = Decimal(0)
    total_tax: Money = Decimal(0)
    taxes: tuple[WooRateAmount, ...] = ()
    sku: str | None = None


class WooTaxLine(RawPayload):
    id: int
    rate_code: Text = ""
    rate_id: int
    label: Text = ""
    compound: bool = False
    tax_total: Money = Decimal(0)
    shipping_tax_total: Money = Decimal(0)
    # Newer WooCommerce versions add the percentage; older ones (and the docs sample) do not.
    rate_percent: Money | None = None


class WooShippingLine(RawPayload):
    id: int
    method_title: Text = ""
    method_id: Text = ""
    total: Money = Decimal(0)
    total_tax: Money = Decimal(0)
    taxes: tuple[WooRateAmount, ...] = ()


class WooFeeLine(RawPayload):
    id: int
    name: Text = ""
    tax_status: Text = ""
    total: Money = Decimal(0)
    total_tax: Money = Decimal(0)
    taxes: tuple[WooRateAmount, ...] = ()


class WooCouponLine(RawPayload):
    id: int
    code: Text = ""
    discount: Money = Decimal(0)
    discount_tax: Money = Decimal(0)


class WooRefundSummary(RawPayload):
    id: int
    reason: Text = ""
    total: Money = Decimal(0)


class WooCategory(RawPayload):
    name: Text = ""
    slug: Text = ""


class WooOrderFacts(RawPayload):
    """What the store adapter looked up beside a REST order, for revenue rules
    (woocommerce_client.FACTS_KEY): absent parts were not asked for."""

    # Product id -> the product's categories.
    product_categories: dict[str, tuple[WooCategory, ...]] | None = None
    # The buyer's role; "guest" for a guest checkout; None for a deleted account.
    customer_group: str | None = None


class WooOrder(RawPayload):
    id: int
    number: Text = ""
    status: Text
    currency: Text
    date_created_gmt: GmtDatetime
    date_modified_gmt: GmtDatetime = None
    date_paid_gmt: GmtDatetime = None
    discount_total: Money = Decimal(0)
    discount_tax: Money = Decimal(0)
    shipping_total: Money = Decimal(0)
    shipping_tax: Money = Decimal(0)
    cart_tax: Money = Decimal(0)
    total: Money
    total_tax: Money = Decimal(0)
    prices_include_tax: bool = False
    customer_id: int = 0
    customer_note: Text = ""
    billing: WooAddress = WooAddress()
    shipping: WooAddress = WooAddress()
    payment_method: Text = ""
    payment_method_title: Text = ""
    transaction_id: Text = ""
    line_items: tuple[WooLineItem, ...] = ()
    tax_lines: tuple[WooTaxLine, ...] = ()
    shipping_lines: tuple[WooShippingLine, ...] = ()
    fee_lines: tuple[WooFeeLine, ...] = ()
    coupon_lines: tuple[WooCouponLine, ...] = ()
    refunds: tuple[WooRefundSummary, ...] = ()
    meta_data: tuple[WooMeta, ...] = ()
    facts: Annotated[WooOrderFacts, Field(alias="_connector")] = WooOrderFacts()


class WooCustomer(RawPayload):
    id: int
    email: Text = ""
    first_name: Text = ""
    last_name: Text = ""
    username: Text = ""
    role: Text = ""
    date_created_gmt: GmtDatetime = None
    date_modified_gmt: GmtDatetime = None
    billing: WooAddress = WooAddress()
    shipping: WooAddress = WooAddress()


class WooTimestamps(RawPayload):
    """The two dates every WooCommerce record carries, for watermarks."""

    date_created_gmt: GmtDatetime = None
    date_modified_gmt: GmtDatetime = None


class WooError(RawPayload):
    """WooCommerce's error body: ``{"code", "message", "data": {"status"}}``."""

    code: Text = ""
    message: Text = ""
    data: dict[str, Any] = Field(default_factory=dict)


class WooMeta(RawPayload):
    key: str = ""
    value: Any = None


def _refunded_item_id(meta_data: tuple[WooMeta, ...], own_id: int) -> str:
    for meta in meta_data:
        if meta.key == "_refunded_item_id":
            return str(meta.value)
    return str(own_id)


class WooRefundLine(WooLineItem):
    meta_data: tuple[WooMeta, ...] = ()

    @property
    def refunded_item_id(self) -> str:
        """The order line this refund line gives money back for."""
        return _refunded_item_id(self.meta_data, self.id)


class WooRefundShipping(WooShippingLine):
    meta_data: tuple[WooMeta, ...] = ()

    @property
    def refunded_item_id(self) -> str:
        return _refunded_item_id(self.meta_data, self.id)


class WooRefundFee(WooFeeLine):
    meta_data: tuple[WooMeta, ...] = ()

    @property
    def refunded_item_id(self) -> str:
        return _refunded_item_id(self.meta_data, self.id)


class WooRefund(RawPayload):
    """GET /wc/v3/orders/{id}/refunds: amounts positive, line amounts negative."""

    id: int
    date_created_gmt: GmtDatetime = None
    amount: Money = Decimal(0)
    reason: Text = ""
    line_items: tuple[WooRefundLine, ...] = ()
    # Newer WooCommerce lists refunded shipping and fees apart from the items.
    shipping_lines: tuple[WooRefundShipping, ...] = ()
    fee_lines: tuple[WooRefundFee, ...] = ()

"""BigCommerce payloads as they arrive (Orders V2 and its sub-resources, V3 refunds and
customers), validated at the boundary.

Only the fields the connector reads are declared. V2 money arrives as 4-decimal strings
("12.3400"), V3 refund money as JSON numbers; both become exact Decimals here. V2 dates are
RFC 2822 ("Wed, 10 Jan 2018 21:05:30 +0000"), V3 dates RFC 3339; both become aware UTC.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Annotated, Any

from pydantic import AliasChoices, BeforeValidator, Field

from connector.stores.payload_types import Money, RawPayload, Text, as_utc


def _moment(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            parsed = parsedate_to_datetime(text)
    return as_utc(parsed)


def _optional_id(value: Any) -> int | None:
    if value in (None, "", 0, "0"):
        return None
    return int(value)


Moment = Annotated[datetime | None, BeforeValidator(_moment)]
OptionalId = Annotated[int | None, BeforeValidator(_optional_id)]


class BcAddress(RawPayload):
    first_name: Text = ""
    last_name: Text = ""
    company: Text = ""
    street_1: Text = ""
    street_2: Text = ""
    city: Text = ""
    state: Text = ""
    zip: Text = ""
    country: Text = ""
    country_iso2: Text = ""
    phone: Text = ""
    email: Text = ""


class BcShippingAddress(BcAddress):
    id: int
    shipping_method: Text = ""
    cost_ex_tax: Money = Decimal(0)
    cost_inc_tax: Money = Decimal(0)
    cost_tax: Money = Decimal(0)


class BcAppliedDiscount(RawPayload):
    id: Text = ""
    amount: Money = Decimal(0)
    name: Text = ""
    code: Text = ""
    target: Text = ""


class BcProduct(RawPayload):
    id: int  # the order product id (what taxes and refunds name)
    product_id: int = 0
    variant_id: int = 0
    name: Text = ""
    sku: Text = ""
    quantity: Money = Decimal(0)
    price_ex_tax: Money = Decimal(0)
    price_inc_tax: Money = Decimal(0)
    total_ex_tax: Money = Decimal(0)
    total_inc_tax: Money = Decimal(0)
    total_tax: Money = Decimal(0)
    applied_discounts: tuple[BcAppliedDiscount, ...] = ()
    parent_order_product_id: OptionalId = None
    is_bundled_product: bool = False


class BcCoupon(RawPayload):
    id: int = 0
    code: Text = ""
    # ``amount`` is the coupon's setting (5 for 5 %); ``discount`` is the money it took off.
    discount: Money = Decimal(0)


class BcTax(RawPayload):
    id: int = 0
    tax_rate_id: int = 0
    name: Text = ""
    class_: Text = Field("", validation_alias=AliasChoices("class", "class_"))
    rate: Money = Decimal(0)
    line_amount: Money = Decimal(0)
    order_product_id: Text = ""
    order_address_id: int = 0
    # item | shipping | handling | gift-wrapping (with ?details=true)
    line_item_type: Text = "item"


class BcFee(RawPayload):
    id: int
    type: Text = ""
    display_name_merchant: Text = ""
    display_name_customer: Text = ""
    # The reference spells it both ways ("cost_ex_tax" and "cost_exc_tax").
    cost_ex_tax: Money = Field(
        Decimal(0), validation_alias=AliasChoices("cost_ex_tax", "cost_exc_tax")
    )
    cost_inc_tax: Money = Decimal(0)
    cost_tax: Money = Decimal(0)


class BcOrder(RawPayload):
    """``GET /v2/orders/{id}`` with its products, shipping addresses, coupons, taxes and fees
    fetched by the client and put in place of the sub-resource links."""

    id: int
    customer_id: int = 0
    date_created: Moment = None
    date_modified: Moment = None
    status_id: int
    status: Text = ""
    subtotal_ex_tax: Money = Decimal(0)
    subtotal_inc_tax: Money = Decimal(0)
    shipping_cost_ex_tax: Money = Decimal(0)
    shipping_cost_inc_tax: Money = Decimal(0)
    handling_cost_ex_tax: Money = Decimal(0)
    handling_cost_inc_tax: Money = Decimal(0)
    wrapping_cost_ex_tax: Money = Decimal(0)
    wrapping_cost_inc_tax: Money = Decimal(0)
    total_ex_tax: Money = Decimal(0)
    total_inc_tax: Money
    total_tax: Money = Decimal(0)
    is_tax_inclusive_pricing: bool = False
    payment_method: Text = ""
    payment_provider_id: Text = ""
    payment_status: Text = ""
    refunded_amount: Money = Decimal(0)
    store_credit_amount: Money = Decimal(0)
    gift_certificate_amount: Money = Decimal(0)
    discount_amount: Money = Decimal(0)
    coupon_discount: Money = Decimal(0)
    # Display currency (what the shopper saw) vs transactional currency (what was charged).
    currency_code: Text = ""
    currency_exchange_rate: Money = Decimal(1)
    default_currency_code: Text = ""
    store_default_currency_code: Text = ""
    store_default_to_transactional_exchange_rate: Money = Decimal(0)
    customer_message: Text = ""
    staff_notes: Text = ""
    is_deleted: bool = False
    billing_address: BcAddress = BcAddress()
    products: tuple[BcProduct, ...]
    shipping_addresses: tuple[BcShippingAddress, ...] = ()
    coupons: tuple[BcCoupon, ...] = ()
    taxes: tuple[BcTax, ...] = ()
    fees: tuple[BcFee, ...] = ()


class BcRefundItem(RawPayload):
    # PRODUCT | SHIPPING | HANDLING | GIFT_WRAPPING | FEE | ORDER
    item_type: Text
    item_id: int = 0
    quantity: Money = Decimal(0)
    requested_amount: Money = Decimal(0)
    reason: Text = ""


class BcRefund(RawPayload):
    id: int
    order_id: int
    created: Moment = None
    reason: Text = ""
    total_amount: Money
    total_tax: Money = Decimal(0)
    items: tuple[BcRefundItem, ...] = ()


class BcCustomerAddress(BcAddress):
    id: int = 0
    address1: Text = ""
    address2: Text = ""
    state_or_province: Text = ""
    postal_code: Text = ""
    country_code: Text = ""


class BcCustomer(RawPayload):
    """A V3 customer (``GET /v3/customers?id:in=...&include=addresses``)."""

    id: int
    email: Text = ""
    first_name: Text = ""
    last_name: Text = ""
    company: Text = ""
    phone: Text = ""
    notes: Text = ""  # the write adapter keeps QuickBooks' customer type and terms here
    customer_group_id: int = 0
    date_created: Moment = None
    date_modified: Moment = None
    addresses: tuple[BcCustomerAddress, ...] = ()


class BcError(RawPayload):
    """V3 errors carry ``title``; V2 errors are a list of ``{status, message}``."""

    status: int | None = None
    title: Text = ""
    message: Text = ""

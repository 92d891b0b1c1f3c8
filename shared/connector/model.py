"""The canonical records every store adapter produces and every ledger consumes.

Money is Decimal quantised to the currency's minor unit, never float. An Order
knows how its parts add up, and ``check_totals`` says which part does not.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
)

# ISO 4217 currencies whose minor unit is not two digits; everything else has cents.
_MINOR_UNITS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip

Entity = Literal["order", "customer"]
ZERO = Decimal("0")
# The order meta a store order made from a QuickBooks invoice carries (the invoice's Id), set
# when the connector creates it; store adapters read it into ``Order.origin_ledger_id``.
ORIGIN_META = "_qbo_invoice_id"


def minor_unit(currency: str) -> int:
    return _MINOR_UNITS.get(currency.upper(), 2)


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round half up to the currency's minor unit, as stores and QuickBooks display money."""
    exponent = Decimal(1).scaleb(-minor_unit(currency))
    return amount.quantize(exponent, rounding=ROUND_HALF_UP)


def to_decimal(value: object) -> Decimal:
    """Exact Decimal from a store's money field (string, int, or a float the store printed)."""
    if value is None or value == "":
        return ZERO
    if isinstance(value, float):
        # A float in a store payload is a printed number; its repr is what the store meant.
        return Decimal(repr(value))
    return Decimal(str(value))


def rate_into(rate: Decimal | None, rate_currency: str | None, home: str) -> Decimal | None:
    """A store's exchange ``rate`` into ``rate_currency`` (None: the books' home currency), when
    that is the books' ``home`` currency; else None."""
    if rate_currency is not None and rate_currency.upper() != home.upper():
        return None
    return rate


class _Record(BaseModel):
    # Built at first validation, not at import: ingest, oauth and qbo_token never validate an
    # order, and a cold start should not pay for schemas its function does not use.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Address(_Record):
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    line1: str = ""
    line2: str = ""
    city: str = ""
    region: str = ""
    postcode: str = ""
    country: str = ""
    phone: str = ""

    def is_empty(self) -> bool:
        return not any((self.line1, self.line2, self.city, self.postcode, self.country))


class Customer(_Record):
    """A store customer, or the buyer of a guest order (store_id None)."""

    connection_id: str
    store_id: str | None
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    phone: str = ""
    billing: Address = Address()
    shipping: Address = Address()
    modified_at: datetime | None = None
    # The store's customer group (WooCommerce: the user's role; "guest" for guest checkouts).
    # None when the store adapter was not asked for it (no revenue rule matches on it).
    group: str | None = None

    @property
    def display_name(self) -> str:
        """The name a bookkeeper sees: person, else company, else email."""
        person = " ".join(p for p in (self.first_name.strip(), self.last_name.strip()) if p)
        return person or self.company.strip() or self.email.strip()

    @property
    def match_key(self) -> str:
        """Stable key for the customer mapping: store id, else (guest) the email."""
        if self.store_id:
            return f"id:{self.store_id}"
        return f"email:{self.email.strip().lower()}"


class TaxAmount(_Record):
    rate_id: str
    amount: Decimal


class OrderLine(_Record):
    line_id: str
    sku: str | None
    name: str
    quantity: Decimal
    # Pre-discount and post-discount line amounts, excluding tax.
    subtotal: Decimal
    total: Decimal
    taxes: tuple[TaxAmount, ...] = ()
    # The product's store categories, names and slugs; empty unless a revenue rule needs them.
    categories: tuple[str, ...] = ()

    @property
    def discount(self) -> Decimal:
        return self.subtotal - self.total

    @property
    def tax_total(self) -> Decimal:
        return sum((t.amount for t in self.taxes), ZERO)


class ShippingLine(_Record):
    line_id: str
    method: str
    total: Decimal
    taxes: tuple[TaxAmount, ...] = ()


class FeeLine(_Record):
    line_id: str
    name: str
    total: Decimal
    taxes: tuple[TaxAmount, ...] = ()


class Coupon(_Record):
    code: str
    discount: Decimal
    discount_tax: Decimal = ZERO


class TaxLine(_Record):
    rate_id: str
    code: str
    label: str
    percent: Decimal | None = None
    compound: bool = False
    tax_total: Decimal  # on items and fees
    shipping_tax_total: Decimal = ZERO

    @property
    def amount(self) -> Decimal:
        return self.tax_total + self.shipping_tax_total


class Payment(_Record):
    method: str = ""
    method_title: str = ""
    paid_at: datetime | None = None
    transaction_id: str = ""

    @property
    def is_paid(self) -> bool:
        """The store took the money (WooCommerce sets date_paid when it did)."""
        return self.paid_at is not None


class Order(_Record):
    connection_id: str
    store_id: str
    number: str
    status: str
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    created_at: datetime
    modified_at: datetime
    customer: Customer
    lines: tuple[OrderLine, ...]
    shipping_lines: tuple[ShippingLine, ...] = ()
    fee_lines: tuple[FeeLine, ...] = ()
    coupons: tuple[Coupon, ...] = ()
    tax_lines: tuple[TaxLine, ...] = ()
    prices_include_tax: bool = False
    discount_total: Decimal = ZERO
    shipping_total: Decimal = ZERO
    total_tax: Decimal = ZERO
    total: Decimal
    payment: Payment = Payment()
    note: str = ""
    # Units of ``rate_currency`` per unit of ``currency``, when the store knows the rate it used.
    exchange_rate: Decimal | None = None
    # The currency the store's rate converts into (its base currency); None: the books' home
    # currency. A rate into another currency than the books' is no use to them (rate_for).
    rate_currency: str | None = None
    # Money given back so far (the store's refunds, positive); the refunds post on their own.
    refunded_total: Decimal = ZERO
    # The store's ids of the order's refunds as listed now (a deleted one is gone).
    refund_ids: tuple[str, ...] = ()
    # The QuickBooks invoice the connector made this order from (its ``ORIGIN_META``), if any:
    # the store → QuickBooks path does not post such an order back (connector.both_ways).
    origin_ledger_id: str | None = None

    @field_validator("currency")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    def q(self, amount: Decimal) -> Decimal:
        return quantize(amount, self.currency)

    def rate_for(self, home: str) -> Decimal | None:
        """The store's rate, home units per unit of ``currency``, when it converts into the
        books' ``home`` currency; None otherwise, and the ledger finds its own."""
        return rate_into(self.exchange_rate, self.rate_currency, home)

    @property
    def items_total(self) -> Decimal:
        """Line totals after discounts, excluding tax."""
        return sum((line.total for line in self.lines), ZERO)

    @property
    def fees_total(self) -> Decimal:
        return sum((fee.total for fee in self.fee_lines), ZERO)

    @property
    def shipping_lines_total(self) -> Decimal:
        return sum((s.total for s in self.shipping_lines), ZERO)

    @property
    def tax_lines_total(self) -> Decimal:
        return sum((t.amount for t in self.tax_lines), ZERO)


class RefundLine(_Record):
    """A refunded order line (an item, shipping or a fee); amounts positive, excluding tax."""

    line_id: str  # the refunded order line's id
    kind: Literal["item", "shipping", "fee"] = "item"
    sku: str | None
    name: str
    quantity: Decimal
    total: Decimal
    taxes: tuple[TaxAmount, ...] = ()


class Refund(_Record):
    """Money given back on an order. An amount-only refund has no lines.

    ``amount`` is what the buyer gets: the lines and their tax, plus whatever the store gave
    back beyond them, less ``fee``, what the store kept back (Magento's adjustment fee).
    """

    connection_id: str
    store_id: str
    order_store_id: str
    order_number: str
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    created_at: datetime
    amount: Decimal  # positive, including tax
    reason: str = ""
    lines: tuple[RefundLine, ...] = ()
    fee: Decimal = ZERO  # positive: money withheld from the refund

    @model_serializer(mode="wrap")
    def _without_no_fee(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A refund without a fee dumps as it did before the field existed, so the digests
        # that tell a changed refund from a repeated one stay the same.
        data: dict[str, Any] = handler(self)
        if not self.fee:
            data.pop("fee", None)
        return data


class TotalsMismatch(ValueError):
    """The parts of an order do not add up to its total; the message says which part."""


def check_totals(order: Order) -> None:
    """Raise TotalsMismatch unless lines, shipping, fees and tax add up to the total to the cent."""
    q = order.q
    problems: list[str] = []
    line_discount = sum((line.discount for line in order.lines), ZERO)
    if q(line_discount) != q(order.discount_total):
        problems.append(
            f"line discounts add up to {q(line_discount)} but the order's discount total is "
            f"{q(order.discount_total)}"
        )
    if q(order.shipping_lines_total) != q(order.shipping_total):
        problems.append(
            f"shipping lines add up to {q(order.shipping_lines_total)} but the order's shipping "
            f"total is {q(order.shipping_total)}"
        )
    if q(order.tax_lines_total) != q(order.total_tax):
        problems.append(
            f"tax lines add up to {q(order.tax_lines_total)} but the order's total tax is "
            f"{q(order.total_tax)}"
        )
    computed = (
        q(order.items_total)
        + q(order.shipping_total)
        + q(order.fees_total)
        + q(order.tax_lines_total)
    )
    if computed != q(order.total):
        problems.append(
            f"items {q(order.items_total)} + shipping {q(order.shipping_total)} + fees "
            f"{q(order.fees_total)} + tax {q(order.tax_lines_total)} = {computed}, "
            f"not the order total {q(order.total)}"
        )
    if problems:
        raise TotalsMismatch(f"order {order.number}: " + "; ".join(problems))

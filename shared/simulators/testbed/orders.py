"""Canonical orders, refunds and customers as a store adapter hands them to a ledger.

``make_order(**changes)`` is the one order builder: a processing order of two mugs from Ann
Lee; any field can be changed, and the totals a test does not give are worked out from the
parts it does (lines, shipping, fees, tax), as the store would, so the order adds up. The
named orders below are that builder with a story: ``taxed_order(n)`` is a numbered, taxed and
shipped sale of a Desktop connection, ``full_order()`` has a bit of everything and a buyer
whose name and address QuickBooks Desktop must escape and transliterate.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from connector.model import (
    Address,
    Coupon,
    Customer,
    FeeLine,
    Order,
    OrderLine,
    Payment,
    Refund,
    RefundLine,
    ShippingLine,
    TaxAmount,
    TaxLine,
)

ZERO = Decimal(0)
CONNECTION = "shop-us"
DESK = "desk"  # the Desktop connection's id (testbed.desktop)
SOLD_AT = datetime(2024, 5, 2, 1, 30, tzinfo=UTC)

ADDRESS = Address(
    first_name="Ann",
    last_name="Lee",
    line1="1 Main St",
    line2="Apt 4",
    city="Springfield",
    region="IL",
    postcode="62701",
    country="US",
    phone="555-0100",
)
# A buyer whose accents, apostrophe, ampersand and angle brackets need care in every ledger.
OBRIEN_ADDRESS = Address(
    first_name="Siobhán",
    last_name="O'Brien",
    company="Ryan & Sons <Ltd>",
    line1="1 Łódź Street",
    line2="Flat 2",
    city="Zürich",
    region="ZH",
    postcode="8001",
    country="CH",
    phone="+41 44 000 00 00",
)
OBRIEN = Customer(
    connection_id="shop",
    store_id="7",
    email="siobhan@example.com",
    first_name="Siobhán",
    last_name="O'Brien",
    company="Ryan & Sons <Ltd>",
    phone="+41 44 000 00 00",
    billing=OBRIEN_ADDRESS,
    shipping=OBRIEN_ADDRESS,
)


def make_customer(**changes: Any) -> Customer:
    """Ann Lee, a registered customer (store id 15) with billing and shipping addresses."""
    fields: dict[str, Any] = {
        "connection_id": CONNECTION,
        "store_id": "15",
        "email": "ann@example.com",
        "first_name": "Ann",
        "last_name": "Lee",
        "billing": ADDRESS,
        "shipping": ADDRESS,
    }
    return Customer(**{**fields, **changes})


def tax(rate: str, amount: str) -> tuple[TaxAmount, ...]:
    """One rate's tax on a line: ``taxes=tax("1", "0.80")``."""
    return (TaxAmount(rate_id=rate, amount=Decimal(amount)),)


def item(
    line_id: str,
    sku: str | None,
    qty: int = 1,
    subtotal: str = "10.00",
    total: str | None = None,
    taxes: tuple[TaxAmount, ...] = (),
    **changes: Any,
) -> OrderLine:
    """A line "Product <id>": ``qty`` units for ``subtotal``, ``total`` after discounts."""
    fields: dict[str, Any] = {
        "line_id": line_id,
        "sku": sku,
        "name": f"Product {line_id}",
        "quantity": Decimal(qty),
        "subtotal": Decimal(subtotal),
        "total": Decimal(total if total is not None else subtotal),
        "taxes": taxes,
    }
    return OrderLine(**{**fields, **changes})


MUGS = OrderLine(
    line_id="1",
    sku="MUG-01",
    name="Mug",
    quantity=Decimal(2),
    subtotal=Decimal("20.00"),
    total=Decimal("20.00"),
)


def make_order(*, rates: Mapping[str, TaxLine] | None = None, **changes: Any) -> Order:
    """An order; ``changes`` are Order fields. Totals not given are worked out from the parts.

    Without ``tax_lines``, one is made per rate the lines, fees and shipping carry tax for
    (``rates`` gives a rate's code, label and percent; the amounts are always summed).
    """
    lines: tuple[OrderLine, ...] = tuple(changes.pop("lines", (MUGS,)))
    shipping: tuple[ShippingLine, ...] = tuple(changes.pop("shipping_lines", ()))
    fees: tuple[FeeLine, ...] = tuple(changes.pop("fee_lines", ()))
    tax_lines = changes.pop("tax_lines", None)
    if tax_lines is None:
        tax_lines = _tax_lines(lines, shipping, fees, rates or {})
    items = sum((line.total for line in lines), ZERO)
    shipping_total = sum((s.total for s in shipping), ZERO)
    fees_total = sum((f.total for f in fees), ZERO)
    total_tax = sum((t.amount for t in tax_lines), ZERO)
    fields: dict[str, Any] = {
        "connection_id": CONNECTION,
        "store_id": "727",
        "number": "1042",
        "status": "processing",
        "currency": "USD",
        "created_at": SOLD_AT,
        "modified_at": SOLD_AT.replace(minute=31),
        "customer": make_customer(),
        "lines": lines,
        "shipping_lines": shipping,
        "fee_lines": fees,
        "tax_lines": tuple(tax_lines),
        "discount_total": sum((line.discount for line in lines), ZERO),
        "shipping_total": shipping_total,
        "total_tax": total_tax,
        "total": items + shipping_total + fees_total + total_tax,
    }
    return Order(**{**fields, **changes})


def _tax_lines(
    lines: tuple[OrderLine, ...],
    shipping: tuple[ShippingLine, ...],
    fees: tuple[FeeLine, ...],
    rates: Mapping[str, TaxLine],
) -> tuple[TaxLine, ...]:
    on_items: dict[str, Decimal] = {}
    on_shipping: dict[str, Decimal] = {}
    for taxes in (*(line.taxes for line in lines), *(fee.taxes for fee in fees)):
        for t in taxes:
            on_items[t.rate_id] = on_items.get(t.rate_id, ZERO) + t.amount
    for s in shipping:
        for t in s.taxes:
            on_shipping[t.rate_id] = on_shipping.get(t.rate_id, ZERO) + t.amount
    return tuple(
        (
            rates.get(rate)
            or TaxLine(rate_id=rate, code=f"R{rate}", label=f"Rate {rate}", tax_total=ZERO)
        ).model_copy(
            update={
                "tax_total": on_items.get(rate, ZERO),
                "shipping_tax_total": on_shipping.get(rate, ZERO),
            }
        )
        for rate in sorted({*on_items, *on_shipping})
    )


def taxed_order(
    store_id: int,
    *,
    connection_id: str = DESK,
    email: str | None = None,
    first: str = "Ada",
    last: str | None = None,
    price: str = "20.00",
    tax: str = "1.60",
    shipping: str = "5.00",
    sku: str = "MUG",
    group: str | None = None,
) -> Order:
    """WooCommerce order ``store_id``, not yet paid: two mugs, taxed at 8% (IL), flat-rate
    shipping; the buyer (customer 1000 + ``store_id``, in ``group``) is Ada Buyer<id>."""
    when = datetime(2026, 1, 5, 15, 30, tzinfo=UTC)
    last = last or f"Buyer{store_id}"
    address = Address(
        first_name=first,
        last_name=last,
        line1="1 Main St",
        city="Springfield",
        region="IL",
        postcode="62701",
        country="US",
    )
    customer = Customer(
        connection_id=connection_id,
        store_id=str(1000 + store_id),
        email=email or f"buyer{store_id}@example.com",
        first_name=first,
        last_name=last,
        billing=address,
        group=group,
    )
    line = OrderLine(
        line_id="1",
        sku=sku,
        name="Mug",
        quantity=Decimal(2),
        subtotal=Decimal(price),
        total=Decimal(price),
        taxes=(TaxAmount(rate_id="1", amount=Decimal(tax)),),
    )
    rate = TaxLine(
        rate_id="1", code="US-IL", label="IL", percent=Decimal(8), tax_total=Decimal(tax)
    )
    return make_order(
        connection_id=connection_id,
        store_id=str(store_id),
        number=str(store_id),
        created_at=when,
        modified_at=when,
        customer=customer,
        lines=(line,),
        shipping_lines=(ShippingLine(line_id="s", method="Flat rate", total=Decimal(shipping)),),
        tax_lines=(rate,),
    )


def full_order(**changes: Any) -> Order:
    """Order 1001 (id 101) of Siobhán O'Brien: two taxed lines, one discounted by a coupon,
    shipping, a gift-wrap fee, a card payment and a note; 42.14 in all."""
    fields: dict[str, Any] = {
        "connection_id": "shop",
        "store_id": "101",
        "number": "1001",
        "created_at": datetime(2024, 5, 1, 23, 30, tzinfo=UTC),
        "modified_at": datetime(2024, 5, 1, 23, 30, tzinfo=UTC),
        "customer": OBRIEN,
        "lines": (
            OrderLine(
                line_id="1",
                sku="MUG",
                name="Mug “big”",
                quantity=Decimal(2),
                subtotal=Decimal("20.00"),
                total=Decimal("18.00"),
                taxes=(TaxAmount(rate_id="1", amount=Decimal("1.44")),),
            ),
            OrderLine(
                line_id="2",
                sku="TEE",
                name="T-shirt",
                quantity=Decimal(1),
                subtotal=Decimal("15.00"),
                total=Decimal("15.00"),
                taxes=(TaxAmount(rate_id="1", amount=Decimal("1.20")),),
            ),
        ),
        "shipping_lines": (ShippingLine(line_id="s1", method="Flat rate", total=Decimal("5.00")),),
        "fee_lines": (FeeLine(line_id="f1", name="Gift wrap", total=Decimal("1.50")),),
        "coupons": (Coupon(code="SAVE10", discount=Decimal("2.00")),),
        "tax_lines": (
            TaxLine(
                rate_id="1",
                code="US-CA",
                label="CA Tax",
                percent=Decimal(8),
                tax_total=Decimal("2.64"),
            ),
        ),
        "payment": Payment(method="stripe", transaction_id="ch_123"),
        "note": "Leave at the door",
    }
    return make_order(**{**fields, **changes})


def paid(order: Order, method: str = "stripe", transaction_id: str = "") -> Order:
    """The order as the store has it once the gateway took the money."""
    payment = Payment(
        method=method,
        method_title=method.title(),
        paid_at=order.created_at,
        transaction_id=transaction_id or f"ch_{order.store_id:0>24}",
    )
    return order.model_copy(update={"payment": payment})


def refund_of(
    order: Order, refund_id: int | str, amount: str, *, shipping: bool = False, **changes: Any
) -> Refund:
    """Refund ``refund_id`` of ``amount`` on ``order``: an amount only, or with ``shipping``
    the order's flat-rate shipping line; ``changes`` are Refund fields (``lines``, ``reason``)."""
    shipping_line = RefundLine(
        line_id="s",
        kind="shipping",
        sku=None,
        name="Flat rate",
        quantity=ZERO,
        total=Decimal(amount),
    )
    fields: dict[str, Any] = {
        "connection_id": order.connection_id,
        "store_id": str(refund_id),
        "order_store_id": order.store_id,
        "order_number": order.number,
        "currency": order.currency,
        "created_at": order.created_at,
        "amount": Decimal(amount),
        "reason": "Late",
        "lines": (shipping_line,) if shipping else (),
    }
    return Refund(**{**fields, **changes})


def make_refund(**changes: Any) -> Refund:
    """Refund 55 of ``full_order()``: 25.00 "Broken", one mug (9.00 and 0.72 tax) and the rest."""
    mug = RefundLine(
        line_id="1",
        sku="MUG",
        name="Mug",
        quantity=Decimal(1),
        total=Decimal("9.00"),
        taxes=(TaxAmount(rate_id="1", amount=Decimal("0.72")),),
    )
    fields: dict[str, Any] = {"reason": "Broken", "lines": (mug,)}
    return refund_of(full_order(), 55, "25.00", **{**fields, **changes})

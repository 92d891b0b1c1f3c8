"""Hypothesis strategies for orders whose parts add up (tests only: hypothesis is a dev
dependency, so nothing shipped imports this module)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import strategies as st

from connector.model import Coupon, FeeLine, Order, OrderLine, ShippingLine, TaxLine
from simulators.testbed.orders import full_order, item, make_order, tax


def cents(most: int) -> st.SearchStrategy[Decimal]:
    """Amounts from 0.00 to ``most`` cents."""
    return st.integers(min_value=0, max_value=most).map(lambda c: Decimal(c).scaleb(-2))


@st.composite
def online_orders(draw: st.DrawFn) -> Order:
    """Ann Lee's orders for QuickBooks Online: up to five discounted lines, each untaxed or
    taxed at rate 1 or 2, shipping, positive or negative fees, a coupon, prices with or without
    tax."""
    lines = []
    for n in range(draw(st.integers(min_value=1, max_value=5))):
        quantity = draw(st.integers(min_value=1, max_value=7))
        subtotal_cents = draw(st.integers(min_value=0, max_value=200_000))
        discount_cents = draw(st.integers(min_value=0, max_value=subtotal_cents))
        subtotal = Decimal(subtotal_cents).scaleb(-2)
        total = Decimal(subtotal_cents - discount_cents).scaleb(-2)
        rate = draw(st.sampled_from(["", "1", "2"]))
        taxes = tax(rate, str(Decimal(draw(st.integers(0, 20_000))).scaleb(-2))) if rate else ()
        lines.append(
            item(
                str(n),
                draw(st.sampled_from(["MUG-01", "HOODIE-M", None])),
                quantity,
                str(subtotal),
                str(total),
                taxes,
            )
        )
    shipping = tuple(
        ShippingLine(
            line_id=f"s{n}",
            method="Courier",
            total=draw(cents(200_000)),
            taxes=tax("1", "0.99") if n else (),
        )
        for n in range(draw(st.integers(min_value=0, max_value=2)))
    )
    fees = tuple(
        FeeLine(
            line_id=f"f{n}",
            name="Fee",
            total=draw(st.integers(-5000, 5000).map(lambda c: Decimal(c).scaleb(-2))),
        )
        for n in range(draw(st.integers(min_value=0, max_value=2)))
    )
    coupons = (Coupon(code="C", discount=Decimal(0)),) if draw(st.booleans()) else ()
    return make_order(
        lines=tuple(lines),
        shipping_lines=shipping,
        fee_lines=fees,
        coupons=coupons,
        prices_include_tax=draw(st.booleans()),
    )


@st.composite
def desktop_orders(draw: st.DrawFn) -> Order:
    """``full_order()`` with up to six discounted lines named with any text, shipping, fees of
    either sign and one tax line: what QuickBooks Desktop must add up and write in Latin-1."""
    lines = []
    for n in range(draw(st.integers(min_value=1, max_value=6))):
        subtotal = draw(cents(500_000))
        discount = draw(st.integers(min_value=0, max_value=int(subtotal * 100)))
        lines.append(
            OrderLine(
                line_id=str(n),
                sku=draw(st.sampled_from(["MUG", "TEE"])),
                name=draw(st.text(max_size=30)),
                quantity=Decimal(draw(st.integers(min_value=1, max_value=50))),
                subtotal=subtotal,
                total=subtotal - Decimal(discount).scaleb(-2),
            )
        )
    shipping = [
        ShippingLine(line_id=f"s{n}", method="Post", total=draw(cents(500_000)))
        for n in range(draw(st.integers(min_value=0, max_value=2)))
    ]
    fees = [
        FeeLine(line_id=f"f{n}", name="Fee", total=draw(cents(500_000)) - draw(cents(500_000)))
        for n in range(draw(st.integers(min_value=0, max_value=2)))
    ]
    amount = draw(cents(500_000))
    tax_lines = (TaxLine(rate_id="1", code="T", label="Tax", tax_total=amount),) if amount else ()
    return full_order(
        lines=tuple(lines),
        shipping_lines=tuple(shipping),
        fee_lines=tuple(fees),
        coupons=(),
        tax_lines=tax_lines,
    )

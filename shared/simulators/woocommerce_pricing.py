"""Order arithmetic the way WooCommerce does it, producing the REST v3 line and total fields.

What matters for a connector, and is reproduced here:
- line subtotal/total are excluding tax, in cents, even when prices include tax;
- each line's tax per rate is kept unrounded (``taxes[].total`` like "1.2375");
- a tax line's ``tax_total`` is the sum of the per-line amounts each rounded first
  (``woocommerce_tax_round_at_subtotal`` off, the default), so a line's displayed
  ``total_tax`` can disagree with the tax lines by a cent;
- compound rates apply on price plus the taxes before them;
- the order total is items + fees + shipping + cart tax + shipping tax.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from simulators.woocommerce_catalogue import CouponDef, Product, ShippingMethod, TaxRate

CENT = Decimal("0.01")
ZERO = Decimal(0)
_TAX_PRECISION = Decimal("0.000001")  # what survives WooCommerce's float storage, near enough


def r2(amount: Decimal) -> Decimal:
    """PHP round($x, 2): half away from zero."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def money(amount: Decimal) -> str:
    """Money fields as the REST API prints them with the default dp=2."""
    return f"{r2(amount):.2f}"


def raw_tax(amount: Decimal) -> str:
    """Per-rate taxes as WooCommerce prints them: unrounded, trailing zeros dropped ("0.9")."""
    text = f"{amount.quantize(_TAX_PRECISION, rounding=ROUND_HALF_UP).normalize():f}"
    return "0" if text in ("-0", "0") else text


def exclusive_taxes(base: Decimal, rates: Sequence[TaxRate]) -> dict[int, Decimal]:
    """WC_Tax::calc_exclusive_tax: simple rates on the price, compound on price plus taxes."""
    taxes: dict[int, Decimal] = {}
    for rate in sorted(rates, key=lambda r: (r.compound, r.priority, r.id)):
        taxed_base = base + sum(taxes.values(), ZERO) if rate.compound else base
        taxes[rate.id] = (taxed_base * rate.percent / 100).quantize(
            _TAX_PRECISION, rounding=ROUND_HALF_UP
        )
    return taxes


def inclusive_taxes(gross: Decimal, rates: Sequence[TaxRate]) -> dict[int, Decimal]:
    """WC_Tax::calc_inclusive_tax: the taxes contained in a tax-inclusive amount."""
    factor = 1 + sum((r.percent for r in rates if not r.compound), ZERO) / 100
    for rate in rates:
        if rate.compound:
            factor *= 1 + rate.percent / 100
    return exclusive_taxes(gross / factor, rates)


def _allocate(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split ``total`` cents in proportion to ``weights``, remainder by largest remainder."""
    weight_sum = sum(weights, ZERO)
    if weight_sum == 0 or total == 0:
        return [ZERO for _ in weights]
    exact = [total * w / weight_sum for w in weights]
    shares = [e.quantize(CENT, rounding="ROUND_DOWN") for e in exact]
    left = int((total - sum(shares, ZERO)) / CENT)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))
    for n in range(left):
        shares[order[n % len(order)]] += CENT
    return shares


@dataclass(frozen=True)
class LineInput:
    product: Product
    name: str  # as the order item stores it (variation names carry their attributes)
    quantity: int
    rates: tuple[TaxRate, ...]


@dataclass(frozen=True)
class FeeInput:
    name: str
    amount: Decimal
    taxable: bool
    rates: tuple[TaxRate, ...]


def _tax_list(taxes: dict[int, Decimal], subtotals: dict[int, Decimal]) -> list[dict[str, Any]]:
    return [
        {"id": rate_id, "total": raw_tax(taxes.get(rate_id, ZERO)),
         "subtotal": raw_tax(subtotals.get(rate_id, ZERO))}
        for rate_id in sorted(set(taxes) | set(subtotals))
    ]  # fmt: skip


def price_order(
    *,
    lines: Sequence[LineInput],
    coupons: Sequence[CouponDef],
    shipping: ShippingMethod | None,
    shipping_rates: Sequence[TaxRate],
    fees: Sequence[FeeInput],
    prices_include_tax: bool,
    next_item_id: Callable[[], int],
) -> dict[str, Any]:
    """All money fields of a REST v3 order: line_items, shipping/fee/coupon/tax lines, totals."""
    gross = [line.product.price * line.quantity for line in lines]
    remaining = list(gross)
    coupon_amounts: list[Decimal] = []
    for coupon in coupons:
        available = sum(remaining, ZERO)
        if coupon.discount_type == "percent":
            wanted = r2(available * coupon.amount / 100)
        else:
            wanted = min(coupon.amount, available)
        split = _allocate(wanted, remaining)
        remaining = [left - cut for left, cut in zip(remaining, split, strict=True)]
        coupon_amounts.append(sum(split, ZERO))

    all_rates: dict[int, TaxRate] = {}
    item_tax_by_rate: dict[int, Decimal] = {}  # sum of per-line amounts, each rounded first
    shipping_tax_by_rate: dict[int, Decimal] = {}
    line_items: list[dict[str, Any]] = []
    discount_total = discount_tax = items_total = ZERO
    for line, line_gross, line_net in zip(lines, gross, remaining, strict=True):
        rates = line.rates if line.product.tax_status == "taxable" else ()
        if prices_include_tax:
            sub_taxes = inclusive_taxes(line_gross, rates)
            taxes = inclusive_taxes(line_net, rates)
            subtotal = line_gross - r2(sum(sub_taxes.values(), ZERO))
            total = line_net - r2(sum(taxes.values(), ZERO))
        else:
            sub_taxes = exclusive_taxes(line_gross, rates)
            taxes = exclusive_taxes(line_net, rates)
            subtotal, total = line_gross, line_net
        for rate in rates:
            all_rates[rate.id] = rate
            item_tax_by_rate[rate.id] = item_tax_by_rate.get(rate.id, ZERO) + r2(taxes[rate.id])
        subtotal_tax = r2(sum(sub_taxes.values(), ZERO))
        total_tax = r2(sum(taxes.values(), ZERO))
        discount_total += subtotal - total
        discount_tax += subtotal_tax - total_tax
        items_total += total
        product = line.product
        line_items.append(
            {
                "id": next_item_id(),
                "name": line.name,
                "product_id": product.parent_id or product.id,
                "variation_id": product.id if product.parent_id else 0,
                "quantity": line.quantity,
                "tax_class": product.tax_class,
                "subtotal": money(subtotal),
                "subtotal_tax": money(subtotal_tax),
                "total": money(total),
                "total_tax": money(total_tax),
                "taxes": _tax_list(taxes, sub_taxes),
                "meta_data": [],
                "price": float(total / line.quantity),
            }
        )

    shipping_lines: list[dict[str, Any]] = []
    shipping_total = ZERO
    if shipping is not None:
        taxes = exclusive_taxes(shipping.cost, shipping_rates) if shipping.cost else {}
        for rate in shipping_rates:
            if rate.id in taxes:
                all_rates[rate.id] = rate
                shipping_tax_by_rate[rate.id] = shipping_tax_by_rate.get(rate.id, ZERO) + r2(
                    taxes[rate.id]
                )
        shipping_total = shipping.cost
        shipping_lines.append(
            {
                "id": next_item_id(),
                "method_title": shipping.title,
                "method_id": shipping.method_id,
                "instance_id": "1",
                "total": money(shipping.cost),
                "total_tax": money(sum(taxes.values(), ZERO)),
                "taxes": [{"id": k, "total": raw_tax(v), "subtotal": ""} for k, v in taxes.items()],
                "meta_data": [],
            }
        )

    fee_lines: list[dict[str, Any]] = []
    fees_total = ZERO
    for fee in fees:
        # WooCommerce does not tax negative fees unless told to; a discount fee is untaxed.
        rates = fee.rates if fee.taxable and fee.amount > 0 else ()
        # Nor lets a negative fee take the order below zero (WC_Cart_Totals caps it).
        amount = max(fee.amount, -(items_total + shipping_total + fees_total))
        fee = replace(fee, amount=amount)
        taxes = exclusive_taxes(fee.amount, rates)
        for rate in rates:
            all_rates[rate.id] = rate
            item_tax_by_rate[rate.id] = item_tax_by_rate.get(rate.id, ZERO) + r2(taxes[rate.id])
        fees_total += fee.amount
        fee_lines.append(
            {
                "id": next_item_id(),
                "name": fee.name,
                "tax_class": "",
                "tax_status": "taxable" if fee.taxable else "none",
                "amount": money(fee.amount),
                "total": money(fee.amount),
                "total_tax": money(sum(taxes.values(), ZERO)),
                "taxes": [{"id": k, "total": raw_tax(v), "subtotal": ""} for k, v in taxes.items()],
                "meta_data": [],
            }
        )

    coupon_lines: list[dict[str, Any]] = []
    # Each coupon's share of the ex-tax discount and its tax, the last one taking the remainder.
    gross_discount = sum(coupon_amounts, ZERO)
    given = given_tax = ZERO
    for index, (coupon, amount) in enumerate(zip(coupons, coupon_amounts, strict=True)):
        if index == len(coupons) - 1:
            share, share_tax = discount_total - given, discount_tax - given_tax
        else:
            weight = amount / gross_discount if gross_discount else ZERO
            share, share_tax = r2(discount_total * weight), r2(discount_tax * weight)
        given += share
        given_tax += share_tax
        coupon_lines.append(
            {
                "id": next_item_id(),
                "code": coupon.code,
                "discount": money(share),
                "discount_tax": money(share_tax),
                "discount_type": coupon.discount_type,
                "nominal_amount": float(coupon.amount),
                "free_shipping": False,
                "meta_data": [],
            }
        )

    tax_lines: list[dict[str, Any]] = []
    for rate_id in sorted(all_rates, key=lambda i: (all_rates[i].priority, i)):
        rate = all_rates[rate_id]
        tax_lines.append(
            {
                "id": next_item_id(),
                "rate_code": rate.code,
                "rate_id": rate.id,
                "label": rate.name,
                "compound": rate.compound,
                "tax_total": money(item_tax_by_rate.get(rate_id, ZERO)),
                "shipping_tax_total": money(shipping_tax_by_rate.get(rate_id, ZERO)),
                "rate_percent": float(rate.percent),
                "meta_data": [],
            }
        )

    cart_tax = sum(item_tax_by_rate.values(), ZERO)
    shipping_tax = sum(shipping_tax_by_rate.values(), ZERO)
    total = items_total + fees_total + shipping_total + cart_tax + shipping_tax
    return {
        "discount_total": money(discount_total),
        "discount_tax": money(discount_tax),
        "shipping_total": money(shipping_total),
        "shipping_tax": money(shipping_tax),
        "cart_tax": money(cart_tax),
        "total": money(total),
        "total_tax": money(cart_tax + shipping_tax),
        "prices_include_tax": prices_include_tax,
        "line_items": line_items,
        "tax_lines": tax_lines,
        "shipping_lines": shipping_lines,
        "fee_lines": fee_lines,
        "coupon_lines": coupon_lines,
    }

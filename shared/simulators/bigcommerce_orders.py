"""How the simulated BigCommerce prices an order and a refund of its lines, as V2 and V3 show them.

Money is kept to four decimals and only the order's totals are rounded. A store with
tax-exclusive prices adds tax per line; one with tax-inclusive prices (``is_tax_inclusive_
pricing``) takes the shelf prices, discounts, shipping, handling and gift wrapping as entered,
with tax, and works the tax out of them, so its total is what the shopper saw. Gift wrapping
is taxed as its own line (``line_item_type`` "gift-wrapping", on the wrapped product). A refund
of lines (``PRODUCT`` by quantity, ``SHIPPING`` by amount) gives back their share with tax.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = ["Line", "Pricing", "line_refund", "price_lines"]

ZERO = Decimal(0)
_FOUR = Decimal("0.0001")
_CENT = Decimal("0.01")


def m(amount: Decimal) -> str:
    """Money as V2 prints it: a 4-decimal string."""
    return str(amount.quantize(_FOUR, rounding=ROUND_HALF_UP))


def c(amount: Decimal) -> Decimal:
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Line:
    name: str
    sku: str
    quantity: int
    price_ex_tax: Decimal  # unit price, 4 decimals
    discount: Decimal = ZERO  # applied to the line: without tax (with it, tax-inclusive)
    # A tax-inclusive store's shelf price, with tax (price_ex_tax is then worked out).
    price_inc_tax: Decimal | None = None


@dataclass(frozen=True)
class Pricing:
    """An order's lines, tax rows and totals (V2 fields) as BigCommerce works them out."""

    products: list[dict[str, Any]]
    taxes: list[dict[str, Any]]
    fields: dict[str, Any]


TaxRow = Callable[[str, "str | None", Decimal], dict[str, Any]]


def price_lines(
    oid: int,
    lines: list[Line],
    *,
    rate: Decimal,
    tax_inclusive: bool,
    shipping: Decimal,
    handling: Decimal,
    wrapping: Decimal,
    tax_row: TaxRow,
) -> Pricing:
    """``rate`` is the tax rate as a fraction; ``shipping``, ``handling`` and ``wrapping`` are
    as the merchant entered them (with tax where prices include it)."""
    grow = 1 + rate
    products: list[dict[str, Any]] = []
    taxes: list[dict[str, Any]] = []
    ex_parts = inc_parts = subtotal_ex = subtotal_inc = ZERO
    for n, line in enumerate(lines, start=1):
        pid = oid * 100 + n
        if tax_inclusive:
            if line.price_inc_tax is None:
                raise ValueError(f"{line.sku}: a tax-inclusive store's line needs price_inc_tax")
            unit_inc, unit_ex = line.price_inc_tax, line.price_inc_tax / grow
            gross_inc, gross_ex = unit_inc * line.quantity, unit_inc * line.quantity / grow
            net_inc = gross_inc - line.discount
            tax = net_inc - net_inc / grow
            net_ex = net_inc - tax
        else:
            unit_ex, unit_inc = line.price_ex_tax, line.price_ex_tax * grow
            gross_ex, gross_inc = unit_ex * line.quantity, unit_ex * line.quantity * grow
            net_ex = gross_ex - line.discount
            tax = net_ex * rate
            net_inc = net_ex + tax
        ex_parts += net_ex
        inc_parts += net_inc
        subtotal_ex += gross_ex
        subtotal_inc += gross_inc
        products.append({
            "id": pid, "order_id": oid, "product_id": n, "variant_id": n,
            "name": line.name, "sku": line.sku, "quantity": line.quantity,
            "price_ex_tax": m(unit_ex), "price_inc_tax": m(unit_inc),
            "total_ex_tax": m(gross_ex), "total_inc_tax": m(gross_inc),
            "total_tax": m(tax), "parent_order_product_id": None, "is_bundled_product": False,
            "applied_discounts": (
                [{"id": "coupon", "amount": m(line.discount), "name": "Coupon", "code": "SAVE",
                  "target": "product"}] if line.discount else []
            ),
        })  # fmt: skip
        taxes.append(tax_row("item", str(pid), tax))
    fields: dict[str, Any] = {}
    for kind, key, entered in (
        ("shipping", "shipping_cost", shipping),
        ("handling", "handling_cost", handling),
        ("gift-wrapping", "wrapping_cost", wrapping),
    ):
        ex = entered / grow if tax_inclusive else entered
        tax = entered - ex if tax_inclusive else entered * rate
        fields[f"{key}_ex_tax"], fields[f"{key}_inc_tax"] = m(ex), m(ex + tax)
        fields[f"{key}_tax"] = m(tax)
        ex_parts += ex
        inc_parts += ex + tax
        if entered:
            # Gift wrapping is taxed on the product it wraps (the first one, here).
            wrapped = str(products[0]["id"]) if kind == "gift-wrapping" and products else None
            taxes.append(tax_row(kind, wrapped, tax))
    tax_total = c(sum((Decimal(t["line_amount"]) for t in taxes), ZERO))
    # A tax-inclusive order totals what the shopper saw; otherwise the parts plus the tax.
    total_inc = c(inc_parts) if tax_inclusive else c(ex_parts) + tax_total
    fields.update(
        subtotal_ex_tax=m(subtotal_ex),
        subtotal_inc_tax=m(subtotal_inc),
        total_ex_tax=m(total_inc - tax_total if tax_inclusive else ex_parts),
        total_tax=m(tax_total),
        total_inc_tax=m(total_inc),
        is_tax_inclusive_pricing=tax_inclusive,
        coupon_discount=m(sum((line.discount for line in lines), ZERO)),
    )
    return Pricing(products, taxes, fields)


def line_refund(
    order: Mapping[str, Any], quantities: Mapping[int, int], shipping: bool
) -> tuple[list[dict[str, Any]], Decimal, Decimal]:
    """The V3 refund items for ``quantities`` (order product id -> quantity) and, with
    ``shipping``, the whole shipping cost; and the refund's total with tax and its tax, as
    BigCommerce quotes them (each line's net price and tax in proportion)."""
    items: list[dict[str, Any]] = []
    amount = tax = ZERO
    taxes = {t["order_product_id"]: Decimal(t["line_amount"]) for t in order["_taxes"]
             if t["line_item_type"] == "item"}  # fmt: skip
    for product in order["_products"]:
        wanted = quantities.get(product["id"], 0)
        if not wanted:
            continue
        if wanted > product["quantity"]:
            raise ValueError(f"only {product['quantity']} of {product['sku']} were ordered")
        share = Decimal(wanted) / Decimal(product["quantity"])
        discount = sum((Decimal(d["amount"]) for d in product["applied_discounts"]), ZERO)
        line_tax = taxes.get(str(product["id"]), ZERO)
        if order["is_tax_inclusive_pricing"]:
            net_inc = Decimal(product["total_inc_tax"]) - discount
        else:
            net_inc = Decimal(product["total_ex_tax"]) - discount + line_tax
        amount += net_inc * share
        tax += line_tax * share
        items.append({"item_type": "PRODUCT", "item_id": product["id"], "quantity": wanted,
                      "requested_amount": None})  # fmt: skip
    if shipping and order["_shipping_addresses"]:
        address = order["_shipping_addresses"][0]
        cost = Decimal(order["shipping_cost_inc_tax"])
        amount += cost
        tax += Decimal(order["shipping_cost_tax"])
        items.append({"item_type": "SHIPPING", "item_id": address["id"], "quantity": 0,
                      "requested_amount": str(c(cost))})  # fmt: skip
    return items, c(amount), c(tax)

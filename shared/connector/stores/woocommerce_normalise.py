"""WooCommerce order and customer payloads -> the canonical model.

Per-rate taxes on lines (``taxes[].total``) are not rounded by WooCommerce (issues
#30424, #58351) while the order's tax lines are, so rounding each line on its own can
miss the tax line by a cent. The tax lines are what the merchant's reports and the
order total use, so they are authoritative: each rate's line amounts are rounded and
the cents left over are given to the lines whose rounding lost the most (largest
remainder, connector.stores.allocation), which makes every rate's line taxes add up to its
tax line exactly.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from connector.model import (
    ORIGIN_META,
    ZERO,
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
    check_totals,
    quantize,
)
from connector.stores.allocation import settle_per_rate
from connector.stores.woocommerce_payloads import (
    WooAddress,
    WooCustomer,
    WooOrder,
    WooRateAmount,
    WooRefund,
    WooRefundFee,
    WooRefundLine,
    WooRefundShipping,
    WooTimestamps,
)

# One line's share of one rate's tax: (line kind + id, rate id).
Share = tuple[str, str]


def _decode(text: str) -> str:
    """WooCommerce stores names with HTML entities ("Hoodie &ndash; Blue"); books want text."""
    return html.unescape(text).strip()


def _address(raw: WooAddress) -> Address:
    return Address(
        first_name=_decode(raw.first_name),
        last_name=_decode(raw.last_name),
        company=_decode(raw.company),
        line1=_decode(raw.address_1),
        line2=_decode(raw.address_2),
        city=_decode(raw.city),
        region=raw.state.strip(),
        postcode=raw.postcode.strip(),
        country=raw.country.strip(),
        phone=raw.phone.strip(),
    )


def _taxes(kind: str, line_id: int, taxes: Iterable[WooRateAmount]) -> dict[Share, Decimal]:
    return {(f"{kind}:{line_id}", str(t.id)): t.total for t in taxes}


def normalise_order(raw: Mapping[str, Any], connection_id: str) -> Order:
    """Map a REST v3 order to the canonical Order and check that it adds up to the cent."""
    woo = WooOrder.model_validate(raw)
    currency = woo.currency.upper()

    def q(amount: Decimal) -> Decimal:
        return quantize(amount, currency)

    item_targets = {str(t.rate_id): q(t.tax_total) for t in woo.tax_lines}
    shipping_targets = {str(t.rate_id): q(t.shipping_tax_total) for t in woo.tax_lines}

    item_shares: dict[Share, Decimal] = {}
    for item in woo.line_items:
        item_shares |= _taxes("line", item.id, item.taxes)
    for fee in woo.fee_lines:
        item_shares |= _taxes("fee", fee.id, fee.taxes)
    shipping_shares: dict[Share, Decimal] = {}
    for ship in woo.shipping_lines:
        shipping_shares |= _taxes("shipping", ship.id, ship.taxes)
    amounts = settle_per_rate(item_shares, item_targets, currency)
    amounts.update(settle_per_rate(shipping_shares, shipping_targets, currency))

    def taxes_of(kind: str, line_id: int, taxes: Iterable[WooRateAmount]) -> tuple[TaxAmount, ...]:
        return tuple(
            TaxAmount(rate_id=str(t.id), amount=amounts[(f"{kind}:{line_id}", str(t.id))])
            for t in taxes
        )

    lines = tuple(
        OrderLine(
            line_id=str(item.id),
            # The REST API reads the SKU live: a variation without its own SKU already shows
            # its parent's, a deleted product shows null, a product without one shows "".
            sku=(item.sku or "").strip() or None,
            name=_decode(item.name),
            quantity=item.quantity,
            subtotal=q(item.subtotal),
            total=q(item.total),
            taxes=taxes_of("line", item.id, item.taxes),
            categories=_categories(woo, item.product_id),
        )
        for item in woo.line_items
    )
    shipping_lines = tuple(
        ShippingLine(
            line_id=str(ship.id),
            method=_decode(ship.method_title) or ship.method_id,
            total=q(ship.total),
            taxes=taxes_of("shipping", ship.id, ship.taxes),
        )
        for ship in woo.shipping_lines
    )
    fee_lines = tuple(
        FeeLine(
            line_id=str(fee.id),
            name=_decode(fee.name),
            total=q(fee.total),
            taxes=taxes_of("fee", fee.id, fee.taxes),
        )
        for fee in woo.fee_lines
    )
    coupons = tuple(
        Coupon(code=_decode(c.code), discount=q(c.discount), discount_tax=q(c.discount_tax))
        for c in woo.coupon_lines
    )
    tax_lines = tuple(
        TaxLine(
            rate_id=str(t.rate_id),
            code=_decode(t.rate_code),
            label=_decode(t.label),
            percent=t.rate_percent,
            compound=t.compound,
            tax_total=q(t.tax_total),
            shipping_tax_total=q(t.shipping_tax_total),
        )
        for t in woo.tax_lines
    )
    created = woo.date_created_gmt
    if created is None:
        raise ValueError(f"WooCommerce order {woo.id} has no date_created_gmt")
    order = Order(
        connection_id=connection_id,
        store_id=str(woo.id),
        number=woo.number or str(woo.id),
        status=woo.status,
        currency=currency,
        created_at=created,
        modified_at=woo.date_modified_gmt or created,
        customer=_order_customer(woo, connection_id),
        lines=lines,
        shipping_lines=shipping_lines,
        fee_lines=fee_lines,
        coupons=coupons,
        tax_lines=tax_lines,
        prices_include_tax=woo.prices_include_tax,
        discount_total=q(woo.discount_total),
        shipping_total=q(woo.shipping_total),
        total_tax=q(woo.total_tax),
        total=q(woo.total),
        payment=Payment(
            method=woo.payment_method,
            method_title=_decode(woo.payment_method_title),
            paid_at=woo.date_paid_gmt,
            transaction_id=woo.transaction_id,
        ),
        note=woo.customer_note,
        refunded_total=q(sum((abs(r.total) for r in woo.refunds), ZERO)),
        refund_ids=tuple(str(r.id) for r in woo.refunds),
        origin_ledger_id=_origin(woo),
    )
    check_totals(order)
    return order


def _origin(woo: WooOrder) -> str | None:
    """The QuickBooks invoice the connector made the order from (its meta, written with the
    create itself, so the order's own webhook already shows it)."""
    for meta in woo.meta_data:
        if meta.key == ORIGIN_META and meta.value not in (None, ""):
            return str(meta.value)
    return None


def _categories(woo: WooOrder, product_id: int) -> tuple[str, ...]:
    """The product's category names and slugs, when the adapter looked them up."""
    found = (woo.facts.product_categories or {}).get(str(product_id), ())
    names = (text for c in found for text in (_decode(c.name), c.slug.strip()))
    return tuple(dict.fromkeys(text for text in names if text))


def _order_customer(woo: WooOrder, connection_id: str) -> Customer:
    billing = _address(woo.billing)
    shipping = _address(woo.shipping)
    return Customer(
        connection_id=connection_id,
        # customer_id 0 is a guest checkout: no account, matched on the billing email instead.
        store_id=str(woo.customer_id) if woo.customer_id else None,
        email=woo.billing.email.strip(),
        first_name=billing.first_name,
        last_name=billing.last_name,
        company=billing.company,
        phone=billing.phone,
        billing=billing,
        shipping=shipping,
        group=woo.facts.customer_group,
    )


def normalise_customer(raw: Mapping[str, Any], connection_id: str) -> Customer:
    """Map a REST v3 customer to the canonical Customer."""
    woo = WooCustomer.model_validate(raw)
    billing = _address(woo.billing)
    return Customer(
        connection_id=connection_id,
        store_id=str(woo.id),
        email=(woo.email or woo.billing.email).strip(),
        first_name=_decode(woo.first_name) or billing.first_name,
        last_name=_decode(woo.last_name) or billing.last_name,
        company=billing.company,
        phone=billing.phone,
        billing=billing,
        shipping=_address(woo.shipping),
        modified_at=woo.date_modified_gmt or woo.date_created_gmt,
    )


def modified_at(raw: Mapping[str, Any]) -> datetime:
    """When the record last changed, as aware UTC (customers never edited have no date_modified)."""
    stamps = WooTimestamps.model_validate(raw)
    moment = stamps.date_modified_gmt or stamps.date_created_gmt
    if moment is None:
        raise ValueError("WooCommerce record has neither date_modified_gmt nor date_created_gmt")
    return moment


def normalise_refund(raw: Mapping[str, Any], order: Order) -> Refund:
    """A WooCommerce refund of ``order``; WooCommerce's negative line amounts become positive."""
    woo = WooRefund.model_validate(raw)

    def line(
        kind: Literal["item", "shipping", "fee"],
        refunded: WooRefundLine | WooRefundShipping | WooRefundFee,
        name: str,
        quantity: Decimal,
        sku: str | None = None,
    ) -> RefundLine:
        return RefundLine(
            line_id=refunded.refunded_item_id,
            kind=kind,
            sku=sku,
            name=name,
            quantity=quantity,
            total=order.q(abs(refunded.total)),
            taxes=tuple(
                TaxAmount(rate_id=str(t.id), amount=order.q(abs(t.total))) for t in refunded.taxes
            ),
        )

    lines = (
        *(
            line("item", item, _decode(item.name), abs(item.quantity), item.sku or None)
            for item in woo.line_items
        ),
        *(
            line("shipping", ship, _decode(ship.method_title) or "Shipping", Decimal(1))
            for ship in woo.shipping_lines
        ),
        *(line("fee", fee, _decode(fee.name) or "Fee", Decimal(1)) for fee in woo.fee_lines),
    )
    return Refund(
        connection_id=order.connection_id,
        store_id=str(woo.id),
        order_store_id=order.store_id,
        order_number=order.number,
        currency=order.currency,
        created_at=woo.date_created_gmt or order.modified_at,
        amount=order.q(woo.amount),
        reason=_decode(woo.reason),
        lines=lines,
    )

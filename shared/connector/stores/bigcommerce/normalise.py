"""BigCommerce orders, refunds and customers -> the canonical model, to the cent.

BigCommerce keeps money to four decimals and rounds only the order's totals. The order's
``total_inc_tax`` and ``total_tax`` are what the merchant sees and the books must match, so
they are authoritative: every part is rounded to the currency's minor unit and the cents the
rounding gained or lost are moved by largest remainder, within each rate's taxes and then
within the lines, until the parts add up to those totals exactly. A gap wider than rounding
can explain is left alone, and ``check_totals`` names the part that does not add up.

- The currency is the transactional one (``default_currency_code``), in which every amount
  is stated; ``currency_code`` is only what the shopper's screen showed.
- Handling, gift wrapping and the fees list become fee lines; a tax-inclusive store's
  discounts are stated with tax and become tax-exclusive line discounts here.
- Store credit and gift certificates are ways of paying: the total stays the full order
  total, and the note says how much of it they paid.
- ``status`` is the ``status_id`` as text ("11"), so ``post_statuses`` hold the numbers; an
  incomplete order (0) is "incomplete", which no number in a tenant file matches.
"""

from __future__ import annotations

from collections.abc import Mapping
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
from connector.stores.allocation import round_to as allocate
from connector.stores.allocation import split
from connector.stores.bigcommerce.payloads import (
    BcAddress,
    BcCustomer,
    BcCustomerAddress,
    BcOrder,
    BcProduct,
    BcRefund,
    BcTax,
)

INCOMPLETE = "incomplete"
# payment_status values that mean the money was taken.
PAID_STATUSES = frozenset({"captured", "paid", "partially refunded", "refunded"})
REFUNDS_KEY = "refunds"  # the client puts the order's V3 refunds here (when it has any)
_FEE_TAX_RATE = "fees"
_ORDER_LEVEL = "order"  # an ORDER refund item: a custom amount, not a line


def _address(raw: BcAddress) -> Address:
    street_1 = raw.street_1 or getattr(raw, "address1", "")
    street_2 = raw.street_2 or getattr(raw, "address2", "")
    return Address(
        first_name=raw.first_name.strip(),
        last_name=raw.last_name.strip(),
        company=raw.company.strip(),
        line1=street_1.strip(),
        line2=street_2.strip(),
        city=raw.city.strip(),
        region=(raw.state or getattr(raw, "state_or_province", "")).strip(),
        postcode=(raw.zip or getattr(raw, "postal_code", "")).strip(),
        country=(raw.country_iso2 or getattr(raw, "country_code", "") or raw.country).strip(),
        phone=raw.phone.strip(),
    )


def _line_discount(product: BcProduct, tax_inclusive: bool) -> Decimal:
    """The product's discounts without tax (a tax-inclusive store states them with tax)."""
    stated = sum((d.amount for d in product.applied_discounts), ZERO)
    if tax_inclusive and product.total_inc_tax > 0:
        return stated * product.total_ex_tax / product.total_inc_tax
    return stated


def _tax_owner(tax: BcTax) -> str:
    """Which canonical line a tax row belongs to: line:<id>, shipping, handling, wrapping."""
    kind = tax.line_item_type or "item"
    if kind == "item" and tax.order_product_id.strip():
        return f"line:{tax.order_product_id.strip()}"
    if kind == "shipping":
        return "shipping"
    if kind == "handling":
        return "fee:handling"
    if kind == "gift-wrapping":
        return "fee:gift-wrapping"
    return "fee:handling" if kind == "item" else f"fee:{kind}"


def normalise_order(raw: Mapping[str, Any], connection_id: str) -> Order:
    """Map a V2 order with its sub-resources to the canonical Order, checked to the cent."""
    bc = BcOrder.model_validate(raw)
    currency = (bc.default_currency_code or bc.currency_code or "USD").upper()

    def q(amount: Decimal) -> Decimal:
        return quantize(amount, currency)

    total = q(bc.total_inc_tax)
    total_tax = q(bc.total_tax)
    shipping_total = q(bc.shipping_cost_ex_tax)

    # --- taxes: per rate, items and shipping apart, adding up to total_tax ------------------
    shares: dict[tuple[str, str], Decimal] = {}
    rate_info: dict[str, BcTax] = {}
    for tax in bc.taxes:
        rate = str(tax.tax_rate_id)
        rate_info.setdefault(rate, tax)
        key = (_tax_owner(tax), rate)
        shares[key] = shares.get(key, ZERO) + tax.line_amount
    for fee in bc.fees:
        if fee.cost_tax:
            shares[(f"fee:{fee.id}", _FEE_TAX_RATE)] = fee.cost_tax
    groups: dict[tuple[str, bool], list[tuple[str, str]]] = {}
    for key in shares:
        groups.setdefault((key[1], key[0] == "shipping"), []).append(key)
    group_keys = sorted(groups)
    group_totals = allocate(
        [sum((shares[k] for k in groups[g]), ZERO) for g in group_keys], total_tax, currency
    )
    amounts: dict[tuple[str, str], Decimal] = {}
    for group, group_total in zip(group_keys, group_totals, strict=True):
        keys = groups[group]
        amounts.update(
            zip(keys, allocate([shares[k] for k in keys], group_total, currency), strict=True)
        )

    def taxes_of(owner: str) -> tuple[TaxAmount, ...]:
        return tuple(
            TaxAmount(rate_id=rate, amount=amount)
            for (who, rate), amount in amounts.items()
            if who == owner
        )

    tax_lines = []
    for rate in sorted({g[0] for g in group_keys}):
        item_part = sum(
            (a for (who, r), a in amounts.items() if r == rate and who != "shipping"), ZERO
        )
        ship_part = sum(
            (a for (who, r), a in amounts.items() if r == rate and who == "shipping"), ZERO
        )
        info = rate_info.get(rate)
        tax_lines.append(
            TaxLine(
                rate_id=rate,
                code=(info.class_ if info else "") or "",
                label=(info.name if info else "Fee tax") or "Tax",
                percent=info.rate if info else None,
                tax_total=item_part,
                shipping_tax_total=ship_part,
            )
        )

    # --- lines: items and fees add up to the total less tax and shipping -------------------
    products = [p for p in bc.products if p.parent_order_product_id is None]
    discounts = [q(_line_discount(p, bc.is_tax_inclusive_pricing)) for p in products]
    line_exacts = [
        p.total_ex_tax - _line_discount(p, bc.is_tax_inclusive_pricing) for p in products
    ]
    fee_parts: list[tuple[str, str, Decimal]] = []
    if bc.handling_cost_ex_tax:
        fee_parts.append(("handling", "Handling", bc.handling_cost_ex_tax))
    if bc.wrapping_cost_ex_tax:
        fee_parts.append(("gift-wrapping", "Gift wrapping", bc.wrapping_cost_ex_tax))
    for fee in bc.fees:
        name = fee.display_name_merchant or fee.display_name_customer or "Fee"
        fee_parts.append((str(fee.id), name, fee.cost_ex_tax))
    goods = allocate(
        [*line_exacts, *(amount for _, _, amount in fee_parts)],
        total - total_tax - shipping_total,
        currency,
    )
    lines = tuple(
        OrderLine(
            line_id=str(p.id),
            sku=p.sku.strip() or None,
            name=p.name.strip(),
            quantity=p.quantity,
            # the cent rounding moved stays in the price: the discount is the store's own
            subtotal=amount + discount,
            total=amount,
            taxes=taxes_of(f"line:{p.id}"),
        )
        for p, amount, discount in zip(products, goods, discounts, strict=False)
    )
    fee_lines = tuple(
        FeeLine(line_id=fee_id, name=name, total=amount, taxes=taxes_of(f"fee:{fee_id}"))
        for (fee_id, name, _), amount in zip(fee_parts, goods[len(products) :], strict=True)
    )

    # --- shipping: one line per shipping address, adding up to the order's shipping ---------
    addresses = list(bc.shipping_addresses)
    if addresses:
        costs = allocate([a.cost_ex_tax for a in addresses], shipping_total, currency)
        ship_taxes = taxes_of("shipping")
        tax_parts = {
            t.rate_id: split(t.amount, costs, currency) for t in ship_taxes
        }  # several addresses share the order's shipping tax by cost
        shipping_lines = tuple(
            ShippingLine(
                line_id=str(a.id),
                method=a.shipping_method.strip() or "Shipping",
                total=cost,
                taxes=tuple(
                    TaxAmount(rate_id=rate, amount=parts[n]) for rate, parts in tax_parts.items()
                ),
            )
            for n, (a, cost) in enumerate(zip(addresses, costs, strict=True))
        )
    elif shipping_total or taxes_of("shipping"):
        shipping_lines = (
            ShippingLine(line_id="shipping", method="Shipping", total=shipping_total,
                         taxes=taxes_of("shipping")),
        )  # fmt: skip
    else:
        shipping_lines = ()

    created = bc.date_created
    if created is None:
        raise ValueError(f"BigCommerce order {bc.id} has no date_created")
    modified = bc.date_modified or created
    refunds = [r for r in raw.get(REFUNDS_KEY) or [] if isinstance(r, Mapping)]
    order = Order(
        connection_id=connection_id,
        store_id=str(bc.id),
        number=str(bc.id),
        status=INCOMPLETE if bc.status_id == 0 else str(bc.status_id),
        currency=currency,
        created_at=created,
        modified_at=modified,
        customer=_order_customer(bc, connection_id),
        lines=lines,
        shipping_lines=shipping_lines,
        fee_lines=fee_lines,
        coupons=tuple(Coupon(code=c.code.strip(), discount=q(c.discount)) for c in bc.coupons),
        tax_lines=tuple(tax_lines),
        prices_include_tax=bc.is_tax_inclusive_pricing,
        discount_total=sum((line.discount for line in lines), ZERO),
        shipping_total=shipping_total,
        total_tax=total_tax,
        total=total,
        payment=_payment(bc, total, modified),
        note=_note(bc, currency),
        exchange_rate=_exchange_rate(bc, currency),
        rate_currency=(
            bc.store_default_currency_code.strip().upper() if _exchange_rate(bc, currency) else None
        ),
        refunded_total=q(bc.refunded_amount),
        refund_ids=tuple(str(r.get("id")) for r in refunds if r.get("id") is not None),
        origin_ledger_id=_origin(bc),
    )
    check_totals(order)
    return order


def _origin(bc: BcOrder) -> str | None:
    """The QuickBooks invoice the connector made the order from: V2 orders have no metadata,
    so the write adapter puts ``_qbo_invoice_id: <Id>`` on a line of the staff notes with the
    create itself (connector.stores.bigcommerce.writes)."""
    lead = f"{ORIGIN_META}: "
    for line in bc.staff_notes.splitlines():
        if line.startswith(lead) and line[len(lead) :].strip():
            return line[len(lead) :].strip()
    return None


def _payment(bc: BcOrder, total: Decimal, modified: datetime) -> Payment:
    # BigCommerce has no "paid at": a captured payment, or an order that store credit and gift
    # certificates paid in full, was paid when the order last changed.
    by_credit = bc.store_credit_amount + bc.gift_certificate_amount
    paid = bc.payment_status.strip().lower() in PAID_STATUSES or (total > 0 and by_credit >= total)
    return Payment(
        method=bc.payment_provider_id or bc.payment_method,
        method_title=bc.payment_method,
        paid_at=modified if paid else None,
    )


def _note(bc: BcOrder, currency: str) -> str:
    """The shopper's message, and how much store credit and gift certificates paid."""
    parts = [bc.customer_message.strip()] if bc.customer_message.strip() else []
    if bc.store_credit_amount:
        parts.append(f"Store credit paid {quantize(bc.store_credit_amount, currency)} {currency}.")
    if bc.gift_certificate_amount:
        amount = quantize(bc.gift_certificate_amount, currency)
        parts.append(f"Gift certificates paid {amount} {currency}.")
    return " ".join(parts)


def _exchange_rate(bc: BcOrder, currency: str) -> Decimal | None:
    """Store-default units per transactional unit, when the two differ (the ledgers use it
    where the store's default currency is the books' home currency)."""
    home = bc.store_default_currency_code.strip().upper()
    rate = bc.store_default_to_transactional_exchange_rate
    if not home or home == currency or rate <= 0:
        return None
    return (Decimal(1) / rate).quantize(Decimal("1e-10"))


def _order_customer(bc: BcOrder, connection_id: str) -> Customer:
    billing = _address(bc.billing_address)
    shipping = _address(bc.shipping_addresses[0]) if bc.shipping_addresses else Address()
    return Customer(
        connection_id=connection_id,
        # customer_id 0 is a guest checkout: matched on the billing email instead.
        store_id=str(bc.customer_id) if bc.customer_id else None,
        email=bc.billing_address.email.strip(),
        first_name=billing.first_name,
        last_name=billing.last_name,
        company=billing.company,
        phone=billing.phone,
        billing=billing,
        shipping=shipping,
    )


def normalise_customer(raw: Mapping[str, Any], connection_id: str) -> Customer:
    """Map a V3 customer (with ``include=addresses``) to the canonical Customer."""
    bc = BcCustomer.model_validate(raw)
    first: BcCustomerAddress | None = bc.addresses[0] if bc.addresses else None
    address = _address(first) if first is not None else Address()
    return Customer(
        connection_id=connection_id,
        store_id=str(bc.id),
        email=bc.email.strip(),
        first_name=bc.first_name.strip(),
        last_name=bc.last_name.strip(),
        company=bc.company.strip(),
        phone=bc.phone.strip(),
        billing=address,
        shipping=address,
        modified_at=bc.date_modified or bc.date_created,
        group=str(bc.customer_group_id) if bc.customer_group_id else None,
    )


def modified_at(raw: Mapping[str, Any]) -> datetime:
    """When a V2 order or V3 customer last changed, as aware UTC."""
    found = BcCustomer.model_validate({"id": raw.get("id") or 0, **_dates(raw)})
    moment = found.date_modified or found.date_created
    if moment is None:
        raise ValueError("BigCommerce record has neither date_modified nor date_created")
    return moment


def _dates(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {k: raw.get(k) for k in ("date_modified", "date_created")}


def _without_tax(requested: Decimal, total: Decimal, taxes: tuple[TaxAmount, ...]) -> Decimal:
    """A refund item's requested amount (what the shopper gets back, tax included) without
    the tax, at its line's rate: the lines share the refund's net amount by these."""
    with_tax = total + sum((t.amount for t in taxes), ZERO)
    return requested * total / with_tax if requested and with_tax else requested


def normalise_refund(raw: Mapping[str, Any], order: Order) -> Refund:
    """A V3 refund of ``order``: lines without tax and their taxes add up to its amount.

    Items refunded by quantity take the line's price; amounts are stated with tax (what the
    shopper gets back) and weigh in without it. The ex-tax lines then share the refund's
    ``total_amount - total_tax``, and the tax shares the rates of the lines it came from. An ``ORDER`` item is a tax-exempt custom amount tied to
    no line: it is not a refund line, and the document gives it back on the refund item.
    """
    bc = BcRefund.model_validate(raw)
    currency = order.currency
    by_line = {line.line_id: line for line in order.lines}
    by_ship = {s.line_id: s for s in order.shipping_lines}
    by_fee = {f.line_id: f for f in order.fee_lines}
    parts: list[tuple[Literal["item", "shipping", "fee"], str, str, str | None, Decimal, Decimal,
                      tuple[TaxAmount, ...]]] = []  # fmt: skip
    for item in bc.items:
        kind = item.item_type.upper()
        if kind == "PRODUCT" and str(item.item_id) in by_line:
            line = by_line[str(item.item_id)]
            quantity = item.quantity or line.quantity
            exact = _without_tax(item.requested_amount, line.total, line.taxes) or (
                line.total * quantity / line.quantity if line.quantity else line.total
            )
            parts.append(("item", line.line_id, line.name, line.sku, quantity, exact, line.taxes))
        elif kind == "SHIPPING":
            ship = by_ship.get(str(item.item_id)) or next(iter(by_ship.values()), None)
            exact = (
                _without_tax(item.requested_amount, ship.total, ship.taxes)
                if ship
                else item.requested_amount
            ) or (ship.total if ship else ZERO)
            parts.append(("shipping", ship.line_id if ship else "shipping",
                          ship.method if ship else "Shipping", None, Decimal(1), exact,
                          ship.taxes if ship else ()))  # fmt: skip
        else:
            fee_id = {"HANDLING": "handling", "GIFT_WRAPPING": "gift-wrapping"}.get(
                kind, str(item.item_id) if kind == "FEE" else _ORDER_LEVEL
            )
            fee = by_fee.get(fee_id)
            name = fee.name if fee else ("Refund" if kind == "ORDER" else kind.title())
            taxes = fee.taxes if fee and kind != "ORDER" else ()
            exact = (
                _without_tax(item.requested_amount, fee.total, taxes)
                if fee
                else item.requested_amount
            ) or (fee.total if fee else ZERO)
            parts.append(("fee", fee_id, name, None, Decimal(1), exact, taxes))
    amount = quantize(bc.total_amount, currency)
    tax = quantize(bc.total_tax, currency)
    net = split(amount - tax, [p[5] for p in parts], currency) if parts else []
    # the tax goes to the (line, rate) pairs that carried tax, by their share of the order tax
    weights: list[tuple[int, str, Decimal]] = []
    for n, part in enumerate(parts):
        line_tax = sum((t.amount for t in part[6]), ZERO)
        for t in part[6]:
            if line_tax and net[n]:
                weights.append((n, t.rate_id, net[n] * t.amount / line_tax))
    tax_parts = split(tax, [w[2] for w in weights], currency) if weights else []
    refund_taxes: dict[int, list[TaxAmount]] = {}
    for (n, rate, _), share in zip(weights, tax_parts, strict=True):
        refund_taxes.setdefault(n, []).append(TaxAmount(rate_id=rate, amount=share))
    # An ORDER item is money not tied to a line: it is left out of the lines, so the document
    # gives it back as the refund's rest (on mapping.refund_item).
    lines = tuple(
        RefundLine(line_id=line_id, kind=kind, sku=sku, name=name, quantity=quantity,
                   total=net[n], taxes=tuple(refund_taxes.get(n, ())))
        for n, (kind, line_id, name, sku, quantity, _, _) in enumerate(parts)
        if not (kind == "fee" and line_id == _ORDER_LEVEL)
    )  # fmt: skip
    return Refund(
        connection_id=order.connection_id,
        store_id=str(bc.id),
        order_store_id=order.store_id,
        order_number=order.number,
        currency=currency,
        created_at=bc.created or order.modified_at,
        amount=amount,
        reason=bc.reason.strip(),
        lines=lines,
    )

"""Magento 2 orders, credit memos and customers -> the canonical model.

Rows: a configurable or bundle product arrives as a parent row and child rows. The sold
unit is the parent (it carries the price, and for a configurable the child's SKU); children
may repeat the price (bundles) or carry 0 (configurables), so only rows without
``parent_item_id`` become order lines. A bundle priced by its children (parent 0) takes its
children's figures. Each line's amount after discount is ``row_total - discount_amount +
discount_tax_compensation_amount`` (the hidden tax of a tax-inclusive discount), so lines,
shipping and tax add up to ``grand_total`` to the cent.

Currency: the document is in the order currency (``x`` fields, not ``base_x``).
``base_to_order_rate`` is order-currency units per base unit; QuickBooks wants home units
per order unit, so the exchange rate is its inverse, into the base currency
(``rate_currency``). The ledgers use it only where the base currency is the books' home
currency; otherwise QuickBooks' own rate for the day applies.

Tax: one canonical tax line per applied rate (``extension_attributes.applied_taxes``), or
a single "Tax" line when Magento lists none. Shipping tax and each line's tax are shared
among the rates in proportion and reconciled so each rate adds up exactly (largest
remainder).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from connector.model import (
    ZERO,
    Address,
    Coupon,
    Customer,
    Order,
    OrderLine,
    Payment,
    Refund,
    RefundLine,
    ShippingLine,
    TaxAmount,
    TaxLine,
    TotalsMismatch,
    check_totals,
    quantize,
)
from connector.stores.allocation import settle_per_rate
from connector.stores.allocation import split as allocate
from connector.stores.magento.payloads import (
    MageAddress,
    MageCreditMemo,
    MageCustomer,
    MageItem,
    MageOrder,
    parse_time,
)

# Facts a REST order lacks ride in the payload under this key (Magento's keys never start
# with "_"): when it was invoiced, its credit memos, and what revenue rules asked for (the
# buyer's group code, the products' categories; connector.stores.magento.lookups).
FACTS_KEY = "_connector"
SHIPPING_LINE_ID = "shipping"
GUEST_GROUP = "guest"
SYNTHETIC_RATE = "tax"
_RATE_PLACES = Decimal("1e-10")


def _address(raw: MageAddress | None) -> Address:
    if raw is None:
        return Address()
    street = [s.strip() for s in raw.street if s.strip()]
    return Address(
        first_name=raw.firstname.strip(),
        last_name=raw.lastname.strip(),
        company=raw.company.strip(),
        line1=street[0] if street else "",
        line2=", ".join(street[1:]),
        city=raw.city.strip(),
        region=(raw.region_code or raw.region).strip(),
        postcode=raw.postcode.strip(),
        country=raw.country_id.strip(),
        phone=raw.telephone.strip(),
    )


def sold_rows(items: Sequence[MageItem]) -> list[tuple[MageItem, list[MageItem]]]:
    """Each row a customer bought (no parent), with its child rows."""
    children: dict[int, list[MageItem]] = {}
    for item in items:
        if item.parent_item_id is not None:
            children.setdefault(item.parent_item_id, []).append(item)
    return [(item, children.get(item.item_id, [])) for item in items if item.parent_item_id is None]


def _figure(parent: MageItem, children: Sequence[MageItem], field: str) -> Decimal:
    """The parent's amount, or its children's when the parent carries none (dynamic bundles)."""
    own: Decimal = getattr(parent, field)
    if own != 0 or not children:
        return own
    return sum((getattr(child, field) for child in children), ZERO)


def _rates(mage: MageOrder) -> list[tuple[str, str, Decimal | None, Decimal]]:
    """(rate id, label, percent, amount) per applied rate."""
    applied = [t for t in mage.extension_attributes.applied_taxes if t.amount != 0 or t.code]
    if applied:
        return [(t.code or t.title, t.title or t.code, t.percent, t.amount) for t in applied]
    if mage.tax_amount == 0:
        return []
    percents = {i.tax_percent for i in mage.items if i.tax_amount != 0 and i.tax_percent}
    percent = percents.pop() if len(percents) == 1 else None
    return [(SYNTHETIC_RATE, "Tax", percent, mage.tax_amount)]


def _shares(
    amount: Decimal, rate_ids: Sequence[str], weights: Sequence[Decimal], currency: str
) -> tuple[TaxAmount, ...]:
    if amount == 0 or not rate_ids:
        return ()
    parts = allocate(amount, weights, currency)
    return tuple(TaxAmount(rate_id=r, amount=a) for r, a in zip(rate_ids, parts, strict=True))


def _reconciled(
    per_line: list[tuple[TaxAmount, ...]], targets: Mapping[str, Decimal], currency: str
) -> list[tuple[TaxAmount, ...]]:
    """Move cents between lines so each rate's line taxes add up to its target."""
    shares = {(n, t.rate_id): t.amount for n, taxes in enumerate(per_line) for t in taxes}
    settled = settle_per_rate(shares, targets, currency)
    return [
        tuple(TaxAmount(rate_id=t.rate_id, amount=settled[(n, t.rate_id)]) for t in taxes)
        for n, taxes in enumerate(per_line)
    ]


def normalise_order(raw: Mapping[str, Any], connection_id: str) -> Order:
    """Map a REST order (``GET /V1/orders/{entity_id}``) to the canonical Order and check that
    its parts add up to ``grand_total`` to the cent."""
    mage = MageOrder.model_validate(raw)
    facts: Mapping[str, Any] = raw.get(FACTS_KEY) or {}
    currency = mage.order_currency_code.upper()

    def q(amount: Decimal) -> Decimal:
        return quantize(amount, currency)

    rates = _rates(mage)
    rate_ids = [r[0] for r in rates]
    rate_amounts = [q(r[3]) for r in rates]
    shipping_tax_parts = allocate(q(mage.shipping_tax_amount), rate_amounts, currency)
    item_targets = {
        r: amount - ship
        for r, amount, ship in zip(rate_ids, rate_amounts, shipping_tax_parts, strict=True)
    }

    rows = sold_rows(mage.items)
    line_taxes = [
        _shares(
            q(_figure(p, c, "tax_amount")),
            rate_ids,
            [item_targets[r] for r in rate_ids],
            currency,
        )
        for p, c in rows
    ]
    line_taxes = _reconciled(line_taxes, item_targets, currency)
    lines = tuple(
        OrderLine(
            line_id=str(parent.item_id),
            # A configurable parent carries its child's SKU, which is the product sold.
            sku=parent.sku.strip() or None,
            name=parent.name.strip(),
            quantity=parent.qty_ordered,
            subtotal=q(_figure(parent, children, "row_total")),
            total=q(
                _figure(parent, children, "row_total")
                - _figure(parent, children, "discount_amount")
                + _figure(parent, children, "discount_tax_compensation_amount")
            ),
            taxes=taxes,
            categories=_categories(facts, parent),
        )
        for (parent, children), taxes in zip(rows, line_taxes, strict=True)
    )

    shipping_total = q(
        mage.shipping_amount
        - mage.shipping_discount_amount
        + mage.shipping_discount_tax_compensation_amount
    )
    shipping_lines: tuple[ShippingLine, ...] = ()
    if shipping_total != 0 or mage.shipping_tax_amount != 0 or mage.shipping_description:
        shipping_lines = (
            ShippingLine(
                line_id=SHIPPING_LINE_ID,
                method=mage.shipping_description.strip() or _shipping_method(mage) or "Shipping",
                total=shipping_total,
                taxes=tuple(
                    TaxAmount(rate_id=r, amount=a)
                    for r, a in zip(rate_ids, shipping_tax_parts, strict=True)
                    if a != 0
                ),
            ),
        )
    items_discount = (
        abs(mage.discount_amount)
        - mage.shipping_discount_amount
        - (mage.discount_tax_compensation_amount - mage.shipping_discount_tax_compensation_amount)
    )
    coupons: tuple[Coupon, ...] = ()
    if mage.coupon_code.strip():
        coupons = (Coupon(code=mage.coupon_code.strip(), discount=q(abs(mage.discount_amount))),)
    tax_lines = tuple(
        TaxLine(
            rate_id=rate_id,
            code=rate_id,
            label=label,
            percent=percent,
            tax_total=item_targets[rate_id],
            shipping_tax_total=ship,
        )
        for (rate_id, label, percent, _), ship in zip(rates, shipping_tax_parts, strict=True)
    )
    created = mage.created_at
    if created is None:
        raise ValueError(f"Magento order {mage.entity_id} has no created_at")
    order = Order(
        connection_id=connection_id,
        store_id=str(mage.entity_id),
        number=mage.increment_id.strip() or str(mage.entity_id),
        status=mage.status,
        currency=currency,
        created_at=created,
        modified_at=mage.updated_at or created,
        customer=_order_customer(mage, facts, connection_id),
        lines=lines,
        shipping_lines=shipping_lines,
        coupons=coupons,
        tax_lines=tax_lines,
        discount_total=q(items_discount),
        shipping_total=shipping_total,
        total_tax=q(mage.tax_amount),
        total=q(mage.grand_total),
        payment=_payment(mage, raw),
        note=mage.customer_note,
        exchange_rate=_exchange_rate(mage),
        rate_currency=mage.base_currency_code.upper() if _exchange_rate(mage) else None,
        refunded_total=q(mage.total_refunded),
        refund_ids=credit_memo_ids(raw),
        origin_ledger_id=origin_ledger_id(mage.ext_order_id),
    )
    check_totals(order)
    return order


# An order the connector made from a QuickBooks invoice carries ``qbo-invoice-<Id>`` as its
# external order id, set with the create itself (connector.stores.magento.writes): the prefix
# keeps another channel's external ids (a marketplace importer's) from reading as invoices.
ORIGIN_PREFIX = "qbo-invoice-"


def origin_ledger_id(ext_order_id: str) -> str | None:
    """The QuickBooks invoice the connector made the order from, read from its marker."""
    text = ext_order_id.strip()
    if text.startswith(ORIGIN_PREFIX) and text[len(ORIGIN_PREFIX) :].strip():
        return text[len(ORIGIN_PREFIX) :].strip()
    return None


def credit_memos(raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The order's credit memos, as the client listed them beside the order."""
    found = (raw.get(FACTS_KEY) or {}).get("credit_memos") or []
    return [memo for memo in found if isinstance(memo, dict)]


def credit_memo_ids(raw: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(memo.get("entity_id")) for memo in credit_memos(raw))


def _shipping_method(mage: MageOrder) -> str:
    for assignment in mage.extension_attributes.shipping_assignments:
        if assignment.shipping.method:
            return assignment.shipping.method
    return ""


def _exchange_rate(mage: MageOrder) -> Decimal | None:
    """Base-currency units per order-currency unit: the inverse of ``base_to_order_rate``."""
    base = mage.base_currency_code.upper()
    if not base or base == mage.order_currency_code.upper():
        return None
    rate = mage.base_to_order_rate
    if rate is None or rate <= 0:
        return None
    return (Decimal(1) / rate).quantize(_RATE_PLACES).normalize()


def _payment(mage: MageOrder, raw: Mapping[str, Any]) -> Payment:
    """Paid means Magento invoiced the whole order (``total_paid`` covers ``grand_total``)."""
    facts = raw.get(FACTS_KEY) or {}
    paid_at: datetime | None = None
    if mage.grand_total > 0 and mage.total_paid >= mage.grand_total:
        paid_at = parse_time(facts.get("invoiced_at")) or mage.updated_at or mage.created_at
    title = mage.payment.additional_information[0] if mage.payment.additional_information else ""
    return Payment(
        method=mage.payment.method,
        method_title=title.strip(),
        paid_at=paid_at,
        transaction_id=mage.payment.last_trans_id,
    )


def _order_customer(mage: MageOrder, facts: Mapping[str, Any], connection_id: str) -> Customer:
    billing = _address(mage.billing_address)
    shipping = billing
    for assignment in mage.extension_attributes.shipping_assignments:
        if assignment.shipping.address is not None:
            shipping = _address(assignment.shipping.address)
            break
    guest = mage.customer_is_guest or not mage.customer_id
    return Customer(
        connection_id=connection_id,
        # A guest has no account: matched on the email instead.
        store_id=None if guest else str(mage.customer_id),
        email=(mage.customer_email or mage.billing_address.email).strip(),
        first_name=mage.customer_firstname.strip() or billing.first_name,
        last_name=mage.customer_lastname.strip() or billing.last_name,
        company=billing.company,
        phone=billing.phone,
        billing=billing,
        shipping=shipping,
        # The group's code when the rules asked for it (customer_group_id is only a number).
        group=GUEST_GROUP if guest else facts.get("customer_group"),
    )


def _group(group_id: int | None) -> str | None:
    return None if group_id is None else str(group_id)


def _categories(facts: Mapping[str, Any], item: MageItem) -> tuple[str, ...]:
    """A sold row's category names and url keys, when the rules asked for them."""
    found = (facts.get("product_categories") or {}).get(str(item.product_id)) or []
    texts = (
        str(category.get(part) or "").strip()
        for category in found
        if isinstance(category, Mapping)
        for part in ("name", "url_key")
    )
    return tuple(dict.fromkeys(text for text in texts if text))


def normalise_customer(raw: Mapping[str, Any], connection_id: str) -> Customer:
    """Map a REST customer (``GET /V1/customers/{id}``) to the canonical Customer."""
    mage = MageCustomer.model_validate(raw)
    addresses = {str(a.get("id")): MageAddress.model_validate(a) for a in mage.addresses}
    billing = _address(addresses.get(mage.default_billing))
    shipping = _address(addresses.get(mage.default_shipping)) if mage.default_shipping else billing
    return Customer(
        connection_id=connection_id,
        store_id=str(mage.id),
        email=mage.email.strip(),
        first_name=mage.firstname.strip() or billing.first_name,
        last_name=mage.lastname.strip() or billing.last_name,
        company=billing.company,
        phone=billing.phone,
        billing=billing,
        shipping=shipping,
        modified_at=mage.updated_at or mage.created_at,
        group=_group(mage.group_id),
    )


def modified_at(raw: Mapping[str, Any]) -> datetime:
    """When the record last changed (``updated_at``, else ``created_at``), as aware UTC."""
    moment = parse_time(raw.get("updated_at")) or parse_time(raw.get("created_at"))
    if moment is None:
        raise ValueError("Magento record has neither updated_at nor created_at")
    return moment


def normalise_refund(raw: Mapping[str, Any], order: Order, parents: Mapping[int, int]) -> Refund:
    """A credit memo of ``order``. ``parents`` maps a child order row to its parent row, so a
    refunded configurable or bundle counts once, on the line it was sold on. Adjustments are
    not tied to a line: ``adjustment_positive`` is what the refund gives beyond its lines and
    ``adjustment_negative`` the fee Magento kept back (the refund's ``fee``); the ledgers post
    both on the connection's refund item, the fee as a negative line."""
    memo = MageCreditMemo.model_validate(raw)
    q = order.q
    sold = {line.line_id: line for line in order.lines}
    # Per sold line: the parent row's own figures and its children's, kept apart because a
    # bundle's children repeat the price the parent carries (summing both counts it twice).
    own: dict[str, dict[str, Decimal]] = {}
    kids: dict[str, dict[str, Decimal]] = {}
    for item in memo.items:
        line_id = str(parents.get(item.order_item_id, item.order_item_id))
        if line_id not in sold:
            continue
        is_parent = str(item.order_item_id) == line_id
        part = (own if is_parent else kids).setdefault(line_id, {"net": ZERO, "tax": ZERO})
        part["net"] += item.row_total - item.discount_amount + item.discount_tax_compensation_amount
        part["tax"] += item.tax_amount
    quantities = {
        str(item.order_item_id): item.qty
        for item in memo.items
        if str(parents.get(item.order_item_id, item.order_item_id)) == str(item.order_item_id)
    }
    sums: dict[str, dict[str, Decimal]] = {}
    for line_id in dict.fromkeys([*own, *kids]):
        mine = own.get(line_id, {"net": ZERO, "tax": ZERO})
        # As on the order: the parent's amount, or its children's when it carries none.
        chosen = mine if mine["net"] != 0 or mine["tax"] != 0 else kids.get(line_id, mine)
        sums[line_id] = {"qty": quantities.get(line_id, ZERO), **chosen}

    item_rates = [t.rate_id for t in order.tax_lines]
    item_weights = [t.tax_total for t in order.tax_lines]
    lines: list[RefundLine] = []
    for line_id, part in sums.items():
        if part["qty"] == 0 and part["net"] == 0 and part["tax"] == 0:
            continue
        line = sold[line_id]
        lines.append(
            RefundLine(
                line_id=line_id,
                kind="item",
                sku=line.sku,
                name=line.name,
                quantity=part["qty"],
                total=q(part["net"]),
                taxes=_shares(q(part["tax"]), item_rates, item_weights, order.currency),
            )
        )
    if memo.shipping_amount != 0 or memo.shipping_tax_amount != 0:
        shipping = order.shipping_lines[0] if order.shipping_lines else None
        lines.append(
            RefundLine(
                line_id=SHIPPING_LINE_ID,
                kind="shipping",
                sku=None,
                name=shipping.method if shipping else "Shipping",
                quantity=Decimal(1),
                total=q(memo.shipping_amount),
                taxes=_shares(
                    q(memo.shipping_tax_amount),
                    item_rates,
                    [t.shipping_tax_total for t in order.tax_lines],
                    order.currency,
                ),
            )
        )
    in_lines = sum((line.total + sum((t.amount for t in line.taxes), ZERO) for line in lines), ZERO)
    expected = q(in_lines + memo.adjustment_positive - memo.adjustment_negative)
    if expected != q(memo.grand_total):
        raise TotalsMismatch(
            f"credit memo {memo.increment_id or memo.entity_id} of order {order.number}: lines and "
            f"their tax {q(in_lines)} + adjustment refund {q(memo.adjustment_positive)} - "
            f"adjustment fee {q(memo.adjustment_negative)} = {expected}, not its grand total "
            f"{q(memo.grand_total)}"
        )
    return Refund(
        connection_id=order.connection_id,
        store_id=str(memo.entity_id),
        order_store_id=order.store_id,
        order_number=order.number,
        currency=order.currency,
        created_at=memo.created_at or order.modified_at,
        amount=q(memo.grand_total),
        reason=memo.customer_note.strip(),
        lines=tuple(lines),
        fee=q(memo.adjustment_negative),
    )

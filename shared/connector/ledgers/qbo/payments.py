"""QuickBooks Online bodies for money that moves after a sale (pure: no I/O).

- A paid invoice gets a Payment linked to it, deposited to the account the
  store's payment method maps to (Undeposited Funds by default).
- A refund of money the store took is a RefundReceipt paid out of that same
  account; a refund of an invoice nobody paid is a CreditMemo, applied to the
  invoice by a zero Payment that links both.

Every refund document totals the refunded amount to the cent: refunded items,
shipping and fees at their refunded amounts, their tax, whatever the store
refunded beyond them (an amount-only refund) on the refund item, and a fee the
store kept back (Magento's adjustment fee) as a negative line on that item. Outside the US
the refunded tax goes per QuickBooks rate as TaxLine overrides, as for sales.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from connector.config import Connection
from connector.errors import PermanentError
from connector.ledgers.qbo.documents import (
    PAYMENT_REF_MAX,
    PRIVATE_NOTE_MAX,
    LineBuilder,
    ResolvedRefs,
    document_total,
)
from connector.mapping import item_name_for_line, note_text, txn_date
from connector.model import ZERO, Order, Refund, RefundLine, quantize
from connector.revenue_rules import LineItem, LineRule, OrderRules, account_item_name, decide

RefundEntity = Literal["RefundReceipt", "CreditMemo"]


class MoneyRefs(BaseModel):
    """Where a payment or refund's money is: the QuickBooks ids resolved for its method."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: str
    deposit_account_id: str
    payment_method_id: str | None = None


def order_tag(order: Order, connection: Connection) -> str:
    """The order as a bookkeeper finds it in the store; the same words as the document's note."""
    store = connection.store.display_name
    return f"{store} order #{order.number} (id {order.store_id})"


def refund_tag(refund: Refund, connection: Connection) -> str:
    """Names the store refund in its document's PrivateNote (adoption checks for it)."""
    store = connection.store.display_name
    return (
        f"{store} refund {refund.store_id} of order #{refund.order_number} "
        f"(id {refund.order_store_id})"
    )


def build_payment(
    order: Order,
    connection: Connection,
    refs: MoneyRefs,
    *,
    invoice_id: str,
    applied: Decimal,
    timezone: str | None = None,
) -> dict[str, Any]:
    """The Payment of an order's invoice, ``applied`` to it: the order total, or what refunds
    credited to the invoice left open."""
    payment = order.payment
    total = order.q(applied)
    paid_on = payment.paid_at.date() if payment.paid_at else txn_date(order, timezone)
    notes = [f"Payment of {order_tag(order, connection)}"]
    if payment.method_title or payment.method:
        notes.append(f"Paid by {payment.method_title or payment.method}")
    transaction_id = payment.transaction_id.strip()
    if len(transaction_id) > PAYMENT_REF_MAX:
        # PaymentRefNum holds 21 characters; the bookkeeper still needs the whole id.
        notes.append(f"Payment transaction {transaction_id}")
    body: dict[str, Any] = {
        "CustomerRef": {"value": refs.customer_id},
        "TotalAmt": total,
        "TxnDate": paid_on.isoformat(),
        "CurrencyRef": {"value": order.currency},
        "DepositToAccountRef": {"value": refs.deposit_account_id},
        "PrivateNote": note_text("\n".join(notes), PRIVATE_NOTE_MAX),
        "Line": [{"Amount": applied, "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}],
    }
    if refs.payment_method_id:
        body["PaymentMethodRef"] = {"value": refs.payment_method_id}
    if transaction_id:
        body["PaymentRefNum"] = transaction_id[:PAYMENT_REF_MAX]
    return body


def build_credit_application(
    customer_id: str, currency: str, invoice_id: str, credit_memo_id: str, amount: Decimal
) -> dict[str, Any]:
    """A zero Payment that applies a credit memo to an invoice (QuickBooks' way of linking them)."""
    return {
        "CustomerRef": {"value": customer_id},
        "TotalAmt": Decimal("0.00"),
        "CurrencyRef": {"value": currency},
        "Line": [
            {"Amount": amount, "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]},
            {"Amount": amount, "LinkedTxn": [{"TxnId": credit_memo_id, "TxnType": "CreditMemo"}]},
        ],
    }


def refund_item_name(connection: Connection) -> str | None:
    """The item for refunded money not tied to a line: refund_item, else the fallback item."""
    rules = connection.mapping
    return rules.refund_item or rules.fallback_item


def _refunded_line_item(
    line: RefundLine, order: Order, connection: Connection, decided: OrderRules
) -> LineItem | None:
    """The item a refunded line goes back through: the one its order line was sold on."""
    rules = connection.mapping
    if line.kind == "shipping":
        return LineItem(rules.shipping_item)
    if line.kind == "fee":
        return LineItem(rules.fee_item)
    sold = next((o for o in order.lines if o.line_id == line.line_id), None)
    rule = decided.line(line.line_id) if sold is not None else LineRule()
    base = rule.item or item_name_for_line(line.sku or (sold.sku if sold else None), rules)
    if base is None:
        return None
    if rule.income_account:
        return LineItem(account_item_name(base, rule.income_account), rule.income_account)
    return LineItem(base)


def refund_items(refund: Refund, order: Order, connection: Connection) -> dict[str, str | None]:
    """QuickBooks item names a refund's document needs (before ids are resolved), each with
    the income account of a revenue rule's account item (None: an ordinary item)."""
    decided = decide(order, connection.mapping)
    items: dict[str, str | None] = {}
    for line in refund.lines:
        item = _refunded_line_item(line, order, connection, decided)
        if item is not None:
            items[item.name] = item.income_account
    beyond = refund_beyond_lines(refund)
    if beyond != 0 or refund.fee or not refund.lines:
        name = refund_item_name(connection)
        if name is None:
            if beyond or not refund.fee:
                money = f"gives back {beyond or refund.amount} {refund.currency}"
            else:
                money = f"keeps back a fee of {refund.fee} {refund.currency}"
            raise PermanentError(
                f"refund {refund.store_id} of order {refund.order_number} {money} not tied to "
                "a refunded line, and neither mapping.refund_item nor mapping.fallback_item is "
                "set: set one in the tenant file, then replay"
            )
        items.setdefault(name, None)
    return items


def refund_item_names(refund: Refund, order: Order, connection: Connection) -> set[str]:
    """QuickBooks item names a refund's document needs (before ids are resolved)."""
    return set(refund_items(refund, order, connection))


def refund_rest(refund: Refund) -> Decimal:
    """The refund's amount less its lines and their tax (all of it, amount-only): what the
    store gave back beyond the lines, less the fee it kept."""
    lines = sum(
        (line.total + sum((t.amount for t in line.taxes), ZERO) for line in refund.lines), ZERO
    )
    return quantize(refund.amount - lines, refund.currency)


def refund_beyond_lines(refund: Refund) -> Decimal:
    """What the store gave back beyond the lines and their tax, before its fee."""
    return quantize(refund_rest(refund) + refund.fee, refund.currency)


def build_refund_document(
    refund: Refund,
    order: Order,
    connection: Connection,
    refs: ResolvedRefs,
    money: MoneyRefs,
    *,
    entity: RefundEntity,
    doc_number: str,
    timezone: str | None = None,
) -> dict[str, Any]:
    """The RefundReceipt or CreditMemo create body for a store refund, totalling its amount.

    Raises PermanentError when the refund's lines give back more than its amount, or a
    needed item or tax code is missing.
    """
    rules = connection.mapping
    q = order.q
    beyond = refund_beyond_lines(refund)
    if beyond < 0:
        kept = f" and a fee of {q(refund.fee)} kept back" if refund.fee else ""
        raise PermanentError(
            f"refund {refund.store_id} of order {refund.order_number}: its lines and their tax "
            f"add up to {q(refund.amount - refund_rest(refund))}, more than the refunded "
            f"{q(refund.amount)}{kept}: check the refund in the store, then replay"
        )
    lines = LineBuilder(order, rules, refs)
    for line in refund.lines:
        item = _refunded_line_item(line, order, connection, lines.decided)
        name = item.name if item is not None else ""
        item_id = refs.items.get(name)
        if item_id is None:
            raise PermanentError(
                f"refund {refund.store_id} of order {refund.order_number}: QuickBooks item "
                f"{name or '(unmapped SKU ' + str(line.sku) + ')'!r} for {line.name!r} was not "
                "found: map it in the tenant file or create it in QuickBooks, then replay"
            )
        lines.add_sales(
            amount=q(line.total),
            description=line.name,
            item_id=item_id,
            item_name=name,
            quantity=line.quantity if line.kind == "item" else None,
            taxes=line.taxes,
            what=f"refunded {line.kind} {line.name!r}",
            class_name=(
                lines.decided.line(line.line_id).class_name
                if line.kind == "item"
                else lines.decided.class_name
            ),
        )
    # Money not tied to a line goes on the refund item: what the store gave back beyond the
    # lines, and the fee it kept as a negative line. QuickBooks takes a negative line on a
    # refund receipt or credit memo as long as the document's total is not negative, which a
    # refund's amount never is: the fee shows as what it is instead of shrinking the lines.
    rest: list[tuple[Decimal, str, str]] = []
    if beyond != 0 or not refund.lines:
        rest.append((beyond, "Refund", "the refunded amount not tied to a line"))
    if refund.fee:
        rest.append((-q(refund.fee), "Adjustment fee", "the fee kept back from the refund"))
    name = refund_item_name(connection) or ""
    reason = refund.reason.strip()
    for amount, label, what in rest:
        lines.add_sales(
            amount=amount,
            description=label + (f": {reason}" if reason else ""),
            item_id=refs.items[name],
            item_name=name,
            quantity=None,
            taxes=(),
            what=what,
            class_name=lines.decided.class_name,
        )
    notes = [refund_tag(refund, connection)]
    if refund.reason.strip():
        notes.append("Reason: " + refund.reason.strip())
    body: dict[str, Any] = {
        "CustomerRef": {"value": money.customer_id},
        "DocNumber": doc_number,
        "TxnDate": refund.created_at.date().isoformat(),
        "CurrencyRef": {"value": refund.currency},
        "PrivateNote": note_text("\n".join(notes), PRIVATE_NOTE_MAX),
        "Line": lines.numbered(),
        **lines.transaction_refs(),
    }
    tax = q(sum((t.amount for line in refund.lines for t in line.taxes), ZERO))
    if rules.tax.mode == "us_automated":
        body["TxnTaxDetail"] = {"TotalTax": tax}
    elif rules.tax.mode == "per_rate":
        body["GlobalTaxCalculation"] = "TaxInclusive" if order.prices_include_tax else "TaxExcluded"
        body["TxnTaxDetail"] = lines.per_rate_tax(
            tax,
            inclusive=order.prices_include_tax,
            what=f"refund {refund.store_id} of order {refund.order_number}",
        )
    else:
        body["GlobalTaxCalculation"] = "NotApplicable"
    if entity == "RefundReceipt":
        body["DepositToAccountRef"] = {"value": money.deposit_account_id}
        if money.payment_method_id:
            body["PaymentMethodRef"] = {"value": money.payment_method_id}
    asked = document_total(body)
    if asked != q(refund.amount):
        raise PermanentError(
            f"refund {refund.store_id} of order {refund.order_number}: the QuickBooks "
            f"{entity} would total {asked}, not the refunded {q(refund.amount)}: check the "
            "refund in the store, then replay"
        )
    return body

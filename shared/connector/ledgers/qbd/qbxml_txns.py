"""qbXML transactions: invoices, sales receipts and credit memos from store orders and refunds.

QuickBooks Desktop has no shipping, discount or sales-tax lines (those are
QuickBooks Online Edition only), so every part of an order is an item line:

  * products: the mapped item, Quantity for display and the exact Amount (net of
    line discounts, or before them when a discount item is given);
  * discount: one line with the discount item and a negative Amount;
  * fees: the fee item; shipping: the shipping item, one line per shipping line;
  * sales tax: one line with ``sales_tax_item`` carrying the store's tax to the cent.

Why tax is a line: QuickBooks Desktop computes sales tax itself from the
transaction's ItemSalesTaxRef rate and the lines' tax codes, rounding its own
way, and offers no override of the computed figure. To book exactly what the
store charged, every line is marked non-taxable (SalesTaxCodeRef ``Non``, the
Desktop default) so QuickBooks adds nothing, and the store's tax travels as an
explicit Amount on the mapped sales-tax item. Set that item up in QuickBooks as
an Other Charge item named e.g. "Sales Tax" that posts to Sales Tax Payable.
Optionally ``zero_tax_item`` names a 0% sales tax item for ItemSalesTaxRef so
the customer's default tax item never applies.

Revenue rules (connector.revenue_rules) and payment terms: a line a rule posts on an item
(or through an income account's item, qbxml_lists.account_item_name) uses that item; each
line carries its class as ClassRef, and the transaction's class (the one the order as a
whole matches) is the header's ClassRef and the class of the shipping, fee, discount, tax
and refund lines. QuickBooks Desktop's one class preference ("Use class tracking") turns
classes on for both the header and the lines, so classes always go per line where they
differ, with the header's for the receivable (docs/decisions.md). An invoice carries the
buyer's group's payment terms as TermsRef.

Amounts are always sent (Rate never is): QuickBooks derives the rate from
Amount / Quantity, and the transaction total is the sum of line Amounts, which
:func:`sales_txn_add` checks equals ``expected_total(order)`` before anything
is sent. The Memo starts with the same text QuickBooks Online's PrivateNote
does ("<store> order #1234 (id 567)"), so a RefNumber pre-check recognises
a transaction we added in a session whose answer was lost.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lxml import etree
from pydantic import BaseModel, ConfigDict, Field

from connector.config import Connection, MappingRules
from connector.errors import PermanentError
from connector.ledgers.qbd.qbxml_elements import add_address, add_ref, sub
from connector.ledgers.qbd.qbxml_lists import (
    account_full_name,
    account_item_name,
    check_id,
    class_full_name,
    customer_full_name,
    item_full_name,
)
from connector.ledgers.qbd.qbxml_messages import QbRequest, new_request
from connector.ledgers.qbd.qbxml_queries import ANY_TXN_KINDS, TXN_KINDS, AnyTxnKind
from connector.ledgers.qbd.qbxml_text import (
    DESC_MAX,
    EDIT_SEQUENCE_MAX,
    MEMO_MAX,
    PAYMENT_METHOD_MAX,
    REF_NUMBER_MAX,
    SALES_TAX_CODE_MAX,
    TERMS_MAX,
    amount,
    fit,
    fit_note,
    quantity,
)
from connector.mapping import (
    fitted_doc_number,
    item_name_for_line,
    item_name_for_sku,
    item_names_needed,
    txn_date,
)
from connector.model import ZERO, Order, Refund, TotalsMismatch, check_totals, quantize
from connector.revenue_rules import LineItem, decide, line_items

# TxnVoidType has no ReceivePayment (ops130): a payment is deleted instead.
VOIDABLE_KINDS = (*TXN_KINDS, "ARRefundCreditCard")
SalesKind = Literal["Invoice", "SalesReceipt"]
SALES_KINDS: tuple[SalesKind, ...] = ("Invoice", "SalesReceipt")
NEW_LINE_ID = "-1"  # TxnLineID of a line added by a *Mod


class QbdRefs(BaseModel):
    """QuickBooks Desktop names one transaction references (FullNames, not ListIDs).

    ``skus`` says which item each store line uses (SKU, "" for a line without
    one, -> item name: connector.mapping.item_names_needed); ``items`` maps an
    item name to the FullName QuickBooks answered (a name missing there is used
    as it is). :func:`refs_for_order` fills both from the tenant's mapping.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer: str
    store_name: str  # how bookkeepers name the store, first in every Memo
    items: dict[str, str] = Field(default_factory=dict)
    skus: dict[str, str] = Field(default_factory=dict)
    shipping_item: str | None = None
    fee_item: str | None = None
    discount_item: str | None = None  # None: product lines go at their discounted amounts
    sales_tax_item: str | None = None
    ref_number: str
    non_taxable_code: str | None = "Non"  # SalesTaxCodeRef on every line; None leaves it out
    zero_tax_item: str | None = None  # ItemSalesTaxRef: a 0% sales tax item, when set
    # Where a sales receipt's money went (mapping.payments): PaymentMethodRef, DepositToAccountRef.
    payment_method: str | None = None
    deposit_account: str | None = None
    # A foreign-currency document's rate to the home currency; None lets QuickBooks use its own.
    exchange_rate: Decimal | None = None
    # A refund's money not tied to a line (amount-only): mapping.refund_item, else fallback.
    refund_item: str | None = None
    # Revenue rules: store line id -> the item a rule posts it on (its own item, or an income
    # account's item), line id -> its class, and the transaction's class (header ClassRef;
    # shipping, fee, discount, tax and refund-rest lines).
    line_items: dict[str, str] = Field(default_factory=dict)
    line_classes: dict[str, str] = Field(default_factory=dict)
    txn_class: str | None = None
    # An income account's item (in line_items) -> that account, for ItemNonInventoryAdd.
    item_accounts: dict[str, str] = Field(default_factory=dict)
    terms: str | None = None  # an invoice's TermsRef: mapping.terms for the buyer's group

    def item_for_sku(self, sku: str | None) -> str | None:
        """The item FullName for a store line's SKU, None when nothing says which item.

        ``skus`` decides; without an entry there, an item auto-created for the
        SKU (connector.mapping.item_name_for_sku) is used when ``items`` has it.
        """
        name = self.skus.get(sku or "")
        if name is None and sku:
            auto = item_name_for_sku(sku)
            name = auto if auto in self.items else None
        if name is None:
            return None
        return self.items.get(name, name)

    def line_item(self, line_id: str, sku: str | None) -> str | None:
        """The item FullName for a store line: a rule's, else by its SKU (item_for_sku)."""
        ruled = self.line_items.get(line_id)
        if ruled is not None:
            return self.items.get(ruled, ruled)
        return self.item_for_sku(sku)

    @property
    def class_names(self) -> set[str]:
        """Every class the transaction names (header and lines)."""
        names = set(self.line_classes.values())
        return names | {self.txn_class} if self.txn_class else names

    def item_names(self) -> list[str]:
        """Every item name this transaction may reference (for one ItemQuery)."""
        names = [self.items.get(n, n) for n in self.skus.values()]
        names += [self.items.get(n, n) for n in self.line_items.values()]
        names += [
            n
            for n in (self.shipping_item, self.fee_item, self.discount_item, self.sales_tax_item)
            if n
        ]
        return list(dict.fromkeys(names))


def ref_number(
    order_or_refund_number: str, rules: MappingRules, *, store_id: str | None = None
) -> str:
    """RefNumber from the tenant's doc_number template ({prefix}{number}; {id} needs store_id).

    QuickBooks Desktop keeps 11 characters: a longer number is shortened the way
    every document number is (connector.mapping.fitted_doc_number), and the
    store's full number is in the Memo (order_tag, refund_tag).
    """
    if "{id}" in rules.doc_number and store_id is None:
        raise ValueError(f"doc_number template {rules.doc_number!r} uses {{id}}: pass store_id")
    return fitted_doc_number(
        order_or_refund_number, store_id or "", rules, limit=REF_NUMBER_MAX, text=_ref_text
    )


def _ref_text(text: str) -> str:
    """A RefNumber in QuickBooks Desktop's alphabet (Latin-1, one line), before it is fitted."""
    return fit(text, sys.maxsize)


def order_ref_number(order: Order, rules: MappingRules) -> str:
    return ref_number(order.number, rules, store_id=order.store_id)


def refund_ref_number(refund: Refund, rules: MappingRules) -> str:
    """A credit memo's RefNumber: the template with "R<refund id>" as the number."""
    return ref_number(f"R{refund.store_id}", rules, store_id=f"R{refund.store_id}")


def order_tag(order: Order, store: str) -> str:
    """The first Memo line; identical to the QuickBooks Online PrivateNote's first line.
    ``store`` is how bookkeepers name the store (the connection's store display name)."""
    return f"{store} order #{order.number} (id {order.store_id})"


def order_memo(order: Order, store: str) -> str:
    parts = [order_tag(order, store)]
    if order.coupons:
        parts.append("Coupons: " + ", ".join(c.code for c in order.coupons))
    if order.payment.transaction_id.strip():
        parts.append(f"Payment transaction {order.payment.transaction_id.strip()}")
    if order.note.strip():
        parts.append("Customer note: " + order.note.strip())
    return fit_note("\n".join(parts), MEMO_MAX)


def refund_tag(refund: Refund, store: str) -> str:
    return (
        f"{store} refund {refund.store_id} of order #{refund.order_number} "
        f"(id {refund.order_store_id})"
    )


def refund_memo(refund: Refund, store: str) -> str:
    parts = [refund_tag(refund, store)]
    if refund.reason.strip():
        parts.append("Reason: " + refund.reason.strip())
    return fit_note("\n".join(parts), MEMO_MAX)


def expected_refund_total(refund: Refund) -> Decimal:
    """What a refund's credit memo must total: the refunded amount, to the cent."""
    return quantize(refund.amount, refund.currency)


def expected_total(order: Order) -> Decimal:
    """What the QuickBooks Desktop transaction must total: the store's total, to the cent."""
    return order.q(order.total)


def request_total(request: QbRequest) -> Decimal:
    """The total a built Add/Mod request asks for: the sum of its line Amounts."""
    return sum(
        (Decimal(line.findtext("Amount") or "0") for line in _line_elements(request.element)),
        ZERO,
    )


def _line_elements(element: etree._Element) -> Iterator[etree._Element]:
    for child in element.iter():
        if isinstance(child.tag, str) and child.tag.endswith(("LineAdd", "LineMod")):
            yield child


@dataclass(frozen=True)
class _Line:
    item: str
    desc: str
    amount: Decimal
    quantity: Decimal | None = None
    class_name: str | None = None


def _missing_item(what: str, setting: str, subject: str) -> PermanentError:
    return PermanentError(
        f"{subject} has {what}, but no QuickBooks Desktop item is set for it: set {setting} in "
        f"the tenant file (and create the item in QuickBooks), then replay"
    )


def _order_lines(order: Order, refs: QbdRefs) -> list[_Line]:
    q = order.q
    subject = f"order {order.number}"
    discount = sum((q(line.subtotal) - q(line.total) for line in order.lines), ZERO)
    # A negative "discount" (a line sold above list price) cannot be a discount line.
    discount_line = refs.discount_item is not None and discount > 0
    lines: list[_Line] = []
    for line in order.lines:
        item = refs.line_item(line.line_id, line.sku)
        if item is None:
            raise PermanentError(
                f"{subject}: line {line.name!r} (SKU {line.sku or 'none'}) has no QuickBooks "
                f"Desktop item: map the SKU under items in the tenant file (or set "
                f"fallback_item), then replay"
            )
        value = q(line.subtotal) if discount_line else q(line.total)
        cls = refs.line_classes.get(line.line_id)
        lines.append(_Line(item, line.name, value, line.quantity or None, cls))
    txn_class = refs.txn_class
    if discount_line and refs.discount_item:
        codes = ", ".join(c.code for c in order.coupons)
        desc = f"Coupons: {codes}" if codes else "Discount"
        lines.append(_Line(refs.discount_item, desc, -discount, class_name=txn_class))
    for fee in order.fee_lines:
        if refs.fee_item is None:
            raise _missing_item(f"fee {fee.name!r}", "fee_item", subject)
        lines.append(_Line(refs.fee_item, fee.name, q(fee.total), class_name=txn_class))
    for ship in order.shipping_lines:
        if refs.shipping_item is None:
            if q(ship.total) == 0:
                continue  # free shipping without an item loses nothing
            raise _missing_item(f"shipping {ship.method!r}", "shipping_item", subject)
        lines.append(_Line(refs.shipping_item, ship.method, q(ship.total), class_name=txn_class))
    tax = q(order.total_tax)
    if tax != 0:
        if refs.sales_tax_item is None:
            raise _missing_item(
                f"{tax} sales tax", "sales_tax_item under the connection's ledger", subject
            )
        lines.append(_Line(refs.sales_tax_item, _tax_desc(order), tax, class_name=txn_class))
    return lines


def _tax_desc(order: Order) -> str:
    labels = []
    for line in order.tax_lines:
        percent = f" {line.percent.normalize():f}%" if line.percent is not None else ""
        labels.append(f"{line.label or line.code or line.rate_id}{percent}")
    return "Sales tax: " + ", ".join(labels) if labels else "Sales tax"


def _add_lines(
    parent: etree._Element, tag: str, lines: list[_Line], refs: QbdRefs, *, mod: bool
) -> None:
    tax_code = fit(refs.non_taxable_code, SALES_TAX_CODE_MAX) if refs.non_taxable_code else ""
    for line in lines:
        element = sub(parent, tag)
        if mod:
            sub(element, "TxnLineID", NEW_LINE_ID)
        add_ref(element, "ItemRef", item_full_name(line.item))
        desc = fit(line.desc, DESC_MAX)
        if desc:
            sub(element, "Desc", desc)
        if line.quantity is not None:
            sub(element, "Quantity", quantity(line.quantity))
        if line.class_name:
            add_ref(element, "ClassRef", class_full_name(line.class_name))
        sub(element, "Amount", amount(line.amount, f"line {line.desc!r}"))
        if tax_code:
            add_ref(element, "SalesTaxCodeRef", tax_code)


def _checked_lines(order: Order, refs: QbdRefs) -> list[_Line]:
    try:
        check_totals(order)
    except TotalsMismatch as exc:
        raise PermanentError(f"{exc}: check the order in the store, then replay") from None
    lines = _order_lines(order, refs)
    asked = sum((line.amount for line in lines), ZERO)
    if asked != expected_total(order):
        raise PermanentError(
            f"order {order.number}: the QuickBooks Desktop transaction would total {asked}, not "
            f"the order total {expected_total(order)} (line amounts carry sub-cent values): "
            f"check the order's line totals in the store, then replay"
        )
    return lines


def _check_ref_number(value: str) -> str:
    fitted = _ref_text(value)
    if not fitted:
        raise PermanentError(
            "the RefNumber is empty: check doc_number and doc_prefix in the tenant file, "
            "then replay"
        )
    if len(fitted) > REF_NUMBER_MAX:
        # order_ref_number and refund_ref_number fit it; a longer one is a caller's bug.
        raise ValueError(
            f"RefNumber {value!r} is longer than QuickBooks Desktop's {REF_NUMBER_MAX} "
            "characters: make it with order_ref_number or refund_ref_number"
        )
    return fitted


def _sales_header(
    body: etree._Element, kind: SalesKind, order: Order, refs: QbdRefs, timezone: str | None
) -> None:
    # Schema order: CustomerRef, ClassRef, TxnDate, RefNumber, BillAddress, ShipAddress,
    # TermsRef (invoices), PaymentMethodRef (receipts), ItemSalesTaxRef, Memo,
    # DepositToAccountRef (receipts), ExchangeRate.
    add_ref(body, "CustomerRef", customer_full_name(refs.customer))
    if refs.txn_class:
        add_ref(body, "ClassRef", class_full_name(refs.txn_class))
    sub(body, "TxnDate", txn_date(order, timezone).isoformat())
    sub(body, "RefNumber", _check_ref_number(refs.ref_number))
    add_address(body, "BillAddress", order.customer.billing)
    add_address(body, "ShipAddress", order.customer.shipping)
    if kind == "Invoice" and refs.terms:
        add_ref(body, "TermsRef", fit(refs.terms, TERMS_MAX))
    receipt = kind == "SalesReceipt"
    if receipt and refs.payment_method:
        add_ref(body, "PaymentMethodRef", fit(refs.payment_method, PAYMENT_METHOD_MAX))
    if refs.zero_tax_item:
        add_ref(body, "ItemSalesTaxRef", item_full_name(refs.zero_tax_item))
    sub(body, "Memo", order_memo(order, refs.store_name))
    if receipt and refs.deposit_account:
        add_ref(body, "DepositToAccountRef", account_full_name(refs.deposit_account))
    add_exchange_rate(body, refs.exchange_rate)


def add_exchange_rate(body: etree._Element, rate: Decimal | None) -> None:
    """ExchangeRate (FLOATTYPE): home-currency units per unit of the document's currency."""
    if rate is not None:
        if rate <= 0:
            raise PermanentError(f"exchange rate {rate} is not positive: check the store's rate")
        sub(body, "ExchangeRate", f"{rate.normalize():f}")


def _check_sales_kind(kind: str) -> None:
    if kind not in SALES_KINDS:
        raise ValueError(f"sales transaction kind {kind!r} is not one of {SALES_KINDS}")


def sales_txn_add(
    kind: SalesKind, order: Order, refs: QbdRefs, *, request_id: str, timezone: str | None = None
) -> QbRequest:
    """InvoiceAdd or SalesReceiptAdd for an order; its lines add up to the order total.

    ``timezone`` is the store's IANA zone: TxnDate is the day the order was
    created there (connector.mapping.txn_date). Raises PermanentError, saying
    what to fix, for a missing item, an empty RefNumber, or parts that do not
    add up to the total.
    """
    _check_sales_kind(kind)
    lines = _checked_lines(order, refs)
    request = new_request(f"{kind}Add", request_id)
    body = sub(request, f"{kind}Add")
    _sales_header(body, kind, order, refs, timezone)
    _add_lines(body, f"{kind}LineAdd", lines, refs, mod=False)
    return QbRequest(request_id, f"{kind}Add", request)


def sales_txn_mod(
    kind: SalesKind,
    order: Order,
    refs: QbdRefs,
    txn_id: str,
    edit_sequence: str,
    *,
    request_id: str,
    timezone: str | None = None,
) -> QbRequest:
    """InvoiceMod/SalesReceiptMod: the whole transaction again, every line replaced.

    Each line is new (TxnLineID -1); QuickBooks deletes the lines a Mod does not
    list, so the transaction ends up with exactly the order's lines.
    """
    _check_sales_kind(kind)
    lines = _checked_lines(order, refs)
    request = new_request(f"{kind}Mod", request_id)
    body = sub(request, f"{kind}Mod")
    sub(body, "TxnID", check_id(txn_id, "TxnID"))
    sub(body, "EditSequence", check_id(edit_sequence, "EditSequence", EDIT_SEQUENCE_MAX))
    _sales_header(body, kind, order, refs, timezone)
    _add_lines(body, f"{kind}LineMod", lines, refs, mod=True)
    return QbRequest(request_id, f"{kind}Mod", request)


def refund_lines(refund: Refund, refs: QbdRefs) -> list[_Line]:
    """Refunded items at their refunded amounts, their tax, the rest as one "Refund" line and
    a fee the store kept back as a negative "Adjustment fee" line."""
    subject = f"refund {refund.store_id} of order {refund.order_number}"

    def q(value: Decimal) -> Decimal:
        return quantize(value, refund.currency)

    lines: list[_Line] = []
    txn_class = refs.txn_class
    for line in refund.lines:
        item = (
            refs.shipping_item
            if line.kind == "shipping"
            else refs.fee_item
            if line.kind == "fee"
            else refs.line_item(line.line_id, line.sku)
        )
        if item is None:
            continue  # carried by the "Refund" line below, so no money is lost
        # A refunded item line goes back under the class it was sold under.
        cls = refs.line_classes.get(line.line_id) if line.kind == "item" else txn_class
        lines.append(_Line(item, line.name, q(line.total), line.quantity or None, cls))
    tax = q(sum((t.amount for line in refund.lines for t in line.taxes), ZERO))
    if tax != 0 and refs.sales_tax_item:
        lines.append(_Line(refs.sales_tax_item, "Sales tax refunded", tax, class_name=txn_class))
    # What the store gave back beyond the lines, before the fee it kept (Magento's adjustment
    # fee): the fee is a negative line of its own, which QuickBooks takes on a service or
    # other-charge item as long as the credit memo's total is not negative.
    fee = q(refund.fee)
    beyond = q(refund.amount) + fee - sum((line.amount for line in lines), ZERO)
    reason = f": {refund.reason.strip()}" if refund.reason.strip() else ""
    if beyond != 0 or fee or not lines:
        item = refs.refund_item or refs.fee_item
        if item is None:
            money = f"{beyond} not tied to a refunded item" if beyond else f"a fee of {fee}"
            raise _missing_item(money, "refund_item", subject)
        if beyond != 0 or not lines:
            lines.append(_Line(item, "Refund" + reason, beyond, class_name=txn_class))
        if fee:
            lines.append(_Line(item, "Adjustment fee" + reason, -fee, class_name=txn_class))
    return lines


def _refund_date(refund: Refund, timezone: str | None) -> date:
    created = refund.created_at
    if timezone and created.tzinfo is not None:
        try:
            created = created.astimezone(ZoneInfo(timezone))
        except (ZoneInfoNotFoundError, ValueError):
            raise PermanentError(
                f"store timezone {timezone!r} is not an IANA zone name (like "
                f"'America/New_York'): correct it, then replay refund {refund.store_id}"
            ) from None
    return created.date()


def credit_memo_add(
    refund: Refund, refs: QbdRefs, *, request_id: str, timezone: str | None = None
) -> QbRequest:
    """CreditMemoAdd for a store refund, totalling the refunded amount exactly.

    Refunded lines use their items; their taxes go on the sales-tax item; what
    the lines do not explain (an amount-only refund, refunded shipping) is one
    "Refund" line on the fee item.
    """
    lines = refund_lines(refund, refs)
    request = new_request("CreditMemoAdd", request_id)
    body = sub(request, "CreditMemoAdd")
    add_ref(body, "CustomerRef", customer_full_name(refs.customer))
    if refs.txn_class:
        add_ref(body, "ClassRef", class_full_name(refs.txn_class))
    sub(body, "TxnDate", _refund_date(refund, timezone).isoformat())
    sub(body, "RefNumber", _check_ref_number(refs.ref_number))
    if refs.zero_tax_item:
        add_ref(body, "ItemSalesTaxRef", item_full_name(refs.zero_tax_item))
    sub(body, "Memo", refund_memo(refund, refs.store_name))
    add_exchange_rate(body, refs.exchange_rate)
    _add_lines(body, "CreditMemoLineAdd", lines, refs, mod=False)
    return QbRequest(request_id, "CreditMemoAdd", request)


def _check_txn_kind(kind: str, kinds: tuple[str, ...] = ANY_TXN_KINDS) -> None:
    if kind not in kinds:
        raise ValueError(f"transaction kind {kind!r} is not one of {kinds}")


def txn_void(kind: AnyTxnKind, txn_id: str, *, request_id: str) -> QbRequest:
    """TxnVoid: the transaction stays, with zero amounts, marked VOID (not a ReceivePayment)."""
    _check_txn_kind(kind, VOIDABLE_KINDS)
    request = new_request("TxnVoid", request_id)
    sub(request, "TxnVoidType", kind)
    sub(request, "TxnID", check_id(txn_id, "TxnID"))
    return QbRequest(request_id, "TxnVoid", request)


def txn_del(kind: AnyTxnKind, txn_id: str, *, request_id: str) -> QbRequest:
    """TxnDel: the transaction is removed from the company file."""
    _check_txn_kind(kind)
    request = new_request("TxnDel", request_id)
    sub(request, "TxnDelType", kind)
    sub(request, "TxnID", check_id(txn_id, "TxnID"))
    return QbRequest(request_id, "TxnDel", request)


def sku_items(
    order: Order, rules: MappingRules, *, skip: frozenset[str] = frozenset()
) -> dict[str, str]:
    """QbdRefs.skus for an order: SKU ("" for none) -> item name, by the tenant's mapping.

    ``skip`` holds line ids whose item a revenue rule decides. Raises PermanentError for a
    SKU with no item and no fallback.
    """
    return {sku or "": name for sku, name in item_names_needed(order, rules, skip=skip).items()}


def order_line_items(order: Order, rules: MappingRules) -> dict[str, LineItem]:
    """Line id -> the Desktop item each item line posts on (revenue rules, then the mapping);
    an income account's item is named by qbxml_lists.account_item_name. Raises
    PermanentError for a line nothing gives an item."""
    return line_items(order, rules, decide(order, rules), name_for=account_item_name)


@dataclass(frozen=True)
class _RuleRefs:
    """QbdRefs' revenue-rule fields."""

    line_items: dict[str, str] = field(default_factory=dict)
    item_accounts: dict[str, str] = field(default_factory=dict)
    line_classes: dict[str, str] = field(default_factory=dict)
    txn_class: str | None = None


def _rule_refs(order: Order, rules: MappingRules, line_ids: set[str] | None = None) -> _RuleRefs:
    """What the revenue rules give the order's lines (or those of ``line_ids``)."""
    if not rules.rules:
        return _RuleRefs()
    decided = decide(order, rules)
    items: dict[str, str] = {}
    accounts: dict[str, str] = {}
    for line in order.lines:
        rule = decided.line(line.line_id)
        if line_ids is not None and line.line_id not in line_ids:
            continue
        if rule.item is None and rule.income_account is None:
            continue
        base = rule.item or item_name_for_line(line.sku, rules)
        if base is None:
            continue  # refunds: the "Refund" line carries it; orders: refused before
        if rule.income_account:
            name = account_item_name(base, rule.income_account)
            accounts[name] = rule.income_account
        else:
            name = base
        items[line.line_id] = name
    classes = {
        line_id: rule.class_name for line_id, rule in decided.lines.items() if rule.class_name
    }
    return _RuleRefs(items, accounts, classes, decided.class_name)


def refund_sku_items(refund: Refund, rules: MappingRules) -> dict[str, str]:
    """QbdRefs.skus for a refund; a line with no item is left out (the "Refund" line carries it)."""
    names: dict[str, str] = {}
    for line in refund.lines:
        sku = line.sku
        if sku and sku in rules.items:
            names[sku] = rules.items[sku]
        elif sku and rules.auto_create_items:
            names[sku] = item_name_for_sku(sku)
        elif rules.fallback_item:
            names[sku or ""] = rules.fallback_item
    return names


def refund_rest_item(rules: MappingRules) -> str | None:
    """The item for refunded money no refunded line explains: refund_item, else fallback_item."""
    return rules.refund_item or rules.fallback_item


def refs_for_order(
    order: Order,
    connection: Connection,
    *,
    customer: str,
    items: dict[str, str] | None = None,
    exchange_rate: Decimal | None = None,
) -> QbdRefs:
    """QbdRefs for an order from the tenant's mapping and the Desktop ledger settings.

    ``items`` maps item names to the FullNames QuickBooks answered (ItemQuery).
    Raises PermanentError for an unmapped SKU, or a RefNumber that cannot be made.
    """
    rules, ledger = connection.mapping, connection.qbd
    route, _ = rules.payment_route(order.payment.method)
    ruled = _rule_refs(order, rules)
    return QbdRefs(
        payment_method=route.method,
        deposit_account=route.deposit_account,
        exchange_rate=exchange_rate,
        customer=customer,
        store_name=connection.store.display_name,
        items=dict(items or {}),
        skus=sku_items(order, rules, skip=frozenset(ruled.line_items)),
        shipping_item=rules.shipping_item,
        fee_item=rules.fee_item,
        discount_item=ledger.discount_item if rules.discounts == "discount_line" else None,
        sales_tax_item=ledger.sales_tax_item,
        ref_number=order_ref_number(order, rules),
        terms=rules.terms_for(order.customer.group),
        **asdict(ruled),
    )


def refs_for_refund(
    refund: Refund,
    connection: Connection,
    *,
    customer: str,
    items: dict[str, str] | None = None,
    exchange_rate: Decimal | None = None,
    order: Order | None = None,
) -> QbdRefs:
    """QbdRefs for a refund's credit memo (unmapped lines fold into the "Refund" line).

    With the refunded ``order``, refunded lines go back on the items and under the classes
    the revenue rules gave them when they were sold.
    """
    rules, ledger = connection.mapping, connection.qbd
    refunded = {line.line_id for line in refund.lines if line.kind == "item"}
    ruled = _rule_refs(order, rules, refunded) if order is not None else _RuleRefs()
    return QbdRefs(
        exchange_rate=exchange_rate,
        customer=customer,
        store_name=connection.store.display_name,
        items=dict(items or {}),
        skus=refund_sku_items(refund, rules),
        shipping_item=rules.shipping_item,
        fee_item=rules.fee_item,
        refund_item=refund_rest_item(rules),
        sales_tax_item=ledger.sales_tax_item,
        ref_number=refund_ref_number(refund, rules),
        **asdict(ruled),
    )

"""QuickBooks Online JSON bodies for orders and customers (pure: no I/O).

A sales document (Invoice or SalesReceipt) is built from a canonical Order, the
connection's mapping rules and the QuickBooks ids the ledger adapter resolved.
Its lines add up to the store's total to the cent, and the builder checks that
before anything is sent:

    sum(item, fee and shipping line Amounts) - discount line + TxnTaxDetail.TotalTax
        == order.total

Line Amounts are always net of tax (the store's figures). With prices that
include tax, GlobalTaxCalculation "TaxInclusive" only changes how QuickBooks
shows them; QuickBooks reads line amounts as tax-exclusive unless
TaxInclusiveAmt is given, which we never send.

Non-US companies (tax mode "per_rate") compute the tax themselves, per rate at
subtotal level; the store rounds per line. TotalTax alone would not change
QuickBooks' figure, so the document carries the store's tax per QuickBooks rate
as TxnTaxDetail.TaxLine overrides (connector.ledgers.qbo.tax_lines).
"""

from __future__ import annotations

import hashlib
import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from connector.config import Connection, MappingRules
from connector.errors import PermanentError
from connector.ledgers.qbo import tax_lines
from connector.ledgers.qbo.tax_lines import QboTaxRate
from connector.mapping import (
    display_name,
    doc_number,
    note_text,
    single_line,
    tax_code_for,
    txn_date,
)
from connector.model import (
    ZERO,
    Address,
    Customer,
    Order,
    TaxAmount,
    TotalsMismatch,
    check_totals,
    quantize,
)
from connector.revenue_rules import OrderRules, decide, line_items

# QuickBooks' built-in shipping line, when SalesFormsPrefs.AllowShipping is on.
SHIPPING_ITEM_ID = "SHIPPING_ITEM_ID"
DOCUMENT_ENTITIES: dict[str, Literal["Invoice", "SalesReceipt"]] = {
    "invoice": "Invoice",
    "sales_receipt": "SalesReceipt",
}

UNIT_PRICE_STEP = Decimal("1E-7")  # QuickBooks keeps up to 7 decimal places of UnitPrice
PRIVATE_NOTE_MAX = 4000
DESCRIPTION_MAX = 4000
PAYMENT_REF_MAX = 21
EMAIL_MAX = 100
# Intuit's Customer reference (minorversion 75). The older Finance.xsd shipped in the Java SDK
# still says 25/15 for the person names; today's API accepts 100.
CUSTOMER_LIMITS = {"GivenName": 100, "FamilyName": 100, "CompanyName": 100}
PHONE_MAX = 21  # TelephoneNumber.FreeFormNumber (IntuitBaseTypes.xsd)
ADDRESS_LIMITS = {
    "Line1": 500,
    "Line2": 500,
    "City": 255,
    "CountrySubDivisionCode": 255,
    "PostalCode": 30,
    "Country": 255,
}


class ResolvedRefs(BaseModel):
    """QuickBooks ids the ledger adapter looked up (or created) for one order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: str
    items: dict[str, str] = Field(default_factory=dict)  # item name -> Item Id
    shipping_item_id: str | None = None  # unused with the built-in "SHIPPING_ITEM_ID"
    fee_item_id: str | None = None
    discount_account_id: str | None = None
    tax_codes: dict[str, str] = Field(default_factory=dict)  # TaxCode name -> Id (per_rate)
    # TaxCode Id -> its sales rates with their percentages (per_rate).
    tax_rates: dict[str, tuple[QboTaxRate, ...]] = Field(default_factory=dict)
    tax_override_code_id: str | None = None  # US AST: TxnTaxDetail.TxnTaxCodeRef
    # Sales receipts: where the store's payment method puts the money.
    payment_method_id: str | None = None
    deposit_account_id: str | None = None
    term_id: str | None = None  # invoices: the buyer's group's payment terms
    # Revenue rules (connector.revenue_rules): class name -> Class Id, where classes go (the
    # company's class tracking: per line or per transaction), and the location's Department Id.
    classes: dict[str, str] = Field(default_factory=dict)
    class_placement: Literal["line", "transaction"] | None = None
    department_id: str | None = None


def document_entity(connection: Connection) -> Literal["Invoice", "SalesReceipt"]:
    """The QuickBooks entity an order becomes on this connection."""
    return DOCUMENT_ENTITIES[connection.document]


def expected_total(order: Order) -> Decimal:
    """What QuickBooks' TotalAmt should read for the order's document."""
    return order.q(order.total)


def document_total(document: dict[str, Any]) -> Decimal:
    """The total a sales document body asks for: sales lines - discount + forced tax."""
    total = ZERO
    for line in document.get("Line", []):
        if line["DetailType"] == "SalesItemLineDetail":
            total += line["Amount"]
        elif line["DetailType"] == "DiscountLineDetail":
            total -= line["Amount"]
    tax = document.get("TxnTaxDetail", {}).get("TotalTax", ZERO)
    return total + tax


def unit_price(amount: Decimal, quantity: Decimal) -> Decimal:
    """UnitPrice for an exact Amount: Amount / Qty to QuickBooks' 7 decimal places."""
    return (amount / quantity).quantize(UNIT_PRICE_STEP, rounding=ROUND_HALF_UP).normalize()


def _fit(text: str, limit: int) -> str:
    return single_line(text, limit)


def _address(address: Address) -> dict[str, str] | None:
    if address.is_empty():
        return None
    fields = {
        "Line1": address.line1,
        "Line2": address.line2,
        "City": address.city,
        "CountrySubDivisionCode": address.region,
        "PostalCode": address.postcode,
        "Country": address.country,
    }
    out = {key: _fit(value, ADDRESS_LIMITS[key]) for key, value in fields.items()}
    return {key: value for key, value in out.items() if value}


def _email(email: str) -> dict[str, str] | None:
    address = email.strip()
    # A cut-short address would be a wrong address; leave it out instead.
    if not address or len(address) > EMAIL_MAX:
        return None
    return {"Address": address}


class LineBuilder:
    """Collects document lines for one order, resolving tax codes as it goes."""

    def __init__(self, order: Order, rules: MappingRules, refs: ResolvedRefs) -> None:
        self.order = order
        self.rules = rules
        self.refs = refs
        self.decided: OrderRules = decide(order, rules)
        self.lines: list[dict[str, Any]] = []
        # per_rate: each sales line's TaxCode Id and the store's taxes on it, in line order.
        self.taxed: list[tuple[str, tuple[TaxAmount, ...]]] = []

    def class_ref(self, name: str | None) -> dict[str, str] | None:
        """A ClassRef for a class the rules named (None: no class)."""
        if name is None:
            return None
        class_id = self.refs.classes.get(name)
        if class_id is None:
            raise PermanentError(
                f"order {self.order.number}: QuickBooks class {name!r} (from mapping.rules) was "
                f"not found: create or reactivate it in QuickBooks, or correct the rule in the "
                f"tenant file, then replay"
            )
        return {"value": class_id}

    def line_class(self, name: str | None) -> dict[str, str] | None:
        """The ClassRef a line carries: only where QuickBooks tracks classes per line."""
        return self.class_ref(name) if self.refs.class_placement == "line" else None

    def transaction_refs(self) -> dict[str, Any]:
        """ClassRef (classes per transaction) and DepartmentRef (the location) of the document."""
        out: dict[str, Any] = {}
        if self.refs.class_placement == "transaction":
            ref = self.class_ref(self.decided.class_name)
            if ref is not None:
                out["ClassRef"] = ref
        if self.decided.location is not None:
            if self.refs.department_id is None:
                raise PermanentError(
                    f"order {self.order.number}: QuickBooks location "
                    f"{self.decided.location!r} (from mapping.rules) was not found: create or "
                    "reactivate it in QuickBooks, or correct the rule in the tenant file, "
                    "then replay"
                )
            out["DepartmentRef"] = {"value": self.refs.department_id}
        return out

    def tax_code_ref(self, taxes: tuple[TaxAmount, ...], what: str) -> dict[str, str] | None:
        mode = self.rules.tax.mode
        if mode == "us_automated":
            # AST only needs to know whether the store taxed the line; the amount is forced.
            return {"value": "TAX" if any(t.amount != 0 for t in taxes) else "NON"}
        if mode == "per_rate":
            name = tax_code_for(taxes, what, self.order, self.rules)
            code_id = self.refs.tax_codes.get(name)
            if code_id is None:
                raise PermanentError(
                    f"order {self.order.number}: QuickBooks tax code {name!r} (for {what}) was "
                    f"not found: create or reactivate it in QuickBooks, or correct tax.codes in "
                    f"the tenant file, then replay"
                )
            return {"value": code_id}
        return None

    def add_sales(
        self,
        *,
        amount: Decimal,
        description: str,
        item_id: str,
        item_name: str,
        quantity: Decimal | None,
        taxes: tuple[TaxAmount, ...],
        what: str,
        class_name: str | None = None,
    ) -> None:
        detail: dict[str, Any] = {"ItemRef": {"value": item_id, "name": item_name}}
        class_ref = self.line_class(class_name)
        if class_ref is not None:
            detail["ClassRef"] = class_ref
        if quantity is not None and quantity != 0:
            detail["Qty"] = quantity
            detail["UnitPrice"] = unit_price(amount, quantity)
        tax_code = self.tax_code_ref(taxes, what)
        if tax_code is not None:
            detail["TaxCodeRef"] = tax_code
            if self.rules.tax.mode == "per_rate":
                self.taxed.append((tax_code["value"], taxes))
        line: dict[str, Any] = {"DetailType": "SalesItemLineDetail", "Amount": amount}
        description = single_line(description, DESCRIPTION_MAX)
        if description:
            line["Description"] = description
        line["SalesItemLineDetail"] = detail
        self.lines.append(line)

    def add_discount(self, amount: Decimal, description: str) -> None:
        detail: dict[str, Any] = {"PercentBased": False}
        if self.refs.discount_account_id:
            detail["DiscountAccountRef"] = {"value": self.refs.discount_account_id}
        class_ref = self.line_class(self.decided.class_name)
        if class_ref is not None:
            detail["ClassRef"] = class_ref
        self.lines.append(
            {
                "DetailType": "DiscountLineDetail",
                "Amount": amount,
                "Description": single_line(description, DESCRIPTION_MAX),
                "DiscountLineDetail": detail,
            }
        )

    def numbered(self) -> list[dict[str, Any]]:
        return [{"LineNum": n, **line} for n, line in enumerate(self.lines, start=1)]

    def per_rate_tax(self, total_tax: Decimal, *, inclusive: bool, what: str) -> dict[str, Any]:
        """TxnTaxDetail for a non-US company: the store's ``total_tax`` as one TaxLine per
        QuickBooks rate on the lines (see connector.ledgers.qbo.tax_lines)."""
        percents = {t.rate_id: t.percent for t in self.order.tax_lines if t.percent is not None}
        rates = tax_lines.rate_taxes(
            self.lines, self.taxed, self.refs.tax_rates, total_tax, self.order.q, what, percents
        )
        return tax_lines.tax_detail(rates, total_tax, inclusive)


def _require(value: str | None, order: Order, what: str, setting: str) -> str:
    if not value:
        raise PermanentError(
            f"order {order.number} has {what}, but the QuickBooks item {setting!r} was not found: "
            f"create it in QuickBooks or change the tenant file's mapping, then replay"
        )
    return value


def _add_order_lines(lines: LineBuilder, use_discount_line: bool) -> None:
    order, refs = lines.order, lines.refs
    items = line_items(order, lines.rules, lines.decided)
    for line in order.lines:
        name = items[line.line_id].name
        item_id = refs.items.get(name)
        if item_id is None:
            raise PermanentError(
                f"order {order.number}: QuickBooks item {name!r} (for SKU {line.sku or 'none'}) "
                f"was not found: create or reactivate it in QuickBooks, or change the mapping, "
                f"then replay"
            )
        amount = order.q(line.subtotal if use_discount_line else line.total)
        lines.add_sales(
            amount=amount,
            description=line.name,
            item_id=item_id,
            item_name=name,
            quantity=line.quantity,
            taxes=line.taxes,
            what=f"line {line.name!r} (line {line.line_id})",
            class_name=lines.decided.line(line.line_id).class_name,
        )


def _add_shipping(lines: LineBuilder) -> None:
    order, rules = lines.order, lines.rules
    if not order.shipping_lines:
        return
    if rules.shipping_item == SHIPPING_ITEM_ID:
        # The built-in shipping line appears once per document: shipping lines are combined.
        lines.add_sales(
            amount=sum((order.q(s.total) for s in order.shipping_lines), ZERO),
            description=", ".join(s.method for s in order.shipping_lines if s.method),
            item_id=SHIPPING_ITEM_ID,
            item_name="Shipping",
            quantity=None,
            taxes=tuple(t for s in order.shipping_lines for t in s.taxes),
            what="shipping",
            class_name=lines.decided.class_name,
        )
        return
    item_id = _require(lines.refs.shipping_item_id, order, "shipping", rules.shipping_item)
    for ship in order.shipping_lines:
        amount = order.q(ship.total)
        lines.add_sales(
            amount=amount,
            description=ship.method,
            item_id=item_id,
            item_name=rules.shipping_item,
            quantity=Decimal(1),
            taxes=ship.taxes,
            what=f"shipping {ship.method!r}",
            class_name=lines.decided.class_name,
        )


def _add_fees(lines: LineBuilder) -> None:
    order, rules = lines.order, lines.rules
    if not order.fee_lines:
        return
    item_id = _require(lines.refs.fee_item_id, order, "fees", rules.fee_item)
    for fee in order.fee_lines:
        lines.add_sales(
            amount=order.q(fee.total),
            description=fee.name,
            item_id=item_id,
            item_name=rules.fee_item,
            quantity=Decimal(1),
            taxes=fee.taxes,
            what=f"fee {fee.name!r}",
            class_name=lines.decided.class_name,
        )


def _private_note(order: Order, connection: Connection, payment_ref_cut: bool) -> str:
    store = connection.store.display_name
    parts = [f"{store} order #{order.number} (id {order.store_id})"]
    if order.coupons:
        parts.append("Coupons: " + ", ".join(c.code for c in order.coupons))
    if payment_ref_cut:
        # PaymentRefNum holds 21 characters; the bookkeeper still needs the whole id.
        parts.append(f"Payment transaction {order.payment.transaction_id}")
    if order.note.strip():
        parts.append("Customer note: " + order.note.strip())
    return note_text("\n".join(parts), PRIVATE_NOTE_MAX)


def build_sales_document(
    order: Order, connection: Connection, refs: ResolvedRefs, *, timezone: str | None = None
) -> dict[str, Any]:
    """The Invoice or SalesReceipt create body for an order (connection.document says which).

    ``timezone`` is the store's IANA zone; TxnDate is the day the order was
    created there (see connector.mapping.txn_date).

    Raises PermanentError, with what to fix, when a mapping or reference is
    missing, when tax mode "none" meets a taxed order, or when the order's parts
    do not add up to its total.
    """
    rules = connection.mapping
    try:
        check_totals(order)
    except TotalsMismatch as exc:
        raise PermanentError(f"{exc}: check the order in the store, then replay") from None
    if rules.tax.mode == "none" and order.q(order.total_tax) != 0:
        raise PermanentError(
            f"order {order.number} charges {order.q(order.total_tax)} tax but the tenant file's "
            f"tax mode is 'none': set tax.mode to 'us_automated' or 'per_rate', then replay"
        )

    discount = sum((order.q(line.subtotal) - order.q(line.total) for line in order.lines), ZERO)
    # A negative "discount" (a line sold above its list price) cannot be a discount line.
    use_discount_line = rules.discounts == "discount_line" and discount >= 0
    lines = LineBuilder(order, rules, refs)
    _add_order_lines(lines, use_discount_line)
    if use_discount_line and discount > 0:
        codes = ", ".join(c.code for c in order.coupons)
        lines.add_discount(discount, f"Coupons: {codes}" if codes else "Discount")
    _add_fees(lines)
    _add_shipping(lines)

    transaction_id = order.payment.transaction_id.strip()
    payment_ref_cut = (
        connection.document == "sales_receipt" and len(transaction_id) > PAYMENT_REF_MAX
    )
    body: dict[str, Any] = {
        "CustomerRef": {"value": refs.customer_id},
        "DocNumber": doc_number(order, rules),
        "TxnDate": txn_date(order, timezone).isoformat(),
        "CurrencyRef": {"value": order.currency},
        "PrivateNote": _private_note(order, connection, payment_ref_cut),
        "Line": lines.numbered(),
        **lines.transaction_refs(),
    }
    bill_email = _email(order.customer.email)
    if bill_email:
        body["BillEmail"] = bill_email
    bill_addr = _address(order.customer.billing)
    if bill_addr:
        body["BillAddr"] = bill_addr
    ship_addr = _address(order.customer.shipping)
    if ship_addr:
        body["ShipAddr"] = ship_addr

    total_tax = order.q(order.total_tax)
    if rules.tax.mode == "us_automated":
        tax_detail: dict[str, Any] = {}
        if refs.tax_override_code_id:
            tax_detail["TxnTaxCodeRef"] = {"value": refs.tax_override_code_id}
        tax_detail["TotalTax"] = total_tax
        body["TxnTaxDetail"] = tax_detail
    elif rules.tax.mode == "per_rate":
        body["GlobalTaxCalculation"] = "TaxInclusive" if order.prices_include_tax else "TaxExcluded"
        # QuickBooks would compute per rate at subtotal level; the store's per-line rounded tax
        # wins, as a TaxLine override per rate (tax_adjustments says where they differ).
        body["TxnTaxDetail"] = lines.per_rate_tax(
            total_tax, inclusive=order.prices_include_tax, what=f"order {order.number}"
        )
    else:
        body["GlobalTaxCalculation"] = "NotApplicable"

    if refs.term_id and connection.document == "invoice":
        body["SalesTermRef"] = {"value": refs.term_id}
    if connection.document == "sales_receipt":
        if transaction_id:
            body["PaymentRefNum"] = transaction_id[:PAYMENT_REF_MAX]
        if refs.payment_method_id:
            body["PaymentMethodRef"] = {"value": refs.payment_method_id}
        if refs.deposit_account_id:
            body["DepositToAccountRef"] = {"value": refs.deposit_account_id}

    asked = document_total(body)
    if asked != expected_total(order):
        raise PermanentError(
            f"order {order.number}: the QuickBooks document would total {asked}, not the order "
            f"total {expected_total(order)} (line amounts carry sub-cent values): check the "
            f"order's line totals in the store, then replay"
        )
    return body


def tax_adjustments(document: dict[str, Any], refs: ResolvedRefs, currency: str) -> tuple[str, ...]:
    """Where a document's TaxLine overrides differ from QuickBooks' own tax, per rate, in words
    for the audit trail (empty: no overrides, or QuickBooks agrees to the cent)."""
    return tax_lines.tax_adjustments(
        document, refs.tax_rates, lambda amount: quantize(amount, currency)
    )


def build_customer(customer: Customer) -> dict[str, Any]:
    """The Customer create body: names, email, phone and addresses within QuickBooks' limits."""
    body: dict[str, Any] = {"DisplayName": display_name(customer)}
    names = {
        "GivenName": customer.first_name,
        "FamilyName": customer.last_name,
        "CompanyName": customer.company,
    }
    for key, value in names.items():
        fitted = _fit(value, CUSTOMER_LIMITS[key])
        if fitted:
            body[key] = fitted
    email = _email(customer.email)
    if email:
        body["PrimaryEmailAddr"] = email
    phone = _fit(customer.phone or customer.billing.phone, PHONE_MAX)
    if phone:
        body["PrimaryPhone"] = {"FreeFormNumber": phone}
    bill_addr = _address(customer.billing)
    if bill_addr:
        body["BillAddr"] = bill_addr
    ship_addr = _address(customer.shipping)
    if ship_addr:
        body["ShipAddr"] = ship_addr
    return body


def sparse_update(document: dict[str, Any], qbo_id: str, sync_token: str) -> dict[str, Any]:
    """A sparse update body: only the fields given change (Line, when given, is replaced whole)."""
    return {"Id": qbo_id, "SyncToken": sync_token, "sparse": True, **document}


def body_digest(body: dict[str, Any]) -> str:
    """A short fingerprint of a request body (part of a requestid for one exact write)."""
    return hashlib.sha256(to_json(body).encode("utf-8")).hexdigest()[:16]


def to_json(document: dict[str, Any]) -> str:
    """JSON text with Decimals written as exact numbers (json.dumps would need floats)."""
    return _encode(document)


def _encode(value: Any) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        return format(value, "f")
    if isinstance(value, dict):
        items = (f"{json.dumps(str(k))}:{_encode(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    if isinstance(value, float):
        raise TypeError("money must be Decimal, never float")
    return json.dumps(value)

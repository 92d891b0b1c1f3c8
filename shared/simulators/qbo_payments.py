"""Payments of a simulated QuickBooks Online company, and what they apply to.

A Payment receives TotalAmt from a customer and applies it, line by line, to that customer's
open invoices; a line linking a CreditMemo spends the memo's credit on those invoices too, so
a Payment of TotalAmt 0 with an Invoice line and a CreditMemo line of the same amount applies a
credit memo to an invoice, as QBO does it. What is not applied stays as UnappliedAmt, a credit.
Each link lowers the linked document's Balance (a credit memo's RemainingCredit) and adds the
Payment to its LinkedTxn; voiding or deleting the payment gives the amounts back.

Refused as QBO refuses them: no CustomerRef or TotalAmt (2020); a negative amount; a link to
an unknown document (2500), to another customer's, or for more than its open balance (a voided
invoice's is 0); credit applied beyond the invoices it pays; more applied than received; a
PaymentRefNum over 21 characters (2050); an unknown or inactive PaymentMethodRef or
DepositToAccountRef, or a deposit account that is not Bank / Other Current Asset.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from simulators.qbo_currency import cents, money, ref_code
from simulators.qbo_faults import (
    business,
    invalid_enumeration,
    invalid_number,
    invalid_reference,
    required,
    too_long,
    unsupported_property,
)
from simulators.qbo_fields import PAYMENT_LINE_FIELDS

if TYPE_CHECKING:
    from simulators.qbo_company import Company

LINKABLE = ("Invoice", "CreditMemo")
PAYMENT_REF_MAX = 21
ZERO = Decimal("0.00")

Target = tuple[str, str]  # (TxnType, TxnId)


class Applications:
    """Which payment applies how much to which invoice or credit memo."""

    def __init__(self) -> None:
        self._by_target: dict[Target, dict[str, Decimal]] = defaultdict(dict)
        self._by_payment: dict[str, dict[Target, Decimal]] = {}

    def applied(self, target: Target, excluding: str | None = None) -> Decimal:
        return sum(
            (amount for pid, amount in self._by_target[target].items() if pid != excluding),
            ZERO,
        )

    def payments(self, target: Target) -> list[str]:
        return sorted(self._by_target[target], key=int)

    def of_payment(self, payment_id: str) -> dict[Target, Decimal]:
        return dict(self._by_payment.get(payment_id, {}))

    def record(self, payment_id: str, amounts: dict[Target, Decimal]) -> set[Target]:
        """Replace what ``payment_id`` applies; the targets whose balance changed."""
        touched = self.forget(payment_id)
        kept = {t: a for t, a in amounts.items() if a}
        self._by_payment[payment_id] = kept
        for target, amount in kept.items():
            self._by_target[target][payment_id] = amount
        return touched | set(kept)

    def forget(self, payment_id: str) -> set[Target]:
        old = self._by_payment.pop(payment_id, {})
        for target in old:
            self._by_target[target].pop(payment_id, None)
        return set(old)


def applied_amounts(doc: dict[str, Any]) -> dict[Target, Decimal]:
    """What a built payment document applies to each linked document."""
    amounts: dict[Target, Decimal] = defaultdict(lambda: ZERO)
    for line in doc.get("Line", []):
        link = line["LinkedTxn"][0]
        amounts[(link["TxnType"], link["TxnId"])] += line["Amount"]
    return dict(amounts)


def _link(raw: Any) -> Target:
    links = raw.get("LinkedTxn")
    if not isinstance(links, list) or len(links) != 1 or not isinstance(links[0], dict):
        raise required("Line.LinkedTxn", "LinkedTxn")
    txn_type = links[0].get("TxnType")
    txn_id = ref_code(str(links[0].get("TxnId") or ""))
    if txn_type is None or txn_id is None:
        raise required("Line.LinkedTxn.TxnId and TxnType", "LinkedTxn")
    if txn_type not in LINKABLE:
        raise invalid_enumeration(f"{txn_type} can't be paid by a Payment", "TxnType")
    return str(txn_type), txn_id


def _amount(value: Any, element: str) -> Decimal:
    amount = money(value, element)
    if amount < 0:
        raise invalid_number(value, element)
    return cents(amount)


def build_payment(
    company: Company, source: dict[str, Any], entity_id: str, sync: str, meta: dict[str, str]
) -> dict[str, Any]:
    doc: dict[str, Any] = {"Id": entity_id, "SyncToken": sync, "MetaData": meta}
    doc.update(source)
    if source.get("CustomerRef") is None:
        raise required("CustomerRef", "CustomerRef")
    doc["CustomerRef"] = company.customer_ref(source["CustomerRef"])
    customer_id = doc["CustomerRef"]["value"]
    if "TotalAmt" not in source:
        raise required("TotalAmt", "TotalAmt")
    total = _amount(source["TotalAmt"], "TotalAmt")
    day = company.txn_date(source, doc)
    company.check_common_text(source)
    number = source.get("DocNumber")
    if number not in (None, "") and len(str(number)) > PAYMENT_REF_MAX:
        raise too_long("DocNumber", PAYMENT_REF_MAX, len(str(number)))
    ref_num = source.get("PaymentRefNum")
    if ref_num is not None and len(str(ref_num)) > PAYMENT_REF_MAX:
        raise too_long("PaymentRefNum", PAYMENT_REF_MAX, len(str(ref_num)))
    if source.get("PaymentMethodRef") is not None:
        doc["PaymentMethodRef"] = company.payment_method_ref(source["PaymentMethodRef"])
    currency, rate = company.txn_currency(source, customer_id, day)
    doc["DepositToAccountRef"] = company.deposit_account_ref(source, currency, needed=False)
    company.check_department(source, doc)

    lines: list[dict[str, Any]] = []
    amounts: dict[Target, Decimal] = defaultdict(lambda: ZERO)
    raw_lines = source.get("Line") or []
    if not isinstance(raw_lines, list):
        raise required("Line", "Line")
    for raw in raw_lines:
        if not isinstance(raw, dict):
            raise required("Line.Amount", "Line")
        for name in raw:
            if name not in PAYMENT_LINE_FIELDS:
                raise unsupported_property(name, "Line")
        if "Amount" not in raw:
            raise required("Line.Amount", "Amount")
        amount = _amount(raw["Amount"], "Amount")
        target = _link(raw)
        amounts[target] += amount
        lines.append(
            {**raw, "Amount": amount, "LinkedTxn": [{"TxnId": target[1], "TxnType": target[0]}]}
        )
    for target, amount in amounts.items():
        _check_target(company, target, amount, customer_id, entity_id)
    invoices, credits = _sums(lines)
    if credits > invoices:
        raise business(
            f"The credits applied ({credits}) are more than the invoices they pay ({invoices}).",
            "Line",
        )
    if invoices - credits > total:
        raise business(
            f"The amount applied to invoices ({invoices - credits} after {credits} of credits) "
            f"is more than the payment amount ({total}).",
            "TotalAmt",
        )
    doc["Line"] = lines
    doc["TotalAmt"] = total
    doc["UnappliedAmt"] = total - (invoices - credits)
    doc["ProcessPayment"] = False
    company.currencies.stamp(doc, currency, rate, ())
    return doc


def _check_target(
    company: Company, target: Target, amount: Decimal, customer_id: str, payment_id: str
) -> None:
    kind, txn_id = target
    linked = company.docs[kind].get(txn_id)
    if linked is None:
        raise invalid_reference("LinkedTxn", txn_id)
    owner = linked.get("CustomerRef", {}).get("value")
    if owner != customer_id:
        raise business(
            f"{kind} {txn_id} belongs to another customer (Id={owner}), not to the "
            f"payment's customer (Id={customer_id}).",
            "LinkedTxn",
        )
    open_balance = linked["TotalAmt"] - company.applications.applied(target, excluding=payment_id)
    if amount > open_balance:
        what = "remaining credit" if kind == "CreditMemo" else "open balance"
        raise business(
            f"The amount applied to {kind} {txn_id} ({amount}) is more than its {what} "
            f"({open_balance}).",
            "LinkedTxn",
        )


def unlink(company: Company, target: Target) -> set[Target]:
    """A linked invoice or credit memo is voided or deleted: payments drop their lines to it.

    A payment left applying more credit than invoices drops its credit lines, and one left
    applying more than it received drops all its lines: the money stays as unapplied credit.
    Returns the other documents whose balances changed.
    """
    touched: set[Target] = set()
    for payment_id in company.applications.payments(target):
        doc = company.docs["Payment"][payment_id]
        lines = [line for line in doc["Line"] if _line_target(line) != target]
        invoices, credits = _sums(lines)
        if credits > invoices:
            lines = [line for line in lines if _line_target(line)[0] != "CreditMemo"]
            invoices, credits = _sums(lines)
        if invoices - credits > doc["TotalAmt"]:
            lines = []
        company.relink_payment(payment_id, lines)
        touched |= company.applications.record(payment_id, applied_amounts({"Line": lines}))
    touched.discard(target)
    return touched


def _sums(lines: list[dict[str, Any]]) -> tuple[Decimal, Decimal]:
    """What lines apply to invoices, and what credit they spend."""
    amounts = applied_amounts({"Line": lines})
    invoices = sum((a for (kind, _), a in amounts.items() if kind == "Invoice"), ZERO)
    credits = sum((a for (kind, _), a in amounts.items() if kind == "CreditMemo"), ZERO)
    return invoices, credits


def _line_target(line: dict[str, Any]) -> Target:
    link = line["LinkedTxn"][0]
    return link["TxnType"], link["TxnId"]

"""Money after the sale in the simulated QuickBooks Desktop company: ReceivePayment and
ARRefundCreditCard, and what they do to invoices' and credit memos' balances.

Rules followed (Intuit's qbXML reference, ../shared/reference/qbd/samples/ops130_excerpts):

* ReceivePaymentAdd: CustomerRef (required by the schema), TotalAmount, PaymentMethodRef,
  DepositToAccountRef (default Undeposited Funds), AppliedToTxnAdd with an invoice's TxnID,
  PaymentAmount and SetCredit (CreditTxnID + AppliedAmount: a credit memo's credit used
  on the invoice). Each application lowers the invoice's BalanceRemaining (IsPaid at 0)
  and each SetCredit the credit memo's CreditRemaining.
* ARRefundCreditCardAdd: CustomerRef, RefundFromAccountRef, PaymentMethodRef and
  RefundAppliedToTxnAdd (a credit memo's TxnID + RefundAmount): the credit paid out.
* TxnVoid of either gives the balances back and leaves the transaction at zero.

Refusals: a reference to a list record the file lacks is 3140 (as for every Add); a
TxnID that is no invoice or credit memo is 3120 ("cannot be found"). Applying more than
an invoice's open balance, using more credit than a credit memo has left, applying to
another customer's transaction, or applying more than the payment's TotalAmount is 3210
(an invalid value): Intuit's reference gives no code for these, QuickBooks' own dialog
refuses them, and 3210 is the code the SDK uses for a value it will not take.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from lxml import etree

from simulators.qbd_lists import Ids, Lists
from simulators.qbd_records import (
    TXN_INPUT_FIELDS,
    ZERO,
    ListRecord,
    QbStatus,
    TxnRecord,
    children,
    decimal_of,
    element,
    money,
    qb_time,
)
from simulators.qbd_txns import Transactions

MONEY_KINDS = ("ReceivePayment", "ARRefundCreditCard")
_HEAD_ORDER = {
    "ReceivePayment": (
        "ARAccountRef", "TxnDate", "RefNumber", "TotalAmount", "CurrencyRef", "ExchangeRate",
        "TotalAmountInHomeCurrency", "PaymentMethodRef", "Memo", "DepositToAccountRef",
        "UnusedPayment", "UnusedCredits",
    ),
    "ARRefundCreditCard": (
        "RefundFromAccountRef", "ARAccountRef", "TxnDate", "RefNumber", "TotalAmount",
        "CurrencyRef", "ExchangeRate", "TotalAmountInHomeCurrency", "PaymentMethodRef", "Memo",
    ),
}  # fmt: skip
_INPUTS = frozenset({*TXN_INPUT_FIELDS, "RefundFromAccountRef"})
_DEFAULT_ACCOUNT = {"ReceivePayment": "DepositToAccountRef", "ARRefundCreditCard": "RefundFromAccountRef"}  # fmt: skip


@dataclass
class Application:
    """Money a payment or refund moves onto one invoice or credit memo."""

    target: TxnRecord
    amount: Decimal  # PaymentAmount (invoice) or RefundAmount (credit memo)
    credits: list[tuple[TxnRecord, Decimal]] = field(default_factory=list)  # SetCredit

    @property
    def paid(self) -> Decimal:
        """The part of ``amount`` that is the payment's own money (not credit used)."""
        return self.amount - sum((used for _, used in self.credits), ZERO)


@dataclass
class MoneyRecord(TxnRecord):
    """A ReceivePayment or ARRefundCreditCard: a total and what it was applied to."""

    amount: Decimal = ZERO
    applications: list[Application] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return self.amount

    def ret(self, *, include_lines: bool) -> etree._Element:
        node = etree.Element(f"{self.kind}Ret")
        for tag, text in (
            ("TxnID", self.txn_id),
            ("TimeCreated", qb_time(self.created)),
            ("TimeModified", qb_time(self.modified)),
            ("EditSequence", self.edit_sequence),
            ("TxnNumber", str(self.txn_number)),
        ):
            etree.SubElement(node, tag).text = text
        if self.customer is not None:
            node.append(self.customer.ref("CustomerRef"))
        paid = sum((a.paid for a in self.applications), ZERO)
        computed = {
            "RefNumber": self.ref_number,
            "TotalAmount": money(self.amount),
            "UnusedPayment": money(self.amount - paid),
            "UnusedCredits": "0.00",
        }
        for tag in _HEAD_ORDER[self.kind]:
            if tag in computed:
                etree.SubElement(node, tag).text = computed[tag]
            elif tag in self.header:
                node.append(_copy(self.header[tag]))
        for application in self.applications:
            node.append(self._application_ret(application))
        return node

    def _application_ret(self, application: Application) -> etree._Element:
        target = application.target
        refund = self.kind == "ARRefundCreditCard"
        ret = element("RefundAppliedToTxnRet" if refund else "AppliedToTxnRet")
        etree.SubElement(ret, "TxnID").text = target.txn_id
        etree.SubElement(ret, "TxnType").text = target.kind
        date = target.header.get("TxnDate")
        if date is not None and date.text:
            etree.SubElement(ret, "TxnDate").text = date.text
        etree.SubElement(ret, "RefNumber").text = target.ref_number
        left = target.total - target.applied
        etree.SubElement(ret, "CreditRemaining" if refund else "BalanceRemaining").text = money(
            left
        )
        etree.SubElement(ret, "RefundAmount" if refund else "Amount").text = money(application.paid)
        return ret


def _copy(node: etree._Element) -> etree._Element:
    return etree.fromstring(etree.tostring(node))


def _invalid(message: str) -> QbStatus:
    return QbStatus(3210, message)


class MoneyTxns:
    """Adds and voids ReceivePayment and ARRefundCreditCard in the company's transactions."""

    def __init__(
        self, txns: Transactions, lists: Lists, ids: Ids, clock: Callable[[], datetime]
    ) -> None:
        self.txns = txns
        self.lists = lists
        self.ids = ids
        self.clock = clock
        self._ref_numbers: dict[str, int] = {}

    def add(self, kind: str, body: etree._Element) -> MoneyRecord:
        customer_ref = body.find("CustomerRef")
        if customer_ref is None:  # the schema requires it; a request without it never gets here
            raise QbStatus(3150, f'There is a missing element: "CustomerRef" in the {kind}Add.')
        customer = self.lists.resolve(customer_ref, ("Customer",), kind)
        header: dict[str, etree._Element] = {}
        for child in children(body):
            if child.tag in _INPUTS and child.tag != "CustomerRef":
                header[child.tag] = self.lists.resolved_copy(child, kind)
        account = _DEFAULT_ACCOUNT[kind]
        if account not in header:
            ref = element(account)
            etree.SubElement(ref, "FullName").text = "Undeposited Funds"
            header[account] = self.lists.resolved_copy(ref, kind)
        ar = element("ARAccountRef")
        etree.SubElement(ar, "FullName").text = "Accounts Receivable"
        header.setdefault("ARAccountRef", self.lists.resolved_copy(ar, kind))
        header.setdefault("TxnDate", element("TxnDate", self.clock().date().isoformat()))
        if kind == "ReceivePayment":
            applications = self._payment_applications(body, customer)
            applied = sum((a.paid for a in applications), ZERO)
            total = decimal_of(body.find("TotalAmount"))
            total = applied if total is None else total
            if applied > total:
                raise _invalid(
                    f"The payment applies {money(applied)} to invoices but its TotalAmount is "
                    f"{money(total)}."
                )
        else:
            applications = self._refund_applications(body, customer)
            total = sum((a.amount for a in applications), ZERO)
        ref_number = header.pop("RefNumber", None)
        now = self.clock()
        record = MoneyRecord(
            kind=kind,
            txn_id=self.ids.txn_id(),
            txn_number=self.txns.next_txn_number(),
            created=now,
            modified=now,
            edit_sequence=self.ids.edit_sequence(),
            ref_number=ref_number.text or "" if ref_number is not None else self._next_ref(kind),
            header=header,
            customer=customer,
            amount=total,
            applications=applications,
        )
        record.subtotal = total
        for application in applications:  # everything checked: apply
            application.target.applied += application.amount
            for credit, used in application.credits:
                credit.applied += used
        self.txns.records[record.txn_id] = record
        return record

    def release(self, record: TxnRecord) -> None:
        """A void: what the payment or refund applied goes back to the invoices and credits."""
        if not isinstance(record, MoneyRecord):
            return
        for application in record.applications:
            application.target.applied -= application.amount
            for credit, used in application.credits:
                credit.applied -= used
            application.amount = ZERO
            application.credits = []
        record.amount = ZERO
        record.subtotal = ZERO

    # -- pieces ---------------------------------------------------------------------------

    def _next_ref(self, kind: str) -> str:
        self._ref_numbers[kind] = self._ref_numbers.get(kind, 0) + 1
        return str(self._ref_numbers[kind])

    def _target(self, kind: str, txn_id: str, customer: ListRecord) -> TxnRecord:
        target = self.txns.find(kind, txn_id)
        if target is None or target.voided:
            raise QbStatus(3120, f'Object "{txn_id}" specified in the request cannot be found.  ')
        if target.customer is not customer:
            raise _invalid(
                f'The {kind} "{target.ref_number}" ({txn_id}) belongs to customer '
                f'"{target.customer.full_name if target.customer else ""}", not '
                f'"{customer.full_name}".'
            )
        return target

    def _payment_applications(
        self, body: etree._Element, customer: ListRecord
    ) -> list[Application]:
        applications: list[Application] = []
        pending: dict[str, Decimal] = {}  # credit memos used so far in this payment
        for node in body.findall("AppliedToTxnAdd"):
            invoice = self._target("Invoice", node.findtext("TxnID") or "", customer)
            amount = decimal_of(node.find("PaymentAmount")) or ZERO
            credits: list[tuple[TxnRecord, Decimal]] = []
            for credit in node.findall("SetCredit"):
                memo = self._target("CreditMemo", credit.findtext("CreditTxnID") or "", customer)
                used = decimal_of(credit.find("AppliedAmount")) or ZERO
                left = memo.total - memo.applied - pending.get(memo.txn_id, ZERO)
                if used > left:
                    raise _invalid(
                        f'Credit memo "{memo.ref_number}" has {money(left)} of credit left; '
                        f"{money(used)} cannot be applied."
                    )
                pending[memo.txn_id] = pending.get(memo.txn_id, ZERO) + used
                credits.append((memo, used))
            credited = sum((used for _, used in credits), ZERO)
            open_balance = invoice.total - invoice.applied
            if amount + credited > open_balance:
                raise _invalid(
                    f'Invoice "{invoice.ref_number}" has {money(open_balance)} open; '
                    f"{money(amount + credited)} cannot be applied to it."
                )
            applications.append(Application(invoice, amount + credited, credits))
        return applications

    def _refund_applications(self, body: etree._Element, customer: ListRecord) -> list[Application]:
        applications: list[Application] = []
        for node in body.findall("RefundAppliedToTxnAdd"):
            memo = self._target("CreditMemo", node.findtext("TxnID") or "", customer)
            amount = decimal_of(node.find("RefundAmount")) or ZERO
            left = memo.total - memo.applied
            if amount > left:
                raise _invalid(
                    f'Credit memo "{memo.ref_number}" has {money(left)} of credit left; '
                    f"{money(amount)} cannot be refunded."
                )
            applications.append(Application(memo, amount))
        return applications

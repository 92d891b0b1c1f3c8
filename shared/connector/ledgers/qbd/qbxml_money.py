"""qbXML for money after the sale: ReceivePaymentAdd and ARRefundCreditCardAdd (pure).

* A paid invoice gets a ReceivePayment of the order total, applied to it, with the
  store's payment method (PaymentMethodRef) and the account the money went to
  (DepositToAccountRef; Undeposited Funds unless mapping.payments says otherwise).
* A refund of money taken is a CreditMemo whose credit is paid out by an
  ARRefundCreditCard from that same account (RefundFromAccountRef).
* A refund of an unpaid invoice is a CreditMemo applied to the invoice: a
  ReceivePayment of 0.00 whose AppliedToTxnAdd uses the credit (SetCredit).

Each carries a RefNumber and a Memo whose first line names the store record
(:func:`payment_tag`, qbxml_txns.refund_tag), so a pre-check by RefNumber after
an unknown outcome recognises our own transaction and nobody else's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from connector.config import MappingRules
from connector.ledgers.qbd.qbxml_elements import add_ref, sub
from connector.ledgers.qbd.qbxml_lists import account_full_name, check_id, customer_full_name
from connector.ledgers.qbd.qbxml_messages import QbRequest, new_request
from connector.ledgers.qbd.qbxml_text import (
    MEMO_MAX,
    PAYMENT_METHOD_MAX,
    PAYMENT_REF_NUMBER_MAX,
    REF_NUMBER_MAX,
    amount,
    fit,
    fit_note,
)
from connector.ledgers.qbd.qbxml_txns import (
    add_exchange_rate,
    order_ref_number,
    order_tag,
    refund_memo,
)
from connector.mapping import txn_date
from connector.model import Order, Refund

MoneyKind = Literal["ReceivePayment", "ARRefundCreditCard"]
MONEY_KINDS: tuple[MoneyKind, ...] = ("ReceivePayment", "ARRefundCreditCard")


def payment_ref_number(order: Order, rules: MappingRules) -> str:
    """The gateway's transaction id cut to QuickBooks' 20 characters (whole in the Memo);
    without one, the order's RefNumber. The same every time, so a retry finds it."""
    transaction = fit(order.payment.transaction_id.strip(), PAYMENT_REF_NUMBER_MAX)
    return transaction or order_ref_number(order, rules)


def payment_tag(order: Order, store: str) -> str:
    """The first Memo line of an order's ReceivePayment."""
    return f"Payment of {order_tag(order, store)}"


def payment_memo(order: Order, store: str) -> str:
    payment = order.payment
    parts = [payment_tag(order, store)]
    if payment.method_title or payment.method:
        parts.append(f"Paid by {payment.method_title or payment.method}")
    if payment.transaction_id.strip():
        parts.append(f"Payment transaction {payment.transaction_id.strip()}")
    return fit_note("\n".join(parts), MEMO_MAX)


def receive_payment_add(
    order: Order,
    *,
    customer: str,
    invoice_txn_id: str,
    total: Decimal,
    applied: Decimal,
    ref_number: str,
    payment_method: str | None,
    deposit_account: str | None,
    store: str,
    request_id: str,
    exchange_rate: Decimal | None = None,
    timezone: str | None = None,
) -> QbRequest:
    """ReceivePaymentAdd of ``total`` (the order total less what refunds credited first),
    ``applied`` of it to the invoice (the rest, if any, stays the customer's unused payment)."""
    payment = order.payment
    paid_on = payment.paid_at.date() if payment.paid_at else txn_date(order, timezone)
    request = new_request("ReceivePaymentAdd", request_id)
    body = sub(request, "ReceivePaymentAdd")
    # Schema order: CustomerRef, TxnDate, RefNumber, TotalAmount, ExchangeRate,
    # PaymentMethodRef, Memo, DepositToAccountRef, AppliedToTxnAdd.
    add_ref(body, "CustomerRef", customer_full_name(customer))
    sub(body, "TxnDate", paid_on.isoformat())
    sub(body, "RefNumber", _ref(ref_number, PAYMENT_REF_NUMBER_MAX))
    sub(body, "TotalAmount", amount(total, f"payment of order {order.number}"))
    add_exchange_rate(body, exchange_rate)
    if payment_method:
        add_ref(body, "PaymentMethodRef", fit(payment_method, PAYMENT_METHOD_MAX))
    sub(body, "Memo", payment_memo(order, store))
    if deposit_account:
        add_ref(body, "DepositToAccountRef", account_full_name(deposit_account))
    applied_to = sub(body, "AppliedToTxnAdd")
    sub(applied_to, "TxnID", check_id(invoice_txn_id, "TxnID"))
    sub(applied_to, "PaymentAmount", amount(applied, "applied amount"))
    return QbRequest(request_id, "ReceivePaymentAdd", request)


def credit_application_add(
    refund: Refund,
    *,
    customer: str,
    invoice_txn_id: str,
    credit_txn_id: str,
    ref_number: str,
    store: str,
    request_id: str,
) -> QbRequest:
    """A ReceivePayment of 0.00 that applies a credit memo's credit to the unpaid invoice."""
    request = new_request("ReceivePaymentAdd", request_id)
    body = sub(request, "ReceivePaymentAdd")
    add_ref(body, "CustomerRef", customer_full_name(customer))
    sub(body, "TxnDate", refund.created_at.date().isoformat())
    sub(body, "RefNumber", _ref(ref_number, PAYMENT_REF_NUMBER_MAX))
    sub(body, "TotalAmount", "0.00")
    sub(body, "Memo", refund_memo(refund, store))
    applied_to = sub(body, "AppliedToTxnAdd")
    sub(applied_to, "TxnID", check_id(invoice_txn_id, "TxnID"))
    sub(applied_to, "PaymentAmount", "0.00")
    credit = sub(applied_to, "SetCredit")
    sub(credit, "CreditTxnID", check_id(credit_txn_id, "CreditTxnID"))
    sub(credit, "AppliedAmount", amount(refund.amount, f"credit of refund {refund.store_id}"))
    return QbRequest(request_id, "ReceivePaymentAdd", request)


def refund_payout_add(
    refund: Refund,
    *,
    customer: str,
    credit_txn_id: str,
    ref_number: str,
    refund_from_account: str,
    payment_method: str | None,
    store: str,
    request_id: str,
    exchange_rate: Decimal | None = None,
) -> QbRequest:
    """ARRefundCreditCardAdd: the credit memo's credit paid back out of the account the
    order's money went to."""
    request = new_request("ARRefundCreditCardAdd", request_id)
    body = sub(request, "ARRefundCreditCardAdd")
    # Schema order: CustomerRef, RefundFromAccountRef, TxnDate, RefNumber, PaymentMethodRef,
    # Memo, ExchangeRate, RefundAppliedToTxnAdd.
    add_ref(body, "CustomerRef", customer_full_name(customer))
    add_ref(body, "RefundFromAccountRef", account_full_name(refund_from_account))
    sub(body, "TxnDate", refund.created_at.date().isoformat())
    sub(body, "RefNumber", _ref(ref_number, REF_NUMBER_MAX))
    if payment_method:
        add_ref(body, "PaymentMethodRef", fit(payment_method, PAYMENT_METHOD_MAX))
    sub(body, "Memo", refund_memo(refund, store))
    add_exchange_rate(body, exchange_rate)
    applied_to = sub(body, "RefundAppliedToTxnAdd")
    sub(applied_to, "TxnID", check_id(credit_txn_id, "TxnID"))
    sub(applied_to, "RefundAmount", amount(refund.amount, f"refund {refund.store_id}"))
    return QbRequest(request_id, "ARRefundCreditCardAdd", request)


def _ref(value: str, limit: int) -> str:
    fitted = fit(value, limit + 1)
    if not fitted or len(fitted) > limit:
        raise ValueError(f"RefNumber {value!r} must be 1 to {limit} characters")
    return fitted

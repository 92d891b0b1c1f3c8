"""The QuickBooks Desktop ledger adapter: the sync worker's changes go into the connection's outbox.

Nothing reaches QuickBooks here; the Web Connector carries the outbox on its
schedule (connector.ledgers.qbd.qbwc). Mapping problems that no Desktop answer
could fix (an unmapped SKU, a doc_prefix too long to leave room for a shortened
RefNumber) are raised now, so the record parks at once with its reason instead
of waiting for the PC. A long store number is not one of them: it gets a fitted
11-character RefNumber (qbxml.order_ref_number), with the full number in the Memo.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

from connector.config import Connection
from connector.errors import PermanentError
from connector.ledgers.posting import Posted
from connector.ledgers.qbd import qbxml, qbxml_money
from connector.ledgers.qbd.drain import document_kind
from connector.ledgers.qbd.outbox import (
    OutboxEntry,
    OutboxStore,
    PaymentPayload,
    RefundPayload,
    RefundWithdrawalPayload,
    WithdrawalPayload,
)
from connector.mapping import content_hash
from connector.model import ZERO, Customer, Order, Refund
from connector.state import StateStore, SyncState


class QbdLedger:
    def __init__(self, *, connection: Connection, outbox: OutboxStore, state: StateStore) -> None:
        self._connection = connection
        self._outbox = outbox
        self._state = state

    @property
    def calls(self) -> int:
        """Nothing is sent to QuickBooks from the sync worker."""
        return 0

    def post_order(self, order: Order, previous: SyncState | None) -> Posted:
        kind = (
            previous.ledger_type
            if previous
            and previous.ledger_id
            and previous.ledger_type in ("Invoice", "SalesReceipt")
            else document_kind(self._connection)
        )
        ref = qbxml.order_ref_number(order, self._connection.mapping)
        qbxml.order_line_items(order, self._connection.mapping)  # raises for a line without item
        entry = self._outbox.put(
            OutboxEntry(
                connection_id=self._connection.id,
                record_key=_order_key(self._connection.id, order.store_id),
                action="upsert_order",
                payload_json=order.model_dump_json(),
                content_hash=content_hash(order),
                ledger_type=kind,
            )
        )
        return Posted(
            "queued",
            entry.ledger_type,
            previous.ledger_id if previous else None,
            sync_token=previous.sync_token if previous else None,
            doc_number=ref,
        )

    def withdraw(self, previous: SyncState, order_store_id: str) -> Posted:
        action = "void_order" if self._connection.on_cancel == "void" else "delete_order"
        kind = (
            previous.ledger_type
            if previous.ledger_type in ("Invoice", "SalesReceipt")
            else document_kind(self._connection)
        )
        payload = WithdrawalPayload(
            order_store_id=order_store_id,
            ref_number=previous.doc_number,
            kind=kind,
        )
        self._outbox.put(
            OutboxEntry(
                connection_id=self._connection.id,
                record_key=previous.record_key,
                action=action,
                payload_json=payload.model_dump_json(),
                content_hash=f"{action}:{previous.doc_number or order_store_id}",
                ledger_type=kind,
            )
        )
        return Posted(
            "queued",
            kind,
            previous.ledger_id,
            sync_token=previous.sync_token,
            doc_number=previous.doc_number,
        )

    def upsert_customer(self, customer: Customer, previous: SyncState | None = None) -> Posted:
        if not customer.store_id:
            raise PermanentError(
                "a guest buyer is not a store customer record; it comes with its order"
            )
        self._outbox.put(
            OutboxEntry(
                connection_id=self._connection.id,
                record_key=f"{self._connection.id}#customer#{customer.store_id}",
                action="upsert_customer",
                payload_json=customer.model_dump_json(),
                content_hash=_digest(customer.model_dump_json(exclude={"modified_at"})),
                ledger_type="Customer",
            )
        )
        return Posted("queued", "Customer", previous.ledger_id if previous else None)

    def post_payment(
        self,
        order: Order,
        document: SyncState,
        previous: SyncState | None,
        credited: Decimal = ZERO,
    ) -> Posted:
        """The store's payment of the order's invoice: a ReceivePayment, queued behind the
        invoice (whose TxnID the drain reads from the order's sync state when it is its turn)."""
        ref = qbxml_money.payment_ref_number(order, self._connection.mapping)
        self._outbox.put(
            OutboxEntry(
                connection_id=self._connection.id,
                record_key=f"{self._connection.id}#payment#{order.store_id}",
                action="receive_payment",
                payload_json=PaymentPayload(order=order, credited=credited).model_dump_json(),
                content_hash=_digest(f"{order.store_id}|{ref}|{order.q(order.total)}|{credited}"),
                ledger_type="ReceivePayment",
            )
        )
        paid = order.q(order.total - credited)
        return Posted("queued", "ReceivePayment", None, doc_number=ref, total=paid)

    def post_refund(
        self, refund: Refund, order: Order, document: SyncState | None, previous: SyncState | None
    ) -> Posted:
        """A store refund becomes a CreditMemo for the order's customer, then either its refund
        out of the account the payment went to (money taken) or its credit applied to the
        unpaid invoice."""
        ref = qbxml.refund_ref_number(refund, self._connection.mapping)
        paid = order.payment.is_paid or (
            document is not None and document.ledger_type == "SalesReceipt"
        )
        payload = RefundPayload(
            refund=refund,
            customer=order.customer,
            paid=paid,
            payment_method=order.payment.method,
            exchange_rate=order.exchange_rate,
            rate_currency=order.rate_currency,
            order=order if self._connection.mapping.rules else None,
        )
        self._outbox.put(
            OutboxEntry(
                connection_id=self._connection.id,
                record_key=f"{self._connection.id}#refund#{refund.store_id}",
                action="credit_memo",
                payload_json=payload.model_dump_json(),
                content_hash=_digest(refund.model_dump_json()),
                ledger_type="CreditMemo",
            )
        )
        return Posted("queued", "CreditMemo", None, doc_number=ref, total=refund.amount)

    def withdraw_refund(self, previous: SyncState, refund_store_id: str) -> Posted:
        """A refund deleted in the store: its refund (or application) and credit memo are voided
        through the outbox, after whatever of the refund is still waiting there."""
        payload = RefundWithdrawalPayload(
            refund_store_id=refund_store_id,
            ref_number=previous.doc_number,
            credit_memo_txn_id=previous.ledger_id,
        )
        self._outbox.put(
            OutboxEntry(
                connection_id=self._connection.id,
                record_key=previous.record_key,
                action="void_refund",
                payload_json=payload.model_dump_json(),
                content_hash=f"void_refund:{previous.doc_number or refund_store_id}",
                ledger_type="CreditMemo",
            )
        )
        # Queued: the Web Connector's session records the void, or parks it with a reason.
        return Posted(
            "queued",
            "CreditMemo",
            previous.ledger_id,
            sync_token=previous.sync_token,
            doc_number=previous.doc_number,
        )


def _order_key(connection_id: str, store_id: str) -> str:
    return f"{connection_id}#order#{store_id}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

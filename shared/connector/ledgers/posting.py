"""What every ledger adapter offers the sync worker, and what it reports back.

QuickBooks Online posts at once; QuickBooks Desktop queues into the
connection's outbox for the Web Connector to carry ("queued").
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol, runtime_checkable

from connector.model import Customer, Order, Refund
from connector.state import SyncState

Operation = Literal["created", "updated", "adopted", "voided", "deleted", "queued"]


@dataclass(frozen=True)
class Posted:
    """What the ledger now holds (or will hold, once queued work is carried) for a store record."""

    operation: Operation
    ledger_type: str
    ledger_id: str | None
    sync_token: str | None = None
    doc_number: str | None = None
    total: Decimal | None = None
    # Where the store's figures were kept over the ledger's own, in words for the audit trail
    # (QuickBooks Online: a tax rate whose amount differs from what QuickBooks would compute).
    adjustments: tuple[str, ...] = ()


class Ledger(Protocol):
    @property
    def calls(self) -> int:
        """Requests made to the ledger (benchmarks count them)."""
        ...

    def post_order(self, order: Order, previous: SyncState | None) -> Posted: ...

    def withdraw(self, previous: SyncState, order_store_id: str) -> Posted: ...

    def upsert_customer(self, customer: Customer, previous: SyncState | None = None) -> Posted: ...

    def post_refund(
        self, refund: Refund, order: Order, document: SyncState | None, previous: SyncState | None
    ) -> Posted:
        """Give money back: a refund receipt for money taken, a credit memo against an unpaid
        invoice. ``document`` is the order's sync state (None: never posted)."""
        ...

    def withdraw_refund(self, previous: SyncState, refund_store_id: str) -> Posted:
        """A refund deleted in the store: withdraw its document."""
        ...


@runtime_checkable
class PaymentLedger(Protocol):
    """A ledger that records the store's payment of an invoice against it."""

    def post_payment(
        self, order: Order, document: SyncState, previous: SyncState | None, credited: Decimal
    ) -> Posted:
        """``credited``: refunds already credited to the unpaid invoice; the buyer pays the rest."""
        ...

"""The pieces the Desktop drain's planners share: one entry's work, its decision, what it needs.

Kept apart from drain.py so the planners for orders and customers (drain.py) and for
money after the sale (drain_money.py) build on the same types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from connector.ledgers.qbd import qbxml
from connector.ledgers.qbd.outbox import OutboxEntry
from connector.ledgers.qbd.qbxml_queries import AnyTxnKind

# "step": the first of an entry's two writes is in QuickBooks (a refund's credit memo):
# its id is recorded and the entry waits for its second write.
Outcome = Literal["posted", "withdrawn", "customer", "again", "retry", "park", "step"]


@dataclass(frozen=True)
class Work:
    """One waiting outbox entry with what DynamoDB already knows about its record."""

    entry: OutboxEntry
    txn_id: str | None = None  # the Desktop transaction already holding this record
    edit_sequence: str | None = None
    customer_name: str | None = None  # the mapped customer FullName for the buyer
    known_items: frozenset[str] = frozenset()  # lower-cased item names known to exist
    refresh_txn: bool = False  # QuickBooks said our EditSequence is stale (3200)
    attempts_3140: int = 0
    # A payment's or refund's order: its invoice (or sales receipt) TxnID and total, once posted.
    order_txn_id: str | None = None
    order_total: Decimal | None = None

    @property
    def uncertain(self) -> bool:
        """A write for it was sent and its answer never read: it may already be in QuickBooks."""
        return self.entry.status == "sent"


@dataclass(frozen=True)
class Decision:
    seq: int
    outcome: Outcome
    reason: str = ""
    why: str = ""  # for "again": "3140" (re-resolve references) or "3200" (re-query, then modify)
    operation: str = ""  # created, updated, adopted, voided, deleted
    ledger_type: str = ""
    txn_id: str | None = None
    edit_sequence: str | None = None
    total: Decimal | None = None
    ref_number: str | None = None
    customer_key: str | None = None  # the buyer's match key, mapped to customer_name once posted
    customer_name: str | None = None


@dataclass
class Needs:
    customer_queries: list[str] = field(default_factory=list)
    item_names: list[str] = field(default_factory=list)
    txn_queries: list[tuple[AnyTxnKind, str]] = field(default_factory=list)
    preferences: bool = False  # the company's currency facts are not known yet

    def empty(self) -> bool:
        return not (
            self.customer_queries or self.item_names or self.txn_queries or self.preferences
        )


class Park(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Writes:
    requests: list[tuple[str, dict[str, Any], qbxml.QbRequest]] = field(default_factory=list)
    decision: Decision | None = None  # decided without a write (adopted, nothing to withdraw)

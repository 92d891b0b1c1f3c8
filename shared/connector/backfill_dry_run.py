"""What a backfill would do with each order, decided from the store alone: nothing is written.

Each order in the window is fetched and normalised as the worker would, then judged by
the rules the worker applies before it calls QuickBooks: the figures add up, the status
posts, every line has an item (a mapped SKU, auto-created items or the fallback item), every
tax rate has a QuickBooks tax code, the document number fits. What QuickBooks itself may
still refuse (an inactive item, a class it lacks) only a real post finds out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from connector.config import Connection
from connector.errors import PermanentError
from connector.ledgers.qbd import qbxml
from connector.mapping import doc_number, tax_code_names_needed
from connector.model import Order, TotalsMismatch
from connector.revenue_rules import decide, line_items
from connector.stores.port import HistoricOrder, Store, StoreRecordMissing, StoreRecordNotFound

Verdict = Literal["post", "park", "not posted"]


@dataclass(frozen=True)
class Judged:
    record_id: str
    verdict: Verdict
    why: str = ""
    number: str = ""
    total: Decimal | None = None
    currency: str = ""

    def text(self) -> str:
        number = f"{self.number} " if self.number else ""
        name = f"order {number}(id {self.record_id})"
        if self.verdict == "post":
            return f"would post      {name}: {self.total} {self.currency}"
        label = "would park" if self.verdict == "park" else "would not post"
        return f"{label:<15} {name}: {self.why}"


def judge(store: Store, connection: Connection, record_id: str) -> Judged:
    """The worker's verdict on one order, without QuickBooks."""
    try:
        order = store.get_order(record_id)
    except TotalsMismatch as exc:
        return Judged(record_id, "park", f"the store's figures do not add up: {exc}")
    except (StoreRecordNotFound, StoreRecordMissing) as exc:
        return Judged(record_id, "not posted", f"the store no longer has it ({exc.reason})")

    def verdict(kind: Verdict, why: str = "") -> Judged:
        return Judged(record_id, kind, why, order.number, order.total, order.currency)

    if order.status in connection.cancel_statuses:
        return verdict("not posted", f"status {order.status} (cancelled)")
    if order.status not in (*connection.post_statuses, *connection.refund_statuses):
        posting = ", ".join(connection.post_statuses)
        return verdict(
            "not posted", f"status {order.status} does not post (posting statuses: {posting})"
        )
    try:
        _check_mapping(order, connection)
    except PermanentError as exc:
        return verdict("park", exc.reason)
    return verdict("post")


def _check_mapping(order: Order, connection: Connection) -> None:
    rules = connection.mapping
    if connection.ledger.kind == "qbd":
        qbxml.order_ref_number(order, rules)
        qbxml.order_line_items(order, rules)
        return
    doc_number(order, rules)
    line_items(order, rules, decide(order, rules))
    tax_code_names_needed(order, rules)


def judge_all(
    store: Store, connection: Connection, orders: Iterable[HistoricOrder]
) -> Iterable[Judged]:
    for order in orders:
        yield judge(store, connection, order.record_id)


def summary(judged: list[Judged]) -> str:
    counts = Counter(j.verdict for j in judged)
    totals: dict[str, Decimal] = {}
    for j in judged:
        if j.verdict == "post" and j.total is not None:
            totals[j.currency] = totals.get(j.currency, Decimal(0)) + j.total
    money = "; ".join(f"{currency} {total:,.2f}" for currency, total in sorted(totals.items()))
    text = f"{len(judged)} orders: {counts['post']} would post"
    if money:
        text += f" ({money})"
    return f"{text}, {counts['park']} would park, {counts['not posted']} would not post"

"""The Desktop outbox: QuickBooks Desktop work waiting for the Web Connector, in order per connection.

OUTBOX_TABLE keys (pk / sk):
  <conn>          / <seq, 12 digits>       one entry, drained in seq order
  <conn>#seq      / COUNTER                the last seq handed out (atomic counter)
  <conn>#dedup    / <record>#<action>#<hash>  the entry already queued for that content
  <conn>#done     / <seq, 12 digits>       an entry QuickBooks has (moved out of <conn>)

Statuses: pending (waiting), sent (in a qbXML message whose answer has not been
read: the outcome is unknown), done, parked (needs a person; replay re-queues it).
Done entries leave the connection's partition, so reading what waits costs the
same after a million orders as after ten (a filtered query still reads every
item it skips).

Retention (connector.retention): a done entry keeps ids, hashes and amounts, not the
order's names, addresses or e-mails, and expires retention_days after QuickBooks took it.
Waiting and parked entries keep their payload and never expire: they are work not yet
done. Dedup items (ids and a hash) expire retention_days after they were written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import boto3
from boto3.dynamodb.conditions import Attr, Key
from pydantic import BaseModel, ConfigDict, PrivateAttr

from connector import dynamo_batch
from connector.dynamo_batch import Write
from connector.model import Customer, Order, Refund
from connector.retention import DEFAULT_RETENTION_DAYS, expires_at
from connector.state import AuditTrail, ConcurrentUpdate, StateStore

OutboxAction = Literal[
    "upsert_order",
    "void_order",
    "delete_order",
    "upsert_customer",
    "credit_memo",
    "receive_payment",
    "void_refund",
]
OutboxStatus = Literal["pending", "sent", "done", "failed", "parked"]
MarkStatus = Literal["pending", "sent", "failed", "parked"]  # done is finish()
WAITING: tuple[OutboxStatus, ...] = ("pending", "sent")
_SEQ_WIDTH = 12


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class WithdrawalPayload(BaseModel):
    """What a void or delete of an order carries."""

    order_store_id: str
    ref_number: str | None = None
    kind: Literal["Invoice", "SalesReceipt"] = "Invoice"


class RefundPayload(BaseModel):
    """What a store refund carries: a credit memo, then (``paid``) its refund out of the
    account the order's money went to, or (unpaid) its credit applied to the invoice."""

    refund: Refund
    customer: Customer
    paid: bool = True
    payment_method: str = ""  # the store's: mapping.payments says where its money went
    exchange_rate: Decimal | None = None  # the order's rate, for a foreign currency
    rate_currency: str | None = None  # what the rate converts into (None: the home currency)
    # The refunded order, where revenue rules apply: refunded lines go back on the items and
    # under the classes they were sold on.
    order: Order | None = None


class PaymentPayload(BaseModel):
    """What a ReceivePayment of a paid invoice carries: the order as it was paid, and what
    refunds had already credited to the invoice (the buyer paid the rest)."""

    order: Order
    credited: Decimal = Decimal("0")


class RefundWithdrawalPayload(BaseModel):
    """A refund deleted in the store: void its credit memo and what paid or applied it."""

    refund_store_id: str
    ref_number: str | None = None
    credit_memo_txn_id: str | None = None


Payload = (
    Order | Customer | RefundPayload | WithdrawalPayload | PaymentPayload | RefundWithdrawalPayload
)


def order_record_key(connection_id: str, order_store_id: str) -> str:
    """The sync state key of a store order (the sync worker's)."""
    return f"{connection_id}#order#{order_store_id}"


def order_of(payload: Payload) -> str | None:
    """The store order a payment or refund entry belongs to (its invoice must go first)."""
    if isinstance(payload, PaymentPayload):
        return payload.order.store_id
    if isinstance(payload, RefundPayload):
        return payload.refund.order_store_id
    return None


class OutboxEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    connection_id: str
    seq: int = 0  # given by OutboxStore.put
    record_key: str  # "<conn>#order#<id>", as in the sync state
    action: OutboxAction
    payload_json: str  # canonical Order / Customer / Refund JSON, or a withdrawal's ids
    content_hash: str
    status: OutboxStatus = "pending"
    attempts: int = 0
    last_error: str | None = None
    created_at: str = ""
    updated_at: str = ""
    ledger_type: str = ""  # Invoice, SalesReceipt, Customer, CreditMemo or ReceivePayment
    message_set_id: str | None = None  # the qbXML message that carried it (status sent)
    # A done entry's: what it carried in place of its payload, and when DynamoDB may delete it.
    amount: Decimal | None = None
    currency: str | None = None
    expires_at: int | None = None

    _payload: Payload | None = PrivateAttr(default=None)

    @property
    def record_id(self) -> str:
        return self.record_key.rsplit("#", 1)[-1]

    def payload(self) -> Payload:
        """The record the entry carries, parsed once: a round reads it several times."""
        if self._payload is None and not self.payload_json:
            raise ValueError(
                f"outbox entry {self.seq} of {self.connection_id} is done and keeps no payload"
            )
        if self._payload is None:
            if self.action == "upsert_order":
                self._payload = Order.model_validate_json(self.payload_json)
            elif self.action == "upsert_customer":
                self._payload = Customer.model_validate_json(self.payload_json)
            elif self.action == "credit_memo":
                self._payload = RefundPayload.model_validate_json(self.payload_json)
            elif self.action == "receive_payment":
                self._payload = PaymentPayload.model_validate_json(self.payload_json)
            elif self.action == "void_refund":
                self._payload = RefundWithdrawalPayload.model_validate_json(self.payload_json)
            else:
                self._payload = WithdrawalPayload.model_validate_json(self.payload_json)
        return self._payload


class OutboxStore:
    def __init__(
        self,
        table_name: str,
        *,
        resource: Any | None = None,
        retention_days: int = DEFAULT_RETENTION_DAYS,
    ) -> None:
        self._table = (resource or boto3.resource("dynamodb")).Table(table_name)
        self._retention_days = retention_days

    @staticmethod
    def _sk(seq: int) -> str:
        return str(seq).zfill(_SEQ_WIDTH)

    def _next_seq(self, connection_id: str) -> int:
        answer = self._table.update_item(
            Key={"pk": f"{connection_id}#seq", "sk": "COUNTER"},
            UpdateExpression="ADD #n :one",
            ExpressionAttributeNames={"#n": "last"},
            ExpressionAttributeValues={":one": 1},
            ReturnValues="UPDATED_NEW",
        )
        return int(str(answer["Attributes"]["last"]))

    def put(self, entry: OutboxEntry) -> OutboxEntry:
        """Queue an entry; the same content for the same record and action is queued once.

        While an entry for that content is still waiting, it is returned instead of a
        new one; once it is done or parked, the same content may be queued again.
        """
        conn = entry.connection_id
        dedup_key = {
            "pk": f"{conn}#dedup",
            "sk": f"{entry.record_key}#{entry.action}#{entry.content_hash}",
        }
        existing = self._table.get_item(Key=dedup_key, ConsistentRead=True).get("Item")
        if existing:
            earlier = self.get(conn, int(str(existing["seq"])))
            if earlier is not None and earlier.status in WAITING:
                return earlier
        seq = self._next_seq(conn)
        now = _now()
        stored = entry.model_copy(
            update={"seq": seq, "status": "pending", "created_at": now, "updated_at": now}
        )
        self._table.put_item(
            Item={"pk": conn, "sk": self._sk(seq), **stored.model_dump(exclude_none=True)}
        )
        self._table.put_item(
            Item={**dedup_key, "seq": seq, "expires_at": expires_at(self._retention_days)}
        )
        return stored

    def get(self, connection_id: str, seq: int) -> OutboxEntry | None:
        """An entry still in the connection's partition (waiting or parked), or None."""
        item = self._table.get_item(
            Key={"pk": connection_id, "sk": self._sk(seq)}, ConsistentRead=True
        ).get("Item")
        return _entry(item) if item else None

    def get_many(self, connection_id: str, seqs: Iterable[int]) -> dict[int, OutboxEntry]:
        """Several entries of the connection's partition in one call, by seq."""
        keys = [(connection_id, self._sk(seq)) for seq in dict.fromkeys(seqs)]
        items = dynamo_batch.get_many(self._table.meta.client, self._table.name, keys)
        return {entry.seq: entry for entry in map(_entry, items.values())}

    def entries(
        self, connection_id: str, statuses: tuple[OutboxStatus, ...] | None = None
    ) -> Iterator[OutboxEntry]:
        """Entries not done, in seq order, optionally only those with one of ``statuses``."""
        return self._query(connection_id, statuses)

    def finished(self, connection_id: str) -> Iterator[OutboxEntry]:
        """Entries QuickBooks has, in seq order."""
        return self._query(f"{connection_id}#done", None)

    def _query(
        self, pk: str, statuses: tuple[OutboxStatus, ...] | None, *, page_size: int | None = None
    ) -> Iterator[OutboxEntry]:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(pk),
            "ConsistentRead": True,
        }
        if statuses:
            kwargs["FilterExpression"] = Attr("status").is_in(list(statuses))
        if page_size:
            kwargs["Limit"] = page_size
        for page in self._pages(kwargs):
            yield from map(_entry, page.get("Items", []))

    def _pages(self, kwargs: dict[str, Any]) -> Iterator[Any]:
        """The pages of one query, each asked for when the last is used up."""
        while True:
            page = self._table.query(**kwargs)
            yield page
            if "LastEvaluatedKey" not in page:
                return
            kwargs = {**kwargs, "ExclusiveStartKey": page["LastEvaluatedKey"]}

    def pending(self, connection_id: str, limit: int) -> list[OutboxEntry]:
        """The first ``limit`` entries still waiting (pending or sent), in order."""
        found: list[OutboxEntry] = []
        # Pages of about what is wanted: the partition holds waiting entries and a few
        # parked ones, and a query without a Limit would read (and bill) all of them.
        for entry in self._query(connection_id, WAITING, page_size=limit + 5):
            found.append(entry)
            if len(found) >= limit:
                break
        return found

    def count_waiting(self, connection_id: str) -> int:
        """How many entries wait; DynamoDB counts them, no entry is transferred."""
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(connection_id),
            "FilterExpression": Attr("status").is_in(list(WAITING)),
            "Select": "COUNT",
            "ConsistentRead": True,
        }
        return sum(int(page.get("Count", 0)) for page in self._pages(kwargs))

    def mark(
        self,
        connection_id: str,
        seq: int,
        status: MarkStatus,
        *,
        last_error: str | None = None,
        message_set_id: str | None = None,
        count_attempt: bool = False,
    ) -> OutboxEntry:
        """Set one entry's status (see :func:`marked`); LookupError when it is not there."""
        entry = self.get(connection_id, seq)
        if entry is None:
            raise LookupError(f"no outbox entry {seq} for {connection_id}")
        changed = marked(
            entry,
            status,
            last_error=last_error,
            message_set_id=message_set_id,
            count_attempt=count_attempt,
        )
        dynamo_batch.write_one(self._table.meta.client, self.entry_put(changed))
        return changed

    def entry_put(self, entry: OutboxEntry) -> Write:
        """The write that stores an entry as it is now: waiting or parked in the connection's
        partition, done in the done partition (see :meth:`finish_writes`).

        A whole-item put, so it batches; one Web Connector session at a time changes
        a connection's entries, and replay only touches parked ones.
        """
        pk = entry.connection_id + ("#done" if entry.status == "done" else "")
        item = {"pk": pk, "sk": self._sk(entry.seq), **entry.model_dump(exclude_none=True)}
        return dynamo_batch.put(self._table.name, item)

    def finish_writes(self, entry: OutboxEntry) -> list[Write]:
        """The writes that move an entry QuickBooks has to the done partition, stripped of
        what it no longer needs (see :func:`stripped`) and expiring after the retention."""
        done = stripped(entry).model_copy(
            update={
                "status": "done",
                "updated_at": _now(),
                "message_set_id": None,
                "expires_at": expires_at(self._retention_days),
            }
        )
        key = {"pk": entry.connection_id, "sk": self._sk(entry.seq)}
        return [dynamo_batch.delete(self._table.name, key), self.entry_put(done)]

    def finish(self, connection_id: str, seq: int) -> bool:
        """Move one waiting entry to done; False when it was not waiting."""
        entry = self.get(connection_id, seq)
        if entry is None or entry.status not in WAITING:
            return False
        dynamo_batch.write_all(self._table.meta.client, self.finish_writes(entry))
        return True


def stripped(entry: OutboxEntry) -> OutboxEntry:
    """``entry`` as a done entry keeps it: its ids, content hash and the amount it carried.

    Orders, customers, refunds and payments carry names, addresses and e-mails; nothing reads
    a done entry's payload (re-posts and duplicates are decided from the sync state, the
    dedup items and QuickBooks itself), so it goes. Withdrawals carry only ids and stay.
    An error text may quote a customer's name, so it goes too.
    """
    try:
        payload = entry.payload()
    except ValueError:  # unreadable (or stripped already): QuickBooks has it, it goes all the same
        return entry.model_copy(update={"payload_json": "", "last_error": None})
    if isinstance(payload, WithdrawalPayload | RefundWithdrawalPayload):
        return entry.model_copy(update={"last_error": None})
    amount, currency = _amount_of(payload)
    return entry.model_copy(
        update={"payload_json": "", "amount": amount, "currency": currency, "last_error": None}
    )


def _amount_of(payload: Payload) -> tuple[Decimal | None, str | None]:
    """The money an entry carried, in its currency (a customer carries none)."""
    if isinstance(payload, PaymentPayload):
        return payload.order.q(payload.order.total - payload.credited), payload.order.currency
    if isinstance(payload, Order):
        return payload.q(payload.total), payload.currency
    if isinstance(payload, RefundPayload):
        return payload.refund.amount, payload.refund.currency
    return None, None


def marked(
    entry: OutboxEntry,
    status: MarkStatus,
    *,
    last_error: str | None = None,
    message_set_id: str | None = None,
    count_attempt: bool = False,
) -> OutboxEntry:
    """``entry`` with a new status; the message set is kept only while it is "sent"."""
    changes: dict[str, Any] = {"status": status, "updated_at": _now()}
    if last_error is not None:
        changes["last_error"] = last_error
    if message_set_id is not None:
        changes["message_set_id"] = message_set_id
    elif status != "sent":
        changes["message_set_id"] = None
    if count_attempt:
        changes["attempts"] = entry.attempts + 1
    return entry.model_copy(update=changes)


def _entry(item: dict[str, Any]) -> OutboxEntry:
    plain = {k: (int(v) if k in ("seq", "attempts", "expires_at") else v) for k, v in item.items()}
    return OutboxEntry.model_validate(plain)


def requeue_parked(
    connection_id: str,
    record_id: str | None = None,
    *,
    outbox: OutboxStore,
    state: StateStore,
    audit: AuditTrail,
) -> list[OutboxEntry]:
    """Send parked Desktop work again on the next Web Connector run (``connector replay``).

    ``record_id`` limits it to one store record (order or customer id). Each entry
    goes back to pending in its original place in the order; its record's sync
    state becomes queued and the audit trail says it was replayed.
    """
    requeued: list[OutboxEntry] = []
    for entry in outbox.entries(connection_id, ("parked", "failed")):
        if record_id is not None and entry.record_id != str(record_id):
            continue
        outbox.mark(connection_id, entry.seq, "pending", last_error="")
        requeued.append(entry.model_copy(update={"status": "pending", "last_error": ""}))
        for _ in range(3):
            current = state.get_sync_state(entry.record_key)
            if current is None or current.status != "parked":
                break
            try:
                state.put_sync_state(
                    current.model_copy(update={"status": "queued", "last_error": None})
                )
                break
            except ConcurrentUpdate:
                continue
        audit.append(
            entry.record_key,
            "replayed",
            f"queued again for the Web Connector ({entry.action.replace('_', ' ')})",
            detail={"outbox_seq": entry.seq, "previous_error": entry.last_error or ""},
        )
    return requeued

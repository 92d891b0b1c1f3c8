"""The Desktop outbox: QuickBooks Desktop work waiting for the Web Connector, in order per connection.

OUTBOX_TABLE keys (pk / sk):
  <conn>          / <seq, 12 digits>       one entry, drained in seq order
  <conn>#seq      / COUNTER                the last seq handed out (atomic counter)
  <conn>#dedup    / <record>#<action>#<hash>  the entry already queued for that content

Statuses: pending (waiting), sent (in a qbXML message whose answer has not been
read: the outcome is unknown), done, parked (needs a person; replay re-queues it).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal

import boto3
from boto3.dynamodb.conditions import Attr, Key
from pydantic import BaseModel, ConfigDict

from connector.state import AuditTrail, ConcurrentUpdate, StateStore

OutboxAction = Literal[
    "upsert_order", "void_order", "delete_order", "upsert_customer", "credit_memo"
]
OutboxStatus = Literal["pending", "sent", "done", "failed", "parked"]
WAITING: tuple[OutboxStatus, ...] = ("pending", "sent")
_SEQ_WIDTH = 12


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


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
    ledger_type: str = ""  # Invoice, SalesReceipt, Customer or CreditMemo
    message_set_id: str | None = None  # the qbXML message that carried it (status sent)

    @property
    def record_id(self) -> str:
        return self.record_key.rsplit("#", 1)[-1]


class OutboxStore:
    def __init__(self, table_name: str, *, resource: Any | None = None) -> None:
        self._table = (resource or boto3.resource("dynamodb")).Table(table_name)

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
        self._table.put_item(Item={**dedup_key, "seq": seq})
        return stored

    def get(self, connection_id: str, seq: int) -> OutboxEntry | None:
        item = self._table.get_item(
            Key={"pk": connection_id, "sk": self._sk(seq)}, ConsistentRead=True
        ).get("Item")
        return _entry(item) if item else None

    def entries(
        self, connection_id: str, statuses: tuple[OutboxStatus, ...] | None = None
    ) -> Iterator[OutboxEntry]:
        """Entries in seq order, optionally only those with one of ``statuses``."""
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(connection_id),
            "ConsistentRead": True,
        }
        if statuses:
            kwargs["FilterExpression"] = Attr("status").is_in(list(statuses))
        while True:
            page = self._table.query(**kwargs)
            for item in page.get("Items", []):
                yield _entry(item)
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def pending(self, connection_id: str, limit: int) -> list[OutboxEntry]:
        """The first ``limit`` entries still waiting (pending or sent), in order."""
        found: list[OutboxEntry] = []
        for entry in self.entries(connection_id, WAITING):
            found.append(entry)
            if len(found) >= limit:
                break
        return found

    def count_waiting(self, connection_id: str) -> int:
        return sum(1 for _ in self.entries(connection_id, WAITING))

    def mark(
        self,
        connection_id: str,
        seq: int,
        status: OutboxStatus,
        *,
        last_error: str | None = None,
        message_set_id: str | None = None,
        count_attempt: bool = False,
    ) -> None:
        names = {"#s": "status", "#u": "updated_at"}
        values: dict[str, Any] = {":s": status, ":u": _now()}
        sets = ["#s = :s", "#u = :u"]
        removes: list[str] = []
        if last_error is not None:
            sets.append("last_error = :e")
            values[":e"] = last_error
        if message_set_id is not None:
            sets.append("message_set_id = :m")
            values[":m"] = message_set_id
        elif status != "sent":
            removes.append("message_set_id")
        if count_attempt:
            sets.append("attempts = if_not_exists(attempts, :zero) + :one")
            values.update({":zero": 0, ":one": 1})
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        self._table.update_item(
            Key={"pk": connection_id, "sk": self._sk(seq)},
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ConditionExpression=Attr("pk").exists(),
        )


def _entry(item: dict[str, Any]) -> OutboxEntry:
    plain = {k: (int(v) if k in ("seq", "attempts") else v) for k, v in item.items()}
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

"""What the connector last wrote into the store for one record (state table, sk ``WRITTEN``).

Kept beside the record's sync state (``<conn>#ledger_item#<id>``, and for a store customer the
connector wrote, ``<conn>#customer#<store id>``): the store record it is linked to and each
field's value as written. The next change compares with it (``fields.to_write``) and the store
→ QuickBooks path recognises its own writes coming back by it (``echo``).

A customer write is also announced before it is sent (sk ``WRITING``, by store id for an
update, by e-mail for a create): the store's webhook for it can be worked before the answer is
recorded, and the echo check then waits for the answer instead of guessing (decision 76).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict


class Written(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    store_id: str
    parent_id: str | None = None  # a variation's product
    fields: dict[str, str] = {}
    ledger_key: str | None = None  # on a store record's entry: the ledger record it came from


class Writing(BaseModel):
    """A store write sent and not yet answered (or whose answer is not yet recorded)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    ledger_key: str
    since: datetime

    def recent(self, bound: timedelta, now: datetime | None = None) -> bool:
        return (now or datetime.now(UTC)) - self.since < bound


def customer_key(connection_id: str, store_id: str) -> str:
    """A store customer's record key (as its webhooks' messages name it)."""
    return f"{connection_id}#customer#{store_id}"


def new_customer_key(connection_id: str, email: str) -> str:
    """Where a customer the connector is creating is announced: its store id is not known
    until the store answers, its e-mail is (the store matches customers by it)."""
    return f"{connection_id}#customer_email#{email.strip().lower()}"


class WrittenStore:
    def __init__(self, table: Any) -> None:
        self._table = table

    def get(self, record_key: str) -> Written | None:
        item = self._table.get_item(
            Key={"pk": record_key, "sk": "WRITTEN"}, ConsistentRead=True
        ).get("Item")
        return Written.model_validate(item) if item else None

    def put(self, record_key: str, written: Written) -> None:
        item: Mapping[str, Any] = {
            "pk": record_key,
            "sk": "WRITTEN",
            "updated_at": datetime.now(UTC).isoformat(),
            **written.model_dump(exclude_none=True),
        }
        self._table.put_item(Item=dict(item))

    def begin(self, record_key: str, ledger_key: str) -> None:
        """Announce a write into the store record ``record_key`` before sending it."""
        self._table.put_item(
            Item={
                "pk": record_key,
                "sk": "WRITING",
                "ledger_key": ledger_key,
                "since": datetime.now(UTC).isoformat(),
            }
        )

    def writing(self, record_key: str) -> Writing | None:
        item = self._table.get_item(
            Key={"pk": record_key, "sk": "WRITING"}, ConsistentRead=True
        ).get("Item")
        return Writing.model_validate(item) if item else None

    def end(self, record_key: str) -> None:
        """The write's answer is recorded (or it was refused): nothing is being written."""
        self._table.delete_item(Key={"pk": record_key, "sk": "WRITING"})

    def invoices_from(self, connection_id: str) -> date:
        """The day the connection first carried QuickBooks invoices (set on first asking)."""
        key = {"pk": f"{connection_id}#both_ways", "sk": "INVOICES_FROM"}
        item = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
        if item:
            return date.fromisoformat(str(item["day"]))
        day = datetime.now(UTC).date()
        try:
            self._table.put_item(
                Item={**key, "day": day.isoformat()},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return self.invoices_from(connection_id)
        return day

"""What the connector last wrote into the store for one record (state table, sk ``WRITTEN``).

Kept beside the record's sync state (``<conn>#ledger_item#<id>``, and for a store customer the
connector wrote, ``<conn>#customer#<store id>``): the store record it is linked to and each
field's value as written. The next change compares with it (``fields.to_write``) and the store
→ QuickBooks path recognises its own writes coming back by it (``echo``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict


class Written(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    store_id: str
    parent_id: str | None = None  # a variation's product
    fields: dict[str, str] = {}
    ledger_key: str | None = None  # on a store record's entry: the ledger record it came from


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

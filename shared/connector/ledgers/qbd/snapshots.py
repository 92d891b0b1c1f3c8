"""What the Web Connector last brought back from QuickBooks Desktop: items, customers, and
how far each query has read (state table).

Desktop cannot be asked between Web Connector sessions, so the QuickBooks → store direction
works from these snapshots (connector.ledgers.qbd.changes). Keys (pk / sk):
  <conn>#qbd#ledger_item      / <ListID>   the item as its last session returned it
  <conn>#qbd#ledger_customer  / <ListID>   the customer likewise
  <conn>#qbd#changes          / <query>    the watermark of one query (ItemInventory, ...):
                                           the latest TimeModified of a query read to its end;
                                           ListDeleted: the latest TimeDeleted; StockRecount:
                                           when the last full stock read ended (UTC)
  <conn>#qbd#parents          / <FullName, casefolded>  an item some sub-item sits under:
                                           Desktop's way of making a category
A snapshot holds a customer's names and addresses; it expires retention_days after it was
written, like the audit trail.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Literal

import boto3
from boto3.dynamodb.conditions import Key

from connector import dynamo_batch
from connector.dynamo_batch import Write
from connector.ledger_records import LedgerCustomer, LedgerItem
from connector.retention import DEFAULT_RETENTION_DAYS, expires_at

SnapshotEntity = Literal["ledger_item", "ledger_customer"]
Snapshot = LedgerItem | LedgerCustomer


def entity_of(record: Snapshot) -> SnapshotEntity:
    return "ledger_item" if isinstance(record, LedgerItem) else "ledger_customer"


class SnapshotStore:
    def __init__(
        self,
        table_name: str,
        *,
        resource: Any | None = None,
        retention_days: int = DEFAULT_RETENTION_DAYS,
    ) -> None:
        self._table = (resource or boto3.resource("dynamodb")).Table(table_name)
        self._retention_days = retention_days

    # --- snapshots -----------------------------------------------------------------------
    def snapshot_puts(
        self, connection_id: str, records: Sequence[Snapshot], *, deleted: bool = False
    ) -> list[Write]:
        """The writes that keep ``records`` as their session returned them (batchable);
        ``deleted``: items QuickBooks reported deleted (kept inactive, marked so)."""
        return [
            dynamo_batch.put(
                self._table.name,
                {
                    "pk": f"{connection_id}#qbd#{entity_of(record)}",
                    "sk": record.ledger_id,
                    "record": record.model_dump_json(),
                    "edit_sequence": record.version,
                    "time_modified": record.updated_at.isoformat() if record.updated_at else "",
                    "expires_at": expires_at(self._retention_days),
                    **({"deleted": True} if deleted else {}),
                },
            )
            for record in records
        ]

    def items_held(
        self, connection_id: str, ledger_ids: Sequence[str]
    ) -> dict[str, tuple[LedgerItem, bool]]:
        """The item snapshots kept for ``ledger_ids`` (batched reads): each with whether
        QuickBooks reported it deleted."""
        pk = f"{connection_id}#qbd#ledger_item"
        keys = [(pk, ledger_id) for ledger_id in dict.fromkeys(ledger_ids)]
        found = dynamo_batch.get_many(self._table.meta.client, self._table.name, keys)
        return {
            sk: (LedgerItem.model_validate_json(str(item["record"])), bool(item.get("deleted")))
            for (_, sk), item in found.items()
        }

    def parent_puts(self, connection_id: str, records: Sequence[Snapshot]) -> list[Write]:
        """The writes that remember every item a sub-item of ``records`` sits under."""
        parents = {
            ":".join(record.category_path[:depth]).casefold()
            for record in records
            if isinstance(record, LedgerItem)
            for depth in range(1, len(record.category_path) + 1)
        }
        return [
            dynamo_batch.put(
                self._table.name,
                {
                    "pk": f"{connection_id}#qbd#parents",
                    "sk": parent,
                    "expires_at": expires_at(self._retention_days),
                },
            )
            for parent in sorted(parents)
        ]

    def is_parent(self, connection_id: str, full_name: str) -> bool:
        item = self._table.get_item(
            Key={"pk": f"{connection_id}#qbd#parents", "sk": full_name.casefold()},
            ConsistentRead=True,
        ).get("Item")
        return item is not None

    def write_all(self, writes: Sequence[Write]) -> None:
        dynamo_batch.write_all(self._table.meta.client, writes)

    def _get(self, connection_id: str, entity: SnapshotEntity, ledger_id: str) -> str | None:
        item = self._table.get_item(
            Key={"pk": f"{connection_id}#qbd#{entity}", "sk": ledger_id}, ConsistentRead=True
        ).get("Item")
        return str(item["record"]) if item else None

    def item(self, connection_id: str, ledger_id: str) -> LedgerItem | None:
        found = self._get(connection_id, "ledger_item", ledger_id)
        return LedgerItem.model_validate_json(found) if found else None

    def customer(self, connection_id: str, ledger_id: str) -> LedgerCustomer | None:
        found = self._get(connection_id, "ledger_customer", ledger_id)
        return LedgerCustomer.model_validate_json(found) if found else None

    def listed(self, connection_id: str, entity: SnapshotEntity) -> Iterator[dict[str, Any]]:
        """Every snapshot of one entity (one partition, page by page): ListID and its times."""
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(f"{connection_id}#qbd#{entity}"),
            "ProjectionExpression": "sk, time_modified",
        }
        while True:
            page = self._table.query(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # --- watermarks --------------------------------------------------------------------
    def watermarks(self, connection_id: str) -> dict[str, str]:
        """Per query (ItemInventory, ItemNonInventory, ItemService, Customer): the latest
        TimeModified read to the end, as QuickBooks wrote it."""
        page = self._table.query(
            KeyConditionExpression=Key("pk").eq(f"{connection_id}#qbd#changes"),
            ConsistentRead=True,
        )
        return {str(i["sk"]): str(i["time_modified"]) for i in page.get("Items", [])}

    def set_watermark(self, connection_id: str, query: str, time_modified: str) -> None:
        self._table.put_item(
            Item={
                "pk": f"{connection_id}#qbd#changes",
                "sk": query,
                "time_modified": time_modified,
                "updated_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            }
        )

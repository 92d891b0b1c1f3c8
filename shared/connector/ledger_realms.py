"""Which QuickBooks Online company each connection is connected to (``<conn>#ledger_realm``).

The connect callback (oauth) records it, ingest reads it to tell a webhook for the connection's
company from another's (connector.ledger_webhooks), the change feed polls that company. A
module of its own so that the oauth function need not import the webhook ingest to write it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3

REALM_PK_SUFFIX = "#ledger_realm"


class LedgerRealms:
    """Which QuickBooks company each connection is connected to, where ingest may read it."""

    def __init__(self, table_name: str, *, resource: Any | None = None) -> None:
        self._table = (resource or boto3.resource("dynamodb")).Table(table_name)

    def record(self, connection_id: str, realm_id: str) -> None:
        self._table.put_item(
            Item={
                "pk": f"{connection_id}{REALM_PK_SUFFIX}",
                "sk": "REALM",
                "realm_id": realm_id,
                "updated_at": datetime.now(UTC).isoformat(),
            }
        )

    @property
    def client(self) -> Any:
        """The DynamoDB client it reads with (ingest writes its audit entries with it too)."""
        return self._table.meta.client

    def realm(self, connection_id: str) -> str | None:
        found = self._table.get_item(
            Key={"pk": f"{connection_id}{REALM_PK_SUFFIX}", "sk": "REALM"}
        ).get("Item")
        return str(found["realm_id"]) if found else None

"""What the sync worker needs of the QuickBooks → store direction (issue #13)."""

from __future__ import annotations

from typing import Protocol

from connector.both_ways.result import Applied
from connector.config import Connection
from connector.messages import SyncMessage
from connector.model import Customer, Order


class BothWays(Protocol):
    def apply(self, message: SyncMessage, connection: Connection) -> Applied:
        """Bring the store into step with one ledger record; raises the worker's errors."""
        ...

    def own_customer_write(self, key: str, customer: Customer) -> str | None:
        """The ledger record a store customer's current fields were written from by the
        connector (its own write coming back), or None."""
        ...

    def order_made_from(self, connection: Connection, order: Order) -> str | None:
        """The QuickBooks invoice the connector made this store order from (the order's
        marker, confirmed by the connector's own record of that invoice's order), or None."""
        ...


# The sync state's ledger_type of a store order the connector made from a QuickBooks invoice:
# the store → QuickBooks path skips it (its store webhooks are the connector's own echo).
FROM_LEDGER = "from_ledger"
# The mapping kind naming the QuickBooks documents the connector posted for store orders
# (document id -> the order's record key): those invoices never become store orders.
OWN_DOCUMENTS = "ledger-docs"

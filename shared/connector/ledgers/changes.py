"""What every ledger adapter offers the QuickBooks → store direction (issue #13).

QuickBooks Online reads the record over its API; QuickBooks Desktop returns the snapshot
its last Web Connector session brought back (Desktop cannot be asked between sessions).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from connector.ledger_records import LedgerChange, LedgerCustomer, LedgerInvoice, LedgerItem


class LedgerChanges(Protocol):
    def item(self, ledger_id: str) -> LedgerItem | None:
        """The item as QuickBooks holds it now; None when QuickBooks no longer has it."""
        ...

    def customer(self, ledger_id: str) -> LedgerCustomer | None: ...

    def invoice(self, ledger_id: str) -> LedgerInvoice | None: ...

    def changed_since(self, since: datetime) -> list[LedgerChange]:
        """Records changed since ``since`` (the safety net behind webhooks)."""
        ...

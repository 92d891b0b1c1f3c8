"""The QuickBooks → store read port for QuickBooks Desktop: what its last session brought back.

Desktop answers only inside a Web Connector session, so ``item`` and ``customer`` return the
snapshot the last session wrote (connector.ledgers.qbd.snapshots), and ``changed_since``
lists snapshots by their TimeModified. None means the session never returned the record.
An item deleted in QuickBooks (ListDeletedQuery, connector.ledgers.qbd.deleted_items) is
answered as its last snapshot made inactive, not None: the store side then takes its product
out of sale as for an item made inactive (its None is "skipped", which would leave the
product on sale). An item other items sit under ("Shirts" of "Shirts:Linen") is a category, as
QuickBooks Online's Category items are. Invoices do not travel from Desktop yet: ``invoice`` answers None and says why.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from connector.ledger_records import LedgerChange, LedgerCustomer, LedgerInvoice, LedgerItem
from connector.ledgers.qbd.snapshots import SnapshotEntity, SnapshotStore
from connector.observability import logger

if TYPE_CHECKING:
    from connector.config import Connection
    from connector.runtime import Runtime

INVOICES_NOT_READ = (
    "QuickBooks Desktop invoices are not brought back by the Web Connector session: "
    "qbo_invoices_to_orders applies to QuickBooks Online connections only"
)


class QbdChanges:
    """``connector.ledgers.changes.LedgerChanges`` over a Desktop connection's snapshots."""

    def __init__(self, connection_id: str, snapshots: SnapshotStore) -> None:
        self._connection_id = connection_id
        self._snapshots = snapshots

    @classmethod
    def from_runtime(cls, runtime: Runtime, connection: Connection) -> QbdChanges:
        return cls(
            connection.id,
            SnapshotStore(
                runtime.settings.state_table,
                resource=runtime.dynamodb,
                retention_days=runtime.config.retention_days,
            ),
        )

    def item(self, ledger_id: str) -> LedgerItem | None:
        """The item; one that sub-items sit under is Desktop's category, not a product."""
        item = self._snapshots.item(self._connection_id, ledger_id)
        if item is None or item.kind == "category":
            return item
        full_name = ":".join((*item.category_path, item.name))
        if self._snapshots.is_parent(self._connection_id, full_name):
            return item.model_copy(update={"kind": "category"})
        return item

    def customer(self, ledger_id: str) -> LedgerCustomer | None:
        return self._snapshots.customer(self._connection_id, ledger_id)

    def invoice(self, ledger_id: str) -> LedgerInvoice | None:
        logger.warning(INVOICES_NOT_READ, ledger_id=ledger_id)
        return None

    def changed_since(self, since: datetime) -> list[LedgerChange]:
        """Snapshots whose TimeModified (QuickBooks' clock) is at or after ``since``."""
        changes: list[LedgerChange] = []
        entities: tuple[SnapshotEntity, ...] = ("ledger_item", "ledger_customer")
        for entity in entities:
            for listed in self._snapshots.listed(self._connection_id, entity):
                text = str(listed.get("time_modified") or "")
                moment = datetime.fromisoformat(text) if text else None
                if moment is None or _aware(moment) < _aware(since):
                    continue
                changes.append(
                    LedgerChange(entity=entity, ledger_id=str(listed["sk"]), changed_at=moment)
                )
        return sorted(changes, key=lambda c: (c.changed_at or since, c.ledger_id))


def _aware(moment: datetime) -> datetime:
    """A naive moment is taken as UTC, so moments with and without offsets compare."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

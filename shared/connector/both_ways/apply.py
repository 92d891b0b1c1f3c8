"""The sync worker's entry for ledger records: read, apply to the store, record (issue #13).

The record is read as QuickBooks holds it now (a delivery is only a hint, as for store
records); what became of it goes to its sync state (status, the QuickBooks id) and its audit
trail (the fields written). Failures are raised as the worker's classified errors: the store's
refusals park with its words, its outages are retried, a bad record parks with its reason.
"""

from __future__ import annotations

from collections.abc import Callable

from connector.both_ways.customers import CustomerToStore
from connector.both_ways.echo import own_customer_write
from connector.both_ways.invoices import InvoiceToOrder, order_made_from
from connector.both_ways.items import ItemToProduct
from connector.both_ways.result import Applied
from connector.both_ways.written import WrittenStore
from connector.config import Connection
from connector.ledgers.changes import LedgerChanges
from connector.messages import SyncMessage
from connector.model import Customer, Order
from connector.observability import metrics
from connector.state import AuditTrail, ConcurrentUpdate, StateStore, SyncState, now_utc
from connector.stores.writes import StoreOrderWrites


class LedgerToStore:
    def __init__(
        self,
        *,
        state: StateStore,
        audit: AuditTrail,
        written: WrittenStore,
        changes_for: Callable[[Connection], LedgerChanges],
        writes_for: Callable[[Connection], StoreOrderWrites],
        mapped_keys: Callable[[Connection, str], list[str]] | None = None,
    ) -> None:
        self._state = state
        self._audit = audit
        self._written = written
        self._changes_for = changes_for
        self._writes_for = writes_for
        self._mapped_keys = mapped_keys or (lambda _connection, _ledger_id: [])

    def apply(self, message: SyncMessage, connection: Connection) -> Applied:
        key = message.record_key
        if not connection.sync.any_from_ledger:
            return self._record(
                key,
                message.record_id,
                Applied("skipped", "nothing flows QuickBooks → store on this connection"),
            )
        changes = self._changes_for(connection)
        # The SyncToken (Desktop: EditSequence) read and settled: the change-feed poll queues
        # a record again only when QuickBooks holds another (two edits in one second).
        version: str | None = None
        if message.entity == "ledger_item":
            item = changes.item(message.record_id)
            version = item.version if item is not None else None
            if item is None:
                applied = Applied("skipped", "no longer in QuickBooks")
            else:
                applied = ItemToProduct(
                    connection=connection,
                    writes=self._writes_for(connection),
                    written=self._written,
                    mapped_keys=lambda ledger_id: self._mapped_keys(connection, ledger_id),
                ).apply(key, item)
        elif message.entity == "ledger_customer":
            customer = changes.customer(message.record_id)
            version = customer.version if customer is not None else None
            if customer is None:
                applied = Applied("skipped", "no longer in QuickBooks")
            else:
                applied = CustomerToStore(
                    connection=connection,
                    writes=self._writes_for(connection),
                    written=self._written,
                ).apply(key, customer)
        else:
            invoice = changes.invoice(message.record_id)
            version = invoice.version if invoice is not None else None
            applied = InvoiceToOrder(
                connection=connection,
                writes=self._writes_for(connection),
                written=self._written,
                state=self._state,
            ).apply(key, invoice, message.record_id)
        return self._record(key, message.record_id, applied, version)

    def _record(
        self, key: str, ledger_id: str, applied: Applied, version: str | None = None
    ) -> Applied:
        for _ in range(3):
            previous = self._state.get_sync_state(key)
            base = previous or SyncState(
                record_key=key, status="received", updated_at=now_utc().isoformat()
            )
            try:
                self._state.put_sync_state(
                    base.model_copy(
                        update={
                            "status": "skipped" if applied.outcome == "skipped" else "posted",
                            "ledger_id": ledger_id,
                            "ledger_type": "store",
                            "doc_number": applied.store_id,
                            "last_error": None,
                            "sync_token": version or base.sync_token,
                        }
                    )
                )
                break
            except ConcurrentUpdate:
                continue
        detail: dict[str, object] = {"direction": "qbo_to_store"}
        if applied.store_id:
            detail["store_id"] = applied.store_id
        if applied.fields:
            detail["fields"] = sorted(applied.fields)
        self._audit.append(key, applied.outcome, applied.detail, ledger_id=ledger_id, detail=detail)
        if applied.outcome != "skipped":
            metrics.add_metric(name="StoreRecordsWritten", unit="Count", value=1)
        return applied

    def own_customer_write(self, key: str, customer: Customer) -> str | None:
        return own_customer_write(self._written, key, customer)

    def order_made_from(self, connection: Connection, order: Order) -> str | None:
        return order_made_from(self._written, connection.id, order)

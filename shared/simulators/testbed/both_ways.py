"""QuickBooks → store tests' common parts: the records QuickBooks holds, the sync worker the
deployed function builds, and the message that tells it a QuickBooks record changed.

``HeldLedger`` is the ledger's read port over records a test holds (no change feed: each test
tells the worker which record changed). Its ids come from the test module's own counter, so
they stay unique within the module's rig (its state table outlives each test's ledger).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from connector.both_ways.apply import LedgerToStore
from connector.both_ways.written import WrittenStore
from connector.config import Connection
from connector.ledger_records import (
    LedgerChange,
    LedgerCustomer,
    LedgerInvoice,
    LedgerInvoiceLine,
    LedgerItem,
)
from connector.ledgers.changes import LedgerChanges
from connector.messages import SyncMessage
from connector.model import Address
from connector.resources import secret_name
from connector.runtime import Runtime
from connector.state import now_utc
from connector.stores.writes import StoreOrderWrites
from connector.sync import SyncResult, SyncWorker
from simulators.qbo import QboSimulator
from simulators.testbed.deployment import Rig


class HeldLedger:
    """What QuickBooks holds, as its read port gives it."""

    def __init__(self, ids: Iterator[int]) -> None:
        self.items: dict[str, LedgerItem] = {}
        self.customers: dict[str, LedgerCustomer] = {}
        self.invoices: dict[str, LedgerInvoice] = {}
        self._ids = ids

    def item(self, ledger_id: str) -> LedgerItem | None:
        return self.items.get(ledger_id)

    def customer(self, ledger_id: str) -> LedgerCustomer | None:
        return self.customers.get(ledger_id)

    def invoice(self, ledger_id: str) -> LedgerInvoice | None:
        return self.invoices.get(ledger_id)

    def changed_since(self, since: datetime) -> list[LedgerChange]:
        return []

    def add_item(self, **fields: Any) -> LedgerItem:
        """A new QuickBooks item: the store's ceramic mug unless ``fields`` say otherwise."""
        base: dict[str, Any] = {
            "ledger_id": str(next(self._ids)),
            "version": "0",
            "kind": "inventory",
            "name": "Ceramic Mug",
            "sku": "MUG-01",
            "unit_price": Decimal("12.50"),
            "currency": "USD",
        }
        item = LedgerItem.model_validate(base | fields)
        self.items[item.ledger_id] = item
        return item

    def change_item(self, item: LedgerItem, **fields: Any) -> LedgerItem:
        """The item edited in QuickBooks: ``fields`` changed, its version one on."""
        changed = item.model_copy(update={"version": str(int(item.version) + 1), **fields})
        self.items[item.ledger_id] = changed
        return changed

    def add_invoice(self, fields: dict[str, Any]) -> LedgerInvoice:
        """A new QuickBooks invoice of ``fields`` (a new id and version 0 unless they say)."""
        base: dict[str, Any] = {"ledger_id": str(next(self._ids)), "version": "0"}
        invoice = LedgerInvoice.model_validate(base | fields)
        self.invoices[invoice.ledger_id] = invoice
        return invoice


def mug_and_print_invoice(doc_number: str, customer_ledger_id: str) -> dict[str, Any]:
    """A paid QuickBooks invoice's fields (for ``HeldLedger.add_invoice``): three of the
    store's mugs and one art print to Tom Baker, 5.16 tax, 67.65 in all."""
    return {
        "doc_number": doc_number,
        "customer_ledger_id": customer_ledger_id,
        "customer_name": "Tom Baker",
        "customer_email": "tom.baker@example.net",
        "currency": "USD",
        "txn_date": now_utc(),
        "lines": (
            LedgerInvoiceLine(
                item_ledger_id="1",
                item_name="Ceramic Mug",
                sku="MUG-01",
                quantity=Decimal("3"),
                unit_price=Decimal("12.50"),
                amount=Decimal("37.50"),
            ),
            LedgerInvoiceLine(
                item_ledger_id="2",
                item_name="Art Print",
                sku="PRINT-A2",
                quantity=Decimal("1"),
                unit_price=Decimal("24.99"),
                amount=Decimal("24.99"),
            ),
        ),
        "tax_total": Decimal("5.16"),
        "total": Decimal("67.65"),
        "balance": Decimal("0"),
        "billing": Address(
            line1="9 Ocean Ave", city="Santa Monica", region="CA", postcode="90401", country="US"
        ),
    }


def both_ways_worker(
    parked: list[str],
    changes_for: Callable[[Connection], LedgerChanges] | None = None,
    writes_for: Callable[[Connection], StoreOrderWrites] | None = None,
) -> SyncWorker:
    """The worker as the sync handler builds it from the rig's environment (the deployed
    function's), parking into ``parked``; the ledger read and store writes are the runtime's
    unless a test puts its own behind them."""
    runtime = Runtime.from_environment()
    both_ways = LedgerToStore(
        state=runtime.state,
        audit=runtime.audit,
        written=WrittenStore(runtime.dynamodb.Table(runtime.settings.state_table)),
        changes_for=changes_for or runtime.ledger_changes,
        writes_for=writes_for or runtime.store_writes,
        mapped_keys=runtime.item_keys,
    )
    return SyncWorker(
        connection_for=runtime.connection,
        store_for=runtime.store,
        ledger_for=runtime.ledger,
        state=runtime.state,
        audit=runtime.audit,
        park=lambda _message, reason: parked.append(reason),
        policy=runtime.retry_policy,
        both_ways=both_ways,
    )


def held_worker(ledger: HeldLedger, parked: list[str]) -> SyncWorker:
    """The handler's worker with ``ledger``'s records behind the read port."""

    def changes_for(_connection: Connection) -> HeldLedger:
        return ledger

    return both_ways_worker(parked, changes_for=changes_for)


def ledger_message(
    connection: str, entity: str, record_id: str, version: str, topic: str | None = None
) -> SyncMessage:
    """The queue's message that QuickBooks record ``record_id`` changed (as its webhook tells)."""
    return SyncMessage.model_validate(
        {
            "connection_id": connection,
            "entity": entity,
            "record_id": record_id,
            "topic": topic or f"{entity}.update",
            "received_at": now_utc(),
            "version": version,
            "source": "ledger_webhook",
        }
    )


def apply_change(
    worker: SyncWorker, connection: str, entity: str, record_id: str, version: str
) -> SyncResult:
    """The worker's result for the message that the record changed."""
    return worker.process(ledger_message(connection, entity, record_id, version))


def set_webhook_verifier(rig: Rig, connection_id: str, verifier: str) -> None:
    """The merchant puts the Intuit app's verifier token into the connection's webhook secret."""
    client = rig.runtime.boto3_client("secretsmanager")
    name = secret_name(rig.runtime.secret_prefix, connection_id, "webhook")
    value = json.loads(client.get_secret_value(SecretId=name)["SecretString"])
    client.put_secret_value(
        SecretId=name, SecretString=json.dumps({**value, "webhook_verifier": verifier})
    )


def seed_inventory(
    qbo: QboSimulator, name: str, sku: str, price: str, qty: str, **more: Any
) -> dict[str, Any]:
    """An inventory item made in QuickBooks Online (its accounts, its count from Jan 1st)."""
    return qbo.seed(
        "Item",
        {
            "Name": name,
            "Sku": sku,
            "Type": "Inventory",
            "UnitPrice": price,
            "IncomeAccountRef": {"value": "1"},
            "ExpenseAccountRef": {"value": "7"},
            "AssetAccountRef": {"value": "6"},
            "QtyOnHand": qty,
            "InvStartDate": "2026-01-01",
            **more,
        },
    )

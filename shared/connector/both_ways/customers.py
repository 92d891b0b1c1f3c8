"""A QuickBooks customer into the store's customer, matched by e-mail (issue #13 part 4).

Only the fields QuickBooks changed are written (``fields.to_write``). What was written is kept
on the ledger record (for the next QuickBooks change), and the store customer as the store
answered the write is kept on the store record (so the store's ``customer.updated`` for this
write is recognised as the connector's own, ``echo``). Each write is announced before it is
sent and withdrawn once its answer is recorded: the store's webhook may be worked in between.
"""

from __future__ import annotations

from connector.both_ways import fields
from connector.both_ways.result import Applied
from connector.both_ways.written import Written, WrittenStore, customer_key, new_customer_key
from connector.config import Connection
from connector.errors import PermanentError
from connector.ledger_records import LedgerCustomer
from connector.stores.writes import CustomerFields, StoreCustomerRecord, StoreWrites


class CustomerToStore:
    def __init__(
        self, *, connection: Connection, writes: StoreWrites, written: WrittenStore
    ) -> None:
        self._connection = connection
        self._store = writes
        self._written = written

    def apply(self, key: str, customer: LedgerCustomer) -> Applied:
        if self._connection.sync.customers == "off":
            return Applied("skipped", "customers do not flow QuickBooks → store on this connection")
        if not customer.email:
            return Applied(
                "skipped",
                f"QuickBooks customer {customer.display_name!r} has no e-mail, and the store "
                "matches customers by e-mail: add one in QuickBooks to bring it to the store",
            )
        before = self._written.get(key)
        found: StoreCustomerRecord | None = None
        if before is not None:
            found = self._store.get_customer(before.store_id)
        if found is None:
            found = self._store.find_customer(customer.email)
        wanted = fields.wanted_customer(customer)
        if found is None:
            if not customer.active:
                return Applied(
                    "skipped", f"QuickBooks customer {customer.display_name!r} is inactive"
                )
            announced = new_customer_key(self._connection.id, customer.email)
            self._written.begin(announced, key)
            try:
                made = self._store.create_customer(_customer_fields(customer, wanted))
            except PermanentError:
                self._written.end(announced)  # refused: nothing was written
                raise
            self._remember(key, made, wanted)
            return Applied(
                "posted",
                f"created store customer {made.store_id} ({made.email})",
                made.store_id,
                wanted,
            )
        last = before.fields if before is not None and before.store_id == found.store_id else {}
        changes = fields.to_write(wanted, fields.customer_now(found), last)
        if not changes:
            self._remember(key, found, wanted)
            return Applied(
                "skipped",
                f"store customer {found.store_id} already matches QuickBooks",
                found.store_id,
            )
        announced = customer_key(self._connection.id, found.store_id)
        self._written.begin(announced, key)
        try:
            written = self._store.update_customer(found, _customer_fields(customer, changes))
        except PermanentError:
            self._written.end(announced)  # refused: nothing was written
            raise
        # An outage or a lost answer leaves the announcement standing: the write may have
        # happened, and the record's retry records its answer (or the bound expires it).
        self._remember(key, written, wanted)
        return Applied(
            "updated",
            f"store customer {found.store_id}: {', '.join(sorted(changes))} written from QuickBooks",
            written.store_id,
            changes,
        )

    def _remember(self, key: str, customer: StoreCustomerRecord, wanted: dict[str, str]) -> None:
        self._written.put(key, Written(store_id=customer.store_id, fields=wanted))
        # On the store customer too: its webhook for this write is recognised as an echo.
        store_key = customer_key(self._connection.id, customer.store_id)
        self._written.put(
            store_key,
            Written(
                store_id=customer.store_id, fields=fields.customer_now(customer), ledger_key=key
            ),
        )
        # Recorded: the store's webhook for the write now finds it, so the announcements
        # (this write's, or a retried one's whose answer was lost) are withdrawn, after.
        self._written.end(store_key)
        if customer.email:
            self._written.end(new_customer_key(self._connection.id, customer.email))


def _customer_fields(customer: LedgerCustomer, changes: dict[str, str]) -> CustomerFields:
    return CustomerFields(
        first_name=changes.get("first_name"),
        last_name=changes.get("last_name"),
        email=changes.get("email"),
        company=changes.get("company"),
        phone=changes.get("phone"),
        billing=customer.billing if "billing" in changes else None,
        shipping=customer.shipping if "shipping" in changes else None,
        customer_type=changes.get("customer_type"),
        terms=changes.get("terms"),
    )

"""Whether a store change is only the connector's own write coming back (issue #13 part 6).

The connector keeps what it wrote into a store customer (``written``); when the store's
``customer.updated`` for that write arrives, the customer's fields compared the same way
(``fields.customer_now``) equal what was written, and nothing goes back to QuickBooks. A person's
edit after it differs in some field and travels as usual.
"""

from __future__ import annotations

from connector.both_ways import fields
from connector.both_ways.written import WrittenStore
from connector.model import Customer
from connector.stores.writes import StoreCustomerRecord


def own_customer_write(written: WrittenStore, key: str, customer: Customer) -> str | None:
    """The ledger record the store customer's current fields came from, when they are exactly
    what the connector wrote; None for anyone else's change."""
    entry = written.get(key)
    if entry is None or entry.ledger_key is None:
        return None
    now = fields.customer_now(
        StoreCustomerRecord(
            store_id=customer.store_id or "",
            email=customer.email,
            first_name=customer.first_name,
            last_name=customer.last_name,
            company=customer.company,
            phone=customer.phone,
            billing=customer.billing,
            shipping=customer.shipping,
        )
    )
    compared = {name: now.get(name, "") for name in entry.fields if name in now}
    if compared and all(entry.fields[name] == value for name, value in compared.items()):
        return entry.ledger_key
    return None

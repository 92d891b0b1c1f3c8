"""Whether a store change is only the connector's own write coming back (issue #13 part 6).

The connector keeps the store customer as the store answered its write (``written``, every
field compared by ``fields.customer_now``); when the store's ``customer.updated`` for that
write arrives, the customer is exactly that, and nothing goes back to QuickBooks. A person's
edit after it (any field, also one QuickBooks left blank) differs and travels as usual.
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
    return entry.ledger_key if is_own_customer_write(entry.fields, customer) else None


def is_own_customer_write(wrote: dict[str, str], customer: Customer) -> bool:
    """Whether the store customer is exactly as the store answered the connector's write
    (``wrote``: its fields then), i.e. nobody changed it since."""
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
    # Customer type and terms live in the store's metadata, which the canonical customer
    # does not carry: they are left out of the comparison.
    compared = {name: value for name, value in wrote.items() if name in now}
    return bool(compared) and all(now[name] == value for name, value in compared.items())

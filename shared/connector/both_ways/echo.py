"""Whether a store change is only the connector's own write coming back (issue #13 part 6).

The connector keeps the store customer as the store answered its write (``written``, every
field compared by ``fields.customer_now``); when the store's ``customer.updated`` for that
write arrives, the customer is exactly that, and nothing goes back to QuickBooks. A person's
edit after it (any field, also one QuickBooks left blank) differs and travels as usual.

A store fires its webhook as soon as the write is done, so its message can be worked before
the connector has recorded the answer. The write is announced before it is sent
(``WrittenStore.begin``); while a recent announcement stands, a customer that is not yet
known as the connector's own is handed back (transient) and decided once the answer is
recorded. An announcement older than the sync function's timeout is from a writer that died:
it no longer holds anything back.
"""

from __future__ import annotations

from datetime import timedelta

from connector.both_ways import fields
from connector.both_ways.written import Writing, WrittenStore, new_customer_key
from connector.errors import TransientError
from connector.model import Customer
from connector.resources import SYNC
from connector.stores.writes import StoreCustomerRecord

# The longest a write can stand between its sending and its recorded answer: the sync
# function is stopped by then.
WRITING_BOUND = timedelta(seconds=SYNC.timeout_s)


def own_customer_write(written: WrittenStore, key: str, customer: Customer) -> str | None:
    """The ledger record the store customer's current fields came from, when they are exactly
    what the connector wrote; None for anyone else's change. Raises TransientError while the
    connector is writing this customer and its answer is not recorded yet."""
    # The announcement is read before the entry: the writer records the entry before it
    # withdraws the announcement, so one of the two reads always sees the write.
    writing = _writing(written, key, customer)
    entry = written.get(key)
    if (
        entry is not None
        and entry.ledger_key is not None
        and is_own_customer_write(entry.fields, customer)
    ):
        return entry.ledger_key
    if writing is not None and writing.recent(WRITING_BOUND):
        raise TransientError(
            f"the connector is writing store customer {customer.store_id or customer.email} "
            f"from QuickBooks ({writing.ledger_key}); decided once its answer is recorded"
        )
    return None


def _writing(written: WrittenStore, key: str, customer: Customer) -> Writing | None:
    """The connector's write announced for this store customer: an update by its key, a
    create by its e-mail."""
    found = written.writing(key)
    if found is None and customer.email:
        connection_id = key.partition("#")[0]
        found = written.writing(new_customer_key(connection_id, customer.email))
    return found


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

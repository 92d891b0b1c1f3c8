"""What QuickBooks holds that a store may take: items, customers and invoices (issue #13).

The QuickBooks → store direction's canonical records. Each ledger adapter's read port
(``connector.ledgers.changes``) produces them from QuickBooks Online's JSON or QuickBooks
Desktop's qbXML; the store side (``connector.both_ways``) writes them through the store's
write port. Money is Decimal in the company's home currency, never float.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from connector.model import Address

LedgerEntity = Literal["ledger_item", "ledger_customer", "ledger_invoice"]
ItemKind = Literal["inventory", "non_inventory", "service", "category", "other"]


class _Record(BaseModel):
    # Built at first validation, not at import: only connections syncing QuickBooks records
    # to the store use these, and a cold start should not pay for schemas it does not use.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class LedgerItem(_Record):
    """A QuickBooks item (Online ``Item``; Desktop ``ItemInventoryRet`` and kin)."""

    ledger_id: str  # Online Item.Id; Desktop ListID
    # What tells this version from others: Online SyncToken, Desktop EditSequence.
    version: str
    kind: ItemKind
    name: str  # the item's own name (Online Item.Name; Desktop Name), not the full path
    sku: str | None = None  # Online Item.Sku; Desktop has none (the name is matched instead)
    description: str | None = None  # the sales description
    unit_price: Decimal | None = None  # sales price in the home currency
    currency: str | None = None  # the company's home currency, to refuse a store in another
    active: bool = True
    # Category names from the top down to the item's own category (Online: ParentRef
    # categories, or the parent of a sub-item; Desktop: FullName's parts before the name).
    category_path: tuple[str, ...] = ()
    qty_on_hand: Decimal | None = None  # inventory items only
    updated_at: datetime | None = None


class LedgerCustomer(_Record):
    """A QuickBooks customer, as the store would take it."""

    ledger_id: str
    version: str
    display_name: str
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    email: str = ""
    phone: str = ""
    billing: Address = Address()
    shipping: Address = Address()
    customer_type: str | None = None  # Online CustomerTypeRef's name; Desktop CustomerTypeRef
    terms: str | None = None  # payment terms' name (SalesTermRef / TermsRef)
    active: bool = True
    updated_at: datetime | None = None


class LedgerInvoiceLine(_Record):
    item_ledger_id: str | None
    item_name: str
    sku: str | None = None
    description: str = ""
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal  # excluding tax


class LedgerInvoice(_Record):
    """A QuickBooks invoice, to become a store order when it was not written by the connector."""

    ledger_id: str
    version: str
    doc_number: str | None
    customer_ledger_id: str
    customer_name: str = ""
    customer_email: str = ""
    currency: str
    txn_date: datetime | None = None
    lines: tuple[LedgerInvoiceLine, ...] = ()
    tax_total: Decimal = Decimal("0")
    total: Decimal  # tax included
    balance: Decimal  # what is still owed; 0 means paid
    voided: bool = False
    billing: Address = Address()
    shipping: Address = Address()
    ship_date: datetime | None = None
    tracking_number: str | None = None
    ship_method: str | None = None
    # Online PrivateNote / Desktop Memo: the connector's own documents are recognised by their
    # sync state (what it posted), never by text a person can type.
    memo: str = ""
    updated_at: datetime | None = None


class LedgerChange(_Record):
    """One changed record, as a QuickBooks webhook or change feed names it."""

    entity: LedgerEntity
    ledger_id: str
    operation: Literal["create", "update", "delete", "merge", "void", "emailed"] = "update"
    changed_at: datetime | None = None
    # QuickBooks' SyncToken as the change feed lists it (webhooks carry none): two edits in
    # one second share a LastUpdatedTime, never a SyncToken.
    version: str | None = None

"""QuickBooks Online's side of the QuickBooks → store direction: the ``LedgerChanges`` port.

Reads each record as QuickBooks holds it now (GET item/customer/invoice by Id) and the
change feed (CDC, 30 days back at most) through the connection's ``QboClient``, so the
company's limiter, the circuit and QuickBooks' faults apply as to every other call. A record
QuickBooks no longer has (610 / 2500) is None; any other fault is raised to the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, Protocol

from connector.ledger_records import (
    ItemKind,
    LedgerChange,
    LedgerCustomer,
    LedgerEntity,
    LedgerInvoice,
    LedgerInvoiceLine,
    LedgerItem,
)
from connector.ledgers.qbo.faults import QboNotFound
from connector.model import Address

# The QuickBooks entity behind each ledger entity, and back.
QBO_ENTITY: dict[LedgerEntity, str] = {
    "ledger_item": "Item",
    "ledger_customer": "Customer",
    "ledger_invoice": "Invoice",
}
LEDGER_ENTITY: dict[str, LedgerEntity] = {v: k for k, v in QBO_ENTITY.items()}
CDC_MAX_DAYS = 30
CDC_MAX_OBJECTS = 1000  # a full answer may have left changes out: ask again from its last
_KINDS: dict[str, ItemKind] = {
    "Inventory": "inventory",
    "NonInventory": "non_inventory",
    "Service": "service",
    "Category": "category",
}


class ChangesClient(Protocol):
    """What the port needs of ``connector.ledgers.qbo.client.QboClient``."""

    realm_id: str

    def read(self, entity: str, entity_id: str) -> dict[str, Any]: ...

    def query(self, statement: str) -> list[dict[str, Any]]: ...

    def cdc(self, entities: Sequence[str], changed_since: datetime) -> dict[str, Any]: ...

    def preferences(self) -> dict[str, Any]: ...


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _moment(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _ref_name(ref: Any) -> str | None:
    if isinstance(ref, dict):
        return str(ref.get("name") or ref.get("value") or "") or None
    return str(ref) if ref else None


def _ref_id(ref: Any) -> str | None:
    if isinstance(ref, dict):
        return str(ref["value"]) if ref.get("value") is not None else None
    return str(ref) if ref else None


def _address(raw: Any, *, phone: str = "") -> Address:
    if not isinstance(raw, dict):
        return Address()
    return Address(
        line1=str(raw.get("Line1") or ""),
        line2=str(raw.get("Line2") or ""),
        city=str(raw.get("City") or ""),
        region=str(raw.get("CountrySubDivisionCode") or ""),
        postcode=str(raw.get("PostalCode") or ""),
        country=str(raw.get("Country") or ""),
        phone=phone,
    )


def _updated(doc: dict[str, Any]) -> datetime | None:
    meta = doc.get("MetaData")
    return _moment(meta.get("LastUpdatedTime")) if isinstance(meta, dict) else None


def is_voided(doc: dict[str, Any]) -> bool:
    """QuickBooks' void shape: the document stays, its amounts become zero and its
    PrivateNote starts with "Voided" (EntityStatusEnum "Voided" where a status is given). A
    note a person typed on an invoice that still has its amounts is not a void."""
    if doc.get("status") == "Voided":
        return True
    note = str(doc.get("PrivateNote") or "")
    return note.startswith("Voided") and _decimal(doc.get("TotalAmt")) == 0


class QboChanges:
    """``LedgerChanges`` for one QuickBooks Online company, over its ``QboClient``."""

    def __init__(self, client: ChangesClient) -> None:
        self._client = client
        self._home_currency: str | None = None
        self._terms: dict[str, str] = {}

    @property
    def realm_id(self) -> str:
        """The company read."""
        return self._client.realm_id

    # -- single records ------------------------------------------------------------------

    def _read(self, entity: str, ledger_id: str) -> dict[str, Any] | None:
        try:
            return self._client.read(entity, ledger_id)
        except QboNotFound:
            return None

    def home_currency(self) -> str:
        if self._home_currency is None:
            prefs = self._client.preferences().get("CurrencyPrefs") or {}
            self._home_currency = _ref_id(prefs.get("HomeCurrency")) or "USD"
        return self._home_currency

    def item(self, ledger_id: str) -> LedgerItem | None:
        doc = self._read("Item", ledger_id)
        return None if doc is None else self.item_of(doc)

    def item_of(self, doc: dict[str, Any]) -> LedgerItem:
        kind = _KINDS.get(str(doc.get("Type")), "other")
        name = str(doc.get("Name") or "")
        # "Apparel:Shirts:Tee": the categories (or the parent item of a sub-item) above it.
        path = str(doc.get("FullyQualifiedName") or name).split(":")[:-1]
        return LedgerItem(
            ledger_id=str(doc["Id"]),
            version=str(doc.get("SyncToken", "")),
            kind=kind,
            name=name,
            sku=str(doc["Sku"]) if doc.get("Sku") else None,
            description=str(doc["Description"]) if doc.get("Description") else None,
            unit_price=None if kind == "category" else _decimal(doc.get("UnitPrice")),
            currency=None if kind == "category" else self.home_currency(),
            active=doc.get("Active", True) is not False,
            category_path=tuple(path),
            # Stock is QuickBooks' only for inventory items that track it.
            qty_on_hand=_decimal(doc.get("QtyOnHand"))
            if kind == "inventory" and doc.get("TrackQtyOnHand", True) is not False
            else None,
            updated_at=_updated(doc),
        )

    def customer(self, ledger_id: str) -> LedgerCustomer | None:
        doc = self._read("Customer", ledger_id)
        if doc is None:
            return None
        phone = doc.get("PrimaryPhone") or {}
        email = doc.get("PrimaryEmailAddr") or {}
        phone_text = str(phone.get("FreeFormNumber") or "") if isinstance(phone, dict) else ""
        return LedgerCustomer(
            ledger_id=str(doc["Id"]),
            version=str(doc.get("SyncToken", "")),
            display_name=str(doc.get("DisplayName") or ""),
            first_name=str(doc.get("GivenName") or ""),
            last_name=str(doc.get("FamilyName") or ""),
            company=str(doc.get("CompanyName") or ""),
            email=str(email.get("Address") or "") if isinstance(email, dict) else "",
            phone=phone_text,
            billing=_address(doc.get("BillAddr"), phone=phone_text),
            shipping=_address(doc.get("ShipAddr")),
            customer_type=_ref_name(doc.get("CustomerTypeRef")),
            terms=self._term_name(doc.get("SalesTermRef")),
            active=doc.get("Active", True) is not False,
            updated_at=_updated(doc),
        )

    def _term_name(self, ref: Any) -> str | None:
        """The payment terms' name; QuickBooks often sends the Id alone."""
        if isinstance(ref, dict) and ref.get("name"):
            return str(ref["name"])
        term_id = _ref_id(ref)
        if term_id is None:
            return None
        if term_id not in self._terms:
            term = self._read("Term", term_id)
            self._terms[term_id] = str(term.get("Name") or term_id) if term else term_id
        return self._terms[term_id]

    def invoice(self, ledger_id: str) -> LedgerInvoice | None:
        doc = self._read("Invoice", ledger_id)
        if doc is None:
            return None
        skus: dict[str, str | None] = {}
        lines: list[LedgerInvoiceLine] = []
        for raw in doc.get("Line") or []:
            if not isinstance(raw, dict) or raw.get("DetailType") != "SalesItemLineDetail":
                continue  # subtotal, discount and description lines are in the totals
            detail = raw.get("SalesItemLineDetail") or {}
            item_id = _ref_id(detail.get("ItemRef"))
            if item_id is not None and item_id not in skus:
                item = self._read("Item", item_id)
                skus[item_id] = str(item["Sku"]) if item and item.get("Sku") else None
            amount = _decimal(raw.get("Amount")) or Decimal("0")
            quantity = _decimal(detail.get("Qty")) or Decimal("1")
            price = _decimal(detail.get("UnitPrice"))
            lines.append(
                LedgerInvoiceLine(
                    item_ledger_id=item_id,
                    item_name=_ref_name(detail.get("ItemRef")) or "",
                    sku=skus.get(item_id) if item_id else None,
                    description=str(raw.get("Description") or ""),
                    quantity=quantity,
                    unit_price=price if price is not None else amount / quantity,
                    amount=amount,
                )
            )
        tax = doc.get("TxnTaxDetail") or {}
        email = doc.get("BillEmail") or {}
        return LedgerInvoice(
            ledger_id=str(doc["Id"]),
            version=str(doc.get("SyncToken", "")),
            doc_number=str(doc["DocNumber"]) if doc.get("DocNumber") else None,
            customer_ledger_id=_ref_id(doc.get("CustomerRef")) or "",
            customer_name=_ref_name(doc.get("CustomerRef")) or "",
            customer_email=str(email.get("Address") or "") if isinstance(email, dict) else "",
            currency=_ref_id(doc.get("CurrencyRef")) or self.home_currency(),
            txn_date=_moment(doc.get("TxnDate")),
            lines=tuple(lines),
            tax_total=_decimal(tax.get("TotalTax")) or Decimal("0"),
            total=_decimal(doc.get("TotalAmt")) or Decimal("0"),
            balance=_decimal(doc.get("Balance")) or Decimal("0"),
            voided=is_voided(doc),
            billing=_address(doc.get("BillAddr")),
            shipping=_address(doc.get("ShipAddr")),
            ship_date=_moment(doc.get("ShipDate")),
            tracking_number=str(doc["TrackingNum"]) if doc.get("TrackingNum") else None,
            ship_method=_ref_name(doc.get("ShipMethodRef")),
            memo=str(doc.get("PrivateNote") or ""),
            updated_at=_updated(doc),
        )

    # -- the change feed -----------------------------------------------------------------

    def changed_since(self, since: datetime) -> list[LedgerChange]:
        """Items, customers and invoices changed after ``since`` (CDC: 30 days back at most,
        1,000 objects at most, the oldest first), oldest first."""
        payload = self._client.cdc(list(LEDGER_ENTITY), since)
        changes: list[LedgerChange] = []
        for block in payload.get("CDCResponse") or []:
            for response in (block or {}).get("QueryResponse") or []:
                for entity, rows in (response or {}).items():
                    if entity in LEDGER_ENTITY and isinstance(rows, list):
                        changes.extend(_change(LEDGER_ENTITY[entity], row) for row in rows)
        floor = datetime.min.replace(tzinfo=UTC)
        return sorted(changes, key=lambda c: c.changed_at or floor)

    def everything(self, entity: LedgerEntity) -> list[LedgerChange]:
        """Every record of ``entity``, inactive ones too (by query, paged): what a change feed
        cannot give after more than 30 days."""
        active = "" if entity == "ledger_invoice" else " WHERE Active IN (true, false)"
        rows = self._client.query(f"SELECT * FROM {QBO_ENTITY[entity]}{active}")
        return [_change(entity, row) for row in rows]


def _change(entity: LedgerEntity, row: dict[str, Any]) -> LedgerChange:
    meta = row.get("MetaData") if isinstance(row.get("MetaData"), dict) else {}
    created = _moment((meta or {}).get("CreateTime"))
    updated = _updated(row)
    operation: Literal["create", "update", "delete", "void"]
    if row.get("status") == "Deleted":
        operation = "delete"
    elif entity == "ledger_invoice" and is_voided(row):
        operation = "void"
    elif created is not None and created == updated:
        operation = "create"
    else:
        operation = "update"
    return LedgerChange(
        entity=entity,
        ledger_id=str(row["Id"]),
        operation=operation,
        changed_at=updated,
        version=str(row["SyncToken"]) if row.get("SyncToken") is not None else None,
    )

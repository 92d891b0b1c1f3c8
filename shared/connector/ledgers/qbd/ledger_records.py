"""QuickBooks Desktop's item and customer records (qbXML *Ret) as the canonical ledger records.

``ItemInventoryRet`` carries its sales fields at the top level (SalesDesc, SalesPrice,
QuantityOnHand); ``ItemNonInventoryRet`` and ``ItemServiceRet`` inside ``SalesOrPurchase``
(Desc, Price) or, when bought and sold, ``SalesAndPurchase`` (SalesDesc, SalesPrice).
A sub-item's FullName is "Parent:Child:Name": the parts before its own name are its
category path. Desktop items have no SKU field; the store side matches them by name.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from connector.ledger_records import ItemKind, LedgerCustomer, LedgerItem
from connector.model import Address

ITEM_RETS: dict[str, ItemKind] = {
    "ItemInventoryRet": "inventory",
    "ItemNonInventoryRet": "non_inventory",
    "ItemServiceRet": "service",
}


class UnreadableRecord(ValueError):
    """A record QuickBooks returned that lacks what every record has (ListID, EditSequence)."""


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _decimal(value: Any, what: str, list_id: str) -> Decimal | None:
    text = _text(value)
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise UnreadableRecord(f"{list_id}: {what} {text!r} is not a number") from None


def _moment(value: Any) -> datetime | None:
    text = _text(value)
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def _ref_name(ret: dict[str, Any], tag: str) -> str | None:
    ref = ret.get(tag)
    return _text(ref.get("FullName")) or None if isinstance(ref, dict) else None


def _keys(ret: dict[str, Any]) -> tuple[str, str]:
    list_id, version = _text(ret.get("ListID")), _text(ret.get("EditSequence"))
    if not list_id or not version:
        raise UnreadableRecord(f"a record without ListID or EditSequence: {sorted(ret)}")
    return list_id, version


def item_from_ret(tag: str, ret: dict[str, Any], *, currency: str | None) -> LedgerItem:
    """An ItemInventoryRet / ItemNonInventoryRet / ItemServiceRet as a LedgerItem."""
    kind = ITEM_RETS.get(tag)
    if kind is None:
        raise UnreadableRecord(f"{tag} is not an item type the store takes")
    list_id, version = _keys(ret)
    if kind == "inventory":
        sales: dict[str, Any] = ret
        desc, price = ret.get("SalesDesc"), ret.get("SalesPrice")
    elif isinstance(ret.get("SalesAndPurchase"), dict):
        sales = ret["SalesAndPurchase"]
        desc, price = sales.get("SalesDesc"), sales.get("SalesPrice")
    else:
        found = ret.get("SalesOrPurchase")
        sales = found if isinstance(found, dict) else {}
        desc, price = sales.get("Desc"), sales.get("Price")
    full_name = _text(ret.get("FullName")) or _text(ret.get("Name"))
    return LedgerItem(
        ledger_id=list_id,
        version=version,
        kind=kind,
        name=_text(ret.get("Name")) or full_name.rsplit(":", 1)[-1],
        description=_text(desc) or None,
        unit_price=_decimal(price, "the sales price", list_id),
        currency=currency,
        active=_text(ret.get("IsActive")) != "false",
        category_path=tuple(part for part in full_name.split(":")[:-1] if part),
        qty_on_hand=(
            _decimal(ret.get("QuantityOnHand"), "QuantityOnHand", list_id)
            if kind == "inventory"
            else None
        ),
        updated_at=_moment(ret.get("TimeModified")),
    )


def _address(value: Any, first: str, last: str, company: str, phone: str) -> Address:
    """A Desktop address block; lines that only repeat the person or company are left out
    (the connector itself writes them so, as on an envelope)."""
    if not isinstance(value, dict):
        return Address()
    person = f"{first} {last}".strip().casefold()
    lines = [
        _text(value.get(f"Addr{n}"))
        for n in range(1, 6)
        if _text(value.get(f"Addr{n}"))
        and _text(value.get(f"Addr{n}")).casefold() not in {person, company.casefold()}
    ]
    return Address(
        first_name=first,
        last_name=last,
        company=company,
        line1=lines[0] if lines else "",
        line2=", ".join(lines[1:]),
        city=_text(value.get("City")),
        region=_text(value.get("State")),
        postcode=_text(value.get("PostalCode")),
        country=_text(value.get("Country")),
        phone=phone,
    )


def customer_from_ret(ret: dict[str, Any]) -> LedgerCustomer:
    list_id, version = _keys(ret)
    first, last = _text(ret.get("FirstName")), _text(ret.get("LastName"))
    company, phone = _text(ret.get("CompanyName")), _text(ret.get("Phone"))
    return LedgerCustomer(
        ledger_id=list_id,
        version=version,
        display_name=_text(ret.get("FullName")) or _text(ret.get("Name")),
        first_name=first,
        last_name=last,
        company=company,
        email=_text(ret.get("Email")),
        phone=phone,
        billing=_address(ret.get("BillAddress"), first, last, company, phone),
        shipping=_address(ret.get("ShipAddress"), first, last, company, phone),
        customer_type=_ref_name(ret, "CustomerTypeRef"),
        terms=_ref_name(ret, "TermsRef"),
        active=_text(ret.get("IsActive")) != "false",
        updated_at=_moment(ret.get("TimeModified")),
    )


def is_job(ret: dict[str, Any]) -> bool:
    """A job (a sub-customer, Sublevel above 0) is a project of a customer, not a buyer."""
    return _text(ret.get("Sublevel")) not in ("", "0")

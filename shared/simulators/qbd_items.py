"""Items and customers of the simulated QuickBooks Desktop as a person edits them, and the
modified-date filter QuickBooks' list queries take.

A bookkeeper adds an item (inventory with QuantityOnHand, non-inventory, service; a sub-item
under a parent item, FullName "Parent:Name"), changes its price, description, stock or active
flag, or edits a customer; every change moves the record's EditSequence and TimeModified on,
as QuickBooks does for a list record saved in its forms.

Dates (qbXML DATETIMETYPE, ../shared/reference/qbd/xsd qbxmltypes130.xsd): ``YYYY-MM-DD``
optionally followed by ``Thh:mm:ss`` and an offset ``+hh:mm``; without an offset the company
file's local time. Text outside that pattern fails the schema, so the whole message is
refused (qbd_schema); text in the pattern that names no real moment (month 13) is answered
3020 on its request [U: the code is the SDK's "error converting the date value"; the
reference states only the schema's pattern].
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import Decimal

from lxml import etree

from simulators.qbd_lists import Lists
from simulators.qbd_records import ListRecord, QbStatus, decimal_text, element

STATUS_BAD_DATE = 3020
_PARTS = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})"
    r"(?:T(?P<h>\d{1,2})(?::(?P<mi>\d{1,2})(?::(?P<s>\d{1,2})"
    r"(?:(?P<sign>[+\-])(?P<oh>\d{1,2}):(?P<om>\d{1,2}))?)?)?)?"
)
# Where each sales field lives per item type (ItemInventoryAdd has them at the top level;
# the others inside SalesOrPurchase, in the order Desc, Price, AccountRef).
_SALES_OR_PURCHASE = ("Desc", "Price", "AccountRef")


@dataclass(frozen=True)
class QbdItem:
    """An item as the bookkeeper sees it in the Item List."""

    list_id: str
    kind: str
    full_name: str
    edit_sequence: str
    time_modified: str
    is_active: bool
    price: Decimal | None
    desc: str | None
    quantity_on_hand: Decimal | None


def parse_query_date(text: str, field: str, local: tzinfo) -> datetime:
    """A FromModifiedDate/ToModifiedDate as QuickBooks reads it (see the module docstring)."""
    match = _PARTS.fullmatch(text.strip())
    bad = QbStatus(
        STATUS_BAD_DATE,
        f'There was an error when converting the date value "{text}" in the field "{field}".',
    )
    if match is None:
        raise bad
    parts = {k: int(v) if v and k != "sign" else v for k, v in match.groupdict().items()}
    try:
        moment = datetime(
            int(parts["y"]),
            int(parts["mo"]),
            int(parts["d"]),
            int(parts["h"] or 0),
            int(parts["mi"] or 0),
            int(parts["s"] or 0),
            tzinfo=local,
        )
        if parts["sign"]:
            offset = timedelta(hours=int(parts["oh"] or 0), minutes=int(parts["om"] or 0))
            sign = 1 if parts["sign"] == "+" else -1
            moment = moment.replace(tzinfo=timezone(sign * offset))
    except ValueError:
        raise bad from None
    return moment


def item_view(record: ListRecord) -> QbdItem:
    if record.kind == "ItemInventory":
        price, desc = record.value("SalesPrice"), record.value("SalesDesc")
    else:
        price_node = record.nested("SalesOrPurchase/Price")
        desc_node = record.nested("SalesOrPurchase/Desc")
        price = price_node.text if price_node is not None else None
        desc = desc_node.text if desc_node is not None else None
    quantity = record.value("QuantityOnHand")
    return QbdItem(
        list_id=record.list_id,
        kind=record.kind,
        full_name=record.full_name,
        edit_sequence=record.edit_sequence,
        time_modified=record.modified.replace(microsecond=0).isoformat(),
        is_active=record.is_active,
        price=Decimal(price) if price else None,
        desc=desc,
        quantity_on_hand=Decimal(quantity) if quantity else None,
    )


class Bookkeeper:
    """A person at the QuickBooks Desktop keyboard: adds and edits items and customers."""

    def __init__(self, lists: Lists, tick: Callable[[], None]) -> None:
        self._lists = lists
        self._tick = tick

    def _account(self, name: str, account_type: str) -> None:
        if self._lists.by_name(("Account",), name) is None:
            fields = {"AccountType": [element("AccountType", account_type)]}
            self._lists.add("Account", name, fields)

    def add_item(
        self,
        kind: str,
        name: str,
        *,
        parent: str | None = None,
        price: Decimal | str | None = None,
        desc: str | None = None,
        quantity_on_hand: Decimal | int | str | None = None,
        active: bool = True,
    ) -> ListRecord:
        if kind not in ("ItemInventory", "ItemNonInventory", "ItemService"):
            raise ValueError(
                f"the bookkeeper adds inventory, non-inventory or service items, not {kind}"
            )
        over = None
        if parent is not None:
            # QuickBooks offers as "Subitem of" only items of the same type.
            over = self._lists.by_name((kind,), parent)
            if over is None:
                raise KeyError(f"no {kind} {parent!r} to put {name!r} under")
        fields: dict[str, list[etree._Element]] = {}
        if kind == "ItemInventory":
            self._account("Cost of Goods Sold", "CostOfGoodsSold")
            self._account("Inventory Asset", "OtherCurrentAsset")
            fields["IncomeAccountRef"] = [self._ref("IncomeAccountRef", "Merchandise Sales")]
            fields["COGSAccountRef"] = [self._ref("COGSAccountRef", "Cost of Goods Sold")]
            fields["AssetAccountRef"] = [self._ref("AssetAccountRef", "Inventory Asset")]
        else:
            aggregate = element("SalesOrPurchase")
            aggregate.append(self._ref("AccountRef", "Merchandise Sales"))
            fields["SalesOrPurchase"] = [aggregate]
        record = self._lists.add(kind, name, fields, parent=over)
        record.is_active = active
        self._apply(record, price=price, desc=desc, quantity_on_hand=quantity_on_hand)
        self._tick()
        return record

    def edit_item(
        self,
        full_name: str,
        *,
        price: Decimal | str | None = None,
        desc: str | None = None,
        quantity_on_hand: Decimal | int | str | None = None,
        active: bool | None = None,
        name: str | None = None,
    ) -> ListRecord:
        record = self._lists.by_name(
            ("ItemInventory", "ItemNonInventory", "ItemService"), full_name
        )
        if record is None:
            raise KeyError(f"no item {full_name!r}")
        if quantity_on_hand is not None and record.kind != "ItemInventory":
            raise ValueError(f"{full_name!r} is not an inventory item: it has no quantity on hand")
        if name is not None and name != record.name:
            prefix = f"{record.parent.full_name}:" if record.parent is not None else ""
            self._lists.check_name_free(record.kind, prefix + name, except_id=record.list_id)
            record.name = name
        if active is not None:
            record.is_active = active
        self._apply(record, price=price, desc=desc, quantity_on_hand=quantity_on_hand)
        self._lists.touch(record)
        self._tick()
        return record

    def edit_customer(
        self, full_name: str, **changes: str | bool | Mapping[str, str]
    ) -> ListRecord:
        """``changes``: FirstName="Ada", Email=..., Phone=..., IsActive=False,
        BillAddress={"Addr1": ..., "City": ...}, Name="New name"."""
        record = self._lists.by_name(("Customer",), full_name)
        if record is None:
            raise KeyError(f"no customer {full_name!r}")
        for tag, value in changes.items():
            if tag == "IsActive":
                record.is_active = bool(value)
            elif tag == "Name":
                self._lists.check_name_free("Customer", str(value), except_id=record.list_id)
                record.name = str(value)
            elif isinstance(value, Mapping):
                node = element(tag)
                for child, text in value.items():
                    etree.SubElement(node, child).text = text
                record.fields[tag] = [node]
            else:
                record.fields[tag] = [element(tag, str(value))]
        self._lists.touch(record)
        self._tick()
        return record

    def _ref(self, tag: str, full_name: str) -> etree._Element:
        account = self._lists.by_name(("Account",), full_name)
        if account is None:
            raise KeyError(f"no account {full_name!r}")
        return account.ref(tag)

    @staticmethod
    def _apply(
        record: ListRecord,
        *,
        price: Decimal | str | None,
        desc: str | None,
        quantity_on_hand: Decimal | int | str | None,
    ) -> None:
        if record.kind == "ItemInventory":
            if desc is not None:
                record.fields["SalesDesc"] = [element("SalesDesc", desc)]
            if price is not None:
                record.fields["SalesPrice"] = [element("SalesPrice", f"{Decimal(price):.2f}")]
            if quantity_on_hand is not None:
                quantity = decimal_text(Decimal(quantity_on_hand))
                record.fields["QuantityOnHand"] = [element("QuantityOnHand", quantity)]
            return
        aggregate = record.fields["SalesOrPurchase"][0]
        values = {"Desc": desc, "Price": f"{Decimal(price):.2f}" if price is not None else None}
        for tag, text in values.items():
            if text is None:
                continue
            found = aggregate.find(tag)
            node = found if found is not None else etree.Element(tag)
            if found is None:
                # Keep qbXML's order: Desc, Price, AccountRef.
                later = [
                    c
                    for c in aggregate
                    if c.tag in _SALES_OR_PURCHASE[_SALES_OR_PURCHASE.index(tag) + 1 :]
                ]
                if later:
                    later[0].addprevious(node)
                else:
                    aggregate.append(node)
            node.text = text

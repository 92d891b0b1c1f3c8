"""Sales transactions of the simulated QuickBooks Desktop company: Invoice, SalesReceipt, CreditMemo.

Totals are computed from the lines the way QuickBooks does: a line's Amount is given, or
Quantity x Rate (rounded half up to the cent), or a percentage of the line above; discount
items subtract; Subtotal adds the lines; sales tax is the header sales-tax item's rate on the
taxable lines. Desktop has no shipping or discount lines, so those come in as item lines.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from lxml import etree

from simulators.qbd_lists import Ids, Lists
from simulators.qbd_records import (
    ITEM_KINDS,
    LINE_INPUT_FIELDS,
    TXN_INPUT_FIELDS,
    ZERO,
    LineRecord,
    ListRecord,
    QbStatus,
    TxnRecord,
    children,
    decimal_of,
    element,
    round_cents,
)

_DEFAULTS = {
    "Invoice": {"ARAccountRef": "Accounts Receivable", "TemplateRef": "Intuit Product Invoice"},
    "SalesReceipt": {
        "TemplateRef": "Custom Sales Receipt",
        "DepositToAccountRef": "Undeposited Funds",
    },
    "CreditMemo": {"ARAccountRef": "Accounts Receivable", "TemplateRef": "Custom Credit Memo"},
}
_FLAGS = {
    "Invoice": {"IsPending": "false", "IsFinanceCharge": "false", "IsToBePrinted": "true", "IsToBeEmailed": "false"},
    "SalesReceipt": {"IsPending": "false", "IsToBePrinted": "true", "IsToBeEmailed": "false"},
    "CreditMemo": {"IsPending": "false", "IsToBePrinted": "true", "IsToBeEmailed": "false"},
}  # fmt: skip
_RATE_PLACES = Decimal("0.00001")


class Transactions:
    def __init__(self, lists: Lists, ids: Ids, clock: Callable[[], datetime]) -> None:
        self.lists = lists
        self.ids = ids
        self.clock = clock
        self.records: dict[str, TxnRecord] = {}  # TxnID -> record
        self._txn_number = 0
        self._ref_numbers: dict[str, int] = {}
        self._line_ids = 0

    def next_txn_number(self) -> int:
        self._txn_number += 1
        return self._txn_number

    def of_kind(self, kind: str) -> list[TxnRecord]:
        return [t for t in self.records.values() if t.kind == kind]

    def find(self, kind: str, txn_id: str) -> TxnRecord | None:
        record = self.records.get(txn_id.strip())
        return record if record is not None and record.kind == kind else None

    # -- add / mod ------------------------------------------------------------------------------

    def add(self, kind: str, body: etree._Element) -> TxnRecord:
        header = self._header(kind, body)
        customer = self._customer(kind, body)
        tax_item = self._tax_item(kind, body, customer)
        lines = [self._new_line(kind, line) for line in body if line.tag == f"{kind}LineAdd"]
        for name, full_name in _DEFAULTS[kind].items():
            if name not in header:
                ref = element(name)
                etree.SubElement(ref, "FullName").text = full_name
                header[name] = self.lists.resolved_copy(ref, kind)
        today = self.clock().date().isoformat()
        header.setdefault("TxnDate", element("TxnDate", today))
        for name in ("DueDate", "ShipDate"):
            header.setdefault(name, element(name, header["TxnDate"].text))
        for name, value in _FLAGS[kind].items():
            header.setdefault(name, element(name, value))
        ref_number = header.pop("RefNumber", None)
        now = self.clock()
        record = TxnRecord(
            kind=kind,
            txn_id=self.ids.txn_id(),
            txn_number=self.next_txn_number(),
            created=now,
            modified=now,
            edit_sequence=self.ids.edit_sequence(),
            ref_number=ref_number.text or "" if ref_number is not None else self._next_ref(kind),
            header=header,
            lines=lines,
            customer=customer,
            sales_tax_item=tax_item,
        )
        self._compute(record)
        self.records[record.txn_id] = record
        return record

    def modify(self, kind: str, body: etree._Element) -> TxnRecord:
        record = self._for_change(kind, body.findtext("TxnID") or "", "TxnID")
        sent = body.findtext("EditSequence") or ""
        if sent != record.edit_sequence:
            raise QbStatus(3200, f'The provided edit sequence "{sent}" is out-of-date. ')
        header = self._header(kind, body)
        customer = self._customer(kind, body) if body.find("CustomerRef") is not None else None
        tax_ref = body.find("ItemSalesTaxRef")
        tax_item = (
            self.lists.resolve(tax_ref, ("ItemSalesTax",), kind) if tax_ref is not None else None
        )
        line_mods = [line for line in body if line.tag == f"{kind}LineMod"]
        lines = self._modified_lines(kind, record, line_mods) if line_mods else None
        # Everything validated: apply.
        if "RefNumber" in header:
            record.ref_number = header.pop("RefNumber").text or ""
        record.header.update(header)
        if customer is not None:
            record.customer = customer
        if tax_item is not None:
            record.sales_tax_item = tax_item
        if lines is not None:
            record.lines = lines
        self._compute(record)
        self._touch(record)
        return record

    def void(self, kind: str, txn_id: str) -> TxnRecord:
        record = self._for_change(kind, txn_id, "TxnID", missing_code=3120)
        memo = record.header.get("Memo")
        text = memo.text if memo is not None and memo.text else ""
        if not text.startswith("VOID:"):
            record.header["Memo"] = element("Memo", f"VOID: {text}".rstrip())
        for line in record.lines:
            line.amount_given = ZERO
            line.quantity = ZERO if line.quantity is not None else None
        record.voided = True
        self._compute(record)
        self._touch(record)
        return record

    def delete(self, kind: str, txn_id: str) -> TxnRecord:
        record = self._for_change(kind, txn_id, "TxnID", missing_code=3120)
        del self.records[record.txn_id]
        return record

    # -- pieces ---------------------------------------------------------------------------------

    def _for_change(
        self, kind: str, txn_id: str, field: str, missing_code: int = 3000
    ) -> TxnRecord:
        record = self.find(kind, txn_id)
        if record is None:
            if missing_code == 3120:
                raise QbStatus(
                    3120, f'Object "{txn_id}" specified in the request cannot be found.  '
                )
            raise QbStatus(
                3000, f'The given object ID "{txn_id}" in the field "{field}" is invalid.'
            )
        return record

    def _touch(self, record: TxnRecord) -> None:
        record.modified = self.clock()
        record.edit_sequence = self.ids.edit_sequence()

    def _next_ref(self, kind: str) -> str:
        self._ref_numbers[kind] = self._ref_numbers.get(kind, 0) + 1
        return str(self._ref_numbers[kind])

    def _header(self, kind: str, body: etree._Element) -> dict[str, etree._Element]:
        header: dict[str, etree._Element] = {}
        for child in children(body):
            if child.tag in TXN_INPUT_FIELDS and child.tag not in (
                "CustomerRef",
                "ItemSalesTaxRef",
            ):
                header[child.tag] = self.lists.resolved_copy(child, kind)
        return header

    def _customer(self, kind: str, body: etree._Element) -> ListRecord | None:
        ref = body.find("CustomerRef")
        if ref is None:
            return None
        return self.lists.resolve(ref, ("Customer",), kind)

    def _tax_item(
        self, kind: str, body: etree._Element, customer: ListRecord | None
    ) -> ListRecord | None:
        ref = body.find("ItemSalesTaxRef")
        if ref is not None:
            return self.lists.resolve(ref, ("ItemSalesTax",), kind)
        default = customer.nested("ItemSalesTaxRef") if customer is not None else None
        if default is not None:
            return self.lists.resolve(default, ("ItemSalesTax",), kind)
        return None

    def _new_line(self, kind: str, node: etree._Element) -> LineRecord:
        self._line_ids += 1
        line = LineRecord(
            txn_line_id=f"{self._line_ids:X}-{int(self.clock().timestamp())}", item=None
        )
        self._apply_line(kind, line, node)
        return line

    def _apply_line(self, kind: str, line: LineRecord, node: etree._Element) -> None:
        where = f"{kind} line"
        item_ref = node.find("ItemRef")
        if item_ref is not None:
            line.item = self.lists.resolve(item_ref, ITEM_KINDS, where)
        for child in children(node):
            if child.tag in LINE_INPUT_FIELDS:
                line.fields[child.tag] = self.lists.resolved_copy(child, where)
        default_code = line.item.nested("SalesTaxCodeRef") if line.item is not None else None
        if "SalesTaxCodeRef" not in line.fields and default_code is not None:
            line.fields["SalesTaxCodeRef"] = copy.deepcopy(default_code)  # the item's tax code
        quantity = decimal_of(node.find("Quantity"))
        rate = decimal_of(node.find("Rate"))
        rate_percent = decimal_of(node.find("RatePercent"))
        amount = decimal_of(node.find("Amount"))
        if quantity is not None:
            line.quantity = quantity
        if rate is not None:
            line.rate, line.rate_percent = rate, None
        if rate_percent is not None:
            line.rate_percent, line.rate = rate_percent, None
        if amount is not None:
            line.amount_given = amount
        elif rate is not None or rate_percent is not None or quantity is not None:
            line.amount_given = None  # QuickBooks recomputes the amount from the new inputs

    def _modified_lines(
        self, kind: str, record: TxnRecord, mods: list[etree._Element]
    ) -> list[LineRecord]:
        """Lines after a Mod: listed lines stay (changed), ``-1`` adds, unlisted lines go."""
        existing = {line.txn_line_id: line for line in record.lines}
        result: list[LineRecord] = []
        for node in mods:
            line_id = node.findtext("TxnLineID") or ""
            if line_id == "-1":
                result.append(self._new_line(kind, node))
                continue
            if line_id not in existing:
                raise QbStatus(
                    3000, f'The given object ID "{line_id}" in the field "TxnLineID" is invalid.'
                )
            line = copy.deepcopy(existing[line_id])
            self._apply_line(kind, line, node)
            result.append(line)
        return result

    def _compute(self, record: TxnRecord) -> None:
        rate = ZERO
        if record.sales_tax_item is not None:
            rate = decimal_of(record.sales_tax_item.nested("TaxRate")) or ZERO
        subtotal = ZERO
        taxable = ZERO
        previous = ZERO
        for line in record.lines:
            item = line.item
            kind = item.kind if item is not None else ""
            if line.amount_given is not None:
                amount = line.amount_given
            elif line.rate_percent is not None:
                amount = round_cents(previous * line.rate_percent / 100)
            elif line.rate is not None:
                amount = round_cents(
                    (line.quantity if line.quantity is not None else 1) * line.rate
                )
            elif kind == "ItemSalesTax":
                amount = round_cents(taxable * (decimal_of(item.nested("TaxRate")) or ZERO) / 100)  # type: ignore[union-attr]
            else:
                amount = round_cents(
                    (line.quantity if line.quantity is not None else 1) * _item_price(item)
                )
            if kind == "ItemDiscount":
                amount = -abs(amount)  # a discount item always subtracts
            if (
                line.rate is None
                and line.rate_percent is None
                and line.quantity
                and kind != "ItemDiscount"
            ):
                line.rate = (amount / line.quantity).quantize(_RATE_PLACES)
            line.amount = amount
            line.taxable = self._taxable(line)
            subtotal += amount
            if line.taxable and kind != "ItemSalesTax":
                taxable += amount
            previous = amount
        record.subtotal = subtotal
        record.sales_tax_percentage = rate
        record.sales_tax_total = round_cents(taxable * rate / 100)

    def _taxable(self, line: LineRecord) -> bool:
        code = line.fields.get("SalesTaxCodeRef")
        if code is None and line.item is not None:
            code = line.item.nested("SalesTaxCodeRef")
        if code is None:
            return False
        record = self.lists.by_id(("SalesTaxCode",), code.findtext("ListID") or "")
        return record is not None and record.is_taxable_code()


def _item_price(item: ListRecord | None) -> Decimal:
    if item is None:
        return ZERO
    for path in ("SalesOrPurchase/Price", "SalesAndPurchase/SalesPrice", "DiscountRate"):
        price = decimal_of(item.nested(path))
        if price is not None:
            return price
    return ZERO

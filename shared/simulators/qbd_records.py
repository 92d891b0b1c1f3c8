"""Records of the simulated QuickBooks Desktop company and the qbXML pieces they are made of.

List records (customers, items, accounts, ...) and transactions keep copies of the elements
the request supplied, with every ``*Ref`` resolved to ListID + FullName the way QuickBooks
echoes them, and render their ``*Ret`` in the element order of Intuit's schema.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from lxml import etree

ZERO = Decimal("0")
CENT = Decimal("0.01")

CUSTOMER = "Customer"
NAME_KINDS = ("Customer", "Vendor", "Employee", "OtherName")  # one name space in QuickBooks
ITEM_KINDS = (
    "ItemService",
    "ItemNonInventory",
    "ItemInventory",
    "ItemOtherCharge",
    "ItemDiscount",
    "ItemSalesTax",
)
TXN_KINDS = ("Invoice", "SalesReceipt", "CreditMemo")

# Which lists a reference element points into (others are kept as sent).
REF_KINDS: dict[str, tuple[str, ...]] = {
    "CustomerRef": ("Customer",),
    "ItemRef": ITEM_KINDS,
    "ItemSalesTaxRef": ("ItemSalesTax",),
    "AccountRef": ("Account",),
    "IncomeAccountRef": ("Account",),
    "ExpenseAccountRef": ("Account",),
    "COGSAccountRef": ("Account",),
    "AssetAccountRef": ("Account",),
    "ARAccountRef": ("Account",),
    "DepositToAccountRef": ("Account",),
    "RefundFromAccountRef": ("Account",),
    "CurrencyRef": ("Currency",),
    "SalesTaxCodeRef": ("SalesTaxCode",),
    "CustomerSalesTaxCodeRef": ("SalesTaxCode",),
    "PurchaseTaxCodeRef": ("SalesTaxCode",),
    "TemplateRef": ("Template",),
    "TermsRef": ("StandardTerms",),
    "PaymentMethodRef": ("PaymentMethod",),
    "PreferredPaymentMethodRef": ("PaymentMethod",),
    "ClassRef": ("Class",),
    "ShipMethodRef": ("ShipMethod",),
    "CustomerMsgRef": ("CustomerMsg",),
    "PrefVendorRef": ("Vendor",),
    "TaxVendorRef": ("Vendor",),
}
# How QuickBooks names a list in "There is an invalid reference to QuickBooks <label> ...".
KIND_LABELS = {
    "Customer": "Customer",
    "Account": "Account",
    "SalesTaxCode": "Sales Tax Code",
    "Template": "Template",
    "StandardTerms": "Terms",
    "PaymentMethod": "Payment Method",
    "Class": "Class",
    "ShipMethod": "Ship Method",
    "CustomerMsg": "Customer Message",
    "Vendor": "Vendor",
    "ItemSalesTax": "Item Sales Tax",
    "Currency": "Currency",
    **{kind: "Item" for kind in ITEM_KINDS},
}

# Ret element order from qbxml130.xsd (computed elements are filled in by the renderer).
RET_ORDER: dict[str, tuple[str, ...]] = {
    "Customer": (
        "ListID", "TimeCreated", "TimeModified", "EditSequence", "Name", "FullName", "IsActive",
        "ClassRef", "ParentRef", "Sublevel", "CompanyName", "Salutation", "FirstName",
        "MiddleName", "LastName", "Suffix", "JobTitle", "BillAddress", "BillAddressBlock",
        "ShipAddress", "ShipAddressBlock", "ShipToAddress", "PrintAs", "Phone", "Mobile", "Pager",
        "AltPhone", "Fax", "Email", "Cc", "Contact", "AltContact", "AdditionalContactRef",
        "CustomerTypeRef", "TermsRef", "SalesRepRef", "Balance", "TotalBalance",
        "SalesTaxCodeRef", "ItemSalesTaxRef", "SalesTaxCountry", "ResaleNumber", "AccountNumber",
        "CreditLimit", "PreferredPaymentMethodRef", "CreditCardInfo", "JobStatus", "JobStartDate",
        "JobProjectedEndDate", "JobEndDate", "JobDesc", "JobTypeRef", "Notes",
        "IsStatementWithParent", "DeliveryMethod", "PreferredDeliveryMethod", "PriceLevelRef",
        "ExternalGUID", "TaxRegistrationNumber", "CurrencyRef",
    ),
    "ItemService": (
        "ListID", "TimeCreated", "TimeModified", "EditSequence", "Name", "FullName",
        "BarCodeValue", "IsActive", "ClassRef", "ParentRef", "Sublevel", "UnitOfMeasureSetRef",
        "IsTaxIncluded", "SalesTaxCodeRef", "SalesOrPurchase", "SalesAndPurchase", "ExternalGUID",
    ),
    "ItemNonInventory": (
        "ListID", "TimeCreated", "TimeModified", "EditSequence", "Name", "FullName",
        "BarCodeValue", "IsActive", "ClassRef", "ParentRef", "Sublevel", "ManufacturerPartNumber",
        "UnitOfMeasureSetRef", "IsTaxIncluded", "SalesTaxCodeRef", "SalesOrPurchase",
        "SalesAndPurchase", "ExternalGUID",
    ),
    "ItemInventory": (
        "ListID", "TimeCreated", "TimeModified", "EditSequence", "Name", "FullName",
        "BarCodeValue", "IsActive", "ClassRef", "ParentRef", "Sublevel", "ManufacturerPartNumber",
        "UnitOfMeasureSetRef", "IsTaxIncluded", "SalesTaxCodeRef", "SalesDesc", "SalesPrice",
        "IncomeAccountRef", "PurchaseDesc", "PurchaseCost", "PurchaseTaxCodeRef", "COGSAccountRef",
        "PrefVendorRef", "AssetAccountRef", "ReorderPoint", "Max", "QuantityOnHand", "AverageCost",
        "QuantityOnOrder", "QuantityOnSalesOrder", "ExternalGUID",
    ),
    "ItemOtherCharge": (
        "ListID", "TimeCreated", "TimeModified", "EditSequence", "Name", "FullName",
        "BarCodeValue", "IsActive", "ClassRef", "ParentRef", "Sublevel", "IsTaxIncluded",
        "SalesTaxCodeRef", "SalesOrPurchase", "SalesAndPurchase", "SpecialItemType", "ExternalGUID",
    ),
    "ItemDiscount": (
        "ListID", "TimeCreated", "TimeModified", "EditSequence", "Name", "FullName",
        "BarCodeValue", "IsActive", "ClassRef", "ParentRef", "Sublevel", "ItemDesc",
        "SalesTaxCodeRef", "DiscountRate", "DiscountRatePercent", "AccountRef", "ExternalGUID",
    ),
    "ItemSalesTax": (
        "ListID", "TimeCreated", "TimeModified", "EditSequence", "Name", "BarCodeValue",
        "IsActive", "ClassRef", "ItemDesc", "TaxRate", "TaxVendorRef", "SalesTaxReturnLineRef",
        "ExternalGUID",
    ),
    "Account": (
        "ListID", "TimeCreated", "TimeModified", "EditSequence", "Name", "FullName", "IsActive",
        "ParentRef", "Sublevel", "AccountType", "DetailAccountType", "SpecialAccountType",
        "IsTaxAccount", "AccountNumber", "BankNumber", "LastCheckNumber", "Desc", "Balance",
        "TotalBalance", "SalesTaxCodeRef", "CashFlowClassification", "CurrencyRef",
    ),
}  # fmt: skip

TXN_HEAD_ORDER: dict[str, tuple[str, ...]] = {
    "Invoice": (
        "TxnID", "TimeCreated", "TimeModified", "EditSequence", "TxnNumber", "CustomerRef",
        "ClassRef", "ARAccountRef", "TemplateRef", "TxnDate", "RefNumber", "BillAddress",
        "BillAddressBlock", "ShipAddress", "ShipAddressBlock", "IsPending", "IsFinanceCharge",
        "PONumber", "TermsRef", "DueDate", "SalesRepRef", "FOB", "ShipDate", "ShipMethodRef",
        "Subtotal", "ItemSalesTaxRef", "SalesTaxPercentage", "SalesTaxTotal", "AppliedAmount",
        "BalanceRemaining", "CurrencyRef", "ExchangeRate", "BalanceRemainingInHomeCurrency",
        "Memo", "IsPaid", "CustomerMsgRef", "IsToBePrinted", "IsToBeEmailed", "IsTaxIncluded",
        "CustomerSalesTaxCodeRef", "SuggestedDiscountAmount", "SuggestedDiscountDate", "Other",
        "ExternalGUID",
    ),
    "SalesReceipt": (
        "TxnID", "TimeCreated", "TimeModified", "EditSequence", "TxnNumber", "CustomerRef",
        "ClassRef", "TemplateRef", "TxnDate", "RefNumber", "BillAddress", "BillAddressBlock",
        "ShipAddress", "ShipAddressBlock", "IsPending", "CheckNumber", "PaymentMethodRef",
        "DueDate", "SalesRepRef", "ShipDate", "ShipMethodRef", "FOB", "Subtotal",
        "ItemSalesTaxRef", "SalesTaxPercentage", "SalesTaxTotal", "TotalAmount", "CurrencyRef",
        "ExchangeRate", "TotalAmountInHomeCurrency", "Memo", "CustomerMsgRef", "IsToBePrinted",
        "IsToBeEmailed", "IsTaxIncluded", "CustomerSalesTaxCodeRef", "DepositToAccountRef",
        "CreditCardTxnInfo", "Other", "ExternalGUID",
    ),
    "CreditMemo": (
        "TxnID", "TimeCreated", "TimeModified", "EditSequence", "TxnNumber", "CustomerRef",
        "ClassRef", "ARAccountRef", "TemplateRef", "TxnDate", "RefNumber", "BillAddress",
        "BillAddressBlock", "ShipAddress", "ShipAddressBlock", "IsPending", "PONumber",
        "TermsRef", "DueDate", "SalesRepRef", "FOB", "ShipDate", "ShipMethodRef", "Subtotal",
        "ItemSalesTaxRef", "SalesTaxPercentage", "SalesTaxTotal", "TotalAmount",
        "CreditRemaining", "CurrencyRef", "ExchangeRate", "CreditRemainingInHomeCurrency", "Memo",
        "CustomerMsgRef", "IsToBePrinted", "IsToBeEmailed", "IsTaxIncluded",
        "CustomerSalesTaxCodeRef", "Other", "ExternalGUID",
    ),
}  # fmt: skip
LINE_ORDER = (
    "TxnLineID", "ItemRef", "Desc", "Quantity", "UnitOfMeasure", "Rate", "RatePercent",
    "ClassRef", "Amount", "ServiceDate", "SalesTaxCodeRef", "Other1", "Other2",
)  # fmt: skip
# Header fields a request supplies that the record keeps (computed ones are left out).
TXN_INPUT_FIELDS = frozenset(
    {
        "CustomerRef", "ClassRef", "ARAccountRef", "TemplateRef", "TxnDate", "RefNumber",
        "BillAddress", "ShipAddress", "IsPending", "IsFinanceCharge", "PONumber", "TermsRef",
        "DueDate", "SalesRepRef", "FOB", "ShipDate", "ShipMethodRef", "ItemSalesTaxRef", "Memo",
        "CustomerMsgRef", "IsToBePrinted", "IsToBeEmailed", "IsTaxIncluded",
        "CustomerSalesTaxCodeRef", "Other", "ExternalGUID", "CheckNumber", "PaymentMethodRef",
        "DepositToAccountRef", "ExchangeRate",
    }
)  # fmt: skip
LINE_INPUT_FIELDS = frozenset(
    {
        "Desc",
        "Quantity",
        "UnitOfMeasure",
        "ClassRef",
        "ServiceDate",
        "SalesTaxCodeRef",
        "Other1",
        "Other2",
    }
)


class QbStatus(Exception):
    """A request-level failure: QuickBooks answers it in the request's statusCode attributes."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def severity(code: int) -> str:
    if code < 500:
        return "Info"
    if code < 1000:
        return "Warn"
    return "Error"


def money(amount: Decimal) -> str:
    return f"{amount.quantize(CENT, rounding=ROUND_HALF_UP):f}"


def round_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def decimal_text(value: Decimal) -> str:
    """A quantity or rate as QuickBooks prints it: no exponent, no trailing zeros."""
    return f"{value.normalize():f}"


def percent_text(value: Decimal) -> str:
    """Percentages print with two decimals unless they carry more (8.875)."""
    return money(value) if value == round_cents(value) else decimal_text(value)


def qb_time(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


def element(tag: str, text: str | None = None) -> etree._Element:
    node = etree.Element(tag)
    if text is not None:
        node.text = text
    return node


def ref_element(tag: str, list_id: str, full_name: str) -> etree._Element:
    node = etree.Element(tag)
    etree.SubElement(node, "ListID").text = list_id
    etree.SubElement(node, "FullName").text = full_name
    return node


def children(node: etree._Element) -> list[etree._Element]:
    return [c for c in node if isinstance(c.tag, str)]


def decimal_of(node: etree._Element | None) -> Decimal | None:
    if node is None or node.text is None:
        return None
    return Decimal(node.text.strip())


@dataclass
class ListRecord:
    kind: str
    list_id: str
    name: str
    created: datetime
    modified: datetime
    edit_sequence: str
    is_active: bool = True
    # Copies of supplied elements by tag, refs already resolved; a list keeps repeats.
    fields: dict[str, list[etree._Element]] = field(default_factory=dict)
    # A sub-item's parent item (a sub-customer's parent customer): FullName is "Parent:Name".
    parent: ListRecord | None = None

    @property
    def full_name(self) -> str:
        return f"{self.parent.full_name}:{self.name}" if self.parent is not None else self.name

    @property
    def sublevel(self) -> int:
        return self.parent.sublevel + 1 if self.parent is not None else 0

    def ref(self, tag: str) -> etree._Element:
        return ref_element(tag, self.list_id, self.full_name)

    def value(self, tag: str) -> str | None:
        nodes = self.fields.get(tag)
        return nodes[0].text if nodes else None

    def nested(self, path: str) -> etree._Element | None:
        """First element at ``Aggregate/Child`` among the fields (e.g. SalesOrPurchase/Price)."""
        head, _, rest = path.partition("/")
        for node in self.fields.get(head, []):
            found = node.find(rest) if rest else node
            if found is not None:
                return found
        return None

    def is_taxable_code(self) -> bool:
        return self.value("IsTaxable") == "true"

    def ret(self, computed: dict[str, str]) -> etree._Element:
        node = etree.Element(f"{self.kind}Ret")
        base = {
            "ListID": self.list_id,
            "TimeCreated": qb_time(self.created),
            "TimeModified": qb_time(self.modified),
            "EditSequence": self.edit_sequence,
            "Name": self.name,
            "FullName": self.full_name,
            "IsActive": "true" if self.is_active else "false",
            "Sublevel": str(self.sublevel),
            **computed,
        }
        for tag in RET_ORDER[self.kind]:
            if tag == "ParentRef" and self.parent is not None:
                node.append(self.parent.ref("ParentRef"))
            if tag in base:
                etree.SubElement(node, tag).text = base[tag]
            for value in self.fields.get(tag, []):
                node.append(copy.deepcopy(value))
        return node


@dataclass
class LineRecord:
    txn_line_id: str
    item: ListRecord | None
    fields: dict[str, etree._Element] = field(default_factory=dict)
    quantity: Decimal | None = None
    rate: Decimal | None = None
    rate_percent: Decimal | None = None
    amount_given: Decimal | None = None
    amount: Decimal = ZERO
    taxable: bool = False

    def ret(self, tag: str) -> etree._Element:
        node = etree.Element(tag)
        computed: dict[str, str] = {"TxnLineID": self.txn_line_id, "Amount": money(self.amount)}
        if self.quantity is not None:
            computed["Quantity"] = decimal_text(self.quantity)
        if self.rate_percent is not None:
            computed["RatePercent"] = decimal_text(self.rate_percent)
        elif self.rate is not None:
            computed["Rate"] = decimal_text(self.rate)
        for name in LINE_ORDER:
            if name == "ItemRef" and self.item is not None:
                node.append(self.item.ref("ItemRef"))
            elif name in computed:
                etree.SubElement(node, name).text = computed[name]
            elif name in self.fields:
                node.append(copy.deepcopy(self.fields[name]))
        return node


@dataclass
class TxnRecord:
    kind: str
    txn_id: str
    txn_number: int
    created: datetime
    modified: datetime
    edit_sequence: str
    ref_number: str
    header: dict[str, etree._Element] = field(default_factory=dict)
    lines: list[LineRecord] = field(default_factory=list)
    customer: ListRecord | None = None
    sales_tax_item: ListRecord | None = None
    subtotal: Decimal = ZERO
    sales_tax_percentage: Decimal = ZERO
    sales_tax_total: Decimal = ZERO
    voided: bool = False
    # Paid on an invoice, or credit used of a credit memo (ReceivePayment, ARRefundCreditCard).
    applied: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.sales_tax_total

    def ret(self, *, include_lines: bool) -> etree._Element:
        node = etree.Element(f"{self.kind}Ret")
        total = money(self.total)
        left = money(self.total - self.applied)
        computed = {
            "TxnID": self.txn_id,
            "TimeCreated": qb_time(self.created),
            "TimeModified": qb_time(self.modified),
            "EditSequence": self.edit_sequence,
            "TxnNumber": str(self.txn_number),
            "RefNumber": self.ref_number,
            "Subtotal": money(self.subtotal),
            "SalesTaxPercentage": percent_text(self.sales_tax_percentage),
            "SalesTaxTotal": money(self.sales_tax_total),
            "AppliedAmount": money(-self.applied),
            "BalanceRemaining": left,
            "IsPaid": "true" if self.total - self.applied == ZERO else "false",
            "TotalAmount": total,
            "CreditRemaining": left,
        }
        for tag in TXN_HEAD_ORDER[self.kind]:
            if tag == "CustomerRef" and self.customer is not None:
                node.append(self.customer.ref("CustomerRef"))
            elif tag == "ItemSalesTaxRef" and self.sales_tax_item is not None:
                node.append(self.sales_tax_item.ref("ItemSalesTaxRef"))
            elif tag in computed:
                if tag == "IsPaid" and self.kind != "Invoice":
                    continue
                etree.SubElement(node, tag).text = computed[tag]
            elif tag in self.header:
                node.append(copy.deepcopy(self.header[tag]))
        if include_lines:
            for line in self.lines:
                node.append(line.ret(f"{self.kind}LineRet"))
        return node

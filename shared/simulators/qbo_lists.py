"""Name lists of a simulated QuickBooks Online company: Account, Class, Department, PaymentMethod,
Term.

Each needs a Name, unique within its list (case-insensitive, 6240), without a colon (QBO uses
the colon to join a sub-record to its parent); a sub-record's parent must exist and be active.
Accounts have an AccountType from Finance.xsd's AccountTypeEnum and a currency fixed at
creation. Records are made inactive, never deleted.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from simulators.qbo_currency import Currencies, ref_code
from simulators.qbo_faults import (
    business,
    duplicate_name,
    inactive_reference,
    invalid_enumeration,
    invalid_reference,
    required,
    too_long,
)

NAME_LISTS = ("Class", "Department", "PaymentMethod", "Term")
# AccountTypeEnum -> AccountClassificationEnum.
ACCOUNT_TYPES = {
    "Bank": "Asset",
    "Accounts Receivable": "Asset",
    "Other Current Asset": "Asset",
    "Fixed Asset": "Asset",
    "Other Asset": "Asset",
    "Accounts Payable": "Liability",
    "Credit Card": "Liability",
    "Other Current Liability": "Liability",
    "Long Term Liability": "Liability",
    "Equity": "Equity",
    "Income": "Revenue",
    "Cost of Goods Sold": "Expense",
    "Expense": "Expense",
    "Other Income": "Revenue",
    "Other Expense": "Expense",
}
DEPOSIT_TYPES = ("Bank", "Other Current Asset")
PAYMENT_METHOD_TYPES = ("CREDIT_CARD", "NON_CREDIT_CARD")
# Name lengths QBO accepts: accounts and classes 100, payment methods 31.
NAME_MAX = {"Account": 100, "Class": 100, "Department": 100, "PaymentMethod": 31, "Term": 31}
NOUNS = {
    "Account": "account",
    "Class": "class",
    "Department": "location",
    "PaymentMethod": "payment method",
    "Term": "term",
}
# A new company's payment terms: (Id, Name, DueDays). Preferences' DefaultTerms is Net 30.
SEED_TERMS = (
    ("1", "Due on receipt", 0),
    ("2", "Net 15", 15),
    ("3", "Net 30", 30),
    ("4", "Net 60", 60),
)

# A new QBO company's chart of accounts, as far as the connector posts to it:
# (Id, Name, AccountType, AccountSubType).
SEED_ACCOUNTS = (
    ("1", "Sales of Product Income", "Income", "SalesOfProductIncome"),
    ("2", "Services", "Income", "ServiceFeeIncome"),
    ("3", "Shipping Income", "Income", "OtherPrimaryIncome"),
    ("4", "Discounts given", "Income", "DiscountsRefundsGiven"),
    ("5", "Undeposited Funds", "Other Current Asset", "UndepositedFunds"),
    ("6", "Inventory Asset", "Other Current Asset", "Inventory"),
    ("7", "Cost of Goods Sold", "Cost of Goods Sold", "SuppliesMaterialsCogs"),
    ("8", "Checking", "Bank", "Checking"),
)
# The payment methods a new QBO company lists: (Name, Type).
SEED_PAYMENT_METHODS = (
    ("Cash", "NON_CREDIT_CARD"),
    ("Check", "NON_CREDIT_CARD"),
    ("Visa", "CREDIT_CARD"),
    ("MasterCard", "CREDIT_CARD"),
    ("Discover", "CREDIT_CARD"),
    ("American Express", "CREDIT_CARD"),
    ("Diners Club", "CREDIT_CARD"),
)


def checked_name(
    entity: str, source: dict[str, Any], entity_id: str, entries: dict[str, dict[str, Any]]
) -> str:
    name = str(source.get("Name") or "").strip()
    if not name:
        raise required("Name", "Name")
    limit = NAME_MAX[entity]
    if len(name) > limit:
        raise too_long("Name", limit, len(name))
    if ":" in name:
        raise business("Names can't contain a colon (:).", "Name")
    parent = ref_code(source.get("ParentRef"))
    for other_id, other in entries.items():
        same_parent = ref_code(other.get("ParentRef")) == parent
        if other_id != entity_id and same_parent and other["Name"].casefold() == name.casefold():
            raise duplicate_name(NOUNS[entity], other_id)
    return name


def active_ref(entries: dict[str, dict[str, Any]], ref: Any, element: str) -> dict[str, Any]:
    """The active record a reference points at (2500 when unknown, 610 when inactive)."""
    ref_id = ref_code(ref)
    if ref_id is None:
        raise required(element, element)
    entry = entries.get(ref_id)
    if entry is None:
        raise invalid_reference(element, ref_id)
    if not entry["Active"]:
        raise inactive_reference(element)
    return entry


def _parent(
    entity: str,
    source: dict[str, Any],
    entity_id: str,
    name: str,
    entries: dict[str, dict[str, Any]],
) -> tuple[dict[str, str] | None, str]:
    """ParentRef and FullyQualifiedName of a (sub-)record."""
    if source.get("ParentRef") is None:
        return None, name
    parent = active_ref(entries, source["ParentRef"], "ParentRef")
    if parent["Id"] == entity_id:
        raise business(f"A {NOUNS[entity]} can't be its own parent.", "ParentRef")
    return {"value": parent["Id"], "name": parent["Name"]}, f"{parent['FullyQualifiedName']}:{name}"


def build_name_entry(
    entity: str,
    source: dict[str, Any],
    entity_id: str,
    sync: str,
    meta: dict[str, str],
    entries: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """A Class, Department, PaymentMethod or Term record."""
    name = checked_name(entity, source, entity_id, entries)
    doc: dict[str, Any] = {"Id": entity_id, "SyncToken": sync, "MetaData": meta}
    doc.update(source)
    doc["Name"] = name
    doc["Active"] = source.get("Active", True) is not False
    if entity == "PaymentMethod":
        kind = source.get("Type", "NON_CREDIT_CARD")
        if kind not in PAYMENT_METHOD_TYPES:
            raise invalid_enumeration(str(kind), "Type")
        doc["Type"] = kind
    elif entity == "Term":
        # A STANDARD term is due a number of days after the transaction (DATE_DRIVEN terms,
        # due on a day of the month, are not simulated).
        kind = source.get("Type", "STANDARD")
        if kind != "STANDARD":
            raise invalid_enumeration(str(kind), "Type")
        days = source.get("DueDays")
        if not isinstance(days, int) or isinstance(days, bool) or days < 0:
            raise required("DueDays", "DueDays")
        doc["Type"], doc["DueDays"] = kind, days
    else:
        parent, qualified = _parent(entity, source, entity_id, name, entries)
        sub_flag = "SubClass" if entity == "Class" else "SubDepartment"
        doc[sub_flag] = parent is not None
        if parent is not None:
            doc["ParentRef"] = parent
        doc["FullyQualifiedName"] = qualified
    doc["domain"] = "QBO"
    doc["sparse"] = False
    return doc


def build_account(
    source: dict[str, Any],
    entity_id: str,
    sync: str,
    meta: dict[str, str],
    accounts: dict[str, dict[str, Any]],
    currencies: Currencies,
) -> dict[str, Any]:
    name = checked_name("Account", source, entity_id, accounts)
    account_type = source.get("AccountType")
    if account_type is None:
        raise required("AccountType", "AccountType")
    if account_type not in ACCOUNT_TYPES:
        raise invalid_enumeration(str(account_type), "AccountType")
    current = accounts.get(entity_id)
    home = current["CurrencyRef"]["value"] if current else currencies.home
    currency = currencies.usable(source.get("CurrencyRef"), home)
    if current is not None and currency != current["CurrencyRef"]["value"]:
        raise business("You can't change the currency of an account once it is set.", "CurrencyRef")
    if currency != currencies.home and account_type not in (*DEPOSIT_TYPES, "Credit Card"):
        raise business(
            f"Only bank, credit card and other current asset accounts can be in a foreign "
            f"currency; {account_type} accounts are in {currencies.home}.",
            "CurrencyRef",
        )
    doc: dict[str, Any] = {"Id": entity_id, "SyncToken": sync, "MetaData": meta}
    doc.update(source)
    parent, qualified = _parent("Account", source, entity_id, name, accounts)
    doc.update(
        {
            "Name": name,
            "SubAccount": parent is not None,
            "FullyQualifiedName": qualified,
            "Active": source.get("Active", True) is not False,
            "Classification": ACCOUNT_TYPES[account_type],
            "AccountType": account_type,
            "AccountSubType": source.get("AccountSubType") or account_type.replace(" ", ""),
            "CurrentBalance": current["CurrentBalance"] if current else Decimal("0.00"),
            "CurrencyRef": currencies.ref(currency),
            "domain": "QBO",
            "sparse": False,
        }
    )
    if parent is not None:
        doc["ParentRef"] = parent
    return doc

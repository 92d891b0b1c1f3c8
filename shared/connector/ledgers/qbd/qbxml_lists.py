"""qbXML list requests: customers and non-inventory items, added or modified.

Names are fitted the same way everywhere (query, add, and the references in
transactions), so a name QuickBooks stored is the name we look up next time.
"""

from __future__ import annotations

import hashlib

from lxml import etree

from connector.ledgers.qbd.qbxml_elements import add_address, add_ref, sub
from connector.ledgers.qbd.qbxml_messages import QbRequest, new_request
from connector.ledgers.qbd.qbxml_text import (
    CLASS_NAME_MAX,
    CUSTOMER_FULL_NAME_MAX,
    DESC_MAX,
    EDIT_SEQUENCE_MAX,
    EMAIL_MAX,
    FIRST_NAME_MAX,
    ID_MAX,
    ITEM_NAME_MAX,
    LAST_NAME_MAX,
    NAME_MAX,
    PHONE_MAX,
    fit,
    fit_path,
    latin1_safe,
)
from connector.model import Customer

ACCOUNT_FULL_NAME_MAX = 159
CLASS_FULL_NAME_MAX = 159
CURRENCY_NAME_MAX = 64
ITEM_FULL_NAME_MAX = 159


def customer_full_name(name: str) -> str:
    """A customer FullName as used in queries and CustomerRef ("Parent:Job" segments of 41)."""
    return fit_path(name, NAME_MAX, CUSTOMER_FULL_NAME_MAX)


def item_full_name(name: str) -> str:
    """An item FullName as used in ItemQuery and ItemRef ("Parent:Child" segments of 31)."""
    return fit_path(name, ITEM_NAME_MAX, ITEM_FULL_NAME_MAX)


def account_full_name(name: str) -> str:
    return fit_path(name, ITEM_NAME_MAX, ACCOUNT_FULL_NAME_MAX)


def class_full_name(name: str) -> str:
    """A class FullName as used in ClassRef ("Parent:Child" segments of 31)."""
    return fit_path(name, CLASS_NAME_MAX, CLASS_FULL_NAME_MAX)


ACCOUNT_IN_ITEM_MAX = 12  # characters of the account a shortened account item's name keeps
_ACCOUNT_ITEM_HASH = 4


def account_item_name(item: str, account: str) -> str:
    """The Desktop item a revenue rule's income_account posts through: ``<item> (<account>)``.

    As on QuickBooks Online (connector.revenue_rules.account_item_name), a sales line posts to
    its item's income account, so each item and account pair gets an item of its own; its
    AccountRef carries the account's whole FullName. Desktop item names hold 31 characters and
    no colons (sub-item separator; an account's "Parent:Child" becomes "Parent-Child"). A pair
    that does not fit is shortened the same way every time: the account keeps its first 12
    characters, the item what room is left before ``~`` and four hex digits of a hash of the
    whole name, so two long pairs cut alike still name two items:
    ``Gift Card D~05b4 (Gift card li)`` for "Gift Card Deluxe Edition" and
    "Gift card liability".
    """
    head = fit(item, 10 * ITEM_NAME_MAX).replace(":", "-").strip()
    tail = fit(account, 10 * ITEM_NAME_MAX).replace(":", "-").strip()
    whole = f"{head} ({tail})"
    if len(whole) <= ITEM_NAME_MAX:
        return whole
    digest = hashlib.sha256(whole.encode("utf-8")).hexdigest()[:_ACCOUNT_ITEM_HASH]
    suffix = f"~{digest} ({tail[:ACCOUNT_IN_ITEM_MAX].rstrip()})"
    return head[: ITEM_NAME_MAX - len(suffix)].rstrip() + suffix


def check_id(value: str, what: str, limit: int = ID_MAX) -> str:
    if not value or len(value) > limit:
        raise ValueError(f"{what} {value!r} must be 1 to {limit} characters")
    return value


def _email(email: str) -> str | None:
    address = email.strip()
    # A transliterated or cut-short address would be someone else's: leave it out instead.
    if not address or len(address) > EMAIL_MAX or latin1_safe(address) != address:
        return None
    return address


def _customer_fields(element: etree._Element, customer: Customer, name: str) -> None:
    # Element order is the schema's: Name, CompanyName, FirstName, LastName, BillAddress,
    # ShipAddress, Phone, Email.
    sub(element, "Name", fit(name.replace(":", "-"), NAME_MAX) or "Customer")
    optional = (
        ("CompanyName", fit(customer.company, NAME_MAX)),
        ("FirstName", fit(customer.first_name, FIRST_NAME_MAX)),
        ("LastName", fit(customer.last_name, LAST_NAME_MAX)),
    )
    for tag, value in optional:
        if value:
            sub(element, tag, value)
    add_address(element, "BillAddress", customer.billing)
    add_address(element, "ShipAddress", customer.shipping)
    phone = fit(customer.phone or customer.billing.phone, PHONE_MAX)
    if phone:
        sub(element, "Phone", phone)
    email = _email(customer.email)
    if email:
        sub(element, "Email", email)


def customer_add(
    customer: Customer, name: str, *, request_id: str, currency: str | None = None
) -> QbRequest:
    """CustomerAdd with ``name`` (see :func:`connector.ledgers.qbd.customer_names.customer_name`),
    names, addresses, phone, email; ``currency`` (a Currency list name) fixes a foreign one."""
    request = new_request("CustomerAdd", request_id)
    add = sub(request, "CustomerAdd")
    _customer_fields(add, customer, name)
    if currency:
        add_ref(add, "CurrencyRef", fit(currency, CURRENCY_NAME_MAX))
    return QbRequest(request_id, "CustomerAdd", request)


def customer_mod(
    customer: Customer, name: str, list_id: str, edit_sequence: str, *, request_id: str
) -> QbRequest:
    """CustomerMod of the customer ``list_id`` at ``edit_sequence`` (stale: status 3200)."""
    request = new_request("CustomerMod", request_id)
    mod = sub(request, "CustomerMod")
    sub(mod, "ListID", check_id(list_id, "ListID"))
    sub(mod, "EditSequence", check_id(edit_sequence, "EditSequence", EDIT_SEQUENCE_MAX))
    _customer_fields(mod, customer, name)
    return QbRequest(request_id, "CustomerMod", request)


def item_non_inventory_add(
    name: str, income_account: str, *, request_id: str, description: str = ""
) -> QbRequest:
    """ItemNonInventoryAdd: an item for sales that posts to ``income_account``.

    Name is cut to QuickBooks' 31 characters, the same way item_full_name cuts
    it, so the ItemQuery and the invoice's ItemRef find what this created.
    """
    request = new_request("ItemNonInventoryAdd", request_id)
    add = sub(request, "ItemNonInventoryAdd")
    sub(add, "Name", fit(name.replace(":", "-"), ITEM_NAME_MAX) or "Item")
    sales = sub(add, "SalesOrPurchase")
    desc = fit(description, DESC_MAX)
    if desc:
        sub(sales, "Desc", desc)
    add_ref(sales, "AccountRef", account_full_name(income_account))
    return QbRequest(request_id, "ItemNonInventoryAdd", request)

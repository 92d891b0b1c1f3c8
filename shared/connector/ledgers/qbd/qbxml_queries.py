"""qbXML queries: look a customer, items or a transaction up by name or RefNumber, or page.

Paged queries use QuickBooks' iterators: the first page asks iterator="Start"
with MaxReturned, QuickBooks answers with an iteratorID and how many remain,
and each next page asks iterator="Continue" with that iteratorID. An iterator
lives only within one Web Connector session.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from connector.ledgers.qbd.qbxml_elements import sub
from connector.ledgers.qbd.qbxml_lists import customer_full_name, item_full_name
from connector.ledgers.qbd.qbxml_messages import QbRequest, new_request
from connector.ledgers.qbd.qbxml_text import PAYMENT_REF_NUMBER_MAX, REF_NUMBER_MAX, fit

TxnKind = Literal["Invoice", "SalesReceipt", "CreditMemo"]
# Every transaction the connector adds, and may look up by RefNumber.
AnyTxnKind = Literal[
    "Invoice", "SalesReceipt", "CreditMemo", "ReceivePayment", "ARRefundCreditCard"
]
ListKind = Literal["Customer", "Item"]
TXN_KINDS: tuple[TxnKind, ...] = ("Invoice", "SalesReceipt", "CreditMemo")
ANY_TXN_KINDS: tuple[AnyTxnKind, ...] = (*TXN_KINDS, "ReceivePayment", "ARRefundCreditCard")


def ref_number_limit(kind: str) -> int:
    """RefNumber length QuickBooks Desktop keeps: 20 on a ReceivePayment, 11 elsewhere."""
    return PAYMENT_REF_NUMBER_MAX if kind == "ReceivePayment" else REF_NUMBER_MAX


LIST_KINDS: tuple[ListKind, ...] = ("Customer", "Item")


def customer_query(name: str, *, request_id: str) -> QbRequest:
    """CustomerQuery by FullName (status 1 when there is no such customer)."""
    request = new_request("CustomerQuery", request_id)
    sub(request, "FullName", customer_full_name(name))
    return QbRequest(request_id, "CustomerQuery", request)


def preferences_query(*, request_id: str) -> QbRequest:
    """PreferencesQuery: the company file's preferences (Multiple Currencies among them)."""
    return QbRequest(request_id, "PreferencesQuery", new_request("PreferencesQuery", request_id))


def item_query(names: Sequence[str], *, request_id: str) -> QbRequest:
    """ItemQuery for several items by FullName (any item type answers: *Ret per item found)."""
    fitted = list(dict.fromkeys(item_full_name(n) for n in names))
    if not fitted:
        raise ValueError("item_query needs at least one item name")
    request = new_request("ItemQuery", request_id)
    for name in fitted:
        sub(request, "FullName", name)
    return QbRequest(request_id, "ItemQuery", request)


def _check_kind(kind: str) -> None:
    if kind not in ANY_TXN_KINDS:
        raise ValueError(f"transaction kind {kind!r} is not one of {ANY_TXN_KINDS}")


def txn_query_by_ref(
    kind: AnyTxnKind, ref_number: str, *, request_id: str, include_line_items: bool = False
) -> QbRequest:
    """A transaction query (Invoice, SalesReceipt, CreditMemo, ReceivePayment,
    ARRefundCreditCard) by RefNumber.

    RefNumber is not unique in QuickBooks: the answer may hold several
    transactions; our own one carries our Memo (see qbxml_txns.order_memo).
    """
    _check_kind(kind)
    limit = ref_number_limit(kind)
    ref = fit(ref_number, limit + 1)
    if not ref or len(ref) > limit:
        raise ValueError(f"RefNumber {ref_number!r} must be 1 to {limit} characters")
    request = new_request(f"{kind}Query", request_id)
    sub(request, "RefNumber", ref)
    if include_line_items and kind in TXN_KINDS:
        sub(request, "IncludeLineItems", "true")
    return QbRequest(request_id, f"{kind}Query", request)


def _datetime(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def query_page(
    kind: ListKind | TxnKind,
    *,
    request_id: str,
    max_returned: int,
    iterator_id: str | None = None,
    modified_since: datetime | None = None,
) -> QbRequest:
    """One page of a Customer/Item/Invoice/SalesReceipt/CreditMemo query.

    Without ``iterator_id`` this starts an iterator; with it, continues that one
    (pass the same filters again: QuickBooks expects the request repeated).
    """
    if kind not in LIST_KINDS and kind not in TXN_KINDS:
        raise ValueError(f"query kind {kind!r} is not one of {LIST_KINDS + TXN_KINDS}")
    if max_returned < 1:
        raise ValueError("max_returned must be at least 1")
    attributes = {"iterator": "Start"}
    if iterator_id is not None:
        if not iterator_id:
            raise ValueError("iterator_id must not be empty")
        attributes = {"iterator": "Continue", "iteratorID": iterator_id}
    request = new_request(f"{kind}Query", request_id, **attributes)
    sub(request, "MaxReturned", str(max_returned))
    if modified_since is not None:
        if kind in LIST_KINDS:
            sub(request, "FromModifiedDate", _datetime(modified_since))
        else:
            window = sub(request, "ModifiedDateRangeFilter")
            sub(window, "FromModifiedDate", _datetime(modified_since))
    return QbRequest(request_id, f"{kind}Query", request)


# The lists a Web Connector session reads for the QuickBooks → store direction (issue #13).
ChangesKind = Literal["ItemInventory", "ItemNonInventory", "ItemService", "Customer"]
CHANGES_KINDS: tuple[ChangesKind, ...] = (
    "ItemInventory",
    "ItemNonInventory",
    "ItemService",
    "Customer",
)


def changes_page(
    kind: ChangesKind,
    *,
    request_id: str,
    max_returned: int,
    iterator_id: str | None = None,
    modified_since: str | None = None,
    include: Sequence[str] = (),
) -> QbRequest:
    """One page of a list's records modified since ``modified_since`` (QuickBooks' own
    TimeModified text, sent back as it came), active and inactive alike (an item made
    inactive must reach the store). In qbXML's order: MaxReturned, ActiveStatus,
    FromModifiedDate. Without ``iterator_id`` it starts an iterator, with it continues one
    (the filters repeated, as QuickBooks expects)."""
    if kind not in CHANGES_KINDS:
        raise ValueError(f"changes kind {kind!r} is not one of {CHANGES_KINDS}")
    if max_returned < 1:
        raise ValueError("max_returned must be at least 1")
    attributes = {"iterator": "Start"}
    if iterator_id is not None:
        if not iterator_id:
            raise ValueError("iterator_id must not be empty")
        attributes = {"iterator": "Continue", "iteratorID": iterator_id}
    request = new_request(f"{kind}Query", request_id, **attributes)
    sub(request, "MaxReturned", str(max_returned))
    sub(request, "ActiveStatus", "All")
    if modified_since:
        sub(request, "FromModifiedDate", modified_since)
    for tag in include:  # IncludeRetElement: only these elements of each record come back
        sub(request, "IncludeRetElement", tag)
    return QbRequest(request_id, f"{kind}Query", request)


# The item types the store takes, as ListDeletedQuery names them (ListDelType).
DELETED_ITEM_TYPES: tuple[str, ...] = ("ItemInventory", "ItemNonInventory", "ItemService")


def deleted_items_query(*, request_id: str, deleted_since: str | None = None) -> QbRequest:
    """ListDeletedQuery for the items deleted since ``deleted_since`` (QuickBooks' own
    TimeDeleted text, inclusive): ListDelType repeated, then DeletedDateRangeFilter/
    FromDeletedDate, in qbXML's order. It has no iterator and no MaxReturned: one answer."""
    request = new_request("ListDeletedQuery", request_id)
    for kind in DELETED_ITEM_TYPES:
        sub(request, "ListDelType", kind)
    if deleted_since:
        window = sub(request, "DeletedDateRangeFilter")
        sub(window, "FromDeletedDate", deleted_since)
    return QbRequest(request_id, "ListDeletedQuery", request)


def query_stop(kind: ListKind | TxnKind, iterator_id: str, *, request_id: str) -> QbRequest:
    """Ends an iterator early so QuickBooks can release it."""
    if not iterator_id:
        raise ValueError("iterator_id must not be empty")
    request = new_request(f"{kind}Query", request_id, iterator="Stop", iteratorID=iterator_id)
    return QbRequest(request_id, f"{kind}Query", request)

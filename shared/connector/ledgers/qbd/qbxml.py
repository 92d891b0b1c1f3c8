"""qbXML for QuickBooks Desktop: build request messages and read response messages (no I/O).

The one import the rest of the connector uses; the work is split by subject:

* qbxml_text      Latin-1 transliteration, field lengths, AMTTYPE/QUANTYPE numbers
* qbxml_messages  QbRequest, the <QBXML><QBXMLMsgsRq> envelope, size-bounded batches
* qbxml_lists     CustomerAdd/Mod, ItemNonInventoryAdd, how names are fitted
* qbxml_queries   Customer/Item/transaction queries, iterator paging
* qbxml_txns      InvoiceAdd/Mod, SalesReceiptAdd/Mod, CreditMemoAdd, TxnVoid/TxnDel
                  (its docstring says how tax, discounts, shipping and fees become lines)
* qbxml_responses parse_response into QbResponse records

qbXML 13.0 is the default; 16.0 is accepted. Every request these build is
valid against Intuit's qbxmlops130.xsd and qbxmlops160.xsd
(tests/integration/test_qbxml_conformance.py).
"""

from __future__ import annotations

from connector.ledgers.qbd.customer_names import customer_name
from connector.ledgers.qbd.qbxml_lists import (
    customer_add,
    customer_full_name,
    customer_mod,
    item_full_name,
    item_non_inventory_add,
)
from connector.ledgers.qbd.qbxml_messages import (
    DEFAULT_MAX_BYTES,
    DEFAULT_VERSION,
    QBXML_VERSIONS,
    QbRequest,
    message_set_id,
    render_message,
    render_messages,
    split_requests,
)
from connector.ledgers.qbd.qbxml_queries import (
    customer_query,
    item_query,
    preferences_query,
    query_page,
    query_stop,
    txn_query_by_ref,
)
from connector.ledgers.qbd.qbxml_responses import (
    STATUS_IN_USE_FIRST,
    STATUS_IN_USE_LAST,
    STATUS_INVALID_REFERENCE,
    STATUS_NAME_IN_USE,
    STATUS_NO_MATCH,
    STATUS_NOT_FOUND,
    STATUS_OK,
    STATUS_STALE_EDIT_SEQUENCE,
    QbResponse,
    QbxmlParseError,
    ResponseMessage,
    as_list,
    parse_response,
)
from connector.ledgers.qbd.qbxml_text import amount, fit, latin1_safe, quantity
from connector.ledgers.qbd.qbxml_txns import (
    QbdRefs,
    credit_memo_add,
    expected_refund_total,
    expected_total,
    order_line_items,
    order_memo,
    order_ref_number,
    order_tag,
    ref_number,
    refs_for_order,
    refs_for_refund,
    refund_memo,
    refund_ref_number,
    refund_sku_items,
    refund_tag,
    request_total,
    sales_txn_add,
    sales_txn_mod,
    sku_items,
    txn_del,
    txn_void,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_VERSION",
    "QBXML_VERSIONS",
    "STATUS_INVALID_REFERENCE",
    "STATUS_IN_USE_FIRST",
    "STATUS_IN_USE_LAST",
    "STATUS_NAME_IN_USE",
    "STATUS_NOT_FOUND",
    "STATUS_NO_MATCH",
    "STATUS_OK",
    "STATUS_STALE_EDIT_SEQUENCE",
    "QbRequest",
    "QbResponse",
    "QbdRefs",
    "QbxmlParseError",
    "ResponseMessage",
    "amount",
    "as_list",
    "credit_memo_add",
    "customer_add",
    "customer_full_name",
    "customer_mod",
    "customer_name",
    "customer_query",
    "expected_refund_total",
    "expected_total",
    "fit",
    "item_full_name",
    "item_non_inventory_add",
    "item_query",
    "latin1_safe",
    "message_set_id",
    "order_line_items",
    "order_memo",
    "order_ref_number",
    "order_tag",
    "parse_response",
    "preferences_query",
    "quantity",
    "query_page",
    "query_stop",
    "ref_number",
    "refs_for_order",
    "refs_for_refund",
    "refund_memo",
    "refund_ref_number",
    "refund_sku_items",
    "refund_tag",
    "render_message",
    "render_messages",
    "request_total",
    "sales_txn_add",
    "sales_txn_mod",
    "sku_items",
    "split_requests",
    "txn_del",
    "txn_query_by_ref",
    "txn_void",
]

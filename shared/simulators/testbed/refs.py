"""What a ledger adapter has resolved before it builds a document, and the connections it
builds for: QuickBooks Online ids (``QBO_REFS``), QuickBooks Desktop names (``qbd_refs``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from connector.config import Connection, MappingRules, QboLedger, WooCommerceStore
from connector.ledgers.qbd.qbxml import QbdRefs
from connector.ledgers.qbo.documents import ResolvedRefs
from connector.ledgers.qbo.tax_lines import QboTaxRate

# A company that knows Ann Lee (58), the mapped items, shipping and fees, and four tax codes.
QBO_REFS = ResolvedRefs(
    customer_id="58",
    items={"Mug": "11", "Hoodie": "12", "Sales": "1"},
    shipping_item_id="30",
    fee_item_id="31",
    discount_account_id="86",
    tax_codes={"VAT 20%": "5", "VAT 5%": "6", "Exempt": "7", "GST/QST QC": "8"},
    tax_rates={
        "5": (QboTaxRate(id="1", name="20.0% S", percent=Decimal(20)),),
        "6": (QboTaxRate(id="2", name="5.0% R", percent=Decimal(5)),),
        "7": (QboTaxRate(id="4", name="Exempt", percent=Decimal(0)),),
        "8": (
            QboTaxRate(id="11", name="GST", percent=Decimal(5)),
            QboTaxRate(id="14", name="QST", percent=Decimal("9.975")),
        ),
    },
    tax_override_code_id="3",
)


def online_connection(
    document: Literal["invoice", "sales_receipt"] = "invoice", **mapping: Any
) -> Connection:
    """Connection shop-us: WooCommerce into QuickBooks Online, MUG-01 and HOODIE-M mapped."""
    rules = {"items": {"MUG-01": "Mug", "HOODIE-M": "Hoodie"}, "fallback_item": "Sales", **mapping}
    return Connection(
        id="shop-us",
        store=WooCommerceStore(kind="woocommerce", url="https://shop.example.com"),
        ledger=QboLedger(kind="qbo"),
        document=document,
        mapping=MappingRules(**rules),
    )


def qbd_refs(**changes: Any) -> QbdRefs:
    """The Desktop names for ``full_order()``: its customer, items, tax item and RefNumber."""
    fields: dict[str, Any] = {
        "customer": "Siobhán O'Brien",
        "store_name": "WooCommerce",
        "skus": {"MUG": "Mug", "TEE": "Shirts:T-shirt"},
        "shipping_item": "Shipping",
        "fee_item": "Fees",
        "discount_item": "Discount",
        "sales_tax_item": "Sales Tax",
        "ref_number": "1001",
    }
    return QbdRefs(**{**fields, **changes})

"""What a Magento order does not say but revenue rules and payment terms match on.

An order names its buyer's customer group by number (``customer_group_id``) and its rows'
products by id, while rules and terms are written with the names a merchant sees: the
group's code ("Wholesale") and the products' category names ("Bags"). They are looked up
only when the connection's rules need them, each costing store calls:

- the group: ``GET /V1/customerGroups/{id}`` (its ``code``); a guest is "guest";
- the categories: the sold products in one ``GET /V1/products`` search by ``entity_id``
  (their ``category_links``, else the ``category_ids`` attribute), then
  ``GET /V1/categories/{id}`` for each category (its ``name`` and ``url_key``).

What was found is kept per connection (StoreLookups), so the orders a warm function syncs
in a row share it. A group, product or category Magento no longer has is none.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from connector.stores.lookups import StoreLookups
from connector.stores.magento.normalise import GUEST_GROUP
from connector.stores.magento.payloads import (
    MageCategory,
    MageCustomerGroup,
    MageOrder,
    MageProduct,
)
from connector.stores.port import StoreRecordMissing


class MagentoReads(Protocol):
    """The REST reads the lookups need (connector.stores.magento.client)."""

    def record(self, path: str, what: str) -> dict[str, Any]: ...

    def search_in(
        self, path: str, field: str, values: Sequence[str], what: str
    ) -> Iterator[dict[str, Any]]: ...


def order_facts(
    raw: dict[str, Any],
    reads: MagentoReads,
    lookups: StoreLookups,
    *,
    categories: bool,
    customer_group: bool,
) -> dict[str, Any]:
    """The facts revenue rules need beside the order: ``customer_group`` (the group's code)
    and ``product_categories`` (product id -> its categories' names and url keys), each only
    when asked for."""
    facts: dict[str, Any] = {}
    if not (categories or customer_group):
        return facts
    order = MageOrder.model_validate(raw)
    if customer_group:
        facts["customer_group"] = _group(order, reads, lookups)
    if categories:
        sold = sorted(
            {i.product_id for i in order.items if i.parent_item_id is None and i.product_id}
        )
        facts["product_categories"] = _categories(sold, reads, lookups)
    return facts


def _group(order: MageOrder, reads: MagentoReads, lookups: StoreLookups) -> str | None:
    if order.customer_is_guest or not order.customer_id:
        return GUEST_GROUP
    if order.customer_group_id is None:
        return None
    key = f"group:{order.customer_group_id}"
    known, code = lookups.get(key)
    if not known:
        try:
            found = reads.record(
                f"customerGroups/{order.customer_group_id}",
                f"customer group {order.customer_group_id}",
            )
            code = MageCustomerGroup.model_validate(found).code.strip() or None
        except StoreRecordMissing:
            code = None
        lookups.put(key, code)
    return code if isinstance(code, str) else None


def _categories(
    product_ids: Sequence[int], reads: MagentoReads, lookups: StoreLookups
) -> dict[str, list[dict[str, str]]]:
    """Product id -> its categories ({name, url_key}); none for a product deleted since."""
    category_ids: dict[int, tuple[int, ...]] = {}
    unknown: list[int] = []
    for product_id in product_ids:
        known, found = lookups.get(f"product:{product_id}")
        if known:
            category_ids[product_id] = tuple(found)
        else:
            unknown.append(product_id)
    if unknown:
        found_products = {
            p.id: p.category_ids
            for p in (
                MageProduct.model_validate(raw)
                for raw in reads.search_in(
                    "products", "entity_id", [str(i) for i in unknown], "the order's products"
                )
            )
        }
        for product_id in unknown:
            category_ids[product_id] = found_products.get(product_id, ())
            lookups.put(f"product:{product_id}", list(category_ids[product_id]))
    return {
        str(product_id): [
            category
            for category_id in category_ids[product_id]
            if (category := _category(category_id, reads, lookups)) is not None
        ]
        for product_id in product_ids
    }


def _category(
    category_id: int, reads: MagentoReads, lookups: StoreLookups
) -> dict[str, str] | None:
    key = f"category:{category_id}"
    known, found = lookups.get(key)
    if not known:
        try:
            raw = reads.record(f"categories/{category_id}", f"category {category_id}")
            category = MageCategory.model_validate(raw)
            found = {"name": category.name.strip(), "url_key": category.url_key.strip()}
        except StoreRecordMissing:
            found = None
        lookups.put(key, found)
    return dict(found) if isinstance(found, dict) else None

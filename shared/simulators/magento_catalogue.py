"""The simulated Magento's catalogue, categories and customer groups, as REST V1 shows them.

Products from Luma's sample data with their entity ids and category assignments; categories
under the Default Category; the groups a new store has (NOT LOGGED IN, General, Wholesale,
Retailer). ``product_doc``, ``category_doc`` and ``group_doc`` answer ``GET /V1/products``,
``GET /V1/categories/{id}`` and ``GET /V1/customerGroups/{id}`` in the reference's shapes
(a product's categories both as ``extension_attributes.category_links`` and as the
``category_ids`` custom attribute).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = [
    "CATALOGUE",
    "CATEGORIES",
    "GROUPS",
    "Category",
    "Product",
    "category_doc",
    "group_doc",
    "product_doc",
]


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price: Decimal  # base currency; a configurable's is its children's price
    type: str = "simple"  # simple | configurable | bundle
    # configurable: the child SKUs one can choose; bundle: the children's SKUs (all sold)
    children: tuple[str, ...] = ()
    id: int = 0  # the catalogue's entity_id (an order row's product_id)
    category_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Category:
    id: int
    name: str
    url_key: str
    parent_id: int = 2  # the Default Category
    level: int = 2


CATEGORIES: dict[int, Category] = {
    c.id: c
    for c in (
        Category(2, "Default Category", "default-category", parent_id=1, level=1),
        Category(3, "Gear", "gear"),
        Category(4, "Bags", "bags", parent_id=3, level=3),
        Category(5, "Fitness Equipment", "fitness-equipment", parent_id=3, level=3),
        Category(11, "Men", "men"),
        Category(15, "Hoodies & Sweatshirts", "hoodies-and-sweatshirts", parent_id=11, level=3),
        Category(20, "Women", "women"),
        Category(25, "Tees", "tees-women", parent_id=20, level=3),
    )
}

CATALOGUE: dict[str, Product] = {
    p.sku: p
    for p in (
        Product("WS12-M-Orange", "Radiant Tee-M-Orange", Decimal("22.00"), id=1553,
                category_ids=(25,)),
        Product("24-WG084", "Sprite Foam Yoga Brick", Decimal("5.00"), id=21, category_ids=(5,)),
        Product("24-WG086", "Sprite Foam Roller", Decimal("17.00"), id=22, category_ids=(5,)),
        Product("MH01-S-Gray", "Chaz Kangeroo Hoodie-S-Gray", Decimal("52.00"), id=70),
        Product("MH01-M-Black", "Chaz Kangeroo Hoodie-M-Black", Decimal("52.00"), id=71),
        # A configurable's categories are its own; its children are not shown on their own.
        Product("MH01", "Chaz Kangeroo Hoodie", Decimal("52.00"), "configurable",
                ("MH01-S-Gray", "MH01-M-Black"), id=67, category_ids=(15,)),
        Product("24-WG080", "Sprite Yoga Companion Kit", Decimal("22.00"), "bundle",
                ("24-WG084", "24-WG086"), id=46, category_ids=(3, 5)),
    )
}  # fmt: skip

# Customer groups: id -> code. 0 is the group Magento gives guests.
GROUPS: dict[int, str] = {0: "NOT LOGGED IN", 1: "General", 2: "Wholesale", 3: "Retailer"}


def product_doc(product: Product) -> dict[str, Any]:
    """A product as ``GET /V1/products`` lists it (``entity_id`` is what searches filter on)."""
    links = [{"position": n, "category_id": str(c)} for n, c in enumerate(product.category_ids)]
    return {
        "id": product.id, "entity_id": product.id, "sku": product.sku, "name": product.name,
        "attribute_set_id": 4, "price": float(product.price), "status": 1, "visibility": 4,
        "type_id": product.type,
        "extension_attributes": {"website_ids": [1], "category_links": links},
        "custom_attributes": [
            {"attribute_code": "url_key", "value": product.sku.lower()},
            {"attribute_code": "category_ids", "value": [str(c) for c in product.category_ids]},
        ],
    }  # fmt: skip


def category_doc(category: Category) -> dict[str, Any]:
    children = ",".join(str(c.id) for c in CATEGORIES.values() if c.parent_id == category.id)
    return {
        "id": category.id, "parent_id": category.parent_id, "name": category.name,
        "is_active": True, "position": 1, "level": category.level, "children": children,
        "path": f"1/{category.parent_id}/{category.id}", "include_in_menu": True,
        "custom_attributes": [
            {"attribute_code": "url_key", "value": category.url_key},
            {"attribute_code": "is_anchor", "value": "1"},
        ],
    }  # fmt: skip


def group_doc(group_id: int, code: str) -> dict[str, Any]:
    return {"id": group_id, "code": code, "tax_class_id": 3, "tax_class_name": "Retail Customer"}

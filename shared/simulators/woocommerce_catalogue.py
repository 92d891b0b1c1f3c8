"""The simulated WooCommerce store's fixed catalogue: tax rates, products, coupons, people.

Chosen to exercise what real stores throw at a connector: two rates stacking in one
state, a compound rate, a reduced-rate class, a tax-free product, a product without a
SKU, a variable product whose variations inherit the parent's SKU, a product that a
scenario later deletes, names with HTML entities, apostrophes and accents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class TaxRate:
    id: int
    country: str
    state: str
    percent: Decimal
    name: str
    priority: int = 1
    compound: bool = False
    shipping: bool = True
    tax_class: str = ""  # "" is WooCommerce's standard class

    @property
    def code(self) -> str:
        # WC_Tax::get_rate_code: COUNTRY-STATE-NAME-PRIORITY, empty parts dropped.
        parts = [self.country, self.state, self.name.upper() or "TAX", str(self.priority)]
        return "-".join(p for p in parts if p)

    def applies_to(self, country: str, state: str) -> bool:
        return self.country == country and self.state in ("", state)


@dataclass
class Product:
    id: int
    name: str  # as WooCommerce stores it, entities and all
    sku: str
    price: Decimal
    tax_class: str = ""
    tax_status: str = "taxable"  # or "none"
    parent_id: int = 0
    attributes: tuple[tuple[str, str], ...] = ()
    deleted: bool = False
    # Category slugs (CATEGORIES); variations have none of their own, like WooCommerce's.
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class CouponDef:
    code: str
    discount_type: str  # "percent" or "fixed_cart"
    amount: Decimal


@dataclass(frozen=True)
class ShippingMethod:
    method_id: str
    title: str
    cost: Decimal


@dataclass
class Person:
    first_name: str
    last_name: str
    email: str
    address_1: str
    city: str
    state: str
    postcode: str
    country: str
    phone: str = ""
    company: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def billing(self) -> dict[str, str]:
        return {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "company": self.company,
            "address_1": self.address_1,
            "address_2": "",
            "city": self.city,
            "state": self.state,
            "postcode": self.postcode,
            "country": self.country,
            "email": self.email,
            "phone": self.phone,
        }

    def shipping(self) -> dict[str, str]:
        address = self.billing()
        del address["email"]
        return address


TAX_RATES: tuple[TaxRate, ...] = (
    TaxRate(1, "US", "CA", Decimal("7.2500"), "CA State Tax", priority=1),
    TaxRate(2, "US", "CA", Decimal("1.0000"), "County Tax", priority=2, shipping=False),
    TaxRate(3, "CA", "QC", Decimal("5.0000"), "GST", priority=1),
    TaxRate(4, "CA", "QC", Decimal("9.9750"), "QST", priority=2, compound=True),
    TaxRate(5, "GB", "", Decimal("20.0000"), "VAT", priority=1),
    TaxRate(6, "GB", "", Decimal("5.0000"), "VAT", priority=1, tax_class="reduced-rate"),
)


# Product categories: slug -> (term id, name as WooCommerce stores it).
CATEGORIES: dict[str, tuple[int, str]] = {
    "uncategorized": (15, "Uncategorized"),
    "kitchen": (16, "Kitchen"),
    "art": (17, "Art &amp; Prints"),
    "books": (18, "Books"),
    "gift-cards": (19, "Gift cards"),
    "clothing": (20, "Clothing"),
}


def catalogue_products() -> dict[int, Product]:
    """A fresh copy: products are mutable (a scenario may delete one)."""
    products = [
        Product(10, "Ceramic Mug", "MUG-01", Decimal("12.50"), categories=("kitchen",)),
        Product(11, "Art Print &ndash; A2", "PRINT-A2", Decimal("24.99"), categories=("art",)),
        Product(12, "Children&#8217;s Picture Book", "BOOK-KIDS", Decimal("7.99"),
                tax_class="reduced-rate", categories=("books", "art")),
        Product(13, "Gift Card", "GIFT-25", Decimal("25.00"), tax_status="none",
                categories=("gift-cards",)),
        Product(14, "Sticker Pack", "", Decimal("3.33"), categories=("uncategorized",)),
        Product(20, "Hoodie", "HOODIE", Decimal("45.00"), categories=("clothing",)),
        Product(21, "Hoodie", "", Decimal("45.00"), parent_id=20,
                attributes=(("pa_colour", "Blue"), ("size", "M"))),
        Product(22, "Hoodie", "", Decimal("45.00"), parent_id=20,
                attributes=(("pa_colour", "Red"), ("size", "L"))),
        Product(23, "Hoodie", "HOODIE-GRN-S", Decimal("42.50"), parent_id=20,
                attributes=(("pa_colour", "Green"), ("size", "S"))),
        Product(30, "Limited Edition Poster", "POSTER-LTD", Decimal("19.00"),
                categories=("art",)),
    ]  # fmt: skip
    return {p.id: p for p in products}


# Products an order can be built from: simple products and variations, not the variable parent.
SELLABLE: tuple[int, ...] = (10, 11, 12, 13, 14, 21, 22, 23, 30)

COUPONS: dict[str, CouponDef] = {
    "save10": CouponDef("save10", "percent", Decimal("10")),
    "welcome5": CouponDef("welcome5", "fixed_cart", Decimal("5.00")),
    "third": CouponDef("third", "percent", Decimal("33.3333")),
}

SHIPPING: dict[str, ShippingMethod] = {
    "flat_rate": ShippingMethod("flat_rate", "Flat rate", Decimal("7.95")),
    "express": ShippingMethod("flat_rate", "Express", Decimal("14.99")),
    "free_shipping": ShippingMethod("free_shipping", "Free shipping", Decimal("0.00")),
}

CUSTOMERS: tuple[Person, ...] = (
    Person("Jane", "Smith", "jane.smith@example.com", "1 Market St", "San Francisco", "CA",
           "94105", "US", "(415) 555-0100"),
    Person("Siobhán", "O'Brien", "siobhan.obrien@example.co.uk", "22 Baker Street", "London", "",
           "NW1 6XE", "GB", "+44 20 7946 0000"),
    Person("Jean-François", "Côté", "jf.cote@example.ca", "1200 Rue Sainte-Catherine",
           "Montréal", "QC", "H3B 1K9", "CA", company="Côté & Fils"),
    Person("Ana", "Müller", "ana.mueller@example.com", "350 5th Ave", "New York", "NY",
           "10118", "US"),
)  # fmt: skip

GUESTS: tuple[Person, ...] = (
    Person("Tom", "Baker", "tom.baker@example.net", "9 Ocean Ave", "Santa Monica", "CA",
           "90401", "US"),
    Person("Mia", "Tremblay", "mia.tremblay@example.ca", "45 Rue du Pont", "Québec", "QC",
           "G1K 3X8", "CA"),
    Person("Oliver", "Jones", "oliver.jones@example.co.uk", "3 High St", "Leeds", "",
           "LS1 4HT", "GB"),
)  # fmt: skip

PAYMENT_METHODS: tuple[tuple[str, str], ...] = (
    ("bacs", "Direct bank transfer"),
    ("stripe", "Credit Card (Stripe)"),
    ("paypal", "PayPal"),
    ("cod", "Cash on delivery"),
)

"""Which exchange rate a foreign-currency order carries into the books.

A store's rate converts the order currency into the store's own base currency (Magento's
``base_currency_code``, BigCommerce's ``store_default_currency_code``). It is the rate the
books need only where that base currency is their home currency; otherwise the ledger uses
its own rate for the day (QuickBooks Online) or its currency list's (Desktop).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from connector.config import Connection, MagentoStore, QbdLedger
from connector.ledgers.qbd import drain
from connector.ledgers.qbd.preferences import CompanyPreferences
from connector.model import Order
from connector.stores.bigcommerce.normalise import normalise_order as bc_order
from connector.stores.magento.normalise import normalise_order as mage_order

D = Decimal


def _magento(order_currency: str, base: str, rate: str) -> Order:
    raw: dict[str, Any] = {
        "entity_id": 7, "increment_id": "000000007", "status": "processing",
        "created_at": "2026-03-01 10:00:00", "order_currency_code": order_currency,
        "base_currency_code": base, "base_to_order_rate": rate, "customer_is_guest": 1,
        "customer_email": "gail@example.com", "subtotal": 20, "tax_amount": 0,
        "grand_total": 20,
        "items": [{"item_id": 1, "sku": "24-WG084", "name": "Brick", "qty_ordered": 4,
                   "price": 5, "row_total": 20}],
    }  # fmt: skip
    return mage_order(raw, "shop")


def _bigcommerce(transactional: str, store_default: str, rate: str) -> Order:
    raw: dict[str, Any] = {
        "id": 100, "status_id": 11, "date_created": "Wed, 10 Jan 2018 21:05:30 +0000",
        "subtotal_ex_tax": "20.0000", "total_ex_tax": "20.0000", "total_inc_tax": "20.0000",
        "currency_code": transactional, "default_currency_code": transactional,
        "store_default_currency_code": store_default,
        "store_default_to_transactional_exchange_rate": rate,
        "products": [{"id": 1, "name": "Brick", "quantity": 4, "total_ex_tax": "20.0000",
                      "total_inc_tax": "20.0000"}],
    }  # fmt: skip
    return bc_order(raw, "shop")


@pytest.mark.parametrize(
    ("order", "base"),
    [
        (_magento("EUR", "USD", "0.8"), "USD"),
        (_bigcommerce("EUR", "USD", "0.8"), "USD"),
    ],
)
def test_a_store_rate_into_its_base_currency_is_the_books_rate_where_that_is_home(
    order: Order, base: str
) -> None:
    # 1 USD (base) = 0.8 EUR: 1.25 USD per euro, into USD
    assert (order.exchange_rate, order.rate_currency) == (D("1.25"), base)
    assert order.rate_for("USD") == D("1.25")
    # A company whose home is another currency cannot use it
    assert order.rate_for("GBP") is None


def test_a_magento_store_whose_base_is_not_home_gives_no_rate_to_the_books() -> None:
    # A EUR-based store selling in GBP, books in USD: Magento's rate is GBP -> EUR
    order = _magento("GBP", "EUR", "0.85")
    assert order.rate_currency == "EUR"
    assert order.rate_for("USD") is None and order.rate_for("EUR") is not None


def test_an_order_in_the_base_currency_has_no_rate_at_all() -> None:
    order = _magento("EUR", "EUR", "1")
    assert (order.exchange_rate, order.rate_currency, order.rate_for("USD")) == (None, None, None)


def test_desktop_takes_the_store_rate_only_into_the_company_home_currency() -> None:
    connection = Connection(
        id="shop",
        store=MagentoStore(kind="magento", url="https://shop.example.com"),
        ledger=QbdLedger(kind="qbd", sales_tax_item="Sales Tax"),
    )
    facts = drain.new_facts()
    facts["company"] = CompanyPreferences(home="USD", multicurrency=True).to_json()
    planner = drain._Planner(connection, facts, "m")
    assert planner.store_rate(D("1.25"), "USD") == D("1.25")
    assert planner.store_rate(D("1.1764705882"), "EUR") is None
    assert planner.store_rate(D("0.7312"), None) == D("0.7312")  # a rate into home, as before

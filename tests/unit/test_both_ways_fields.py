"""Which product and customer fields the QuickBooks → store direction writes (issue #13)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connector.both_ways import fields
from connector.config import SyncDirections
from connector.errors import PermanentError
from connector.ledger_records import LedgerItem
from connector.stores.writes import StoreProduct


def _item(**changes: object) -> LedgerItem:
    base: dict[str, object] = {
        "ledger_id": "7",
        "version": "3",
        "kind": "inventory",
        "name": "Ceramic Mug",
        "sku": "MUG-01",
        "description": "Stoneware, 350 ml",
        "unit_price": Decimal("13.5"),
        "currency": "USD",
        "qty_on_hand": Decimal("12"),
        "category_path": ("Kitchen", "Mugs"),
    }
    return LedgerItem.model_validate(base | changes)


def _product(**changes: object) -> StoreProduct:
    base: dict[str, object] = {
        "store_id": "10",
        "parent_id": None,
        "name": "Ceramic Mug",
        "sku": "MUG-01",
        "description": "Stoneware, 350 ml",
        "price": Decimal("12.50"),
        "active": True,
        "category_ids": ("16",),
        "stock": 12,
    }
    return StoreProduct(**(base | changes))  # type: ignore[arg-type]


def test_only_the_fields_the_directions_allow_are_wanted() -> None:
    prices_only = fields.allowed_product_fields(SyncDirections(prices="qbo_to_store"))
    assert fields.wanted_product(_item(), prices_only, "16") == {"price": "13.50"}
    stock_only = fields.allowed_product_fields(SyncDirections(inventory="qbo_to_store"))
    assert fields.wanted_product(_item(), stock_only, None) == {"stock": "12"}
    everything = fields.allowed_product_fields(
        SyncDirections(products="qbo_to_store", prices="qbo_to_store", inventory="qbo_to_store")
    )
    assert fields.wanted_product(_item(), everything, "101") == {
        "name": "Ceramic Mug",
        "description": "Stoneware, 350 ml",
        "active": "yes",
        "category": "101",
        "price": "13.50",
        "stock": "12",
    }
    assert fields.allowed_product_fields(SyncDirections()) == ()


def test_a_service_item_has_no_stock_to_write() -> None:
    allowed = fields.allowed_product_fields(SyncDirections(inventory="qbo_to_store"))
    assert fields.wanted_product(_item(kind="service", qty_on_hand=None), allowed, None) == {}


def test_only_what_quickbooks_changed_and_the_store_lacks_is_written() -> None:
    wanted = {"price": "13.50", "stock": "12", "name": "Ceramic Mug"}
    now = fields.product_now(_product())
    # Never written before: the price differs from the store's, the rest is already there
    assert fields.to_write(wanted, now, {}) == {"price": "13.50"}
    # Written before and unchanged in QuickBooks: a store edit (stock sold down) is left alone
    sold = fields.product_now(_product(stock=9, price=Decimal("13.50")))
    assert fields.to_write(wanted, sold, {"price": "13.50", "stock": "12"}) == {}
    # QuickBooks changed the stock since the last write: it is written
    assert fields.to_write({**wanted, "stock": "20"}, sold, {"stock": "12"}) == {"stock": "20"}


def test_negative_or_fractional_stock_is_refused_with_the_reason() -> None:
    with pytest.raises(PermanentError, match="negative quantity on hand"):
        fields.whole_stock(_item(qty_on_hand=Decimal("-2")))
    with pytest.raises(PermanentError, match="not a whole number"):
        fields.whole_stock(_item(qty_on_hand=Decimal("2.5")))


def test_a_product_in_several_categories_is_not_yet_in_quickbooks_one() -> None:
    assert fields.product_now(_product(category_ids=("16", "17")))["category"] == ""
    assert fields.product_now(_product(category_ids=("101",)))["category"] == "101"


def test_a_blank_in_quickbooks_leaves_the_store_customer_s_value() -> None:
    from connector.ledger_records import LedgerCustomer
    from connector.model import Address

    customer = LedgerCustomer(
        ledger_id="58",
        version="2",
        display_name="Jane Smith",
        first_name="Jane",
        last_name="Smith",
        email="jane@example.com",
        billing=Address(line1="1 Market St", city="San Francisco", country="US"),
    )
    wanted = fields.wanted_customer(customer)
    assert set(wanted) == {"first_name", "last_name", "email", "billing"}
    assert wanted["billing"] == "1 Market St||San Francisco|||US"


def test_a_store_without_a_write_adapter_is_refused_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import httpx

    from connector.config import Connection
    from connector.secrets import SecretVault
    from connector.stores.registry import open_writes

    connection = Connection.model_validate(
        {
            "id": "m2",
            "store": {"kind": "magento", "url": "https://m2.example.eu/"},
            "ledger": {"kind": "qbo"},
            "sync": {"prices": "qbo_to_store"},
        }
    )
    # Every store kind the config accepts has a write adapter now (Magento's since issue #13's
    # follow-up): a kind without one, as a new store would be before its adapter, is refused.
    unknown = connection.model_copy(
        update={"store": connection.store.model_copy(update={"kind": "shopify"})}
    )
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the vault is never asked
    with pytest.raises(PermanentError, match="shopify store is not supported yet"):
        open_writes(unknown, vault=SecretVault("unused"), http=httpx.Client())

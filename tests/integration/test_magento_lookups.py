"""Magento customer groups and product categories, looked up for revenue rules and terms.

A Magento order names its buyer's group by number and its products by id; rules are written
with the group's code and the categories' names. The adapter asks Magento for them over
real HTTP (the simulated store on loopback, with its OAuth checks and 404s), only when a
connection's rules need them, and once per connection.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest

from connector.stores.lookups import StoreLookups
from connector.stores.magento.client import Filter, MagentoClient, search_params
from connector.stores.magento.oauth import OAuthCredentials, authorization_header
from connector.stores.magento.store import MagentoShop
from connector.stores.port import StoreAuthFailed
from simulators.httpserver import LoopbackServer
from simulators.magento import LineSpec, MagentoSimulator, OrderSpec

KEYS = {
    "consumer_key": "lookups-consumer-key",
    "consumer_secret": "lookups-consumer-secret",
    "access_token": "lookups-token",
    "access_token_secret": "lookups-token-secret",
}
WHOLESALE = 2
HOODIE = LineSpec("MH01-S-Gray", 1, parent="MH01")
KIT = LineSpec("24-WG080")
TEE = LineSpec("WS12-M-Orange")


@pytest.fixture
def store() -> Iterator[tuple[MagentoSimulator, str]]:
    mage = MagentoSimulator(**KEYS)
    with LoopbackServer(mage.handle) as server:
        yield mage, server.base_url


def _shop(url: str, *, rules: bool = True, lookups: StoreLookups | None = None) -> MagentoShop:
    client = MagentoClient(
        base_url=url,
        credentials=OAuthCredentials.model_validate(KEYS),
        connection_id="mage",
        backoff_s=0.01,
        max_retries=1,
        timeout_s=5.0,
        categories=rules,
        customer_group=rules,
        lookups=lookups,
    )
    return MagentoShop(client=client, connection_id="mage")


def _reads(mage: MagentoSimulator, since: int = 0) -> list[str]:
    """The resources read since request ``since`` ("orders", "categories", ...)."""
    heads = [r.path.split("/V1/", 1)[1].split("/", 1)[0] for r in mage.requests[since:]]
    return [h for h in heads if h not in ("orders", "invoices", "creditmemos")]


def _customer(mage: MagentoSimulator, group_id: int = WHOLESALE) -> int:
    return mage.create_customer("ada@example.com", "Ada", "Lovelace", group_id=group_id)


def test_rules_get_the_buyers_group_code_and_each_products_category_names(
    store: tuple[MagentoSimulator, str],
) -> None:
    # Given a wholesale buyer's order of a configurable hoodie, a bundle and a tee
    mage, url = store
    oid = mage.create_order(OrderSpec([HOODIE, KIT, TEE], customer_id=_customer(mage)))
    assert mage.order(oid)["customer_group_id"] == WHOLESALE
    # When a connection whose rules match on groups and categories fetches it
    order = _shop(url).get_order(str(oid))
    # Then the buyer's group is its code, as a tenant file names it
    assert order.customer.group == "Wholesale"
    # And each line has its product's categories (name and url key): the configurable's own,
    # not its hidden child's, and a bundle's two
    assert {line.sku: line.categories for line in order.lines} == {
        "MH01-S-Gray": ("Hoodies & Sweatshirts", "hoodies-and-sweatshirts"),
        "24-WG080-24-WG084-24-WG086": ("Gear", "gear", "Fitness Equipment", "fitness-equipment"),
        "WS12-M-Orange": ("Tees", "tees-women"),
    }


def test_what_was_looked_up_is_asked_once_per_connection(
    store: tuple[MagentoSimulator, str],
) -> None:
    mage, url = store
    buyer = _customer(mage)
    first = mage.create_order(OrderSpec([HOODIE, KIT], customer_id=buyer))
    second = mage.create_order(OrderSpec([KIT, HOODIE], customer_id=buyer))
    shop = _shop(url, lookups=StoreLookups())
    shop.get_order(str(first))
    # one group, one product search for both products, one read per category
    assert sorted(_reads(mage)) == ["categories"] * 3 + ["customerGroups", "products"]
    mark = len(mage.requests)
    again = shop.get_order(str(second))
    assert _reads(mage, mark) == []
    assert (
        again.customer.group == "Wholesale"
        and again.lines[1].categories[0] == "Hoodies & Sweatshirts"
    )


def test_without_rules_that_need_them_nothing_is_looked_up(
    store: tuple[MagentoSimulator, str],
) -> None:
    mage, url = store
    oid = mage.create_order(OrderSpec([HOODIE], customer_id=_customer(mage)))
    guest = mage.create_order(OrderSpec([TEE]))
    shop = _shop(url, rules=False)
    order, guest_order = shop.get_order(str(oid)), shop.get_order(str(guest))
    assert _reads(mage) == []
    # the group's number alone matches no rule, so it is not passed off as a group
    assert (order.customer.group, order.lines[0].categories) == (None, ())
    assert guest_order.customer.group == "guest"


def test_a_guest_is_the_guest_group_without_asking(store: tuple[MagentoSimulator, str]) -> None:
    mage, url = store
    guest = mage.create_order(OrderSpec([TEE]))
    assert _shop(url).get_order(str(guest)).customer.group == "guest"
    assert "customerGroups" not in _reads(mage)


def test_a_group_magento_no_longer_has_is_no_group(store: tuple[MagentoSimulator, str]) -> None:
    mage, url = store
    oid = mage.create_order(OrderSpec([TEE], customer_id=_customer(mage), customer_group_id=9))
    order = _shop(url).get_order(str(oid))
    assert order.customer.group is None
    assert order.lines[0].categories == ("Tees", "tees-women")


def test_an_integration_without_the_categories_resource_is_refused_naming_it(
    store: tuple[MagentoSimulator, str],
) -> None:
    # Given an integration saved without Catalog > Categories
    mage, url = store
    mage.granted.discard("Magento_Catalog::categories")
    oid = mage.create_order(OrderSpec([TEE]))
    # Then an order whose rules need categories is refused with Magento's words
    with pytest.raises(StoreAuthFailed) as refused:
        _shop(url).get_order(str(oid))
    assert "The consumer isn't authorized to access Magento_Catalog::categories." in str(
        refused.value
    )
    assert "reading category 25" in str(refused.value)
    # And a connection without such rules is not affected
    assert _shop(url, rules=False).get_order(str(oid)).total > 0


# -- the simulated store's answers ----------------------------------------------------------


def _get(url: str, path: str, params: list[tuple[str, str]] | None = None) -> httpx.Response:
    target = f"{url}/rest/default/V1/{path}"
    header = authorization_header(
        "GET", target, params or [], OAuthCredentials.model_validate(KEYS),
        timestamp=int(time.time()), nonce=f"n{time.time_ns()}",
    )  # fmt: skip
    query = f"?{urlencode(params)}" if params else ""
    return httpx.get(f"{target}{query}", headers={"Authorization": header}, timeout=5)


def test_the_simulated_store_answers_groups_categories_and_products_like_magento(
    store: tuple[MagentoSimulator, str],
) -> None:
    _, url = store
    group = _get(url, f"customerGroups/{WHOLESALE}")
    assert group.json() == {
        "id": 2, "code": "Wholesale", "tax_class_id": 3, "tax_class_name": "Retail Customer"
    }  # fmt: skip
    gone = _get(url, "customerGroups/9")
    assert gone.status_code == 404
    assert gone.json() == {
        "message": "No such entity with %fieldName = %fieldValue",
        "parameters": {"fieldName": "id", "fieldValue": "9"},
    }
    category = _get(url, "categories/4").json()
    assert (category["name"], category["parent_id"], category["level"]) == ("Bags", 3, 3)
    assert _get(url, "categories/999").status_code == 404
    found = _get(url, "products", search_params([Filter("entity_id", "67,46", "in")])).json()
    assert found["total_count"] == 2
    hoodie = next(p for p in found["items"] if p["id"] == 67)
    assert hoodie["sku"] == "MH01" and "entity_id" not in hoodie
    assert hoodie["extension_attributes"]["category_links"] == [
        {"position": 0, "category_id": "15"}
    ]
    assert {"attribute_code": "category_ids", "value": ["15"]} in hoodie["custom_attributes"]
    assert _get(url, "products/MH01").json()["id"] == 67
    missing = _get(url, "products/NOPE-1")
    assert missing.status_code == 404
    assert missing.json()["message"].startswith("The product that was requested doesn't exist.")

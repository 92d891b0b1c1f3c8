"""The simulated Magento's catalogue and customer writes over REST V1, signed by the integration
(issue #13): products by SKU, stock items, categories and their product links, customers, and
Magento's refusals in its ``message`` + ``parameters`` shape."""

from __future__ import annotations

from typing import Any

import httpx

from connector.stores.magento.client import Filter, MagentoClient
from simulators.magento import MagentoSimulator
from simulators.testbed import magento


def _client(url: str) -> MagentoClient:
    return magento.client(url, max_retries=0)


def _json(response: httpx.Response) -> Any:
    return response.json()


def test_a_product_is_made_found_by_sku_and_name_priced_and_deleted(
    store: MagentoSimulator, url: str
) -> None:
    client = _client(url)
    made = client.write(
        "POST",
        "products",
        {
            "product": {
                "sku": "MUG-01",
                "name": "Ceramic Mug",
                "price": 12.5,
                "attribute_set_id": 4,
                "type_id": "simple",
            }
        },
        "creating",
    )
    assert made.status_code == 200, made.text
    assert _json(made)["sku"] == "MUG-01" and _json(made)["status"] == 1

    by_sku = list(client.search("products", [Filter("sku", "MUG-01")], "by sku"))
    by_name = list(client.search("products", [Filter("name", "Ceramic Mug")], "by name"))
    assert [p["id"] for p in by_sku] == [p["id"] for p in by_name] == [_json(made)["id"]]

    priced = client.write("PUT", "products/MUG-01", {"product": {"price": 14}}, "pricing")
    assert priced.status_code == 200 and client.record("products/MUG-01", "mug")["price"] == 14

    gone = client.write("DELETE", "products/MUG-01", None, "deleting")
    assert gone.status_code == 200 and gone.json() is True
    missing = client.write("PUT", "products/MUG-01", {"product": {"price": 1}}, "pricing")
    assert missing.status_code == 404
    assert "doesn't exist" in missing.json()["message"]


def test_stock_is_set_through_the_product_s_stock_item(store: MagentoSimulator, url: str) -> None:
    client = _client(url)
    item = client.record("stockItems/24-WG084", "stock")
    answer = client.write(
        "PUT",
        f"products/24-WG084/stockItems/{item['item_id']}",
        {"stockItem": {"qty": 0, "is_in_stock": False}},
        "stock",
    )
    assert answer.status_code == 200 and answer.json() == item["item_id"]
    stock = store.catalog.product("24-WG084")["extension_attributes"]["stock_item"]
    assert stock["qty"] == 0 and stock["is_in_stock"] is False


def test_magento_refuses_a_second_url_key_and_a_product_without_a_price(
    store: MagentoSimulator, url: str
) -> None:
    client = _client(url)
    first = {"sku": "MAT-1", "name": "Yoga Mat", "price": 30}
    assert client.write("POST", "products", {"product": first}, "mat").status_code == 200
    twin = client.write(
        "POST", "products", {"product": {"sku": "MAT-2", "name": "Yoga Mat!", "price": 30}}, "twin"
    )
    assert twin.status_code == 400
    assert twin.json() == {"message": "URL key for specified store already exists."}
    wordy = client.write(
        "POST", "products", {"product": {"sku": "X", "name": "X", "price": "cheap"}}, "x"
    )
    assert wordy.status_code == 400 and wordy.json()["parameters"] == ["cheap", "float"]
    text = client.write(
        "POST", "products", {"product": {"sku": "Y", "name": "Y", "price": "9.90"}}, "y"
    )
    assert text.status_code == 200 and text.json()["price"] == 9.9  # a number, as Magento prints it
    unpriced = client.write("POST", "products", {"product": {"sku": "X", "name": "X"}}, "x")
    assert unpriced.status_code == 400 and unpriced.json()["parameters"] == ["price"]
    # A POST of a SKU the store holds saves that product (Magento's save is by SKU)
    again = client.write("POST", "products", {"product": {"sku": "mat-1", "price": 31}}, "again")
    assert again.status_code == 200 and again.json()["id"] == store.catalog.product("MAT-1")["id"]
    assert len([p for p in store.catalog.products if p.lower() == "mat-1"]) == 1


def test_categories_are_made_under_their_parent_and_hold_products_by_link(
    store: MagentoSimulator, url: str
) -> None:
    client = _client(url)
    made = client.write(
        "POST", "categories", {"category": {"name": "Kitchen", "parent_id": 2}}, "kitchen"
    )
    assert made.status_code == 200
    kitchen = made.json()["id"]
    twin = client.write(
        "POST", "categories", {"category": {"name": "Kitchen", "parent_id": 2}}, "twin"
    )
    assert twin.status_code == 400 and "URL key" in twin.json()["message"]
    found = list(
        client.search(
            "categories/list", [Filter("name", "Kitchen"), Filter("parent_id", "2")], "kitchen"
        )
    )
    assert [c["id"] for c in found] == [kitchen]
    tree = client.record("categories", "tree")
    assert kitchen in [c["id"] for c in tree["children_data"]]

    # Assigned by a link, listed, and removed
    link = {"productLink": {"sku": "24-WG086", "position": 0, "category_id": str(kitchen)}}
    assert client.write("POST", f"categories/{kitchen}/products", link, "link").json() is True
    assert [x["sku"] for x in _links(client, kitchen)] == ["24-WG086"]
    removed = client.write("DELETE", f"categories/{kitchen}/products/24-WG086", None, "unlink")
    assert removed.status_code == 200 and _links(client, kitchen) == []

    # A product saved with category_links is in those categories only
    client.write(
        "PUT",
        "products/24-WG086",
        {"product": {"extension_attributes": {"category_links": [{"category_id": str(kitchen)}]}}},
        "move",
    )
    assert [x["sku"] for x in _links(client, kitchen)] == ["24-WG086"]
    assert "24-WG086" not in [x["sku"] for x in _links(client, 5)]
    nowhere = client.write("POST", "categories", {"category": {"name": "A", "parent_id": 999}}, "a")
    assert nowhere.status_code == 404 and nowhere.json()["parameters"]["fieldValue"] == "999"


def _links(client: MagentoClient, category_id: int) -> list[dict[str, Any]]:
    listed = client._get(f"categories/{category_id}/products", [], "links")
    assert isinstance(listed, list)
    return listed


def test_customers_are_made_found_by_e_mail_and_a_second_e_mail_refused(
    store: MagentoSimulator, url: str
) -> None:
    client = _client(url)
    address = {
        "firstname": "Ann", "lastname": "Lee", "street": ["1 Main St"], "city": "Austin",
        "region": {"region_code": "TX", "region": "Texas"}, "postcode": "78701",
        "country_id": "US", "telephone": "512-555-0101", "default_billing": True,
    }  # fmt: skip
    customer = {"email": "ann@example.com", "firstname": "Ann", "lastname": "Lee",
                "addresses": [address]}  # fmt: skip
    made = client.write("POST", "customers", {"customer": customer}, "ann")
    assert made.status_code == 200, made.text
    ann = made.json()
    assert ann["default_billing"] == str(ann["addresses"][0]["id"])

    found = list(client.search("customers/search", [Filter("email", "ann@example.com")], "ann"))
    assert [c["id"] for c in found] == [ann["id"]]

    twice = client.write("POST", "customers", {"customer": customer}, "ann again")
    assert twice.status_code == 400
    assert twice.json()["message"] == (
        "A customer with the same email address already exists in an associated website."
    )
    renamed = client.write(
        "PUT", f"customers/{ann['id']}", {"customer": {**ann, "lastname": "Leigh"}}, "rename"
    )
    assert renamed.status_code == 200
    assert client.get_customer(str(ann["id"]))["lastname"] == "Leigh"
    nameless = client.write(
        "PUT", f"customers/{ann['id']}", {"customer": {**ann, "firstname": ""}}, "blank"
    )
    assert nameless.status_code == 400
    assert nameless.json()["parameters"] == {"fieldName": "Firstname"}
    nobody = client.write("PUT", "customers/999", {"customer": customer}, "nobody")
    assert nobody.status_code == 404

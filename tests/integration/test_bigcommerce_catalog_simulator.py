"""The simulated BigCommerce store's writes over HTTP (simulators.bigcommerce_catalog): what
BigCommerce takes and what it refuses, and the webhooks its writes fire."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from simulators.bigcommerce import BigCommerceSimulator
from simulators.httpserver import LoopbackServer, Request, Response


@pytest.fixture
def sim() -> BigCommerceSimulator:
    return BigCommerceSimulator(quota=1000, loopback_destinations=True)


@pytest.fixture
def api(sim: BigCommerceSimulator) -> Iterator[httpx.Client]:
    with (
        LoopbackServer(sim.handle) as server,
        httpx.Client(
            base_url=f"{server.base_url}/stores/{sim.store_hash}",
            headers={"X-Auth-Token": sim.access_token},
            timeout=10,
        ) as client,
    ):
        yield client


def _product(api: httpx.Client, **fields: Any) -> httpx.Response:
    body = {"name": "Mug", "type": "physical", "weight": 1, "price": 12.5, **fields}
    return api.post("/v3/catalog/products", json=body)


def test_a_product_needs_its_fields_and_a_name_or_sku_of_its_own(api: httpx.Client) -> None:
    missing = api.post("/v3/catalog/products", json={"name": "Mug"})
    assert missing.status_code == 422
    assert set(missing.json()["errors"]) == {"type", "weight", "price"}
    made = _product(api, sku="MUG-01")
    assert made.status_code == 200 and made.json()["data"]["price"] == 12.5
    twice = _product(api, name="Other mug", sku="MUG-01")
    assert (twice.status_code, twice.json()["title"]) == (409, "The product sku is a duplicate")
    same_name = _product(api, sku="MUG-02")
    assert same_name.status_code == 409 and "name is a duplicate" in same_name.json()["title"]
    found = api.get("/v3/catalog/products", params={"sku": "MUG-01"}).json()["data"]
    assert [p["id"] for p in found] == [made.json()["data"]["id"]]


def test_stock_is_kept_only_while_the_product_tracks_it(api: httpx.Client) -> None:
    pid = _product(api, sku="MUG-01").json()["data"]["id"]
    untracked = api.put(f"/v3/catalog/products/{pid}", json={"inventory_level": 5})
    assert untracked.json()["data"]["inventory_level"] == 0
    tracked = api.put(
        f"/v3/catalog/products/{pid}",
        json={"inventory_tracking": "product", "inventory_level": 5},
    )
    assert tracked.json()["data"]["inventory_level"] == 5
    negative = api.put(f"/v3/catalog/products/{pid}", json={"inventory_level": -1})
    assert negative.status_code == 422 and "inventory_level" in negative.json()["errors"]
    assert api.delete(f"/v3/catalog/products/{pid}").status_code == 204
    gone = api.put(f"/v3/catalog/products/{pid}", json={"price": 1})
    assert gone.status_code == 404


def test_a_variants_price_and_stock(sim: BigCommerceSimulator, api: httpx.Client) -> None:
    pid = sim.catalog.add_product(
        "Hoodie", "HOODIE", Decimal("40"), variants=[("HOODIE-S", Decimal("40"))]
    )
    (variant,) = api.get("/v3/catalog/variants", params={"sku": "HOODIE-S"}).json()["data"]
    path = f"/v3/catalog/products/{pid}/variants/{variant['id']}"
    api.put(path, json={"price": 44, "inventory_level": 3})
    (shown,) = api.get(f"/v3/catalog/products/{pid}/variants").json()["data"]
    assert (shown["price"], shown["inventory_level"]) == (44, 0), "stock tracked by product"
    api.put(f"/v3/catalog/products/{pid}", json={"inventory_tracking": "variant"})
    assert api.put(path, json={"inventory_level": 3}).json()["data"]["inventory_level"] == 3


def test_a_category_name_is_unique_among_its_siblings_in_the_tree(api: httpx.Client) -> None:
    (tree,) = api.get("/v3/catalog/trees").json()["data"]
    path = "/v3/catalog/trees/categories"

    def make(name: str, parent: int, tree_id: int = tree["id"]) -> httpx.Response:
        return api.post(path, json=[{"name": name, "parent_id": parent, "tree_id": tree_id}])

    (kitchen,) = make("Kitchen", 0).json()["data"]
    tea = make("Tea", kitchen["category_id"])
    assert tea.status_code == 200
    again = make("tea", kitchen["category_id"])
    assert again.status_code == 422 and "already in use" in again.json()["errors"]["0.name"]
    assert make("Tea", 0).status_code == 200, "a sibling of Kitchen, not a child"
    listed = api.get(path, params={"name": "Tea", "parent_id:in": str(kitchen["category_id"])})
    assert [c["category_id"] for c in listed.json()["data"]] == [
        tea.json()["data"][0]["category_id"]
    ]
    assert make("X", 999_999).status_code == 422
    assert make("X", 0, tree_id=99).status_code == 422
    no_tree = api.post(path, json=[{"name": "Y", "parent_id": 0}])
    assert "0.tree_id" in no_tree.json()["errors"]


def test_customers_are_written_as_arrays_and_an_email_is_one_customers(
    api: httpx.Client,
) -> None:
    row = {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"}
    (made,) = api.post("/v3/customers", json=[row]).json()["data"]
    duplicate = api.post("/v3/customers", json=[row])
    assert duplicate.status_code == 422
    assert "already in use" in json.dumps(duplicate.json()["errors"])
    assert api.post("/v3/customers", json=row).status_code == 422, "an array, not an object"
    assert api.post("/v3/customers", json=[row] * 11).status_code == 413
    found = api.get("/v3/customers", params={"email:in": "ADA@example.com"}).json()["data"]
    assert [c["id"] for c in found] == [made["id"]]
    sub = api.put("/v3/customers", json=[{"id": made["id"], "addresses": []}])
    assert sub.status_code == 422, "addresses are a sub-resource"
    address = {"customer_id": made["id"], "first_name": "Ada", "last_name": "Lovelace"}
    incomplete = api.post("/v3/customers/addresses", json=[address])
    assert incomplete.status_code == 422 and "0.city" in incomplete.json()["errors"]
    full = {**address, "address1": "12 St James Sq", "city": "London", "country_code": "GB"}
    assert api.post("/v3/customers/addresses", json=[full]).status_code == 200
    updated = api.put("/v3/customers", json=[{"id": made["id"], "last_name": "King"}])
    assert updated.json()["data"][0]["last_name"] == "King"


def test_an_order_by_product_id_with_its_prices_fees_totals_and_shipment(
    sim: BigCommerceSimulator, api: httpx.Client
) -> None:
    pid = sim.catalog.add_product("Mug", "MUG-01", Decimal("12.50"))
    billing = {"first_name": "Tom", "last_name": "Baker", "street_1": "9 Ocean Ave",
               "city": "Santa Monica", "zip": "90401", "country_iso2": "US"}  # fmt: skip
    assert (
        api.post("/v2/orders", json={"products": [{"product_id": pid, "quantity": 1}]}).status_code
        == 400
    )
    unknown = api.post(
        "/v2/orders",
        json={"billing_address": billing, "products": [{"product_id": 999_999, "quantity": 1}]},
    )
    assert unknown.status_code == 400 and "not found" in unknown.json()[0]["message"]
    # Catalog price, the store's 8 % tax added
    taxed = api.post(
        "/v2/orders",
        json={"billing_address": billing, "products": [{"product_id": pid, "quantity": 2}]},
    ).json()
    assert (taxed["total_inc_tax"], taxed["total_tax"]) == ("27.0000", "2.0000")
    # Prices given with and without tax alike: no tax added; a fee; the total overridden
    body = {
        "billing_address": billing, "status_id": 11, "staff_notes": "made by a test",
        "products": [{"product_id": pid, "quantity": 3, "price_ex_tax": "3.3333",
                      "price_inc_tax": "3.3333"}],
        "fees": [{"type": "custom_fee", "display_name_merchant": "Gift wrap",
                  "cost_ex_tax": "2", "cost_inc_tax": "2"}],
        "total_ex_tax": "12.00", "total_inc_tax": "12.50",
    }  # fmt: skip
    order = api.post("/v2/orders", json=body)
    assert order.status_code == 201
    oid = order.json()["id"]
    assert (order.json()["total_inc_tax"], order.json()["total_tax"]) == ("12.5000", "0.5000")
    half = api.put(f"/v2/orders/{oid}", json={"total_inc_tax": "1"})
    assert half.status_code == 400, "both totals or neither"
    noted = api.put(f"/v2/orders/{oid}", json={"staff_notes": "later"}).json()
    assert noted["total_inc_tax"] == "12.5000", "a note leaves the totals"
    negative = api.put(
        f"/v2/orders/{oid}",
        json={"fees": [{"display_name_merchant": "X", "cost_ex_tax": -1, "cost_inc_tax": -1}]},
    )
    assert negative.status_code == 400
    (line,) = api.get(f"/v2/orders/{oid}/products").json()
    (address,) = api.get(f"/v2/orders/{oid}/shipping_addresses").json()
    wrong = api.post(f"/v2/orders/{oid}/shipments", json={"order_address_id": 1, "items": []})
    assert wrong.status_code == 400
    shipped = api.post(
        f"/v2/orders/{oid}/shipments",
        json={
            "order_address_id": address["id"],
            "tracking_number": "1Z999",
            "shipping_method": "UPS Ground",
            "items": [{"order_product_id": line["id"], "quantity": 3}],
        },
    )
    assert shipped.status_code == 201
    assert api.get(f"/v2/orders/{oid}").json()["status"] == "Shipped"
    assert [s["tracking_number"] for s in api.get(f"/v2/orders/{oid}/shipments").json()] == [
        "1Z999"
    ]


def test_writes_need_the_modify_scopes(sim: BigCommerceSimulator, api: httpx.Client) -> None:
    sim.scopes = sim.scopes - {"products"}
    refused = _product(api, sku="MUG-01")
    assert refused.status_code == 403 and "products" in refused.json()["title"]
    assert api.get("/v3/catalog/products").status_code == 200


def test_writes_fire_the_store_webhooks(sim: BigCommerceSimulator, api: httpx.Client) -> None:
    heard: list[dict[str, Any]] = []

    def receiver(request: Request) -> Response:
        heard.append(request.json())
        return Response(200)

    with LoopbackServer(receiver) as hooks:
        for scope in ("store/product/created", "store/customer/created"):
            made = api.post(
                "/v3/hooks", json={"scope": scope, "destination": f"{hooks.base_url}/hook"}
            )
            assert made.status_code == 200, made.text
        pid = _product(api, sku="MUG-01").json()["data"]["id"]
        row = {"email": "a@example.com", "first_name": "A", "last_name": "B"}
        (customer,) = api.post("/v3/customers", json=[row]).json()["data"]
        _product(api, sku="MUG-01")  # refused: fires nothing
    assert [(h["scope"], h["data"]["id"]) for h in heard] == [
        ("store/product/created", pid),
        ("store/customer/created", customer["id"]),
    ]

"""The simulated store's writable catalogue answers writes like WooCommerce, refusals included,
and fires its own webhooks for them (issue #13)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from simulators.httpserver import LoopbackServer, Request, Response
from simulators.testbed.clocks import T0
from simulators.testbed.loopback import Loopback
from simulators.woocommerce import WooSimulator

KEY, SECRET = "ck_catalog", "cs_catalog"


@pytest.fixture
def sim(loopback: Loopback) -> WooSimulator:
    store = WooSimulator(consumer_key=KEY, consumer_secret=SECRET, clock=lambda: T0, seed=5)
    store.home_url = loopback.plug(store.handle)
    return store


def _call(sim: WooSimulator, method: str, path: str, body: Any = None, **params: str) -> Any:
    """Basic auth over https (the proxy says so), as a real store behind TLS takes it."""
    token = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    response = httpx.request(
        method,
        f"{sim.home_url}/wp-json/wc/v3/{path}",
        params=params,
        json=body,
        headers={"Authorization": f"Basic {token}", "X-Forwarded-Proto": "https"},
    )
    return response


def test_a_price_and_stock_written_through_the_api_read_back_as_strings_and_integers(
    sim: WooSimulator,
) -> None:
    # When a product's price and managed stock are written
    answer = _call(
        sim,
        "PUT",
        "products/10",
        {"regular_price": "13.75", "manage_stock": True, "stock_quantity": 8},
    )
    # Then WooCommerce answers the product with the price as a string and the stock managed
    assert answer.status_code == 200
    product = _call(sim, "GET", "products/10").json()
    assert (product["regular_price"], product["manage_stock"], product["stock_quantity"]) == (
        "13.75",
        True,
        8,
    )
    assert product["stock_status"] == "instock"


def test_stock_without_managed_stock_is_ignored_and_a_number_price_is_refused(
    sim: WooSimulator,
) -> None:
    _call(sim, "PUT", "products/11", {"stock_quantity": 5})
    assert _call(sim, "GET", "products/11").json()["stock_quantity"] is None
    refused = _call(sim, "PUT", "products/11", {"regular_price": 9.5})
    assert refused.status_code == 400
    assert refused.json()["code"] == "rest_invalid_param"
    assert "regular_price is not of type string." in json.dumps(refused.json())
    assert _call(sim, "GET", "products/11").json()["regular_price"] == "24.99"


def test_a_duplicate_sku_is_refused_and_unknown_ids_say_so(sim: WooSimulator) -> None:
    duplicate = _call(sim, "POST", "products", {"name": "Mug again", "sku": "MUG-01"})
    assert (duplicate.status_code, duplicate.json()["code"]) == (400, "product_invalid_sku")
    assert _call(sim, "GET", "products", sku="MUG-01").json()[0]["id"] == 10
    missing = _call(sim, "PUT", "products/999", {"name": "x"})
    assert (missing.status_code, missing.json()["code"]) == (
        404,
        "woocommerce_rest_product_invalid_id",
    )
    no_variation = _call(sim, "PUT", "products/20/variations/10", {"stock_quantity": 1})
    assert no_variation.json()["code"] == "woocommerce_rest_product_variation_invalid_id"


def test_the_sku_filter_finds_variations_with_their_parent(sim: WooSimulator) -> None:
    found = _call(sim, "GET", "products", sku="HOODIE-GRN-S").json()
    assert [(p["id"], p["parent_id"], p["type"]) for p in found] == [(23, 20, "variation")]
    written = _call(
        sim, "PUT", "products/20/variations/23", {"manage_stock": True, "stock_quantity": 4}
    )
    assert written.json()["stock_quantity"] == 4
    listed = _call(sim, "GET", "products/20/variations").json()
    assert {v["id"]: v["stock_quantity"] for v in listed} == {21: None, 22: None, 23: 4}


def test_a_category_that_exists_is_refused_with_its_id_and_products_move(
    sim: WooSimulator,
) -> None:
    made = _call(sim, "POST", "products/categories", {"name": "Mugs", "parent": 16})
    assert made.status_code == 201
    mugs = made.json()["id"]
    again = _call(sim, "POST", "products/categories", {"name": "mugs", "parent": 16})
    assert again.status_code == 400
    assert again.json()["code"] == "term_exists"
    assert again.json()["data"]["resource_id"] == mugs
    _call(sim, "PUT", "products/10", {"categories": [{"id": mugs}]})
    assert [c["id"] for c in _call(sim, "GET", "products/10").json()["categories"]] == [mugs]
    listed = _call(sim, "GET", "products/categories", parent="16").json()
    assert [(c["name"], c["count"]) for c in listed] == [("Mugs", 1)]


def test_a_product_deleted_for_good_is_gone_and_one_trashed_is_not_listed(
    sim: WooSimulator,
) -> None:
    assert _call(sim, "DELETE", "products/30", force="true").status_code == 200
    assert _call(sim, "GET", "products/30").json()["code"] == "woocommerce_rest_product_invalid_id"
    _call(sim, "DELETE", "products/11")
    assert _call(sim, "GET", "products", sku="PRINT-A2").json() == []
    assert _call(sim, "GET", "products/11").json()["status"] == "trash"


def test_customers_are_created_once_per_email_and_updated(sim: WooSimulator) -> None:
    made = _call(
        sim,
        "POST",
        "customers",
        {"email": "new@example.com", "first_name": "Nia", "billing": {"city": "Oslo"}},
    )
    assert made.status_code == 201
    again = _call(sim, "POST", "customers", {"email": "NEW@example.com"})
    assert (again.status_code, again.json()["code"]) == (400, "registration-error-email-exists")
    changed = _call(sim, "PUT", f"customers/{made.json()['id']}", {"last_name": "Berg"})
    assert (changed.json()["first_name"], changed.json()["last_name"]) == ("Nia", "Berg")
    assert changed.json()["billing"]["city"] == "Oslo"
    missing = _call(sim, "PUT", "customers/9999", {"last_name": "x"})
    assert (missing.status_code, missing.json()["code"]) == (404, "woocommerce_rest_invalid_id")


@pytest.fixture
def received() -> Iterator[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    got: list[tuple[str, dict[str, Any]]] = []

    def receive(request: Request) -> Response:
        got.append((request.headers.get("x-wc-webhook-topic", ""), json.loads(request.body)))
        return Response.of_text("ok")

    with LoopbackServer(receive) as server:
        yield server.base_url, got


def test_writes_through_the_api_fire_the_store_webhooks(
    sim: WooSimulator, received: tuple[str, list[tuple[str, dict[str, Any]]]]
) -> None:
    url, got = received
    for topic in ("product.updated", "customer.updated", "customer.created"):
        sim.webhooks.add(topic, url, "hooksecret")
    _call(sim, "PUT", "products/10", {"regular_price": "14.00"})
    _call(sim, "PUT", "customers/2", {"first_name": "Janet"})
    _call(sim, "POST", "customers", {"email": "fresh@example.com"})
    refused = _call(sim, "PUT", "products/10", {"sku": "PRINT-A2"})
    assert refused.status_code == 400
    assert [(topic, body.get("id")) for topic, body in got] == [
        ("product.updated", 10),
        ("customer.updated", 2),
        ("customer.created", got[2][1]["id"]),
    ]
    assert got[0][1]["regular_price"] == "14.00"


CA = {"first_name": "Jane", "last_name": "Smith", "address_1": "1 Market St",
      "city": "San Francisco", "state": "CA", "postcode": "94105", "country": "US"}  # fmt: skip


def test_an_order_made_through_the_api_is_totalled_by_the_store(sim: WooSimulator) -> None:
    # Lines by SKU at the prices given, taxed by the store's own rates for the address
    taxed = _call(
        sim,
        "POST",
        "orders",
        {"billing": CA, "line_items": [{"sku": "MUG-01", "quantity": 2, "total": "20.00"}]},
    )
    assert taxed.status_code == 201
    assert (taxed.json()["total"], taxed.json()["total_tax"]) == ("21.65", "1.65")  # 7.25 % + 1 %
    # The zero-rate class takes no tax; the tax travels as an untaxed fee, to the cent
    exact = _call(
        sim,
        "POST",
        "orders",
        {
            "billing": CA,
            "set_paid": True,
            "line_items": [
                {"sku": "MUG-01", "quantity": 3, "total": "37.50", "tax_class": "zero-rate"}
            ],
            "fee_lines": [{"name": "Tax", "total": "3.09", "tax_status": "none"}],
            "meta_data": [{"key": "_qbo_doc_number", "value": "1042"}],
        },
    ).json()
    assert (exact["total"], exact["total_tax"], exact["status"]) == ("40.59", "0.00", "processing")
    assert exact["created_via"] == "rest-api" and exact["date_paid"] is not None
    assert exact["line_items"][0]["sku"] == "MUG-01"
    assert {m["key"]: m["value"] for m in exact["meta_data"]} == {"_qbo_doc_number": "1042"}


def test_an_order_with_an_unknown_product_is_refused_and_notes_are_kept(
    sim: WooSimulator,
) -> None:
    unknown = _call(sim, "POST", "orders", {"line_items": [{"sku": "NOPE", "quantity": 1}]})
    assert (unknown.status_code, unknown.json()["code"]) == (
        400,
        "woocommerce_rest_invalid_product_id",
    )
    nothing = _call(sim, "POST", "orders", {"line_items": [{"quantity": 1}]})
    assert nothing.json()["code"] == "woocommerce_rest_required_product_reference"
    order = _call(sim, "POST", "orders", {"line_items": [{"product_id": 11, "quantity": 1}]})
    order_id = order.json()["id"]
    note = _call(sim, "POST", f"orders/{order_id}/notes", {"note": "Shipped by UPS"})
    assert note.status_code == 201
    listed = _call(sim, "GET", f"orders/{order_id}/notes").json()
    assert [n["note"] for n in listed] == ["Shipped by UPS"]
    missing = _call(sim, "POST", "orders/99999/notes", {"note": "x"})
    assert missing.json()["code"] == "woocommerce_rest_order_invalid_id"


def test_an_order_update_replaces_lines_and_changes_status(sim: WooSimulator) -> None:
    made = _call(
        sim, "POST", "orders", {"line_items": [{"product_id": 10, "quantity": 1, "total": "5.00"}]}
    ).json()
    item_id = made["line_items"][0]["id"]
    changed = _call(
        sim,
        "PUT",
        f"orders/{made['id']}",
        {
            "status": "completed",
            "line_items": [
                {"id": item_id, "quantity": 0},
                {"sku": "PRINT-A2", "quantity": 2, "total": "40.00"},
            ],
        },
    ).json()
    assert changed["status"] == "completed"
    assert [(i["sku"], i["quantity"], i["total"]) for i in changed["line_items"]] == [
        ("PRINT-A2", 2, "40.00")
    ]
    assert changed["total"] == "40.00"
    bad = _call(sim, "PUT", f"orders/{made['id']}", {"status": "shipped"})
    assert bad.json()["code"] == "rest_invalid_param"

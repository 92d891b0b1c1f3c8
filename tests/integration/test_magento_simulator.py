"""The simulated Magento answers like the REST reference: shapes, searchCriteria, OAuth refusals."""

from __future__ import annotations

import time
from decimal import Decimal
from urllib.parse import urlencode

import httpx
import pytest

from connector.stores.magento.client import Filter, search_params
from connector.stores.magento.oauth import authorization_header
from simulators.magento import LineSpec, MagentoSimulator, OrderSpec
from simulators.testbed.clocks import Clock
from simulators.testbed.magento import credentials


def _get(
    url: str,
    path: str,
    params: list[tuple[str, str]] | None = None,
    *,
    nonce: str | None = None,
    timestamp: int | None = None,
    **changes: str,
) -> httpx.Response:
    target = f"{url}/rest/default/V1/{path}"
    header = authorization_header(
        "GET",
        target,
        params or [],
        credentials(**changes),
        timestamp=timestamp if timestamp is not None else int(time.time()),
        nonce=nonce or f"n{time.time_ns()}",
    )
    query = urlencode(params or [])
    return httpx.get(f"{target}?{query}", headers={"Authorization": header}, timeout=5)


def test_a_configurable_comes_as_parent_with_the_childs_sku_and_a_child_at_price_0(
    store: MagentoSimulator, url: str
) -> None:
    # Given an order of a configurable hoodie and a bundle
    oid = store.create_order(
        OrderSpec([LineSpec("MH01-S-Gray", 2, parent="MH01"), LineSpec("24-WG080")])
    )
    # When it is read over REST
    answer = _get(url, f"orders/{oid}")
    # Then rows come as Magento sends them
    assert answer.status_code == 200, answer.text
    rows = answer.json()["items"]
    parent, child, bundle, *parts = rows
    assert (parent["product_type"], parent["sku"], parent["price"]) == (
        "configurable",
        "MH01-S-Gray",
        52,
    )
    assert (child["parent_item_id"], child["sku"], child["price"]) == (
        parent["item_id"],
        "MH01-S-Gray",
        0,
    )
    assert child["parent_item"]["item_id"] == parent["item_id"]
    assert bundle["product_type"] == "bundle" and bundle["row_total"] == 22
    assert [p["row_total"] for p in parts] == [5, 17]  # the children repeat their prices
    assert answer.json()["subtotal"] == 52 * 2 + 22


def test_order_and_base_currency_fields_differ_by_base_to_order_rate(
    store: MagentoSimulator, url: str
) -> None:
    oid = store.create_order(
        OrderSpec([LineSpec("WS12-M-Orange")], currency="EUR", base_to_order_rate=Decimal("0.9"))
    )
    doc = _get(url, f"orders/{oid}").json()
    assert (doc["order_currency_code"], doc["base_currency_code"]) == ("EUR", "USD")
    assert (doc["grand_total"], doc["base_grand_total"]) == (24.3, 27)  # (22 + 5) * 0.9


def test_search_filters_sorts_and_pages_and_a_page_past_the_end_repeats_the_last(
    store: MagentoSimulator, url: str, clock: Clock
) -> None:
    ids = []
    for _ in range(5):
        ids.append(store.create_order(OrderSpec([LineSpec("24-WG084")])))
        clock.now += 1
    since = Filter("updated_at", "2026-01-01 00:00:01", "gteq")
    params = search_params([since], [("updated_at", "DESC")], page_size=2, page=1)
    first = _get(url, "orders", params).json()
    assert first["total_count"] == 4
    assert [o["entity_id"] for o in first["items"]] == [ids[4], ids[3]]
    past = search_params([since], [("updated_at", "DESC")], page_size=2, page=9)
    assert [o["entity_id"] for o in _get(url, "orders", past).json()["items"]] == [ids[2], ids[1]]


def test_an_unknown_condition_type_is_a_400(store: MagentoSimulator, url: str) -> None:
    params = search_params([Filter("updated_at", "x", "bogus")])
    answer = _get(url, "orders", params)
    assert answer.status_code == 400
    assert "condition type" in answer.json()["message"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"consumer_secret": "wrong"}, "The signature is invalid. Verify and try again."),
        ({"access_token_secret": "wrong"}, "The signature is invalid. Verify and try again."),
        ({"access_token": "revoked"}, "Specified token does not exist"),
        ({"consumer_key": "other"}, "A consumer having the specified key does not exist"),
    ],
)
def test_bad_credentials_are_refused_with_magentos_message(
    store: MagentoSimulator, url: str, changes: dict[str, str], message: str
) -> None:
    answer = _get(url, "orders", search_params([]), **changes)
    assert answer.status_code == 401
    assert answer.json()["message"] == message


def test_a_reused_nonce_or_a_stale_timestamp_is_refused(store: MagentoSimulator, url: str) -> None:
    assert _get(url, "orders", search_params([]), nonce="once").status_code == 200
    again = _get(url, "orders", search_params([]), nonce="once")
    assert again.status_code == 401 and "nonce is already being used" in again.json()["message"]
    stale = _get(url, "orders", search_params([]), timestamp=int(time.time()) - 3600)
    assert stale.status_code == 401 and "timestamp" in stale.json()["message"]


def test_the_access_token_as_a_bearer_is_refused_as_since_2_4_4(
    store: MagentoSimulator, url: str
) -> None:
    answer = httpx.get(
        f"{url}/rest/default/V1/orders/1",
        headers={"Authorization": "Bearer mg-token-3b2a1908f7e6"},
        timeout=5,
    )
    assert answer.status_code == 401
    assert answer.json()["message"].startswith("The consumer isn't authorized")


def test_a_credit_memo_with_adjustments_closes_a_fully_refunded_order(
    store: MagentoSimulator, url: str
) -> None:
    oid = store.create_order(OrderSpec([LineSpec("WS12-M-Orange")], tax_percent=Decimal("8.25")))
    store.invoice(oid)
    with pytest.raises(ValueError, match=r"most money available to refund is 29\.23"):
        store.refund(oid, adjustment_positive=Decimal("0.01"))
    memo_id = store.refund(oid, shipping=False, adjustment_positive=Decimal("5.41"))
    memos = _get(url, "creditmemos", search_params([Filter("order_id", str(oid))])).json()
    assert [m["entity_id"] for m in memos["items"]] == [memo_id]
    memo = memos["items"][0]
    # 22 + 8.25 % tax (1.82), no shipping, + 5.41 adjustment: all of the 29.23 paid
    assert memo["grand_total"] == 29.23 and memo["adjustment_positive"] == 5.41
    assert _get(url, f"orders/{oid}").json()["status"] == "closed"


def test_faults_answer_before_anything_else(store: MagentoSimulator, url: str) -> None:
    store.inject(503)
    assert _get(url, "orders", search_params([])).status_code == 503
    assert _get(url, "orders", search_params([])).status_code == 200
    assert _get(url, "orders/77").status_code == 404

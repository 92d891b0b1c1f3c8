"""The simulated BigCommerce answers like the API references: auth and scopes, rate limits,
V2 orders and their sub-resources, V3 refunds and customers, hooks and their callbacks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connector.stores.bigcommerce.webhook import standard_webhook_problem
from simulators.bigcommerce import BigCommerceSimulator, Line
from simulators.httpserver import LoopbackServer, Request, Response

D = Decimal
T0 = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@dataclass
class Served:
    sim: BigCommerceSimulator
    url: str
    clock: Clock

    def get(self, path: str, token: str | None = None, **params: str) -> httpx.Response:
        return httpx.get(
            f"{self.url}/stores/{self.sim.store_hash}{path}",
            params=params,
            headers={"X-Auth-Token": self.sim.access_token if token is None else token},
            timeout=5,
        )

    def add_hook(self, scope: str, destination: str, **headers: str) -> httpx.Response:
        return httpx.post(
            f"{self.url}/stores/{self.sim.store_hash}/v3/hooks",
            json={"scope": scope, "destination": destination, "is_active": True,
                  "headers": headers},
            headers={"X-Auth-Token": self.sim.access_token},
            timeout=5,
        )  # fmt: skip


@contextmanager
def serve(**settings: Any) -> Iterator[Served]:
    clock = Clock()
    sim = BigCommerceSimulator(clock=clock, **settings)
    with LoopbackServer(sim.handle) as server:
        yield Served(sim, server.base_url, clock)


@pytest.fixture
def bc() -> Iterator[Served]:
    with serve(quota=1000, loopback_destinations=True) as served:
        yield served


@dataclass
class Receiver:
    """A hook destination that answers ``status`` and keeps what it was sent."""

    status: int = 200
    received: list[Request] = field(default_factory=list)

    def __call__(self, request: Request) -> Response:
        self.received.append(request)
        return Response.of_json({"ok": self.status < 300}, self.status)


# --- auth ----------------------------------------------------------------------------------


def test_a_wrong_token_is_401_and_another_store_404(bc: Served) -> None:
    oid = bc.sim.place_order([Line("Mug", "MUG-1", 1, D("10.0000"))])
    refused = bc.get(f"/v2/orders/{oid}", token="revoked")
    assert refused.status_code == 401 and refused.json()["title"].startswith("Unauthorized")
    assert bc.get(f"/v2/orders/{oid}", token="").status_code == 401
    other = httpx.get(
        f"{bc.url}/stores/other/v2/orders/{oid}",
        headers={"X-Auth-Token": bc.sim.access_token},
        timeout=5,
    )
    assert other.status_code == 404


def test_a_missing_scope_is_403_naming_it_and_hooks_need_none() -> None:
    with serve(scopes=frozenset({"orders"})) as served:
        oid = served.sim.place_order([Line("Mug", "MUG-1", 1, D("10.0000"))])
        assert served.get(f"/v2/orders/{oid}").status_code == 200
        refunds = served.get(f"/v3/orders/{oid}/payment_actions/refunds")
        assert refunds.status_code == 403 and "(transactions)" in refunds.json()["title"]
        customers = served.get("/v3/customers")
        assert customers.status_code == 403 and "(customers)" in customers.json()["title"]
        # an API account manages its own hooks with its default scope
        hook = served.add_hook("store/order/created", "https://example.com/hook")
        assert hook.status_code == 200, hook.text


# --- rate limits ---------------------------------------------------------------------------


def test_every_answer_carries_the_quota_and_a_spent_window_is_429_until_it_resets() -> None:
    with serve(quota=3, window_ms=30_000) as served:
        answers = [served.get("/v3/customers") for _ in range(3)]
        assert [a.headers["X-Rate-Limit-Requests-Left"] for a in answers] == ["2", "1", "0"]
        assert {a.headers["X-Rate-Limit-Requests-Quota"] for a in answers} == {"3"}
        assert {a.headers["X-Rate-Limit-Time-Window-Ms"] for a in answers} == {"30000"}
        # When the quota is spent
        served.clock.now += 10
        limited = served.get("/v3/customers")
        assert limited.status_code == 429
        assert limited.headers["X-Rate-Limit-Requests-Left"] == "0"
        assert limited.headers["X-Rate-Limit-Time-Reset-Ms"] == "20000"
        # Then the next window answers again
        served.clock.now += 20
        again = served.get("/v3/customers")
        assert again.status_code == 200 and again.headers["X-Rate-Limit-Requests-Left"] == "2"


def test_injected_faults_answer_once_each_with_the_headers_asked_for(bc: Served) -> None:
    bc.sim.fail_next(429, X_Rate_Limit_Time_Reset_Ms="1500", X_Rate_Limit_Requests_Left="0")
    bc.sim.fail_next(500)
    first, second, third = (bc.get("/v3/customers") for _ in range(3))
    assert first.status_code == 429 and first.headers["X-Rate-Limit-Time-Reset-Ms"] == "1500"
    assert first.headers["X-Rate-Limit-Requests-Left"] == "0"
    assert second.status_code == 500
    assert third.status_code == 200


# --- V2 orders -----------------------------------------------------------------------------


def test_an_order_links_its_sub_resources_and_states_money_to_four_decimals(bc: Served) -> None:
    oid = bc.sim.place_order(
        [Line("Mug", "MUG-1", 3, D("3.3350"), discount=D("1.0000"))],
        shipping=D("5.0000"),
        display_currency="EUR",
    )
    body = bc.get(f"/v2/orders/{oid}").json()
    assert body["products"]["resource"] == f"/orders/{oid}/products"
    # 9.005 after the discount + 5.00 shipping -> 14.01, tax 0.7204 + 0.40 -> 1.12
    assert body["subtotal_ex_tax"] == "10.0050" and body["total_inc_tax"] == "15.1300"
    assert (body["currency_code"], body["default_currency_code"]) == ("EUR", "USD")
    assert not any(key.startswith("_") for key in body)
    assert body["date_created"].endswith("+0000")  # RFC 2822
    [mug] = bc.get(f"/v2/orders/{oid}/products").json()
    assert mug["applied_discounts"][0]["amount"] == "1.0000"
    [ship] = bc.get(f"/v2/orders/{oid}/shipping_addresses").json()
    assert ship["cost_ex_tax"] == "5.0000"
    assert bc.get(f"/v2/orders/{oid}/coupons").json()[0]["discount"] == "1.0000"


def test_taxes_name_their_line_only_with_details_and_an_empty_list_is_204(bc: Served) -> None:
    oid = bc.sim.place_order([Line("Mug", "MUG-1", 1, D("10.0000"))], handling=D("2.0000"))
    plain = bc.get(f"/v2/orders/{oid}/taxes").json()
    assert all("line_item_type" not in row and "order_product_id" not in row for row in plain)
    detailed = bc.get(f"/v2/orders/{oid}/taxes", details="true").json()
    assert [row["line_item_type"] for row in detailed] == ["item", "handling"]
    assert detailed[0]["order_product_id"] == str(oid * 100 + 1)
    empty = bc.get(f"/v2/orders/{oid}/fees")
    assert empty.status_code == 204 and empty.content == b""


def test_sub_resources_page_and_an_unknown_order_is_a_v2_404(bc: Served) -> None:
    oid = bc.sim.place_order([Line(f"P{n}", f"P-{n}", 1, D("1.0000")) for n in range(5)])
    pages = [bc.get(f"/v2/orders/{oid}/products", limit="2", page=str(p)) for p in (1, 2, 3, 4)]
    assert [len(p.json()) if p.status_code == 200 else 0 for p in pages] == [2, 2, 1, 0]
    assert pages[3].status_code == 204
    missing = bc.get("/v2/orders/999999")
    assert missing.status_code == 404
    assert missing.json() == [{"status": 404, "message": "The requested resource was not found."}]


def test_orders_are_listed_by_modification_oldest_first(bc: Served) -> None:
    old = bc.sim.place_order([Line("Mug", "MUG-1", 1, D("1.0000"))])
    bc.clock.now += 60
    new = bc.sim.place_order([Line("Mug", "MUG-1", 1, D("1.0000"))])
    bc.clock.now += 60
    bc.sim.set_status(old, 2)  # touched last
    since = "2026-01-01T00:00:30+00:00"
    listed = bc.get("/v2/orders", min_date_modified=since, sort="date_modified:asc").json()
    assert [row["id"] for row in listed] == [new, old]
    later = bc.get("/v2/orders", min_date_modified="2026-01-01T01:00:00+00:00")
    assert later.status_code == 204


# --- V3 refunds and customers --------------------------------------------------------------


def test_refunds_come_as_v3_data_with_numbers_and_move_the_order_status(bc: Served) -> None:
    oid = bc.sim.place_order([Line("Mug", "MUG-1", 2, D("10.0000"))])  # 21.60
    first = bc.sim.refund(oid, D("5.00"), D("0"), reason="Chipped")
    assert bc.sim.orders[oid]["status_id"] == 14
    body = bc.get(f"/v3/orders/{oid}/payment_actions/refunds").json()
    [refund] = body["data"]
    assert refund["id"] == first and refund["total_amount"] == 5.0
    assert refund["items"] == [
        {"item_type": "ORDER", "item_id": oid, "quantity": 0, "requested_amount": 5.0}
    ]
    assert body["meta"]["pagination"]["total"] == 1
    bc.sim.refund(oid, D("16.60"), D("0"))
    order = bc.get(f"/v2/orders/{oid}").json()
    assert (order["status_id"], order["refunded_amount"]) == (4, "21.6000")
    missing = bc.get("/v3/orders/999999/payment_actions/refunds")
    assert missing.status_code == 404 and missing.json()["title"] == "Order not found"


def test_customers_are_found_by_id_and_by_modification(bc: Served) -> None:
    ann = bc.sim.add_customer("ann@example.com", "Ann", "Lee")
    bc.clock.now += 3600
    bob = bc.sim.add_customer("bob@example.com", "Bob", "Ng")
    by_id = bc.get("/v3/customers", **{"id:in": str(bob), "include": "addresses"}).json()
    assert [c["email"] for c in by_id["data"]] == ["bob@example.com"]
    assert by_id["data"][0]["addresses"][0]["postal_code"] == "78751"
    changed = bc.get("/v3/customers", **{"date_modified:min": "2026-01-01T00:30:00Z"}).json()
    assert [c["id"] for c in changed["data"]] == [bob]
    assert {c["id"] for c in bc.get("/v3/customers").json()["data"]} == {ann, bob}
    assert bc.get("/v3/customers", **{"id:in": "999999"}).json()["data"] == []


# --- hooks ---------------------------------------------------------------------------------


def test_hooks_register_once_per_scope_and_destination(bc: Served) -> None:
    made = bc.add_hook("store/order/created", "https://example.com/h", **{"X-Connector-Token": "t"})
    assert made.status_code == 200
    hook = made.json()["data"]
    assert (hook["scope"], hook["is_active"], hook["headers"]) == (
        "store/order/created",
        True,
        {"X-Connector-Token": "t"},
    )
    assert bc.add_hook("store/order/created", "https://example.com/h").status_code == 422
    assert bc.add_hook("store/order/created", "http://example.com/h").status_code == 422
    assert bc.add_hook("store/order/updated", "https://example.com/h").status_code == 200
    listed = bc.get("/v3/hooks").json()["data"]
    assert sorted(h["scope"] for h in listed) == ["store/order/created", "store/order/updated"]


def test_a_callback_echoes_the_hooks_headers_and_is_signed_for_standard_webhooks(
    bc: Served,
) -> None:
    receiver = Receiver()
    with LoopbackServer(receiver) as destination:
        bc.add_hook("store/order/created", destination.base_url, **{"X-Connector-Token": "tok"})
        bc.add_hook("store/order/updated", destination.base_url)
        assert bc.sim.deliver("store/order/created", 250) == [200]
    [request] = receiver.received
    assert request.headers["x-connector-token"] == "tok"
    body = request.json()
    assert (body["scope"], body["data"], body["producer"]) == (
        "store/order/created",
        {"type": "order", "id": 250},
        f"stores/{bc.sim.store_hash}",
    )
    # the signature verifies with the app's client secret at the moment it was sent
    assert standard_webhook_problem(request.headers, request.body, bc.sim.client_secret, T0) is None
    # and the same event is re-sent with the same hash
    again = bc.sim.callback("store/order/created", 250)
    assert json.loads(again)["hash"] == body["hash"]


def test_a_hook_is_deactivated_after_failures_in_a_row_and_then_called_no_more(
    bc: Served,
) -> None:
    receiver = Receiver(status=500)
    with LoopbackServer(receiver) as destination:
        made = bc.add_hook("store/order/created", destination.base_url).json()["data"]
        # Two failures, then a success: the count starts again
        assert bc.sim.deliver("store/order/created", 1) == [500]
        assert bc.sim.deliver("store/order/created", 2) == [500]
        receiver.status = 200
        assert bc.sim.deliver("store/order/created", 3) == [200]
        # Three failures in a row: deactivated, as BigCommerce does after 48 hours of them
        receiver.status = 503
        assert [bc.sim.deliver("store/order/created", n) for n in (4, 5, 6)] == [[503]] * 3
        [hook] = bc.get("/v3/hooks").json()["data"]
        assert hook["id"] == made["id"] and hook["is_active"] is False
        receiver.status = 200
        assert bc.sim.deliver("store/order/created", 7) == []
    assert len(receiver.received) == 6

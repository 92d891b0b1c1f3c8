"""The simulated WooCommerce store answers like a real one: REST v3, auth, errors, webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest

from connector.stores.woocommerce import is_ping, normalise_order, verify_webhook
from simulators.httpserver import LoopbackServer, Request, Response
from simulators.testbed.clocks import T0, Clock  # the store's site time is UTC-3
from simulators.testbed.loopback import Loopback
from simulators.woocommerce import FeeSpec, LineSpec, OrderSpec, WebhookSender, WooSimulator
from simulators.woocommerce_catalogue import GUESTS

KEY, SECRET = "ck_simkey", "cs_simsecret"
WEBHOOK_SECRET = "whsecAlnum42"


@pytest.fixture
def sim(loopback: Loopback) -> WooSimulator:
    store = WooSimulator(consumer_key=KEY, consumer_secret=SECRET, clock=lambda: T0, seed=3)
    store.home_url = loopback.plug(store.handle)
    return store


def _sha1_signed(url: str, params: dict[str, str], secret: str = SECRET) -> str:
    """Sign the way WooCommerce's docs describe, with HMAC-SHA1, independently of our client."""
    params = {
        **params,
        "oauth_consumer_key": KEY,
        "oauth_nonce": base64.b16encode(str(time.monotonic_ns()).encode()).decode(),
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": str(int(time.time())),
    }

    def enc(text: str) -> str:
        return quote(text, safe="-._~")

    joined = "%26".join(enc(f"{enc(k)}={enc(params[k])}") for k in sorted(params))
    base = f"GET&{enc(url)}&{joined}"
    digest = hmac.new(f"{secret}&".encode(), base.encode(), hashlib.sha1).digest()
    params["oauth_signature"] = base64.b64encode(digest).decode()
    return f"{url}?{urlencode(params, quote_via=quote)}"


def _get(sim: WooSimulator, path: str, **params: str) -> httpx.Response:
    return httpx.get(_sha1_signed(f"{sim.home_url}/wp-json/wc/v3/{path}", params))


# -- REST shapes ---------------------------------------------------------------------------------


def test_order_has_the_rest_v3_shape_with_live_skus(sim: WooSimulator) -> None:
    spec = OrderSpec(lines=[LineSpec(21, 2), LineSpec(23, 1), LineSpec(14, 3), LineSpec(30, 1)])
    placed = sim.create_order(spec)
    sim.delete_product(30)

    answer = _get(sim, f"orders/{placed['id']}")

    assert answer.status_code == 200
    order = answer.json()
    assert order["number"] == str(placed["id"]) and order["customer_id"] == 0
    assert order["date_created"] == "2025-12-31T21:00:00"  # site time, UTC-3
    assert order["date_created_gmt"] == "2026-01-01T00:00:00"
    skus = [(i["name"], i["sku"]) for i in order["line_items"]]
    assert skus == [
        ("Hoodie &ndash; Blue, M", "HOODIE"),  # variation without SKU shows the parent's
        ("Hoodie &ndash; Green, S", "HOODIE-GRN-S"),
        ("Sticker Pack", ""),
        ("Limited Edition Poster", None),  # product deleted since
    ]
    assert all(
        isinstance(order[k], str) and len(order[k].split(".")[1]) == 2
        for k in ("total", "total_tax", "shipping_total", "discount_total")
    )
    assert order["_links"]["self"][0]["href"].endswith(f"/wp-json/wc/v3/orders/{placed['id']}")
    # The body is PHP-encoded: slashes escaped.
    assert b'"href":"http:\\/\\/127.0.0.1' in answer.content


def test_stacked_and_compound_rates_keep_unrounded_per_rate_taxes(sim: WooSimulator) -> None:
    spec = OrderSpec(
        lines=[LineSpec(14, 7), LineSpec(11, 1)],
        guest=GUESTS[1],  # Québec: GST 5 % then QST 9.975 % compounded
        coupons=["third"],
        fees=[FeeSpec("Gift wrapping", Decimal("4.50"))],
        shipping="express",
    )
    order = sim.create_order(spec)

    gst, qst = order["tax_lines"]
    assert (gst["rate_code"], gst["compound"], qst["rate_code"], qst["compound"]) == (
        "CA-QC-GST-1",
        False,
        "CA-QC-QST-2",
        True,
    )
    per_rate = [t["total"] for t in order["line_items"][0]["taxes"]]
    assert any(len(t.split(".")[-1]) > 2 for t in per_rate)  # unrounded, like the real store
    parts = (
        sum(Decimal(i["total"]) for i in order["line_items"])
        + sum(Decimal(f["total"]) for f in order["fee_lines"])
        + Decimal(order["shipping_total"])
        + Decimal(order["total_tax"])
    )
    assert parts == Decimal(order["total"])
    assert normalise_order(order, "c").total == Decimal(order["total"])


def test_tax_inclusive_store_keeps_line_amounts_excluding_tax() -> None:
    sim = WooSimulator(
        consumer_key=KEY, consumer_secret=SECRET, clock=lambda: T0, prices_include_tax=True
    )
    order = sim.create_order(OrderSpec(lines=[LineSpec(10, 1)], customer_id=3, shipping=None))
    (line,) = order["line_items"]
    # 12.50 including 20 % VAT = 10.42 + 2.08
    assert (line["subtotal"], line["total_tax"], order["total"]) == ("10.42", "2.08", "12.50")
    assert order["prices_include_tax"] is True


def test_guest_and_apostrophe_customer(sim: WooSimulator) -> None:
    guest = sim.create_order(OrderSpec(lines=[LineSpec(10)], guest=GUESTS[0]))
    assert guest["customer_id"] == 0 and "customer" not in guest["_links"]
    answer = _get(sim, "customers/3")
    assert answer.json()["last_name"] == "O'Brien"
    assert b'"first_name":"Siobh\\u00e1n"' in answer.content


def test_same_seed_and_clock_give_the_same_store() -> None:
    def orders(seed: int) -> list[dict[str, Any]]:
        store = WooSimulator(consumer_key=KEY, consumer_secret=SECRET, clock=lambda: T0, seed=seed)
        return [store.create_order() for _ in range(20)]

    assert orders(11) == orders(11)
    assert orders(11) != orders(12)


# -- collections ------------------------------------------------------------------------------


def test_orders_collection_pages_with_wp_headers(sim: WooSimulator) -> None:
    for _ in range(25):
        sim.create_order()
    answer = _get(sim, "orders", per_page="10", page="2", orderby="id", order="asc")

    assert answer.status_code == 200
    assert answer.headers["X-WP-Total"] == "25" and answer.headers["X-WP-TotalPages"] == "3"
    assert [o["id"] for o in answer.json()] == list(range(710, 720))
    assert 'rel="prev"' in answer.headers["Link"] and 'rel="next"' in answer.headers["Link"]
    assert "page=3" in answer.headers["Link"].split(",")[1]


def test_per_page_above_100_is_refused(sim: WooSimulator) -> None:
    answer = _get(sim, "orders", per_page="101")
    assert answer.status_code == 400
    assert answer.json()["code"] == "rest_invalid_param"


def test_modified_after_is_site_time_unless_dates_are_gmt() -> None:
    now = [float(T0)]
    store = WooSimulator(consumer_key=KEY, consumer_secret=SECRET, clock=lambda: now[0])
    first = store.create_order()
    now[0] += 7200
    store.update_order(first["id"], status="completed")
    basic = "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    headers = {"x-forwarded-proto": "https", "authorization": basic}

    def ids(**query: str) -> list[int]:
        query_lists = {k: [v] for k, v in query.items()}
        answer = store.handle(Request("GET", "/wp-json/wc/v3/orders", query_lists, headers, b""))
        assert answer.status == 200, answer.body
        return [o["id"] for o in json.loads(answer.body)]

    # Modified at 02:00 GMT = 23:00 site time the day before.
    assert ids(modified_after="2026-01-01T01:00:00", dates_are_gmt="true") == [first["id"]]
    assert ids(modified_after="2026-01-01T01:00:00") == []
    assert ids(modified_after="2025-12-31T22:00:00") == [first["id"]]


# -- auth and errors --------------------------------------------------------------------------


def test_anonymous_and_basic_over_http_get_cannot_view(sim: WooSimulator) -> None:
    for answer in (
        httpx.get(f"{sim.home_url}/wp-json/wc/v3/orders"),
        httpx.get(f"{sim.home_url}/wp-json/wc/v3/orders/700", auth=(KEY, SECRET)),
    ):
        assert answer.status_code == 401
        assert answer.json()["code"] == "woocommerce_rest_cannot_view"


def test_bad_signature_and_replayed_nonce_are_refused(sim: WooSimulator) -> None:
    url = f"{sim.home_url}/wp-json/wc/v3/orders"
    forged = httpx.get(_sha1_signed(url, {}, secret="cs_wrong"))
    assert forged.status_code == 401
    assert forged.json() == {
        "code": "woocommerce_rest_authentication_error",
        "message": "Invalid signature - provided signature does not match.",
        "data": {"status": 401},
    }
    signed = _sha1_signed(url, {})
    assert httpx.get(signed).status_code == 200
    replay = httpx.get(signed)
    assert replay.status_code == 401
    assert replay.json()["message"] == "Invalid nonce - nonce has already been used."


def test_not_found_codes(sim: WooSimulator) -> None:
    order = _get(sim, "orders/99999")
    assert (order.status_code, order.json()["code"]) == (
        404,
        "woocommerce_rest_shop_order_invalid_id",
    )
    customer = _get(sim, "customers/99999")
    assert (customer.status_code, customer.json()["code"]) == (404, "woocommerce_rest_invalid_id")
    route = _get(sim, "coupons")
    assert (route.status_code, route.json()["code"]) == (404, "rest_no_route")


def test_injected_faults_then_normal_service(sim: WooSimulator) -> None:
    sim.inject(503, times=1)
    sim.inject(429, times=1)
    assert _get(sim, "orders").status_code == 503
    throttled = _get(sim, "orders")
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "1")
    assert _get(sim, "orders").status_code == 200


def test_an_outage_answers_every_rest_call_until_its_clock_says_it_is_over(
    sim: WooSimulator,
) -> None:
    clock = Clock()
    order = sim.create_order(OrderSpec(lines=[LineSpec(10, 1)], customer_id=2))
    sim.outage(3600, status=500, clock=clock)
    clock.advance(3599)
    down = _get(sim, f"orders/{order['id']}")
    assert down.status_code == 500
    assert "critical error" in down.json()["message"]
    assert _get(sim, "webhooks").status_code == 500  # before authentication, every route
    # Checkouts go on and their webhook bodies are still built (in process, not over HTTP)
    placed = sim.create_order(OrderSpec(lines=[LineSpec(11, 1)], customer_id=2))
    assert sim.rest_representation("order", placed["id"])["id"] == placed["id"]
    clock.advance(1)
    assert not sim.in_outage()
    assert _get(sim, f"orders/{placed['id']}").json()["total"] == placed["total"]
    assert sim.outage_requests == 2


def test_a_plugins_filter_changes_every_order_the_store_renders(sim: WooSimulator) -> None:
    order = sim.create_order(OrderSpec(lines=[LineSpec(10, 1)], customer_id=2))
    sim.filter_orders(lambda _id, doc: {**doc, "date_created_gmt": None})
    assert _get(sim, f"orders/{order['id']}").json()["date_created_gmt"] is None
    assert sim.rest_representation("order", order["id"])["date_created_gmt"] is None
    sim.filter_orders(None)
    assert _get(sim, f"orders/{order['id']}").json()["date_created_gmt"]


# -- mutations ------------------------------------------------------------------------------------


def test_refunds_look_like_woocommerce_and_complete_the_order(sim: WooSimulator) -> None:
    order = sim.create_order(OrderSpec(lines=[LineSpec(10, 2)], customer_id=2, shipping=None))
    item_id = order["line_items"][0]["id"]
    partial = sim.add_refund(order["id"], items={item_id: 1}, reason="Chipped")
    rest = Decimal(order["total"]) - Decimal(partial["amount"])
    sim.add_refund(order["id"], amount=rest)

    refunds = _get(sim, f"orders/{order['id']}/refunds").json()
    assert refunds[0]["line_items"] == []  # amount-only refund, newest first
    line = refunds[1]["line_items"][0]
    assert line["quantity"] == -1 and line["total"] == "-12.50"
    assert line["meta_data"][0]["key"] == "_refunded_item_id"
    assert line["meta_data"][0]["value"] == str(item_id)
    after = _get(sim, f"orders/{order['id']}").json()
    assert after["status"] == "refunded"
    assert [r["total"] for r in after["refunds"]] == [f"-{rest}", f"-{partial['amount']}"]
    with pytest.raises(ValueError, match="Invalid refund amount"):
        sim.add_refund(order["id"], amount=Decimal("0.01"))


def test_update_bumps_modified_and_reprices() -> None:
    now = [float(T0)]
    store = WooSimulator(consumer_key=KEY, consumer_secret=SECRET, clock=lambda: now[0])
    order = store.create_order(OrderSpec(lines=[LineSpec(10, 1)], customer_id=2))
    now[0] += 60
    changed = store.update_order(order["id"], lines=[LineSpec(10, 3)])
    assert changed["date_modified_gmt"] == "2026-01-01T00:01:00"
    assert changed["date_created_gmt"] == order["date_created_gmt"]
    assert changed["line_items"][0]["total"] == "37.50"
    normalise_order(changed, "c")


# -- webhooks --------------------------------------------------------------------------------------


class Receiver:
    """A store's webhook endpoint stand-in that records deliveries and answers a set status."""

    def __init__(self) -> None:
        self.status = 200
        self.received: list[Request] = []
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        with self._lock:
            self.received.append(request)
        return Response(self.status, b"")


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    target = Receiver()
    with LoopbackServer(target) as running:
        yield target, running.base_url + "/webhooks/shop-eu"


def test_delivery_is_signed_php_json_of_the_current_order(
    sim: WooSimulator, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    sender = WebhookSender(sim, target_url=url, secret=WEBHOOK_SECRET, webhook_id=12)
    order = sim.create_order(OrderSpec(lines=[LineSpec(21)], customer_id=3, status="pending"))
    sim.update_order(order["id"], status="processing")  # before delivery: body shows it

    assert sender.deliver("order.created", order["id"]) == 200

    (request,) = target.received
    headers = request.headers
    assert headers["x-wc-webhook-topic"] == "order.created"
    assert (headers["x-wc-webhook-resource"], headers["x-wc-webhook-event"]) == ("order", "created")
    assert headers["x-wc-webhook-id"] == "12"
    assert headers["x-wc-webhook-source"] == sim.home_url + "/"
    assert len(headers["x-wc-webhook-delivery-id"]) == 32
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("WooCommerce/") and "Hookshot" in headers["user-agent"]
    assert verify_webhook(request.body, headers["x-wc-webhook-signature"], WEBHOOK_SECRET)
    assert not verify_webhook(request.body, headers["x-wc-webhook-signature"], "otherSecret")
    assert b"\\/" in request.body and b"\\u00e1" in request.body
    assert json.loads(request.body)["status"] == "processing"


def test_deleted_topic_sends_only_the_id_and_vanished_records_send_the_error(
    sim: WooSimulator, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    sender = WebhookSender(sim, target_url=url, secret=WEBHOOK_SECRET, webhook_id=12)
    order = sim.create_order()
    sim.trash_order(order["id"])
    sender.deliver("order.deleted", order["id"])
    sim.delete_order(order["id"])
    sender.deliver("order.updated", order["id"])

    deleted, vanished = (json.loads(r.body) for r in target.received)
    assert deleted == {"id": order["id"]}
    assert vanished["code"] == "woocommerce_rest_shop_order_invalid_id"


def test_ping_is_an_unsigned_form_post_needing_exactly_200(
    sim: WooSimulator, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    sender = WebhookSender(sim, target_url=url, secret=WEBHOOK_SECRET, webhook_id=12)
    assert sender.ping() == 200 and sender.last_ping_error is None
    (ping,) = target.received
    assert ping.body == b"webhook_id=12"
    assert "x-wc-webhook-signature" not in ping.headers
    assert is_ping(ping.headers.get("content-type"), ping.body, ping.headers)

    target.status = 204
    assert sender.ping() == 204
    assert sender.last_ping_error == "Error: Delivery URL returned response code: 204"


def test_seventh_consecutive_failure_disables_the_webhook(
    sim: WooSimulator, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    sender = WebhookSender(sim, target_url=url, secret=WEBHOOK_SECRET, webhook_id=12)
    order = sim.create_order()
    target.status = 500
    for _ in range(5):
        sender.deliver("order.updated", order["id"])
    target.status = 302  # 200..302 counts as success and resets the count
    sender.deliver("order.updated", order["id"])
    assert (sender.failure_count, sender.status) == (0, "active")

    target.status = 401
    for _ in range(6):
        sender.deliver("order.updated", order["id"])
    assert sender.status == "active"
    sender.deliver("order.updated", order["id"])
    assert sender.status == "disabled"
    sent = len(target.received)
    assert sender.deliver("order.updated", order["id"]) == 0  # lost, as in WooCommerce
    assert len(target.received) == sent

    sender.reactivate()
    target.status = 200
    assert sender.deliver("order.updated", order["id"]) == 200


def test_deliver_raw_sends_forged_bodies_as_given(
    sim: WooSimulator, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    sender = WebhookSender(sim, target_url=url, secret=WEBHOOK_SECRET, webhook_id=12)
    forged = b'{"id":1,"total":"0.01"}'
    headers = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": "order.updated",
        "X-WC-Webhook-Signature": "AAAA",
    }
    sender.deliver_raw(forged, headers)
    (request,) = target.received
    assert request.body == forged
    assert not verify_webhook(
        request.body, request.headers["x-wc-webhook-signature"], WEBHOOK_SECRET
    )

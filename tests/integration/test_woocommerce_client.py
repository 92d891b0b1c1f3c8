"""WooClient against the simulated store over real HTTP on loopback."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlsplit

import httpx
import pytest

from connector.errors import PermanentError, TransientError
from connector.stores.woocommerce import (
    StoreAuthFailed,
    StoreLookups,
    StoreRecordNotFound,
    StoreRequestRejected,
    StoreUnavailable,
    WooClient,
    WooCredentials,
    normalise_order,
    oauth1_signed_query,
)
from simulators.httpserver import LoopbackServer, Request, Response
from simulators.testbed.clocks import T0, Clock
from simulators.testbed.loopback import Loopback
from simulators.woocommerce import LineSpec, OrderSpec, WooSimulator

KEY = "ck_4f1e0b9d2c8a7e6f5d4c3b2a1908f7e6d5c4b3a2"
SECRET = "cs_9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b"


@pytest.fixture
def sim(clock: Clock) -> WooSimulator:
    return WooSimulator(consumer_key=KEY, consumer_secret=SECRET, clock=clock, seed=7)


@pytest.fixture
def server(sim: WooSimulator, loopback: Loopback) -> LoopbackServer:
    sim.home_url = loopback.plug(sim.handle)
    return loopback.server


def _client(
    server: LoopbackServer, secret: str = SECRET, *, timeout_s: float = 5.0, max_retries: int = 3
) -> WooClient:
    return WooClient(
        base_url=server.base_url,
        credentials=WooCredentials(consumer_key=KEY, consumer_secret=secret),
        connection_id="shop-eu",
        backoff_s=0.01,
        timeout_s=timeout_s,
        max_retries=max_retries,
    )


def test_reads_an_order_over_http_with_oauth1_and_never_sends_the_secret(
    sim: WooSimulator, server: LoopbackServer
) -> None:
    placed = sim.create_order()
    with _client(server) as client:
        fetched = client.get_order(str(placed["id"]))

    assert fetched == placed
    assert normalise_order(fetched, "shop-eu").total == Decimal(placed["total"])
    assert client.calls == 1
    (request,) = sim.requests
    assert request.arg("oauth_signature_method") == "HMAC-SHA256"
    assert "authorization" not in request.headers
    raw = request.path + str(request.query) + str(dict(request.headers))
    assert SECRET not in raw


def test_reads_customer_and_refunds(sim: WooSimulator, server: LoopbackServer) -> None:
    placed = sim.create_order(OrderSpec(lines=[LineSpec(10, 2), LineSpec(21, 1)], customer_id=3))
    sim.add_refund(placed["id"], items={placed["line_items"][0]["id"]: 1}, reason="Chipped")
    sim.add_refund(placed["id"], amount=Decimal("5.00"))
    with _client(server) as client:
        customer = client.get_customer("3")
        refunds = client.list_refunds(str(placed["id"]))

    assert customer["last_name"] == "O'Brien"
    assert [r["amount"] for r in refunds] == ["5.00", "15.00"]
    assert refunds[1]["line_items"][0]["quantity"] == -1


def test_revenue_rule_facts_cost_one_call_per_product_and_buyer_and_are_reused(
    sim: WooSimulator, server: LoopbackServer
) -> None:
    # Given a wholesale buyer's order of two mugs lines, a gift card and a hoodie variation,
    # and a second order of a mug by a guest
    wholesale = sim.create_customer(email="buyer@trade.example", role="wholesale_customer")
    first = sim.create_order(
        OrderSpec(
            lines=[LineSpec(10, 1), LineSpec(13, 1), LineSpec(21, 1), LineSpec(10, 2)],
            customer_id=wholesale["id"],
        )
    )
    second = sim.create_order(OrderSpec(lines=[LineSpec(10, 1)]))
    lookups = StoreLookups()

    # When both are fetched with categories and the customer group asked for
    def client() -> WooClient:
        return WooClient(
            base_url=server.base_url,
            credentials=WooCredentials(consumer_key=KEY, consumer_secret=SECRET),
            categories=True,
            customer_group=True,
            lookups=lookups,
        )

    with client() as one:
        order = normalise_order(one.get_order(str(first["id"])), "shop-eu")
    with client() as two:
        guest_order = normalise_order(two.get_order(str(second["id"])), "shop-eu")

    # Then lines carry their product's category names and slugs (a variation its parent's),
    # the buyer's role is the group, and a guest is "guest"
    assert [line.categories for line in order.lines] == [
        ("Kitchen", "kitchen"),
        ("Gift cards", "gift-cards"),
        ("Clothing", "clothing"),
        ("Kitchen", "kitchen"),
    ]
    assert order.customer.group == "wholesale_customer"
    assert guest_order.customer.group == "guest"
    assert guest_order.lines[0].categories == ("Kitchen", "kitchen")
    # And the first fetch cost the order, three products and the customer; the second only
    # its order, the mug's categories being known
    assert one.calls == 5
    assert two.calls == 1


def test_without_rules_needing_them_no_facts_are_fetched(
    sim: WooSimulator, server: LoopbackServer
) -> None:
    placed = sim.create_order(OrderSpec(lines=[LineSpec(10, 1)], customer_id=3))
    with _client(server) as client:
        fetched = client.get_order(str(placed["id"]))
    assert fetched == placed
    assert client.calls == 1
    order = normalise_order(fetched, "shop-eu")
    assert order.lines[0].categories == () and order.customer.group is None


def test_a_deleted_product_has_no_categories(sim: WooSimulator, server: LoopbackServer) -> None:
    placed = sim.create_order(OrderSpec(lines=[LineSpec(30, 1)]))
    sim.delete_product(30)
    with WooClient(
        base_url=server.base_url,
        credentials=WooCredentials(consumer_key=KEY, consumer_secret=SECRET),
        categories=True,
    ) as client:
        order = normalise_order(client.get_order(str(placed["id"])), "shop-eu")
    assert order.lines[0].categories == ()
    assert order.customer.group is None  # not asked for


def test_retries_injected_503_then_succeeds(sim: WooSimulator, server: LoopbackServer) -> None:
    placed = sim.create_order()
    sim.inject(503, times=2)
    with _client(server) as client:
        assert client.get_order(str(placed["id"]))["id"] == placed["id"]
    assert client.calls == 3


def test_retries_a_slow_answer_as_a_timeout(sim: WooSimulator, server: LoopbackServer) -> None:
    placed = sim.create_order()
    sim.inject(None, times=1, delay_s=0.6)
    with _client(server, timeout_s=0.2) as client:
        assert client.get_order(str(placed["id"]))["id"] == placed["id"]
    assert client.calls == 2


def test_gives_up_after_bounded_retries_with_a_transient_error(
    sim: WooSimulator, server: LoopbackServer
) -> None:
    sim.inject(500, times=10)
    with _client(server, max_retries=2) as client, pytest.raises(StoreUnavailable) as caught:
        client.get_order("700")
    assert isinstance(caught.value, TransientError)
    assert client.calls == 3
    message = str(caught.value)
    assert "shop-eu" in message and "HTTP 500" in message and "3 attempts" in message


def test_honours_retry_after_on_429(sim: WooSimulator, server: LoopbackServer) -> None:
    placed = sim.create_order()
    sim.inject(429, times=1)
    with _client(server) as client:
        assert client.get_order(str(placed["id"]))["id"] == placed["id"]
    first, second = sim.requests
    # The retry is a freshly signed request: a reused nonce would be refused.
    assert first.arg("oauth_nonce") != second.arg("oauth_nonce")


def test_missing_and_deleted_orders_are_permanent_not_found(
    sim: WooSimulator, server: LoopbackServer
) -> None:
    placed = sim.create_order()
    sim.delete_order(placed["id"])
    with _client(server) as client:
        with pytest.raises(StoreRecordNotFound, match=f"order {placed['id']}"):
            client.get_order(str(placed["id"]))
        with pytest.raises(StoreRecordNotFound, match="customer 999"):
            client.get_customer("999")
    assert client.calls == 2  # no retries for a 404


def test_trashed_order_is_still_readable(sim: WooSimulator, server: LoopbackServer) -> None:
    placed = sim.create_order()
    sim.trash_order(placed["id"])
    with _client(server) as client:
        assert client.get_order(str(placed["id"]))["status"] == "trash"


def test_wrong_secret_is_a_merchant_readable_auth_failure(
    sim: WooSimulator, server: LoopbackServer
) -> None:
    wrong = "cs_0000000000000000000000000000000000000000"
    with _client(server, secret=wrong) as client, pytest.raises(StoreAuthFailed) as caught:
        client.get_order("700")
    assert isinstance(caught.value, PermanentError)
    reason = caught.value.reason
    assert reason.startswith("WooCommerce refused the API keys for connection shop-eu:")
    assert "signature does not match" in reason
    assert KEY not in reason and wrong not in reason and SECRET not in reason
    assert client.calls == 1


def test_list_modified_orders_pages_and_filters_on_gmt(
    sim: WooSimulator, server: LoopbackServer, clock: Clock
) -> None:
    # Given 230 orders placed at T0, of which 130 are edited an hour later
    placed = [sim.create_order() for _ in range(230)]
    clock.now = T0 + 3600
    edited = [o["id"] for o in placed[::2]][:115] + [o["id"] for o in placed[1::2]][:15]
    for order_id in edited:
        sim.update_order(order_id, customer_note="Please ring twice")
    # When listing what changed after T0 + 30 min (GMT, whatever the store's timezone)
    with _client(server) as client:
        changed = list(client.list_modified("order", datetime.fromtimestamp(T0 + 1800, UTC)))
    # Then exactly the edited orders come back, over two pages of 100
    assert sorted(o["id"] for o in changed) == sorted(edited)
    assert client.calls == 2
    assert all(o["customer_note"] == "Please ring twice" for o in changed)


def test_list_modified_customers_filters_client_side(
    sim: WooSimulator, server: LoopbackServer, clock: Clock
) -> None:
    clock.now = T0 + 60
    sim.update_customer(4, billing={"phone": "+1 514 555 0199"})
    added = sim.create_customer(first_name="Zoë", last_name="D'Arcy", email="zoe@example.com")
    with _client(server) as client:
        changed = list(client.list_modified("customer", datetime.fromtimestamp(T0, UTC)))
    assert sorted(c["id"] for c in changed) == [4, added["id"]]


def test_https_store_uses_basic_auth(sim: WooSimulator) -> None:
    # A TLS terminator in front of the store: the client speaks https, the store sees
    # X-Forwarded-Proto. The transport hands each request to the store as it would arrive.
    def tls_terminator(request: httpx.Request) -> httpx.Response:
        split = urlsplit(str(request.url))
        inbound = Request(
            method=request.method,
            path=split.path,
            query={
                k: request.url.params.get_list(k) for k in request.url.params
            },
            headers={**{k.lower(): v for k, v in request.headers.items()},
                     "x-forwarded-proto": "https"},
            body=request.content,
        )  # fmt: skip
        answer = sim.handle(inbound)
        return httpx.Response(answer.status, headers=answer.headers, content=answer.body)

    placed = sim.create_order()
    http = httpx.Client(transport=httpx.MockTransport(tls_terminator))
    client = WooClient(
        base_url="https://shop.example",
        credentials=WooCredentials(consumer_key=KEY, consumer_secret=SECRET),
        http=http,
    )
    assert client.get_order(str(placed["id"]))["id"] == placed["id"]
    (request,) = sim.requests
    assert request.headers["authorization"].startswith("Basic ")
    assert not any(name.startswith("oauth_") for name in request.query)


def test_oauth1_signature_matches_an_independently_computed_vector() -> None:
    # Base string written out by hand from WooCommerce's rules and signed with
    # `openssl dgst -sha256 -hmac 'cs_test&' -binary | base64`.
    query = oauth1_signed_query(
        "GET",
        "http://127.0.0.1:8080/wp-json/wc/v3/orders",
        [("per_page", "100"), ("page", "1"), ("modified_after", "2026-01-01T00:00:00")],
        WooCredentials(consumer_key="ck_test", consumer_secret="cs_test"),
        timestamp=1767225600,
        nonce="abc123",
    )
    assert query.endswith("&oauth_signature=ttQScZvjkP28%2BqIZIaO4fLG7yfQjfhgYEnYEMQefYtI%3D")
    assert "modified_after=2026-01-01T00%3A00%3A00" in query


def test_a_redirecting_store_is_a_permanent_error_naming_the_target(loopback: Loopback) -> None:
    loopback.plug(
        lambda request: Response(
            301, b"", {"Location": "https://shop.example/wp-json/wc/v3/orders/1"}
        )
    )
    with _client(loopback.server) as client, pytest.raises(StoreRequestRejected) as caught:
        client.get_order("1")
    assert "redirects to https://shop.example/" in caught.value.reason


def test_store_stays_consistent_under_concurrent_writes_and_reads(
    sim: WooSimulator, server: LoopbackServer
) -> None:
    def place() -> None:
        for _ in range(25):
            sim.create_order()

    writers = [threading.Thread(target=place) for _ in range(4)]
    for writer in writers:
        writer.start()
    with _client(server) as client:
        seen = [o["id"] for o in client.list_modified("order", datetime.fromtimestamp(0, UTC))]
    for writer in writers:
        writer.join()
    assert len(seen) == len(set(seen))
    assert len(sim.order_ids()) == 100
    with _client(server) as client:
        everything = list(client.list_modified("order", datetime.fromtimestamp(0, UTC)))
    assert sorted(o["id"] for o in everything) == sim.order_ids()
    for raw in everything:
        normalise_order(raw, "shop-eu")

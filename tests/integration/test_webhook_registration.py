"""The connector's webhooks in each store, through the store port, against the simulated stores.

What the merchant checks: after a sync every topic the connector reads is registered, pointed
at the connector and signed (or tokened) with its secret, so a real delivery is accepted by
the connector's own reader; a second sync changes nothing it need not; drift (an old URL, a
wrong secret or topic, a webhook the store switched off after failed deliveries) is reported
by check and put right by sync; a dry run changes nothing; a store that refuses says why.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from pydantic import SecretStr

from connector.stores.bigcommerce.hooks import REGISTERED_SCOPES, BigCommerceHooks
from connector.stores.bigcommerce.webhook import read_webhook as read_bigcommerce
from connector.stores.magento.hooks import MagentoHooks
from connector.stores.port import StoreAuthFailed, WebhookReport
from connector.stores.woocommerce_client import WooClient, WooCredentials
from connector.stores.woocommerce_hooks import (
    NOTE,
    SECRET_RESET,
    TOPICS,
    UNREADABLE_SECRET,
    WooWebhooks,
)
from connector.stores.woocommerce_store import read_webhook as read_woocommerce
from simulators.bigcommerce import BigCommerceSimulator
from simulators.httpserver import LoopbackServer, Request, Response
from simulators.woocommerce import LineSpec, OrderSpec, WooSimulator

SECRET = "ConnectorSecret42"
KEY, KEY_SECRET = "ck_hooks", "cs_hooks"


@dataclass
class Receiver:
    """The connector's ingest as the store sees it: answers ``status``, keeps what came."""

    status: int = 200
    received: list[Request] = field(default_factory=list)

    def __call__(self, request: Request) -> Response:
        self.received.append(request)
        return Response.of_json({"ok": self.status < 300}, self.status)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    target = Receiver()
    with LoopbackServer(target) as server:
        yield target, f"{server.base_url}/webhooks/shop"


def states(report: WebhookReport) -> dict[str, str]:
    return {hook.topic: hook.state for hook in report.hooks}


def writes(requests: list[Request]) -> list[str]:
    return [f"{r.method} {r.path}" for r in requests if r.method != "GET"]


# --- WooCommerce ----------------------------------------------------------------------------


@dataclass
class Woo:
    sim: WooSimulator
    hooks: WooWebhooks

    def shown(self) -> list[tuple[str, str, str, str]]:
        """Every webhook as the store keeps it: (topic, url, status, secret)."""
        return sorted(
            (h.topic, h.delivery_url, h.status, h.sender.secret)
            for h in self.sim.webhooks.webhooks.values()
        )


@pytest.fixture
def woo() -> Iterator[Woo]:
    yield from _woo()


def _woo(key_permissions: str = "read_write") -> Iterator[Woo]:
    sim = WooSimulator(
        consumer_key=KEY, consumer_secret=KEY_SECRET, seed=5, key_permissions=key_permissions
    )
    with sim.serve() as server, httpx.Client(timeout=10) as http:
        client = WooClient(
            base_url=server.base_url,
            credentials=WooCredentials(
                consumer_key=SecretStr(KEY), consumer_secret=SecretStr(KEY_SECRET)
            ),
            http=http,
            connection_id="shop",
            backoff_s=0.01,
        )
        yield Woo(sim, WooWebhooks(client=client, connection_id="shop"))


def test_woocommerce_sync_registers_every_topic_and_the_connector_accepts_what_they_send(
    woo: Woo, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    # When the connector's webhooks are synced into an empty store
    report = woo.hooks.sync_webhooks(url, SECRET)
    # Then one active webhook per topic delivers to the connector with its secret
    assert states(report) == dict.fromkeys(TOPICS, "created")
    assert woo.shown() == sorted((t, url, "active", SECRET) for t in TOPICS)
    assert {h.hook_id for h in report.hooks} == {str(i) for i in woo.sim.webhooks.webhooks}
    # And WooCommerce pinged each new webhook, as it does
    assert [r.body for r in target.received] == [
        f"webhook_id={h.hook_id}".encode() for h in report.hooks
    ]
    # And every topic's delivery is signed so that the connector's reader queues it
    order = woo.sim.create_order(OrderSpec(lines=[LineSpec(10, 1)], customer_id=2))
    target.received.clear()
    for topic in TOPICS:
        resource_id = order["id"] if topic.startswith("order.") else 2
        assert woo.sim.webhooks.deliver(topic, resource_id) == [200]
    for request in target.received:
        reading = read_woocommerce(request.headers, request.body, lambda: SECRET)
        assert reading.status == 200 and reading.records, (request.headers, reading)


def test_woocommerce_a_second_sync_only_sets_the_unreadable_secret_again(
    woo: Woo, receiver: tuple[Receiver, str]
) -> None:
    _, url = receiver
    woo.hooks.sync_webhooks(url, SECRET)
    before = len(woo.sim.requests)

    again = woo.hooks.sync_webhooks(url, SECRET)

    assert states(again) == dict.fromkeys(TOPICS, "ok")
    assert {h.detail for h in again.hooks} == {SECRET_RESET} and again.note == NOTE
    assert writes(woo.sim.requests[before:]) == [
        f"PUT /wp-json/wc/v3/webhooks/{h.hook_id}" for h in again.hooks
    ]
    assert len(woo.shown()) == len(TOPICS)


def test_woocommerce_check_says_it_cannot_see_the_secret_and_changes_nothing(
    woo: Woo, receiver: tuple[Receiver, str]
) -> None:
    _, url = receiver
    woo.hooks.sync_webhooks(url, SECRET)
    before = len(woo.sim.requests)

    checked = woo.hooks.check_webhooks(url, SECRET)

    assert states(checked) == dict.fromkeys(TOPICS, "ok") and checked.problems == ()
    assert {h.detail for h in checked.hooks} == {UNREADABLE_SECRET}
    assert writes(woo.sim.requests[before:]) == []


def _drifted_woo(woo: Woo, target: Receiver, url: str) -> None:
    """An old deployment's URL, a webhook WooCommerce disabled after failed deliveries, a
    hand-made one on a topic the connector does not read, and another app's webhook."""
    woo.sim.webhooks.add("order.created", "https://old-api.example/prod/webhooks/shop", SECRET)
    failing = woo.sim.webhooks.add("order.updated", url, SECRET)
    woo.sim.webhooks.add("product.updated", url, "hand-typed")
    woo.sim.webhooks.add("order.created", "https://crm.example/hooks", "crm-secret")
    order = woo.sim.create_order(OrderSpec(lines=[LineSpec(10, 1)]))
    target.status = 500
    for _ in range(7):  # WooCommerce disables a webhook on the seventh failure in a row
        failing.sender.deliver("order.updated", order["id"])
    target.status = 200
    assert failing.status == "disabled"


def test_woocommerce_drift_is_reported_by_check_and_put_right_by_sync(
    woo: Woo, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    _drifted_woo(woo, target, url)

    checked = woo.hooks.check_webhooks(url, SECRET)
    assert [(h.topic, h.state, h.drift) for h in checked.hooks[:3]] == [
        ("order.created", "drifted", ("url",)),
        ("order.updated", "drifted", ("inactive",)),
        ("order.deleted", "drifted", ("topic",)),
    ]
    assert {h.topic: h.state for h in checked.hooks[3:]} == dict.fromkeys(TOPICS[3:], "missing")
    assert "switched off by the store (disabled)" in checked.hooks[1].detail

    synced = woo.hooks.sync_webhooks(url, SECRET)

    assert [(h.topic, h.state) for h in synced.hooks[:3]] == [
        ("order.created", "repaired"),
        ("order.updated", "reactivated"),
        ("order.deleted", "repaired"),
    ]
    assert synced.hooks[0].detail == "delivering to https://old-api.example/prod/webhooks/shop"
    assert synced.problems == ()
    # Every topic now delivers to the connector with its secret; the other app's is untouched
    assert woo.shown() == sorted(
        [*((t, url, "active", SECRET) for t in TOPICS),
         ("order.created", "https://crm.example/hooks", "active", "crm-secret")]
    )  # fmt: skip
    assert woo.hooks.check_webhooks(url, SECRET).problems == ()


def test_woocommerce_a_dry_run_says_what_it_would_do_and_changes_nothing(
    woo: Woo, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    _drifted_woo(woo, target, url)
    before, sent = woo.shown(), len(woo.sim.requests)

    dry = woo.hooks.sync_webhooks(url, SECRET, dry_run=True)

    assert dry.dry_run and states(dry)["order.updated"] == "reactivated"
    assert states(dry)["customer.deleted"] == "created"
    assert woo.shown() == before and writes(woo.sim.requests[sent:]) == []


def test_woocommerce_a_read_only_key_can_check_but_sync_says_it_needs_read_write(
    receiver: tuple[Receiver, str],
) -> None:
    _, url = receiver
    for woo in _woo(key_permissions="read"):
        assert states(woo.hooks.check_webhooks(url, SECRET)) == dict.fromkeys(TOPICS, "missing")

        report = woo.hooks.sync_webhooks(url, SECRET)

        first, *rest = report.hooks
        assert first.state == "failed"
        assert "The API key provided does not have write permissions." in first.detail
        assert "Read/Write" in first.detail
        assert {h.state for h in rest} == {"failed"} and "not tried" in rest[0].detail
        assert woo.shown() == []


def test_the_simulated_woocommerce_refuses_what_its_rest_controller_refuses(
    woo: Woo, receiver: tuple[Receiver, str]
) -> None:
    _, url = receiver
    api = woo.hooks._client  # the connector's signed transport, for raw requests
    bad_topic = api.write("POST", "webhooks", {"topic": "order.shipped", "delivery_url": url}, "x")
    assert (bad_topic.status_code, bad_topic.json()["code"]) == (
        400, "woocommerce_rest_shop_webhook_invalid_topic",
    )  # fmt: skip
    bad_url = api.write(
        "POST", "webhooks", {"topic": "order.created", "delivery_url": "ftp://x"}, "x"
    )
    assert bad_url.json()["message"].startswith("Webhook delivery URL must be a valid URL")
    made = api.write("POST", "webhooks", {"topic": "order.created", "delivery_url": url,
                                          "secret": SECRET}, "x")  # fmt: skip
    assert made.status_code == 201 and "secret" not in made.json()
    assert all("secret" not in h for h in api.pages("webhooks", [], "webhooks"))
    bad_status = api.write("PUT", f"webhooks/{made.json()['id']}", {"status": "sleeping"}, "x")
    assert bad_status.json()["code"] == "woocommerce_rest_shop_webhook_invalid_status"
    anonymous = httpx.get(f"{woo.sim.home_url}/wp-json/wc/v3/webhooks", timeout=5)
    assert (anonymous.status_code, anonymous.json()["code"]) == (
        401,
        "woocommerce_rest_cannot_view",
    )


# --- BigCommerce ----------------------------------------------------------------------------


@dataclass
class Bc:
    sim: BigCommerceSimulator
    url: str
    hooks: BigCommerceHooks

    def add(self, scope: str, destination: str, **headers: str) -> int:
        answer = httpx.post(
            f"{self.url}/stores/{self.sim.store_hash}/v3/hooks",
            json={"scope": scope, "destination": destination, "headers": headers},
            headers={"X-Auth-Token": self.sim.access_token},
            timeout=5,
        )
        assert answer.status_code == 200, answer.text
        return int(answer.json()["data"]["id"])

    def shown(self) -> list[tuple[str, str, bool, dict[str, str]]]:
        return sorted(
            (h.scope, h.destination, h.is_active, h.headers) for h in self.sim.hooks.values()
        )


def _bc(*, loopback: bool = True, token: str | None = None) -> Iterator[Bc]:
    sim = BigCommerceSimulator(quota=1000, loopback_destinations=loopback)
    with LoopbackServer(sim.handle) as server, httpx.Client(timeout=10) as http:
        hooks = BigCommerceHooks(
            api_base=server.base_url,
            store_hash=sim.store_hash,
            access_token=SecretStr(token or sim.access_token),
            http=http,
            connection_id="shop",
            backoff_s=0.01,
        )
        yield Bc(sim, server.base_url, hooks)


@pytest.fixture
def bc() -> Iterator[Bc]:
    yield from _bc()


def test_bigcommerce_sync_registers_each_scope_with_the_token_the_connector_checks(
    bc: Bc, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    report = bc.hooks.sync_webhooks(url, SECRET)

    assert states(report) == dict.fromkeys(REGISTERED_SCOPES, "created")
    assert bc.shown() == sorted(
        (s, url, True, {"X-Connector-Token": SECRET}) for s in REGISTERED_SCOPES
    )
    # A callback carries the token back, and the connector's reader queues it
    assert bc.sim.deliver("store/order/created", 101) == [200]
    (request,) = target.received
    assert read_bigcommerce(request.headers, request.body, lambda: SECRET).records


def test_bigcommerce_a_second_sync_and_a_check_write_nothing(
    bc: Bc, receiver: tuple[Receiver, str]
) -> None:
    _, url = receiver
    bc.hooks.sync_webhooks(url, SECRET)
    before = len(bc.sim.requests)

    again = bc.hooks.sync_webhooks(url, SECRET)
    checked = bc.hooks.check_webhooks(url, SECRET)

    assert states(again) == states(checked) == dict.fromkeys(REGISTERED_SCOPES, "ok")
    assert writes(bc.sim.requests[before:]) == []


def _drifted_bc(bc: Bc, target: Receiver, url: str) -> int:
    """A wrong token (with another header the merchant added), an old deployment's URL, and
    a hook BigCommerce deactivated after failed deliveries."""
    bc.add("store/order/created", url, **{"X-Connector-Token": "old-token", "X-Team": "ops"})
    bc.add("store/order/updated", "https://old-api.example/prod/webhooks/shop",
           **{"X-Connector-Token": SECRET})  # fmt: skip
    archived = bc.add("store/order/archived", url, **{"X-Connector-Token": SECRET})
    target.status = 503
    for n in range(bc.sim.deactivate_after):
        bc.sim.deliver("store/order/archived", n)
    target.status = 200
    assert bc.sim.hooks[archived].is_active is False
    return archived


def test_bigcommerce_drift_is_reported_by_check_and_put_right_by_sync(
    bc: Bc, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    archived = _drifted_bc(bc, target, url)

    report = bc.hooks.check_webhooks(url, SECRET)
    checked = {h.topic: (h.state, h.drift) for h in report.hooks}
    assert checked == {
        **dict.fromkeys(REGISTERED_SCOPES, ("missing", ())),
        "store/order/created": ("drifted", ("secret",)),
        "store/order/updated": ("drifted", ("url",)),
        "store/order/archived": ("drifted", ("inactive",)),
    }
    assert SECRET not in str(report) and "old-token" not in str(report)  # never the secrets

    synced = bc.hooks.sync_webhooks(url, SECRET)

    assert states(synced) == {
        **dict.fromkeys(REGISTERED_SCOPES, "created"),
        "store/order/created": "repaired",
        "store/order/updated": "repaired",
        "store/order/archived": "reactivated",
    }
    created = next(h for h in bc.sim.hooks.values() if h.scope == "store/order/created")
    assert created.headers == {"X-Team": "ops", "X-Connector-Token": SECRET}
    assert bc.hooks.check_webhooks(url, SECRET).problems == ()
    # the reactivated hook delivers again
    assert bc.sim.deliver("store/order/archived", 7) == [200]
    assert bc.sim.hooks[archived].failures == 0


def test_bigcommerce_a_dry_run_changes_nothing(bc: Bc, receiver: tuple[Receiver, str]) -> None:
    target, url = receiver
    _drifted_bc(bc, target, url)
    before, sent = bc.shown(), len(bc.sim.requests)

    dry = bc.hooks.sync_webhooks(url, SECRET, dry_run=True)

    assert dry.dry_run and states(dry)["store/customer/deleted"] == "created"
    assert bc.shown() == before and writes(bc.sim.requests[sent:]) == []


def test_bigcommerce_refuses_a_destination_that_is_not_https_on_443_in_its_own_words() -> None:
    for bc in _bc(loopback=False):
        report = bc.hooks.sync_webhooks("http://connector.example/webhooks/shop", SECRET)
        assert {h.state for h in report.hooks} == {"failed"}
        assert "HTTP 422: JSON data is missing or invalid" in report.hooks[0].detail
        assert "https URL served on port 443" in report.hooks[0].detail
        on_8443 = bc.hooks.sync_webhooks("https://connector.example:8443/webhooks/shop", SECRET)
        assert {h.state for h in on_8443.hooks} == {"failed"}
        assert bc.sim.hooks == {}


def test_bigcommerce_a_revoked_token_is_a_clear_error() -> None:
    for bc in _bc(token="revoked"):
        with pytest.raises(StoreAuthFailed, match="only the API account that created them"):
            bc.hooks.check_webhooks("https://connector.example/webhooks/shop", SECRET)


def test_the_simulated_bigcommerce_refuses_what_the_webhooks_reference_refuses(bc: Bc) -> None:
    def post(body: dict[str, object]) -> httpx.Response:
        return httpx.post(f"{bc.url}/stores/{bc.sim.store_hash}/v3/hooks", json=body,
                          headers={"X-Auth-Token": bc.sim.access_token}, timeout=5)  # fmt: skip

    missing = post({"scope": "store/order/created"})
    assert missing.status_code == 422
    assert missing.json()["errors"] == {"destination": "error.path.missing."}
    assert post({"scope": "store/order/shipped", "destination": "https://x.example/h"}).json()[
        "errors"
    ] == {"scope": "store/order/shipped is not a webhook scope"}
    hook = post({"scope": "store/order/created", "destination": "https://x.example/h"}).json()
    path = f"{bc.url}/stores/{bc.sim.store_hash}/v3/hooks"
    auth = {"X-Auth-Token": bc.sim.access_token}
    empty = httpx.put(f"{path}/{hook['data']['id']}", json={}, headers=auth, timeout=5)
    assert empty.status_code == 422
    gone = httpx.get(f"{path}/999", headers=auth, timeout=5)
    assert (gone.status_code, gone.json()["title"]) == (404, "Webhook with id [999] not found")


# --- Magento --------------------------------------------------------------------------------


def test_magento_says_it_is_polled_and_registers_nothing() -> None:
    polled = MagentoHooks(poll_minutes=2).sync_webhooks("https://x.example/webhooks/m", SECRET)
    ((state, detail),) = [(h.state, h.detail) for h in polled.hooks]
    assert state == "polled" and "polls changed orders and customers every 2 minutes" in detail
    assert polled.problems == () and "x-magento-signature" in polled.note

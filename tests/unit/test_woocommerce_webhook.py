"""WooCommerce webhook signatures and pings, as the ingest function sees them."""

from __future__ import annotations

import base64

import pytest

from connector.stores.woocommerce import is_ping, verify_webhook
from connector.stores.woocommerce_store import read_webhook
from simulators.woocommerce_webhooks import php_json, webhook_signature

# Body exactly as wp_json_encode prints it; signature computed independently with
# `openssl dgst -sha256 -hmac s3cretWebhookKey -binary | base64`.
BODY = b'{"id":727,"name":"Ship Your Idea \\u2013 Black","href":"https:\\/\\/shop.example\\/"}'
SECRET = "s3cretWebhookKey"
SIGNATURE = "N8qvbfIOeLqg2agj9oqR0Ta0k2nGAs3eVuP0MRE4JHY="


def test_accepts_woocommerce_signature_over_the_raw_body() -> None:
    assert verify_webhook(BODY, SIGNATURE, SECRET)


def test_rejects_a_body_that_was_reserialised() -> None:
    # Given the same JSON re-encoded without PHP's escaping
    reencoded = BODY.replace(b"\\/", b"/")
    # Then the signature no longer matches: verification must use the bytes received
    assert not verify_webhook(reencoded, SIGNATURE, SECRET)


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "not base64 at all!",
        base64.b64encode(b"short").decode(),
        SIGNATURE[:-4] + "AAA=",
        " " + SIGNATURE.lower(),
    ],
)
def test_rejects_missing_garbage_and_altered_signatures(signature: str | None) -> None:
    assert not verify_webhook(BODY, signature, SECRET)


def test_another_connections_secret_does_not_validate() -> None:
    assert not verify_webhook(BODY, SIGNATURE, "otherSecret")
    assert not verify_webhook(BODY, SIGNATURE, "")


def test_tampered_body_is_rejected() -> None:
    assert not verify_webhook(BODY.replace(b"727", b"728"), SIGNATURE, SECRET)


def test_simulator_serialises_and_signs_like_woocommerce() -> None:
    payload = {"id": 727, "name": "Ship Your Idea \u2013 Black", "href": "https://shop.example/"}
    assert php_json(payload) == BODY
    assert webhook_signature(BODY, SECRET) == SIGNATURE


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded; charset=UTF-8", b"webhook_id=12"),
        ("application/x-www-form-urlencoded", b"webhook_id=3"),
        (None, b"webhook_id=99"),
    ],
)
def test_recognises_the_unsigned_ping(content_type: str | None, body: bytes) -> None:
    assert is_ping(content_type, body, {"User-Agent": "WordPress/6.8.1; http://shop.example"})


@pytest.mark.parametrize(
    ("content_type", "body", "headers"),
    [
        # A real delivery (has a topic) is never a ping, whatever its body.
        (
            "application/x-www-form-urlencoded",
            b"webhook_id=12",
            {"X-WC-Webhook-Topic": "order.updated"},
        ),
        ("application/x-www-form-urlencoded", b"webhook_id=12", {"x-wc-webhook-topic": "x"}),
        ("application/json", b'{"webhook_id":12}', {}),
        ("application/json", b"webhook_id=12", {}),
        ("application/x-www-form-urlencoded", b"webhook_id=abc", {}),
        ("application/x-www-form-urlencoded", b"webhook_id=12&x=1", {}),
        ("application/x-www-form-urlencoded", b"", {}),
    ],
)
def test_anything_else_is_not_a_ping(
    content_type: str, body: bytes, headers: dict[str, str]
) -> None:
    assert not is_ping(content_type, body, headers)


# --- what a verified delivery is about (connector.stores.woocommerce_store.read_webhook) -----
def _delivery(body: bytes, topic: str, secret: str = SECRET) -> dict[str, str]:
    resource, _, event = topic.partition(".")
    return {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-ID": "31",
        "X-WC-Webhook-Delivery-ID": "a3f1c0de",
        "X-WC-Webhook-Signature": webhook_signature(body, secret),
    }


def test_a_signed_action_delivery_is_200_ignored_by_topic_and_delivery_id() -> None:
    # WC_Webhook::build_payload for action.* topics: {"action": "<hook>", "arg": <first arg>}.
    body = php_json({"action": "woocommerce_order_status_changed", "arg": 4711})
    topic = "action.woocommerce_order_status_changed"
    reading = read_webhook(_delivery(body, topic), body, lambda: SECRET)
    assert (reading.status, reading.ignored_topic, reading.records) == (200, topic, ())
    assert reading.detail == {"delivery_id": "a3f1c0de", "webhook_id": "31"}
    assert "woocommerce_order_status_changed" in reading.message


@pytest.mark.parametrize(
    ("body", "topic", "why"),
    [
        (b'{"id": 7,', "order.created", "not JSON"),
        (b"[1, 2]", "order.updated", "no 'id'"),
        (b'{"arg": {"email": "jo@example.com"}}', "action.wc_custom", "no 'id'"),
        (b'{"id": 5}', "coupon.created", "not synced"),
        (b'{"id": 5}', "", "not synced"),
    ],
)
def test_any_other_signed_body_is_200_recorded_and_never_carries_the_body(
    body: bytes, topic: str, why: str
) -> None:
    reading = read_webhook(_delivery(body, topic), body, lambda: SECRET)
    assert reading.status == 200 and reading.records == ()
    assert reading.ignored_topic == (topic or "(none)") and why in reading.message
    assert "jo@example.com" not in repr(reading)


def test_an_unsigned_or_badly_signed_delivery_of_any_shape_stays_401() -> None:
    body = php_json({"action": "woocommerce_order_status_changed", "arg": 4711})
    forged = _delivery(body, "action.woocommerce_order_status_changed", secret="other")
    assert read_webhook(forged, body, lambda: SECRET).status == 401
    del forged["X-WC-Webhook-Signature"]
    assert read_webhook(forged, body, lambda: SECRET).status == 401

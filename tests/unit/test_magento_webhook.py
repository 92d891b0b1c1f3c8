"""The signed Magento push: verified over the raw body, read for the id only."""

from __future__ import annotations

import json

import pytest

from connector.stores.magento.webhook import read_webhook, sign_body

SECRET = "whsec-magento-1"


def _read(body: bytes, signature: str | None) -> tuple[int, str, list[tuple[str, str, str]]]:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Magento-Signature"] = signature
    reading = read_webhook(headers, body, lambda: SECRET)
    return (
        reading.status,
        reading.message,
        [(r.entity, r.record_id, r.action) for r in reading.records],
    )


@pytest.mark.parametrize("entity_id", ["42", 42])
def test_a_signed_hint_queues_the_order_by_entity_id(entity_id: object) -> None:
    body = json.dumps({"entity_id": entity_id, "grand_total": 0.01}).encode()
    assert _read(body, sign_body(body, SECRET)) == (200, "queued", [("order", "42", "upsert")])


def test_two_hints_for_the_same_order_are_two_events() -> None:
    body = b'{"entity_id": 42}'
    first = read_webhook({"x-magento-signature": sign_body(body, SECRET)}, body, lambda: SECRET)
    again = read_webhook({"x-magento-signature": sign_body(body, SECRET)}, body, lambda: SECRET)
    assert first.records[0].version != again.records[0].version


def test_a_customer_hint_queues_the_customer() -> None:
    body = b'{"entity": "customer", "entity_id": "7"}'
    assert _read(body, sign_body(body, SECRET))[2] == [("customer", "7", "upsert")]


@pytest.mark.parametrize(
    "signature",
    [None, "", sign_body(b'{"entity_id": 43}', SECRET), sign_body(b'{"entity_id": 42}', "other")],
)
def test_forged_or_missing_signatures_are_401(signature: str | None) -> None:
    assert _read(b'{"entity_id": 42}', signature)[:2] == (401, "signature missing or invalid")


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[42]", b"{}", b'{"entity_id": "forty-two"}', b'{"entity_id": -1}',
     b'{"entity_id": true}'],
)  # fmt: skip
def test_signed_bodies_of_another_shape_are_200_recorded_never_an_error(body: bytes) -> None:
    reading = read_webhook({"x-magento-signature": sign_body(body, SECRET)}, body, lambda: SECRET)
    assert reading.status == 200 and reading.records == ()
    assert reading.ignored_topic is not None and reading.ignored_topic.endswith(".hint")


def test_an_unknown_entity_is_acknowledged_and_not_queued() -> None:
    body = b'{"entity": "product", "entity_id": 5}'
    reading = read_webhook({"x-magento-signature": sign_body(body, SECRET)}, body, lambda: SECRET)
    assert (reading.status, reading.ignored_topic, reading.records) == (200, "product.hint", ())

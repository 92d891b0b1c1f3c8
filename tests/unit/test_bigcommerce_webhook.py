"""BigCommerce callbacks: who is trusted, what is refused, and which record is queued."""

from __future__ import annotations

import json

from connector.stores.bigcommerce.webhook import read_callback, standard_signature
from connector.stores.port import WebhookReading

SECRET = "conn-webhook-secret"
CLIENT_SECRET = "app-client-secret"
NOW = 1_700_000_000.0


def _body(scope: str = "store/order/updated", record_id: int = 250, digest: str = "dd70",
          created_at: int | None = 1561479335) -> bytes:  # fmt: skip
    stub = {"scope": scope, "store_id": "1", "data": {"type": "order", "id": record_id},
            "hash": digest, "created_at": created_at, "producer": "stores/abc"}  # fmt: skip
    if created_at is None:
        del stub["created_at"]
    return json.dumps(stub).encode()


def _read(headers: dict[str, str], body: bytes, now: float = NOW) -> WebhookReading:
    return read_callback(
        headers, body, lambda: SECRET, {"client_secret": CLIENT_SECRET}.__getitem__, now
    )


def _signed(body: bytes, stamp: int) -> dict[str, str]:
    return {"webhook-id": "msg_1", "webhook-timestamp": str(stamp),
            "webhook-signature": standard_signature(CLIENT_SECRET, "msg_1", str(stamp), body)}  # fmt: skip


def test_the_registered_token_queues_the_order_versioned_by_hash_and_event_time() -> None:
    token = {"X-Connector-Token": SECRET}
    reading = _read(token, _body())
    assert reading.status == 200
    (record,) = reading.records
    assert (record.entity, record.record_id, record.action) == ("order", "250", "upsert")
    # A re-sent event (same hash, same created_at) is the same version whenever it arrives
    resent = _read(token, _body(), now=NOW + 600).records[0]
    assert resent.version == record.version == "dd70@1561479335"
    # A second real update that happens to share the hash is a new version, not a repeat
    second = _read(token, _body(created_at=1561479395)).records[0]
    assert second.version != record.version
    # A stub without created_at falls back to the five-minute window it arrived in
    bare = _read(token, _body(created_at=None)).records[0]
    assert bare.version.startswith("dd70@w")
    assert _read(token, _body(created_at=None), now=NOW + 600).records[0].version != bare.version


def test_forged_or_missing_token_is_401() -> None:
    assert _read({"X-Connector-Token": "guess"}, _body()).status == 401
    assert _read({}, _body()).status == 401


def test_standard_webhooks_verify_with_the_client_secret_within_five_minutes() -> None:
    body = _body()
    assert _read(_signed(body, int(NOW) - 60), body).status == 200
    assert _read(_signed(body, int(NOW) - 301), body).status == 401  # stale
    forged = _signed(body, int(NOW)) | {"webhook-signature": "v1,AAAA"}
    assert _read(forged, body).status == 401


def test_standard_webhooks_without_a_client_secret_accessor_are_refused() -> None:
    body = _body()
    assert read_callback(_signed(body, int(NOW)), body, lambda: SECRET, None, NOW).status == 401


def test_a_verified_callback_of_any_shape_or_scope_is_200_ignored_never_an_error() -> None:
    # BigCommerce switches off a hook whose callbacks keep failing: nothing verified fails.
    token = {"X-Connector-Token": SECRET}
    not_json = _read(token, b"{not json")
    assert (not_json.status, not_json.ignored_topic) == (200, "(unknown)")
    assert "not JSON" in not_json.message and not not_json.records
    stub = _read(token, b'{"scope": "store/product/updated"}')
    assert (stub.status, stub.ignored_topic) == (200, "store/product/updated")
    assert "not a BigCommerce callback (data, hash)" in stub.message
    ignored = _read(token, _body("store/order/message/created"))
    assert ignored.status == 200 and ignored.ignored_topic == "store/order/message/created"
    assert not ignored.records and ignored.detail["delivery_id"]
    # But an unverified one is still refused
    assert _read({"X-Connector-Token": "forged"}, b"{not json").status == 401


def test_archived_is_a_deletion_and_a_refund_names_its_order() -> None:
    archived = _read({"X-Connector-Token": SECRET}, _body("store/order/archived"))
    assert archived.records[0].action == "delete"
    refund = _read({"X-Connector-Token": SECRET}, _body("store/order/refund/created", 251))
    assert (refund.records[0].entity, refund.records[0].record_id) == ("order", "251")

"""POST /webhooks/{connection}: the ingest handler behind the local gateway, against moto's server.

What the store sees (status codes), what lands on the queue, and what the audit trail says.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import httpx
import pytest

from connector.config import TenantConfig
from connector.health import HealthMarks
from connector.local import LocalRuntime
from connector.resources import INGEST
from connector.unqueued import UnqueuedDeliveries
from simulators.testbed.runtime_reads import audit_events, sync_queue_gone, take_queued

SECRETS = {
    "shop-a": {
        "store": {"consumer_key": "ck_a", "consumer_secret": "cs_a", "webhook_secret": "secretA1"},
        "ledger": {"client_id": "app", "client_secret": "s"},
    },
    "shop-b": {
        "store": {"consumer_key": "ck_b", "consumer_secret": "cs_b", "webhook_secret": "secretB2"},
        "ledger": {"client_id": "app", "client_secret": "s"},
    },
}


def _config() -> TenantConfig:
    connection = {
        "store": {"kind": "woocommerce", "url": "https://shop.example.com"},
        "ledger": {"kind": "qbo"},
    }
    return TenantConfig.model_validate(
        {
            "tenant": "acme",
            "connections": [{"id": "shop-a", **connection}, {"id": "shop-b", **connection}],
        }
    )


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    with LocalRuntime(
        tenant="acme",
        tenant_config_json=_config().model_dump_json(),
        functions=(INGEST,),
        secrets=SECRETS,
    ) as running:
        yield running


def _sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _order_body(order_id: int, modified: str = "2026-11-24T09:00:00") -> bytes:
    # WooCommerce sends wp_json_encode output: escaped slashes, as here.
    return json.dumps(
        {
            "id": order_id,
            "status": "processing",
            "date_modified_gmt": modified,
            "_links": {"self": [{"href": "https:\\/\\/shop"}]},
        }
    ).encode()


def _post(
    runtime: LocalRuntime,
    body: bytes,
    *,
    connection: str = "shop-a",
    topic: str | None = "order.created",
    secret: str | None = "secretA1",
    content_type: str = "application/json",
) -> httpx.Response:
    headers = {"Content-Type": content_type, "X-WC-Webhook-Delivery-ID": "d1"}
    if topic:
        headers["X-WC-Webhook-Topic"] = topic
    if secret:
        headers["X-WC-Webhook-Signature"] = _sign(body, secret)
    return httpx.post(f"{runtime.base_url}/webhooks/{connection}", content=body, headers=headers)


@pytest.fixture(autouse=True)
def _empty_queue(runtime: LocalRuntime) -> None:
    take_queued(runtime)


def test_a_signed_order_is_queued_once_with_its_group_and_audited(runtime: LocalRuntime) -> None:
    body = _order_body(101)
    first = _post(runtime, body)
    again = _post(runtime, body)  # WooCommerce redelivers the same event

    assert first.status_code == 200, first.text
    assert first.json() == {"message": "queued", "queued": 1}
    assert again.status_code == 200
    messages = take_queued(runtime)
    assert len(messages) == 1, "the repeat delivery must be absorbed by FIFO deduplication"
    payload = json.loads(messages[0]["Body"])
    assert payload["connection_id"] == "shop-a"
    assert payload["entity"] == "order" and payload["record_id"] == "101"
    assert payload["action"] == "upsert"
    assert messages[0]["Attributes"]["MessageGroupId"] == "shop-a:order:101"
    events = audit_events(runtime, "shop-a#order#101")
    assert [e.event for e in events] == ["received", "received"]
    assert events[0].detail["topic"] == "order.created"


def test_a_later_update_of_the_same_order_is_queued_too(runtime: LocalRuntime) -> None:
    assert _post(runtime, _order_body(102, "2026-11-24T09:00:00")).status_code == 200
    assert (
        _post(runtime, _order_body(102, "2026-11-24T09:05:00"), topic="order.updated").status_code
        == 200
    )
    assert len(take_queued(runtime)) == 2


def test_two_edits_within_one_second_are_both_queued(runtime: LocalRuntime) -> None:
    same_second = "2026-11-24T09:07:00"
    first = json.dumps({"id": 108, "status": "processing", "date_modified_gmt": same_second})
    second = json.dumps({"id": 108, "status": "completed", "date_modified_gmt": same_second})
    assert _post(runtime, first.encode(), topic="order.updated").status_code == 200
    assert _post(runtime, second.encode(), topic="order.updated").status_code == 200
    assert len(take_queued(runtime)) == 2


def test_the_unsigned_ping_gets_exactly_200_and_queues_nothing(runtime: LocalRuntime) -> None:
    response = _post(
        runtime,
        b"webhook_id=12",
        topic=None,
        secret=None,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert take_queued(runtime) == []


@pytest.mark.parametrize(
    ("secret", "connection"),
    [(None, "shop-a"), ("wrong", "shop-a"), ("secretA1", "shop-b")],
    ids=["missing", "forged", "other-connections-secret"],
)
def test_bad_signatures_get_401_and_queue_nothing(
    runtime: LocalRuntime, secret: str | None, connection: str
) -> None:
    response = _post(runtime, _order_body(103), secret=secret, connection=connection)
    assert response.status_code == 401
    assert response.json()["message"] == "signature missing or invalid"
    assert take_queued(runtime) == []


def test_unknown_connection_is_404(runtime: LocalRuntime) -> None:
    response = _post(runtime, _order_body(104), connection="nope")
    assert response.status_code == 404
    assert "nope" in response.json()["message"]


def test_a_body_over_1_mib_is_413(runtime: LocalRuntime) -> None:
    body = b'{"id": 1, "pad": "' + b"x" * (1024 * 1024) + b'"}'
    assert _post(runtime, body).status_code == 413
    assert take_queued(runtime) == []


def test_signed_malformed_json_is_200_and_recorded_so_the_webhook_stays_enabled(
    runtime: LocalRuntime,
) -> None:
    response = _post(runtime, b'{"id": 7,', topic="order.updated")
    assert response.status_code == 200
    assert "not JSON" in response.json()["message"]
    assert take_queued(runtime) == []
    [event] = audit_events(runtime, "shop-a#topic#order.updated")
    assert event.event == "ignored" and "not JSON" in event.outcome
    assert event.detail == {"delivery_id": "d1"}


def test_a_signed_action_delivery_is_acknowledged_and_recorded_without_its_body(
    runtime: LocalRuntime,
) -> None:
    # What WooCommerce sends for an action.* topic (FACTS.md): {"action": hook, "arg": arg}.
    body = json.dumps({"action": "woocommerce_payment_complete", "arg": 4711}).encode()
    response = _post(runtime, body, topic="action.woocommerce_payment_complete")
    assert response.status_code == 200, response.text
    assert take_queued(runtime) == []
    [event] = audit_events(runtime, "shop-a#topic#action.woocommerce_payment_complete")
    assert event.event == "ignored" and "woocommerce_payment_complete" in event.outcome
    assert event.detail == {"delivery_id": "d1"}
    assert "4711" not in event.model_dump_json()
    # And the connection's health item knows a webhook came (connector status shows it)
    health = HealthMarks(
        runtime.env["CONNECTOR_STATE_TABLE"], resource=runtime.boto3_resource("dynamodb")
    )
    noted = health.noted("shop-a").last_webhook_at
    assert noted is not None and (datetime.now(UTC) - noted).total_seconds() < 120
    # And a forged one is still refused
    forged = _post(runtime, body, topic="action.woocommerce_payment_complete", secret="nope")
    assert forged.status_code == 401


def test_an_unknown_topic_is_acknowledged_and_recorded(runtime: LocalRuntime) -> None:
    response = _post(runtime, json.dumps({"id": 5}).encode(), topic="coupon.created")
    assert response.status_code == 200
    assert "not synced" in response.json()["message"]
    assert take_queued(runtime) == []
    events = audit_events(runtime, "shop-a#topic#coupon.created")
    assert events and events[-1].event == "ignored"


def test_a_deletion_is_queued_as_a_delete(runtime: LocalRuntime) -> None:
    assert _post(runtime, b'{"id":106}', topic="order.deleted").status_code == 200
    (message,) = take_queued(runtime)
    assert json.loads(message["Body"])["action"] == "delete"


def test_customer_events_are_queued_as_customers(runtime: LocalRuntime) -> None:
    body = json.dumps({"id": 25, "date_modified_gmt": "2026-11-24T09:00:00"}).encode()
    assert _post(runtime, body, topic="customer.updated").status_code == 200
    (message,) = take_queued(runtime)
    assert json.loads(message["Body"])["entity"] == "customer"


@contextmanager
def _state_table_gone(runtime: LocalRuntime) -> Iterator[None]:
    dynamodb = runtime.boto3_client("dynamodb")
    name = runtime.env["CONNECTOR_STATE_TABLE"]
    table = dynamodb.describe_table(TableName=name)["Table"]
    dynamodb.delete_table(TableName=name)
    try:
        yield
    finally:
        dynamodb.create_table(
            TableName=name,
            KeySchema=table["KeySchema"],
            AttributeDefinitions=table["AttributeDefinitions"],
            BillingMode="PAY_PER_REQUEST",
        )


def test_when_sqs_refuses_the_delivery_is_kept_durably_and_the_store_gets_200(
    runtime: LocalRuntime,
) -> None:
    unqueued = UnqueuedDeliveries(
        runtime.env["CONNECTOR_STATE_TABLE"], resource=runtime.boto3_resource("dynamodb")
    )
    with sync_queue_gone(runtime):
        response = _post(runtime, _order_body(107))
    # The store is told all is well: the delivery is safely recorded
    assert response.status_code == 200, response.text
    assert response.json()["kept"] == 1 and response.json()["queued"] == 0
    # In the state table, as the sync message the reconcile run will queue
    [kept] = list(unqueued.waiting("shop-a"))
    assert (kept.message.record_id, kept.message.entity, kept.message.topic) == (
        "107",
        "order",
        "order.created",
    )
    assert kept.version.startswith("2026-11-24T09:00:00")
    assert kept.key.endswith("#order#107")
    # And the record's audit trail says so
    [event] = audit_events(runtime, "shop-a#order#107")
    assert event.event == "received" and "received, not queued" in event.outcome
    assert take_queued(runtime) == []
    unqueued.forget("shop-a", kept.key)


def test_when_sqs_and_the_state_table_both_refuse_the_store_gets_503(
    runtime: LocalRuntime,
) -> None:
    with sync_queue_gone(runtime), _state_table_gone(runtime):
        response = _post(runtime, _order_body(1108))
    assert response.status_code == 503
    assert "retry" in response.json()["message"]
    assert audit_events(runtime, "shop-a#order#1108") == []

"""Batching at a QuickBooks company's limits scaled down tenfold (50 requests a minute, of which 4
batch requests): the sync handler plans its requests by the company's limiter.

The rig runs everything but the sync function; the test queues orders through the signed
webhook path and invokes the sync handler by hand once, with ten of the queued records as
Lambda's event source would hand a FIFO queue's function. The simulated company refuses what
QuickBooks would at these limits. What is asserted are counts (QuickBooks' requests, the
documents it holds, the audit trail), never times.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest

from connector import resources
from connector.local.aws import REGION
from connector.local.context import new_context
from connector.local.queues import sqs_record
from connector.local.runtime import load_handler
from connector.observability import logger as connector_logger
from connector.resources import FUNCTIONS, SYNC
from simulators.testbed.online import QboRig, QboRigs, connection_settings
from simulators.woocommerce import LineSpec, OrderSpec

SHOP = "shop"
MUG = 10
JANE = 2
PER_MINUTE, BATCHES_PER_MINUTE = 50, 4
ENV = {
    resources.ENV_QBO_REQUESTS_PER_MINUTE: str(PER_MINUTE),
    resources.ENV_QBO_BATCHES_PER_MINUTE: str(BATCHES_PER_MINUTE),
    "CONNECTOR_QBO_BATCH_FROM": "4",
}


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    mapping = {"fallback_item": "Sales", "shipping_item": "Shipping", "doc_number": "{number}"}
    return [
        connection_settings(
            SHOP, woo_url=woo_url, qbo_url=qbo_url, document="sales_receipt", mapping=mapping
        )
    ]


@pytest.fixture(scope="module")
def rig(qbo_rig: QboRigs) -> Iterator[QboRig]:
    everything_but_sync = tuple(f for f in FUNCTIONS if f.name != SYNC.name)
    with qbo_rig(
        _connections,
        functions=everything_but_sync,
        extra_env=ENV,
        per_minute_limit=PER_MINUTE,
        batch_per_minute_limit=BATCHES_PER_MINUTE,
    ) as running:
        yield running


def _queue_orders(rig: QboRig, count: int) -> list[dict[str, Any]]:
    orders = []
    for n in range(count):
        order = rig.woo.create_order(OrderSpec(lines=[LineSpec(MUG, 1 + n % 3)], customer_id=JANE))
        rig.deliver(SHOP, "order.created", order["id"])
        orders.append(order)
    return orders


def _run_sync(rig: QboRig, limit: int) -> dict[str, Any]:
    """One invocation of the sync handler with up to ``limit`` records now on the queue;
    deletes the records it did not report failed, as the event source does."""
    messages: list[dict[str, Any]] = []
    while len(messages) < limit and (
        batch := rig.sqs.receive_message(
            QueueUrl=rig.queue_url,
            MaxNumberOfMessages=min(10, limit - len(messages)),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            VisibilityTimeout=120,
        ).get("Messages", [])
    ):
        messages.extend(batch)
    queue = SimpleNamespace(arn=f"arn:aws:sqs:{REGION}:123456789012:sync.fifo")
    event = {"Records": [sqs_record(m, queue, REGION) for m in messages]}  # type: ignore[arg-type]
    handler = load_handler(SYNC.handler)
    context = new_context(tenant="t", spec=SYNC, region=REGION, account_id="123456789012")
    response: dict[str, Any] = handler(event, context)
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    for message in messages:
        if message["MessageId"] not in failed:
            rig.sqs.delete_message(QueueUrl=rig.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return response


@contextmanager
def _log_lines() -> Iterator[io.StringIO]:
    """The connector's log lines as the function writes them (formatted in the thread that
    logs, where that thread's own keys are known)."""
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(connector_logger.registered_formatter)
    stdlib_logger = logging.getLogger(connector_logger.name)
    stdlib_logger.addHandler(handler)
    try:
        yield lines
    finally:
        stdlib_logger.removeHandler(handler)


def test_sixty_orders_go_out_in_two_full_batches_waiting_for_the_batch_slot(rig: QboRig) -> None:
    _queue_orders(rig, 1)  # Jane and the mug become known to QuickBooks and mapped
    assert _run_sync(rig, 10)["batchItemFailures"] == []
    mark = len(rig.qbo.request_log)

    orders = _queue_orders(rig, 60)
    with _log_lines() as logged:
        # the rest pulled by the function
        assert _run_sync(rig, 10)["batchItemFailures"] == []

    for order in orders:
        (receipt,) = rig.documents("SalesReceipt", order["id"])
        assert receipt["DocNumber"] == str(order["number"])
        assert rig.sync_state(SHOP, order["id"]).ledger_id == receipt["Id"]
        events = rig.events(SHOP, order["id"])
        # Nobody went back to the queue to wait: the second batch's creates waited for its
        # slot in the function, a quarter of a minute at these limits.
        assert "queued" not in events and "failed" not in events and "posted" in events
    requests = rig.requests_since(mark)
    posts = [r.path.rsplit("/", 1)[-1] for r in requests if r.method == "POST"]
    # One batch request with the first 30, the next one when its slot came (15.6 s later):
    # two calls for 60 orders (at most 0.2 a order), and no 429.
    assert posts.count("batch") == 2 and "salesreceipt" not in posts
    assert len(requests) / len(orders) <= 0.2
    assert [r.status for r in requests].count(429) == 0 and rig.qbo.throttled == 0
    counts = rig.sqs.get_queue_attributes(
        QueueUrl=rig.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert counts == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }  # every record settled, none handed out twice

    # Sixty threads side by side, and each log line names its own record.
    synced = [
        line
        for line in (json.loads(raw) for raw in logged.getvalue().splitlines() if raw[:1] == "{")
        if line.get("message") == "record synced"
    ]
    by_order = {str(o["id"]): rig.sync_state(SHOP, o["id"]).ledger_id for o in orders}
    named = [line for line in synced if line.get("record_id") in by_order]
    assert len(named) == 60
    for line in named:
        assert line["detail"] == f"SalesReceipt {by_order[line['record_id']]}"

"""The sync handler with batching on: message groups side by side, creates as QBO batch requests.

The rig runs everything but the sync function; each test queues orders through the signed
webhook path, then invokes the sync handler by hand with one event holding the queued
records, as Lambda's event source would, and looks at what QuickBooks received.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from connector.local.aws import REGION
from connector.local.context import new_context
from connector.local.queues import sqs_record
from connector.local.runtime import load_handler
from connector.resources import FUNCTIONS, SYNC
from simulators.httpserver import Request, Response
from simulators.testbed.online import QboRig, QboRigs, connection_settings
from simulators.woocommerce import LineSpec, OrderSpec
from simulators.woocommerce_catalogue import Person

SHOP = "shop"
MUG, PRINT = 10, 11
JANE = 2


AUTO = "auto"  # a second connection whose items are created in QuickBooks when missing


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    mapping = {"fallback_item": "Sales", "shipping_item": "Shipping", "doc_number": "{number}"}
    auto = {
        "auto_create_items": True,
        "income_account": "Sales of Product Income",
        "shipping_item": "Shipping",
        "doc_number": "A{number}",
    }
    return [
        connection_settings(SHOP, woo_url=woo_url, qbo_url=qbo_url, mapping=mapping),
        connection_settings(AUTO, woo_url=woo_url, qbo_url=qbo_url, mapping=auto),
    ]


@pytest.fixture(scope="module")
def rig(qbo_rig: QboRigs) -> Iterator[QboRig]:
    everything_but_sync = tuple(f for f in FUNCTIONS if f.name != SYNC.name)
    env = {"CONNECTOR_QBO_BATCH_FROM": "3", "CONNECTOR_QBO_BATCH_WINDOW_MS": "300"}
    with qbo_rig(_connections, functions=everything_but_sync, extra_env=env) as running:
        yield running


@pytest.fixture(autouse=True)
def _no_leftover_faults(rig: QboRig) -> Iterator[None]:
    yield
    rig.qbo.clear_faults()
    rig.qbo_hook = None


def _queue_orders(
    rig: QboRig, count: int, *, guests: bool = False, connection: str = SHOP
) -> list[dict[str, Any]]:
    orders = []
    for n in range(count):
        spec = OrderSpec(lines=[LineSpec(MUG, 1 + n % 3)], customer_id=JANE)
        if guests:
            spec.customer_id = 0
            spec.guest = Person(
                f"Guest{n}", "Buyer", f"guest{n}@example.com", "1 Main St", "Austin", "TX",
                "73301", "US",
            )  # fmt: skip
        order = rig.woo.create_order(spec)
        rig.deliver(connection, "order.created", order["id"])
        orders.append(order)
    return orders


def _run_sync(rig: QboRig, limit: int = 100) -> dict[str, Any]:
    """One invocation of the sync handler with the records now on the queue (up to
    ``limit``); deletes the records it did not report failed, as the event source does."""
    sqs = rig.sqs
    messages: list[dict[str, Any]] = []
    while len(messages) < limit and (
        batch := sqs.receive_message(
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
            sqs.delete_message(QueueUrl=rig.queue_url, ReceiptHandle=message["ReceiptHandle"])
    response["records"] = len(messages)
    return response


def _posts(rig: QboRig, mark: int) -> list[str]:
    return [r.path.rsplit("/", 1)[-1] for r in rig.requests_since(mark) if r.method == "POST"]


def _known_customer(rig: QboRig) -> None:
    """Jane is in QuickBooks and mapped, as after her first order."""
    _queue_orders(rig, 1)
    assert _run_sync(rig)["batchItemFailures"] == []


def test_thirty_invoices_go_out_in_one_batch_request_each_posted_once(rig: QboRig) -> None:
    _known_customer(rig)
    mark = len(rig.qbo.request_log)
    orders = _queue_orders(rig, 30)
    result = _run_sync(rig)
    assert result["records"] == 30
    assert result["batchItemFailures"] == []
    for order in orders:
        invoices = rig.documents("Invoice", order["id"])
        assert len(invoices) == 1
        assert invoices[0]["DocNumber"] == str(order["number"])
        assert rig.sync_state(SHOP, order["id"]).ledger_id == invoices[0]["Id"]
        assert "posted" in rig.events(SHOP, order["id"])
    posts = _posts(rig, mark)
    # Each order is an invoice and its payment: 60 creates, none on its own, in two batch
    # requests of 30 (or a few more if a thread lags behind the others).
    assert "invoice" not in posts and "payment" not in posts
    assert 2 <= posts.count("batch") <= 4


def test_new_customers_go_out_before_their_invoices(rig: QboRig) -> None:
    mark = len(rig.qbo.request_log)
    orders = _queue_orders(rig, 5, guests=True)
    assert _run_sync(rig)["batchItemFailures"] == []
    customers = {c["Id"]: c["DisplayName"] for c in rig.qbo.documents("Customer")}
    for n, order in enumerate(orders):
        (invoice,) = rig.documents("Invoice", order["id"])
        assert customers[invoice["CustomerRef"]["value"]] == f"Guest{n} Buyer"
    assert _posts(rig, mark).count("batch") >= 2  # customers, then invoices


def test_a_failing_item_does_not_fail_its_neighbours(rig: QboRig) -> None:
    _known_customer(rig)
    rig.qbo.inject(500, entity="Invoice", operation="create")  # one item's server error
    orders = _queue_orders(rig, 6)
    assert _run_sync(rig)["batchItemFailures"] == []
    failed = [o for o in orders if "failed" in rig.events(SHOP, o["id"])]
    assert len(failed) == 1  # tried again in process, then posted
    for order in orders:
        assert len(rig.documents("Invoice", order["id"])) == 1
        assert "posted" in rig.events(SHOP, order["id"])


def test_a_batch_whose_answer_is_lost_is_sent_again_without_duplicates(rig: QboRig) -> None:
    _known_customer(rig)
    mark = len(rig.qbo.request_log)
    rig.qbo.inject("lost", entity="Invoice", operation="create")
    orders = _queue_orders(rig, 8)
    assert _run_sync(rig)["batchItemFailures"] == []
    statuses = [r.status for r in rig.requests_since(mark) if r.path.endswith("/batch")]
    assert statuses[0] == 504 and statuses[1:] == [200] * (len(statuses) - 1)
    for order in orders:
        assert len(rig.documents("Invoice", order["id"])) == 1
        assert "failed" not in rig.events(SHOP, order["id"])


def test_few_records_go_one_by_one(rig: QboRig) -> None:
    _known_customer(rig)
    mark = len(rig.qbo.request_log)
    orders = _queue_orders(rig, 2)
    assert _run_sync(rig)["batchItemFailures"] == []
    assert sorted(_posts(rig, mark)) == ["invoice", "invoice", "payment", "payment"]
    for order in orders:
        assert len(rig.documents("Invoice", order["id"])) == 1


def test_the_function_pulls_more_records_to_fill_its_batches(rig: QboRig) -> None:
    _known_customer(rig)
    mark = len(rig.qbo.request_log)
    orders = _queue_orders(rig, 25)
    result = _run_sync(rig, limit=10)  # what Lambda hands a FIFO queue's function
    assert result["records"] == 10
    assert result["batchItemFailures"] == []
    for order in orders:
        assert len(rig.documents("Invoice", order["id"])) == 1
    assert "invoice" not in _posts(rig, mark)
    counts = rig.sqs.get_queue_attributes(
        QueueUrl=rig.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert counts == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }  # the pulled ones deleted by the function


def test_a_batch_lost_twice_is_found_by_doc_number_not_posted_again(rig: QboRig) -> None:
    _known_customer(rig)
    lost: list[int] = []

    def lose_two_batch_answers(request: Request) -> Response | None:
        if not request.path.endswith("/batch") or len(lost) == 2:
            return None
        lost.append(rig.qbo.handle(request).status)  # applied, then the answer is lost
        return Response.of_text("<html>504 Gateway Time-out</html>", 504, "text/html")

    rig.qbo_hook = lose_two_batch_answers
    orders = _queue_orders(rig, 5)
    assert _run_sync(rig)["batchItemFailures"] == []
    # The batch was applied; the answers to it and to its identical resend never came back.
    assert len(lost) == 2 and lost[0] == 200
    for order in orders:
        (invoice,) = rig.documents("Invoice", order["id"])
        assert rig.sync_state(SHOP, order["id"]).ledger_id == invoice["Id"]
        audit = rig.audit(SHOP, order["id"])
        assert "failed" in [e.event for e in audit]  # the unknown outcome
        # Found by its DocNumber (or QuickBooks' 6140) on the next try, not created again.
        assert audit[-1].event == "posted"
        assert audit[-1].detail["operation"] == "adopted"


def test_records_needing_the_same_new_item_at_once_share_it_none_parked(rig: QboRig) -> None:
    # Five records side by side each look the mug's item up, find none and create it: the
    # batch carries five creates of one name and QuickBooks makes the first (6240 for the
    # others). Each of the others finds the one made and posts on it, as it would have done
    # had it looked a moment later.
    orders = _queue_orders(rig, 5, connection=AUTO)
    assert _run_sync(rig)["batchItemFailures"] == []
    (item,) = [i for i in rig.qbo.documents("Item") if i["Name"] == "MUG-01"]
    for order in orders:
        (invoice,) = rig.documents("Invoice", order["id"])
        assert invoice["DocNumber"] == f"A{order['number']}"
        lines = [line for line in invoice["Line"] if "SalesItemLineDetail" in line]
        assert lines[0]["SalesItemLineDetail"]["ItemRef"]["value"] == item["Id"]
        assert rig.parked(AUTO, order["id"]) == []
        assert "posted" in rig.events(AUTO, order["id"])

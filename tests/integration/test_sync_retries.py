"""Transient failures through the real path: signed webhook -> queue -> sync handler -> simulated
QuickBooks Online, on moto's server.

A record that keeps failing goes back to the queue with a growing delay (the handler changes its
visibility) until its retry budget is spent, then parks with the reason; an open circuit holds
records without calling QuickBooks; a record the function has no time left for goes back
unstarted, audited, without counting as a failure. The retry scale shrinks the deployed budget
(24 hours) to seconds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from connector import resources
from connector.circuit import CircuitBreaker, CircuitRules, circuit_view
from connector.errors import ServicePaused
from connector.health import HealthMarks
from connector.local.context import new_context
from connector.local.queues import sqs_record
from connector.local.runtime import load_handler
from connector.messages import SyncMessage
from connector.replay import replay_parked
from connector.retry import RetryPolicy
from connector.runtime import Runtime
from connector.state import now_utc
from connector.sync import Delivery, HandedBack, SyncWorker
from simulators.testbed.clocks import Clock
from simulators.testbed.online import QboRig, QboRigs, connection_settings
from simulators.woocommerce import LineSpec, OrderSpec

SHOP = "shop"
MUG, PRINT = 10, 11
JANE = 2
# 24 hours of retrying in 8 seconds; 12-hour delays in 4.
FAST = {resources.ENV_RETRY_SCALE: str(8 / 86400)}


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    mapping = {"fallback_item": "Sales", "shipping_item": "Shipping"}
    return [connection_settings(SHOP, woo_url=woo_url, qbo_url=qbo_url, mapping=mapping)]


@pytest.fixture(scope="module")
def rig(qbo_rig: QboRigs) -> Iterator[QboRig]:
    with qbo_rig(_connections, extra_env=FAST) as running:
        yield running


@pytest.fixture(autouse=True)
def _no_leftover_faults(rig: QboRig) -> Iterator[None]:
    yield
    rig.qbo.clear_faults()


def _order(rig: QboRig, *lines: tuple[int, int]) -> dict[str, Any]:
    return rig.woo.create_order(
        OrderSpec(lines=[LineSpec(p, q) for p, q in lines], customer_id=JANE)
    )


def _invoices(rig: QboRig, order_id: int) -> list[dict[str, Any]]:
    return rig.documents("Invoice", order_id)


def test_an_outage_past_the_last_retry_parks_the_order_and_a_replay_posts_it(
    rig: QboRig,
) -> None:
    order = _order(rig, (MUG, 2))
    rig.qbo.inject(503, times=10_000, entity="Invoice", operation="create")
    rig.sync(SHOP, "order.created", order["id"])

    state = rig.sync_state(SHOP, order["id"])
    assert state.status == "parked" and state.last_error
    assert "still failing after the last retry" in state.last_error
    assert "since it was queued" in state.last_error and "503" in state.last_error
    (parked,) = rig.parked(SHOP, order["id"])
    assert parked["reason"] == state.last_error
    assert _invoices(rig, order["id"]) == []
    # Before parking it went back to the queue with a delay, more than once, each audited
    handed_back = [
        e for e in rig.audit(SHOP, order["id"]) if "back to the queue, tried again at" in e.outcome
    ]
    assert len(handed_back) >= 2
    assert all(e.event == "failed" and e.detail["delay_s"] >= 1 for e in handed_back)
    receives = [e.detail["receives"] for e in handed_back]
    assert receives == sorted(receives) and receives[0] == 1

    rig.qbo.clear_faults()
    replay_parked(rig.sqs, dlq_url=rig.dlq_url, queue=rig.sync_queue(), record_id=str(order["id"]))
    rig.drain()
    (invoice,) = _invoices(rig, order["id"])
    assert Decimal(str(invoice["TotalAmt"])) == Decimal(order["total"])


def test_a_few_server_errors_are_absorbed_in_process_and_post_once(rig: QboRig) -> None:
    order = _order(rig, (MUG, 1), (PRINT, 1))
    rig.qbo.inject(503, times=2, entity="Invoice", operation="create")
    rig.sync(SHOP, "order.created", order["id"])

    (invoice,) = _invoices(rig, order["id"])
    assert Decimal(str(invoice["TotalAmt"])) == Decimal(order["total"])
    failed = [e.outcome for e in rig.audit(SHOP, order["id"]) if e.event == "failed"]
    assert len(failed) == 2 and all("tried again in" in why for why in failed), failed
    assert rig.events(SHOP, order["id"])[-1] == "posted"
    # connector status reads when the connection last posted
    marks = HealthMarks(rig.runtime.env[resources.ENV_STATE_TABLE])
    assert marks.noted(SHOP).last_post_at is not None


def test_a_store_that_stays_down_through_its_client_retries_is_tried_later(
    rig: QboRig,
) -> None:
    order = _order(rig, (PRINT, 1))
    rig.woo.inject(503, times=4)  # the client's first try and its three retries
    rig.sync(SHOP, "order.created", order["id"])

    (invoice,) = _invoices(rig, order["id"])
    assert Decimal(str(invoice["TotalAmt"])) == Decimal(order["total"])
    (failed,) = [e for e in rig.audit(SHOP, order["id"]) if e.event == "failed"]
    assert "unavailable" in failed.outcome and "back to the queue" in failed.outcome
    assert failed.detail["receives"] == 1


def _unpaid_order_refunded_4(rig: QboRig) -> dict[str, Any]:
    """An unpaid order of 2 mugs posted as an invoice, then refunded 4.00 in the store."""
    order = rig.woo.create_order(
        OrderSpec(lines=[LineSpec(MUG, 2)], customer_id=JANE, status="on-hold")
    )
    rig.sync(SHOP, "order.created", order["id"])
    rig.woo.add_refund(order["id"], amount=Decimal("4.00"), reason="price match")
    return order


def test_a_credit_memo_whose_application_failed_is_applied_on_the_retry(rig: QboRig) -> None:
    # Given an unpaid order in QuickBooks, refunded 4.00 in the store
    order = _unpaid_order_refunded_4(rig)
    # When the credit memo is created but applying it to the invoice fails once
    rig.qbo.inject(503, times=1, entity="Payment", operation="create")
    rig.sync(SHOP, "order.updated", order["id"])

    # Then the retry finds the memo (no second one) and applies it: 4.00 less is owed
    (memo,) = rig.documents("CreditMemo", order["id"])
    assert Decimal(str(memo["TotalAmt"])) == Decimal("4.00")
    (invoice,) = _invoices(rig, order["id"])
    assert Decimal(str(invoice["Balance"])) == Decimal(order["total"]) - Decimal("4.00")


def test_a_credit_memo_applied_while_its_refund_waited_is_not_applied_again(
    rig: QboRig,
) -> None:
    # Given an unpaid order in QuickBooks, refunded 4.00 in the store, whose credit memo was
    # created but could not be applied until the record parked
    order = _unpaid_order_refunded_4(rig)
    rig.qbo.inject(503, times=10_000, entity="Payment", operation="create")
    rig.sync(SHOP, "order.updated", order["id"])
    assert rig.sync_state(SHOP, order["id"]).status == "parked"
    (memo,) = rig.documents("CreditMemo", order["id"])
    (invoice,) = _invoices(rig, order["id"])
    rig.qbo.clear_faults()
    # When a bookkeeper applies the memo in QuickBooks before the record is replayed
    rig.qbo.seed(
        "Payment",
        {
            "CustomerRef": memo["CustomerRef"],
            "TotalAmt": Decimal("0.00"),
            "Line": [
                {
                    "Amount": Decimal("4.00"),
                    "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}],
                },
                {
                    "Amount": Decimal("4.00"),
                    "LinkedTxn": [{"TxnId": memo["Id"], "TxnType": "CreditMemo"}],
                },
            ],
        },
    )
    replay_parked(rig.sqs, dlq_url=rig.dlq_url, queue=rig.sync_queue(), record_id=str(order["id"]))
    rig.drain()

    # Then the replay posts without applying the spent credit again: 4.00 less is owed, once
    assert rig.sync_state(SHOP, order["id"]).status == "posted"
    (invoice,) = _invoices(rig, order["id"])
    assert Decimal(str(invoice["Balance"])) == Decimal(order["total"]) - Decimal("4.00")
    (memo,) = rig.documents("CreditMemo", order["id"])
    assert Decimal(str(memo["RemainingCredit"])) == Decimal("0.00")
    events = rig.events(SHOP, order["id"])
    after_replay = events[events.index("parked") + 1 :]
    assert "failed" not in after_replay and after_replay[-1] == "updated", after_replay


def test_a_record_the_function_has_no_time_for_goes_back_unstarted(rig: QboRig) -> None:
    # The rig's environment is the deployed function's: build its worker as the handler does
    runtime = Runtime.from_environment()
    parked: list[str] = []
    worker = SyncWorker(
        connection_for=runtime.connection,
        store_for=runtime.store,
        ledger_for=runtime.ledger,
        state=runtime.state,
        audit=runtime.audit,
        park=lambda _message, reason: parked.append(reason),
        policy=runtime.retry_policy,
    )
    order = _order(rig, (MUG, 1))
    message = SyncMessage(
        connection_id=SHOP,
        entity="order",
        record_id=str(order["id"]),
        topic="order.created",
        received_at=now_utc(),
    )
    calls = len(rig.qbo.request_log)

    with pytest.raises(HandedBack) as handed:
        worker.process(message, Delivery(time_left_s=lambda: 12.0))

    assert handed.value.delay_s == 0
    (event,) = rig.audit(SHOP, order["id"])
    assert event.event == "queued" and "handed back to the queue unstarted" in event.outcome
    assert "12 s of the function's time left" in event.outcome
    assert event.detail["handed_back"] is True
    assert rig.state_of(f"{SHOP}#order#{order['id']}") is None, "not counted as an attempt"
    assert len(rig.qbo.request_log) == calls and parked == []


def test_the_breaker_keeps_its_state_in_dynamodb_and_one_worker_probes(rig: QboRig) -> None:
    table = rig.runtime.env[resources.ENV_STATE_TABLE]
    dynamodb = rig.runtime.boto3_resource("dynamodb")
    clock = Clock(1_800_000_000)
    rules = CircuitRules(threshold=3, cooldown_s=60, max_cooldown_s=200, cache_s=0)
    one, other = (
        CircuitBreaker(table, "realm-dyn", rules=rules, resource=dynamodb, clock=clock)
        for _ in range(2)
    )
    for _ in range(3):
        one.before_call()
        one.failed("HTTP 503")

    # Another worker (another Lambda instance) reads the open circuit from DynamoDB
    view = circuit_view(table, "realm-dyn", resource=dynamodb)
    assert view.state == "open" and view.failures == 3 and view.last_error == "HTTP 503"
    assert view.retry_at is not None and view.opened_at is not None
    assert (view.retry_at - view.opened_at).total_seconds() == 60
    with pytest.raises(ServicePaused) as paused:
        other.before_call()
    assert paused.value.retry_after_s == 60

    clock.advance(61)
    one.before_call()  # takes the probe
    with pytest.raises(ServicePaused):
        other.before_call()  # one probe at a time
    one.failed("HTTP 503")
    reopened = circuit_view(table, "realm-dyn", resource=dynamodb)
    assert reopened.state == "open"
    assert reopened.retry_at is not None
    assert reopened.retry_at.timestamp() == pytest.approx(clock.now + 120)

    clock.advance(121)
    other.before_call()
    other.succeeded()
    assert circuit_view(table, "realm-dyn", resource=dynamodb).state == "closed"
    one.before_call()  # calls go through again


@pytest.fixture
def deployed_rig(qbo_rig: QboRigs) -> Iterator[QboRig]:
    """Deployed delays (scale 1): a held record stays away for a minute or more."""
    with qbo_rig(_connections, extra_env={resources.ENV_RETRY_SCALE: "1"}) as running:
        yield running


def test_an_open_circuit_holds_the_record_without_calling_quickbooks(
    deployed_rig: QboRig,
) -> None:
    rig = deployed_rig
    realm = rig.qbo.realm_id
    table = rig.runtime.boto3_resource("dynamodb").Table(rig.runtime.env[resources.ENV_STATE_TABLE])
    now = time.time()
    table.put_item(
        Item={
            "pk": f"circuit#{realm}",
            "sk": "CIRCUIT",
            "state": "open",
            "failures": 8,
            "opened_at": Decimal(f"{now:.3f}"),
            "retry_at": Decimal(f"{now + 90:.3f}"),
            "cooldown_s": 90,
            "last_error": "HTTP 503 invoice",
        }
    )
    order = _order(rig, (MUG, 1))
    calls = len(rig.qbo.request_log)
    rig.deliver(SHOP, "order.created", order["id"])

    def held() -> list[Any]:
        return [e for e in rig.audit(SHOP, order["id"]) if e.event == "failed"]

    deadline = time.monotonic() + 20
    while not held() and time.monotonic() < deadline:
        time.sleep(0.1)
    (event,) = held()
    assert "is not being called (circuit open" in event.outcome
    assert event.detail["delay_s"] >= 89
    # Its visibility now outlasts the queue's own timeout (2 s locally) by far: still away
    time.sleep(5)
    assert len(held()) == 1, "the record came back before its delay"
    counts = rig.sqs.get_queue_attributes(
        QueueUrl=rig.queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "1"
    api_calls = [r for r in rig.qbo.request_log[calls:] if r.path.startswith("/v3/")]
    assert api_calls == [], "no QuickBooks call while the circuit is open"
    assert rig.state_of(f"{SHOP}#order#{order['id']}") is not None


@pytest.fixture
def unpolled_rig(qbo_rig: QboRigs) -> Iterator[QboRig]:
    """Deployed delays, and no sync function polling the queue: the test hands it a batch."""
    functions = tuple(f for f in resources.FUNCTIONS if f.name != resources.SYNC.name)
    with qbo_rig(
        _connections, extra_env={resources.ENV_RETRY_SCALE: "1"}, functions=functions
    ) as running:
        yield running


def test_a_held_records_later_versions_in_the_same_batch_wait_as_long(
    unpolled_rig: QboRig,
) -> None:
    rig = unpolled_rig
    now = time.time()
    rig.runtime.boto3_resource("dynamodb").Table(
        rig.runtime.env[resources.ENV_STATE_TABLE]
    ).put_item(
        Item={
            "pk": f"circuit#{rig.qbo.realm_id}",
            "sk": "CIRCUIT",
            "state": "open",
            "failures": 8,
            "opened_at": Decimal(f"{now:.3f}"),
            "retry_at": Decimal(f"{now + 90:.3f}"),
            "last_error": "HTTP 503 invoice",
        }
    )
    order = _order(rig, (PRINT, 2))
    for topic in ("order.created", "order.updated"):  # two versions: one message group
        message = SyncMessage(
            connection_id=SHOP,
            entity="order",
            record_id=str(order["id"]),
            topic=topic,
            version=topic,
            received_at=now_utc(),
        )
        rig.sync_queue().send(message, version=topic)
    queue = rig.runtime.local_queues[resources.SYNC_QUEUE.logical_id]
    received = rig.sqs.receive_message(
        QueueUrl=rig.queue_url,
        MaxNumberOfMessages=10,
        AttributeNames=["All"],
        MessageSystemAttributeNames=["All"],
    )["Messages"]
    assert len(received) == 2

    handler = load_handler(resources.SYNC.handler)
    context = new_context(
        tenant=rig.runtime.tenant,
        spec=resources.SYNC,
        region="us-east-1",
        account_id=rig.runtime.account_id,
    )
    response = handler({"Records": [sqs_record(m, queue, "us-east-1") for m in received]}, context)

    # Both are reported failed: the first was held by the open circuit, the second skipped
    assert len(response["batchItemFailures"]) == 2
    assert [e.event for e in rig.audit(SHOP, order["id"])].count("failed") == 1
    time.sleep(3)  # past the queue's own visibility timeout (2 s locally)
    counts = rig.sqs.get_queue_attributes(
        QueueUrl=rig.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert counts == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "2",
    }, "the skipped version must wait as long as the held one"


def _emitted(stdout: str) -> list[str]:
    """Names of the metrics in the EMF documents the handlers printed."""
    names: list[str] = []
    for line in stdout.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            document = json.loads(line)
            for directive in document["_aws"]["CloudWatchMetrics"]:
                names += [m["Name"] for m in directive["Metrics"] if m["Name"] in document]
    return names


@pytest.fixture
def minute_rig(qbo_rig: QboRigs) -> Iterator[QboRig]:
    """24 hours of retrying in a minute: room for a few seconds' outage and its probes."""
    with qbo_rig(_connections, extra_env={resources.ENV_RETRY_SCALE: str(1 / 1440)}) as running:
        yield running


def test_an_outage_opens_the_circuit_and_the_order_posts_once_it_closes(
    minute_rig: QboRig, capsys: pytest.CaptureFixture[str]
) -> None:
    rig = minute_rig
    order = _order(rig, (MUG, 3))
    capsys.readouterr()
    rig.qbo.outage(5)  # every call answered 503 for five seconds
    rig.sync(SHOP, "order.created", order["id"])

    (invoice,) = _invoices(rig, order["id"])
    assert Decimal(str(invoice["TotalAmt"])) == Decimal(order["total"])
    assert "parked" not in rig.events(SHOP, order["id"])
    changes = [e.outcome for e in rig.trail.events(f"{SHOP}#connection#qbo")]
    assert any(c.startswith("circuit opened: QuickBooks company") for c in changes), changes
    assert changes[-1].startswith("circuit closed"), changes
    metrics = _emitted(capsys.readouterr().out)
    assert metrics.count("CircuitOpened") == 1 and "SyncDeferred" in metrics
    # Eight failed calls opened it; then only its probes reached QuickBooks
    assert 8 <= rig.qbo.outage_requests <= 20, rig.qbo.outage_requests


def test_the_retry_delay_doubles_per_failure_not_per_receive(rig: QboRig) -> None:
    # Given a record received 40 times while it waited for QuickBooks capacity (receives that
    # were not failures), and QuickBooks now answering 503, at the deployed delays
    runtime = Runtime.from_environment()
    worker = SyncWorker(
        connection_for=runtime.connection,
        store_for=runtime.store,
        ledger_for=runtime.ledger,
        state=runtime.state,
        audit=runtime.audit,
        park=lambda _message, reason: pytest.fail(f"parked: {reason}"),
        policy=RetryPolicy(tries_in_process=1),
    )
    order = _order(rig, (MUG, 1))
    message = SyncMessage(
        connection_id=SHOP,
        entity="order",
        record_id=str(order["id"]),
        topic="order.created",
        received_at=now_utc(),
    )
    rig.qbo.inject_share({503: 1.0})
    delays = []
    for receives in (40, 41):
        with pytest.raises(HandedBack) as handed:
            worker.process(message, Delivery(receives=receives, queued_at=now_utc()))
        delays.append(handed.value.delay_s)
    # Then its first failure waits at most the first ceiling (30 s) and its second at most 60 s,
    # not the 12-hour cap that 2^39 ceilings reach
    assert delays[0] <= 30 and delays[1] <= 60, delays

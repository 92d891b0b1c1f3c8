"""The local runtime runs Lambda-shaped handlers against moto's server as AWS would.

The handlers are small test functions (tests/integration/local_runtime_handlers)
declared through FunctionSpecs of their own, so these tests prove the runtime,
not the connector's domain logic.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connector import resources
from connector.local import LocalRuntime
from connector.local.context import new_context
from connector.local.queues import QueuePoller
from connector.local.runtime import load_handler
from connector.resources import FunctionSpec, QueueSpec, Route

HANDLERS = "tests.integration.local_runtime_handlers"
TENANT = "acme"
MAX_RECEIVES = 2
STORE_SECRET = {"consumer_key": "ck_test", "consumer_secret": "cs_test", "webhook_secret": "whs"}
LEDGER_SECRET = {"refresh_token": "rt-1", "realm_id": "9130"}

SYNC_QUEUE = QueueSpec(
    logical_id="SyncQueue",
    env_var=resources.ENV_SYNC_QUEUE_URL,
    visibility_timeout_s=720,
    max_receive_count=MAX_RECEIVES,
    dlq_logical_id="SyncDeadLetterQueue",
    dlq_env_var=resources.ENV_SYNC_DLQ_URL,
)
# No function is triggered by this queue: tests drive a poller by hand on it.
MANUAL_QUEUE = QueueSpec(
    logical_id="ManualQueue", env_var="TEST_MANUAL_QUEUE_URL", max_receive_count=MAX_RECEIVES
)
ECHO = FunctionSpec(
    name="echo",
    handler=f"{HANDLERS}.echo.lambda_handler",
    description="answers with its event",
    timeout_s=10,
    memory_mb=256,
    routes=(Route("POST", "/echo/{name}"), Route("GET", "/echo/{name}")),
)
CRASH = FunctionSpec(
    name="crash",
    handler=f"{HANDLERS}.echo.crash",
    description="always raises",
    routes=(Route("POST", "/crash"),),
)
ENQUEUE = FunctionSpec(
    name="enqueue",
    handler=f"{HANDLERS}.enqueue.lambda_handler",
    description="queues sync messages",
    routes=(Route("POST", "/enqueue"),),
)
READ_SECRET = FunctionSpec(
    name="read_secret",
    handler=f"{HANDLERS}.read_secret.lambda_handler",
    description="reads a store secret",
    routes=(Route("GET", "/secrets/{connection_id}"),),
)
WORKER = FunctionSpec(
    name="worker",
    handler=f"{HANDLERS}.worker.lambda_handler",
    description="records deliveries",
    timeout_s=20,
    queue_trigger=SYNC_QUEUE.logical_id,
    batch_size=10,
)
TICK = FunctionSpec(
    name="tick",
    handler=f"{HANDLERS}.tick.lambda_handler",
    description="records firings",
    schedule_minutes=60,
)
SLOW = FunctionSpec(
    name="slow",
    handler=f"{HANDLERS}.echo.slow",
    description="outlives its timeout",
    timeout_s=1,
    routes=(Route("POST", "/slow"),),
)
METERED = FunctionSpec(
    name="metered",
    handler=f"{HANDLERS}.echo.metered",
    description="adds a metric per call",
    routes=(Route("POST", "/metered"),),
)
FUNCTIONS = (ECHO, CRASH, SLOW, ENQUEUE, READ_SECRET, WORKER, TICK, METERED)


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    with LocalRuntime(
        tenant=TENANT,
        tenant_config_json=json.dumps({"tenant": TENANT}),
        functions=FUNCTIONS,
        queues=(SYNC_QUEUE, MANUAL_QUEUE),
        secrets={"conn-1": {"store": STORE_SECRET, "ledger": LEDGER_SECRET}},
        poll_interval_s=0.05,
        visibility_timeout_override_s=1,
    ) as running:
        yield running


@pytest.fixture
def http(runtime: LocalRuntime) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=runtime.base_url, timeout=30) as client:
        yield client


def deliveries(runtime: LocalRuntime, record_id: str) -> list[dict[str, Any]]:
    """What the worker recorded for one message id, in receive order."""
    table = runtime.boto3_client("dynamodb")
    items = table.query(
        TableName=runtime.env[resources.ENV_STATE_TABLE],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"delivery#{record_id}"}},
        ConsistentRead=True,
    )["Items"]
    return [
        {"batch": item["batch"]["S"], "record": json.loads(item["record"]["S"])} for item in items
    ]


def wait_for(predicate: Any, timeout_s: float = 15) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not true within {timeout_s}s: {predicate}")


def test_environment_points_handlers_at_the_embedded_aws(runtime: LocalRuntime) -> None:
    # Given a started runtime
    # Then the process environment names its endpoint, tables, queues and base URL
    assert os.environ["AWS_ENDPOINT_URL"] == runtime.aws_endpoint_url
    assert runtime.aws_endpoint_url.startswith("http://127.0.0.1:")
    assert os.environ["AWS_DEFAULT_REGION"] == "us-east-1"
    assert os.environ["POWERTOOLS_SERVICE_NAME"] == "ml-connector"
    assert os.environ["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert os.environ[resources.ENV_TENANT] == TENANT
    assert json.loads(os.environ[resources.ENV_TENANT_CONFIG]) == {"tenant": TENANT}
    assert os.environ[resources.ENV_PUBLIC_BASE_URL] == runtime.base_url
    assert os.environ[resources.ENV_SECRET_PREFIX] == f"ml-connector/{TENANT}"
    dynamodb = runtime.boto3_client("dynamodb")
    for table in resources.TABLES:
        name = os.environ[table.env_var]
        description = dynamodb.describe_table(TableName=name)["Table"]
        assert description["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert {k["AttributeName"]: k["KeyType"] for k in description["KeySchema"]} == {
            "pk": "HASH",
            "sk": "RANGE",
        }
    ttl = dynamodb.describe_time_to_live(TableName=os.environ[resources.ENV_STATE_TABLE])
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"
    sqs = runtime.boto3_client("sqs")
    attributes = sqs.get_queue_attributes(
        QueueUrl=os.environ[resources.ENV_SYNC_QUEUE_URL], AttributeNames=["All"]
    )["Attributes"]
    assert attributes["FifoQueue"] == "true"
    assert attributes["ContentBasedDeduplication"] == "false"
    assert attributes["VisibilityTimeout"] == "1"
    redrive = json.loads(attributes["RedrivePolicy"])
    assert int(redrive["maxReceiveCount"]) == MAX_RECEIVES
    assert redrive["deadLetterTargetArn"].endswith("SyncDeadLetterQueue.fifo")
    assert os.environ[resources.ENV_SYNC_DLQ_URL].endswith("SyncDeadLetterQueue.fifo")


def test_post_reaches_the_handler_as_an_api_gateway_proxy_event(
    runtime: LocalRuntime, http: httpx.Client
) -> None:
    # When a client posts JSON with repeated query parameters and headers
    body = '{"order": 1042, "total": "19.99"}'
    response = http.post(
        "/echo/alice?x=1&x=2&y=3",
        content=body,
        headers=[
            ("Content-Type", "application/json"),
            ("X-WC-Webhook-Topic", "order.created"),
            ("X-Repeat", "a"),
            ("X-Repeat", "b"),
        ],
    )

    # Then the handler's status, headers and body come back
    assert response.status_code == 201
    assert response.headers["X-Echo"] == "alice"
    assert response.headers.get_list("Set-Cookie") == ["first=1", "second=2"]
    answer = response.json()
    event = answer["event"]
    # And the event is the REST API proxy event API Gateway would have sent
    assert event["resource"] == "/echo/{name}"
    assert event["path"] == "/echo/alice"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"name": "alice"}
    assert event["queryStringParameters"] == {"x": "2", "y": "3"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": ["3"]}
    assert event["headers"]["X-WC-Webhook-Topic"] == "order.created"
    assert event["headers"]["X-Repeat"] == "b"
    assert event["multiValueHeaders"]["X-Repeat"] == ["a", "b"]
    assert event["body"] == body
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["requestId"] == response.headers["x-amzn-RequestId"]
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["resourcePath"] == "/echo/{name}"
    assert context["httpMethod"] == "POST"
    assert context["stage"]
    assert context["path"] == f"/{context['stage']}/echo/alice"
    assert abs(context["requestTimeEpoch"] / 1000 - time.time()) < 60
    # And the handler had a Lambda context built from its FunctionSpec
    lambda_context = answer["context"]
    assert lambda_context["function_name"] == f"ml-connector-{TENANT}-echo"
    assert lambda_context["memory_limit_in_mb"] == 256
    assert lambda_context["invoked_function_arn"].endswith(f":function:ml-connector-{TENANT}-echo")
    assert 0 < lambda_context["remaining_ms"] <= 10_000


def test_get_without_query_or_body_has_null_fields(http: httpx.Client) -> None:
    event = http.get("/echo/bob").json()["event"]
    assert event["httpMethod"] == "GET"
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["body"] is None


def test_binary_bodies_travel_base64_encoded_both_ways(http: httpx.Client) -> None:
    # Given bytes that are not UTF-8
    payload = bytes([0xFF, 0x00, 0xFE, 0x41])
    # When posted to a handler that answers with them reversed, base64-encoded
    response = http.post(
        "/echo/binary", content=payload, headers={"Content-Type": "application/octet-stream"}
    )
    # Then the handler got them as base64 and the client gets raw bytes back
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.content == payload[::-1]


def test_a_chunked_body_reaches_the_handler_whole(http: httpx.Client) -> None:
    # Given a client that streams its body with chunked transfer encoding
    parts = [b'{"line_items": [', b'{"sku": "MUG-1"}', b"]}"]
    response = http.post("/echo/chunked", content=iter(parts))
    # Then the handler sees the joined body
    assert response.status_code == 201
    assert response.json()["event"]["body"] == b"".join(parts).decode()


def test_disabled_metrics_do_not_outlive_an_invocation(
    http: httpx.Client, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Powertools keeps disabled metrics and prints them once 100 pile up; on Lambda an
    # invocation's metrics end with it, so a demo with metrics off prints none.
    from connector.observability import metrics

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    for _ in range(101):
        assert http.post("/metered").status_code == 204
    assert "EchoMetered" not in capsys.readouterr().out
    assert metrics.metric_set == {}


def test_unknown_routes_get_api_gateways_missing_authentication_token(http: httpx.Client) -> None:
    for method, path in (("GET", "/nowhere"), ("GET", "/crash"), ("POST", "/echo/a/b")):
        response = http.request(method, path)
        assert response.status_code == 403, (method, path)
        assert response.json() == {"message": "Missing Authentication Token"}


def test_a_failing_handler_gives_502_internal_server_error(http: httpx.Client) -> None:
    response = http.post("/crash", content=b"{}")
    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}


def test_a_function_past_its_timeout_gives_502(http: httpx.Client) -> None:
    # Lambda discards the answer of a function that ran past its timeout
    response = http.post("/slow", content=b"{}")
    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}


def test_payloads_over_ten_megabytes_are_refused_with_413(http: httpx.Client) -> None:
    response = http.post("/echo/big", content=b"x" * (10 * 1024 * 1024 + 1))
    assert response.status_code == 413
    assert response.json() == {"message": "Request Too Long"}
    streamed = http.post("/echo/big", content=iter([b"z" * (5 * 1024 * 1024)] * 3))
    assert streamed.status_code == 413
    # And a body of exactly the limit still reaches the handler
    assert http.post("/echo/big", content=b"y" * (10 * 1024 * 1024)).status_code == 201


def test_a_queued_message_reaches_the_worker_as_an_sqs_event(
    runtime: LocalRuntime, http: httpx.Client
) -> None:
    # When a handler behind the gateway queues a message
    response = http.post("/enqueue", json=[{"id": "order-1", "group": "conn-1:order:1"}])
    assert response.status_code == 202
    # Then the queue-triggered worker receives it and the queue drains
    assert runtime.drain(timeout_s=15)
    [delivery] = deliveries(runtime, "order-1")
    record = delivery["record"]
    assert json.loads(record["body"]) == {"id": "order-1", "group": "conn-1:order:1"}
    assert record["eventSource"] == "aws:sqs"
    assert record["awsRegion"] == "us-east-1"
    assert record["eventSourceARN"] == (
        f"arn:aws:sqs:us-east-1:{runtime.account_id}:ml-connector-{TENANT}-SyncQueue.fifo"
    )
    assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
    assert record["receiptHandle"]
    attributes = record["attributes"]
    assert attributes["ApproximateReceiveCount"] == "1"
    assert attributes["MessageGroupId"] == "conn-1:order:1"
    assert attributes["MessageDeduplicationId"] == "order-1"
    assert attributes["SequenceNumber"].isdigit()
    assert abs(int(attributes["SentTimestamp"]) / 1000 - time.time()) < 60
    assert record["messageAttributes"]["topic"] == {
        "stringValue": "order.created",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }


def manual_poller(runtime: LocalRuntime) -> QueuePoller:
    """A poller on the untriggered queue, driven one batch at a time by the test."""
    handler = load_handler(WORKER.handler)
    account_id = runtime.account_id

    def invoke(spec: FunctionSpec, event: dict[str, Any]) -> Any:
        context = new_context(tenant=TENANT, spec=spec, region="us-east-1", account_id=account_id)
        return handler(event, context)

    return QueuePoller(
        spec=WORKER,
        queue=runtime.local_queues[MANUAL_QUEUE.logical_id],
        sqs=runtime.boto3_client("sqs"),
        invoke=invoke,
        region="us-east-1",
        poll_interval_s=0.05,
    )


def send(runtime: LocalRuntime, queue_url: str, *bodies: dict[str, Any]) -> None:
    sqs = runtime.boto3_client("sqs")
    for body in bodies:
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=json.dumps(body),
            MessageGroupId=body["id"],
            MessageDeduplicationId=body["id"],
        )


def test_partial_batch_failure_redelivers_only_the_failed_record(runtime: LocalRuntime) -> None:
    # Given two messages in one batch, one of which the worker reports as failed once
    poller = manual_poller(runtime)
    queue = runtime.local_queues[MANUAL_QUEUE.logical_id]
    send(runtime, queue.url, {"id": "pb-ok"}, {"id": "pb-flaky", "fail_until": 1})

    # When the batch is delivered, and again after the visibility timeout
    assert poller.poll_once() == 2
    assert poller.poll_once() == 0  # the failed record is invisible until the timeout ends
    second = wait_for(poller.poll_once, timeout_s=10)

    # Then only the failed record came back, and then it was deleted
    assert second == 1
    ok, flaky = deliveries(runtime, "pb-ok"), deliveries(runtime, "pb-flaky")
    assert len(ok) == 1
    assert ok[0]["batch"] == flaky[0]["batch"]
    assert [d["record"]["attributes"]["ApproximateReceiveCount"] for d in flaky] == ["1", "2"]
    assert poller.poll_once() == 0
    time.sleep(1.2)
    assert poller.poll_once() == 0


def test_a_handed_back_record_is_held_until_it_is_received_again(runtime: LocalRuntime) -> None:
    """drain() must not see quiet while a failed record waits out its visibility timeout: at
    the moment it ends the record is briefly in none of SQS's counters."""
    # Given a record the worker reports as failed once
    poller = manual_poller(runtime)
    queue = runtime.local_queues[MANUAL_QUEUE.logical_id]
    send(runtime, queue.url, {"id": "hold-flaky", "fail_until": 1})
    assert not poller.holding
    # When it is handed back, the poller holds it, past the point it is visible again
    assert poller.poll_once() == 1
    assert poller.holding
    visibility = float(
        runtime.boto3_client("sqs").get_queue_attributes(
            QueueUrl=queue.url, AttributeNames=["VisibilityTimeout"]
        )["Attributes"]["VisibilityTimeout"]
    )
    time.sleep(visibility + 0.3)  # its visibility timeout is over; not received yet
    assert poller.holding
    # Then receiving it again (and this time succeeding) releases it
    assert wait_for(poller.poll_once, timeout_s=10) == 1
    assert not poller.holding
    assert len(deliveries(runtime, "hold-flaky")) == 2


def test_a_record_handed_back_with_a_longer_delay_is_held_until_it_comes_back(
    runtime: LocalRuntime,
) -> None:
    """The function may set a handed-back record's visibility to anything (the sync worker's
    retry delay): the poller must hold it past the queue's own visibility timeout."""
    # Given a record the worker fails once and hands back for three seconds
    poller = manual_poller(runtime)
    queue = runtime.local_queues[MANUAL_QUEUE.logical_id]
    send(runtime, queue.url, {"id": "hold-delayed", "fail_until": 1, "delay_s": 3})
    assert poller.poll_once() == 1
    # When the queue's own visibility timeout (1 s) is over
    time.sleep(1.3)
    # Then the record is still away, and still held: a drain would not call the queue quiet
    assert poller.poll_once() == 0
    assert poller.holding
    # And once its delay is over it comes back, is processed and released
    assert wait_for(poller.poll_once, timeout_s=10) == 1
    assert not poller.holding
    counts = [
        d["record"]["attributes"]["ApproximateReceiveCount"]
        for d in deliveries(runtime, "hold-delayed")
    ]
    assert counts == ["1", "2"]


def test_drain_waits_out_a_record_handed_back_with_a_delay(
    runtime: LocalRuntime, http: httpx.Client
) -> None:
    # Given a record the worker hands back twice, for two seconds each time
    http.post(
        "/enqueue", json=[{"id": "drain-delayed", "fail_until": 1, "delay_s": 2}]
    ).raise_for_status()
    # When the runtime drains
    assert runtime.drain(timeout_s=15)
    # Then drain returned only once the record was processed
    assert len(deliveries(runtime, "drain-delayed")) == 2


def test_a_raising_handler_returns_the_whole_batch(runtime: LocalRuntime) -> None:
    # Given two messages, one of which makes the worker raise on first delivery
    poller = manual_poller(runtime)
    queue = runtime.local_queues[MANUAL_QUEUE.logical_id]
    send(runtime, queue.url, {"id": "rb-ok"}, {"id": "rb-raise", "raise_until": 1})

    # When the batch fails as a whole, both records come back
    assert poller.poll_once() == 2
    assert wait_for(poller.poll_once, timeout_s=10) == 2
    assert len(deliveries(runtime, "rb-ok")) == 2
    assert len(deliveries(runtime, "rb-raise")) == 2


def test_a_record_failing_max_receive_count_times_is_parked_in_the_dlq(
    runtime: LocalRuntime, http: httpx.Client
) -> None:
    # Given a message the worker always reports as failed
    http.post("/enqueue", json=[{"id": "doomed", "fail_until": 99}]).raise_for_status()
    # Then the queue is not drained while it is being retried
    assert not runtime.drain(timeout_s=0.3)

    # When it has been received maxReceiveCount times, it moves to the dead-letter queue
    sqs = runtime.boto3_client("sqs")
    dlq_url = runtime.env[resources.ENV_SYNC_DLQ_URL]

    def parked() -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=30
        ).get("Messages", [])
        return messages

    [message] = wait_for(parked, timeout_s=15)
    assert json.loads(message["Body"])["id"] == "doomed"
    assert runtime.drain(timeout_s=10)
    counts = [
        d["record"]["attributes"]["ApproximateReceiveCount"] for d in deliveries(runtime, "doomed")
    ]
    assert counts == [str(n) for n in range(1, MAX_RECEIVES + 1)]


def test_fire_schedule_invokes_the_scheduled_function_with_a_scheduled_event(
    runtime: LocalRuntime,
) -> None:
    result = runtime.fire_schedule("tick")
    assert result["function_name"] == f"ml-connector-{TENANT}-tick"
    item = runtime.boto3_client("dynamodb").get_item(
        TableName=runtime.env[resources.ENV_STATE_TABLE],
        Key={"pk": {"S": "tick"}, "sk": {"S": result["fired"]}},
    )["Item"]
    event = json.loads(item["event"]["S"])
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["account"] == runtime.account_id
    assert event["region"] == "us-east-1"
    assert event["resources"] == [
        f"arn:aws:events:us-east-1:{runtime.account_id}:rule/ml-connector-{TENANT}-tick-schedule"
    ]
    assert event["detail"] == {}
    with pytest.raises(KeyError, match="no scheduled function 'echo'"):
        runtime.fire_schedule("echo")


def test_schedules_fired_only_on_demand_still_fire_and_stop_cleanly() -> None:
    # Given a runtime whose schedules run only when asked (as tests and scenarios start it)
    with LocalRuntime(
        tenant=TENANT,
        tenant_config_json=json.dumps({"tenant": TENANT}),
        functions=(TICK,),
        timed_schedules=False,
    ) as quiet:
        # When the schedule is fired by hand / Then the function ran with a scheduled event
        result = quiet.fire_schedule("tick", detail={"poll": "now"})
        item = quiet.boto3_client("dynamodb").get_item(
            TableName=quiet.env[resources.ENV_STATE_TABLE],
            Key={"pk": {"S": "tick"}, "sk": {"S": result["fired"]}},
        )["Item"]
        assert json.loads(item["event"]["S"])["detail"] == {"poll": "now"}
    # and leaving the block stopped it (a schedule that never started has no thread to join)


def test_secrets_are_stored_under_their_names(runtime: LocalRuntime, http: httpx.Client) -> None:
    # A handler reads the store secret by the name it derives from the prefix
    response = http.get("/secrets/conn-1")
    assert response.status_code == 200
    # The webhook secret given with the store keys is moved into its own secret, as deployed
    # (each function is granted only the secrets it needs)
    assert response.json() == {k: v for k, v in STORE_SECRET.items() if k != "webhook_secret"}
    client = runtime.boto3_client("secretsmanager")
    webhook = resources.secret_name(f"ml-connector/{TENANT}", "conn-1", "webhook")
    assert json.loads(client.get_secret_value(SecretId=webhook)["SecretString"]) == {
        "webhook_secret": STORE_SECRET["webhook_secret"]
    }
    # And the ledger part is stored as JSON under its own name
    name = resources.secret_name(f"ml-connector/{TENANT}", "conn-1", "ledger")
    assert json.loads(client.get_secret_value(SecretId=name)["SecretString"]) == LEDGER_SECRET


def test_drain_returns_at_once_when_quiet(runtime: LocalRuntime) -> None:
    assert runtime.drain(timeout_s=5)


def test_a_second_runtime_has_its_own_resources_and_restores_the_environment(
    runtime: LocalRuntime,
) -> None:
    # Given the module's runtime, which has tables and queues under the same tenant
    before = {name: os.environ.get(name) for name in ("AWS_ACCESS_KEY_ID", "AWS_ENDPOINT_URL")}
    # When a second runtime for the same tenant starts in the same process
    with LocalRuntime(
        tenant=TENANT, tenant_config_json="{}", functions=(), queues=(SYNC_QUEUE,)
    ) as other:
        # Then it sees only its own resources
        other_sqs = other.boto3_client("sqs")
        other_sqs.send_message(
            QueueUrl=other.env[resources.ENV_SYNC_QUEUE_URL],
            MessageBody=json.dumps({"id": "isolation"}),
            MessageGroupId="g",
            MessageDeduplicationId="isolation",
        )
        assert other.account_id != runtime.account_id
        assert other.aws_endpoint_url != runtime.aws_endpoint_url
        assert sorted(other_sqs.list_queues()["QueueUrls"]) == sorted(
            [other.env[resources.ENV_SYNC_QUEUE_URL], other.env[resources.ENV_SYNC_DLQ_URL]]
        )
        assert sorted(other.boto3_client("dynamodb").list_tables()["TableNames"]) == sorted(
            other.table_names.values()
        )
        assert os.environ["AWS_ACCESS_KEY_ID"] != before["AWS_ACCESS_KEY_ID"]
    # And the first runtime's queue never saw the second one's message
    assert runtime.drain(timeout_s=5)
    assert deliveries(runtime, "isolation") == []
    # And stopping it put the first runtime's environment back
    assert {name: os.environ.get(name) for name in before} == before

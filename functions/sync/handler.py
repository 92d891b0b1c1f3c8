"""SQS sync queue -> fetch, map and post each record; failed records are reported individually.

A record handed back (a transient failure, or too little time left to start it) is made visible
again after its delay with ChangeMessageVisibility before it is reported failed; the records of
its message group that the FIFO processor skipped wait the same delay.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from connector.coldstart import collector_paused

# Nothing is collected while the handler's modules load (connector.coldstart).
with collector_paused():
    # Before pydantic: with pydantic loaded, Powertools' batch utility also imports the Kafka,
    # Kinesis and DynamoDB stream parser models for its type hints (~40 ms).
    from aws_lambda_powertools.utilities.batch import (
        SqsFifoPartialProcessor,
        process_partial_response,
    )
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
    )
    from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from pydantic import Json

    from connector import sync_pull
    from connector.health import HealthMarks
    from connector.ledgers.qbo.batching import BatchRoute, BatchSettings, receipt_of, run_groups
    from connector.messages import SyncMessage
    from connector.observability import logger, metrics, tracer
    from connector.resources import SYNC_QUEUE
    from connector.runtime import Runtime
    from connector.sync import Delivery, HandedBack, SyncWorker

    class SyncRecord(SqsRecordModel):
        body: Json[SyncMessage]

    runtime = Runtime.from_environment()
    batching = BatchSettings.from_environment()


def _park(message: SyncMessage, reason: str) -> None:
    if runtime.dead_letters is None:
        raise RuntimeError("no dead-letter queue configured; refusing to drop a parked record")
    runtime.dead_letters.send(
        message, version=f"parked:{message.received_at.isoformat()}", reason=reason
    )


def _requeue(message: SyncMessage) -> None:
    """A record only waiting for QuickBooks capacity whose receives ran out: a fresh copy."""
    runtime.sync_queue.requeue(message)


remember_config = IdempotencyConfig(expires_after_seconds=3600)


@cache
def _worker() -> SyncWorker:
    """Made by the first record, so that a cold start does not wait for AWS clients."""
    remember = DynamoDBPersistenceLayer(
        table_name=runtime.settings.state_table,
        key_attr="pk",
        sort_key_attr="sk",
        static_pk_value="idempotency#sync",
        expiry_attr="expires_at",
        boto3_client=runtime.dynamodb_client,
    )
    return SyncWorker(
        connection_for=runtime.connection,
        store_for=runtime.store,
        ledger_for=runtime.ledger,
        state=runtime.state,
        audit=runtime.audit,
        park=_park,
        requeue=_requeue,
        remember=remember,
        remember_config=remember_config,
        policy=runtime.retry_policy,
        health=HealthMarks(runtime.settings.state_table, resource=runtime.dynamodb),
        # QuickBooks → store records (issue #13): made on first use, like the store.
        both_ways=runtime.both_ways,
    )


# A failure holds back only its own record's group; other records in the batch go on.
processor = SqsFifoPartialProcessor(model=SyncRecord, skip_group_on_error=True)
# A batch whose records all went back to the queue (an outage) is answered like any other,
# record by record, not raised: each already has its delay, the records skipped behind them
# get theirs below, and an outage is the circuit's alarm, not a function error.
processor.raise_on_entire_batch_failure = False


# This invocation's hand-backs: receipt handle -> delay (a record handed back and pulled
# again is the same message under a new receipt), and the delay of each message group.
_handed_back: dict[str, int] = {}
_group_delays: dict[str, int] = {}


@tracer.capture_method(capture_response=False, capture_error=False)
def record_handler(record: SyncRecord, lambda_context: LambdaContext) -> str:
    receives = int(record.attributes.ApproximateReceiveCount)
    delivery = Delivery(
        receives=receives,
        queued_at=record.attributes.SentTimestamp,
        last_receive=receives >= SYNC_QUEUE.max_receive_count,
        time_left_s=lambda: lambda_context.get_remaining_time_in_millis() / 1000,
    )
    try:
        result = _worker().process(record.body, delivery)
    except HandedBack as back:
        _hand_back(record.messageId, record.receiptHandle, back.delay_s)
        if record.attributes.MessageGroupId:
            _group_delays[record.attributes.MessageGroupId] = back.delay_s
        raise
    logger.info("record synced", outcome=result.outcome, detail=result.detail)
    return result.outcome


def _hand_back(message_id: str, receipt_handle: str, delay_s: int) -> None:
    _handed_back[receipt_handle] = delay_s
    if not runtime.sync_queue.hand_back(receipt_handle, delay_s):
        logger.warning("could not change the message's visibility", message_id=message_id)


def _hold_skipped(event: dict[str, Any], response: dict[str, Any]) -> None:
    """Records the FIFO processor skipped behind a handed-back one wait as long as it does."""
    failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
    _hold_behind([raw for raw in event.get("Records", []) if raw.get("messageId") in failed])


def _hold_behind(failed: Sequence[Mapping[str, Any]]) -> None:
    """Failed records not handed back themselves (skipped behind one that was) wait as long
    as their group's."""
    for raw in failed:
        group = raw.get("attributes", {}).get("MessageGroupId")
        if raw["receiptHandle"] not in _handed_back and group in _group_delays:
            _hand_back(str(raw["messageId"]), str(raw["receiptHandle"]), _group_delays[group])


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    remember_config.register_lambda_context(context)
    _handed_back.clear()
    _group_delays.clear()
    records = event.get("Records", [])
    if batching.applies(_records_per_connection(records)):
        _worker()  # made once, here, before the threads that share it ask for it
        response = _side_by_side(records, context)
    else:
        response = process_partial_response(  # type: ignore[assignment]
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    _hold_skipped(event, response)
    return response


def _records_per_connection(records: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for raw in records:
        connection = _connection_of(raw)
        counts[connection] = counts.get(connection, 0) + 1
    return counts


def _side_by_side(records: list[dict[str, Any]], context: LambdaContext) -> dict[str, Any]:
    """Each message group on its own thread, creates gathered into batch requests, more
    records pulled from the queue while the function has time, so that batches fill; failures
    of the event's records reported as the FIFO processor reports them (the failed record and
    its group behind it), pulled records settled by the function as their groups end."""
    queue_url = runtime.settings.sync_queue_url
    event_receipts = {receipt_of(r) for r in records}
    pulled: list[dict[str, Any]] = []
    # A record pulled now must have time to wait for a batch slot and still finish.
    keep_pulling_s = runtime.retry_policy.record_time_s + batching.hold_s
    # Held records stay hidden until the function ends (and a while after, should it be
    # killed): the queue's visibility timeout may be shorter than the function holds them.
    hidden_s = math.ceil(context.get_remaining_time_in_millis() / 1000) + _HIDDEN_AFTER_S
    sync_pull.hide(runtime.sqs, queue_url, records, hidden_s)

    def more(count: int) -> list[dict[str, Any]]:
        if context.get_remaining_time_in_millis() / 1000 < keep_pulling_s:
            return []
        fresh = sync_pull.pull(runtime.sqs, queue_url, count, like=records[0], hidden_s=hidden_s)
        _warm(fresh)
        pulled.extend(fresh)
        return fresh

    def finished(group: Sequence[Mapping[str, Any]], failed: set[str]) -> None:
        mine = [r for r in group if receipt_of(r) not in event_receipts]
        # Pulled records are this function's to settle: the event source knows only its own.
        sync_pull.settle(runtime.sqs, queue_url, [r for r in mine if receipt_of(r) not in failed])
        _hold_behind([r for r in mine if receipt_of(r) in failed])

    _warm(records)
    room = batching.pull_to - len(records)
    first = more(room) if room > 0 else []
    route = BatchRoute(window_s=batching.window_ms / 1000, hold_s=batching.hold_s)

    def handle(raw: Any) -> None:
        record = SyncRecord.model_validate(raw)
        message = record.body
        # The worker's appended keys are the logger's, shared by every thread: this thread's
        # own keys win in its lines, so each names its own record.
        logger.thread_safe_append_keys(
            connection_id=message.connection_id,
            entity=message.entity,
            record_id=message.record_id,
        )
        try:
            record_handler(record, context)
        finally:
            logger.thread_safe_clear_keys()

    failed = set(
        run_groups(
            [*records, *first],
            handle,
            route=route,
            max_threads=batching.pull_to,
            more=more if batching.pull_to > 0 else None,
            finished=finished,
        )
    )
    logger.info(
        "records worked side by side",
        records=len(records),
        pulled=len(pulled),
        batch_requests=route.batches,
        batched_creates=route.batched,
        single_creates=route.singles,
        waited_again=route.waited_again,
    )
    return {
        "batchItemFailures": [
            {"itemIdentifier": r["messageId"]} for r in records if receipt_of(r) in failed
        ]
    }


# How long after the function's end a record it held and never settled stays hidden.
_HIDDEN_AFTER_S = 30


def _warm(records: list[dict[str, Any]]) -> None:
    """Build what the records' threads share before they start: boto3 makes clients and
    resources from one session, which is not safe from several threads at once."""
    _worker()
    _ = (runtime.sync_queue, runtime.dead_letters, runtime.vault, runtime.http)
    for connection_id in sorted({_connection_of(r) for r in records} - _prepared):
        try:
            runtime.ledger(runtime.connection(connection_id))  # its circuit and limiter
        except Exception as exc:  # a record meets it again on its thread, and is handled there
            logger.info("connection not prepared", connection_id=connection_id, error=str(exc))
        else:
            _prepared.add(connection_id)


# Connections whose shared parts this container has built (a secret read each, once).
_prepared: set[str] = set()


def _connection_of(raw: dict[str, Any]) -> str:
    # The group id starts with the connection id (SyncMessage.group_id).
    return str(raw.get("attributes", {}).get("MessageGroupId", "")).split(":", 1)[0]

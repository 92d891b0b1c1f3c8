"""SQS sync queue -> fetch, map and post each record; failed records are reported individually."""

from __future__ import annotations

from typing import Any

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

from connector.messages import SyncMessage
from connector.observability import logger, metrics, tracer
from connector.resources import SYNC_QUEUE
from connector.runtime import Runtime
from connector.sync import SyncWorker


class SyncRecord(SqsRecordModel):
    body: Json[SyncMessage]


runtime = Runtime.from_environment()


def _park(message: SyncMessage, reason: str) -> None:
    if runtime.dead_letters is None:
        raise RuntimeError("no dead-letter queue configured; refusing to drop a parked record")
    runtime.dead_letters.send(
        message, version=f"parked:{message.received_at.isoformat()}", reason=reason
    )


remember = DynamoDBPersistenceLayer(
    table_name=runtime.settings.state_table,
    key_attr="pk",
    sort_key_attr="sk",
    static_pk_value="idempotency#sync",
    expiry_attr="expires_at",
)
remember_config = IdempotencyConfig(expires_after_seconds=3600)
worker = SyncWorker(
    connection_for=runtime.connection,
    store_for=runtime.store,
    ledger_for=runtime.ledger,
    state=runtime.state,
    audit=runtime.audit,
    park=_park,
    remember=remember,
    remember_config=remember_config,
)
# A failure holds back only its own record's group; other records in the batch go on.
processor = SqsFifoPartialProcessor(model=SyncRecord, skip_group_on_error=True)


@tracer.capture_method
def record_handler(record: SyncRecord) -> str:
    receives = int(record.attributes.ApproximateReceiveCount)
    result = worker.process(record.body, final_attempt=receives >= SYNC_QUEUE.max_receive_count)
    logger.info("record synced", outcome=result.outcome, detail=result.detail)
    return result.outcome


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    remember_config.register_lambda_context(context)
    return process_partial_response(  # type: ignore[return-value]
        event=event, record_handler=record_handler, processor=processor, context=context
    )

"""POST /webhooks/{connection_id}: verify a store webhook and queue its record;
POST /webhooks/qbo/{connection_id}: the same for QuickBooks Online's webhooks."""

from __future__ import annotations

import base64
from functools import cache
from typing import TYPE_CHECKING, Any

from connector.coldstart import collector_paused

if TYPE_CHECKING:
    from connector.ledger_webhooks import LedgerWebhookIngest

# Nothing is collected while the handler's modules load (connector.coldstart).
with collector_paused():
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
    from aws_lambda_powertools.logging import correlation_paths
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from connector.health import HealthMarks
    from connector.ingest import WebhookIngest
    from connector.observability import logger, metrics, tracer
    from connector.runtime import Runtime
    from connector.unqueued import UnqueuedDeliveries

    runtime = Runtime.from_environment()
    app = APIGatewayRestResolver()


@cache
def _ingest() -> WebhookIngest:
    """Made by the first delivery, so that a cold start does not wait for AWS clients."""
    return WebhookIngest(
        config=runtime.config,
        vault=runtime.vault,
        queue=runtime.sync_queue,
        audit=runtime.audit,
        reader_for=runtime.webhook_reader,
        # A delivery the queue refuses is kept in the state table for the reconcile run.
        unqueued=UnqueuedDeliveries(runtime.settings.state_table, resource=runtime.dynamodb),
        health=HealthMarks(runtime.settings.state_table, resource=runtime.dynamodb),
    )


@cache
def _ledger_ingest() -> LedgerWebhookIngest:
    """Made by QuickBooks' first webhook; imported then, since store webhooks never need it."""
    from connector.ledger_webhooks import LedgerRealms, LedgerWebhookIngest

    return LedgerWebhookIngest(
        config=runtime.config,
        vault=runtime.vault,
        queue=runtime.sync_queue,
        audit=runtime.audit,
        realms=LedgerRealms(runtime.settings.state_table, resource=runtime.dynamodb),
        unqueued=UnqueuedDeliveries(runtime.settings.state_table, resource=runtime.dynamodb),
    )


@app.post("/webhooks/qbo/<connection_id>")
def qbo_webhook(connection_id: str) -> Response[Any]:
    """QuickBooks Online's webhooks (connector.ledger_webhooks); Intuit wants 200 within 3 s."""
    event = app.current_event
    raw = event.body or ""
    body = base64.b64decode(raw) if event.is_base64_encoded else raw.encode("utf-8")
    logger.append_keys(connection_id=connection_id, topic="qbo")
    answer = _ledger_ingest().receive(connection_id, dict(event.headers), body)
    return Response(
        status_code=answer.status, content_type=content_types.APPLICATION_JSON, body=answer.body()
    )


@app.post("/webhooks/<connection_id>")
def webhook(connection_id: str) -> Response[Any]:
    event = app.current_event
    raw = event.body or ""
    body = base64.b64decode(raw) if event.is_base64_encoded else raw.encode("utf-8")
    logger.append_keys(connection_id=connection_id, topic=event.headers.get("X-WC-Webhook-Topic"))
    answer = _ingest().receive(connection_id, dict(event.headers), body)
    return Response(
        status_code=answer.status, content_type=content_types.APPLICATION_JSON, body=answer.body()
    )


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

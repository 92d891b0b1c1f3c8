"""EventBridge schedule (every minute): poll each due connection's store for changed records.

An invocation whose ``detail`` is ``{"poll": "now"}`` (optionally with ``"connection_id"``)
polls at once, whatever the period. Each run also queues the deliveries ingest kept when
the sync queue refused them, looks after the connections' webhooks (delivering to the
deployed API, CONNECTOR_PUBLIC_BASE_URL) and counts silent Web Connectors; it stops
before the function's timeout (the context's remaining time).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from connector.coldstart import collector_paused

# Nothing is collected while the handler's modules load (connector.coldstart).
with collector_paused():
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from connector.config import Connection
    from connector.health import HealthMarks
    from connector.ledger_poll import ChangeFeed, LedgerPoll
    from connector.ledger_realms import LedgerRealms
    from connector.observability import logger, metrics, tracer
    from connector.reconcile import Reconciler, poll_request
    from connector.resources import RECONCILE
    from connector.runtime import Runtime
    from connector.unqueued import UnqueuedDeliveries
    from connector.webhook_health import WebhookWatch

    runtime = Runtime.from_environment()


@cache
def _reconciler() -> Reconciler:
    """Made by the first run, so that a cold start does not wait for AWS clients."""
    health = HealthMarks(runtime.settings.state_table, resource=runtime.dynamodb)
    return Reconciler(
        connections=runtime.config.connections,
        store_for=runtime.store,
        state=runtime.state,
        audit=runtime.audit,
        queue=runtime.sync_queue,
        lease_s=RECONCILE.timeout_s,
        unqueued=UnqueuedDeliveries(runtime.settings.state_table, resource=runtime.dynamodb),
        health=health,
        webhooks=WebhookWatch(
            base_url=runtime.settings.public_base_url,
            vault=runtime.vault,
            http=runtime.http,
            audit=runtime.audit,
            health=health,
        ),
        ledger_poll=LedgerPoll(
            feed_for=_qbo_feed,
            table_name=runtime.settings.state_table,
            resource=runtime.dynamodb,
            queue=runtime.sync_queue,
            audit=runtime.audit,
            realms=LedgerRealms(runtime.settings.state_table, resource=runtime.dynamodb),
            realm_for=lambda connection: runtime.qbo_tokens(connection).realm_id(),
        ),
    )


def _qbo_feed(connection: Connection) -> ChangeFeed:
    """QuickBooks Online's change feed for a connection (imported when first polled)."""
    from connector.ledgers.qbo.changes import QboChanges

    return QboChanges(runtime.qbo_client(connection))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = _reconciler().run(poll_request(event), context.get_remaining_time_in_millis)
    return report.model_dump(mode="json")

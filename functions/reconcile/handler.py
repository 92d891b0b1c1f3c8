"""EventBridge schedule (every minute): poll each due connection's store for changed records.

An invocation whose ``detail`` is ``{"poll": "now"}`` (optionally with ``"connection_id"``)
polls at once, whatever the period.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from connector.observability import logger, metrics, tracer
from connector.reconcile import Reconciler, poll_request
from connector.resources import RECONCILE
from connector.runtime import Runtime

runtime = Runtime.from_environment()
reconciler = Reconciler(
    connections=runtime.config.connections,
    store_for=runtime.store,
    state=runtime.state,
    audit=runtime.audit,
    queue=runtime.sync_queue,
    lease_s=RECONCILE.timeout_s,
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return reconciler.run(poll_request(event)).model_dump(mode="json")

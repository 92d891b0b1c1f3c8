"""EventBridge schedule: refresh every QBO connection's tokens so a quiet store stays connected."""

from __future__ import annotations

from typing import Any

from connector.coldstart import collector_paused

# Nothing is collected while the handler's modules load (connector.coldstart).
with collector_paused():
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from connector.ledgers.qbo.keepalive import refresh_all
    from connector.observability import logger, metrics, tracer
    from connector.runtime import Runtime

    runtime = Runtime.from_environment()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return refresh_all(runtime.config.connections, runtime.qbo_tokens).model_dump()

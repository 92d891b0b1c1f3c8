"""GET /oauth/qbo/connect/{connection_id} and GET /oauth/qbo/callback."""

from __future__ import annotations

from functools import cache
from typing import Any

from connector.coldstart import collector_paused

# Nothing is collected while the handler's modules load (connector.coldstart).
with collector_paused():
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
    from aws_lambda_powertools.logging import correlation_paths
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from connector.ledger_realms import LedgerRealms
    from connector.ledgers.qbo.connect import Page, QboConnect
    from connector.ledgers.qbo.connect_links import LinkKey
    from connector.observability import logger, metrics, tracer
    from connector.runtime import Runtime

    runtime = Runtime.from_environment()
    app = APIGatewayRestResolver()


@cache
def _connect() -> QboConnect:
    """Made by the first visit, so that a cold start does not wait for AWS clients."""
    return QboConnect(
        config=runtime.config,
        vault=runtime.vault,
        state=runtime.state,
        audit=runtime.audit,
        link_key=LinkKey(runtime.settings.secret_prefix, client=runtime.secretsmanager),
        http=runtime.http,
        realms=LedgerRealms(runtime.settings.state_table, resource=runtime.dynamodb),
    )


def _base_url() -> str:
    """Where Intuit sends the browser back: the deployment's public URL, else this request's."""
    if runtime.settings.public_base_url:
        return runtime.settings.public_base_url.rstrip("/")
    context = app.current_event.request_context
    return f"https://{context.domain_name}/{context.stage}"


def _answer(page: Page) -> Response[str]:
    headers = {"Location": page.location} if page.location else None
    return Response(
        status_code=page.status,
        content_type=content_types.TEXT_HTML,
        body=page.html(),
        headers=headers,
    )


@app.get("/oauth/qbo/connect/<connection_id>")
def start(connection_id: str) -> Response[str]:
    query = app.current_event.query_string_parameters or {}
    return _answer(_connect().start(connection_id, _base_url(), dict(query)))


@app.get("/oauth/qbo/callback")
def callback() -> Response[str]:
    query = app.current_event.query_string_parameters or {}
    return _answer(
        _connect().callback(
            base_url=_base_url(),
            code=query.get("code"),
            state=query.get("state"),
            realm_id=query.get("realmId"),
            error=query.get("error"),
        )
    )


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

"""POST /qbwc/{connection_id} (the Web Connector's SOAP calls) and GET /qbwc/{connection_id}?wsdl."""

from __future__ import annotations

import base64
from functools import cache
from typing import Any

from connector.coldstart import collector_paused

# Nothing is collected while the handler's modules load (connector.coldstart).
with collector_paused():
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
    from aws_lambda_powertools.logging import correlation_paths
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from connector.config import QbdLedger
    from connector.ledgers.qbd.qbwc import QbwcService
    from connector.ledgers.qbd.qbwc_soap import CONTENT_TYPE, render_wsdl
    from connector.observability import logger, metrics, tracer
    from connector.runtime import Runtime

    runtime = Runtime.from_environment()
    app = APIGatewayRestResolver()


@cache
def _service() -> QbwcService:
    """Made by the first SOAP call, so that a cold start does not wait for AWS clients."""
    return QbwcService.from_runtime(runtime)


def _own_url(connection_id: str) -> str:
    """This endpoint's public URL: the deployment's base URL, else the request's own host."""
    if runtime.settings.public_base_url:
        return f"{runtime.settings.public_base_url.rstrip('/')}/qbwc/{connection_id}"
    context = app.current_event.request_context
    return f"https://{context.domain_name}/{context.stage}/qbwc/{connection_id}"


def _not_desktop(connection_id: str) -> Response[str] | None:
    """404 for a connection this route does not serve (an Online one, or none at all)."""
    connection = runtime.config.connection(connection_id)
    if connection is not None and isinstance(connection.ledger, QbdLedger):
        return None
    return Response(
        status_code=404,
        content_type="text/plain; charset=utf-8",
        body=f"connection {connection_id} is not a Desktop connection\n",
    )


def _body() -> bytes:
    """The request's bytes as sent: XML names its own encoding, and lxml reads it from them."""
    event = app.current_event
    raw = event.body or ""
    return base64.b64decode(raw) if event.is_base64_encoded else raw.encode("utf-8")


@app.post("/qbwc/<connection_id>")
def soap(connection_id: str) -> Response[str]:
    refused = _not_desktop(connection_id)
    if refused is not None:
        return refused
    answer = _service().handle(connection_id, _body())
    return Response(status_code=answer.status, content_type=CONTENT_TYPE, body=answer.body)


@app.get("/qbwc/<connection_id>")
def wsdl(connection_id: str) -> Response[str]:
    refused = _not_desktop(connection_id)
    if refused is not None:
        return refused
    query = app.current_event.query_string_parameters or {}
    if "wsdl" not in {name.lower() for name in query}:
        return Response(
            status_code=200,
            content_type="text/plain; charset=utf-8",
            body="QuickBooks Web Connector endpoint: POST SOAP 1.1 here; the WSDL is at ?wsdl\n",
        )
    return Response(
        status_code=200, content_type=CONTENT_TYPE, body=render_wsdl(_own_url(connection_id))
    )


# clear_state: the service labels lines with the call's connection and method, and a warm
# container's next invocation must not inherit them.
@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

"""An HTTP front door that speaks API Gateway's REST API (v1) Lambda proxy integration.

Requests are matched against the declared routes, turned into the proxy event
API Gateway would send, handed to the function, and the function's proxy
response is written back. Where no route matches, where a body is too large and
where the function fails, the answers are API Gateway's own defaults.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from connector.resources import FunctionSpec, Route

log = logging.getLogger(__name__)

# REST API payload quota: larger requests are refused before any function runs.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
STAGE = "local"
API_ID = "local"

# What API Gateway answers itself (its default gateway responses).
MISSING_ROUTE = (403, {"message": "Missing Authentication Token"})
TOO_LARGE = (413, {"message": "Request Too Long"})
FUNCTION_FAILED = (502, {"message": "Internal server error"})
TIMED_OUT = (504, {"message": "Endpoint request timed out"})
# API Gateway stops waiting for an integration after 29 seconds.
INTEGRATION_TIMEOUT_S = 29.0


@dataclass(frozen=True)
class RouteMatch:
    spec: FunctionSpec
    route: Route
    path_parameters: dict[str, str]


class _CompiledRoute:
    def __init__(self, spec: FunctionSpec, route: Route) -> None:
        self.spec = spec
        self.route = route
        pattern = ""
        for segment in route.path.strip("/").split("/"):
            if not segment:
                continue
            if segment.startswith("{") and segment.endswith("+}"):
                # A greedy proxy parameter spans the rest of the path.
                pattern += f"/(?P<{segment[1:-2]}>.+)"
            elif segment.startswith("{") and segment.endswith("}"):
                pattern += f"/(?P<{segment[1:-1]}>[^/]+)"
            else:
                pattern += "/" + re.escape(segment)
        self.regex = re.compile(f"^{pattern or '/'}/?$")

    def match(self, method: str, path: str) -> RouteMatch | None:
        if method != self.route.method:
            return None
        found = self.regex.match(path)
        if found is None:
            return None
        params = {name: unquote(value) for name, value in found.groupdict().items()}
        return RouteMatch(self.spec, self.route, params)


class RouteTable:
    """Every function's routes, matched as API Gateway resources are."""

    def __init__(self, functions: tuple[FunctionSpec, ...]) -> None:
        self._routes = [_CompiledRoute(spec, route) for spec in functions for route in spec.routes]
        # Literal segments win over parameters, as API Gateway prefers the most specific resource.
        self._routes.sort(key=lambda r: r.route.path.count("{"))

    def match(self, method: str, path: str) -> RouteMatch | None:
        for route in self._routes:
            found = route.match(method, path)
            if found is not None:
                return found
        return None


def _is_text(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def proxy_event(
    *,
    match: RouteMatch,
    method: str,
    raw_path: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    account_id: str,
    request_id: str,
) -> dict[str, Any]:
    """The REST API (v1) Lambda proxy event for one request."""
    split = urlsplit(raw_path)
    path = unquote(split.path)
    query_pairs = parse_qsl(split.query, keep_blank_values=True)
    single_headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        single_headers[name] = value  # the last value wins, as in API Gateway
        multi_headers.setdefault(name, []).append(value)
    single_query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for name, value in query_pairs:
        single_query[name] = value
        multi_query.setdefault(name, []).append(value)
    text = _is_text(body)
    now = time.time()
    host = single_headers.get("Host", "127.0.0.1")
    return {
        "resource": match.route.path,
        "path": path,
        "httpMethod": method,
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": single_query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": match.path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": uuid.uuid5(uuid.NAMESPACE_URL, match.route.path).hex[:6],
            "resourcePath": match.route.path,
            "httpMethod": method,
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "path": f"/{STAGE}{path}",
            "accountId": account_id,
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "domainPrefix": host.split(":")[0].split(".")[0],
            "requestTimeEpoch": int(now * 1000),
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": source_ip,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": single_headers.get("User-Agent"),
                "user": None,
            },
            "domainName": host,
            "apiId": API_ID,
        },
        "body": (body.decode("utf-8") if text else base64.b64encode(body).decode("ascii"))
        if body
        else None,
        "isBase64Encoded": bool(body) and not text,
    }


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def gateway_answer(status_and_payload: tuple[int, dict[str, str]], request_id: str) -> HttpAnswer:
    status, payload = status_and_payload
    return HttpAnswer(
        status,
        [
            ("Content-Type", "application/json"),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", _ERROR_TYPES.get(status, "")),
        ],
        json.dumps(payload).encode("utf-8"),
    )


_ERROR_TYPES = {
    403: "MissingAuthenticationTokenException",
    413: "RequestTooLargeException",
    502: "InternalServerErrorException",
    504: "IntegrationTimeout",
}


class MalformedProxyResponse(ValueError):
    """The function's answer is not a Lambda proxy response."""


def answer_from_proxy_response(response: Any, request_id: str) -> HttpAnswer:
    """The HTTP answer API Gateway writes for a function's proxy response."""
    if not isinstance(response, Mapping):
        raise MalformedProxyResponse(f"expected a JSON object, got {type(response).__name__}")
    # REST APIs (unlike HTTP APIs) need statusCode; without it the answer is malformed.
    status: Any = response.get("statusCode")
    try:
        status = int(status)
    except (TypeError, ValueError) as exc:
        raise MalformedProxyResponse(f"statusCode {status!r} is not a number") from exc
    headers: list[tuple[str, str]] = []
    for name, value in (response.get("headers") or {}).items():
        headers.append((str(name), str(value)))
    for name, values in (response.get("multiValueHeaders") or {}).items():
        if not isinstance(values, list):
            raise MalformedProxyResponse(f"multiValueHeaders[{name!r}] is not a list")
        headers.extend((str(name), str(value)) for value in values)
    raw_body = response.get("body")
    if raw_body is None:
        body = b""
    elif not isinstance(raw_body, str):
        raise MalformedProxyResponse(f"body must be a string, got {type(raw_body).__name__}")
    elif response.get("isBase64Encoded"):
        body = base64.b64decode(raw_body)
    else:
        body = raw_body.encode("utf-8")
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    headers.append(("x-amzn-RequestId", request_id))
    return HttpAnswer(status, headers, body)


Invoke = Callable[[FunctionSpec, dict[str, Any]], Any]


class _GatewayRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY: the headers and the body go out as two writes, and on a kept-alive
    # connection Nagle would hold the body until the client's delayed ACK (~40 ms a request).
    disable_nagle_algorithm = True
    server: _GatewayServer

    def _dispatch(self) -> None:
        request_id = str(uuid.uuid4())
        answer = self._answer(request_id)
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    def _answer(self, request_id: str) -> HttpAnswer:
        gateway = self.server.gateway
        body = self._read_body()
        if body is None:
            return gateway_answer(TOO_LARGE, request_id)
        match = gateway.routes.match(self.command, unquote(urlsplit(self.path).path))
        if match is None:
            return gateway_answer(MISSING_ROUTE, request_id)
        event = proxy_event(
            match=match,
            method=self.command,
            raw_path=self.path,
            headers=_header_pairs(self.headers),
            body=body,
            source_ip=self.client_address[0],
            account_id=gateway.account_id,
            request_id=request_id,
        )
        started = time.monotonic()
        try:
            response = gateway.invoke(match.spec, event)
            answer = answer_from_proxy_response(response, request_id)
        except Exception:
            log.exception("function %s failed on %s %s", match.spec.name, self.command, self.path)
            answer = gateway_answer(FUNCTION_FAILED, request_id)
        if time.monotonic() - started > INTEGRATION_TIMEOUT_S:
            log.error(
                "function %s took over %ss on %s", match.spec.name, INTEGRATION_TIMEOUT_S, self.path
            )
            return gateway_answer(TIMED_OUT, request_id)
        return answer

    def _read_body(self) -> bytes | None:
        """The request body, or None when it is over the payload limit.

        An oversized body is still read and dropped, so the client gets the
        413 answer rather than a reset connection.
        """
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # Skip trailer fields up to the blank line that ends the body.
                    line = self.rfile.readline()
                    while line not in (b"\r\n", b"\n", b""):
                        line = self.rfile.readline()
                    break
                chunk = self.rfile.read(size)
                self.rfile.readline()
                total += len(chunk)
                if total <= MAX_PAYLOAD_BYTES:
                    chunks.append(chunk)
            return b"".join(chunks) if total <= MAX_PAYLOAD_BYTES else None
        length = int(self.headers.get("Content-Length") or 0)
        if length <= MAX_PAYLOAD_BYTES:
            return self.rfile.read(length) if length else b""
        remaining = length
        while remaining > 0:
            dropped = self.rfile.read(min(remaining, 1024 * 1024))
            if not dropped:
                break
            remaining -= len(dropped)
        return None

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("gateway: " + format, *args)


def _header_pairs(headers: Message) -> list[tuple[str, str]]:
    return [(name, value) for name, value in headers.items()]


class _GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], gateway: Gateway) -> None:
        super().__init__(address, _GatewayRequestHandler)
        self.gateway = gateway


class Gateway:
    """Serves the declared routes on 127.0.0.1 until ``stop()``."""

    def __init__(
        self,
        functions: tuple[FunctionSpec, ...],
        invoke: Invoke,
        *,
        account_id: str,
        port: int = 0,
    ) -> None:
        self.routes = RouteTable(functions)
        self.invoke = invoke
        self.account_id = account_id
        self._server = _GatewayServer(("127.0.0.1", port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="local-gateway", daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

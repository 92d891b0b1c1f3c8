"""A fault proxy in front of moto's SQS: SendMessage refused as AWS refuses it, the rest passed on.

The functions of a local runtime reach SQS through it when the runtime's environment sets
``AWS_ENDPOINT_URL_SQS`` to its address (botocore's per-service endpoint, which outranks
``AWS_ENDPOINT_URL``); the runtime's own queue pollers keep talking to moto directly.
While ``refusing`` is on, every ``AmazonSQS.SendMessage`` is answered with the JSON
protocol's error shape from the SQS developer guide ("Interpreting Amazon SQS JSON API
responses"): HTTP 400, ``x-amzn-query-error: AWS.SimpleQueueService.NonExistentQueue;Sender``
and ``{"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": …}``. botocore does not
retry it, so the caller sees the refusal at once.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlencode

import httpx

from simulators.httpserver import LoopbackServer, Request, Response

ENV_SQS_ENDPOINT = "AWS_ENDPOINT_URL_SQS"
_SEND = "AmazonSQS.SendMessage"
# Hop-by-hop and length headers the proxy sets itself.
_DROPPED = frozenset({"host", "content-length", "connection", "transfer-encoding"})


class SqsFaultProxy:
    """Serves on loopback; ``target`` is moto's endpoint once the runtime has started."""

    def __init__(self) -> None:
        self.target = ""
        self.refusing = False
        self.refused = 0  # SendMessage calls refused
        self.passed = 0  # SendMessage calls passed on
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=30)
        self._server = LoopbackServer(self.handle)

    @property
    def base_url(self) -> str:
        return self._server.base_url

    def start(self) -> SqsFaultProxy:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        self._http.close()

    @contextmanager
    def refusal(self) -> Iterator[None]:
        """SendMessage is refused inside the block."""
        self.refusing = True
        try:
            yield
        finally:
            self.refusing = False

    def handle(self, request: Request) -> Response:
        if not self.target:
            return Response.of_text("the proxy has no SQS endpoint yet", 503)
        sending = request.headers.get("x-amz-target") == _SEND
        if sending and self.refusing:
            with self._lock:
                self.refused += 1
            return _queue_does_not_exist()
        if sending:
            with self._lock:
                self.passed += 1
        query = urlencode([(k, v) for k, values in request.query.items() for v in values])
        answer = self._http.request(
            request.method,
            self.target.rstrip("/") + request.path + (f"?{query}" if query else ""),
            content=request.body,
            headers={k: v for k, v in request.headers.items() if k not in _DROPPED},
        )
        headers = {k: v for k, v in answer.headers.items() if k.lower() not in _DROPPED}
        headers.pop("content-encoding", None)  # httpx has decoded the body already
        return Response(answer.status_code, answer.content, headers)


def _queue_does_not_exist() -> Response:
    body = {
        "__type": "com.amazonaws.sqs#QueueDoesNotExist",
        "message": "The specified queue does not exist.",
    }
    return Response(
        400,
        json.dumps(body).encode("utf-8"),
        {
            "x-amzn-RequestId": str(uuid.uuid4()),
            "x-amzn-query-error": "AWS.SimpleQueueService.NonExistentQueue;Sender",
            "Content-Type": "application/x-amz-json-1.0",
        },
    )

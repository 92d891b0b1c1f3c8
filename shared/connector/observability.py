"""One logger, one metrics and one tracer for the whole library (Powertools).

The tracer is Powertools' Tracer only where X-Ray can receive traces (Powertools' own rule:
inside Lambda, unless POWERTOOLS_TRACE_DISABLED). Powertools imports the X-Ray SDK whenever a
Tracer is made, disabled or not, so elsewhere (tests, the local runtime, the CLI) handlers get
``Untraced``, whose decorators return the function as it is.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice

SERVICE = "ml-connector"
NAMESPACE = "MlConnector"
# The libraries the connector calls out with; X-Ray's patch_all would also import and patch
# requests, sqlite3 and every database driver it finds installed. botocore is patched with the
# tracer (every function calls AWS); httpx by trace_http, before the first HTTP client is made
# (connector.runtime), so that ingest and the Web Connector's function, which call no one over
# HTTP, do not import httpx for it.
TRACED_AT_IMPORT = ("botocore",)


def tracing_enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether Powertools' Tracer would trace here (it disables itself otherwise)."""
    if resolve_truthy_env_var_choice(env=environ.get("POWERTOOLS_TRACE_DISABLED", "false")):
        return False
    local = environ.get("AWS_SAM_LOCAL") or environ.get("AWS_CHALICE_CLI_MODE")
    return bool(environ.get("LAMBDA_TASK_ROOT")) and not local


class Untraced:
    """Tracer's two decorators, for where nothing is traced: the function runs undecorated."""

    def capture_lambda_handler(
        self,
        lambda_handler: Callable[..., Any] | None = None,
        capture_response: bool | None = None,
        capture_error: bool | None = None,
    ) -> Callable[..., Any]:
        return lambda_handler if lambda_handler is not None else _unchanged

    def capture_method(
        self,
        method: Callable[..., Any] | None = None,
        capture_response: bool | None = None,
        capture_error: bool | None = None,
    ) -> Callable[..., Any]:
        return method if method is not None else _unchanged

    def patch(self, modules: Sequence[str] | None = None) -> None:
        """Nothing to patch where nothing is traced."""


def _unchanged(function: Callable[..., Any]) -> Callable[..., Any]:
    return function


logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)
tracer: Tracer | Untraced = (
    Tracer(service=SERVICE, patch_modules=TRACED_AT_IMPORT) if tracing_enabled() else Untraced()
)


def trace_http() -> None:
    """X-Ray's httpx patch where the tracer traces: it swaps httpx.Client for an instrumented
    subclass, so it must come before the client is made. Patching twice patches once."""
    tracer.patch(modules=("httpx",))


# httpx logs each request URL at INFO; over plain http (OAuth 1.0a) that URL carries
# the WooCommerce consumer key, which must not reach the logs.
logging.getLogger("httpx").setLevel(logging.WARNING)

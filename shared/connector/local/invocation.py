"""One invocation of a handler as Lambda runs it: a fresh context, the function's timeout,
no metrics left over. Shared by the runtime's own threads and its worker processes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from connector.local.context import new_context
from connector.observability import metrics
from connector.resources import FunctionSpec

Handler = Callable[[dict[str, Any], Any], Any]


class FunctionTimedOut(RuntimeError):
    """A function ran past its FunctionSpec.timeout_s."""


def run_handler(
    handler: Handler,
    spec: FunctionSpec,
    event: dict[str, Any],
    *,
    tenant: str,
    region: str,
    account_id: str,
) -> Any:
    """Runs ``handler`` on ``event``; raises FunctionTimedOut past the function's timeout."""
    context = new_context(tenant=tenant, spec=spec, region=region, account_id=account_id)
    started = time.monotonic()
    try:
        result = handler(event, context)
    finally:
        if is_metrics_disabled():
            # Powertools keeps disabled metrics after a flush and prints them once
            # 100 pile up; an invocation's metrics must not outlive it, as on Lambda.
            metrics.clear_metrics()
    elapsed = time.monotonic() - started
    if elapsed > spec.timeout_s:
        # Lambda would have stopped the function and discarded its answer;
        # a thread cannot be stopped, but its answer can be discarded.
        raise FunctionTimedOut(
            f"{context.function_name}: task timed out after {spec.timeout_s} seconds "
            f"(ran {elapsed:.2f} s)"
        )
    return result

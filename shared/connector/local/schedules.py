"""Fires scheduled functions with the events an EventBridge rate rule sends."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from connector.resources import FunctionSpec

log = logging.getLogger(__name__)


def rule_name(tenant: str, spec: FunctionSpec) -> str:
    return f"ml-connector-{tenant}-{spec.name}-schedule"


def scheduled_event(
    *, rule_arn: str, account_id: str, region: str, detail: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The "Scheduled Event" an EventBridge schedule delivers to its target.

    A schedule's own event has an empty ``detail``; an operator (or a test) asking for a run
    now puts its request there, e.g. ``{"poll": "now"}`` for the reconcile function.
    """
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": region,
        "resources": [rule_arn],
        "detail": dict(detail or {}),
    }


Invoke = Callable[[FunctionSpec, dict[str, Any]], Any]


class Schedule:
    """Invokes one function every ``schedule_minutes`` from a background thread."""

    def __init__(
        self, *, spec: FunctionSpec, tenant: str, account_id: str, region: str, invoke: Invoke
    ) -> None:
        if not spec.schedule_minutes:
            raise ValueError(f"function {spec.name!r} has no schedule")
        self.spec = spec
        self.rule_arn = f"arn:aws:events:{region}:{account_id}:rule/{rule_name(tenant, spec)}"
        self._account_id = account_id
        self._region = region
        self._invoke = invoke
        self._period_s = spec.schedule_minutes * 60
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"local-schedule-{spec.name}", daemon=True
        )

    def fire(self, detail: Mapping[str, Any] | None = None) -> Any:
        """Invokes the function now with ``detail`` in its event; returns what it returned."""
        event = scheduled_event(
            rule_arn=self.rule_arn, account_id=self._account_id, region=self._region, detail=detail
        )
        return self._invoke(self.spec, event)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.ident is not None:  # a schedule fired only on demand never started
            self._thread.join(timeout=self.spec.timeout_s)

    def _run(self) -> None:
        # A rate rule first fires one period after it is created.
        while not self._stopping.wait(self._period_s):
            try:
                self.fire()
            except Exception:
                # EventBridge retries a failed async invocation; locally the next period does.
                log.exception("scheduled function %s failed", self.spec.name)

"""Queue-triggered functions in processes of their own, as Lambda runs them beside the API.

In one process every thread shares one interpreter lock: while the sync worker drains a
backlog (its handler, boto3 and the JSON it parses), the gateway's ingest answers wait
their turn for it. ``ProcessPoller`` runs a function's ``QueuePoller`` in a child Python
(``python -m connector.local.worker_process``: a fresh interpreter, so nothing of the caller's
``__main__`` or its threads is copied) that imports the handler with the runtime's
environment and talks to the same moto server over HTTP. The queue's semantics stay SQS's
own: the child receives, deletes and hands back through the queue. What
``LocalRuntime.drain`` needs to know (a batch in flight, a record handed back) crosses over
in flags kept in a small memory-mapped file both processes see at once.
"""

from __future__ import annotations

import base64
import logging
import mmap
import os
import pickle
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connector.local.aws import LocalQueue
from connector.local.invocation import run_handler
from connector.local.queues import QueuePoller
from connector.resources import FunctionSpec

log = logging.getLogger(__name__)

# How long a child may take to import its handler before the runtime gives up on it.
_START_TIMEOUT_S = 60.0
# Offsets of the one-byte flags in the shared file.
_READY, _BUSY, _HOLDING, _STOP = range(4)


@dataclass(frozen=True)
class _Assignment:
    """What the child is told on its standard input."""

    spec: FunctionSpec
    queue: LocalQueue
    tenant: str
    account_id: str
    region: str
    poll_interval_s: float
    flags_path: str


class _Flags:
    def __init__(self, path: str) -> None:
        self._file = open(path, "r+b")  # noqa: SIM115 - kept open as long as the map
        self._map = mmap.mmap(self._file.fileno(), 4)

    def get(self, index: int) -> bool:
        return self._map[index] == 1

    def set(self, index: int, value: bool) -> None:
        self._map[index] = 1 if value else 0

    def close(self) -> None:
        self._map.close()
        self._file.close()


class WorkerFailedToStart(RuntimeError):
    """A worker process could not import its handler or reach the embedded AWS."""


class ProcessPoller:
    """Feeds one queue to one function from a child process; ``busy``/``holding`` as
    QueuePoller's, read from flags the child keeps."""

    def __init__(
        self,
        *,
        spec: FunctionSpec,
        queue: LocalQueue,
        env: Mapping[str, str],
        unset: tuple[str, ...],
        tenant: str,
        account_id: str,
        region: str,
        poll_interval_s: float,
    ) -> None:
        self.spec = spec
        self.queue = queue
        self._dir = tempfile.TemporaryDirectory(prefix="connector-worker-")
        flags_path = Path(self._dir.name) / "flags"
        flags_path.write_bytes(bytes(4))
        self._flags = _Flags(str(flags_path))
        self._assignment = _Assignment(
            spec, queue, tenant, account_id, region, poll_interval_s, str(flags_path)
        )
        child_env = {k: v for k, v in os.environ.items() if k not in unset}
        child_env.update(env)
        # The child finds the same modules as this process (tests put shared/ on sys.path).
        child_env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self._env = child_env
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def busy(self) -> bool:
        # Not yet polling counts as busy: drain() must not call a queue quiet before its
        # worker has even looked at it.
        return self._flags.get(_BUSY) or not self._flags.get(_READY)

    @property
    def holding(self) -> bool:
        return self._flags.get(_HOLDING)

    def start(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "connector.local.worker_process"],
            stdin=subprocess.PIPE,
            env=self._env,
        )
        assert self._process.stdin is not None
        self._process.stdin.write(base64.b64encode(pickle.dumps(self._assignment)))
        self._process.stdin.close()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._flags.get(_READY):
            if self._process.poll() is not None or time.monotonic() >= deadline:
                code = self._process.poll()
                self.stop()
                raise WorkerFailedToStart(
                    f"the worker process of {self.spec.name!r} did not start "
                    f"(exit code {code}); its error is on stderr"
                )
            time.sleep(0.02)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            self._flags.set(_STOP, True)
            try:
                process.wait(timeout=self.spec.timeout_s)
            except subprocess.TimeoutExpired:
                process.terminate()
                process.wait(timeout=5)
        self._flags.close()
        self._dir.cleanup()


def _serve(assignment: _Assignment) -> None:
    """The child: a fresh Lambda environment for one function, polling until told to stop."""
    import boto3

    from connector.local.runtime import load_handler

    flags = _Flags(assignment.flags_path)
    spec, queue, region = assignment.spec, assignment.queue, assignment.region
    handler = load_handler(spec.handler)
    sqs = boto3.session.Session().client("sqs", region_name=region)

    def invoke(function: FunctionSpec, event: dict[str, Any]) -> Any:
        return run_handler(
            handler,
            function,
            event,
            tenant=assignment.tenant,
            region=region,
            account_id=assignment.account_id,
        )

    poller = QueuePoller(
        spec=spec,
        queue=queue,
        sqs=sqs,
        invoke=invoke,
        region=region,
        poll_interval_s=assignment.poll_interval_s,
    )
    parent = os.getppid()
    flags.set(_BUSY, True)
    flags.set(_READY, True)
    # A runtime killed outright never sets the stop flag: its worker leaves with it.
    while not flags.get(_STOP) and os.getppid() == parent:
        # Set before the receive and cleared only once the holding flag is current, so that
        # drain() (busy, then holding, then SQS's counters) never misses a message.
        flags.set(_BUSY, True)
        try:
            delivered = poller.poll_once()
        except Exception:
            log.exception("polling %s for %s failed", queue.name, spec.name)
            delivered = 0
        finally:
            flags.set(_HOLDING, poller.holding)
            flags.set(_BUSY, False)
        if not delivered:
            time.sleep(assignment.poll_interval_s)
    flags.close()


def main() -> None:
    """The child's entry point (connector.local.worker_process)."""
    # The function's own log level (Powertools' variable) for what the poller logs too.
    logging.basicConfig(level=os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING").upper())
    # Unpickling is safe here: the bytes come from the parent runtime, on a pipe it opened.
    _serve(pickle.loads(base64.b64decode(sys.stdin.buffer.read())))

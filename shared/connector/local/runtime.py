"""``LocalRuntime``: the tenant's deployment on a laptop, with the real handlers.

It starts the embedded AWS (moto's server), creates the declared tables, queues
and secrets, points the process environment at them, imports each function's
handler by its dotted path, and then serves the routes over HTTP, feeds the
queues to their functions and fires the schedules, all in this process.

Handlers run in-process, so the environment they read is this process's
``os.environ``: ``start()`` sets it before importing any handler (handlers read
their settings at import or cold start) and ``stop()`` puts back what was there.
Two consequences: a handler module imported earlier in the process keeps
whatever it cached at its first import, and runtimes that overlap must stop in
the reverse order of starting. Each runtime's AWS resources live in an account
of its own (see connector.local.aws), so overlapping runtimes never see each
other's tables, queues or secrets.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import secrets as token_source
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import boto3
from pydantic import SecretStr

from connector import cli_target, resources
from connector.config import parse_tenant_json
from connector.local.aws import REGION, EmbeddedAws, LocalQueue
from connector.local.context import function_physical_name
from connector.local.gateway import Gateway
from connector.local.invocation import FunctionTimedOut, Handler, run_handler
from connector.local.queues import QueuePoller
from connector.local.schedules import Schedule
from connector.local.workers import ProcessPoller
from connector.resources import QUEUES, TABLES, FunctionSpec, QueueSpec, TableSpec

log = logging.getLogger(__name__)

__all__ = ["FunctionTimedOut", "LocalRuntime", "load_handler"]

# Variables that would send boto3 to a real account or profile instead of moto.
_UNSET_WHILE_RUNNING = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
)
DEFAULT_LOCAL_VISIBILITY_TIMEOUT_S = 2


def load_handler(dotted: str) -> Handler:
    """Imports (cold-starts) ``module.attribute`` and returns the handler it names."""
    module_name, _, attribute = dotted.rpartition(".")
    if not module_name:
        raise ValueError(f"handler {dotted!r} is not a dotted path module.attribute")
    # Each runtime is a fresh Lambda environment: a module imported by an earlier
    # runtime in this process is reloaded so that it reads this runtime's settings.
    loaded = sys.modules.get(module_name)
    module = importlib.reload(loaded) if loaded else importlib.import_module(module_name)
    try:
        handler = getattr(module, attribute)
    except AttributeError as exc:
        raise ValueError(f"handler {dotted!r}: module {module_name} has no {attribute}") from exc
    if not callable(handler):
        raise ValueError(f"handler {dotted!r} is not callable")
    return handler


class LocalRuntime:
    """The declared functions, tables, queues and schedules, running locally.

    ``visibility_timeout_override_s`` replaces each queue's visibility timeout
    (720 s when deployed, six times the worker timeout) so that a record the
    worker reports as failed comes back within seconds on a laptop; ``None``
    keeps the declared value. A batch that outlives the short timeout is not
    handed out twice: each function has one poller, which receives again only
    after it has finished and deleted the previous batch.

    Without ``functions``, it runs what the tenant's stack deploys: the functions and
    tables connector.resources.select picks for the ledgers of ``tenant_config_json``.
    Given ``functions`` (a test's own), every declared table is created unless ``tables``
    says otherwise.
    """

    def __init__(
        self,
        *,
        tenant: str,
        tenant_config_json: str,
        port: int = 0,
        functions: tuple[FunctionSpec, ...] | None = None,
        tables: tuple[TableSpec, ...] | None = None,
        queues: tuple[QueueSpec, ...] = QUEUES,
        secrets: Mapping[str, Mapping[str, Any]] | None = None,
        poll_interval_s: float = 0.2,
        extra_env: Mapping[str, str] | None = None,
        visibility_timeout_override_s: int | None = DEFAULT_LOCAL_VISIBILITY_TIMEOUT_S,
        timed_schedules: bool = True,
        worker_processes: bool = False,
    ) -> None:
        self.tenant = tenant
        self.tenant_config_json = tenant_config_json
        self.port = port
        if functions is None:
            # What the tenant's stack would deploy (connector.resources.select): no Web
            # Connector without a Desktop connection, no OAuth without an Online one.
            config = parse_tenant_json(tenant_config_json)
            selection = resources.select(c.ledger.kind for c in config.connections)
            functions = selection.functions
            tables = selection.tables if tables is None else tables
        self.functions = functions
        self.tables = TABLES if tables is None else tables
        self.queues = queues
        self.secrets = secrets or {}
        self.poll_interval_s = poll_interval_s
        self.extra_env = dict(extra_env or {})
        self.visibility_timeout_override_s = visibility_timeout_override_s
        # False: schedules fire only through fire_schedule (tests and scenarios decide when a
        # poll happens, so a background run cannot take an injected fault or skew a count).
        self.timed_schedules = timed_schedules
        # True: each queue-triggered function polls from a process of its own
        # (connector.local.workers), and moto serves from another (connector.local.
        # moto_process), so a draining backlog does not slow the API's answers.
        # False (tests): in this process, where a test can reach into the handler modules.
        self.worker_processes = worker_processes
        # (function, seconds) per invocation run in this process (not a worker process's):
        # what Lambda would bill, for scripts/bench.py. The newest 100,000 are kept.
        self.invocations: deque[tuple[str, float]] = deque(maxlen=100_000)
        self.base_url = ""
        self.aws_endpoint_url = ""
        self.env: dict[str, str] = {}
        self.table_names: dict[str, str] = {}
        self.local_queues: dict[str, LocalQueue] = {}
        self.secret_names: tuple[str, ...] = ()
        self._aws = EmbeddedAws(REGION, separate_process=worker_processes)
        self._gateway: Gateway | None = None
        self._handlers: dict[str, Handler] = {}
        self._function_locks: dict[str, threading.Lock] = {}
        self._pollers: list[QueuePoller | ProcessPoller] = []
        self._schedules: dict[str, Schedule] = {}
        self._saved_env: dict[str, str | None] | None = None
        self._started = False
        self._lock = threading.Lock()

    @property
    def secret_prefix(self) -> str:
        return resources.secret_prefix(self.tenant)

    @property
    def account_id(self) -> str:
        return self._aws.account_id

    def start(self) -> LocalRuntime:
        if self._started:
            raise RuntimeError("this LocalRuntime is already started")
        self._started = True
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self._check_declarations()
        self._aws.start()
        self.aws_endpoint_url = self._aws.endpoint_url
        self.table_names = self._aws.create_tables(self.tenant, self.tables)
        self.local_queues = self._aws.create_queues(
            self.tenant, self.queues, self.visibility_timeout_override_s
        )
        self.secret_names = self._aws.create_secrets(self.secret_prefix, self.secrets)
        self._seed_connect_link_key()
        # Binding the socket first gives the public base URL the handlers are told.
        self._gateway = Gateway(
            self.functions, self._invoke, account_id=self.account_id, port=self.port
        )
        self.base_url = self._gateway.base_url
        self.env = self._handler_env()
        self._apply_env()
        self._handlers = {spec.name: load_handler(spec.handler) for spec in self.functions}
        self._function_locks = {spec.name: threading.Lock() for spec in self.functions}
        for spec in self.functions:
            if spec.queue_trigger:
                self._pollers.append(self._poller(spec, self.local_queues[spec.queue_trigger]))
            if spec.schedule_minutes:
                self._schedules[spec.name] = Schedule(
                    spec=spec,
                    tenant=self.tenant,
                    account_id=self.account_id,
                    region=REGION,
                    invoke=self._invoke,
                )
        self._gateway.start()
        for poller in self._pollers:
            poller.start()
        if self.timed_schedules:
            for schedule in self._schedules.values():
                schedule.start()
        log.info(
            "local runtime for %s: API %s, AWS %s",
            self.tenant,
            self.base_url,
            self.aws_endpoint_url,
        )

    def _poller(self, spec: FunctionSpec, queue: LocalQueue) -> QueuePoller | ProcessPoller:
        if self.worker_processes:
            return ProcessPoller(
                spec=spec,
                queue=queue,
                env=self.env,
                unset=_UNSET_WHILE_RUNNING,
                tenant=self.tenant,
                account_id=self.account_id,
                region=REGION,
                poll_interval_s=self.poll_interval_s,
            )
        return QueuePoller(
            spec=spec,
            queue=queue,
            sqs=self._aws.client("sqs"),
            invoke=self._invoke,
            region=REGION,
            poll_interval_s=self.poll_interval_s,
        )

    def _seed_connect_link_key(self) -> None:
        """A random key signs this runtime's connect links, as the stack's generated one does."""
        name = resources.connect_link_key_name(self.secret_prefix)
        client = self._aws.client("secretsmanager")
        try:
            client.create_secret(
                Name=name, SecretString=json.dumps({"key": token_source.token_urlsafe(32)})
            )
        except client.exceptions.ResourceExistsException:
            return  # kept: links made before stay valid

    def _check_declarations(self) -> None:
        queue_ids = {spec.logical_id for spec in self.queues}
        for spec in self.functions:
            if spec.queue_trigger and spec.queue_trigger not in queue_ids:
                raise ValueError(
                    f"function {spec.name!r} is triggered by queue {spec.queue_trigger!r}, "
                    "which is not declared"
                )

    def _handler_env(self) -> dict[str, str]:
        env = {
            "AWS_ENDPOINT_URL": self.aws_endpoint_url,
            resources.ENV_AWS_ENDPOINT_URL: self.aws_endpoint_url,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": self._aws.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self._aws.secret_access_key,
            "POWERTOOLS_SERVICE_NAME": resources.SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": resources.SERVICE_NAME,
            "POWERTOOLS_TRACE_DISABLED": "true",
            resources.ENV_TENANT: self.tenant,
            resources.ENV_TENANT_CONFIG: self.tenant_config_json,
            resources.ENV_SECRET_PREFIX: self.secret_prefix,
            resources.ENV_PUBLIC_BASE_URL: self.base_url,
            # Retry delays and circuit cooldowns in seconds where AWS waits hours.
            resources.ENV_RETRY_SCALE: str(resources.LOCAL_RETRY_SCALE),
        }
        for table in self.tables:
            env[table.env_var] = self.table_names[table.logical_id]
        for queue in self.local_queues.values():
            env[queue.spec.env_var] = queue.url
            if queue.spec.dlq_env_var and queue.dlq_url:
                env[queue.spec.dlq_env_var] = queue.dlq_url
        # Every function shares this process, so their own variables must agree.
        owners: dict[str, str] = {}
        for spec in self.functions:
            for name, value in spec.env.items():
                if name in owners and env[name] != value:
                    raise ValueError(
                        f"functions {owners[name]!r} and {spec.name!r} set {name} differently; "
                        "in-process handlers share one environment"
                    )
                owners[name] = spec.name
                env[name] = value
        env.update(self.extra_env)
        return env

    def _apply_env(self) -> None:
        names = [*self.env, *_UNSET_WHILE_RUNNING]
        self._saved_env = {name: os.environ.get(name) for name in names}
        for name in _UNSET_WHILE_RUNNING:
            os.environ.pop(name, None)
        os.environ.update(self.env)
        # boto3's default session caches the credentials it first saw; a fresh Lambda
        # environment has none, so handlers cold-started here must build a new one.
        boto3.DEFAULT_SESSION = None

    def _restore_env(self) -> None:
        if self._saved_env is None:
            return
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = None
        boto3.DEFAULT_SESSION = None

    def _invoke(self, spec: FunctionSpec, event: dict[str, Any]) -> Any:
        handler = self._handlers[spec.name]
        # A Lambda instance runs one event at a time and handlers are written for
        # that; in one process, the same guarantee needs a lock per function.
        with self._function_locks[spec.name]:
            started = time.monotonic()
            try:
                return run_handler(
                    handler,
                    spec,
                    event,
                    tenant=self.tenant,
                    region=REGION,
                    account_id=self.account_id,
                )
            finally:
                self.invocations.append((spec.name, time.monotonic() - started))

    def stop(self) -> None:
        for schedule in self._schedules.values():
            schedule.stop()
        for poller in self._pollers:
            poller.stop()
        if self._gateway is not None:
            self._gateway.stop()
            self._gateway = None
        self._restore_env()
        self._aws.stop()
        self._schedules = {}
        self._pollers = []

    def drain(self, timeout_s: float = 30) -> bool:
        """Waits until every triggering queue is empty and no batch is in flight.

        Returns False if that did not happen within ``timeout_s``. Records the
        worker reported as failed count as not drained until they succeed or
        move to the dead-letter queue.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            if self._quiet():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(self.poll_interval_s, 0.1))

    def _quiet(self) -> bool:
        # Busy flags first: a message received after this check is still counted below. A
        # message handed back to its queue counts until it is surely counted there again.
        if any(poller.busy or poller.holding for poller in self._pollers):
            return False
        sqs = self._aws.client("sqs")
        for poller in self._pollers:
            attributes = sqs.get_queue_attributes(
                QueueUrl=poller.queue.url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            if any(int(count) for count in attributes.values()):
                return False
        return True

    def fire_schedule(self, function_name: str, detail: Mapping[str, Any] | None = None) -> Any:
        """Invokes a scheduled function now, as its schedule would; returns its result.

        ``detail`` becomes the event's detail: ``fire_schedule("reconcile", detail={"poll":
        "now"})`` polls every connection at once, whatever its period.
        """
        try:
            schedule = self._schedules[function_name]
        except KeyError:
            raise KeyError(
                f"no scheduled function {function_name!r}; scheduled: {sorted(self._schedules)}"
            ) from None
        return schedule.fire(detail)

    def outputs(self) -> dict[str, str]:
        """The stack outputs a deployment of this tenant would have (connector.cli_target)."""
        found = {
            cli_target.API_URL: f"{self.base_url}/",  # API Gateway's stage URL ends with "/"
            cli_target.RECONCILE_FUNCTION: function_physical_name(self.tenant, resources.RECONCILE),
        }
        for spec in self.tables:
            found[cli_target.table_output(spec)] = self.table_names[spec.logical_id]
        sync_queue = self.local_queues.get(resources.SYNC_QUEUE.logical_id)
        if sync_queue is not None:
            found[cli_target.SYNC_QUEUE_URL] = sync_queue.url
            found[cli_target.SYNC_DLQ_URL] = sync_queue.dlq_url or ""
        return found

    def endpoint(self) -> cli_target.LocalEndpoint:
        """What the CLI needs to act on this runtime as it acts on a deployed stack."""
        if not self.aws_endpoint_url:
            raise RuntimeError("LocalRuntime.start() must run before its endpoint is known")
        return cli_target.LocalEndpoint(
            tenant=self.tenant,
            pid=os.getpid(),
            region=REGION,
            aws_endpoint_url=self.aws_endpoint_url,
            account_id=self.account_id,
            access_key_id=self._aws.access_key_id,
            secret_access_key=SecretStr(self._aws.secret_access_key),
            base_url=self.base_url,
            outputs=self.outputs(),
        )

    def boto3_client(self, service: str) -> Any:
        """A boto3 client for the embedded AWS, in this runtime's account."""
        return self._aws.client(service)

    def boto3_resource(self, service: str) -> Any:
        """A boto3 resource for the embedded AWS, in this runtime's account."""
        return self._aws.resource(service)

    def __enter__(self) -> LocalRuntime:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

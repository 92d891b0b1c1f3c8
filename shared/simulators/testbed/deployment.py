"""A tenant's deployment on the laptop, wired to the simulators: the one way to start it.

``deployment(tenant, connections, secrets, store=..., qbo=...)`` serves a simulated store
(WooCommerce, BigCommerce or Magento: anything with ``handle(request)``) and the simulated
QuickBooks Online on loopback, starts the ``LocalRuntime`` (moto's AWS, the real handlers)
with the tenant's connections pointed at them, connects every Online connection through the
real OAuth flow, and yields a ``Rig``. A Desktop connection needs no simulator here: the
simulated Web Connector (``Rig.web_connector``) drives ``POST /qbwc/{connection}`` with a
simulated company file.

The ``Rig`` pushes deliveries, waits for the queue to drain, and reads what a bookkeeper or
an on-call engineer looks at: sync state, the audit trail, the dead-letter queue, the
documents QuickBooks holds. ``testbed.online`` and ``testbed.desktop`` build on it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

import httpx

from connector.config import Connection, TenantConfig
from connector.ledgers.posting import Posted
from connector.ledgers.qbd.ledger import QbdLedger
from connector.ledgers.qbd.outbox import OutboxStore
from connector.ledgers.qbo.connect_links import LinkKey, link_url, new_link
from connector.local import LocalRuntime
from connector.messages import SyncMessage
from connector.model import Order, Refund
from connector.resources import ENV_SESSION_TABLE, FUNCTIONS, FunctionSpec
from connector.secrets import LedgerSecrets, SecretVault
from connector.state import AuditEvent, AuditTrail, StateStore, SyncState
from connector.sync_queue import SyncQueue
from simulators.httpserver import LoopbackServer, Request, Response
from simulators.qbd import QbdCompany
from simulators.qbo import LoggedRequest, QboSimulator
from simulators.qbwc import WebConnector
from simulators.woocommerce import WooSimulator
from simulators.woocommerce_webhooks import WebhookSender

TOKEN_PATH = "/oauth2/v1/tokens/bearer"
# A store's REST answer for one order: WooCommerce, BigCommerce V2 and Magento V1 alike.
_ORDER_PATH = re.compile(r"/orders/(\d+)/?$")

QboHook = Callable[[Request], Response | None]
OrderRewrite = Callable[[dict[str, Any]], None]


class StoreSimulator(Protocol):
    def handle(self, request: Request) -> Response: ...


ONE_STORE = "store"  # the name of a deployment's only store


@dataclass(frozen=True)
class Endpoints:
    """Where the simulators answer ("" for one that is not running)."""

    qbo: str = ""
    stores: Mapping[str, str] = field(default_factory=dict)  # by the name the deployment gave

    @property
    def store(self) -> str:
        """The store's address, in a deployment of one store."""
        return self.stores.get(ONE_STORE, "")

    def qbo_ledger(self, **settings: Any) -> dict[str, Any]:
        """A tenant file's ``ledger`` table for the simulated QuickBooks Online."""
        return {
            "kind": "qbo",
            "api_base": self.qbo,
            "token_url": f"{self.qbo}{TOKEN_PATH}",
            "authorize_url": f"{self.qbo}/connect/oauth2",
            **settings,
        }


ConnectionSettings = Mapping[str, Any] | Connection
Connections = Callable[[Endpoints], Sequence[ConnectionSettings]]
Secrets = Mapping[str, Mapping[str, Any]]


@dataclass
class Rig:
    """A running deployment: what the merchant does, and what people look at."""

    runtime: LocalRuntime
    config: TenantConfig
    endpoints: Endpoints = Endpoints()
    stores: dict[str, Any] = field(default_factory=dict)  # the store simulators served, by name
    qbo: Any = None  # the QboSimulator, if one is served
    # Called before the simulated QuickBooks answers; a non-None return answers instead.
    qbo_hook: QboHook | None = None
    # Order id -> an edit of the store's REST answer for it (a plugin that breaks the figures).
    store_rewrites: dict[int, OrderRewrite] = field(default_factory=dict)

    # --- wiring -------------------------------------------------------------------------
    def _qbo_handle(self, request: Request) -> Response:
        hook = self.qbo_hook
        if hook is not None:
            answer = hook(request)
            if answer is not None:
                return answer
        qbo: QboSimulator = self.qbo
        return qbo.handle(request)

    @property
    def store(self) -> Any:
        """The store simulator, in a deployment of one store."""
        return self.stores.get(ONE_STORE)

    def _store_handle(self, name: str, request: Request) -> Response:
        answer: Response = self.stores[name].handle(request)
        match = _ORDER_PATH.search(request.path)
        rewrite = self.store_rewrites.get(int(match.group(1))) if match else None
        if rewrite is None or answer.status != 200:
            return answer
        payload = json.loads(answer.body)
        rewrite(payload)
        headers = {k: v for k, v in answer.headers.items() if k.lower() != "content-length"}
        return Response(answer.status, json.dumps(payload).encode("utf-8"), headers)

    def connection(self, connection_id: str) -> Connection:
        found = self.config.connection(connection_id)
        if found is None:
            raise KeyError(f"the tenant has no connection {connection_id!r}")
        return found

    # --- the embedded AWS -------------------------------------------------------------------
    @property
    def state_store(self) -> StateStore:
        return StateStore(
            self.runtime.env["CONNECTOR_STATE_TABLE"],
            resource=self.runtime.boto3_resource("dynamodb"),
        )

    @property
    def trail(self) -> AuditTrail:
        return AuditTrail(
            self.runtime.env["CONNECTOR_AUDIT_TABLE"],
            resource=self.runtime.boto3_resource("dynamodb"),
            retention_days=self.config.retention_days,
        )

    @property
    def outbox(self) -> OutboxStore:
        return OutboxStore(
            self.runtime.env["CONNECTOR_OUTBOX_TABLE"],
            resource=self.runtime.boto3_resource("dynamodb"),
            retention_days=self.config.retention_days,
        )

    @property
    def vault(self) -> SecretVault:
        return SecretVault(
            self.runtime.secret_prefix, client=self.runtime.boto3_client("secretsmanager")
        )

    @property
    def sqs(self) -> Any:
        return self.runtime.boto3_client("sqs")

    @property
    def queue_url(self) -> str:
        return self.runtime.env["CONNECTOR_SYNC_QUEUE_URL"]

    @property
    def dlq_url(self) -> str:
        return self.runtime.env["CONNECTOR_SYNC_DLQ_URL"]

    def sync_queue(self) -> SyncQueue:
        return SyncQueue(self.queue_url, client=self.sqs)

    # --- the merchant ---------------------------------------------------------------------
    def connect_link(
        self, connection_id: str, *, change_company: bool = False, now: float | None = None
    ) -> str:
        """A signed connect link, as `connector connect-url` makes it (``now``: issued then)."""
        key = LinkKey(
            self.runtime.secret_prefix, client=self.runtime.boto3_client("secretsmanager")
        ).get()
        link = new_link(connection_id, change_company=change_company, now=now)
        return link_url(self.runtime.base_url, key, link)

    def connect(self, connection_id: str) -> httpx.Response:
        """Open a fresh connect link, click "Connect" and let the simulated Intuit approve."""
        page = httpx.get(self.connect_link(connection_id), follow_redirects=True, timeout=30)
        if page.status_code != 200 or "is connected" not in page.text:
            raise RuntimeError(
                f"connecting {connection_id} to QuickBooks failed: "
                f"{page.status_code} {page.text[:300]}"
            )
        return page

    def webhook_url(self, connection_id: str) -> str:
        return f"{self.runtime.base_url}/webhooks/{connection_id}"

    def push(self, connection_id: str, body: bytes, headers: Mapping[str, str]) -> httpx.Response:
        """A delivery to the connection's webhook route, as the store (or its module) sends it."""
        return httpx.post(
            self.webhook_url(connection_id), content=body, headers=dict(headers), timeout=30
        )

    def woo_sender(self, connection_id: str, secret: str) -> WebhookSender:
        """The simulated WooCommerce's webhook for the connection, signed with ``secret``."""
        woo: WooSimulator = self.store
        return WebhookSender(
            woo, target_url=self.webhook_url(connection_id), secret=secret, webhook_id=1
        )

    def drain(self, timeout_s: float = 40) -> None:
        if not self.runtime.drain(timeout_s=timeout_s):
            raise RuntimeError(f"the sync queue did not drain in {timeout_s} s")

    # --- what people look at --------------------------------------------------------------
    def state_of(self, record_key: str) -> SyncState | None:
        """The sync state of ``<connection>#<entity>#<id>``."""
        return self.state_store.get_sync_state(record_key)

    def audit_of(self, record_key: str) -> list[AuditEvent]:
        """The audit trail of ``<connection>#<entity>#<id>``, oldest first."""
        return self.trail.events(record_key)

    def documents(self, entity: str, order_id: int | str) -> list[dict[str, Any]]:
        """QuickBooks Online documents of ``entity`` whose PrivateNote names the store order."""
        qbo: QboSimulator = self.qbo
        return qbo.documents(entity, note=f"(id {order_id})")

    def requests_since(self, mark: int) -> list[LoggedRequest]:
        qbo: QboSimulator = self.qbo
        return list(qbo.request_log[mark:])

    def dead_letters(self) -> list[tuple[SyncMessage, dict[str, str]]]:
        """Every parked message with its attributes, left in place and visible."""
        found: dict[str, tuple[SyncMessage, dict[str, str], str]] = {}
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.dlq_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=30,
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            ).get("Messages", [])
            fresh = [m for m in batch if m["MessageId"] not in found]
            if not fresh:
                break
            for raw in fresh:
                attributes = {
                    name: value.get("StringValue", "")
                    for name, value in raw.get("MessageAttributes", {}).items()
                }
                found[raw["MessageId"]] = (
                    SyncMessage.model_validate_json(raw["Body"]),
                    attributes,
                    raw["ReceiptHandle"],
                )
        for _, _, handle in found.values():
            self.sqs.change_message_visibility(
                QueueUrl=self.dlq_url, ReceiptHandle=handle, VisibilityTimeout=0
            )
        return [(message, attributes) for message, attributes, _ in found.values()]

    def parked(self, connection_id: str, record_id: int | str) -> list[dict[str, str]]:
        """The DLQ attributes of one record's parked messages."""
        return [
            attributes
            for message, attributes in self.dead_letters()
            if message.connection_id == connection_id and message.record_id == str(record_id)
        ]

    def ledger_secret(self, connection_id: str) -> LedgerSecrets:
        return self.vault.ledger(connection_id)

    # --- QuickBooks Desktop ---------------------------------------------------------------
    def qbwc_url(self, connection_id: str) -> str:
        return f"{self.runtime.base_url}/qbwc/{connection_id}"

    def web_connector(
        self, connection_id: str, user: str, password: str, company: QbdCompany, **options: Any
    ) -> WebConnector:
        """The simulated Web Connector, set up with the connection's .qwc and password."""
        return WebConnector(self.qbwc_url(connection_id), user, password, company, **options)

    def desktop_ledger(self, connection_id: str) -> QbdLedger:
        return QbdLedger(
            connection=self.connection(connection_id), outbox=self.outbox, state=self.state_store
        )

    def record_queued(self, record_key: str, posted: Posted) -> None:
        """Record a Desktop ledger's answer as the sync worker does ("queued" until the Web
        Connector runs it)."""
        previous = self.state_store.get_sync_state(record_key)
        start = previous or SyncState(record_key=record_key, status="received", updated_at="")
        status = "queued" if posted.operation == "queued" else posted.operation
        self.state_store.put_sync_state(
            start.model_copy(
                update={
                    "status": status,
                    "ledger_type": posted.ledger_type,
                    "doc_number": posted.doc_number,
                }
            )
        )

    def queue_order(self, connection_id: str, order: Order) -> None:
        """What the sync worker does with an order for a Desktop connection: queue it."""
        key = f"{connection_id}#order#{order.store_id}"
        posted = self.desktop_ledger(connection_id).post_order(order, self.state_of(key))
        self.record_queued(key, posted)

    def queue_order_payment(
        self, connection_id: str, order: Order, credited: Decimal = Decimal("0")
    ) -> None:
        """What the sync worker does for a paid invoice on a Desktop connection (``credited``:
        what refunds credited to the invoice before it was paid)."""
        document = self.state_of(f"{connection_id}#order#{order.store_id}")
        if document is None:
            raise LookupError(f"order {order.store_id} was never queued")
        posted = self.desktop_ledger(connection_id).post_payment(order, document, None, credited)
        self.record_queued(f"{connection_id}#payment#{order.store_id}", posted)

    def queue_order_refund(self, connection_id: str, refund: Refund, order: Order) -> None:
        document = self.state_of(f"{connection_id}#order#{order.store_id}")
        posted = self.desktop_ledger(connection_id).post_refund(refund, order, document, None)
        self.record_queued(f"{connection_id}#refund#{refund.store_id}", posted)

    def queue_refund_withdrawal(self, connection_id: str, refund_id: int | str) -> None:
        key = f"{connection_id}#refund#{refund_id}"
        previous = self.state_of(key)
        if previous is None:
            raise LookupError(f"refund {refund_id} was never queued")
        posted = self.desktop_ledger(connection_id).withdraw_refund(previous, str(refund_id))
        self.record_queued(key, posted)

    def time_passes(self, connection_id: str, seconds: int) -> None:
        """The Web Connector waits ``seconds`` before its next run (its scheduler does in real
        life). The service keeps time by the wall clock, so the wait is played out on the
        session lease it keeps in the session table (active#<connection>/LEASE, alive_until)."""
        table = self._sessions()
        key = {"pk": f"active#{connection_id}", "sk": "LEASE"}
        lease = table.get_item(Key=key, ConsistentRead=True).get("Item")
        if lease and "alive_until" in lease:
            table.update_item(
                Key=key,
                UpdateExpression="SET alive_until = :until",
                ExpressionAttributeValues={":until": int(lease["alive_until"]) - seconds - 1},
            )

    def lapse_sessions(self, connection_id: str) -> None:
        """Time passes: a session that died without closeConnection stops counting as alive."""
        table = self._sessions()
        key = {"pk": f"active#{connection_id}", "sk": "LEASE"}
        if table.get_item(Key=key).get("Item"):
            table.update_item(
                Key=key,
                UpdateExpression="SET alive_until = :past",
                ExpressionAttributeValues={":past": int(time.time()) - 1},
            )

    def _sessions(self) -> Any:
        return self.runtime.boto3_resource("dynamodb").Table(self.runtime.env[ENV_SESSION_TABLE])


@contextmanager
def deployment(
    tenant: str,
    connections: Connections,
    secrets: Secrets | Callable[[TenantConfig], Secrets],
    *,
    store: StoreSimulator | None = None,
    stores: Mapping[str, StoreSimulator] | None = None,
    qbo: QboSimulator | None = None,
    functions: Sequence[FunctionSpec] = FUNCTIONS,
    connect: Sequence[str] | None = None,
    poll_interval_s: float = 0.05,
    rig: type[Rig] = Rig,
    extra_env: Mapping[str, str] | None = None,
    tenant_fields: Mapping[str, Any] | None = None,
    worker_processes: bool = False,
) -> Iterator[Rig]:
    """Serve the simulators, start the runtime and connect the Online connections.

    ``store`` is the one store simulator served (``endpoints.store``), ``stores`` several by
    name (``endpoints.stores[name]``); ``qbo`` the QuickBooks Online company.
    ``connections(endpoints)`` gives the tenant's connections (tenant-file tables or
    ``Connection``s); ``secrets`` each connection's ``store`` and ``ledger`` secrets (or a
    function of the tenant's configuration that gives them);
    ``connect`` which connections to connect through OAuth (default: every QuickBooks Online
    one; ``()`` for none yet); ``rig`` the Rig class to yield (a preset's subclass);
    ``extra_env`` variables the handlers see besides the runtime's (e.g. a retry scale);
    ``tenant_fields`` top-level fields of the tenant file (e.g. ``retention_days``);
    ``worker_processes`` runs the queue workers in processes of their own (LocalRuntime's).
    """
    with ExitStack() as stack:
        box: list[Rig] = []  # the handlers reach the rig, which needs the servers' addresses
        served = dict(stores or {})
        if store is not None:
            served[ONE_STORE] = store
        urls: dict[str, str] = {}

        def route(name: str) -> Callable[[Request], Response]:
            return lambda request: box[0]._store_handle(name, request)

        for name, simulator in served.items():
            server = LoopbackServer(route(name))
            urls[name] = stack.enter_context(server).base_url
            if isinstance(simulator, WooSimulator):
                simulator.home_url = urls[name]  # as WooSimulator.serve() does
        qbo_url = ""
        if qbo is not None:
            qbo_server = LoopbackServer(lambda r: box[0]._qbo_handle(r))
            qbo_url = stack.enter_context(qbo_server).base_url
        endpoints = Endpoints(qbo=qbo_url, stores=urls)
        config = TenantConfig.model_validate(
            {
                "tenant": tenant,
                **(tenant_fields or {}),
                "connections": list(connections(endpoints)),
            }
        )
        runtime = stack.enter_context(
            LocalRuntime(
                tenant=tenant,
                tenant_config_json=config.model_dump_json(),
                functions=tuple(functions),
                secrets=secrets(config) if callable(secrets) else secrets,
                poll_interval_s=poll_interval_s,
                extra_env=extra_env,
                # A test or scenario polls when it says so (fire_schedule), never in between.
                timed_schedules=False,
                worker_processes=worker_processes,
            )
        )
        running = rig(runtime=runtime, config=config, endpoints=endpoints, stores=served, qbo=qbo)
        box.append(running)
        online = [c.id for c in config.connections if c.ledger.kind == "qbo"]
        for connection_id in online if connect is None else connect:
            running.connect(connection_id)
        yield running

"""A tenant's deployment on the laptop, wired to a simulated store and a simulated QuickBooks Online.

``QboRig`` runs the real functions (ingest, sync, oauth, qbo_token) in a
LocalRuntime against moto's server, with a WooSimulator and a QboSimulator
served over loopback HTTP. Connections are connected through the real OAuth
flow. Helpers send signed webhooks, wait for the queue to drain, and read what
a bookkeeper or on-call engineer would look at: sync state, the audit trail,
the dead-letter queue, and the documents QuickBooks holds.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from connector.config import Connection, TenantConfig
from connector.local import LocalRuntime
from connector.messages import SyncMessage
from connector.secrets import LedgerSecrets, SecretVault
from connector.state import AuditEvent, AuditTrail, StateStore, SyncState
from connector.sync_queue import SyncQueue
from simulators.httpserver import LoopbackServer, Request, Response
from simulators.qbo import LoggedRequest, QboSimulator
from simulators.woocommerce import WooSimulator
from simulators.woocommerce_webhooks import WebhookSender

TENANT = "rig"
WEBHOOK_SECRET = "RigWebhookSecret7"
STORE_KEYS = {"consumer_key": "ck_rig", "consumer_secret": "cs_rig"}
QBO_APP = {"client_id": "rig-app", "client_secret": "rig-app-secret"}
TOKEN_PATH = "/oauth2/v1/tokens/bearer"
_ORDER_PATH = re.compile(r"/wc/v3/orders/(\d+)/?$")

QboHook = Callable[[Request], Response | None]


class TickingClock:
    """The store's clock: each reading is at least a second after the previous one.

    WooCommerce stamps date_modified to the second and the ingest deduplicates
    on it, so an edit made in the same second as the last one would look like a
    repeat; a real admin does not edit twice a second, and neither do the tests.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ticks = itertools.count(1)

    def __call__(self) -> float:
        with self._lock:
            return time.time() + next(self._ticks)


def connection_settings(
    connection_id: str,
    *,
    woo_url: str,
    qbo_url: str,
    document: str = "invoice",
    on_cancel: str = "void",
    mapping: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One connection of the rig's tenant, pointed at the simulators."""
    return {
        "id": connection_id,
        "document": document,
        "on_cancel": on_cancel,
        "store": {"kind": "woocommerce", "url": woo_url},
        "ledger": {
            "kind": "qbo",
            "environment": "sandbox",
            "api_base": qbo_url,
            "token_url": f"{qbo_url}{TOKEN_PATH}",
            "authorize_url": f"{qbo_url}/connect/oauth2",
        },
        "mapping": dict(mapping or {}),
    }


@dataclass
class QboRig:
    runtime: LocalRuntime
    woo: WooSimulator
    qbo: QboSimulator
    config: TenantConfig
    qbo_url: str
    # Called before the simulated QuickBooks answers; a non-None return answers instead.
    qbo_hook: QboHook | None = None
    # Order id -> an edit of the store's REST answer for it (a plugin that breaks the figures).
    store_rewrites: dict[int, Callable[[dict[str, Any]], None]] = field(default_factory=dict)

    # --- wiring -------------------------------------------------------------------------
    def _qbo_handle(self, request: Request) -> Response:
        hook = self.qbo_hook
        if hook is not None:
            answer = hook(request)
            if answer is not None:
                return answer
        return self.qbo.handle(request)

    def _woo_handle(self, request: Request) -> Response:
        answer = self.woo.handle(request)
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
        assert found is not None, connection_id
        return found

    @property
    def state(self) -> StateStore:
        return StateStore(
            self.runtime.env["CONNECTOR_STATE_TABLE"],
            resource=self.runtime.boto3_resource("dynamodb"),
        )

    @property
    def trail(self) -> AuditTrail:
        return AuditTrail(
            self.runtime.env["CONNECTOR_AUDIT_TABLE"],
            resource=self.runtime.boto3_resource("dynamodb"),
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
    def connect(self, connection_id: str) -> httpx.Response:
        """Click "Connect to QuickBooks" and let the simulated Intuit approve."""
        page = httpx.get(
            f"{self.runtime.base_url}/oauth/qbo/connect/{connection_id}",
            follow_redirects=True,
            timeout=30,
        )
        assert page.status_code == 200 and "is connected" in page.text, page.text
        return page

    def sender(self, connection_id: str) -> WebhookSender:
        return WebhookSender(
            self.woo,
            target_url=f"{self.runtime.base_url}/webhooks/{connection_id}",
            secret=WEBHOOK_SECRET,
            webhook_id=1,
        )

    def deliver(self, connection_id: str, topic: str, resource_id: int) -> None:
        """One signed webhook from the store; the ingest must accept it."""
        sender = self.sender(connection_id)
        try:
            status = sender.deliver(topic, resource_id)
        finally:
            sender.close()
        assert status == 200, f"{topic} {resource_id} answered {status}"

    def deliver_raw(self, connection_id: str, body: bytes, headers: Mapping[str, str]) -> None:
        sender = self.sender(connection_id)
        try:
            status = sender.deliver_raw(body, headers)
        finally:
            sender.close()
        assert status == 200, f"raw delivery answered {status}"

    def drain(self, timeout_s: float = 40) -> None:
        assert self.runtime.drain(timeout_s=timeout_s), "the sync queue did not drain"

    def sync(self, connection_id: str, topic: str, resource_id: int) -> None:
        self.deliver(connection_id, topic, resource_id)
        self.drain()

    # --- what people look at --------------------------------------------------------------
    def sync_state(self, connection_id: str, order_id: int, entity: str = "order") -> SyncState:
        found = self.state.get_sync_state(f"{connection_id}#{entity}#{order_id}")
        assert found is not None, f"no sync state for {connection_id} {entity} {order_id}"
        return found

    def audit(
        self, connection_id: str, record_id: int | str, entity: str = "order"
    ) -> list[AuditEvent]:
        return self.trail.events(f"{connection_id}#{entity}#{record_id}")

    def events(self, connection_id: str, record_id: int | str, entity: str = "order") -> list[str]:
        return [e.event for e in self.audit(connection_id, record_id, entity)]

    def documents_for(self, entity: str, order_id: int) -> list[dict[str, Any]]:
        """QuickBooks documents whose PrivateNote names this store order id."""
        marker = f"(id {order_id})"
        return [d for d in self.qbo.documents(entity) if marker in str(d.get("PrivateNote", ""))]

    def requests_since(self, mark: int) -> list[LoggedRequest]:
        return list(self.qbo.request_log[mark:])

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

    def parked(self, connection_id: str, order_id: int) -> list[dict[str, str]]:
        """The DLQ attributes of one record's parked messages."""
        return [
            attributes
            for message, attributes in self.dead_letters()
            if message.connection_id == connection_id and message.record_id == str(order_id)
        ]

    def ledger_secret(self, connection_id: str) -> LedgerSecrets:
        return self.vault.ledger(connection_id)


@contextmanager
def qbo_rig(
    connections: Callable[[str, str], list[dict[str, Any]]],
    *,
    connect: tuple[str, ...] | None = None,
    ledger_secrets: Mapping[str, Mapping[str, Any] | None] | None = None,
    country: str = "US",
    store_clock: Callable[[], float] | None = None,
    **company: Any,
) -> Iterator[QboRig]:
    """Start the simulators and the runtime; connect every connection (or ``connect``) by OAuth.

    ``connections(woo_url, qbo_url)`` gives the tenant's connections.
    ``ledger_secrets`` overrides a connection's ledger secret (None: no ledger secret at all).
    ``company`` sets the simulated company's preferences (QboSimulator's keyword arguments).
    """
    woo = WooSimulator(
        consumer_key=STORE_KEYS["consumer_key"],
        consumer_secret=STORE_KEYS["consumer_secret"],
        clock=store_clock or TickingClock(),
        seed=3,
    )
    qbo = QboSimulator(
        client_id=QBO_APP["client_id"],
        client_secret=QBO_APP["client_secret"],
        country=country,
        **company,
    )
    with ExitStack() as stack:
        rig_box: list[QboRig] = []

        woo_server = stack.enter_context(LoopbackServer(lambda r: rig_box[0]._woo_handle(r)))
        woo.home_url = woo_server.base_url  # as WooSimulator.serve() does
        qbo_server = stack.enter_context(LoopbackServer(lambda r: rig_box[0]._qbo_handle(r)))
        config = TenantConfig.model_validate(
            {"tenant": TENANT, "connections": connections(woo_server.base_url, qbo_server.base_url)}
        )
        overrides = dict(ledger_secrets or {})
        secrets: dict[str, dict[str, Any]] = {}
        for connection in config.connections:
            parts: dict[str, Any] = {"store": {**STORE_KEYS, "webhook_secret": WEBHOOK_SECRET}}
            ledger = overrides.get(connection.id, QBO_APP)
            if ledger is not None:
                parts["ledger"] = dict(ledger)
            secrets[connection.id] = parts
        runtime = stack.enter_context(
            LocalRuntime(
                tenant=TENANT,
                tenant_config_json=config.model_dump_json(),
                secrets=secrets,
                poll_interval_s=0.05,
            )
        )
        rig = QboRig(runtime=runtime, woo=woo, qbo=qbo, config=config, qbo_url=qbo_server.base_url)
        rig_box.append(rig)
        for connection_id in connect if connect is not None else [c.id for c in config.connections]:
            rig.connect(connection_id)
        yield rig

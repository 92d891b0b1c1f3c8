"""A tenant whose connections post into the simulated QuickBooks Online.

``qbo_rig(connections)`` is the simulated WooCommerce store and QuickBooks Online company
behind the local runtime (``testbed.deployment``), every connection connected by OAuth; its
``QboRig`` sends signed webhooks by connection and store id. ``qbo_connection`` describes a
connection of any store to the simulated QuickBooks Online, for ``deployment`` with a
BigCommerce or Magento simulator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, cast

from connector.config import TenantConfig
from connector.resources import FUNCTIONS, FunctionSpec
from connector.state import AuditEvent, StateStore, SyncState
from simulators.qbo import QboSimulator
from simulators.testbed.clocks import TickingClock
from simulators.testbed.deployment import TOKEN_PATH, Endpoints, Rig, deployment
from simulators.woocommerce import WooSimulator
from simulators.woocommerce_webhooks import WebhookSender

__all__ = [
    "QBO_APP",
    "STORE_KEYS",
    "TENANT",
    "TOKEN_PATH",
    "WEBHOOK_SECRET",
    "LocalRig",
    "QboRig",
    "QboRigs",
    "connected_runtime",
    "connection_settings",
    "qbo_connection",
    "qbo_rig",
]

TENANT = "rig"
WEBHOOK_SECRET = "RigWebhookSecret7"
STORE_KEYS = {"consumer_key": "ck_rig", "consumer_secret": "cs_rig"}
QBO_APP = {"client_id": "rig-app", "client_secret": "rig-app-secret"}


def connection_settings(
    connection_id: str,
    *,
    woo_url: str,
    qbo_url: str,
    document: str = "invoice",
    on_cancel: str = "void",
    mapping: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One WooCommerce connection of the rig's tenant, pointed at the simulators."""
    return {
        "id": connection_id,
        "document": document,
        "on_cancel": on_cancel,
        "store": {"kind": "woocommerce", "url": woo_url},
        "ledger": Endpoints(qbo=qbo_url).qbo_ledger(environment="sandbox"),
        "mapping": dict(mapping or {}),
    }


def qbo_connection(connection_id: str, store: Mapping[str, Any], qbo_url: str,
                   **settings: Any) -> dict[str, Any]:  # fmt: skip
    """A connection of ``store`` (its tenant-file table) to the simulated QuickBooks Online at
    ``qbo_url``; a fallback item and a shipping item unless ``settings`` give a mapping."""
    return {
        "id": connection_id,
        "store": dict(store),
        "ledger": Endpoints(qbo=qbo_url).qbo_ledger(),
        "mapping": {"fallback_item": "Sales", "shipping_item": "Shipping"},
        **settings,
    }


class QboRig(Rig):
    """The rig of a WooCommerce store: webhooks and readings by connection and store id."""

    @property
    def state(self) -> StateStore:
        return self.state_store

    @property
    def woo(self) -> WooSimulator:
        woo: WooSimulator = self.store
        return woo

    @property
    def qbo_url(self) -> str:
        return self.endpoints.qbo

    def sender(self, connection_id: str) -> WebhookSender:
        return self.woo_sender(connection_id, WEBHOOK_SECRET)

    def deliver(self, connection_id: str, topic: str, resource_id: int) -> None:
        """One signed webhook from the store; the ingest must accept it."""
        sender = self.sender(connection_id)
        try:
            status = sender.deliver(topic, resource_id)
        finally:
            sender.close()
        if status != 200:
            raise AssertionError(f"{topic} {resource_id} answered {status}")

    def deliver_raw(self, connection_id: str, body: bytes, headers: Mapping[str, str]) -> None:
        sender = self.sender(connection_id)
        try:
            status = sender.deliver_raw(body, headers)
        finally:
            sender.close()
        if status != 200:
            raise AssertionError(f"raw delivery answered {status}")

    def sync(self, connection_id: str, topic: str, resource_id: int) -> None:
        self.deliver(connection_id, topic, resource_id)
        self.drain()

    def sync_state(self, connection_id: str, order_id: int, entity: str = "order") -> SyncState:
        found = self.state_of(f"{connection_id}#{entity}#{order_id}")
        if found is None:
            raise AssertionError(f"no sync state for {connection_id} {entity} {order_id}")
        return found

    def audit(
        self, connection_id: str, record_id: int | str, entity: str = "order"
    ) -> list[AuditEvent]:
        return self.audit_of(f"{connection_id}#{entity}#{record_id}")

    def events(self, connection_id: str, record_id: int | str, entity: str = "order") -> list[str]:
        return [e.event for e in self.audit(connection_id, record_id, entity)]


QboRigs = Callable[..., AbstractContextManager[QboRig]]  # qbo_rig, as the tests' fixture


@contextmanager
def qbo_rig(
    connections: Callable[[str, str], list[dict[str, Any]]],
    *,
    connect: tuple[str, ...] | None = None,
    ledger_secrets: Mapping[str, Mapping[str, Any] | None] | None = None,
    country: str = "US",
    store_clock: Callable[[], float] | None = None,
    extra_env: Mapping[str, str] | None = None,
    functions: Sequence[FunctionSpec] = FUNCTIONS,
    **company: Any,
) -> Iterator[QboRig]:
    """The simulated WooCommerce and QuickBooks Online behind the runtime; every connection (or
    ``connect``) connected by OAuth.

    ``connections(woo_url, qbo_url)`` gives the tenant's connections.
    ``ledger_secrets`` overrides a connection's ledger secret (None: no ledger secret at all).
    ``company`` sets the simulated company's preferences (QboSimulator's keyword arguments).
    ``extra_env``: variables the handlers see besides the runtime's (e.g. a retry scale);
    ``functions`` the functions deployed (a test may leave one out to invoke it by hand).
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
    overrides = dict(ledger_secrets or {})

    def secrets(config: TenantConfig) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for connection in config.connections:
            parts: dict[str, Any] = {"store": {**STORE_KEYS, "webhook_secret": WEBHOOK_SECRET}}
            ledger = overrides.get(connection.id, QBO_APP)
            if ledger is not None:
                parts["ledger"] = dict(ledger)
            found[connection.id] = parts
        return found

    with deployment(
        TENANT,
        lambda at: connections(at.store, at.qbo),
        secrets,
        store=woo,
        qbo=qbo,
        connect=connect,
        rig=QboRig,
        extra_env=extra_env,
        functions=functions,
    ) as rig:
        yield cast(QboRig, rig)


class LocalRig(Rig):
    """The rig of simulators the test serves itself: readings by record key."""

    def state(self, record_key: str) -> SyncState | None:
        """The sync state of ``<connection>#<entity>#<id>``."""
        return self.state_of(record_key)

    def events(self, record_key: str) -> list[tuple[str, str]]:
        """(event, outcome) of ``<connection>#<entity>#<id>`` in the audit trail, oldest first."""
        return [(e.event, e.outcome) for e in self.audit_of(record_key)]


@contextmanager
def connected_runtime(
    tenant: str,
    connections: list[dict[str, Any]],
    secrets: Mapping[str, Mapping[str, Any]],
    qbo: QboSimulator,
) -> Iterator[LocalRig]:
    """The runtime serving ``connections`` to simulators the test serves itself (several
    stores, a store behind a fault of its own), each connection authorised against ``qbo``."""
    with deployment(tenant, lambda _: connections, secrets, rig=LocalRig) as rig:
        rig.qbo = qbo  # served by the test; the rig only reads its documents
        yield cast(LocalRig, rig)

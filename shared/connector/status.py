"""How each connection is doing, in one place (`connector status`).

Everything here is read, never written: the health item each function notes
(connector.health), the poll's mark, the parked records, the sync queue's
counters, the circuit breaker's state and the QuickBooks Online refresh
token's expiry (the date only, never the token).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from pydantic import BaseModel

from connector.config import Connection, TenantConfig
from connector.errors import PermanentError
from connector.health import HealthMarks
from connector.secrets import LedgerSecrets, SecretVault
from connector.state import StateStore

# What the table says of a moment nothing has noted yet.
NEVER = "never"


class QueueCounts(BaseModel):
    """The sync queue's counters: one queue serves every connection of the tenant."""

    queued: int
    in_flight: int
    delayed: int
    dead_letters: int | None = None


class ConnectionStatus(BaseModel):
    connection_id: str
    store: str
    ledger: str
    last_webhook_at: datetime | None = None
    last_reconcile_at: datetime | None = None
    last_post_at: datetime | None = None
    parked: int = 0
    circuit: str = "unknown"
    connection: str = "ok"  # or the reconnect message the token keeper recorded
    token_expires_at: datetime | None = None
    token: str = ""  # what is known of the refresh token (never the token itself)
    webhook_health: str | None = None
    webhook_checked_at: datetime | None = None
    web_connector_last_contact_at: datetime | None = None
    web_connector_every_minutes: int | None = None


class TenantStatus(BaseModel):
    tenant: str
    where: str
    at: datetime
    queue: QueueCounts | None = None
    connections: list[ConnectionStatus]


CircuitReader = Callable[[str], str]


def queue_counts(sqs: Any, queue_url: str, dlq_url: str | None) -> QueueCounts:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    dead = None
    if dlq_url:
        dead_attributes = sqs.get_queue_attributes(
            QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        dead = int(dead_attributes["ApproximateNumberOfMessages"])
    return QueueCounts(
        queued=int(attributes["ApproximateNumberOfMessages"]),
        in_flight=int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        delayed=int(attributes["ApproximateNumberOfMessagesDelayed"]),
        dead_letters=dead,
    )


def circuit_reader(state_table: str, resource: Any) -> CircuitReader:
    """A QuickBooks Online company's circuit, by realm id, as connector.circuit keeps it."""
    try:
        circuit = importlib.import_module("connector.circuit")
    except ModuleNotFoundError:  # a deployment from before the circuit breaker
        return lambda _realm_id: "unknown"

    def read(realm_id: str) -> str:
        view = circuit.circuit_view(state_table, realm_id, resource=resource)
        if view.state == "closed":
            return "closed"
        state = "half open (probing)" if view.state == "half_open" else "open"
        retry = f", retry at {view.retry_at:%H:%M:%S} UTC" if view.retry_at else ""
        why = f": {view.last_error}" if view.last_error else ""
        return f"{state} after {view.failures} failures{retry}{why}"

    return read


def ledger_secrets(vault: SecretVault, connection: Connection) -> tuple[LedgerSecrets | None, str]:
    """The QuickBooks Online secret, or why it cannot be read (never its content)."""
    try:
        return vault.ledger(connection.id), ""
    except PermanentError as exc:
        return None, str(exc)
    except GetParameterError:
        return None, "unreadable (Secrets Manager refused)"


def token_expiry(secrets: LedgerSecrets | None, problem: str) -> tuple[datetime | None, str]:
    """The refresh token's hard expiry, and a word on it; never the token."""
    if secrets is None:
        return None, problem
    if secrets.refresh_token is None:
        return None, "not connected"
    stamp = secrets.refresh_hard_expires_at or secrets.refresh_expires_at
    if not stamp:
        return None, "connected (expiry not recorded)"
    moment = datetime.fromisoformat(stamp)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    days = (moment - datetime.now(UTC)).days
    return moment, f"{days} days left" if days >= 0 else "expired: reconnect"


def tenant_status(
    config: TenantConfig,
    *,
    where: str,
    state: StateStore,
    health: HealthMarks,
    vault: SecretVault,
    parked: dict[str, int],
    queue: QueueCounts | None,
    circuit: CircuitReader,
) -> TenantStatus:
    connections = []
    for connection in config.connections:
        noted = health.noted(connection.id)
        mark = state.poll_mark(connection.id)
        reconnect = state.connection_status(connection.id)
        desktop = connection.ledger.kind == "qbd"
        expires: datetime | None = None
        token = circuit_state = "n/a (Desktop)"
        if not desktop:
            secrets, problem = ledger_secrets(vault, connection)
            expires, token = token_expiry(secrets, problem)
            realm = secrets.realm_id if secrets else ""
            circuit_state = circuit(realm) if realm else "unknown (no company connected)"
        connections.append(
            ConnectionStatus(
                connection_id=connection.id,
                store=connection.store.kind,
                ledger="QuickBooks Desktop" if desktop else "QuickBooks Online",
                last_webhook_at=noted.last_webhook_at,
                last_reconcile_at=mark.last_run_at if mark else None,
                last_post_at=noted.last_post_at,
                parked=parked.get(connection.id, 0),
                circuit=circuit_state,
                connection=f"{reconnect[0]}: {reconnect[1]}" if reconnect else "ok",
                token_expires_at=expires,
                token=token,
                webhook_health=noted.webhook_health,
                webhook_checked_at=noted.webhook_checked_at,
                web_connector_last_contact_at=noted.qbwc_last_contact_at,
                web_connector_every_minutes=connection.qbd.run_every_minutes if desktop else None,
            )
        )
    return TenantStatus(
        tenant=config.tenant,
        where=where,
        at=datetime.now(UTC),
        queue=queue,
        connections=connections,
    )


def _when(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return NEVER
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC ({_ago(now - moment)})"


def _ago(delta: Any) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return "in the future"
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


def rows(status: TenantStatus) -> list[tuple[str, list[str]]]:
    """(label, one cell per connection): what the table shows, in order."""
    now = status.at
    each = status.connections

    def web_connector(c: ConnectionStatus) -> str:
        if c.web_connector_every_minutes is None:
            return "n/a (Online)"
        seen = _when(c.web_connector_last_contact_at, now)
        silent = c.web_connector_last_contact_at is None or (
            (now - c.web_connector_last_contact_at).total_seconds()
            > 3 * 60 * c.web_connector_every_minutes
        )
        return seen + (" SILENT" if silent else "")

    def webhooks(c: ConnectionStatus) -> str:
        if c.webhook_health is None:
            return "not checked yet"
        return f"{c.webhook_health} (checked {_when(c.webhook_checked_at, now)})"

    def token(c: ConnectionStatus) -> str:
        if c.token_expires_at is None:
            return c.token
        return f"{c.token_expires_at:%Y-%m-%d} ({c.token})"

    return [
        ("store / ledger", [f"{c.store} -> {c.ledger}" for c in each]),
        ("last webhook", [_when(c.last_webhook_at, now) for c in each]),
        ("last reconcile", [_when(c.last_reconcile_at, now) for c in each]),
        ("last post", [_when(c.last_post_at, now) for c in each]),
        ("parked", [str(c.parked) for c in each]),
        ("circuit", [c.circuit for c in each]),
        ("connection", [c.connection for c in each]),
        ("token expiry", [token(c) for c in each]),
        ("webhook health", [webhooks(c) for c in each]),
        ("Web Connector", [web_connector(c) for c in each]),
    ]


def render(status: TenantStatus) -> str:
    """The table `connector status` prints: one column per connection."""
    header = [f"tenant {status.tenant} ({status.where}) at {status.at:%Y-%m-%d %H:%M:%S} UTC"]
    if status.queue is not None:
        q = status.queue
        dead = "" if q.dead_letters is None else f", {q.dead_letters} in the dead-letter queue"
        header.append(
            f"sync queue (all connections): {q.queued} queued, {q.in_flight} in flight, "
            f"{q.delayed} delayed{dead}"
        )
    table = [("", [c.connection_id for c in status.connections]), *rows(status)]
    label_width = max(len(label) for label, _ in table)
    widths = [max(len(cells[i]) for _, cells in table) for i in range(len(status.connections))]
    lines = [
        "  ".join(
            [label.ljust(label_width), *(c.ljust(w) for c, w in zip(cells, widths, strict=True))]
        ).rstrip()
        for label, cells in table
    ]
    return "\n".join([*header, "", *lines])

"""The composition root: builds the library's parts from a function's settings, once per cold start.

Handlers call ``Runtime.from_environment()`` at import; tests and the local
runtime build one from explicit settings and clients instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
import httpx

from connector.circuit import CircuitBreaker, CircuitChange, CircuitRules
from connector.config import Connection, TenantConfig
from connector.errors import PermanentError
from connector.ledgers.qbd.ledger import QbdLedger
from connector.ledgers.qbd.outbox import OutboxStore
from connector.ledgers.qbo.client import QboClient
from connector.ledgers.qbo.ledger import QboLedger
from connector.ledgers.qbo.tokens import QboTokens
from connector.retry import RetryPolicy
from connector.secrets import SecretVault
from connector.settings import Settings, load_settings
from connector.state import AuditEventType, AuditTrail, StateStore
from connector.stores.port import Store, WebhookReader
from connector.stores.registry import StoreLookups, open_store, webhook_reader
from connector.sync_queue import SyncQueue


@dataclass
class Runtime:
    settings: Settings
    config: TenantConfig
    state: StateStore
    audit: AuditTrail
    vault: SecretVault
    sync_queue: SyncQueue
    dead_letters: SyncQueue | None
    sqs: Any
    # The QuickBooks Desktop outbox (None where the function has no outbox table).
    outbox: OutboxStore | None = None
    # One pooled HTTP client per cold start, shared by the store and QuickBooks adapters. Its
    # timeouts leave room for a few calls and retries within a record's time (connector.retry).
    http: httpx.Client = field(
        default_factory=lambda: httpx.Client(timeout=httpx.Timeout(15.0, connect=5.0))
    )
    # Per connection: product categories and customer roles the store adapter looked up.
    store_lookups: dict[str, StoreLookups] = field(default_factory=dict)
    # Per QuickBooks Online company (realm): its circuit breaker, whose cache outlives a record.
    circuits: dict[str, CircuitBreaker] = field(default_factory=dict)

    @classmethod
    def from_environment(cls) -> Runtime:
        return cls.from_settings(load_settings())

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        dynamodb = boto3.resource("dynamodb")
        sqs = boto3.client("sqs")
        # What is written expires after the tenant file's retention (connector.retention).
        days = settings.tenant_config.retention_days
        return cls(
            settings=settings,
            config=settings.tenant_config,
            state=StateStore(settings.state_table, resource=dynamodb),
            audit=AuditTrail(settings.audit_table, resource=dynamodb, retention_days=days),
            vault=SecretVault(settings.secret_prefix, client=boto3.client("secretsmanager")),
            sync_queue=SyncQueue(settings.sync_queue_url, client=sqs),
            dead_letters=SyncQueue(settings.sync_dlq_url, client=sqs)
            if settings.sync_dlq_url
            else None,
            sqs=sqs,
            outbox=OutboxStore(settings.outbox_table, resource=dynamodb, retention_days=days)
            if settings.outbox_table
            else None,
        )

    def connection(self, connection_id: str) -> Connection:
        found = self.config.connection(connection_id)
        if found is None:
            raise PermanentError(
                f"connection {connection_id!r} is not in tenant {self.config.tenant}'s configuration"
            )
        return found

    def store(self, connection: Connection) -> Store:
        """The connection's store, behind the port (the adapter its ``store.kind`` names)."""
        return open_store(
            connection,
            vault=self.vault,
            http=self.http,
            lookups=self.store_lookups.setdefault(connection.id, StoreLookups()),
        )

    def webhook_reader(self, connection: Connection) -> WebhookReader:
        return webhook_reader(connection)

    def qbo_tokens(self, connection: Connection) -> QboTokens:
        return QboTokens(
            connection=connection,
            vault=self.vault,
            state=self.state,
            audit=self.audit,
            http=self.http,
        )

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy().scaled(self.settings.retry_scale)

    def circuit(self, connection: Connection, realm_id: str) -> CircuitBreaker:
        """The company's breaker; what it opens and closes goes to the audit trail of the
        connection that first used it (``<conn>#connection#qbo``)."""
        breaker = self.circuits.get(realm_id)
        if breaker is None:
            key = f"{connection.id}#connection#qbo"

            def notify(change: CircuitChange) -> None:
                event: AuditEventType = "connected" if change.change == "closed" else "failed"
                self.audit.append(
                    key,
                    event,
                    f"circuit {change.change}: {change.detail}",
                    detail={
                        "circuit": change.view.state,
                        "realm_id": change.realm_id,
                        "retry_at": change.view.retry_at.isoformat()
                        if change.view.retry_at
                        else None,
                    },
                )

            breaker = CircuitBreaker(
                self.settings.state_table,
                realm_id,
                rules=CircuitRules().scaled(self.settings.retry_scale),
                notify=notify,
            )
            self.circuits[realm_id] = breaker
        return breaker

    def require_outbox(self) -> OutboxStore:
        if self.outbox is None:
            raise PermanentError(
                "this function has no Desktop outbox table (CONNECTOR_OUTBOX_TABLE is not set)"
            )
        return self.outbox

    def ledger(self, connection: Connection) -> QboLedger | QbdLedger:
        if connection.ledger.kind == "qbd":
            return QbdLedger(connection=connection, outbox=self.require_outbox(), state=self.state)
        tokens = self.qbo_tokens(connection)
        realm_id = tokens.realm_id()
        client = QboClient(
            api_base=connection.qbo.api_base_url,
            realm_id=realm_id,
            tokens=tokens,
            http=self.http,
            guard=self.circuit(connection, realm_id),
        )
        # Ids are cached per company: a connection moved to another company starts afresh.
        return QboLedger(
            connection=connection, client=client, state=self.state.for_company(realm_id)
        )

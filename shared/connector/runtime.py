"""The composition root: builds the library's parts from a function's settings, once per cold start.

Handlers call ``Runtime.from_environment()`` at import; tests and the local
runtime build one from explicit settings and clients instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
import httpx

from connector.config import Connection, TenantConfig
from connector.errors import PermanentError
from connector.ledgers.qbd.ledger import QbdLedger
from connector.ledgers.qbd.outbox import OutboxStore
from connector.ledgers.qbo.client import QboClient
from connector.ledgers.qbo.ledger import QboLedger
from connector.ledgers.qbo.tokens import QboTokens
from connector.secrets import SecretVault
from connector.settings import Settings, load_settings
from connector.state import AuditTrail, StateStore
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
    # One pooled HTTP client per cold start, shared by the store and QuickBooks adapters.
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30.0))
    # Per connection: product categories and customer roles the store adapter looked up.
    store_lookups: dict[str, StoreLookups] = field(default_factory=dict)

    @classmethod
    def from_environment(cls) -> Runtime:
        return cls.from_settings(load_settings())

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        dynamodb = boto3.resource("dynamodb")
        sqs = boto3.client("sqs")
        return cls(
            settings=settings,
            config=settings.tenant_config,
            state=StateStore(settings.state_table, resource=dynamodb),
            audit=AuditTrail(settings.audit_table, resource=dynamodb),
            vault=SecretVault(settings.secret_prefix, client=boto3.client("secretsmanager")),
            sync_queue=SyncQueue(settings.sync_queue_url, client=sqs),
            dead_letters=SyncQueue(settings.sync_dlq_url, client=sqs)
            if settings.sync_dlq_url
            else None,
            sqs=sqs,
            outbox=OutboxStore(settings.outbox_table, resource=dynamodb)
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
        client = QboClient(
            api_base=connection.qbo.api_base_url,
            realm_id=tokens.realm_id(),
            tokens=tokens,
            http=self.http,
        )
        return QboLedger(connection=connection, client=client, state=self.state)

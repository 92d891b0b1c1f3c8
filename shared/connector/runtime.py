"""The composition root: builds the library's parts from a function's settings, once per cold start.

Handlers call ``Runtime.from_environment()`` at import; tests and the local
runtime build one from explicit settings instead. Nothing here touches AWS or
imports an adapter until a part is first used (a cold start pays only for what
its function needs): each AWS client and each store below it is made on first
use and kept, and the QuickBooks and store adapters are imported by the method
that opens them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import boto3

from connector.circuit import CircuitBreaker, CircuitChange, CircuitRules
from connector.config import Connection, TenantConfig
from connector.errors import PermanentError
from connector.observability import trace_http
from connector.retry import RetryPolicy
from connector.secrets import SecretVault
from connector.settings import Settings, load_settings
from connector.state import AuditEventType, AuditTrail, StateStore
from connector.sync_queue import SyncQueue

if TYPE_CHECKING:
    import httpx

    from connector.both_ways.apply import LedgerToStore
    from connector.ledgers.changes import LedgerChanges
    from connector.ledgers.qbd.ledger import QbdLedger
    from connector.ledgers.qbd.outbox import OutboxStore
    from connector.ledgers.qbo.client import QboClient
    from connector.ledgers.qbo.ledger import QboLedger
    from connector.ledgers.qbo.limiter import RealmLimiter
    from connector.ledgers.qbo.tokens import QboTokens
    from connector.stores.limiter import StoreLimits
    from connector.stores.port import Store, WebhookReader
    from connector.stores.registry import StoreLookups
    from connector.stores.writes import StoreOrderWrites


@dataclass
class Runtime:
    settings: Settings
    # Per connection: product categories and customer roles the store adapter looked up.
    store_lookups: dict[str, StoreLookups] = field(default_factory=dict)
    # Per QuickBooks Online company (realm): its circuit breaker, whose cache outlives a record.
    circuits: dict[str, CircuitBreaker] = field(default_factory=dict)
    # The AWS clients made so far, by name (see _client).
    _clients: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _clients_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    # Per QuickBooks Online company: its limiter (the item it last saw outlives a record).
    limiters: dict[str, RealmLimiter] = field(default_factory=dict)
    # Per connection: its store's write adapter (issue #13).
    _store_writes: dict[str, StoreOrderWrites] = field(default_factory=dict, init=False, repr=False)
    _ledger_changes: dict[str, LedgerChanges] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def from_environment(cls) -> Runtime:
        return cls.from_settings(load_settings())

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        return cls(settings=settings)

    @property
    def config(self) -> TenantConfig:
        return self.settings.tenant_config

    # --- AWS clients, each made on first use (creating one costs tens of milliseconds) ------
    def _client(self, name: str, make: Callable[[], Any]) -> Any:
        """Made once, under a lock: boto3's default session must not make clients on several
        threads at once, and the batching worker's threads may be the first to ask."""
        with self._clients_lock:
            found = self._clients.get(name)
            if found is None:
                found = self._clients[name] = make()
            return found

    @property
    def dynamodb(self) -> Any:
        return self._client("dynamodb", lambda: boto3.resource("dynamodb", config=_pooled()))

    @property
    def dynamodb_client(self) -> Any:
        """A plain client: the resource's own (``dynamodb.meta.client``) serialises values again,
        which Powertools' idempotency layer has already typed."""
        return self._client("dynamodb_client", lambda: boto3.client("dynamodb", config=_pooled()))

    @property
    def sqs(self) -> Any:
        return self._client("sqs", lambda: boto3.client("sqs", config=_pooled()))

    @property
    def secretsmanager(self) -> Any:
        return self._client("secretsmanager", lambda: boto3.client("secretsmanager"))

    @cached_property
    def state(self) -> StateStore:
        return StateStore(self.settings.state_table, resource=self.dynamodb)

    @cached_property
    def audit(self) -> AuditTrail:
        # What is written expires after the tenant file's retention (connector.retention).
        return AuditTrail(
            self.settings.audit_table,
            resource=self.dynamodb,
            retention_days=self.config.retention_days,
        )

    @cached_property
    def vault(self) -> SecretVault:
        return SecretVault(self.settings.secret_prefix, client=self.secretsmanager)

    @cached_property
    def sync_queue(self) -> SyncQueue:
        return SyncQueue(self.settings.sync_queue_url, client=self.sqs)

    @cached_property
    def dead_letters(self) -> SyncQueue | None:
        if not self.settings.sync_dlq_url:
            return None
        return SyncQueue(self.settings.sync_dlq_url, client=self.sqs)

    @cached_property
    def outbox(self) -> OutboxStore | None:
        """The QuickBooks Desktop outbox (None where the function has no outbox table)."""
        if not self.settings.outbox_table:
            return None
        from connector.ledgers.qbd.outbox import OutboxStore

        return OutboxStore(
            self.settings.outbox_table,
            resource=self.dynamodb,
            retention_days=self.config.retention_days,
        )

    @cached_property
    def http(self) -> httpx.Client:
        """One pooled HTTP client per cold start, shared by the store and QuickBooks adapters.
        Its timeouts leave room for a few calls and retries within a record's time
        (connector.retry). Imported here: ingest and the Web Connector's function call no one."""
        import httpx

        trace_http()
        return httpx.Client(timeout=httpx.Timeout(15.0, connect=5.0))

    def connection(self, connection_id: str) -> Connection:
        found = self.config.connection(connection_id)
        if found is None:
            raise PermanentError(
                f"connection {connection_id!r} is not in tenant {self.config.tenant}'s configuration"
            )
        return found

    def store(self, connection: Connection) -> Store:
        """The connection's store, behind the port (the adapter its ``store.kind`` names)."""
        from connector.stores.registry import StoreLookups, open_store

        return open_store(
            connection,
            vault=self.vault,
            http=self.http,
            lookups=self.store_lookups.setdefault(connection.id, StoreLookups()),
            limits=self.store_limits,
        )

    @cached_property
    def store_limits(self) -> StoreLimits:
        """The limiters of stores that publish their rate limits (BigCommerce), shared through
        the state table with every function calling the same store."""
        from connector.stores.limiter import StoreLimits

        return StoreLimits(self.settings.state_table, resource=self.dynamodb)

    def webhook_reader(self, connection: Connection) -> WebhookReader:
        from connector.stores.registry import webhook_reader

        return webhook_reader(connection)

    def qbo_tokens(self, connection: Connection) -> QboTokens:
        from connector.ledgers.qbo.tokens import QboTokens

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
                resource=self.dynamodb,
                notify=notify,
            )
            self.circuits[realm_id] = breaker
        return breaker

    def limiter(self, realm_id: str) -> RealmLimiter:
        """The company's limiter, shared through the state table with every function calling
        it; its limits from the settings, the pause after a throttle answer retry-scaled."""
        from connector.ledgers.qbo.limiter import LimiterRules, RealmLimiter

        limiter = self.limiters.get(realm_id)
        if limiter is None:
            settings = self.settings
            rules = LimiterRules(
                per_minute=settings.qbo_requests_per_minute,
                batches_per_minute=settings.qbo_batches_per_minute,
                max_in_flight=settings.qbo_max_in_flight,
                max_wait_s=settings.qbo_max_wait_s,
            ).scaled_pause(settings.retry_scale)
            limiter = RealmLimiter(
                settings.state_table, realm_id, rules=rules, resource=self.dynamodb
            )
            self.limiters[realm_id] = limiter
        return limiter

    def require_outbox(self) -> OutboxStore:
        if self.outbox is None:
            raise PermanentError(
                "this function has no Desktop outbox table (CONNECTOR_OUTBOX_TABLE is not set)"
            )
        return self.outbox

    def ledger(self, connection: Connection) -> QboLedger | QbdLedger:
        if connection.ledger.kind == "qbd":
            from connector.ledgers.qbd.ledger import QbdLedger

            return QbdLedger(connection=connection, outbox=self.require_outbox(), state=self.state)
        from connector.ledgers.qbo.ledger import QboLedger

        client = self.qbo_client(connection)
        # Ids are cached per company: a connection moved to another company starts afresh.
        return QboLedger(
            connection=connection, client=client, state=self.state.for_company(client.realm_id)
        )

    def qbo_client(self, connection: Connection) -> QboClient:
        """The connection's QuickBooks Online company, through its breaker and limiter."""
        from connector.ledgers.qbo.client import QboClient

        tokens = self.qbo_tokens(connection)
        realm_id = tokens.realm_id()
        return QboClient(
            api_base=connection.qbo.api_base_url,
            realm_id=realm_id,
            tokens=tokens,
            http=self.http,
            guard=self.circuit(connection, realm_id),
            limiter=self.limiter(realm_id),
        )

    # --- QuickBooks → store (issue #13) -------------------------------------------------
    def ledger_changes(self, connection: Connection) -> LedgerChanges:
        """The connection's ledger read for the store: QuickBooks Online over its API, Desktop
        from what its last Web Connector session brought back."""
        if connection.ledger.kind == "qbd":
            from connector.ledgers.qbd.changes import QbdChanges

            return QbdChanges.from_runtime(self, connection)
        from connector.ledgers.qbo.changes import QboChanges

        client = self.qbo_client(connection)
        # Kept per company: it remembers the home currency and terms (a call each otherwise).
        key = f"{connection.id}#{client.realm_id}"
        found = self._ledger_changes.get(key)
        if found is None:
            found = self._ledger_changes[key] = QboChanges(client)
        return found

    def store_writes(self, connection: Connection) -> StoreOrderWrites:
        """The connection's store, written (kept: it remembers the store's currency)."""
        found = self._store_writes.get(connection.id)
        if found is None:
            from connector.stores.registry import open_writes

            found = open_writes(
                connection, vault=self.vault, http=self.http, limits=self.store_limits
            )
            self._store_writes[connection.id] = found
        return found

    def item_keys(self, connection: Connection, ledger_id: str) -> list[str]:
        """The store names and SKUs the item mapping sends to QuickBooks item ``ledger_id``."""
        if connection.ledger.kind == "qbd":
            mapped = self.state.mappings(connection.id, "qbd-item")
        else:
            realm_id = self.qbo_tokens(connection).realm_id()
            mapped = self.state.for_company(realm_id).mappings(connection.id, "item")
        return sorted(key for key, value in mapped.items() if value == ledger_id)

    @cached_property
    def both_ways(self) -> LedgerToStore:
        from connector.both_ways.apply import LedgerToStore
        from connector.both_ways.written import WrittenStore

        return LedgerToStore(
            state=self.state,
            audit=self.audit,
            written=WrittenStore(self.dynamodb.Table(self.settings.state_table)),
            changes_for=self.ledger_changes,
            writes_for=self.store_writes,
            mapped_keys=self.item_keys,
        )


# The batching worker's threads (up to CONNECTOR_QBO_BATCH_PULL_TO, 60) share these clients:
# botocore's default pool of 10 connections would open and drop one per call beyond ten.
_POOL_CONNECTIONS = 64


def _pooled() -> Any:
    from botocore.config import Config

    return Config(max_pool_connections=_POOL_CONNECTIONS)

"""What a tenant's deployment consists of, declared once.

The CDK stack (infra/) and the local runtime (connector.local) both build from
these declarations, so the laptop runs the same tables, queues, routes,
functions and schedules that AWS does. Names here are logical; each deployment
derives physical names from them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from connector.retention import TTL_ATTRIBUTE

# Environment variables through which a deployment tells the functions where
# their resources are. connector.settings reads them; nothing else does.
ENV_TENANT = "CONNECTOR_TENANT"
ENV_TENANT_CONFIG = "CONNECTOR_TENANT_CONFIG"  # the tenant file as JSON (validated at cold start)
ENV_STATE_TABLE = "CONNECTOR_STATE_TABLE"
ENV_AUDIT_TABLE = "CONNECTOR_AUDIT_TABLE"
ENV_OUTBOX_TABLE = "CONNECTOR_OUTBOX_TABLE"
ENV_SESSION_TABLE = "CONNECTOR_SESSION_TABLE"
ENV_SYNC_QUEUE_URL = "CONNECTOR_SYNC_QUEUE_URL"
ENV_SYNC_DLQ_URL = "CONNECTOR_SYNC_DLQ_URL"
ENV_SECRET_PREFIX = "CONNECTOR_SECRET_PREFIX"
ENV_PUBLIC_BASE_URL = "CONNECTOR_PUBLIC_BASE_URL"  # where stores and browsers reach the API
ENV_AWS_ENDPOINT_URL = "AWS_ENDPOINT_URL"  # set only by the local runtime (moto server)
# Scales the sync worker's queue-level retry delays, retry budget and circuit cooldowns
# (connector.retry, connector.circuit); unset when deployed (1).
ENV_RETRY_SCALE = "CONNECTOR_RETRY_SCALE"
# What the local runtime sets it to: one hour of retrying in ten seconds, so a laptop (and the
# tests) see a two-hour outage ridden out in about twenty.
LOCAL_RETRY_SCALE = 1 / 360
# A QuickBooks Online company's limits the limiter keeps under (connector.ledgers.qbo.limiter):
# unset when deployed (Intuit's 500 requests and 40 batches a minute, 10 at once); tests and the
# benchmark scale them down. Waits up to the last are slept, longer ones hand the record back.
ENV_QBO_REQUESTS_PER_MINUTE = "CONNECTOR_QBO_REQUESTS_PER_MINUTE"
ENV_QBO_BATCHES_PER_MINUTE = "CONNECTOR_QBO_BATCHES_PER_MINUTE"
ENV_QBO_MAX_IN_FLIGHT = "CONNECTOR_QBO_MAX_IN_FLIGHT"
ENV_QBO_MAX_WAIT_S = "CONNECTOR_QBO_MAX_WAIT_S"

# A ledger kind (connector.config's ledger.kind): a function or table marked with one is
# deployed only for a tenant with a connection of that kind.
LedgerKind = Literal["qbo", "qbd"]

# A kind of secret a function may read or write; IAM grants it secret by secret:
#   webhook           <prefix>/<connection>/webhook: what store webhooks are verified with
#   store             <prefix>/<connection>/store: the store's API credentials
#   qbo_ledger        <prefix>/<connection>/ledger of an Online connection: app keys, tokens
#   qbd_ledger        <prefix>/<connection>/ledger of a Desktop connection: password hash
#   connect_link_key  <prefix>/connect-link-key: signs QuickBooks connect links (tenant-wide)
SecretPart = Literal["webhook", "store", "qbo_ledger", "qbd_ledger", "connect_link_key"]
# The secrets each connection has, by the last part of their names.
ConnectionSecretName = Literal["store", "webhook", "ledger"]


@dataclass(frozen=True)
class TableSpec:
    logical_id: str
    env_var: str
    partition_key: str = "pk"
    sort_key: str = "sk"
    ttl_attribute: str | None = None
    purpose: str = ""
    only_for: LedgerKind | None = None


@dataclass(frozen=True)
class QueueSpec:
    logical_id: str
    env_var: str
    fifo: bool = True
    visibility_timeout_s: int = 180
    retention_s: int = 14 * 24 * 3600
    # Receives before a message moves to the dead-letter queue.
    max_receive_count: int = 5
    dlq_logical_id: str | None = None
    dlq_env_var: str | None = None


@dataclass(frozen=True)
class Route:
    method: Literal["GET", "POST"]
    path: str  # API Gateway resource path, e.g. "/webhooks/{connection_id}"


@dataclass(frozen=True)
class ItemWrites:
    """Writes to a table limited to items whose partition key matches one of ``pk_like``
    (IAM's dynamodb:LeadingKeys with StringLike: ``*`` matches any characters)."""

    table: str  # logical id
    pk_like: tuple[str, ...]
    actions: tuple[str, ...] = ("dynamodb:PutItem", "dynamodb:UpdateItem")


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    handler: str  # dotted path inside the code asset, module.attribute
    description: str
    timeout_s: int = 30
    memory_mb: int = 512
    routes: tuple[Route, ...] = ()
    queue_trigger: str | None = None  # logical id of the queue that feeds it
    batch_size: int = 10
    schedule_minutes: int | None = None
    # Grants, kept explicit so each role is least privilege.
    reads_tables: tuple[str, ...] = ()
    writes_tables: tuple[str, ...] = ()
    writes_items: tuple[ItemWrites, ...] = ()
    sends_to_queues: tuple[str, ...] = ()
    secrets_read: tuple[SecretPart, ...] = ()
    secrets_write: tuple[SecretPart, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    only_for: LedgerKind | None = None


STATE_TABLE = TableSpec(
    logical_id="StateTable",
    env_var=ENV_STATE_TABLE,
    ttl_attribute="expires_at",
    purpose="sync state, id mappings, item cache, locks, OAuth states, idempotency records",
)
AUDIT_TABLE = TableSpec(
    logical_id="AuditTable",
    env_var=ENV_AUDIT_TABLE,
    # Each event expires retention_days after it was written (connector.retention).
    ttl_attribute=TTL_ATTRIBUTE,
    purpose="append-only audit events per record",
)
OUTBOX_TABLE = TableSpec(
    logical_id="OutboxTable",
    env_var=ENV_OUTBOX_TABLE,
    # Finished entries expire retention_days after QuickBooks took them; waiting ones never.
    ttl_attribute=TTL_ATTRIBUTE,
    purpose="QuickBooks Desktop work waiting for the Web Connector, in order per connection",
    only_for="qbd",
)
SESSION_TABLE = TableSpec(
    logical_id="SessionTable",
    env_var=ENV_SESSION_TABLE,
    ttl_attribute="expires_at",
    purpose="Web Connector sessions (tickets) and login throttling",
    only_for="qbd",
)
TABLES: tuple[TableSpec, ...] = (STATE_TABLE, AUDIT_TABLE, OUTBOX_TABLE, SESSION_TABLE)

SYNC_QUEUE = QueueSpec(
    logical_id="SyncQueue",
    env_var=ENV_SYNC_QUEUE_URL,
    # Six times the worker timeout, as AWS advises for SQS-triggered functions.
    visibility_timeout_s=6 * 120,
    # A backstop only: the worker hands a failing record back with a growing delay and parks
    # it itself, with its reason, once it has failed for 24 hours (connector.retry), which
    # takes about 15 receives; a circuit held open through a long outage adds one per probe.
    max_receive_count=100,
    dlq_logical_id="SyncDeadLetterQueue",
    dlq_env_var=ENV_SYNC_DLQ_URL,
)
QUEUES: tuple[QueueSpec, ...] = (SYNC_QUEUE,)

INGEST = FunctionSpec(
    name="ingest",
    handler="functions.ingest.handler.lambda_handler",
    description="Verifies store webhooks and queues one sync message per record",
    timeout_s=10,
    memory_mb=256,
    routes=(
        Route("POST", "/webhooks/{connection_id}"),
        # QuickBooks Online's webhooks (issue #13, connector.ledger_webhooks).
        Route("POST", "/webhooks/qbo/{connection_id}"),
    ),
    writes_tables=(AUDIT_TABLE.logical_id,),
    # Only a delivery SQS refused (connector.unqueued) and the last-webhook moment
    # (connector.health): a forged request that got past ingest cannot touch sync state.
    # It reads one kind of item: the QuickBooks company a connection is connected to.
    writes_items=(
        ItemWrites(STATE_TABLE.logical_id, ("*#unqueued", "*#health")),
        ItemWrites(STATE_TABLE.logical_id, ("*#ledger_realm",), actions=("dynamodb:GetItem",)),
    ),
    sends_to_queues=(SYNC_QUEUE.logical_id,),
    secrets_read=("webhook",),
)
SYNC = FunctionSpec(
    name="sync",
    handler="functions.sync.handler.lambda_handler",
    description="Fetches store records, maps them and posts them to QuickBooks",
    timeout_s=120,
    memory_mb=512,
    queue_trigger=SYNC_QUEUE.logical_id,
    batch_size=10,
    reads_tables=(STATE_TABLE.logical_id, AUDIT_TABLE.logical_id, OUTBOX_TABLE.logical_id),
    writes_tables=(STATE_TABLE.logical_id, AUDIT_TABLE.logical_id, OUTBOX_TABLE.logical_id),
    # Permanent failures are parked in the dead-letter queue at once, with their reason; a
    # record only waiting for QuickBooks capacity whose receives run out is queued afresh.
    sends_to_queues=("SyncDeadLetterQueue", SYNC_QUEUE.logical_id),
    # Store API keys to fetch records; Online tokens to post, and to save the rotated ones when
    # an access token lapses or QuickBooks answers 401 mid-batch (connector.ledgers.qbo.tokens,
    # under the fenced token lease; decision 51). Desktop work goes to the outbox, no secret.
    secrets_read=("store", "qbo_ledger"),
    secrets_write=("qbo_ledger",),
)
OAUTH = FunctionSpec(
    name="oauth",
    handler="functions.oauth.handler.lambda_handler",
    description="Connects a QuickBooks Online company (OAuth 2.0 authorisation code flow)",
    timeout_s=15,
    memory_mb=256,
    routes=(
        Route("GET", "/oauth/qbo/connect/{connection_id}"),
        Route("GET", "/oauth/qbo/callback"),
    ),
    reads_tables=(STATE_TABLE.logical_id,),
    writes_tables=(STATE_TABLE.logical_id, AUDIT_TABLE.logical_id),
    secrets_read=("qbo_ledger", "connect_link_key"),
    secrets_write=("qbo_ledger",),
    only_for="qbo",
)
QBO_TOKEN = FunctionSpec(
    name="qbo_token",
    handler="functions.qbo_token.handler.lambda_handler",
    description="Refreshes QuickBooks Online tokens so a quiet store stays connected",
    timeout_s=60,
    memory_mb=256,
    schedule_minutes=30,
    reads_tables=(STATE_TABLE.logical_id,),
    writes_tables=(STATE_TABLE.logical_id, AUDIT_TABLE.logical_id),
    secrets_read=("qbo_ledger",),
    secrets_write=("qbo_ledger",),
    only_for="qbo",
)
QBWC = FunctionSpec(
    name="qbwc",
    handler="functions.qbwc.handler.lambda_handler",
    description="Serves the QuickBooks Web Connector (SOAP) and drains the Desktop outbox",
    timeout_s=29,  # API Gateway's integration limit
    memory_mb=512,
    routes=(Route("POST", "/qbwc/{connection_id}"), Route("GET", "/qbwc/{connection_id}")),
    reads_tables=(
        STATE_TABLE.logical_id,
        AUDIT_TABLE.logical_id,
        OUTBOX_TABLE.logical_id,
        SESSION_TABLE.logical_id,
    ),
    writes_tables=(
        STATE_TABLE.logical_id,
        AUDIT_TABLE.logical_id,
        OUTBOX_TABLE.logical_id,
        SESSION_TABLE.logical_id,
    ),
    # Items and customers a session brings back for the store (issue #13, `sync` on) are
    # queued for the sync worker like store records.
    sends_to_queues=(SYNC_QUEUE.logical_id,),
    # The password hash only: `connector qwc` sets it from the operator's shell.
    secrets_read=("qbd_ledger",),
    only_for="qbd",
)
RECONCILE = FunctionSpec(
    name="reconcile",
    handler="functions.reconcile.handler.lambda_handler",
    description="Polls each store for records changed since its watermark and queues them",
    # Every minute; each connection is polled when its own period (reconcile_every_minutes)
    # is up, under a per-connection lease, so a slow run never overlaps itself.
    timeout_s=300,
    memory_mb=512,
    schedule_minutes=1,
    reads_tables=(STATE_TABLE.logical_id,),
    writes_tables=(STATE_TABLE.logical_id, AUDIT_TABLE.logical_id),
    sends_to_queues=(SYNC_QUEUE.logical_id,),
    # Store API keys to poll; the webhook secret to register a webhook it repairs; an Online
    # connection's tokens to read QuickBooks' change feed (connector.ledger_poll), and to save
    # them when they rotate (under the token lease, as the sync function does).
    secrets_read=("store", "webhook", "qbo_ledger"),
    secrets_write=("qbo_ledger",),
)
FUNCTIONS: tuple[FunctionSpec, ...] = (INGEST, SYNC, OAUTH, QBO_TOKEN, QBWC, RECONCILE)


@dataclass(frozen=True)
class Selection:
    """The functions and tables one tenant deploys (the CDK stack and the local runtime)."""

    functions: tuple[FunctionSpec, ...]
    tables: tuple[TableSpec, ...]


def select(ledger_kinds: Iterable[str]) -> Selection:
    """What a tenant whose connections use ``ledger_kinds`` needs, and nothing more.

    A QuickBooks Online-only tenant gets no Web Connector function, routes, outbox or
    session table; a Desktop-only one no OAuth function or token refresher. A function
    kept loses its grants on the tables left out (sync without Desktop has no outbox:
    Runtime.require_outbox says so if a Desktop connection ever reaches it).
    """
    kinds = set(ledger_kinds)
    tables = tuple(t for t in TABLES if t.only_for is None or t.only_for in kinds)
    kept = {t.logical_id for t in tables}
    functions = tuple(
        replace(
            spec,
            reads_tables=tuple(t for t in spec.reads_tables if t in kept),
            writes_tables=tuple(t for t in spec.writes_tables if t in kept),
            writes_items=tuple(w for w in spec.writes_items if w.table in kept),
        )
        for spec in FUNCTIONS
        if spec.only_for is None or spec.only_for in kinds
    )
    return Selection(functions=functions, tables=tables)


SERVICE_NAME = "ml-connector"


def stack_name(tenant: str) -> str:
    """The tenant's CloudFormation stack: the CDK app names it, the CLI finds it."""
    return f"MlConnector-{tenant}"


def secret_prefix(tenant: str) -> str:
    """Secrets Manager prefix of one tenant; :func:`secret_name` appends the rest."""
    return f"{SERVICE_NAME}/{tenant}"


def secret_name(prefix: str, connection_id: str, part: ConnectionSecretName) -> str:
    """Secrets Manager name of one connection's store keys, webhook secret or ledger secret."""
    return f"{prefix}/{connection_id}/{part}"


def connect_link_key_name(prefix: str) -> str:
    """Secrets Manager name of the tenant's key that signs QuickBooks connect links.

    One level above the connections' secrets, so no connection id can collide with it.
    """
    return f"{prefix}/connect-link-key"

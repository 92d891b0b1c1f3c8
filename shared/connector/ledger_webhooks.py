"""POST /webhooks/qbo/{connection_id}: QuickBooks Online's webhooks, verified and queued.

Intuit signs each delivery (``intuit-signature``: base64 HMAC-SHA256 of the raw body keyed
with the app's verifier token) and wants a 200 within 3 seconds; it retries a failed
delivery for hours and holds later events until the first is acknowledged. So the route only
verifies, checks the company, and queues one ``SyncMessage`` per entity change; the sync
worker reads the record itself. Both payloads are taken: legacy ``eventNotifications`` and
CloudEvents (``qbo.<entity>.<op>.v1``).

Where its inputs live (decision 63): the verifier token in the connection's webhook secret
(``webhook_verifier``), the only secret ingest may read (decision 51); the company (realm)
each connection is connected to in the state table's ``<connection>#ledger_realm`` item,
written by the connect callback and by the change-feed poll, the only state item ingest
may read. An Intuit app has one webhook URL for every company connected to it, so each
event goes to the tenant's connections connected to its company, whichever connection's URL
received it; a company no connection holds is acknowledged, audited and ignored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, ValidationError

from connector import dynamo_batch
from connector.config import Connection, SyncDirections, TenantConfig
from connector.dynamo_batch import Write
from connector.ingest import MAX_BODY_BYTES, IngestAnswer
from connector.ledger_realms import LedgerRealms
from connector.ledger_records import LedgerEntity
from connector.messages import SyncMessage
from connector.observability import logger, metrics
from connector.secrets import SecretVault
from connector.state import AuditTrail
from connector.sync_queue import SyncQueue
from connector.unqueued import UnqueuedDeliveries

SIGNATURE_HEADER = "intuit-signature"
VERIFIER_FIELD = "webhook_verifier"  # in <prefix>/<connection>/webhook
LEDGER_ENTITIES: dict[str, LedgerEntity] = {
    "item": "ledger_item",
    "customer": "ledger_customer",
    "invoice": "ledger_invoice",
}
# CloudEvents' verbs as the legacy payload's operations.
_OPERATIONS = {
    "created": "Create",
    "updated": "Update",
    "deleted": "Delete",
    "voided": "Void",
    "merged": "Merge",
    "emailed": "Emailed",
}


def wanted(sync: SyncDirections) -> frozenset[LedgerEntity]:
    """The ledger entities the connection's directions take from QuickBooks."""
    found: set[LedgerEntity] = set()
    if "qbo_to_store" in (sync.products, sync.prices, sync.inventory):
        found.add("ledger_item")
    if sync.customers != "off":
        found.add("ledger_customer")
    if sync.qbo_invoices_to_orders:
        found.add("ledger_invoice")
    return frozenset(found)


def change_version(moment: datetime) -> str:
    """A change's version, the same from a webhook and from the change feed: QuickBooks'
    LastUpdatedTime in UTC to the second (webhooks carry milliseconds, CDC seconds), so SQS
    drops the second of the two within its five minutes."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def signature_ok(body: bytes, signature: str, verifier: str) -> bool:
    """Constant-time check of ``intuit-signature``."""
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = hmac.new(verifier.encode("utf-8"), body, hashlib.sha256).digest()
    return hmac.compare_digest(given, expected)


# -- the two payloads --------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _LegacyEntity(_Model):
    id: str
    operation: str
    name: str
    lastUpdated: str | None = None  # Intuit's names


class _ChangeEvent(_Model):
    entities: list[_LegacyEntity] = []


class _Notification(_Model):
    realmId: str
    dataChangeEvent: _ChangeEvent = _ChangeEvent()


class _Legacy(_Model):
    eventNotifications: list[_Notification]


class _CloudEvent(_Model):
    id: str
    type: str
    time: str | None = None
    intuitentityid: str
    intuitaccountid: str


@dataclass(frozen=True)
class EntityChange:
    """One entity change a delivery names."""

    realm_id: str
    name: str  # QuickBooks' entity name, e.g. "Item"
    entity_id: str
    operation: str  # legacy spelling: Create, Update, Delete, Void, Merge, Emailed
    changed_at: datetime | None
    event_id: str | None = None


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        # CloudEvents' time has nanoseconds, more digits than fromisoformat takes.
        head, dot, tail = text.partition(".")
        if not dot:
            return None
        zone = "+00:00" if tail.endswith("Z") else tail[-6:] if tail[-6:-5] in "+-" else ""
        try:
            moment = datetime.fromisoformat(f"{head}.{tail[:6]}{zone}")
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse(body: bytes) -> list[EntityChange]:
    """The entity changes of a legacy or CloudEvents delivery; ValueError when neither."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"the body is not JSON: {exc}") from None
    try:
        if isinstance(data, list):
            events = [_CloudEvent.model_validate(e) for e in data]
            changes = []
            for event in events:
                # qbo.<entity>.<verb>.v1
                parts = event.type.split(".")
                if len(parts) < 3 or parts[0] != "qbo":
                    raise ValueError(f"unexpected CloudEvents type {event.type!r}")
                changes.append(
                    EntityChange(
                        realm_id=event.intuitaccountid,
                        name=parts[1],
                        entity_id=event.intuitentityid,
                        operation=_OPERATIONS.get(parts[2], parts[2].capitalize()),
                        changed_at=_moment(event.time),
                        event_id=event.id,
                    )
                )
            return changes
        legacy = _Legacy.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:3]
        )
        raise ValueError(f"neither a legacy nor a CloudEvents payload ({problems})") from None
    return [
        EntityChange(
            realm_id=notification.realmId,
            name=entity.name,
            entity_id=entity.id,
            operation=entity.operation,
            changed_at=_moment(entity.lastUpdated),
        )
        for notification in legacy.eventNotifications
        for entity in notification.dataChangeEvent.entities
    ]


# -- the route ---------------------------------------------------------------------------------


class LedgerWebhookIngest:
    def __init__(
        self,
        *,
        config: TenantConfig,
        vault: SecretVault,
        queue: SyncQueue,
        audit: AuditTrail,
        realms: LedgerRealms,
        unqueued: UnqueuedDeliveries,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._config = config
        self._vault = vault
        self._queue = queue
        self._audit = audit
        self._realms = realms
        self._unqueued = unqueued
        self._clock = clock

    def receive(self, connection_id: str, headers: Mapping[str, str], body: bytes) -> IngestAnswer:
        headers = {k.lower(): v for k, v in headers.items()}
        connection = self._config.connection(connection_id)
        if connection is None or connection.ledger.kind != "qbo":
            # A Desktop connection has no QuickBooks Online webhooks to receive.
            return IngestAnswer(404, f"no QuickBooks Online connection named {connection_id!r}")
        if len(body) > MAX_BODY_BYTES:
            return IngestAnswer(413, f"body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
        signature = headers.get(SIGNATURE_HEADER, "")
        verifier = self._vault.webhook_field(connection_id, VERIFIER_FIELD)
        if not verifier:
            logger.error(
                "no webhook_verifier for QuickBooks webhooks",
                connection_id=connection_id,
                secret=self._vault.secret_name(connection_id, "webhook"),
            )
        if not signature or not verifier or not signature_ok(body, signature, verifier):
            metrics.add_metric(name="WebhookRejected", unit="Count", value=1)
            logger.warning("QuickBooks webhook signature rejected", connection_id=connection_id)
            return IngestAnswer(401, "intuit-signature missing or wrong")
        try:
            changes = parse(body)
        except ValueError as exc:
            self._audit.append(
                f"{connection_id}#connection#qbo_webhook", "ignored", f"unreadable delivery: {exc}"
            )
            return IngestAnswer(400, str(exc))
        try:
            return self._queue_changes(connection, changes)
        except (BotoCoreError, ClientError) as exc:
            # The companies could not be read: nothing was queued or kept; Intuit retries.
            logger.error("QuickBooks webhook not taken", error=str(exc)[:300])
            return IngestAnswer(503, "could not read the connections' companies; please retry")

    def _holders(self, realm_id: str, cache: dict[str, list[Connection]]) -> list[Connection]:
        """The tenant's Online connections connected to ``realm_id`` (one Intuit app sends
        every company's events to the one URL its portal holds)."""
        if realm_id not in cache:
            cache[realm_id] = [
                c
                for c in self._config.connections
                if c.ledger.kind == "qbo" and self._realms.realm(c.id) == realm_id
            ]
        return cache[realm_id]

    def _queue_changes(self, connection: Connection, changes: list[EntityChange]) -> IngestAnswer:
        holders: dict[str, list[Connection]] = {}
        strangers: set[str] = set()
        batch: list[tuple[SyncMessage, str, EntityChange]] = []
        for change in changes:
            targets = self._holders(change.realm_id, holders)
            if not targets:
                strangers.add(change.realm_id)
                continue
            entity = LEDGER_ENTITIES.get(change.name.lower())
            for target in targets:
                if entity is None or entity not in wanted(target.sync):
                    continue  # not asked for by the connection's [connections.sync]
                batch.append((*self._message(target.id, entity, change), change))
        # Intuit sends up to 100 changes at once and waits 3 s: ten to an SQS request, and
        # the audit entries 25 to a DynamoDB request.
        errors = self._queue.send_many([(message, version) for message, version, _ in batch])
        queued = kept = 0
        audits: list[Write] = []
        for (message, version, change), error in zip(batch, errors, strict=True):
            if error is not None:
                if not self._keep(message, version, error):
                    return IngestAnswer(
                        503, "could not queue the event; please retry", queued=queued, kept=kept
                    )
                kept += 1
                continue
            audits.append(
                self._audit.event_put(
                    message.record_key,
                    "received",
                    f"QuickBooks webhook: {change.name} {change.operation} queued",
                    detail={
                        "version": version,
                        "event_id": change.event_id,
                        "received_by": connection.id,
                    },
                )
            )
            queued += 1
        dynamo_batch.write_all(self._realms.client, audits)
        realm = self._realms.realm(connection.id)
        for stranger in sorted(strangers):
            # Acknowledged, so Intuit does not hold back later events behind it; recorded.
            self._audit.append(
                f"{connection.id}#connection#qbo_webhook",
                "ignored",
                f"QuickBooks webhook for company {stranger}, which no connection of this tenant "
                f"is connected to ({connection.id}: "
                f"{'company ' + realm if realm else 'no company recorded yet'}); ignored",
                detail={"realm_id": stranger, "connected_realm_id": realm},
            )
            metrics.add_metric(name="WebhookIgnored", unit="Count", value=1)
        metrics.add_metric(name="WebhookQueued", unit="Count", value=queued)
        answer = "queued" if not kept else "received; kept for the next reconcile run"
        ignored = len(changes) - queued - kept
        if ignored > 0:
            answer += f"; {ignored} not synced (another company, or not asked for)"
        return IngestAnswer(200, answer, queued=queued, kept=kept)

    def _message(
        self, connection_id: str, entity: LedgerEntity, change: EntityChange
    ) -> tuple[SyncMessage, str]:
        if change.changed_at is not None:
            version = change_version(change.changed_at)
        else:
            version = f"event:{change.event_id or self._clock().isoformat()}"
        message = SyncMessage(
            connection_id=connection_id,
            entity=entity,
            record_id=change.entity_id,
            action="delete" if change.operation == "Delete" else "upsert",
            topic=f"qbo.{change.name.lower()}.{change.operation.lower()}",
            modified_at=change.changed_at,
            version=version,
            received_at=self._clock(),
            source="ledger_webhook",
        )
        return message, version

    def _keep(self, message: SyncMessage, version: str, error: str) -> bool:
        """The queue refused: keep the message for the reconcile run (as store webhooks do)."""
        try:
            self._unqueued.keep(message, version)
        except (BotoCoreError, ClientError) as exc:
            logger.error("could not keep the QuickBooks webhook either", error=str(exc)[:300])
            return False
        self._audit.append(
            message.record_key,
            "received",
            f"{message.topic} received, not queued: the sync queue refused it; kept for the "
            "next reconcile run, which queues it",
            detail={"not_queued": error[:300]},
        )
        return True

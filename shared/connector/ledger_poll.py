"""The change-feed poll: QuickBooks Online changes queued on the reconcile schedule (issue #13).

Webhooks can be lost (Intuit gives up after days, a verifier token can be wrong), so each
reconcile of an Online connection that takes anything from QuickBooks (``connection.sync``)
asks QuickBooks' change feed (CDC) for items, customers and invoices changed since its
watermark less an overlap, and queues one ``SyncMessage`` (source ``ledger_poll``) per
change the connection asks for. Its version is the change's LastUpdatedTime to the second,
as the webhook's is, so a change a webhook already queued is dropped by SQS deduplication
(and the worker settles a later repeat by what it wrote).

The watermark (state table ``<conn>#ledger_poll``) moves only once every change was queued.
The first poll starts the feed now: turning a direction on does not rewrite the store from
the whole of QuickBooks. CDC looks back 30 days at most; after a longer gap (the functions
were off, the company disconnected) the poll re-lists every item and customer the
connection asks for by query (inactive ones too) and takes invoices from the last 30 days,
audited as a gap: nothing is missed, at the cost of one message per record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from connector import dynamo_batch
from connector.config import Connection
from connector.errors import SyncError
from connector.ledger_records import LedgerChange, LedgerEntity
from connector.ledger_webhooks import LedgerRealms, change_version, wanted
from connector.messages import SyncMessage
from connector.observability import logger, metrics
from connector.state import AuditTrail
from connector.sync_queue import QueueUnavailable, SyncQueue

CDC_MAX_DAYS = 30
CDC_MAX_OBJECTS = 1000
# Changes stamped just before the last poll may commit after it read: look back this much.
OVERLAP = timedelta(minutes=5)
# A gap re-lists; CDC is then asked from a little inside its 30 days.
GAP_MARGIN = timedelta(hours=1)
MAX_ROUNDS = 20  # CDC answers 1,000 objects at most: ask again from the last, this often


class ChangeFeed(Protocol):
    """What the poll needs of ``connector.ledgers.qbo.changes.QboChanges``."""

    @property
    def realm_id(self) -> str: ...

    def changed_since(self, since: datetime) -> list[LedgerChange]: ...

    def everything(self, entity: LedgerEntity) -> list[LedgerChange]: ...


@dataclass(frozen=True)
class Watermark:
    moment: datetime
    realm_id: str
    # What the last poll queued inside the overlap: the next one, which lists them again,
    # does not queue them again (SQS forgets a deduplication id after five minutes).
    recent: frozenset[str] = frozenset()


@dataclass
class LedgerPollResult:
    connection_id: str
    outcome: str  # "polled", "gap", "started", "failed", "off"
    queued: int = 0
    listed: int = 0
    watermark: str | None = None
    error: str | None = None
    by_entity: dict[str, int] = field(default_factory=dict)


class LedgerPoll:
    def __init__(
        self,
        *,
        feed_for: Callable[[Connection], ChangeFeed],
        table_name: str,
        queue: SyncQueue,
        audit: AuditTrail,
        resource: Any | None = None,
        realms: LedgerRealms | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        overlap: timedelta = OVERLAP,
        realm_for: Callable[[Connection], str] | None = None,
    ) -> None:
        self._feed_for = feed_for
        # The company an Online connection is connected to, without calling QuickBooks (the
        # ledger secret's): recorded for ingest even while no direction is on, so webhooks
        # are taken from the moment one is turned on.
        self._realm_for = realm_for
        self._table = (resource or boto3.resource("dynamodb")).Table(table_name)
        self._queue = queue
        self._audit = audit
        self._realms = realms
        self._clock = clock
        self._overlap = overlap

    @staticmethod
    def applies(connection: Connection) -> bool:
        return connection.ledger.kind == "qbo" and connection.sync.any_from_ledger

    # -- watermark -----------------------------------------------------------------------

    def watermark(self, connection_id: str) -> Watermark | None:
        """The moment up to which every change was queued, and the company it was in."""
        item = self._table.get_item(
            Key={"pk": f"{connection_id}#ledger_poll", "sk": "WATERMARK"}, ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        recent = item.get("recent")
        return Watermark(
            datetime.fromisoformat(str(item["watermark"])),
            str(item["realm_id"]),
            frozenset(str(k) for k in recent) if isinstance(recent, list) else frozenset(),
        )

    def _put_watermark(
        self,
        connection_id: str,
        moment: datetime,
        realm_id: str,
        recent: frozenset[str] = frozenset(),
    ) -> None:
        self._table.put_item(
            Item={
                "pk": f"{connection_id}#ledger_poll",
                "sk": "WATERMARK",
                "watermark": moment.astimezone(UTC).isoformat(),
                "realm_id": realm_id,
                "recent": sorted(recent),
            }
        )

    # -- the poll ------------------------------------------------------------------------

    def poll(self, connection: Connection) -> LedgerPollResult:
        """One connection's poll; never raises for QuickBooks or AWS trouble (audited, and
        the watermark stays where it was for the next run)."""
        if not self.applies(connection):
            self._note_realm(connection)
            return LedgerPollResult(connection.id, "off")
        now = self._clock()
        try:
            return self._poll(connection, now)
        except (SyncError, QueueUnavailable, BotoCoreError, ClientError) as exc:
            logger.warning(
                "QuickBooks change feed not polled",
                connection_id=connection.id,
                error=str(exc)[:300],
            )
            self._audit.append(
                f"{connection.id}#ledger_poll",
                "failed",
                f"QuickBooks changes not polled: {exc}; the next run tries again from the same "
                "watermark",
            )
            metrics.add_metric(name="LedgerPollFailed", unit="Count", value=1)
            return LedgerPollResult(connection.id, "failed", error=str(exc)[:500])

    def _note_realm(self, connection: Connection) -> None:
        if connection.ledger.kind != "qbo" or self._realm_for is None or self._realms is None:
            return
        try:
            realm = self._realm_for(connection)
            if self._realms.realm(connection.id) != realm:
                self._realms.record(connection.id, realm)
        except (SyncError, BotoCoreError, ClientError) as exc:
            # Not connected yet, or AWS trouble: the next run tries again; nothing is lost.
            logger.info("company not recorded", connection_id=connection.id, error=str(exc)[:200])

    def _poll(self, connection: Connection, now: datetime) -> LedgerPollResult:
        feed = self._feed_for(connection)
        realm = feed.realm_id
        if self._realms is not None:
            # Connections connected before webhooks were taken have no record for ingest.
            self._realms.record(connection.id, realm)
        entities = wanted(connection.sync)
        held = self.watermark(connection.id)
        if held is None or held.realm_id != realm:
            # The first poll (or the connection moved to another company): start the feed now.
            self._put_watermark(connection.id, now, realm)
            self._audit.append(
                f"{connection.id}#ledger_poll",
                "polled",
                f"started following QuickBooks company {realm}'s changes from {now.isoformat()}",
            )
            return LedgerPollResult(connection.id, "started", watermark=now.isoformat())
        since = held.moment - self._overlap
        result = LedgerPollResult(connection.id, "polled")
        listed: list[LedgerChange] = []
        horizon = now - timedelta(days=CDC_MAX_DAYS)
        if since < horizon:
            result.outcome = "gap"
            for entity in ("ledger_item", "ledger_customer"):
                if entity in entities:
                    listed.extend(feed.everything(entity))
            since = horizon + GAP_MARGIN
        mark = now  # every change up to now was seen, unless the answers stayed full
        for _ in range(MAX_ROUNDS):
            changes = feed.changed_since(since)
            listed.extend(changes)
            stamped = [c.changed_at for c in changes if c.changed_at is not None]
            if len(changes) < CDC_MAX_OBJECTS or not stamped:
                mark = now
                break
            # A full answer may have left changes out: ask again from its latest change.
            since = mark = max(stamped)
        result.listed = len(listed)
        applied = self._applied(connection.id, [c for c in listed if c.entity in entities])
        recent: set[str] = set()
        seen: set[str] = set()
        outgoing: list[tuple[SyncMessage, str]] = []
        for change in listed:
            record = f"{connection.id}#{change.entity}#{change.ledger_id}"
            if change.version is not None and applied.get(record) == change.version:
                continue  # the worker already settled this very version
            version = self._version(change, applied.get(record))
            key = f"{change.entity}:{change.ledger_id}:{version}"
            if change.entity not in entities or key in seen:
                continue  # not asked for, or listed twice (a gap's listing and the feed)
            seen.add(key)
            if change.changed_at is not None and change.changed_at >= mark - self._overlap:
                recent.add(key)
            if key in held.recent:
                continue  # queued by the last poll already
            outgoing.append((self._message(connection.id, change, now, version), version))
            result.by_entity[change.entity] = result.by_entity.get(change.entity, 0) + 1
        refused = [e for e in self._queue.send_many(outgoing) if e is not None]
        if refused:
            # The next run sends all again from the same watermark; a repeat writes nothing.
            raise QueueUnavailable(f"SQS refused {len(refused)} of {len(outgoing)}: {refused[0]}")
        result.queued = len(outgoing)
        # Everything listed is queued: only now does the watermark move.
        self._put_watermark(connection.id, mark, realm, frozenset(recent))
        result.watermark = mark.isoformat()
        self._audit_result(connection, result, held.moment)
        metrics.add_metric(name="LedgerPollQueued", unit="Count", value=result.queued)
        return result

    def _applied(self, connection_id: str, changes: list[LedgerChange]) -> dict[str, str]:
        """Record key -> the SyncToken the sync worker last settled (its sync state)."""
        keys = list(
            dict.fromkeys(
                (f"{connection_id}#{c.entity}#{c.ledger_id}", "STATE")
                for c in changes
                if c.version is not None
            )
        )
        if not keys:
            return {}
        found = dynamo_batch.get_many(self._table.meta.client, self._table.name, keys)
        return {
            pk: str(item["sync_token"]) for (pk, _), item in found.items() if "sync_token" in item
        }

    @staticmethod
    def _version(change: LedgerChange, applied: str | None = None) -> str:
        """The message's version: LastUpdatedTime to the second, as the webhook's (SQS drops
        the second of the two). When the worker settled another SyncToken of the record than
        the feed lists, the SyncToken is added: a second edit in the same second shares the
        first's LastUpdatedTime, and without it SQS and the worker would take it for the
        first one, already done."""
        if change.changed_at is None:
            return f"poll:{change.entity}:{change.ledger_id}"
        moment = change_version(change.changed_at)
        if applied is not None and change.version is not None and applied != change.version:
            return f"{moment}#{change.version}"
        return moment

    def _message(
        self, connection_id: str, change: LedgerChange, now: datetime, version: str
    ) -> SyncMessage:
        return SyncMessage(
            connection_id=connection_id,
            entity=change.entity,
            record_id=change.ledger_id,
            action="delete" if change.operation == "delete" else "upsert",
            topic=f"qbo.{change.entity.removeprefix('ledger_')}.{change.operation}",
            modified_at=change.changed_at,
            version=version,
            received_at=now,
            source="ledger_poll",
        )

    def _audit_result(
        self, connection: Connection, result: LedgerPollResult, previous: datetime
    ) -> None:
        counts = ", ".join(f"{n} {e.removeprefix('ledger_')}" for e, n in result.by_entity.items())
        if result.outcome == "gap":
            outcome = (
                f"QuickBooks changes last polled {previous.isoformat()}, more than "
                f"{CDC_MAX_DAYS} days ago (the change feed's limit): re-listed every item and "
                f"customer asked for, and invoices from the last {CDC_MAX_DAYS} days; queued "
                f"{result.queued} ({counts or 'none'})"
            )
        else:
            outcome = f"QuickBooks change feed: queued {result.queued} ({counts or 'none'})"
        self._audit.append(
            f"{connection.id}#ledger_poll",
            "polled",
            outcome,
            detail={
                "listed": result.listed,
                "queued": result.queued,
                "watermark": result.watermark,
                "previous_watermark": previous.isoformat(),
                "gap": result.outcome == "gap",
            },
        )

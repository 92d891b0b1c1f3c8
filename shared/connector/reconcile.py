"""The poll (reconcile): queue what each store changed since its watermark and we have not synced.

Webhooks get lost (WooCommerce never retries a failed delivery, BigCommerce switches
off a failing hook) and Magento Open Source sends none, so a schedule asks every
connection's store, through the port, which orders and customers changed since the
connection's watermark. Per connection, when it is due (its ``reconcile_minutes`` since
its last run, or at once when asked), under a per-connection lease:

1. list the records changed since the watermark minus OVERLAP (a record committed late
   in a second already polled is still found; the first run starts one period back);
2. read their sync states in batches and queue each record whose state is missing or
   older than the store's modification time. A version the worker already settled is
   not queued again: posted or skipped is current, and parked waits for a replay;
3. only then store the new watermark: the latest modification time listed, on the
   store's clock. A failure leaves it where it was; the next run lists again, and sync
   states and SQS deduplication absorb what repeats.

Each queued record gets a ``received`` event saying polling found it; each run writes
a summary under ``<connection>#reconcile`` in the audit trail and a metric. A store that
is down or refuses our credentials is recorded for its connection and the others go on.

Around the poll, each run also:

- first queues the deliveries ingest kept when the sync queue refused them
  (connector.unqueued), every run whether or not the connection is due, deleting each
  once SQS took it;
- keeps to a time budget (the Lambda context's remaining time less RESERVE): listing and
  queuing stop before the function's timeout, and the watermark moves as far as what was
  queued proves (records listed in order of modification), so a days-long backlog
  advances run by run; a run cut short leaves the connection due at the next firing;
- looks after the connection's webhooks (connector.webhook_health): hourly, and at once
  when the poll caught records a webhook should have brought;
- counts the Desktop connections whose Web Connector has been silent for more than three
  times its ``run_every_minutes`` (``WebConnectorSilent``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, ValidationError

from connector.config import Connection, QbdLedger
from connector.errors import SyncError
from connector.health import HealthMarks
from connector.ledger_poll import LedgerPoll
from connector.messages import SyncMessage
from connector.model import Entity
from connector.observability import logger, metrics
from connector.state import AuditTrail, PollMark, StateStore, SyncState, now_utc
from connector.stores.port import ChangedRecord, Store, StoreAuthFailed, StoreUnavailable
from connector.sync_queue import QueueUnavailable, SyncQueue
from connector.unqueued import UnqueuedDeliveries
from connector.webhook_health import WebhookWatch

# Each listing starts this much before the watermark: a transaction the store commits late
# in a second already polled carries an earlier modification time than the watermark.
OVERLAP = timedelta(minutes=2)
# A schedule fires within its minute, not on the second: a run this close to due counts as due.
DUE_SLACK = timedelta(seconds=30)
ENTITIES: tuple[Entity, ...] = get_args(Entity)
# Sync states read (BatchGetItem) and messages queued per step.
BATCH = 100
# Sync states of a version the worker gave up on: replay is their way back, not the poll.
PARKED = ("parked", "failed")
# Parked records named in a run's summary, per entity (the count covers the rest).
PARKED_NAMED = 50
# What a run keeps of the function's time for one more store page, one chunk queued and
# its closing writes: below this, listing and queuing stop and the watermark is stored.
RESERVE = timedelta(seconds=60)
# A Web Connector not seen for this many times its schedule is silent (an alarm's metric).
SILENT_AFTER_RUNS = 3
# A record queued that changed this close to the latest change listed may have its webhook
# still on the way (the poll won a race); older ones are what the webhooks missed.
CAUGHT_GRACE = timedelta(minutes=2)

Decision = Literal["queue", "current", "parked"]


class PollRequest(BaseModel):
    """What an invocation's EventBridge ``detail`` asks for: empty on the schedule;
    ``{"poll": "now"}`` polls at once whatever the period, optionally one connection."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    poll: Literal["now"] | None = None
    connection_id: str | None = None

    @property
    def now(self) -> bool:
        return self.poll == "now"


def poll_request(event: Mapping[str, Any]) -> PollRequest:
    """The request in a scheduled event's ``detail``; a clear error for anything else."""
    detail = event.get("detail") or {}
    try:
        return PollRequest.model_validate(detail)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'detail'}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(
            f"the event's detail {detail!r} is not a poll request ({problems}); send {{}} or "
            '{"poll": "now"}, optionally with "connection_id"'
        ) from None


class ConnectionPoll(BaseModel):
    """What one run did for one connection (the handler's answer and the audit summary)."""

    connection_id: str
    outcome: Literal["polled", "not_due", "busy", "failed"]
    listed: int = 0
    queued: int = 0
    # Of those queued, the ones that changed over CAUGHT_GRACE before the latest change
    # listed: what the webhooks missed (ReconcileCaught).
    caught: int = 0
    current: int = 0
    parked: int = 0
    # Records that stay parked at the version listed (replay is their path), by entity; the
    # first PARKED_NAMED of each.
    parked_ids: dict[str, list[str]] = {}
    # Per entity, the watermark after this run (ISO 8601, the store's clock).
    watermarks: dict[str, str] = {}
    # Deliveries ingest kept when the sync queue refused them, queued by this run.
    unqueued: int = 0
    # The listing stopped at the time budget; the next run goes on from the watermarks.
    cut_short: bool = False
    # What the look at the connection's webhooks found (None: not looked at this run).
    webhooks: str | None = None
    error: str | None = None


class ReconcileReport(BaseModel):
    connections: list[ConnectionPoll] = []
    # Desktop connections whose Web Connector was not seen for 3x its schedule.
    silent_web_connectors: list[str] = []


class PollFailed(Exception):
    """A connection's poll raised something nobody classified (a bug, or an answer no
    adapter expected): the other connections were polled, then the run reports an error."""


def is_due(mark: PollMark | None, period: timedelta, now: datetime) -> bool:
    """Whether a connection's poll should run now: never run, or its period (give or take
    the schedule's slack) since the last run. A clock that went back counts as due."""
    if mark is None or mark.last_run_at is None:
        return True
    elapsed = now - mark.last_run_at
    return elapsed < timedelta(0) or elapsed + DUE_SLACK >= period


def decide(state: SyncState | None, modified_at: datetime) -> Decision:
    """Queue a listed record unless its sync state has seen this version (or a later one).

    A version the worker parked stays parked until someone replays it; a newer one is
    queued like any other change.
    """
    seen = _moment(state.store_modified_at) if state and state.store_modified_at else None
    if state is None or seen is None or seen < modified_at:
        return "queue"
    return "parked" if state.status in PARKED else "current"


def starting_point(
    mark: PollMark | None, entity: Entity, period: timedelta, now: datetime
) -> datetime:
    """The watermark to list from: the stored one, else (a first run) one period back.
    Older history is a backfill's job, not the poll's."""
    stored = mark.watermarks.get(entity) if mark else None
    return _aware(stored) if stored is not None else now - period


def latest_versions(records: Iterable[ChangedRecord]) -> list[ChangedRecord]:
    """Each record once, at the latest modification time listed, oldest change first."""
    latest: dict[str, ChangedRecord] = {}
    for record in records:
        record = ChangedRecord(record.entity, record.record_id, _aware(record.modified_at))
        known = latest.get(record.record_id)
        if known is None or record.modified_at > known.modified_at:
            latest[record.record_id] = record
    return sorted(latest.values(), key=lambda r: (r.modified_at, r.record_id))


@dataclass
class _Tally:
    listed: int = 0
    queued: int = 0
    caught: int = 0
    current: int = 0
    parked: int = 0


@dataclass
class Budget:
    """The run's time: the Lambda context's remaining milliseconds (None: no limit)."""

    remaining_ms: Callable[[], int] | None = None
    reserve: timedelta = RESERVE

    @property
    def spent(self) -> bool:
        if self.remaining_ms is None:
            return False
        return self.remaining_ms() < self.reserve.total_seconds() * 1000


@dataclass
class _Listing:
    """One entity's changed records as far as the budget allowed, latest version each."""

    records: list[ChangedRecord] = field(default_factory=list)
    complete: bool = True
    # Whether the store listed them in order of modification (so a listing cut short has
    # seen everything up to the last one).
    in_order: bool = True

    @property
    def horizon(self) -> datetime | None:
        """Records queued that changed up to here were missed, not raced (CAUGHT_GRACE
        before the latest change listed, on the store's own clock)."""
        return self.records[-1].modified_at - CAUGHT_GRACE if self.records else None


def list_within(records: Iterable[ChangedRecord], budget: Budget) -> _Listing:
    """Pull the listing a page's worth at a time until it ends or the budget is spent."""
    listing = _Listing()
    pulled: list[ChangedRecord] = []
    last: datetime | None = None
    for n, record in enumerate(records, start=1):
        moment = _aware(record.modified_at)
        if last is not None and moment < last:
            listing.in_order = False
        last = moment
        pulled.append(record)
        if n % BATCH == 0 and budget.spent:
            listing.complete = False
            break
    listing.records = latest_versions(pulled)
    return listing


def reached(listing: _Listing, done: int, start: datetime) -> datetime:
    """The watermark a listing proves: every change up to it was queued (or was current).

    ``done``: how many of its records (oldest change first) were decided. A listing that
    ran to its end proves the last of them. A listing cut short proves as much only when
    the store listed in order of modification; otherwise nothing.
    """
    if not listing.complete and not listing.in_order:
        return start
    decided = listing.records[:done]
    return max(start, decided[-1].modified_at) if decided else start


class Reconciler:
    def __init__(
        self,
        *,
        connections: Sequence[Connection],
        store_for: Callable[[Connection], Store],
        state: StateStore,
        audit: AuditTrail,
        queue: SyncQueue,
        lease_s: int,
        clock: Callable[[], datetime] = now_utc,
        unqueued: UnqueuedDeliveries | None = None,
        health: HealthMarks | None = None,
        webhooks: WebhookWatch | None = None,
        reserve: timedelta = RESERVE,
        ledger_poll: LedgerPoll | None = None,
    ) -> None:
        self._connections = connections
        self._store_for = store_for
        self._state = state
        self._audit = audit
        self._queue = queue
        self._lease_s = lease_s
        self._clock = clock
        self._unqueued = unqueued
        self._health = health
        self._webhooks = webhooks
        self._reserve = reserve
        # QuickBooks Online's change feed, polled with the store (connector.ledger_poll).
        self._ledger_poll = ledger_poll

    def run(
        self, request: PollRequest, remaining_ms: Callable[[], int] | None = None
    ) -> ReconcileReport:
        """Poll every connection that is due (all of them, or the one asked for, when asked
        to poll now), within the time ``remaining_ms`` (the Lambda context's) leaves."""
        budget = Budget(remaining_ms, self._reserve)
        connections = list(self._connections)
        if request.connection_id is not None:
            connections = [c for c in connections if c.id == request.connection_id]
            if not connections:
                known = ", ".join(c.id for c in self._connections)
                raise ValueError(
                    f"no connection {request.connection_id!r} to poll; this tenant has {known}"
                )
        report = ReconcileReport()
        unexpected: list[str] = []
        for connection in connections:
            try:
                report.connections.append(
                    self._connection(connection, forced=request.now, budget=budget)
                )
            except PollFailed as exc:
                unexpected.append(f"{connection.id}: {exc}")
                report.connections.append(
                    ConnectionPoll(connection_id=connection.id, outcome="failed", error=str(exc))
                )
        if self._webhooks is not None:
            unhealthy = sum(
                1
                for c in report.connections
                if c.webhooks is not None and not c.webhooks.startswith(("healthy", "polled"))
            )
            metrics.add_metric(name="WebhookUnhealthy", unit="Count", value=unhealthy)
        report.silent_web_connectors = self._silent_web_connectors()
        if unexpected:
            raise PollFailed("; ".join(unexpected))
        return report

    def _silent_web_connectors(self) -> list[str]:
        """Desktop connections whose Web Connector was seen, but not for 3x its schedule."""
        if self._health is None:
            return []
        now = self._clock()
        silent = []
        for connection in self._connections:
            if not isinstance(connection.ledger, QbdLedger):
                continue
            seen = self._health.noted(connection.id).qbwc_last_contact_at
            allowed = timedelta(minutes=SILENT_AFTER_RUNS * connection.ledger.run_every_minutes)
            if seen is not None and now - seen > allowed:
                silent.append(connection.id)
        if any(isinstance(c.ledger, QbdLedger) for c in self._connections):
            metrics.add_metric(name="WebConnectorSilent", unit="Count", value=len(silent))
        if silent:
            logger.warning("Web Connector silent", connection_ids=silent)
        return silent

    # --- deliveries ingest could not queue -------------------------------------------------
    def _queue_kept(self, connection: Connection, budget: Budget) -> int:
        """Queue what ingest kept for the connection, oldest first, deleting each once SQS
        took it. Stops (the rest waits for the next run) when the queue still refuses."""
        if self._unqueued is None:
            return 0
        queued = 0
        try:
            for item in self._unqueued.waiting(connection.id):
                if budget.spent:
                    break
                message = item.message
                self._queue.send(message, version=item.version)
                self._audit.append(
                    message.record_key,
                    "received",
                    f"{message.topic} queued by the reconcile run: ingest kept it at "
                    f"{message.received_at.isoformat()} when the sync queue refused it",
                    detail={
                        "topic": message.topic,
                        "source": "unqueued",
                        "store_modified_at": item.version,
                    },
                )
                self._unqueued.forget(connection.id, item.key)
                queued += 1
        except (QueueUnavailable, BotoCoreError, ClientError) as exc:
            logger.warning(
                "kept deliveries not queued yet",
                connection_id=connection.id,
                queued=queued,
                error=str(exc)[:300],
            )
        return queued

    # --- one connection -------------------------------------------------------------------
    def _connection(
        self, connection: Connection, *, forced: bool, budget: Budget
    ) -> ConnectionPoll:
        kept = self._queue_kept(connection, budget)
        period = timedelta(minutes=connection.reconcile_minutes)
        if not forced and not is_due(self._state.poll_mark(connection.id), period, self._clock()):
            return self._not_polled(connection, "not_due", kept)
        lock, owner = f"reconcile#{connection.id}", secrets.token_hex(8)
        if not self._state.acquire_lock(lock, owner, self._lease_s):
            logger.info("another run is polling this connection", connection_id=connection.id)
            return self._not_polled(connection, "busy", kept)
        try:
            # Read again under the lease: a run that just finished may have moved it.
            mark = self._state.poll_mark(connection.id)
            now = self._clock()
            if not forced and not is_due(mark, period, now):
                return self._not_polled(connection, "not_due", kept)
            result = self._poll(connection, mark, period, now, budget, kept)
            if self._ledger_poll is not None and not budget.spent:
                self._ledger_poll.poll(connection)  # audited by itself; never raises
            if result.outcome == "polled" and not budget.spent:
                result.webhooks = self._look_after_webhooks(connection, now, result.caught)
            return result
        finally:
            self._state.release_lock(lock, owner)

    def _not_polled(
        self, connection: Connection, outcome: Literal["not_due", "busy"], kept: int
    ) -> ConnectionPoll:
        if kept:
            self._audit.append(
                f"{connection.id}#reconcile",
                "polled",
                f"queued {kept} deliveries ingest had kept when the sync queue refused them "
                f"(the store is polled when its period is up)",
                detail={"unqueued": kept, "outcome": outcome},
            )
        return ConnectionPoll(connection_id=connection.id, outcome=outcome, unqueued=kept)

    def _look_after_webhooks(
        self, connection: Connection, now: datetime, caught: int
    ) -> str | None:
        if self._webhooks is None or not self._webhooks.due(connection.id, now, caught=caught):
            return None
        try:
            return self._webhooks.look_after(connection, now).health
        except (SyncError, BotoCoreError, ClientError) as exc:
            # The poll went well; a failed look is said and tried again on the next run.
            logger.warning("could not look at the webhooks", connection_id=connection.id,
                           error=str(exc)[:300])  # fmt: skip
            return f"unhealthy: could not look at the webhooks: {exc}"

    def _poll(
        self,
        connection: Connection,
        mark: PollMark | None,
        period: timedelta,
        now: datetime,
        budget: Budget,
        kept: int = 0,
    ) -> ConnectionPoll:
        start = {e: starting_point(mark, e, period, now) for e in ENTITIES}
        # A first run lists from its starting point; later runs overlap their watermark.
        since = {
            e: start[e] - OVERLAP if mark and e in mark.watermarks else start[e] for e in ENTITIES
        }
        tally = _Tally()
        parked: dict[str, list[str]] = {}
        cut_short = False
        try:
            store = self._store_for(connection)
            watermarks = dict(start)
            for entity in ENTITIES:
                if budget.spent:
                    cut_short = True
                    break
                listing = list_within(store.list_changed(entity, since[entity]), budget)
                done = 0  # records decided (queued, current or parked), oldest change first
                for chunk in _chunks(listing.records, BATCH):
                    if done and budget.spent:
                        break
                    held = self._queue_chunk(connection, chunk, now, tally, listing.horizon)
                    named = parked.setdefault(entity, [])
                    named.extend(held[: max(0, PARKED_NAMED - len(named))])
                    done += len(chunk)
                watermarks[entity] = reached(listing, done, start[entity])
                if not listing.complete or done < len(listing.records):
                    cut_short = True
                    break
        except (SyncError, QueueUnavailable) as exc:
            return self._failed(connection, now, start, since, tally, exc)
        except Exception as exc:
            self._failed(connection, now, start, since, tally, exc)
            logger.exception("poll failed unexpectedly", connection_id=connection.id)
            raise PollFailed(f"{type(exc).__name__}: {exc}") from exc
        # Only now that every listed record is queued does the watermark move. A run cut
        # short at the time budget is stored a period back, so the next firing goes on.
        last_run = now - period if cut_short else now
        self._state.put_poll_mark(
            connection.id, PollMark(last_run_at=last_run, watermarks=watermarks)
        )
        result = ConnectionPoll(
            connection_id=connection.id,
            outcome="polled",
            listed=tally.listed,
            queued=tally.queued,
            caught=tally.caught,
            current=tally.current,
            parked=tally.parked,
            parked_ids={entity: ids for entity, ids in parked.items() if ids},
            watermarks={e: w.isoformat() for e, w in watermarks.items()},
            unqueued=kept,
            cut_short=cut_short,
        )
        self._audit.append(
            f"{connection.id}#reconcile",
            "polled",
            _summary(result, since),
            detail={**result.model_dump(mode="json"), "since": _iso(since)},
        )
        metrics.add_metric(name="ReconcileQueued", unit="Count", value=tally.queued)
        # What the poll queued that no webhook brought in time (races with one on its way
        # left out): the alarm on webhooks that no longer arrive reads it.
        metrics.add_metric(name="ReconcileCaught", unit="Count", value=tally.caught)
        logger.info(
            "polled the store",
            connection_id=connection.id,
            listed=tally.listed,
            queued=tally.queued,
            current=tally.current,
            parked=tally.parked,
        )
        return result

    def _queue_chunk(
        self,
        connection: Connection,
        chunk: Sequence[ChangedRecord],
        now: datetime,
        tally: _Tally,
        horizon: datetime | None = None,
    ) -> list[str]:
        """Queue the records of ``chunk`` that need it; returns the ids left parked."""
        keys = {r.record_id: f"{connection.id}#{r.entity}#{r.record_id}" for r in chunk}
        states = self._state.get_sync_states(keys.values())
        held: list[str] = []
        events = []
        for record in chunk:
            tally.listed += 1
            decision = decide(states.get(keys[record.record_id]), record.modified_at)
            if decision == "current":
                tally.current += 1
                continue
            if decision == "parked":
                tally.parked += 1
                held.append(record.record_id)
                continue
            version = record.modified_at.isoformat()
            message = SyncMessage(
                connection_id=connection.id,
                entity=record.entity,
                record_id=record.record_id,
                topic=f"{record.entity}.changed",
                modified_at=record.modified_at,
                version=version,
                received_at=now,
                source="reconcile",
            )
            self._queue.send(message, version=version)
            tally.queued += 1
            if horizon is not None and record.modified_at <= horizon:
                tally.caught += 1
            events.append(
                self._audit.event_put(
                    message.record_key,
                    "received",
                    f"found by polling: {record.entity} {record.record_id} changed in the store "
                    f"at {version}; queued",
                    detail={
                        "topic": message.topic,
                        "source": "reconcile",
                        "store_modified_at": version,
                    },
                )
            )
        if events:
            self._state.write_all(events)
        return held

    def _failed(
        self,
        connection: Connection,
        now: datetime,
        start: Mapping[Entity, datetime],
        since: Mapping[Entity, datetime],
        tally: _Tally,
        exc: Exception,
    ) -> ConnectionPoll:
        """Record a failed run: the watermark stays (a first run keeps its starting point, so
        the next one covers the same ground), the next run comes a period later."""
        self._state.put_poll_mark(connection.id, PollMark(last_run_at=now, watermarks=dict(start)))
        reason = str(getattr(exc, "reason", exc))
        if isinstance(exc, StoreAuthFailed):
            why = f"the store refused our credentials: {reason}"
        elif isinstance(exc, StoreUnavailable):
            why = f"the store did not answer: {reason}"
        elif isinstance(exc, QueueUnavailable):
            why = f"the sync queue did not take a message: {reason}"
        else:
            why = reason
        text = (
            f"poll failed; the watermark stays, the next run lists again ({tally.queued} of "
            f"the records listed so far were queued): {why}"
        )
        self._audit.append(
            f"{connection.id}#reconcile",
            "poll_failed",
            text,
            detail={"error": type(exc).__name__, "queued": tally.queued, "since": _iso(since)},
        )
        metrics.add_metric(name="ReconcileFailed", unit="Count", value=1)
        logger.warning("poll failed", connection_id=connection.id, error=why)
        return ConnectionPoll(
            connection_id=connection.id,
            outcome="failed",
            listed=tally.listed,
            queued=tally.queued,
            watermarks={e: w.isoformat() for e, w in start.items()},
            error=text,
        )


def _summary(result: ConnectionPoll, since: Mapping[Entity, datetime]) -> str:
    marks = ", ".join(f"{e} {w}" for e, w in result.watermarks.items())
    listed = ", ".join(f"{e}s since {m}" for e, m in _iso(since).items())
    text = (
        f"listed {result.listed} changed records ({listed}); queued {result.queued}, "
        f"{result.current} already current"
    )
    if result.parked:
        held = "; ".join(f"{e} {', '.join(ids)}" for e, ids in result.parked_ids.items())
        text += (
            f", {result.parked} parked at this version and not queued again ({held}): "
            "`connector replay` sends them again"
        )
    if result.caught:
        text += f" ({result.caught} of those queued no webhook had brought)"
    if result.unqueued:
        text += (
            f"; queued {result.unqueued} deliveries ingest had kept when the sync queue "
            "refused them"
        )
    if result.cut_short:
        text += "; stopped at the time budget, the next run goes on from the watermark"
    return f"{text}; watermark {marks}"


def _chunks(items: Sequence[ChangedRecord], size: int) -> Iterator[Sequence[ChangedRecord]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _moment(stamp: str) -> datetime:
    return _aware(datetime.fromisoformat(stamp))


def _iso(moments: Mapping[Entity, datetime]) -> dict[str, str]:
    return {entity: moment.isoformat() for entity, moment in moments.items()}

"""Backfill: bring a connection's past orders into QuickBooks, at a pace QuickBooks allows.

``connector backfill --tenant T --connection C --since 2025-01-01 [--until 2025-06-30]``
lists the orders the store created in the window (the port's ``list_created``), sorts them
by creation, and queues each one whose sync state has not seen its current version through
the same path as the poll: the sync queue, the same deduplication id for the same version,
a ``received`` event per order, the worker settling each once. It queues at most
``--per-minute`` orders a minute and keeps no more than a few minutes of work ahead of the
worker (connector.backfill_pace), and prints a progress line (connector.backfill_progress).

A checkpoint in the state table (connector.backfill_checkpoint) records the cursor, the
counts and the orders still waiting for the worker after every few orders and whenever
the run stops (Ctrl-C, an error): the same command resumes after the last order it
handled. If the process dies between two checkpoints, the resumed run meets the last few
orders again: SQS drops a repeat within five minutes and the worker's sync state after
that, and an order the worker already settled counts as "already in step", not as queued
twice. ``--dry-run`` fetches and judges every order (connector.backfill_dry_run) and
writes nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any, Literal, TextIO

from connector.backfill_checkpoint import Checkpoint, CheckpointStore
from connector.backfill_dry_run import judge, summary
from connector.backfill_pace import (
    DEFAULT_PER_MINUTE,
    MAX_BACKLOG,
    Pacer,
    Rate,
    default_backlog,
    duration,
    eta_s,
)
from connector.backfill_progress import ProgressOutput, line
from connector.config import Connection
from connector.errors import ConfigError, SyncError
from connector.messages import SyncMessage
from connector.reconcile import decide
from connector.state import AuditTrail, StateStore, SyncState, now_utc
from connector.stores.port import HistoricOrder, Store
from connector.sync_queue import QueueUnavailable, SyncQueue

# Orders decided per step: one BatchGetItem of sync states, then a checkpoint.
CHUNK = 10
# A run's lease on its connection's backfill: renewed with each checkpoint, so a process
# that was killed holds it back from a second run for at most this long.
LEASE_S = 120
# While it waits (the pace, the worker), a run saves its checkpoint this often.
SAVE_EVERY_S = 5.0
# Sync states of what the worker settled, and what a progress line counts them as.
SETTLED: dict[str, str] = {
    "posted": "posted",
    "queued": "outbox",  # QuickBooks Desktop: in the outbox for the Web Connector
    "skipped": "skipped",
    "voided": "skipped",
    "deleted": "skipped",
    "parked": "parked",
    "failed": "parked",
}

Outcome = Literal["finished", "stopped", "already finished", "waiting"]


@dataclass(frozen=True)
class Window:
    """Orders created at or after ``since`` and before ``until`` (UTC); ``key`` names the
    checkpoint: ``<since>..<until>`` as given, ``now`` for an open end."""

    since: datetime
    until: datetime
    key: str


def window(since: date, until: date | None, now: datetime) -> Window:
    """``--since`` and ``--until`` are days in UTC, both included; no ``--until`` is now."""
    start = datetime.combine(since, clock_time(), UTC)
    if until is not None:
        end = datetime.combine(until + timedelta(days=1), clock_time(), UTC)
    else:
        end = now.astimezone(UTC).replace(microsecond=0)
    if end <= start:
        raise ConfigError(
            f"the backfill's window is empty: --since {since.isoformat()} is not before "
            f"{'--until ' + until.isoformat() if until else 'today'}"
        )
    return Window(start, end, f"{since.isoformat()}..{until.isoformat() if until else 'now'}")


@dataclass(frozen=True)
class Options:
    per_minute: float = DEFAULT_PER_MINUTE
    backlog: int | None = None  # default: five minutes of work at ``per_minute``
    restart: bool = False  # start the window over, whatever its checkpoint says
    wait: bool = True  # after queuing, wait for the worker to settle everything queued
    poll_s: float = 2.0  # how often the worker's progress is read while waiting

    def __post_init__(self) -> None:
        if self.backlog is not None and not 1 <= self.backlog <= MAX_BACKLOG:
            raise ConfigError(
                f"--backlog {self.backlog}: give 1 to {MAX_BACKLOG} (the checkpoint keeps "
                "every order queued and not yet settled)"
            )


@dataclass
class Timing:
    now: Callable[[], datetime] = now_utc
    clock: Callable[[], float] = time.monotonic  # pacing, rates, progress intervals
    sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True)
class BackfillResult:
    outcome: Outcome
    checkpoint: Checkpoint


@dataclass
class Backfill:
    """What a backfill needs (explicit, so the CLI verb and the tests build it alike)."""

    connection: Connection
    store: Store
    state: StateStore
    audit: AuditTrail
    queue: SyncQueue
    checkpoints: CheckpointStore
    out: TextIO = field(default_factory=lambda: sys.stdout)
    tty: bool | None = None  # None: whether ``out`` is a terminal
    timing: Timing = field(default_factory=Timing)


class Stopped(Exception):
    """The caller's stop event was set: the checkpoint is saved, the run can resume."""


def run_backfill(
    backfill: Backfill,
    since: date,
    until: date | None = None,
    *,
    options: Options | None = None,
    stop: threading.Event | None = None,
) -> BackfillResult:
    """Queue the window's orders, resuming a stopped run; returns where it ended."""
    return _Run(backfill, options or Options(), stop).run(since, until)


class _Run:
    def __init__(self, backfill: Backfill, options: Options, stop: threading.Event | None) -> None:
        self._b = backfill
        self._options = options
        self._stop = stop
        clock = backfill.timing.clock
        tty = backfill.tty if backfill.tty is not None else _is_tty(backfill.out)
        self._progress = ProgressOutput(backfill.out, tty=tty, clock=clock)
        self._pacer = Pacer(options.per_minute, clock)
        self._rate = Rate(clock)
        self._backlog = options.backlog or default_backlog(options.per_minute)
        self._settled_at = float("-inf")
        self._saved_at = float("-inf")
        self._remaining = 0
        self._cp: Checkpoint | None = None

    @property
    def cp(self) -> Checkpoint:
        assert self._cp is not None
        return self._cp

    def run(self, since: date, until: date | None) -> BackfillResult:
        connection = self._b.connection
        lock, owner = f"backfill#{connection.id}", secrets.token_hex(8)
        if not self._b.state.acquire_lock(lock, owner, LEASE_S):
            raise ConfigError(
                f"another backfill of connection {connection.id} is running (if it was killed, "
                f"its lease ends within {LEASE_S // 60} minutes)"
            )
        self._lease = (lock, owner)
        try:
            return self._run(since, until)
        finally:
            self._b.state.release_lock(lock, owner)

    def _run(self, since: date, until: date | None) -> BackfillResult:
        b, now = self._b, self._b.timing.now()
        wanted = window(since, until, now)
        found = b.checkpoints.get(b.connection.id, wanted.key)
        if found is not None and found.finished_at is not None and not self._options.restart:
            self._progress.say(
                f"backfill {b.connection.id} {wanted.key} finished at "
                f"{found.finished_at.isoformat()} ({found.queued} queued, {found.posted} posted, "
                f"{found.parked} parked); nothing to do (--restart runs it again)"
            )
            return BackfillResult("already finished", found)
        if found is not None and found.finished_at is None and not self._options.restart:
            self._cp = found.model_copy(update={"runs": found.runs + 1, "updated_at": now})
            wanted = Window(found.since, found.until, wanted.key)
            verb = f"resuming (run {self.cp.runs})"
        else:
            self._cp = Checkpoint(
                connection_id=b.connection.id,
                window=wanted.key,
                since=wanted.since,
                until=wanted.until,
                started_at=now,
                updated_at=now,
            )
            verb = "starting"
        self._progress.say(
            f"backfill {b.connection.id}: {verb}; listing the {b.store.display_name} orders "
            f"created from {_stamp(wanted.since)} until {_stamp(wanted.until)}"
        )
        listed = []
        for order in b.store.list_created(wanted.since, wanted.until):
            if self._stopping():
                self._progress.say("stopped while listing; nothing queued in this run")
                return BackfillResult("stopped", self.cp)
            listed.append(order)
        todo = after_cursor(listed, self.cp)
        self.cp.found = len(listed)
        self._remaining = len(todo)
        self._progress.say(
            f"{len(listed)} orders in the window; {len(todo)} to go"
            + (f", {len(self.cp.waiting)} queued earlier still waiting" if self.cp.waiting else "")
            + f"; at most {self._options.per_minute:g} a minute, {self._backlog} ahead of the worker"
        )
        try:
            for start in range(0, len(todo), CHUNK):
                self._chunk(todo[start : start + CHUNK])
            self._save()
            while self.cp.waiting and self._options.wait:
                self._check_stop()
                b.timing.sleep(self._options.poll_s)
                self._settle(force=True)
                self._show()
                self._tick()
        except Stopped:
            self._save()
            self._say_stopped()
            return BackfillResult("stopped", self.cp)
        except BaseException:
            # Ctrl-C or an error: what was queued is recorded, so the same command resumes.
            self._save()
            self._say_stopped()
            raise
        if self.cp.waiting:
            self._save()
            self._show(force=True)
            self._progress.say(
                f"queued everything; {len(self.cp.waiting)} orders still wait for the worker "
                "(run the same command again to follow them)"
            )
            return BackfillResult("waiting", self.cp)
        self.cp.finished_at = b.timing.now()
        self._save()
        self._show(force=True)
        self._progress.say(self._summary())
        return BackfillResult("finished", self.cp)

    # --- one step -------------------------------------------------------------------------
    def _chunk(self, chunk: Sequence[HistoricOrder]) -> None:
        b, cp = self._b, self.cp
        keys = {o.record_id: _record_key(b.connection.id, o.record_id) for o in chunk}
        states = b.state.get_sync_states(keys.values())
        for order in chunk:
            self._check_stop()
            decision = decide(states.get(keys[order.record_id]), _aware(order.modified_at))
            if decision == "queue":
                self._wait_for_room()
                self._send(order)
            elif decision == "current":
                cp.current += 1
            else:
                cp.held += 1
            cp.cursor_created_at, cp.cursor_id = order.created_at, order.record_id
            self._remaining -= 1
            self._settle()
            self._show()
        self._save()

    def _send(self, order: HistoricOrder) -> None:
        b, cp = self._b, self.cp
        modified = _aware(order.modified_at)
        version = modified.isoformat()
        message = SyncMessage(
            connection_id=b.connection.id,
            entity="order",
            record_id=order.record_id,
            topic="order.backfilled",
            modified_at=modified,
            version=version,
            received_at=b.timing.now(),
            source="backfill",
        )
        # The poll's deduplication id for the same version: a poll and a backfill queuing
        # the same order within SQS's five minutes send it once.
        b.queue.send(message, version=version)
        self._pacer.sent()
        cp.queued += 1
        cp.waiting[order.record_id] = version
        b.audit.append(
            message.record_key,
            "received",
            f"found by backfill {cp.window}: order {order.record_id} created at "
            f"{_aware(order.created_at).isoformat()}, version {version}; queued",
            detail={"topic": message.topic, "source": "backfill", "store_modified_at": version},
        )

    def _wait_for_room(self) -> None:
        """Until the pace allows another order and the worker is not too far behind."""
        timing = self._b.timing
        while True:
            self._check_stop()
            if len(self.cp.waiting) >= self._backlog:
                self._settle(force=True)
                if len(self.cp.waiting) >= self._backlog:
                    self._show()
                    self._tick()
                    timing.sleep(self._options.poll_s)
                    continue
            wait = self._pacer.wait_s()
            if wait <= 0:
                return
            timing.sleep(min(wait, self._options.poll_s))
            self._settle()
            self._show()
            self._tick()

    # --- the worker's progress --------------------------------------------------------------
    def _settle(self, *, force: bool = False) -> None:
        """Count what the worker settled among the orders waiting (one batched read)."""
        now = self._b.timing.clock()
        if not self.cp.waiting or (not force and now - self._settled_at < self._options.poll_s):
            return
        self._settled_at = now
        cp = self.cp
        keys = {rid: _record_key(cp.connection_id, rid) for rid in cp.waiting}
        states = self._b.state.get_sync_states(keys.values())
        for rid, version in list(cp.waiting.items()):
            kind = settled_as(states.get(keys[rid]), version)
            if kind is not None:
                setattr(cp, kind, getattr(cp, kind) + 1)
                del cp.waiting[rid]
        self._rate.note(cp.settled)

    def _show(self, *, force: bool = False) -> None:
        rate = self._rate.per_minute()
        eta = eta_s(
            to_queue=self._remaining,
            to_settle=self._remaining + len(self.cp.waiting),
            per_minute=self._options.per_minute,
            settled_per_minute=rate,
        )
        self._progress.show(line(self.cp, rate=rate, eta=eta), force=force)

    # --- bookkeeping --------------------------------------------------------------------------
    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    def _check_stop(self) -> None:
        if self._stopping():
            raise Stopped()

    def _tick(self) -> None:
        """Save now and then while waiting: the counts stay current and the lease held."""
        if self._b.timing.clock() - self._saved_at >= SAVE_EVERY_S:
            self._save()

    def _save(self) -> None:
        if self._cp is None:
            return
        self._saved_at = self._b.timing.clock()
        self.cp.updated_at = self._b.timing.now()
        self._b.checkpoints.put(self.cp)
        lock, owner = self._lease
        self._b.state.acquire_lock(lock, owner, LEASE_S)  # renew

    def _say_stopped(self) -> None:
        if self._cp is None:
            return
        self._show(force=True)
        self._progress.say(
            f"stopped after {self.cp.handled + len(self.cp.waiting)} of {self.cp.found} orders "
            f"({self.cp.queued} queued); the same command resumes from order "
            f"{self.cp.cursor_id or '(none yet)'}"
        )

    def _summary(self) -> str:
        cp = self.cp
        took = duration((cp.updated_at - cp.started_at).total_seconds())
        text = (
            f"backfill {cp.connection_id} {cp.window} finished: {cp.found} orders found, "
            f"{cp.queued} queued, {cp.posted} posted, {cp.parked} parked"
        )
        extras = (
            ("in the Desktop outbox", cp.outbox),
            ("skipped (status, cancelled or deleted)", cp.skipped),
            ("already in step", cp.current),
            ("parked before the backfill", cp.held),
        )
        text += "".join(f", {count} {name}" for name, count in extras if count)
        text += f" in {took} ({cp.runs} run{'s' if cp.runs > 1 else ''})"
        if cp.parked or cp.held:
            text += "; `connector parked` lists the parked orders, `connector replay` retries them"
        return text


def settled_as(state: SyncState | None, version: str) -> str | None:
    """The checkpoint counter an order's sync state settles it under, or None while the
    worker has not settled the version queued (no state, an older one, an attempt)."""
    if state is None or state.store_modified_at is None:
        return None
    if _aware(datetime.fromisoformat(state.store_modified_at)) < _aware(
        datetime.fromisoformat(version)
    ):
        return None
    return SETTLED.get(state.status)


# --- dry run -------------------------------------------------------------------------------


def dry_run_backfill(
    connection: Connection,
    store: Store,
    since: date,
    until: date | None,
    *,
    out: TextIO,
    now: datetime | None = None,
) -> str:
    """Print what each order would do; returns the summary line. Writes nothing anywhere."""
    wanted = window(since, until, now or now_utc())
    out.write(
        f"dry run of backfill {connection.id} {wanted.key}: the {store.display_name} orders "
        f"created from {_stamp(wanted.since)} to {_stamp(wanted.until)} (nothing is written)\n"
    )
    judged = []
    for order in sorted(store.list_created(wanted.since, wanted.until), key=_order_key):
        verdict = judge(store, connection, order.record_id)
        judged.append(verdict)
        out.write(verdict.text() + "\n")
        out.flush()
    text = summary(judged)
    out.write(text + "\n")
    return text


# --- the command line ------------------------------------------------------------------------


def add_backfill_parser(commands: Any) -> None:
    """``connector backfill``: ``commands`` is the CLI's subparsers."""
    parser = commands.add_parser(
        "backfill",
        help="queue a connection's past orders (created between --since and --until)",
        description=(
            "Queue the orders a connection's store created in a window, at a pace QuickBooks "
            "allows, with a progress line. Stopped (Ctrl-C), the same command resumes."
        ),
    )
    parser.add_argument("--tenant", help="the tenant (stack MlConnector-<tenant>)")
    parser.add_argument("--config", help="tenant file; default tenants/<tenant>.toml")
    parser.add_argument("--connection", required=True, help="the connection to backfill")
    parser.add_argument(
        "--since", required=True, type=_day, help="first day (UTC, YYYY-MM-DD), included"
    )
    parser.add_argument(
        "--until", type=_day, help="last day (UTC, YYYY-MM-DD), included; default now"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="fetch each order and say whether it would post, park or not post; write nothing",
    )
    parser.add_argument(
        "--per-minute",
        type=_positive,
        default=DEFAULT_PER_MINUTE,
        help=f"orders queued a minute at most (default {DEFAULT_PER_MINUTE}; QuickBooks Online "
        "allows 500 requests a minute per company and an order takes 2-6)",
    )
    parser.add_argument(
        "--backlog",
        type=int,
        help="orders queued ahead of the worker at most (default five minutes' worth)",
    )
    parser.add_argument(
        "--restart",
        action="store_true",
        help="start this window from its first order again, even if a run finished or stopped",
    )
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="return once everything is queued instead of following the worker to the end",
    )
    parser.add_argument("--local", action="store_true", help="act on the running `connector local`")
    parser.set_defaults(run=backfill_command)


def backfill_command(args: argparse.Namespace) -> int:
    import httpx

    from connector import cli_target, resources
    from connector.config import load_tenant
    from connector.stores.registry import StoreLookups, open_store

    path = cli_target.tenant_file_path(args.tenant, args.config)
    config = load_tenant(path)
    if args.tenant and config.tenant != args.tenant:
        raise ConfigError(f"--tenant is {args.tenant!r} but the tenant file is {config.tenant!r}")
    connection = config.require_connection(args.connection)
    target = cli_target.open_target(config.tenant, path, local=args.local)
    with httpx.Client(timeout=30.0) as http:
        store = open_store(connection, vault=target.vault(), http=http, lookups=StoreLookups())
        try:
            if args.dry_run:
                dry_run_backfill(connection, store, args.since, args.until, out=sys.stdout)
                return 0
            dynamodb = target.resource("dynamodb")
            state_table = target.table(resources.STATE_TABLE)
            backfill = Backfill(
                connection=connection,
                store=store,
                state=StateStore(state_table, resource=dynamodb),
                audit=AuditTrail(
                    target.table(resources.AUDIT_TABLE),
                    resource=dynamodb,
                    retention_days=config.retention_days,
                ),
                queue=SyncQueue(
                    target.output(cli_target.SYNC_QUEUE_URL), client=target.client("sqs")
                ),
                checkpoints=CheckpointStore(state_table, resource=dynamodb),
            )
            options = Options(
                per_minute=args.per_minute,
                backlog=args.backlog,
                restart=args.restart,
                wait=not args.no_wait,
            )
            stop = threading.Event()
            with first_ctrl_c_stops(stop):
                result = run_backfill(backfill, args.since, args.until, options=options, stop=stop)
            if result.outcome == "stopped":
                return 130
        except KeyboardInterrupt:
            return 130
        except (SyncError, QueueUnavailable) as exc:
            # The store or the queue failed after our retries; a real run saved where it was.
            again = "" if args.dry_run else "; run the same command again to resume"
            print(f"error: {exc}{again}", file=sys.stderr)
            return 1
    return 0 if result.outcome in ("finished", "already finished", "waiting") else 1


@contextlib.contextmanager
def first_ctrl_c_stops(stop: threading.Event) -> Iterator[None]:
    """The first Ctrl-C asks the run to stop between two orders, so the checkpoint never
    counts an order queued whose cursor did not move past it (the resumed run would queue
    it again); a second Ctrl-C interrupts at once."""

    def first(signum: int, frame: object) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print("stopping after this order (Ctrl-C again to stop at once)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day (YYYY-MM-DD)") from None


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


# --- helpers -------------------------------------------------------------------------------


def after_cursor(listed: Sequence[HistoricOrder], checkpoint: Checkpoint) -> list[HistoricOrder]:
    """The orders still to handle, oldest first: those after the checkpoint's cursor in
    (creation, id) order. Ids compare as numbers where they are numbers (order 100 comes
    after order 99 placed in the same second)."""
    ordered = sorted(listed, key=_order_key)
    if checkpoint.cursor_created_at is None or checkpoint.cursor_id is None:
        return ordered
    cursor = _key(checkpoint.cursor_created_at, checkpoint.cursor_id)
    return [order for order in ordered if _order_key(order) > cursor]


def _order_key(order: HistoricOrder) -> tuple[datetime, int, str]:
    return _key(order.created_at, order.record_id)


def _key(created_at: datetime, record_id: str) -> tuple[datetime, int, str]:
    return (_aware(created_at), len(record_id), record_id)


def _record_key(connection_id: str, record_id: str) -> str:
    return f"{connection_id}#order#{record_id}"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _is_tty(out: TextIO) -> bool:
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty())

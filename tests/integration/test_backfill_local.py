"""Backfill through the local runtime: a WooCommerce store's January orders into QuickBooks Online.

The simulated store's clock is set back to January 2026 while the orders are placed, so they
are history no webhook ever announced (but one, synced the usual way). ``--dry-run`` says
what each would do and writes nothing; the real run queues through the sync queue and the
worker posts each order once; run again, it finds its checkpoint finished and queues
nothing; interrupted, it resumes from its cursor.
"""

from __future__ import annotations

import io
import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connector.backfill import Backfill, Options, Timing, dry_run_backfill, run_backfill
from connector.backfill_checkpoint import CheckpointStore
from connector.errors import ConfigError
from connector.stores.registry import StoreLookups, open_store
from connector.sync_queue import SyncQueue
from simulators.testbed.clocks import T0, Clock
from simulators.testbed.online import QboRig, QboRigs, connection_settings
from simulators.woocommerce import LineSpec, OrderSpec

SHOP = "shop"
MUG, BOOK = 10, 12  # MUG-01 is mapped; BOOK-KIDS is not, and there is no fallback item
DAY = 86_400
JANUARY = (date(2026, 1, 1), date(2026, 1, 31))


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    mapping = {
        "items": {"MUG-01": "Sales"},
        "shipping_item": "Shipping",
        "doc_number": "{prefix}{number}",
        "doc_prefix": "BF-",
        "tax": {"mode": "us_automated"},
    }
    return [connection_settings(SHOP, woo_url=woo_url, qbo_url=qbo_url, mapping=mapping)]


@dataclass
class History:
    rig: QboRig
    clock: Clock
    posts: list[int]  # January orders that post
    book: int  # January, its SKU has no item: parks
    pending: int  # January, status pending: does not post
    synced: int  # January, already brought in by its webhook
    february: int  # outside the window

    def backfill(self, out: io.StringIO, queue: Any = None) -> Backfill:
        rig = self.rig
        dynamodb = rig.runtime.boto3_resource("dynamodb")
        return Backfill(
            connection=rig.connection(SHOP),
            store=self.store(),
            state=rig.state_store,
            audit=rig.trail,
            queue=queue or rig.sync_queue(),
            checkpoints=CheckpointStore(
                rig.runtime.env["CONNECTOR_STATE_TABLE"], resource=dynamodb
            ),
            out=out,
            tty=False,
        )

    def store(self) -> Any:
        rig = self.rig
        return open_store(
            rig.connection(SHOP),
            vault=rig.vault,
            http=httpx.Client(timeout=30),
            lookups=StoreLookups(),
        )

    def checkpoint(self, window: str = "2026-01-01..2026-01-31") -> Any:
        dynamodb = self.rig.runtime.boto3_resource("dynamodb")
        store = CheckpointStore(self.rig.runtime.env["CONNECTOR_STATE_TABLE"], resource=dynamodb)
        return store.get(SHOP, window)


FAST = Options(per_minute=6000, poll_s=0.2)


@pytest.fixture(scope="module")
def history(qbo_rig: QboRigs) -> Iterator[History]:
    clock = Clock(T0)
    with qbo_rig(_connections, store_clock=clock) as rig:
        woo = rig.woo

        def place(day: float, *lines: LineSpec, status: str = "processing") -> int:
            clock.now = T0 + day * DAY
            return int(woo.create_order(OrderSpec(list(lines), customer_id=2, status=status))["id"])

        posts = [place(d + 0.5, LineSpec(MUG, d % 3 + 1)) for d in range(5)]
        book = place(6, LineSpec(BOOK))
        pending = place(7, LineSpec(MUG), status="pending")
        synced = place(8, LineSpec(MUG, 2))
        february = place(33, LineSpec(MUG))
        clock.now = T0 + 60 * DAY  # March: every order above is history
        rig.sync(SHOP, "order.created", synced)
        yield History(rig, clock, posts, book, pending, synced, february)


def test_a_dry_run_says_what_would_post_park_or_not_post_and_writes_nothing(
    history: History,
) -> None:
    rig = history.rig
    asked = len(rig.qbo.request_log)
    out = io.StringIO()
    # When the January backfill is tried
    text = dry_run_backfill(rig.connection(SHOP), history.store(), *JANUARY, out=out)
    lines = out.getvalue().splitlines()
    # Then each January order has its line, oldest first, and February's is not there
    assert lines[0].startswith("dry run of backfill shop 2026-01-01..2026-01-31")
    named = lines[1:-1]
    order_ids = [*history.posts, history.book, history.pending, history.synced]
    assert [f"(id {i})" in ln for ln, i in zip(named, order_ids, strict=True)] == [True] * 8
    assert not any(f"(id {history.february})" in ln for ln in lines)
    # And the unmapped SKU parks with what to change, the pending order does not post
    [book] = [ln for ln in named if f"(id {history.book})" in ln]
    assert book.startswith("would park") and "SKU BOOK-KIDS has no QuickBooks item" in book
    [pending] = [ln for ln in named if f"(id {history.pending})" in ln]
    assert pending.startswith("would not post") and "status pending does not post" in pending
    posting = [ln for ln in named if ln.startswith("would post")]
    assert len(posting) == 6
    totals = [Decimal(rig.woo.get_order(i)["total"]) for i in [*history.posts, history.synced]]
    assert (
        text == f"8 orders: 6 would post (USD {sum(totals):,.2f}), 1 would park, 1 would not post"
    )
    # And nothing was written: no checkpoint, no state, no message, no QuickBooks call
    assert history.checkpoint() is None
    assert rig.state_of(f"{SHOP}#order#{history.posts[0]}") is None
    assert len(rig.qbo.request_log) == asked
    assert rig.runtime.drain(timeout_s=5)


def test_a_backfill_posts_each_order_once_and_a_second_run_queues_nothing(
    history: History,
) -> None:
    rig = history.rig
    out = io.StringIO()
    # When January is backfilled
    result = run_backfill(history.backfill(out), *JANUARY, options=FAST)
    # Then it finished, and its counts are what QuickBooks and the store show
    cp = result.checkpoint
    assert result.outcome == "finished"
    assert (cp.found, cp.queued, cp.current) == (8, 7, 1)
    assert (cp.posted, cp.parked, cp.skipped, cp.waiting) == (5, 1, 1, {})
    for order_id in history.posts:
        [invoice] = rig.documents("Invoice", order_id)
        assert Decimal(str(invoice["TotalAmt"])) == Decimal(rig.woo.get_order(order_id)["total"])
    assert len(rig.documents("Invoice", history.synced)) == 1  # not posted twice
    assert rig.documents("Invoice", history.february) == []
    state = rig.sync_state(SHOP, history.book)
    assert state.status == "parked" and "BOOK-KIDS" in (state.last_error or "")
    # And each order queued says the backfill found it
    first = rig.audit(SHOP, history.posts[0])[0]
    assert first.event == "received" and first.detail["source"] == "backfill"
    # And the output tells the story, ending with the summary
    text = out.getvalue()
    assert "8 orders in the window; 8 to go" in text
    assert text.splitlines()[-2].startswith("[####################] 100%  found 8  queued 7")
    assert text.splitlines()[-1].startswith(
        "backfill shop 2026-01-01..2026-01-31 finished: 8 orders found, 7 queued, 5 posted, "
        "1 parked, 1 skipped (status, cancelled or deleted), 1 already in step"
    )
    # When the same command runs again
    again = io.StringIO()
    repeat = run_backfill(history.backfill(again), *JANUARY, options=FAST)
    # Then the checkpoint says it is done and nothing is queued
    assert repeat.outcome == "already finished"
    assert "nothing to do (--restart runs it again)" in again.getvalue()
    assert len(rig.documents("Invoice", history.posts[0])) == 1


class StopAfter(SyncQueue):
    """The sync queue, with the stop signal set once ``n`` messages went out (Ctrl-C)."""

    def __init__(self, rig: QboRig, n: int, stop: threading.Event) -> None:
        super().__init__(rig.queue_url, client=rig.sqs)
        self.n, self.stop, self.sent = n, stop, 0

    def send(self, message: Any, *, version: str, reason: str | None = None) -> str:
        answer = super().send(message, version=version, reason=reason)
        self.sent += 1
        if self.sent >= self.n:
            self.stop.set()
        return answer


def test_a_stopped_backfill_resumes_after_the_last_order_it_queued(history: History) -> None:
    rig = history.rig
    # Given four orders placed on 10-13 February
    placed = []
    for day in range(40, 44):
        history.clock.now = T0 + day * DAY
        placed.append(int(rig.woo.create_order(OrderSpec([LineSpec(MUG)], customer_id=2))["id"]))
    history.clock.now = T0 + 60 * DAY
    window = (date(2026, 2, 10), date(2026, 2, 13))
    # When their backfill is stopped once two are queued
    stop = threading.Event()
    out = io.StringIO()
    first = run_backfill(
        history.backfill(out, StopAfter(rig, 2, stop)), *window, options=FAST, stop=stop
    )
    # Then it says so, and its checkpoint holds the cursor at the second order
    assert first.outcome == "stopped"
    assert f"(2 queued); the same command resumes from order {placed[1]}" in out.getvalue()
    saved = history.checkpoint("2026-02-10..2026-02-13")
    assert saved is not None and saved.finished_at is None
    assert (saved.found, saved.queued, saved.cursor_id) == (4, 2, str(placed[1]))
    # When the same command runs again
    again = io.StringIO()
    resumed = run_backfill(history.backfill(again), *window, options=FAST)
    # Then it queues only the other two, follows all four to QuickBooks, each posted once
    cp = resumed.checkpoint
    assert resumed.outcome == "finished" and cp.runs == 2
    assert (cp.found, cp.queued, cp.posted, cp.waiting) == (4, 4, 4, {})
    assert "4 orders in the window; 2 to go" in again.getvalue()
    for order_id in placed:
        [invoice] = rig.documents("Invoice", order_id)
        assert Decimal(str(invoice["TotalAmt"])) == Decimal(rig.woo.get_order(order_id)["total"])
        assert [e.detail.get("source") for e in rig.audit(SHOP, order_id)[:1]] == ["backfill"]


class Crash(Exception):
    """The process dies: nothing after it is written, not even the last checkpoint."""


class DiesAfter(CheckpointStore):
    """The checkpoint table of a process killed after its ``n``-th checkpoint."""

    def __init__(self, history: History, n: int) -> None:
        dynamodb = history.rig.runtime.boto3_resource("dynamodb")
        super().__init__(history.rig.runtime.env["CONNECTOR_STATE_TABLE"], resource=dynamodb)
        self.n, self.saved = n, 0

    def put(self, checkpoint: Any) -> None:
        if self.saved >= self.n:
            raise Crash("killed")
        super().put(checkpoint)
        self.saved += 1


def test_a_crashed_backfill_resumes_from_its_last_checkpoint_and_posts_each_order_once(
    history: History,
) -> None:
    rig = history.rig
    # Given 25 orders placed on 1-25 March
    placed = []
    for day in range(59, 84):
        history.clock.now = T0 + day * DAY + 60
        placed.append(int(rig.woo.create_order(OrderSpec([LineSpec(MUG)], customer_id=2))["id"]))
    history.clock.now = T0 + 100 * DAY
    window = (date(2026, 3, 1), date(2026, 3, 25))
    # When the process dies after its first checkpoint (at the first wait for the pace) and
    # before its second (at the end of the first ten orders)
    backfill = history.backfill(io.StringIO())
    backfill.checkpoints = DiesAfter(history, 1)
    with pytest.raises(Crash):
        run_backfill(backfill, *window, options=FAST)
    saved = history.checkpoint("2026-03-01..2026-03-25")
    assert saved is not None and 0 < saved.queued < 10
    assert saved.cursor_id == str(placed[saved.queued - 1])
    rig.drain()
    # And the same command runs again
    out = io.StringIO()
    resumed = run_backfill(history.backfill(out), *window, options=FAST)
    # Then every order posted once, and the counts add up: what the dead process sent after
    # its checkpoint and the worker settled is "already in step", not queued twice
    cp = resumed.checkpoint
    assert resumed.outcome == "finished"
    assert cp.found == 25 and cp.queued + cp.current == 25 and cp.posted == cp.queued
    assert cp.current >= 1
    assert f"25 orders in the window; {25 - saved.queued} to go" in out.getvalue()
    for order_id in placed:
        [invoice] = rig.documents("Invoice", order_id)
        assert Decimal(str(invoice["TotalAmt"])) == Decimal(rig.woo.get_order(order_id)["total"])


def test_a_second_backfill_of_the_same_connection_is_refused_while_one_runs(
    history: History,
) -> None:
    state = history.rig.state_store
    assert state.acquire_lock(f"backfill#{SHOP}", "another-run", 60)
    try:
        with pytest.raises(ConfigError, match="another backfill of connection shop is running"):
            run_backfill(history.backfill(io.StringIO()), *JANUARY, options=FAST)
    finally:
        state.release_lock(f"backfill#{SHOP}", "another-run")


class FakeTime:
    """The run's clock and sleep: a sleep moves the clock (and yields a moment to the worker)."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        time.sleep(0.005)
        self.now += seconds


class Stamped(SyncQueue):
    """The sync queue, noting the run's clock at each send."""

    def __init__(self, rig: QboRig, fake: FakeTime) -> None:
        super().__init__(rig.queue_url, client=rig.sqs)
        self.fake, self.at = fake, list[float]()

    def send(self, message: Any, *, version: str, reason: str | None = None) -> str:
        self.at.append(self.fake.now)
        return super().send(message, version=version, reason=reason)


def test_orders_are_queued_no_faster_than_the_pace(history: History) -> None:
    rig = history.rig
    placed = []
    for day in range(100, 106):
        history.clock.now = T0 + day * DAY
        placed.append(int(rig.woo.create_order(OrderSpec([LineSpec(MUG)], customer_id=2))["id"]))
    history.clock.now = T0 + 120 * DAY
    fake = FakeTime()
    queue = Stamped(rig, fake)
    backfill = history.backfill(io.StringIO(), queue)
    backfill.timing = Timing(clock=fake.clock, sleep=fake.sleep)
    # When six orders are backfilled at 12 a minute
    result = run_backfill(
        backfill, date(2026, 4, 11), date(2026, 4, 16), options=Options(per_minute=12, poll_s=1)
    )
    # Then they went out five seconds apart by the run's clock, and all posted
    assert result.outcome == "finished" and result.checkpoint.posted == 6
    gaps = [b - a for a, b in itertools.pairwise(queue.at)]
    assert len(queue.at) == 6 and all(gap >= 5.0 for gap in gaps), gaps
    assert all(len(rig.documents("Invoice", order_id)) == 1 for order_id in placed)


def test_a_stalled_worker_holds_the_backfill_at_its_backlog(history: History) -> None:
    rig = history.rig
    placed = []
    for day in range(130, 138):
        history.clock.now = T0 + day * DAY
        placed.append(int(rig.woo.create_order(OrderSpec([LineSpec(MUG)], customer_id=2))["id"]))
    history.clock.now = T0 + 150 * DAY
    # Given QuickBooks does not answer the worker until the test lets it
    answering = threading.Event()

    def stalled(request: Any) -> None:
        answering.wait(timeout=60)
        return None

    fake = FakeTime()
    queue = Stamped(rig, fake)
    sent_while_stalled: list[int] = []
    plain_sleep = fake.sleep

    def sleep(seconds: float) -> None:
        plain_sleep(seconds)
        # A minute of the run's time with the worker stuck: note what went out, then answer
        if fake.now >= 60 and not answering.is_set():
            sent_while_stalled.append(len(queue.at))
            answering.set()

    backfill = history.backfill(io.StringIO(), queue)
    backfill.timing = Timing(clock=fake.clock, sleep=sleep)
    rig.qbo_hook = stalled
    try:
        # When eight orders are backfilled with at most three ahead of the worker
        result = run_backfill(
            backfill,
            date(2026, 5, 11),
            date(2026, 5, 18),
            options=Options(per_minute=6000, backlog=3, poll_s=1),
        )
    finally:
        rig.qbo_hook = None
        answering.set()
    # Then only three went out while the worker was stuck, and all eight posted once after
    assert sent_while_stalled == [3]
    assert result.outcome == "finished" and result.checkpoint.posted == 8
    assert all(len(rig.documents("Invoice", order_id)) == 1 for order_id in placed)

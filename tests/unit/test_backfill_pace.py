"""A backfill's pace, rate, ETA, window, cursor, progress line and what counts as settled.

Time is a number the test moves: nothing here waits.
"""

from __future__ import annotations

import io
import os
import signal
import threading
from datetime import UTC, date, datetime

import pytest

from connector.backfill import Options, after_cursor, first_ctrl_c_stops, settled_as, window
from connector.backfill_checkpoint import Checkpoint
from connector.backfill_pace import Pacer, Rate, default_backlog, duration, eta_s
from connector.backfill_progress import ProgressOutput, line
from connector.errors import ConfigError
from connector.state import SyncState
from connector.stores.port import HistoricOrder

NOW = datetime(2026, 3, 4, 12, 30, 15, 250000, tzinfo=UTC)


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_orders_are_spaced_evenly_and_a_pause_does_not_turn_into_a_burst() -> None:
    ticks = Ticks()
    pacer = Pacer(per_minute=120, clock=ticks)
    # The first order goes at once, the next half a second later
    assert pacer.wait_s() == 0
    pacer.sent()
    assert pacer.wait_s() == pytest.approx(0.5)
    ticks.now = 0.2
    assert pacer.wait_s() == pytest.approx(0.3)
    # After a long pause (the worker's backlog held it back) one goes at once, then the pace
    ticks.now = 60.0
    assert pacer.wait_s() == 0
    pacer.sent()
    assert pacer.wait_s() == pytest.approx(0.5)


def test_a_pace_must_be_positive() -> None:
    with pytest.raises(ValueError, match="per_minute must be positive"):
        Pacer(per_minute=0, clock=Ticks())


def test_the_default_backlog_is_five_minutes_of_work_within_what_a_checkpoint_holds() -> None:
    assert default_backlog(60) == 300
    assert default_backlog(1) == 10
    assert default_backlog(6000) == 5000


def test_a_backlog_the_checkpoint_cannot_hold_is_refused() -> None:
    with pytest.raises(ConfigError, match="--backlog 20000: give 1 to 5000"):
        Options(backlog=20_000)


def test_the_rate_is_what_the_worker_settled_lately() -> None:
    ticks = Ticks()
    rate = Rate(ticks, window_s=60)
    rate.note(0)
    assert rate.per_minute() is None
    ticks.now = 30
    rate.note(20)
    assert rate.per_minute() == pytest.approx(40.0)
    # Old samples fall out of the window: a slow start does not drag the rate down for ever
    ticks.now = 150
    rate.note(200)
    ticks.now = 180
    rate.note(260)
    assert rate.per_minute() == pytest.approx(120.0)


def test_eta_is_the_slower_of_the_pace_and_the_worker() -> None:
    # 100 to queue at 60 a minute: 100 s, but the worker settles 30 a minute: 220 s for 110
    assert eta_s(to_queue=100, to_settle=110, per_minute=60, settled_per_minute=30) == 220
    # A fast worker: the pace decides
    assert eta_s(to_queue=120, to_settle=125, per_minute=60, settled_per_minute=600) == 120
    # Not measured yet, or the worker stalled with work left: unknown
    assert eta_s(to_queue=5, to_settle=5, per_minute=60, settled_per_minute=None) is None
    assert eta_s(to_queue=0, to_settle=5, per_minute=60, settled_per_minute=0) is None
    assert eta_s(to_queue=0, to_settle=0, per_minute=60, settled_per_minute=None) == 0


def test_durations_read_as_people_write_them() -> None:
    assert duration(None) == "--"
    assert duration(12.4) == "12s"
    assert duration(245) == "4m05s"
    assert duration(3720) == "1h02m"


def test_the_window_is_whole_days_in_utc_or_up_to_now() -> None:
    closed = window(date(2025, 1, 1), date(2025, 6, 30), NOW)
    assert (closed.since, closed.until, closed.key) == (
        datetime(2025, 1, 1, tzinfo=UTC),
        datetime(2025, 7, 1, tzinfo=UTC),
        "2025-01-01..2025-06-30",
    )
    open_ended = window(date(2026, 3, 1), None, NOW)
    assert open_ended.until == NOW.replace(microsecond=0)
    assert open_ended.key == "2026-03-01..now"


def test_an_empty_window_is_refused_with_both_days_named() -> None:
    with pytest.raises(ConfigError, match="--since 2025-07-01 is not before --until 2025-06-30"):
        window(date(2025, 7, 1), date(2025, 6, 30), NOW)
    with pytest.raises(ConfigError, match="not before today"):
        window(date(2026, 3, 5), None, NOW)


def _state(status: str, seen: str | None) -> SyncState:
    return SyncState(
        record_key="woo#order#1", status=status, store_modified_at=seen, updated_at=NOW.isoformat()
    )  # type: ignore[arg-type]


def test_an_order_is_settled_once_the_worker_has_seen_the_version_queued() -> None:
    queued = "2025-02-01T10:00:00+00:00"
    assert settled_as(None, queued) is None
    assert settled_as(_state("received", queued), queued) is None  # an attempt under way
    assert settled_as(_state("posted", "2025-01-01T00:00:00+00:00"), queued) is None  # older
    assert settled_as(_state("posted", queued), queued) == "posted"
    assert settled_as(_state("posted", "2025-03-01T00:00:00+00:00"), queued) == "posted"
    assert settled_as(_state("parked", queued), queued) == "parked"
    assert settled_as(_state("skipped", queued), queued) == "skipped"
    assert settled_as(_state("voided", queued), queued) == "skipped"
    assert settled_as(_state("queued", queued), queued) == "outbox"  # Desktop


def _checkpoint(**counts: object) -> Checkpoint:
    return Checkpoint.model_validate(
        {
            "connection_id": "woo",
            "window": "2025-01-01..2025-06-30",
            "since": "2025-01-01T00:00:00Z",
            "until": "2025-07-01T00:00:00Z",
            "started_at": NOW,
            "updated_at": NOW,
            **counts,
        }
    )


def test_the_progress_line_tells_found_queued_posted_parked_rate_and_eta() -> None:
    checkpoint = _checkpoint(
        found=1000, queued=520, posted=495, parked=3, current=2, waiting={"1": "v", "2": "v"}
    )
    text = line(checkpoint, rate=59.84, eta=510)
    assert text == (
        "[##########----------]  50%  found 1000  queued 520  posted 495  parked 3  "
        "already in step 2  waiting 2  59.8/min  ETA 8m30s"
    )
    assert line(_checkpoint(found=0), rate=None, eta=None).endswith("waiting 0  --/min  ETA --")


def test_the_share_done_is_counted_in_whole_numbers_not_rounded_down_by_a_float() -> None:
    # 570 of 1,000 is 57%, not 56% (0.57 * 100 is 56.99999999999999)
    text = line(_checkpoint(found=1000, queued=570, posted=570), rate=None, eta=None)
    assert text.startswith("[###########---------]  57%  found 1000")


def test_a_terminal_gets_one_line_redrawn_and_a_log_gets_a_line_every_interval() -> None:
    ticks = Ticks()
    terminal, log = io.StringIO(), io.StringIO()
    tty = ProgressOutput(terminal, tty=True, clock=ticks)
    plain = ProgressOutput(log, tty=False, clock=ticks, every_s=10)
    for second in range(25):
        ticks.now = float(second)
        tty.show(f"step {second}")
        plain.show(f"step {second}")
    tty.say("done")
    plain.say("done")
    # The terminal redrew one line in place (each drawing starts with a carriage return)
    assert terminal.getvalue().count("\r") == 25
    assert terminal.getvalue().endswith("\rstep 24\ndone\n")
    # The log has a line at 0, 10 and 20 seconds, each on its own line
    assert log.getvalue() == "step 0\nstep 10\nstep 20\ndone\n"


def _order(record_id: str, second: int) -> HistoricOrder:
    created = datetime(2025, 1, 1, 9, 0, second, tzinfo=UTC)
    return HistoricOrder(record_id, created, created)


def test_a_resumed_run_goes_on_after_the_cursor_in_creation_then_id_order() -> None:
    # Listed in the store's order (any), three placed in the same second
    listed = [_order("100", 5), _order("7", 9), _order("99", 5), _order("98", 1)]
    fresh = _checkpoint()
    assert [o.record_id for o in after_cursor(listed, fresh)] == ["98", "99", "100", "7"]
    # Stopped after 99: 100 (same second, a larger number) and 7 (later) remain
    stopped = _checkpoint(cursor_created_at=listed[2].created_at, cursor_id="99")
    assert [o.record_id for o in after_cursor(listed, stopped)] == ["100", "7"]
    # Stopped after the last one: nothing remains
    done = _checkpoint(cursor_created_at=listed[1].created_at, cursor_id="7")
    assert after_cursor(listed, done) == []


def test_the_first_ctrl_c_asks_the_run_to_stop_between_orders_and_a_second_interrupts() -> None:
    stop = threading.Event()
    before = signal.getsignal(signal.SIGINT)
    with first_ctrl_c_stops(stop):
        # The first Ctrl-C interrupts nothing: the run sees the request at its next order
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.wait(5)
        # The second one interrupts at once
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            stop.wait(5)  # the signal is handled here, between two bytecodes
    assert signal.getsignal(signal.SIGINT) is before

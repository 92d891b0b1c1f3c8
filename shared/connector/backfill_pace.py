"""How fast a backfill queues: QuickBooks' request limit, and the worker's own progress.

QuickBooks Online allows 500 requests a minute per company (realm), and one order costs
the worker two to six of them (find or create the customer, the invoice, its payment,
items it creates). The backfill queues at most ``per_minute`` orders a minute, evenly
spaced (no burst after a pause), and never lets more than ``backlog`` queued orders wait
for the worker: a worker slowed by an outage or a breaker holds the backfill back instead of
letting the queue fill hours deep. The rate and ETA a progress line shows come from what
the worker settled lately, not from the plan.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

# Orders a minute by default: at most ~360 QuickBooks requests a minute at six an order,
# leaving room under the 500 limit for the webhooks that keep arriving.
DEFAULT_PER_MINUTE = 60
# Minutes of work the queue may hold ahead of the worker.
BACKLOG_MINUTES = 5
# The measured rate looks back this far.
RATE_WINDOW_S = 120.0


# The checkpoint item keeps every order queued and not yet settled (about 40 bytes each):
# this many stay well inside DynamoDB's 400 KB item.
MAX_BACKLOG = 5000


def default_backlog(per_minute: float) -> int:
    return min(MAX_BACKLOG, max(10, int(per_minute * BACKLOG_MINUTES)))


@dataclass
class Pacer:
    """When the next order may be queued. ``clock`` is monotonic seconds."""

    per_minute: float
    clock: Callable[[], float]
    _next_at: float | None = None

    def __post_init__(self) -> None:
        if self.per_minute <= 0:
            raise ValueError(f"per_minute must be positive, not {self.per_minute}")

    @property
    def interval_s(self) -> float:
        return 60.0 / self.per_minute

    def wait_s(self) -> float:
        """Seconds until the next order may be queued (0: now)."""
        if self._next_at is None:
            return 0.0
        return max(0.0, self._next_at - self.clock())

    def sent(self) -> None:
        """An order was queued now: the next one waits a full interval from now, so a run
        that was held back (backlog, a slow store) does not catch up in a burst."""
        self._next_at = self.clock() + self.interval_s


@dataclass
class Rate:
    """Orders settled a minute, measured over the last RATE_WINDOW_S seconds."""

    clock: Callable[[], float]
    window_s: float = RATE_WINDOW_S
    _samples: deque[tuple[float, int]] = field(default_factory=deque)

    def note(self, done: int) -> None:
        now = self.clock()
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[0][0] > self.window_s:
            self._samples.popleft()

    def per_minute(self) -> float | None:
        """None until two samples at least a second apart exist."""
        if len(self._samples) < 2:
            return None
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        if t1 - t0 < 1.0:
            return None
        return max(0.0, (d1 - d0) * 60.0 / (t1 - t0))


def eta_s(
    *, to_queue: int, to_settle: int, per_minute: float, settled_per_minute: float | None
) -> float | None:
    """Seconds until every order is settled: the slower of the pace still to queue
    ``to_queue`` and the worker's measured rate for ``to_settle``. None when unknown."""
    if to_settle <= 0 and to_queue <= 0:
        return 0.0
    pace = to_queue * 60.0 / per_minute
    if settled_per_minute is None:
        return None
    if settled_per_minute <= 0:
        return None if to_settle > 0 else pace
    return max(pace, to_settle * 60.0 / settled_per_minute)


def duration(seconds: float | None) -> str:
    """``1h02m``, ``4m05s``, ``12s``; ``--`` when unknown."""
    if seconds is None:
        return "--"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"

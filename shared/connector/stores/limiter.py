"""One limiter per store that publishes its rate limits, shared through the state table by every
function that calls that store (issue #12; decision 78).

Of the stores the connector reads, BigCommerce publishes its limits: a quota of requests per
window (150 per 30 s on Standard and Plus, 450 on Pro, more on Enterprise) shared by every app
on the store, told on each answer (``X-Rate-Limit-Requests-Quota``, ``-Time-Window-Ms``,
``-Requests-Left``, ``-Time-Reset-Ms``), and a 429 once it is spent. Ten functions that each
honour those headers alone spend the quota ten times over and draw 429s together; this
limiter keeps them under it together:

- requests are spaced at the quota per window less ``headroom`` (GCRA: the item keeps the
  theoretical arrival time ``tat`` of the next request), with a burst of a few requests
  allowed when the store has been idle (half the headroom: an order's six reads go at once);
- the quota and window are learned from the headers of any answer and stored in the item,
  so every function learns them and a plan change is picked up; ``rules`` give the default
  until the first answer;
- ``X-Rate-Limit-Requests-Left: 0`` or a 429 (another app spent the quota) pauses every
  caller of the store until ``X-Rate-Limit-Time-Reset-Ms`` has passed.

A wait of up to ``max_wait_s`` is slept; a longer one raises NoCapacityYet saying how long,
which the sync worker turns into a hand-back of exactly that delay (as for the QuickBooks
limiter, connector.ledgers.qbo.limiter). No leases: a store publishes no limit on calls at once.

Key: ``limiter#<store kind>#<store key>`` / ``LIMITER``. A booking is one write conditional on
the item's ``version``; a write that loses the race gets the current item back
(ReturnValuesOnConditionCheckFailure) and decides again (connector.limiter_item, shared with
the QuickBooks limiter).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connector import capacity
from connector.errors import NoCapacityYet
from connector.limiter_item import LimiterItem, number
from connector.observability import logger, metrics

__all__ = ["PublishedLimits", "StoreLimiter", "StoreLimits", "StoreRules"]


@dataclass(frozen=True)
class StoreRules:
    """How the limiter keeps under a store's quota; ``quota`` and ``window_s`` are the default
    until the store's first answer tells its own."""

    quota: int = 150
    window_s: float = 30.0
    # Spacing is this share below the quota: clocks and the network move a request by some
    # milliseconds, and the store's window is its own. Half of it allows a burst.
    headroom: float = 0.1
    # Waits up to this are slept in the function; longer ones hand the record back.
    max_wait_s: float = 5.0
    # ... unless the record has called QuickBooks already (connector.capacity).
    started_wait_s: float = 10.0

    def __post_init__(self) -> None:
        if self.quota < 1 or self.window_s <= 0:
            raise ValueError("store limiter quota must be at least 1, window positive")
        if not 0 <= self.headroom < 1:
            raise ValueError("store limiter headroom must be in [0, 1)")
        if min(self.max_wait_s, self.started_wait_s) < 0:
            raise ValueError("store limiter waits must not be negative")


@dataclass(frozen=True)
class PublishedLimits:
    """What one answer of the store said about its quota (None: the header was absent)."""

    quota: int | None = None
    window_ms: int | None = None
    left: int | None = None
    reset_ms: int | None = None
    # The answer was a 429 carrying the rate-limit headers (the store's quota, not its load).
    refused: bool = False


class StoreLimiter:
    """The limiter of one store; thread-safe within a process."""

    def __init__(
        self,
        table: Any,
        key: str,
        *,
        rules: StoreRules | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        label: str = "",
    ) -> None:
        self.rules = rules or StoreRules()
        self._label = label or f"store {key}"
        self._clock = clock
        self._sleep = sleep
        # Epochs to the microsecond: milliseconds would shift each booking by up to one, a
        # share of a 0.2 s spacing that adds up over a window.
        self._item = LimiterItem(
            table,
            key,
            reading="could not read the store's limiter",
            booking="could not book a store call",
            places=6,
        )

    # --- what the store allows ------------------------------------------------------------
    def quota(self, item: dict[str, Any] | None = None) -> tuple[int, float]:
        """(requests, window in seconds): as the store last said, else the default."""
        seen = self._item.current() if item is None else item
        quota = int(seen.get("quota") or self.rules.quota)
        window_ms = int(seen.get("window_ms") or 0)
        return max(1, quota), window_ms / 1000 if window_ms > 0 else self.rules.window_s

    def interval_s(self, item: dict[str, Any] | None = None) -> float:
        """Seconds between two of the store's requests (the GCRA's spacing)."""
        quota, window_s = self.quota(item)
        return window_s / quota / (1 - self.rules.headroom)

    def burst(self, item: dict[str, Any] | None = None) -> int:
        """Requests beyond the spacing let through at once after a quiet spell."""
        quota, _ = self.quota(item)
        return math.floor(quota * self.rules.headroom / 2)

    # --- the caller's side ------------------------------------------------------------------
    def acquire(self) -> float:
        """Books the next request, after sleeping a short wait (returned); raises NoCapacityYet
        when the wait would be longer than ``max_wait_s``."""
        rules = self.rules
        patience = max(rules.max_wait_s, rules.started_wait_s if capacity.started() else 0.0)
        while True:
            item = self._item.current()
            now = self._clock()
            interval = self.interval_s(item)
            tat = number(item, "tat")
            paused_until = number(item, "paused_until")
            start = max(now, tat - self.burst(item) * interval, paused_until)
            wait = start - now
            if wait > patience:
                raise self._no_capacity(wait, paused_until > now)
            values: dict[str, Any] = {
                ":tat": self._item.stored(max(tat, start) + interval),
                ":next": int(item.get("version", 0)) + 1,
            }
            if not self._item.write("SET tat = :tat, version = :next", values, item):
                continue  # another function booked first: decide again on what it wrote
            if wait > 0:
                self._sleep(wait)
                metrics.add_metric(
                    name="StoreCapacityWaitMs", unit="Milliseconds", value=wait * 1000
                )
            return max(0.0, wait)

    def answered(self, said: PublishedLimits) -> None:
        """What an answer said: a quota or window other than the one stored is stored (every
        function learns it); none left, or a 429, pauses every caller until the reset."""
        item = self._item.current()
        quota, window_s = self.quota(item)
        sets: list[str] = []
        values: dict[str, Any] = {}
        learned = (
            said.quota is not None
            and said.quota > 0
            and said.window_ms is not None
            and said.window_ms > 0
            and (
                said.quota != int(item.get("quota") or 0)
                or said.window_ms != int(item.get("window_ms") or 0)
            )
        )
        if learned:
            sets.append("quota = :quota, window_ms = :window")
            values.update({":quota": said.quota, ":window": said.window_ms})
            logger.info(
                "the store's rate limit is learned from its answer",
                store=self._label,
                quota=said.quota,
                window_ms=said.window_ms,
                was=f"{quota} per {window_s:g} s",
            )
        spent = said.refused or (said.left is not None and said.left <= 0)
        pause_until: float | None = None
        if spent and said.reset_ms is not None and said.reset_ms > 0:
            until = self._clock() + said.reset_ms / 1000
            if until > number(item, "paused_until"):
                pause_until = until
            metrics.add_metric(name="StoreQuotaSpent", unit="Count", value=1)
            logger.warning(
                "the store's rate-limit quota is spent: every call waits for its reset",
                store=self._label,
                refused=said.refused,
                reset_ms=said.reset_ms,
            )
        if sets or pause_until is not None:
            self._item.record(
                sets,
                values,
                pause_until=pause_until,
                failing="could not record the store's rate limit",
            )

    def _no_capacity(self, wait_s: float, paused: bool) -> NoCapacityYet:
        seconds = max(1, math.ceil(wait_s))
        quota, window_s = self.quota()
        why = (
            "its rate-limit quota is spent until the store's reset"
            if paused
            else f"its requests are booked {wait_s:.1f} s ahead (at most {quota} per "
            f"{window_s:g} s)"
        )
        metrics.add_metric(name="StoreNoCapacity", unit="Count", value=1)
        return NoCapacityYet(
            f"{self._label} has no capacity yet ({why}): retry in {seconds} s",
            retry_after_s=seconds,
        )


class StoreLimits:
    """The limiters of the stores a function calls, one per store, through the state table.

    The runtime keeps one of these; a store's opener asks ``for_store`` for its limiter.
    """

    def __init__(
        self,
        table_name: str,
        *,
        resource: Any,
        rules: StoreRules | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._table = resource.Table(table_name)
        self._rules = rules or StoreRules()
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._limiters: dict[str, StoreLimiter] = {}

    def for_store(self, key: str, *, label: str = "") -> StoreLimiter:
        """The limiter of the store ``key`` names (e.g. ``bigcommerce#<store hash>``)."""
        with self._lock:
            found = self._limiters.get(key)
            if found is None:
                found = self._limiters[key] = StoreLimiter(
                    self._table,
                    key,
                    rules=self._rules,
                    clock=self._clock,
                    sleep=self._sleep,
                    label=label,
                )
            return found

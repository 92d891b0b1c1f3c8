"""Clocks to hand a simulator: one a test moves by hand, one that ticks a second per reading."""

from __future__ import annotations

import itertools
import threading
import time

T0 = 1_767_225_600  # 2026-01-01 00:00:00 UTC: when the simulated stores' day starts
QBO_NOW = 1_780_000_000  # 2026-05-28 20:26:40 UTC: the simulated QuickBooks Online's "now"


class Clock:
    """Stands still at ``now`` until a test moves it (``clock.now = ...``, ``advance``)."""

    def __init__(self, now: float = T0) -> None:
        self.now = float(now)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class TickingClock:
    """The wall clock, each reading at least a second after the previous one.

    WooCommerce stamps date_modified to the second and the ingest deduplicates on it, so an
    edit made in the same second as the last one would look like a repeat; a real admin does
    not edit twice a second, and neither do the tests.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ticks = itertools.count(1)

    def __call__(self) -> float:
        with self._lock:
            return time.time() + next(self._ticks)


class ScaledClock:
    """Simulated time running ``factor`` times faster than the wall clock from its creation:
    with the local runtime's retry scale (1/360), ``ScaledClock(360)`` is the clock on which
    its delays are the deployed ones, so a two-hour outage on it lasts twenty seconds."""

    def __init__(self, factor: float, start: float = QBO_NOW) -> None:
        self.factor = factor
        self._start = start
        self._wall = time.monotonic()

    def __call__(self) -> float:
        return self._start + (time.monotonic() - self._wall) * self.factor

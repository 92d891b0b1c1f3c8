"""One limiter per QuickBooks Online company (realm), shared through the state table by every
function that calls it (decision 59).

QuickBooks takes at most 500 requests a minute (10 a second) from one app for one company, at
most 10 at once, and of those at most 40 batch requests a minute; over that it answers 429.
Before each call the client asks ``acquire``:

- requests are spaced at the published rate less ``headroom`` (GCRA: the item keeps the
  theoretical arrival time ``tat`` of the next request, and ``batch_tat`` of the next batch):
  one booking is one conditional write, and a booking never runs ahead of the rate;
- a call holds a lease until it ends (``release``); a lease expires after ``lease_s``, so a
  function that crashed mid-call frees its slot, and at most ``max_in_flight`` are held;
- a throttle answer (another app may use the same company's quota) pauses every caller of the
  company for ``throttle_pause_s``.

A wait of up to ``max_wait_s`` is slept; a longer one raises NoCapacityYet saying how long, which
the sync worker turns into a hand-back of exactly that delay. A record that has already had a
slot waits up to ``started_wait_s`` instead (connector.capacity: handing it back then would
throw its calls away).

Key: ``limiter#<realm>`` / ``LIMITER``. Writes are conditional on the item's ``version``; a write
that loses the race gets the current item back (ReturnValuesOnConditionCheckFailure) and decides
again, so a contended booking costs no extra read (connector.limiter_item, shared with the
store limiter).
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

import boto3

from connector import capacity
from connector.errors import NoCapacityYet, TransientError
from connector.limiter_item import LimiterItem, number
from connector.observability import logger, metrics
from connector.retry import jittered

Kind = Literal["single", "batch"]


@dataclass(frozen=True)
class LimiterRules:
    """A company's limits as QuickBooks publishes them, and how the limiter keeps under them."""

    per_minute: int = 500
    per_second: int = 10
    batches_per_minute: int = 40
    max_in_flight: int = 10
    # Spacing is this share below the published rates: Lambda clocks and the network move a
    # request by some milliseconds, and a minute's 501st request is refused.
    headroom: float = 0.04
    # The client gives up on a call after 15 s; a lease outliving that belongs to a crashed call.
    lease_s: float = 30.0
    # Waits up to this are slept in the function; longer ones hand the record back.
    max_wait_s: float = 2.0
    # ... unless the record has had a slot already: it waits up to this for the next.
    started_wait_s: float = 10.0
    # Intuit says to wait 60 s after a throttle answer.
    throttle_pause_s: float = 60.0

    def __post_init__(self) -> None:
        for name in ("per_minute", "per_second", "batches_per_minute", "max_in_flight"):
            if getattr(self, name) < 1:
                raise ValueError(f"limiter {name} must be at least 1")
        if not 0 <= self.headroom < 1:
            raise ValueError("limiter headroom must be in [0, 1)")
        if (
            self.lease_s <= 0
            or min(self.max_wait_s, self.started_wait_s, self.throttle_pause_s) < 0
        ):
            raise ValueError("limiter durations must not be negative (lease_s positive)")

    @property
    def interval_s(self) -> float:
        """Seconds between two requests of the company (the stricter of the two rates)."""
        return max(60.0 / self.per_minute, 1.0 / self.per_second) / (1 - self.headroom)

    @property
    def batch_interval_s(self) -> float:
        return 60.0 / self.batches_per_minute / (1 - self.headroom)

    def scaled_pause(self, factor: float) -> LimiterRules:
        """The pause after a throttle answer times ``factor`` (the retry scale)."""
        return replace(self, throttle_pause_s=self.throttle_pause_s * factor)


@dataclass(frozen=True)
class Lease:
    """One call's slot; ``release`` it when the call has ended, answered or not."""

    lease_id: str
    limiter: RealmLimiter
    kind: Kind
    waited_s: float

    def release(self) -> None:
        self.limiter.release(self.lease_id)


class RealmLimiter:
    """The limiter of one QuickBooks Online company; thread-safe within a process."""

    def __init__(
        self,
        table_name: str,
        realm_id: str,
        *,
        rules: LimiterRules | None = None,
        resource: Any | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.realm_id = realm_id
        self.rules = rules or LimiterRules()
        self._clock = clock
        self._sleep = sleep
        # This process's calls in flight, gated here before the shared item: the threads of a
        # batching function beyond the company's ten wait on the gate instead of polling the
        # item (each poll a DynamoDB read, the company's limit unchanged: the item decides).
        self._gate = threading.BoundedSemaphore(self.rules.max_in_flight)
        # Epochs to the millisecond, as decision 59 stores them.
        self._item = LimiterItem(
            (resource or boto3.resource("dynamodb")).Table(table_name),
            realm_id,
            reading="could not read the QuickBooks limiter",
            booking="could not book a QuickBooks call",
            places=3,
        )

    # --- the caller's side ------------------------------------------------------------------
    def acquire(self, kind: Kind = "single") -> Lease:
        """A slot for one call of ``kind``, after sleeping a short wait; raises NoCapacityYet
        when the wait would be longer than ``max_wait_s``."""
        rules = self.rules
        patience = max(rules.max_wait_s, rules.started_wait_s if capacity.started() else 0.0)
        if not self._gate.acquire(blocking=False):
            gated_at = time.monotonic()
            if not self._gate.acquire(timeout=patience):
                raise self._no_capacity(
                    1.0,
                    f"{rules.max_in_flight} calls to it are already in flight from this function",
                )
            patience = max(0.0, patience - (time.monotonic() - gated_at))
        try:
            return self._book(kind, patience)
        except BaseException:
            self._gate.release()
            raise

    def _book(self, kind: Kind, patience: float) -> Lease:
        rules = self.rules
        lease_id = uuid.uuid4().hex[:16]
        deadline = self._clock() + patience
        waited = 0.0
        while True:
            item = self._item.current()
            now = self._clock()
            paused = number(item, "paused_until") - now
            if paused > 0:
                raise self._no_capacity(
                    paused, "paused after QuickBooks answered a request with a throttle fault"
                )
            leases = {
                k: float(v) for k, v in dict(item.get("leases") or {}).items() if float(v) > now
            }
            if len(leases) >= rules.max_in_flight:
                # Every slot is held by a call in flight; calls end within a second or so.
                poll = jittered(min(rules.interval_s, 0.25))
                if now + poll > deadline or waited + poll > patience:
                    raise self._no_capacity(
                        1.0, f"{rules.max_in_flight} calls to it are already in flight"
                    )
                self._sleep(poll)
                waited += poll
                self._item.forget()  # read again: the leases we saw may have been released
                continue
            start = max(now, number(item, "tat"))
            if kind == "batch":
                start = max(start, number(item, "batch_tat"))
            wait = start - now
            if now + wait > deadline:
                what = "batch requests" if kind == "batch" and start > number(item, "tat") else ""
                raise self._no_capacity(
                    wait,
                    f"its {what or 'requests'} are booked "
                    f"{wait:.1f} s ahead (at most {self._rate(kind)})",
                )
            leases[lease_id] = start + rules.lease_s
            stored = self._item.stored
            values: dict[str, Any] = {
                ":tat": stored(start + rules.interval_s),
                ":leases": {k: stored(v) for k, v in leases.items()},
                ":next": int(item.get("version", 0)) + 1,
            }
            expression = "SET tat = :tat, leases = :leases, version = :next"
            if kind == "batch":
                values[":batch_tat"] = stored(start + rules.batch_interval_s)
                expression += ", batch_tat = :batch_tat"
            if not self._item.write(expression, values, item):
                continue  # another function booked first: decide again on what it wrote
            if wait > 0:
                self._sleep(wait)
                waited += wait
            capacity.called()
            if waited > 0:
                metrics.add_metric(
                    name="QboCapacityWaitMs", unit="Milliseconds", value=waited * 1000
                )
            return Lease(lease_id, self, kind, waited)

    @property
    def interval_s(self) -> float:
        """Seconds between two of the company's requests (the GCRA's spacing)."""
        return self.rules.interval_s

    def ahead_s(self, kind: Kind = "single") -> float:
        """Seconds until a call of ``kind`` could start, from the item as this process last
        saw it (read once if never seen): a hint for planning, never a booking. Another
        function may have booked since; ``acquire`` decides on the current item."""
        item = self._item.current()
        now = self._clock()
        start = max(now, number(item, "tat"), number(item, "paused_until"))
        if kind == "batch":
            start = max(start, number(item, "batch_tat"))
        return start - now

    def release(self, lease_id: str) -> None:
        """Frees a call's slot. A failure to write is logged: the lease expires on its own."""
        try:
            # False when the lease is gone already: expired and pruned by a booking.
            self._item.update(
                remove="leases.#id",
                condition="attribute_exists(leases.#id)",
                names={"#id": lease_id},
                failing="could not release a QuickBooks call slot",
            )
        except TransientError as exc:
            logger.warning(
                "could not release a QuickBooks call slot", error=str(exc.__cause__ or exc)
            )
        finally:
            self._gate.release()  # after the write: the next thread finds the slot free

    def throttled(self) -> float:
        """QuickBooks answered a throttle fault: nobody calls the company for the pause (its
        seconds returned)."""
        until = self._clock() + self.rules.throttle_pause_s
        metrics.add_metric(name="QboThrottled", unit="Count", value=1)
        logger.warning(
            "QuickBooks throttled the company: every call waits",
            realm_id=self.realm_id,
            pause_s=self.rules.throttle_pause_s,
        )
        self._item.record((), {}, pause_until=until, failing="could not pause QuickBooks calls")
        return self.rules.throttle_pause_s

    # --- words --------------------------------------------------------------------------------
    def _rate(self, kind: Kind) -> str:
        rules = self.rules
        if kind == "batch":
            return f"{rules.batches_per_minute} batch requests a minute"
        return f"{rules.per_minute} requests a minute, {rules.per_second} a second"

    def _no_capacity(self, wait_s: float, why: str) -> NoCapacityYet:
        seconds = max(1, math.ceil(wait_s))
        metrics.add_metric(name="QboNoCapacity", unit="Count", value=1)
        return NoCapacityYet(
            f"QuickBooks company {self.realm_id} has no capacity yet ({why}): retry in {seconds} s",
            retry_after_s=seconds,
        )

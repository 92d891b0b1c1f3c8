"""When a record that failed transiently is tried again: a few seconds in process, then later
through the queue with a growing, jittered delay, until its retry budget is spent.

Deployed figures (``RetryPolicy()``): in process, up to two more tries after pauses of up to
0.25 s and 0.5 s; then the record goes back to the queue for a delay drawn uniformly from
[0, 30 s x 2^(failure-1)] ("full jitter"), capped at SQS's 12-hour maximum; a record still
failing 24 hours after it was queued is parked with its reason. A service's own wait
(``retry_after_s``) is never cut short. ``scaled(f)`` multiplies every queue-level duration
(base, cap, budget) by ``f`` so tests play hours in seconds.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace

# SQS's largest visibility timeout (ChangeMessageVisibility): 12 hours.
SQS_MAX_VISIBILITY_S = 12 * 3600

_rng = random.SystemRandom()


def full_jitter(ceiling_s: float, rng: random.Random | None = None) -> float:
    """A wait drawn uniformly from [0, ceiling]: concurrent retries spread out instead of
    arriving together (AWS Architecture Blog, "Exponential Backoff And Jitter")."""
    return (rng or _rng).uniform(0.0, max(0.0, ceiling_s))


def jittered(wait_s: float, rng: random.Random | None = None) -> float:
    """A wait drawn uniformly from [wait, 1.1 x wait]: for a wait that must be served in full
    (a throttle window clearing, a lease) but that many callers would otherwise end together."""
    return wait_s + (rng or _rng).uniform(0.0, wait_s / 10)


@dataclass(frozen=True)
class RetryPolicy:
    # In process: tries per receive (the first included) and the first pause's ceiling.
    tries_in_process: int = 3
    pause_s: float = 0.25
    # A record starts (or tries again in process) only with this much of the function's
    # time left: the slowest record is a few QuickBooks calls of at most 15 s each.
    record_time_s: float = 40.0
    # Through the queue: the first hand-back's ceiling, doubled per failure, up to the cap.
    base_s: float = 30.0
    cap_s: float = float(SQS_MAX_VISIBILITY_S)
    # A record still failing transiently this long after it was queued is parked.
    budget_s: float = 24 * 3600.0

    def scaled(self, factor: float) -> RetryPolicy:
        """The queue-level durations times ``factor`` (in-process pauses and the record's
        time are real seconds of one invocation and stay)."""
        if factor <= 0:
            raise ValueError("the retry scale must be positive")
        return replace(
            self,
            base_s=self.base_s * factor,
            cap_s=min(self.cap_s * factor, float(SQS_MAX_VISIBILITY_S)),
            budget_s=self.budget_s * factor,
        )

    def pause(
        self, attempt: int, retry_after_s: float | None, rng: random.Random | None = None
    ) -> float | None:
        """The in-process pause before try ``attempt + 1``; None when the record should go
        back to the queue instead (tries used up, or the service asked for a longer wait)."""
        if attempt >= self.tries_in_process:
            return None
        ceiling = self.pause_s * 2 ** (attempt - 1)
        if retry_after_s is not None:
            if retry_after_s > 2 * ceiling:
                return None
            return max(retry_after_s, full_jitter(ceiling, rng))
        return full_jitter(ceiling, rng)

    def delay(
        self, failures: int, retry_after_s: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds until the queue hands the record out again after its ``failures``-th
        failure: full jitter over an exponential ceiling, never shorter than the
        service's ``retry_after_s``, never beyond SQS's maximum."""
        ceiling = min(self.cap_s, self.base_s * 2 ** max(0, min(failures, 64) - 1))
        wait = full_jitter(ceiling, rng)
        if retry_after_s is not None:
            wait = max(wait, retry_after_s)
        return min(wait, float(SQS_MAX_VISIBILITY_S))

    def hold(self, retry_after_s: float, rng: random.Random | None = None) -> float:
        """Seconds to hold a record while the service is not being called (an open circuit):
        until it will be tried again, plus up to one base delay so held records do not all
        come back at the same moment."""
        wait = max(0.0, retry_after_s) + full_jitter(self.base_s, rng)
        return min(wait, float(SQS_MAX_VISIBILITY_S))


def visibility_s(delay_s: float) -> int:
    """A delay as SQS's VisibilityTimeout: whole seconds, rounded up, within [0, 12 h]."""
    return max(0, min(SQS_MAX_VISIBILITY_S, math.ceil(delay_s)))

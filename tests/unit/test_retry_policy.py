"""The retry schedule: in-process pauses, queue delays (bounds, jitter, cap, retry_after), the
budget, and the scale that lets tests play hours in seconds."""

from __future__ import annotations

import random

import pytest

from connector.retry import SQS_MAX_VISIBILITY_S, RetryPolicy, full_jitter, jittered, visibility_s

POLICY = RetryPolicy()


def test_the_deployed_figures_are_the_documented_ones() -> None:
    assert (POLICY.base_s, POLICY.cap_s, POLICY.budget_s) == (30.0, 43200.0, 86400.0)
    assert POLICY.tries_in_process == 3


@pytest.mark.parametrize("receives", [1, 2, 3, 5, 8, 10, 11, 12, 20, 100])
def test_a_delay_lies_between_zero_and_the_exponential_ceiling(receives: int) -> None:
    ceiling = min(43200.0, 30.0 * 2 ** (receives - 1))
    rng = random.Random(receives)
    delays = [POLICY.delay(receives, rng=rng) for _ in range(500)]
    assert all(0.0 <= d <= ceiling for d in delays)
    # Full jitter: spread over the whole range, not bunched at the ceiling
    assert min(delays) < ceiling * 0.1 and max(delays) > ceiling * 0.9


def test_delays_never_exceed_the_sqs_maximum() -> None:
    rng = random.Random(1)
    assert max(POLICY.delay(n, rng=rng) for n in range(1, 200) for _ in range(20)) <= 43200
    assert visibility_s(10**9) == SQS_MAX_VISIBILITY_S
    assert visibility_s(0.2) == 1 and visibility_s(0) == 0


def test_a_service_wait_is_never_cut_short() -> None:
    rng = random.Random(2)
    assert all(POLICY.delay(1, retry_after_s=120, rng=rng) >= 120 for _ in range(200))
    assert POLICY.delay(1, retry_after_s=10**6, rng=rng) == SQS_MAX_VISIBILITY_S


def test_a_held_record_comes_back_after_the_probe_time_spread_over_one_base_delay() -> None:
    rng = random.Random(3)
    holds = [POLICY.hold(90, rng=rng) for _ in range(300)]
    assert all(90 <= h <= 120 for h in holds)
    assert max(holds) - min(holds) > 20, "held records must not all return at once"


def test_in_process_pauses_are_short_jittered_and_bounded() -> None:
    rng = random.Random(4)
    first = [POLICY.pause(1, None, rng) for _ in range(200)]
    second = [POLICY.pause(2, None, rng) for _ in range(200)]
    assert all(p is not None and 0 <= p <= 0.25 for p in first)
    assert all(p is not None and 0 <= p <= 0.5 for p in second)
    assert POLICY.pause(3, None, rng) is None, "after three tries the queue takes over"
    # A service's short wait is honoured in process; a long one sends the record to the queue
    assert POLICY.pause(1, 0.4, rng) == 0.4
    assert (POLICY.pause(2, 0.3, rng) or 0) >= 0.3
    assert POLICY.pause(1, 30, rng) is None


def test_two_hours_of_failures_fit_well_inside_the_budget_and_the_receive_backstop() -> None:
    """Without the breaker, how many receives a record spends riding out two hours, and how
    long a record that never succeeds keeps trying before it parks (the expected figures)."""
    rng = random.Random(5)
    receives_for_two_hours: list[int] = []
    for _ in range(200):
        waited, receives = 0.0, 0
        while waited < 7200:
            receives += 1
            waited += POLICY.delay(receives, rng=rng)
        receives_for_two_hours.append(receives)
    assert max(receives_for_two_hours) < 30
    waited, receives = 0.0, 0
    while waited < POLICY.budget_s:
        receives += 1
        waited += POLICY.delay(receives, rng=rng)
    assert receives < 100  # resources.SYNC_QUEUE.max_receive_count, the backstop


def test_scaling_shrinks_the_queue_waits_and_keeps_the_in_process_ones() -> None:
    local = POLICY.scaled(1 / 360)
    assert local.base_s == pytest.approx(30 / 360)
    assert local.cap_s == pytest.approx(120.0)
    assert local.budget_s == pytest.approx(240.0)
    assert (local.pause_s, local.record_time_s) == (POLICY.pause_s, POLICY.record_time_s)
    with pytest.raises(ValueError):
        POLICY.scaled(0)


def test_full_jitter_stays_in_range() -> None:
    rng = random.Random(6)
    assert all(0 <= full_jitter(2.0, rng) <= 2.0 for _ in range(100))
    assert full_jitter(-1.0, rng) == 0.0


def test_a_jittered_fixed_wait_is_served_in_full_and_spread() -> None:
    rng = random.Random(7)
    waits = [jittered(1.0, rng) for _ in range(200)]
    assert all(1.0 <= w <= 1.1 for w in waits) and max(waits) - min(waits) > 0.05

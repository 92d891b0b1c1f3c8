"""The per-store limiter on moto's in-process DynamoDB and a hand-moved clock: requests spaced to
the store's quota whichever function asks, the quota learned from an answer by every function,
and a spent quota (none left, or a 429) pausing every caller until the store's reset."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connector.errors import NoCapacityYet
from connector.stores.limiter import PublishedLimits, StoreLimiter, StoreLimits, StoreRules
from simulators.testbed.clocks import Clock
from simulators.testbed.limiters import state_table

TABLE = "state"
STORE = "bigcommerce#abc123"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with state_table(TABLE) as resource:
        yield resource


def function(dynamodb: Any, clock: Clock, rules: StoreRules | None = None) -> StoreLimiter:
    """One function's limiter: its own StoreLimits (so it shares only the table's item); its
    sleeps move the shared clock."""
    limits = StoreLimits(TABLE, resource=dynamodb, rules=rules, clock=clock, sleep=clock.advance)
    return limits.for_store(STORE, label="BigCommerce store abc123")


def booked_at(limiter: StoreLimiter, clock: Clock) -> float:
    limiter.acquire()
    return clock.now


def test_requests_are_spaced_to_the_default_quota_after_a_burst(
    dynamodb: Any, clock: Clock
) -> None:
    one = function(dynamodb, clock)
    start = clock.now

    times = [booked_at(one, clock) - start for _ in range(12)]

    # 150 per 30 s less 10 %: one every 0.222 s, and 7 beyond that at once after a quiet spell
    spacing = 30 / 150 / 0.9
    assert times[:8] == [0.0] * 8
    assert times[8:] == pytest.approx([spacing * k for k in range(1, 5)], abs=0.005)


def test_functions_sharing_the_store_never_exceed_its_quota_in_any_window(
    dynamodb: Any, clock: Clock
) -> None:
    rules = StoreRules(quota=20, window_s=10)
    functions = [function(dynamodb, clock, rules) for _ in range(10)]
    start = clock.now

    times = [booked_at(functions[i % 10], clock) for i in range(100)]

    # any 10 s span holds at most the quota (the store counts its own window)
    for first in times:
        assert sum(1 for t in times if first <= t < first + 10) <= 20
    # ... and the quota was used: 100 requests in about 100 / (20 / 10 * 0.9) s
    assert times[-1] - start == pytest.approx((100 - 1 - 1) * 10 / 20 / 0.9, abs=0.05)


def test_a_quota_an_answer_tells_is_learned_by_every_function(dynamodb: Any, clock: Clock) -> None:
    one, other = function(dynamodb, clock), function(dynamodb, clock)
    assert one.quota() == (150, 30.0)

    # the merchant moved to Pro: 450 per 30 s
    one.answered(PublishedLimits(quota=450, window_ms=30_000, left=449, reset_ms=29_000))

    assert other.quota() == (450, 30.0)
    assert other.interval_s() == pytest.approx(30 / 450 / 0.9)
    # ... and back to Standard: told again, learned again
    other.answered(PublishedLimits(quota=150, window_ms=30_000, left=120, reset_ms=1_000))
    assert function(dynamodb, clock).quota() == (150, 30.0)


def test_an_answer_with_none_left_pauses_every_function_until_the_reset(
    dynamodb: Any, clock: Clock
) -> None:
    one, other = function(dynamodb, clock), function(dynamodb, clock)
    one.acquire()

    one.answered(PublishedLimits(quota=150, window_ms=30_000, left=0, reset_ms=3_000))
    start = clock.now
    waited = other.acquire()

    assert waited == pytest.approx(3.0) and clock.now - start == pytest.approx(3.0)


def test_a_refusal_with_a_long_reset_hands_back_for_the_reset(dynamodb: Any, clock: Clock) -> None:
    one, other = function(dynamodb, clock), function(dynamodb, clock)

    # another app spent the store's quota: BigCommerce answers 429 with 20 s to the reset
    one.answered(
        PublishedLimits(quota=150, window_ms=30_000, left=0, reset_ms=20_000, refused=True)
    )

    with pytest.raises(NoCapacityYet) as caught:
        other.acquire()
    assert caught.value.retry_after_s == 20
    assert str(caught.value) == (
        "BigCommerce store abc123 has no capacity yet (its rate-limit quota is spent "
        "until the store's reset): retry in 20 s"
    )
    clock.advance(20)
    assert other.acquire() == 0.0


def test_a_pause_is_never_shortened_by_a_later_answer(dynamodb: Any, clock: Clock) -> None:
    one, other = function(dynamodb, clock), function(dynamodb, clock)
    one.answered(PublishedLimits(left=0, reset_ms=20_000, refused=True))

    other.answered(PublishedLimits(left=0, reset_ms=2_000))

    with pytest.raises(NoCapacityYet) as caught:
        function(dynamodb, clock).acquire()
    assert caught.value.retry_after_s == 20


def test_a_booking_further_ahead_than_the_wait_allowed_hands_back(
    dynamodb: Any, clock: Clock
) -> None:
    # one request a second, no burst, waits up to 2 s
    rules = StoreRules(quota=10, window_s=10, headroom=0, max_wait_s=2, started_wait_s=2)
    one, other = function(dynamodb, clock, rules), function(dynamodb, clock, rules)
    never_sleep = StoreLimits(TABLE, resource=dynamodb, rules=rules, clock=clock, sleep=_no_sleep)
    hurried = never_sleep.for_store(STORE)
    for _ in range(3):
        hurried.acquire()  # books now, +1 s and +2 s without moving the clock

    with pytest.raises(NoCapacityYet) as caught:
        other.acquire()  # the next one is 3 s ahead
    assert caught.value.retry_after_s == 3
    assert "its requests are booked 3.0 s ahead (at most 10 per 10 s)" in str(caught.value)
    clock.advance(1)
    assert one.acquire() == pytest.approx(2.0)  # 2 s ahead now: slept


def test_answers_within_the_quota_write_nothing(dynamodb: Any, clock: Clock) -> None:
    one = function(dynamodb, clock)
    one.answered(PublishedLimits(quota=150, window_ms=30_000, left=149, reset_ms=30_000))
    version = _item(dynamodb)["version"]

    for left in range(148, 140, -1):
        one.answered(PublishedLimits(quota=150, window_ms=30_000, left=left, reset_ms=29_000))

    assert _item(dynamodb)["version"] == version


def test_rules_are_checked() -> None:
    with pytest.raises(ValueError, match="quota must be at least 1"):
        StoreRules(quota=0)
    with pytest.raises(ValueError, match="headroom"):
        StoreRules(headroom=1)


def _no_sleep(seconds: float) -> None:
    del seconds


def _item(dynamodb: Any) -> dict[str, Any]:
    found = dynamodb.Table(TABLE).get_item(Key={"pk": f"limiter#{STORE}", "sk": "LIMITER"})
    return dict(found["Item"])

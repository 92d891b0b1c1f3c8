"""The per-company QuickBooks limiter on moto's in-process DynamoDB and a hand-moved clock:
requests spaced at the rate whichever function asks, a bounded number in flight with leases
that expire, a separate batch budget, and a throttle answer pausing every caller."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from connector import capacity
from connector.errors import NoCapacityYet, TransientError
from connector.ledgers.qbo.limiter import LimiterRules, RealmLimiter
from simulators.testbed.clocks import Clock
from simulators.testbed.limiters import state_table

TABLE = "state"
REALM = "9341450000000001"
# One request a second, two at once, a batch every 15 s; no headroom, so figures are round.
RULES = LimiterRules(
    per_minute=60, per_second=10, batches_per_minute=4, max_in_flight=2, headroom=0, lease_s=30
)


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with state_table(TABLE) as resource:
        yield resource


def limiter(
    dynamodb: Any, clock: Clock, rules: LimiterRules = RULES, *, sleeps: list[float] | None = None
) -> RealmLimiter:
    """A function's limiter; its sleeps move the clock unless ``sleeps`` collects them."""

    def sleep(seconds: float) -> None:
        if sleeps is None:
            clock.advance(seconds)
        else:
            sleeps.append(seconds)

    return RealmLimiter(TABLE, REALM, rules=rules, resource=dynamodb, clock=clock, sleep=sleep)


def test_the_published_limits_less_headroom_space_requests_an_eighth_of_a_second_apart() -> None:
    rules = LimiterRules()
    assert rules.interval_s == pytest.approx(60 / 500 / 0.96)
    assert rules.batch_interval_s == pytest.approx(60 / 40 / 0.96)
    assert 60 / rules.interval_s <= 480 and 1 / rules.interval_s < 10


def test_calls_of_two_functions_are_spaced_at_the_company_s_rate(
    dynamodb: Any, clock: Clock
) -> None:
    one, other = limiter(dynamodb, clock), limiter(dynamodb, clock)
    started: list[float] = []
    for caller in (one, other, one, one, other):
        lease = caller.acquire()
        started.append(clock())
        lease.release()
    assert [t - started[0] for t in started] == [0, 1, 2, 3, 4]


def test_a_wait_longer_than_the_limit_raises_no_capacity_with_the_seconds_to_wait(
    dynamodb: Any, clock: Clock
) -> None:
    slept: list[float] = []
    rules = LimiterRules(per_minute=60, max_in_flight=10, headroom=0, max_wait_s=2)
    caller = limiter(dynamodb, clock, rules, sleeps=slept)
    for _ in range(3):
        caller.acquire().release()
    assert slept == [1, 2]  # the clock stood still: each booking is a second after the last

    with pytest.raises(NoCapacityYet) as caught:
        caller.acquire()
    assert caught.value.retry_after_s == 3
    assert str(caught.value) == (
        f"QuickBooks company {REALM} has no capacity yet (its requests are booked 3.0 s ahead "
        "(at most 60 requests a minute, 10 a second)): retry in 3 s"
    )
    assert isinstance(caught.value, TransientError) and slept == [1, 2], "nothing booked"
    clock.advance(3)
    caller.acquire()


def test_calls_in_flight_are_bounded_and_a_released_slot_is_free_again(
    dynamodb: Any, clock: Clock
) -> None:
    fast = LimiterRules(per_minute=6000, per_second=100, max_in_flight=2, headroom=0)
    one, other = limiter(dynamodb, clock, fast), limiter(dynamodb, clock, fast)
    first, second = one.acquire(), other.acquire()

    with pytest.raises(NoCapacityYet) as caught:
        one.acquire()
    assert "2 calls to it are already in flight" in str(caught.value)
    assert caught.value.retry_after_s == 1

    first.release()
    third = one.acquire()
    with pytest.raises(NoCapacityYet):
        other.acquire()
    for lease in (second, third):
        lease.release()
    other.acquire()


def test_a_function_s_own_calls_beyond_the_slots_wait_at_its_gate_then_say_why(
    dynamodb: Any, clock: Clock
) -> None:
    fast = LimiterRules(per_minute=6000, per_second=100, max_in_flight=2, headroom=0)
    busy = limiter(dynamodb, clock, replace(fast, max_wait_s=0.05))
    first, _second = busy.acquire(), busy.acquire()

    with pytest.raises(NoCapacityYet) as caught:
        busy.acquire()
    assert "2 calls to it are already in flight from this function" in str(caught.value)
    assert caught.value.retry_after_s == 1
    first.release()
    busy.acquire()  # the slot released is this function's again


def test_a_crashed_function_s_slot_comes_back_when_its_lease_expires(
    dynamodb: Any, clock: Clock
) -> None:
    fast = LimiterRules(per_minute=6000, per_second=100, max_in_flight=2, headroom=0, lease_s=30)
    crashed = limiter(dynamodb, clock, fast)
    crashed.acquire(), crashed.acquire()  # never released: the function died mid-call
    survivor = limiter(dynamodb, clock, fast)
    with pytest.raises(NoCapacityYet):
        survivor.acquire()
    clock.advance(31)
    survivor.acquire().release()


def test_batch_requests_have_their_own_budget_within_the_company_s(
    dynamodb: Any, clock: Clock
) -> None:
    slept: list[float] = []
    caller = limiter(dynamodb, clock, sleeps=slept)
    caller.acquire("batch").release()
    with pytest.raises(NoCapacityYet) as caught:
        caller.acquire("batch")
    assert caught.value.retry_after_s == 15
    assert "batch requests are booked 15.0 s ahead (at most 4 batch requests a minute)" in str(
        caught.value
    )
    # A single request still goes at the company's rate: the batch took one of its slots
    caller.acquire().release()
    assert slept == [1]
    clock.advance(15)
    caller.acquire("batch").release()


def test_a_throttle_answer_pauses_every_function_of_the_company(
    dynamodb: Any, clock: Clock
) -> None:
    one, other = limiter(dynamodb, clock), limiter(dynamodb, clock)
    other.acquire().release()  # other has seen the item before the pause
    one.throttled()

    with pytest.raises(NoCapacityYet) as caught:
        other.acquire()
    assert caught.value.retry_after_s == 60
    assert "paused after QuickBooks answered a request with a throttle fault" in str(caught.value)
    clock.advance(30)
    one.throttled()  # a second throttle answer moves the pause on
    clock.advance(59)
    with pytest.raises(NoCapacityYet) as later:
        other.acquire()
    assert later.value.retry_after_s == 1
    clock.advance(1)
    other.acquire().release()


def test_limits_that_allow_nothing_are_refused() -> None:
    with pytest.raises(ValueError, match="per_minute must be at least 1"):
        LimiterRules(per_minute=0)
    with pytest.raises(ValueError, match="headroom"):
        LimiterRules(headroom=1)


def test_a_record_that_has_called_waits_its_turn_instead_of_going_back(
    dynamodb: Any, clock: Clock
) -> None:
    slept: list[float] = []
    rules = LimiterRules(per_minute=60, max_in_flight=100, headroom=0, max_wait_s=2)
    # Another function, booking ahead (however long it has to wait)
    other = limiter(dynamodb, clock, replace(rules, max_wait_s=100), sleeps=[])
    caller = limiter(dynamodb, clock, rules, sleeps=slept)

    def other_books(times: int) -> None:
        # Outside this record's context, as another function would
        contextvars.Context().run(lambda: [other.acquire() for _ in range(times)])

    other_books(4)
    with capacity.one_record():
        # Its first call would wait 4 s: the record goes back before calling at all
        with pytest.raises(NoCapacityYet):
            caller.acquire()
        clock.advance(4)
        caller.acquire()
        # Having called, it waits 5 s for its next slot in the function (up to started_wait_s)
        other_books(4)
        caller.acquire()
        assert slept == [5]
    other_books(1)
    with pytest.raises(NoCapacityYet):
        caller.acquire()  # the next record starts again at max_wait_s

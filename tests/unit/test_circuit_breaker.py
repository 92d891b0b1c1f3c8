"""The circuit breaker's state machine, on moto's in-process DynamoDB and a hand-moved clock:
closed -> open after a run of failures -> one probe (half open) -> closed, or open again for
longer; what it tells the audit; and that a healthy company costs no DynamoDB call."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from connector.circuit import CircuitBreaker, CircuitChange, CircuitRules, circuit_view
from connector.errors import ServicePaused, TransientError
from simulators.testbed.clocks import Clock

TABLE = "state"
REALM = "9341450000000001"
RULES = CircuitRules(threshold=3, window_s=120, cooldown_s=60, max_cooldown_s=200, cache_s=0)


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        resource = boto3.resource("dynamodb", region_name="us-east-1")
        resource.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield resource


@pytest.fixture
def clock() -> Clock:
    return Clock(1_800_000_000)


@pytest.fixture
def changes() -> list[CircuitChange]:
    return []


def breaker(
    dynamodb: Any, clock: Clock, changes: list[CircuitChange], rules: CircuitRules = RULES
) -> CircuitBreaker:
    return CircuitBreaker(
        TABLE, REALM, rules=rules, resource=dynamodb, notify=changes.append, clock=clock
    )


def fail(b: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        b.before_call()
        b.failed("HTTP 503 invoice")


def test_a_run_of_failures_opens_it_and_calls_stop(
    dynamodb: Any, clock: Clock, changes: list[CircuitChange]
) -> None:
    b = breaker(dynamodb, clock, changes)
    fail(b, 2)
    assert circuit_view(TABLE, REALM, resource=dynamodb).state == "closed"
    fail(b, 1)

    view = circuit_view(TABLE, REALM, resource=dynamodb)
    assert view.state == "open" and view.failures == 3
    with pytest.raises(ServicePaused) as paused:
        b.before_call()
    assert isinstance(paused.value, TransientError)
    assert paused.value.retry_after_s == 60
    assert "not being called (circuit open" in str(paused.value)
    assert "HTTP 503 invoice" in str(paused.value)
    assert [c.change for c in changes] == ["opened"]
    assert "failed 3 times in a row" in changes[0].detail


def test_a_success_ends_the_run(dynamodb: Any, clock: Clock, changes: list[CircuitChange]) -> None:
    b = breaker(dynamodb, clock, changes)
    fail(b, 2)
    b.before_call()
    b.succeeded()
    fail(b, 2)
    assert circuit_view(TABLE, REALM, resource=dynamodb).state == "closed"


def test_failures_far_apart_are_not_a_run(
    dynamodb: Any, clock: Clock, changes: list[CircuitChange]
) -> None:
    b = breaker(dynamodb, clock, changes)
    for _ in range(5):
        fail(b, 1)
        clock.advance(121)
    view = circuit_view(TABLE, REALM, resource=dynamodb)
    assert view.state == "closed" and view.failures == 1


def test_one_probe_after_the_cooldown_closes_it_on_success(
    dynamodb: Any, clock: Clock, changes: list[CircuitChange]
) -> None:
    first, second = breaker(dynamodb, clock, changes), breaker(dynamodb, clock, changes)
    fail(first, 3)
    clock.advance(59)
    with pytest.raises(ServicePaused):
        second.before_call()
    clock.advance(2)
    second.before_call()  # the probe
    assert circuit_view(TABLE, REALM, resource=dynamodb).state == "half_open"
    with pytest.raises(ServicePaused):
        first.before_call()  # one probe at a time
    second.succeeded()

    view = circuit_view(TABLE, REALM, resource=dynamodb)
    assert view.state == "closed" and view.failures == 0 and view.retry_at is None
    first.before_call()
    assert [c.change for c in changes] == ["opened", "closed"]


def test_a_failed_probe_reopens_it_for_twice_as_long_up_to_the_cap(
    dynamodb: Any, clock: Clock, changes: list[CircuitChange]
) -> None:
    b = breaker(dynamodb, clock, changes)
    fail(b, 3)
    waits = []
    for _ in range(4):
        retry_at = circuit_view(TABLE, REALM, resource=dynamodb).retry_at
        assert retry_at is not None
        clock.now = retry_at.timestamp()
        b.before_call()
        b.failed("HTTP 503 query")
        reopened = circuit_view(TABLE, REALM, resource=dynamodb)
        assert reopened.state == "open" and reopened.retry_at is not None
        waits.append(round(reopened.retry_at.timestamp() - clock.now))
    assert waits == [120, 200, 200, 200]
    assert [c.change for c in changes] == ["opened", "reopened", "reopened", "reopened", "reopened"]


def test_a_probe_whose_caller_vanished_is_taken_over_after_its_lease(
    dynamodb: Any, clock: Clock, changes: list[CircuitChange]
) -> None:
    lost, other = breaker(dynamodb, clock, changes), breaker(dynamodb, clock, changes)
    fail(lost, 3)
    clock.advance(61)
    lost.before_call()  # takes the probe, then its Lambda instance is gone
    clock.advance(RULES.probe_lease_s + 1)
    other.before_call()
    other.succeeded()
    assert circuit_view(TABLE, REALM, resource=dynamodb).state == "closed"


def test_a_healthy_company_costs_no_dynamodb_call_per_quickbooks_call(
    dynamodb: Any, clock: Clock, changes: list[CircuitChange]
) -> None:
    rules = CircuitRules(cache_s=3600)
    b = breaker(dynamodb, clock, changes, rules)
    b.before_call()  # the first read
    table = dynamodb.Table(TABLE)
    table.delete()  # any DynamoDB call from now on would fail
    for _ in range(50):
        b.before_call()
        b.succeeded()


def test_scaling_shrinks_the_cooldowns_only() -> None:
    local = CircuitRules().scaled(1 / 360)
    assert local.cooldown_s == pytest.approx(60 / 360)
    assert local.max_cooldown_s == pytest.approx(2.5)
    assert (local.threshold, local.window_s, local.probe_lease_s) == (8, 120.0, 60.0)

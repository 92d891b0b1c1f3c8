"""What the tests of the shared limiters (QuickBooks' per company, a store's) have in common.

- ``state_table``: the state table, keyed as the stack keys it, on moto's in-process DynamoDB
  (for a limiter on a hand-moved clock); ``served_state_table``: on moto's server, for
  functions in threads each with its own DynamoDB resource, as Lambdas have;
- ``run_functions``: several sync functions calling one company or store at once until a
  clock reads a time, each waiting what NoCapacityYet says, as a record handed back would.

moto is a dev dependency: only tests import this module.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import boto3
from moto import mock_aws

from connector.errors import NoCapacityYet
from connector.local.aws import EmbeddedAws
from connector.resources import STATE_TABLE

F = TypeVar("F")


@contextmanager
def state_table(name: str) -> Iterator[Any]:
    """moto's in-process DynamoDB holding the state table ``name``; yields the resource."""
    partition, sort = STATE_TABLE.partition_key, STATE_TABLE.sort_key
    with mock_aws():
        resource = boto3.resource("dynamodb", region_name="us-east-1")
        resource.create_table(
            TableName=name,
            KeySchema=[
                {"AttributeName": partition, "KeyType": "HASH"},
                {"AttributeName": sort, "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": partition, "AttributeType": "S"},
                {"AttributeName": sort, "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield resource


@contextmanager
def served_state_table(tenant: str) -> Iterator[tuple[EmbeddedAws, str]]:
    """moto's server holding the tenant's state table: (the server, the table's name)."""
    embedded = EmbeddedAws()
    embedded.start()
    try:
        names = embedded.create_tables(tenant, (STATE_TABLE,))
        yield embedded, names[STATE_TABLE.logical_id]
    finally:
        embedded.stop()


@dataclass
class Run:
    """What the functions did: calls completed by each, and what made one give a call up."""

    made: list[int]
    given_up: list[str] = field(default_factory=list)


def run_functions(
    count: int,
    *,
    until: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    function: Callable[[], F],
    call: Callable[[F], object],
    close: Callable[[F], None] | None = None,
    given_up: tuple[type[Exception], ...] = (),
) -> Run:
    """``count`` threads, each one function (``function()`` opens its client) calling ``call``
    until ``clock`` reads ``until``. A call that raises one of ``given_up`` is noted and not
    counted; any other error fails the test."""
    run = Run(made=[0] * count)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        client = function()
        try:
            while clock() < until:
                try:
                    call(client)
                except NoCapacityYet as waiting:
                    sleep(float(waiting.retry_after_s or 1))  # as a hand-back would
                    continue
                except given_up as exc:
                    with lock:
                        run.given_up.append(str(exc))
                    continue
                run.made[index] += 1
        except BaseException as exc:  # the test fails on any other error
            errors.append(exc)
        finally:
            if close is not None:
                close(client)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return run

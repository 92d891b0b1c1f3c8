"""A conditional write in the embedded AWS is atomic, as DynamoDB's own is.

The QuickBooks limiter books a company's slots by conditional UpdateItem on a version; if two
functions could both win the same version, both would call. moto's server checks a condition
and writes without a lock, so threads interleaving in between (a busy machine, pytest-xdist)
both won. Here the interleaving is made certain: moto's condition check yields for a few
milliseconds, and ten threads race to bump one item's version.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.dynamodb import models as moto_models

from connector.local.aws import EmbeddedAws
from connector.resources import STATE_TABLE

THREADS, ATTEMPTS = 10, 20
PK, SK = STATE_TABLE.partition_key, STATE_TABLE.sort_key


@pytest.fixture(scope="module")
def aws() -> Iterator[tuple[EmbeddedAws, str]]:
    embedded = EmbeddedAws()
    embedded.start()
    try:
        yield embedded, embedded.create_tables("atomic", (STATE_TABLE,))[STATE_TABLE.logical_id]
    finally:
        embedded.stop()


@pytest.fixture
def slow_condition_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's server parses a ConditionExpression between reading the item and writing it;
    a few milliseconds there let every other thread run its own check in between."""
    parse = moto_models.create_condition_expression_parser

    def parse_slowly(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.003)
        return parse(*args, **kwargs)

    monkeypatch.setattr(moto_models, "create_condition_expression_parser", parse_slowly)


def _race(aws: EmbeddedAws, table_name: str, key: dict[str, str]) -> Counter[int]:
    """Ten threads each trying to move the item's version on by one, 20 times; how many
    writers each version had."""
    won: Counter[int] = Counter()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def bump() -> None:
        table = aws.resource("dynamodb").Table(table_name)
        try:
            for _ in range(ATTEMPTS):
                item = table.get_item(Key=key, ConsistentRead=True).get("Item") or {}
                seen = int(item.get("version", 0))
                try:
                    table.update_item(
                        Key=key,
                        UpdateExpression="SET version = :next",
                        ConditionExpression="attribute_not_exists(version) OR version = :seen",
                        ExpressionAttributeValues={":next": seen + 1, ":seen": seen},
                    )
                except ClientError as exc:
                    if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                        raise
                    continue
                with lock:
                    won[seen] += 1
        except BaseException as exc:  # the test fails on any other error
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return won


@pytest.mark.usefixtures("slow_condition_checks")
def test_racing_conditional_writes_win_each_version_once(aws: tuple[EmbeddedAws, str]) -> None:
    embedded, table_name = aws
    key = {PK: "race", SK: "version"}

    won = _race(embedded, table_name, key)

    twice = {version: writers for version, writers in won.items() if writers > 1}
    assert twice == {}, f"versions written by more than one racer: {twice}"
    final = embedded.resource("dynamodb").Table(table_name).get_item(Key=key)["Item"]
    assert int(final["version"]) == sum(won.values()) and len(won) > THREADS

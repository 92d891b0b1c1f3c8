"""The item both shared limiters keep their budget in, on moto's in-process DynamoDB: a booking
that loses the race learns the winner's item from the refusal itself, every write moves the
version, a pause is never shortened, and a failure speaks in the limiter's own words."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from connector.errors import TransientError
from connector.limiter_item import LimiterItem
from simulators.testbed.limiters import state_table

TABLE = "state"
KEY = "bigcommerce#abc123"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with state_table(TABLE) as resource:
        yield resource


def item(dynamodb: Any, *, table: str = TABLE, places: int = 6) -> LimiterItem:
    """One function's copy of the item."""
    return LimiterItem(
        dynamodb.Table(table),
        KEY,
        reading="could not read the store's limiter",
        booking="could not book a store call",
        places=places,
    )


def book(limiter: LimiterItem, tat: float) -> bool:
    seen = limiter.current()
    values = {":tat": limiter.stored(tat), ":next": int(seen.get("version", 0)) + 1}
    return limiter.write("SET tat = :tat, version = :next", values, seen)


def stored_item(dynamodb: Any) -> dict[str, Any]:
    key = {"pk": f"limiter#{KEY}", "sk": "LIMITER"}
    return dict(dynamodb.Table(TABLE).get_item(Key=key, ConsistentRead=True)["Item"])


def test_a_booking_that_loses_the_race_learns_the_winner_s_item_without_reading(
    dynamodb: Any,
) -> None:
    one, other, third = item(dynamodb), item(dynamodb), item(dynamodb)
    assert one.current() == {} and book(other, 10)

    assert not book(one, 11), "one booked over the item as it saw it before other's booking"
    assert stored_item(dynamodb)["tat"] == Decimal("10.000000")
    # one now holds other's item, taken from the refusal: a write by a third is not seen
    assert book(third, 12)
    assert one.current()["tat"] == Decimal("10.000000")
    assert not book(one, 13) and book(one, 13)
    assert stored_item(dynamodb)["tat"] == Decimal("13.000000")


def test_every_update_moves_the_version_so_an_older_booking_cannot_land(dynamodb: Any) -> None:
    one, other = item(dynamodb), item(dynamodb)
    assert book(one, 10)
    other.current()

    assert one.update(["quota = :quota"], {":quota": 90}, failing="could not record")
    assert stored_item(dynamodb)["version"] == 2

    assert not book(other, 11), "other decided on version 1"
    assert other.current()["quota"] == 90


def test_a_pause_is_never_shortened_and_a_shorter_one_forgets_the_copy(dynamodb: Any) -> None:
    one, other = item(dynamodb), item(dynamodb)
    one.record([], {}, pause_until=100, failing="could not pause")
    other.current()

    other.record(["quota = :quota"], {":quota": 90}, pause_until=50, failing="could not pause")

    assert stored_item(dynamodb)["paused_until"] == Decimal("100.000000")
    assert "quota" not in stored_item(dynamodb), "the refused pause wrote nothing"
    assert other.current()["paused_until"] == 100, "read again after the refusal"
    other.record([], {}, pause_until=150, failing="could not pause")
    assert stored_item(dynamodb)["paused_until"] == Decimal("150.000000")


def test_a_condition_that_fails_leaves_the_copy_as_it_was(dynamodb: Any) -> None:
    one = item(dynamodb)
    assert book(one, 10)

    removed = one.update(
        remove="leases.#id",
        condition="attribute_exists(leases.#id)",
        names={"#id": "gone"},
        failing="could not release",
    )

    assert not removed
    assert one.current()["version"] == 1 == stored_item(dynamodb)["version"]


def test_epochs_are_stored_to_the_limiter_s_decimals(dynamodb: Any) -> None:
    assert item(dynamodb, places=3).stored(1.2345678) == Decimal("1.235")
    assert item(dynamodb).stored(1.2345678) == Decimal("1.234568")


def test_a_failing_table_speaks_in_the_limiter_s_words(dynamodb: Any) -> None:
    missing = item(dynamodb, table="no-such-table")

    with pytest.raises(TransientError, match=r"^could not read the store's limiter: "):
        missing.current()
    with pytest.raises(TransientError, match=r"^could not book a store call: "):
        missing.write("SET tat = :tat", {":tat": 1}, {})
    with pytest.raises(TransientError, match=r"^could not pause: "):
        missing.record([], {}, pause_until=1, failing="could not pause")

"""A connection's health item against moto's server: fields kept apart, busy moments thinned."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from connector.health import HealthMarks
from simulators.testbed.desktop import CONN, QbwcRig, QbwcRigs


@pytest.fixture(scope="module")
def rig(qbwc_rig: QbwcRigs) -> Iterator[QbwcRig]:
    with qbwc_rig() as running:
        yield running


def _marks(rig: QbwcRig) -> HealthMarks:
    return HealthMarks(
        rig.runtime.env["CONNECTOR_STATE_TABLE"], resource=rig.runtime.boto3_resource("dynamodb")
    )


def test_each_function_sets_its_own_fields_and_keeps_the_others(rig: QbwcRig) -> None:
    first = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    _marks(rig).note(CONN, last_webhook_at=first)
    _marks(rig).note(CONN, webhook_health="healthy", webhook_checked_at=first)
    found = _marks(rig).noted(CONN)
    assert found.last_webhook_at == first
    assert (found.webhook_health, found.webhook_checked_at) == ("healthy", first)
    assert found.last_post_at is None


def test_a_moment_noted_again_within_a_minute_is_not_written_but_a_state_is(rig: QbwcRig) -> None:
    marks = _marks(rig)
    first = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    marks.note("busy", last_post_at=first, webhook_health="healthy")
    marks.note("busy", last_post_at=first + timedelta(seconds=5), webhook_health="unhealthy: x")
    found = marks.noted("busy")
    assert found.last_post_at == first
    assert found.webhook_health == "unhealthy: x"
    # Another instance (another Lambda container) writes its own first moment at once
    _marks(rig).note("busy", last_post_at=first + timedelta(seconds=9))
    assert _marks(rig).noted("busy").last_post_at == first + timedelta(seconds=9)


def test_an_unknown_field_is_refused_and_a_connection_never_noted_reads_empty(
    rig: QbwcRig,
) -> None:
    with pytest.raises(ValueError, match="not a health field"):
        _marks(rig).note(CONN, last_webhook=datetime.now(UTC))
    assert _marks(rig).noted("never-seen").model_dump() == {
        "last_webhook_at": None, "last_post_at": None, "webhook_health": None,
        "webhook_checked_at": None, "qbwc_last_contact_at": None,
    }  # fmt: skip

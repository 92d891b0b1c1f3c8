"""The qbo_token schedule counts down to each QuickBooks Online connection's hard expiry.

Intuit's refresh tokens roll over for at most five years; then the merchant must connect
again. The function emits ``RefreshTokenDaysLeft`` (EMF on stdout, as on Lambda) for every
connection it keeps alive, and the stack alarms on its Minimum below 30.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from simulators.testbed.clocks import Clock
from simulators.testbed.online import QboRig, QboRigs, connection_settings

OLD, NEW = "old", "new"  # connected five years ago, and today
DAY_S = 86_400
HARD_EXPIRY_DAYS = 5 * 365
# Intuit's refresh token lives about 101 days unless used: keep it alive well within that.
KEEPALIVE_STEP_DAYS = 90


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    mapping = {"fallback_item": "Sales"}
    return [
        connection_settings(OLD, woo_url=woo_url, qbo_url=qbo_url, mapping=mapping),
        connection_settings(NEW, woo_url=woo_url, qbo_url=qbo_url, mapping=mapping),
    ]


@pytest.fixture(scope="module")
def intuit_clock() -> Clock:
    return Clock(time.time())


@pytest.fixture(scope="module")
def rig(qbo_rig: QboRigs, intuit_clock: Clock) -> Iterator[QboRig]:
    with qbo_rig(_connections, connect=(OLD,), clock=intuit_clock) as running:
        yield running


def _hour_passes(rig: QboRig, connection_id: str) -> None:
    """The stored access token has run out, so the schedule refreshes at Intuit."""
    secret = rig.ledger_secret(connection_id)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    rig.vault.save_ledger(connection_id, secret.model_copy(update={"access_expires_at": past}))


def _keep_alive_until(rig: QboRig, clock: Clock, days_before_hard_expiry: int) -> None:
    """Intuit's years pass while the schedule keeps connection OLD alive."""
    remaining = HARD_EXPIRY_DAYS - days_before_hard_expiry
    while remaining > 0:
        step = min(KEEPALIVE_STEP_DAYS, remaining)
        clock.advance(step * DAY_S)
        remaining -= step
        _hour_passes(rig, OLD)
        report = rig.runtime.fire_schedule("qbo_token")
        assert OLD in report["refreshed"], report
        # NEW is not connected yet: no token, so nothing to count down.
        assert report["not_connected"] == [NEW] and list(report["days_left"]) == [OLD]


def _emitted(stdout: str, name: str) -> list[tuple[float, dict[str, Any]]]:
    """Each value of metric ``name`` in the EMF documents printed, with its document."""
    found: list[tuple[float, dict[str, Any]]] = []
    for line in stdout.splitlines():
        if not line.startswith("{"):
            continue
        document = json.loads(line)
        if "_aws" not in document or name not in document:
            continue
        value = document[name]
        found.extend((float(v), document) for v in (value if isinstance(value, list) else [value]))
    return found


def test_the_schedule_reports_days_until_each_connection_must_reconnect(
    rig: QboRig, intuit_clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given OLD kept alive for almost five years, and NEW connected today
    _keep_alive_until(rig, intuit_clock, days_before_hard_expiry=10)
    rig.connect(NEW)
    _hour_passes(rig, OLD)
    _hour_passes(rig, NEW)
    capsys.readouterr()

    # When the keep-alive schedule runs
    report = rig.runtime.fire_schedule("qbo_token")

    # Then the metric holds one value per connection, its Minimum the one due soonest
    emitted = _emitted(capsys.readouterr().out, "RefreshTokenDaysLeft")
    values = sorted(value for value, _ in emitted)
    assert len(values) == 2, emitted
    assert values[0] == pytest.approx(10, abs=0.1)
    assert values[1] == pytest.approx(HARD_EXPIRY_DAYS, abs=0.1)
    _, document = emitted[0]
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "MlConnector"
    assert directive["Dimensions"] == [["service"]] and document["service"] == "ml-connector"
    assert {"Name": "RefreshTokenDaysLeft", "Unit": "None"} in directive["Metrics"]
    # And the function's answer says the same by connection
    assert report["days_left"] == {
        OLD: pytest.approx(10, abs=0.1),
        NEW: pytest.approx(1825, abs=0.1),
    }
    assert list(report["reconnect_soon"]) == [OLD]

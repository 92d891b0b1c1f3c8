"""The poll's decisions: when a connection is due, which listed records are queued, where a
listing starts, and the key that sets the period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connector.config import load_tenant, parse_tenant
from connector.errors import ConfigError
from connector.reconcile import (
    BATCH,
    DUE_SLACK,
    RESERVE,
    Budget,
    decide,
    is_due,
    latest_versions,
    list_within,
    poll_request,
    reached,
    starting_point,
)
from connector.state import PollMark, SyncState
from connector.stores.port import ChangedRecord
from connector.webhook_health import CHECK_EVERY
from connector.webhook_health import is_due as hooks_due

NOW = datetime(2026, 3, 2, 12, 0, 5, tzinfo=UTC)
T = datetime(2026, 3, 2, 11, 58, 0, tzinfo=UTC)
PERIOD = timedelta(minutes=15)


def _state(status: str, seen: datetime | None) -> SyncState:
    return SyncState(
        record_key="shop#order#7",
        status=status,  # type: ignore[arg-type]
        store_modified_at=seen.isoformat() if seen else None,
        updated_at=NOW.isoformat(),
    )


# --- when a connection is due -------------------------------------------------------------
def test_a_connection_never_polled_is_due() -> None:
    assert is_due(None, PERIOD, NOW)
    assert is_due(PollMark(), PERIOD, NOW)


def test_a_connection_is_not_due_within_its_period() -> None:
    mark = PollMark(last_run_at=NOW - timedelta(minutes=10))
    assert not is_due(mark, PERIOD, NOW)


def test_a_schedule_that_fires_a_few_seconds_early_still_finds_it_due() -> None:
    # Run at 12:00:05; the schedule fires again at 12:14:50, within its minute.
    mark = PollMark(last_run_at=NOW)
    assert is_due(mark, PERIOD, NOW + PERIOD - timedelta(seconds=15))
    assert not is_due(mark, PERIOD, NOW + PERIOD - DUE_SLACK - timedelta(seconds=1))


def test_a_one_minute_period_runs_on_every_firing_of_the_schedule() -> None:
    mark = PollMark(last_run_at=NOW)
    assert is_due(mark, timedelta(minutes=1), NOW + timedelta(seconds=58))


def test_a_clock_that_went_back_does_not_stall_the_poll() -> None:
    assert is_due(PollMark(last_run_at=NOW + timedelta(hours=1)), PERIOD, NOW)


# --- which listed records are queued ------------------------------------------------------
def test_a_record_without_a_sync_state_is_queued() -> None:
    assert decide(None, T) == "queue"


def test_a_record_changed_after_its_state_was_settled_is_queued() -> None:
    assert decide(_state("posted", T - timedelta(seconds=1)), T) == "queue"


def test_a_state_that_never_saw_a_version_is_queued() -> None:
    assert decide(_state("posted", None), T) == "queue"


@pytest.mark.parametrize("status", ["posted", "skipped", "voided", "queued", "received"])
def test_a_record_whose_state_has_seen_this_version_is_current(status: str) -> None:
    assert decide(_state(status, T), T) == "current"
    assert decide(_state(status, T + timedelta(minutes=1)), T) == "current"


@pytest.mark.parametrize("status", ["parked", "failed"])
def test_a_parked_version_waits_for_a_replay_but_a_newer_one_is_queued(status: str) -> None:
    assert decide(_state(status, T), T) == "parked"
    assert decide(_state(status, T), T + timedelta(seconds=1)) == "queue"


def test_a_stamp_without_a_zone_is_read_as_utc() -> None:
    state = _state("posted", None).model_copy(update={"store_modified_at": "2026-03-02T11:58:00"})
    assert decide(state, T) == "current"


# --- where a listing starts ---------------------------------------------------------------
def test_a_first_run_starts_one_period_back() -> None:
    assert starting_point(None, "order", PERIOD, NOW) == NOW - PERIOD


def test_a_later_run_starts_at_the_entitys_own_watermark() -> None:
    mark = PollMark(last_run_at=NOW, watermarks={"order": T})
    assert starting_point(mark, "order", PERIOD, NOW) == T
    assert starting_point(mark, "customer", PERIOD, NOW) == NOW - PERIOD


def test_the_watermark_survives_the_state_table() -> None:
    mark = PollMark(last_run_at=NOW, watermarks={"order": T})
    assert PollMark.model_validate(mark.model_dump(mode="json")) == mark


def test_each_record_is_queued_once_at_its_latest_listed_version() -> None:
    listed = [
        ChangedRecord("order", "9", T),
        ChangedRecord("order", "7", T - timedelta(seconds=5)),
        ChangedRecord("order", "9", T - timedelta(seconds=9)),  # listed before it moved
        ChangedRecord("order", "8", datetime(2026, 3, 2, 11, 58, 0)),  # no zone: UTC
    ]
    assert latest_versions(listed) == [
        ChangedRecord("order", "7", T - timedelta(seconds=5)),
        ChangedRecord("order", "8", T),
        ChangedRecord("order", "9", T),
    ]


# --- what an invocation asks for ----------------------------------------------------------
def test_the_schedules_own_event_asks_for_nothing_special() -> None:
    request = poll_request({"detail-type": "Scheduled Event", "detail": {}})
    assert not request.now and request.connection_id is None
    assert not poll_request({}).now


def test_an_operator_can_poll_now_one_connection_or_all() -> None:
    assert poll_request({"detail": {"poll": "now"}}).now
    one = poll_request({"detail": {"poll": "now", "connection_id": "shop"}})
    assert one.now and one.connection_id == "shop"


@pytest.mark.parametrize(
    "detail", [{"poll": "later"}, {"poll": "now", "connection": "shop"}, {"poll": 1}]
)
def test_a_request_the_poll_does_not_understand_is_refused_saying_what_it_takes(
    detail: dict[str, Any],
) -> None:
    with pytest.raises(ValueError, match=r"not a poll request .*\{\"poll\": \"now\"\}"):
        poll_request({"detail": detail})


# --- reconcile_every_minutes --------------------------------------------------------------
def _tenant(store: dict[str, Any], **connection: Any) -> dict[str, Any]:
    return {
        "tenant": "acme",
        "connections": [{"id": "shop", "store": store, "ledger": {"kind": "qbo"}, **connection}],
    }


WOO = {"kind": "woocommerce", "url": "https://shop.example"}
BC = {"kind": "bigcommerce", "store_hash": "abc123"}
MAGENTO = {"kind": "magento", "url": "https://mage.example"}


@pytest.mark.parametrize(("store", "minutes"), [(WOO, 15), (BC, 15), (MAGENTO, 2)])
def test_each_store_kind_has_its_own_default_period(store: dict[str, Any], minutes: int) -> None:
    (connection,) = parse_tenant(_tenant(store), "acme.toml").connections
    assert connection.reconcile_every_minutes is None
    assert connection.reconcile_minutes == minutes


def test_a_connection_sets_its_own_period() -> None:
    (connection,) = parse_tenant(
        _tenant(MAGENTO, reconcile_every_minutes=1), "acme.toml"
    ).connections
    assert connection.reconcile_minutes == 1


@pytest.mark.parametrize("minutes", [0, -5, 1441, 2.5, True, "15"])
def test_a_period_that_is_not_whole_minutes_from_one_is_refused_naming_the_field(
    minutes: object,
) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_tenant(_tenant(WOO, reconcile_every_minutes=minutes), "acme.toml")
    message = str(refused.value)
    assert "acme.toml" in message
    assert "connections.0.reconcile_every_minutes" in message
    assert f"whole number of minutes from 1 to 1440, not {minutes!r}" in message


def test_the_example_tenants_commented_period_loads_when_uncommented(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "tenants" / "example.toml"
    text = example.read_text(encoding="utf-8")
    assert "\n# reconcile_every_minutes = 15\n" in text
    tenant = tmp_path / "example.toml"
    tenant.write_text(
        text.replace("\n# reconcile_every_minutes = 15\n", "\nreconcile_every_minutes = 5\n"),
        encoding="utf-8",
    )
    first = load_tenant(tenant).connections[0]
    assert first.store.kind == "woocommerce" and first.reconcile_minutes == 5


# --- the time budget: how far a listing cut short moves the watermark ----------------------
def _changes(*minutes: int) -> list[ChangedRecord]:
    return [ChangedRecord("order", str(n), T + timedelta(minutes=m)) for n, m in enumerate(minutes)]


class _Remaining:
    """The context's remaining time: plenty for ``plenty`` readings, then too little."""

    def __init__(self, plenty: int) -> None:
        self.plenty = plenty

    def __call__(self) -> int:
        self.plenty -= 1
        return 200_000 if self.plenty >= 0 else 1_000


def test_a_listing_within_the_budget_is_read_to_its_end() -> None:
    listing = list_within(iter(_changes(*range(250))), Budget(_Remaining(10)))
    assert listing.complete and listing.in_order and len(listing.records) == 250
    assert reached(listing, 250, T) == T + timedelta(minutes=249)


def test_a_listing_stops_a_page_after_the_budget_is_spent_and_proves_what_it_queued() -> None:
    listing = list_within(iter(_changes(*range(250))), Budget(_Remaining(1)))
    assert not listing.complete and len(listing.records) == BATCH * 2
    # Queuing stopped after the first chunk: the watermark is its last record's change
    assert reached(listing, BATCH, T) == T + timedelta(minutes=BATCH - 1)
    assert reached(listing, 0, T) == T


def test_a_listing_cut_short_out_of_order_proves_nothing() -> None:
    # WooCommerce lists customers by id: the times jump back and forth
    shuffled = _changes(*[m for n in range(125) for m in (n + 200, n)])
    listing = list_within(iter(shuffled), Budget(_Remaining(0)))
    assert not listing.complete and not listing.in_order
    assert reached(listing, len(listing.records), T) == T


def test_without_a_context_the_budget_never_runs_out() -> None:
    assert not Budget(None).spent
    assert Budget(lambda: int(RESERVE.total_seconds() * 1000) - 1).spent


# --- when the schedule looks at a connection's webhooks ------------------------------------
def test_webhooks_are_looked_at_hourly_and_at_once_when_the_poll_caught_records() -> None:
    assert hooks_due(None, NOW, caught=0)
    assert not hooks_due(NOW - timedelta(minutes=59), NOW, caught=0)
    assert hooks_due(NOW - timedelta(minutes=59), NOW, caught=1)
    assert hooks_due(NOW - CHECK_EVERY, NOW, caught=0)

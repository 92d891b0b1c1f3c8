"""connector.ledgers.qbo.batching without QuickBooks: how groups run and what the settings take."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import pytest

from connector.ledgers.qbo.batching import BatchRoute, BatchSettings, batch_request_id, run_groups


def record(message_id: str, group: str) -> dict[str, Any]:
    return {"messageId": message_id, "attributes": {"MessageGroupId": group}}


def test_a_failed_record_fails_its_group_behind_it_and_no_other_group() -> None:
    records = [
        record("a1", "shop:order:1"),
        record("b1", "shop:order:2"),
        record("a2", "shop:order:1"),
        record("b2", "shop:order:2"),
        record("a3", "shop:order:1"),
    ]
    seen: list[str] = []
    lock = threading.Lock()

    def handle(raw: Mapping[str, Any]) -> None:
        with lock:
            seen.append(raw["messageId"])
        if raw["messageId"] == "a2":
            raise RuntimeError("handed back")

    failed = run_groups(records, handle, route=BatchRoute())
    assert failed == ["a2", "a3"]
    assert "a3" not in seen  # never started, as the FIFO processor skips it
    assert [m for m in seen if m.startswith("a")] == ["a1", "a2"]
    assert [m for m in seen if m.startswith("b")] == ["b1", "b2"]


def test_groups_run_side_by_side() -> None:
    started = threading.Barrier(3, timeout=5)

    def handle(raw: Mapping[str, Any]) -> None:
        started.wait()  # only passes when all three groups are running at once

    records = [record(str(n), f"shop:order:{n}") for n in range(3)]
    assert run_groups(records, handle, route=BatchRoute()) == []


def test_batching_is_off_unless_set_and_applies_from_the_threshold() -> None:
    assert not BatchSettings.from_environment({}).applies({"shop": 10})
    on = BatchSettings.from_environment({"CONNECTOR_QBO_BATCH_FROM": "4"})
    assert not on.applies({"shop": 3, "other": 3})
    assert on.applies({"shop": 4})
    assert on.window_ms == 1000


def test_a_bad_setting_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="CONNECTOR_QBO_BATCH_FROM"):
        BatchSettings.from_environment({"CONNECTOR_QBO_BATCH_FROM": "several"})
    with pytest.raises(ValueError, match="CONNECTOR_QBO_BATCH_WINDOW_MS"):
        BatchSettings.from_environment({"CONNECTOR_QBO_BATCH_WINDOW_MS": "60000"})


def test_the_batch_requestid_is_the_same_for_the_same_items_and_fits_36() -> None:
    first = batch_request_id(["rid-1", "rid-2"])
    assert first == batch_request_id(["rid-1", "rid-2"])
    assert first != batch_request_id(["rid-2", "rid-1"])
    assert len(first) == 36

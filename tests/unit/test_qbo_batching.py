"""connector.ledgers.qbo.batching without QuickBooks: how groups run and what the settings take."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import pytest

from connector.errors import NoCapacityYet
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


def test_batching_is_on_from_ten_records_of_a_connection_and_0_turns_it_off() -> None:
    default = BatchSettings.from_environment({})
    assert default.applies({"shop": 10})
    assert not default.applies({"shop": 9, "other": 9})  # a trickle goes one by one
    assert not BatchSettings.from_environment({"CONNECTOR_QBO_BATCH_FROM": "0"}).applies(
        {"shop": 60}
    )
    assert BatchSettings.from_environment({"CONNECTOR_QBO_BATCH_FROM": ""}).batch_from == 10
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


class Company:
    """A QuickBooks Online company as the route sees it: its limiter's forecast (the batch
    slot comes once ``singles_before_batch`` creates have gone alone) and the two requests."""

    realm_id = "9130"
    interval_s = 1.25  # fifty requests a minute, less the limiter's headroom

    def __init__(self, *, batch_ahead_s: float, singles_before_batch: int = 0) -> None:
        self.limiter = self
        self.batch_ahead_s = batch_ahead_s
        self.singles_before_batch = singles_before_batch
        self.singles: list[str] = []
        self.batches: list[list[str]] = []
        self.refuse_batches = 0  # batch requests refused for capacity before they are sent
        self.lock = threading.Lock()

    def ahead_s(self, kind: str = "single") -> float:
        with self.lock:
            return self.batch_ahead_s if kind == "batch" else 0.0

    def create_now(self, entity: str, body: dict[str, Any], *, request_id: str) -> dict[str, Any]:
        with self.lock:
            self.singles.append(request_id)
            if len(self.singles) >= self.singles_before_batch:
                self.batch_ahead_s = 0.0
        return {"Id": request_id, "DocNumber": body["DocNumber"]}

    def batch(self, operations: list[Any], *, request_id: str) -> dict[str, Any]:
        with self.lock:
            if self.refuse_batches:
                self.refuse_batches -= 1
                raise NoCapacityYet("no capacity yet: retry in 1 s", retry_after_s=1)
            self.batches.append([op.body["DocNumber"] for op in operations])
        return {op.bid: {"Id": op.body["DocNumber"], **op.body} for op in operations}


def _create_all(route: BatchRoute, company: Company, count: int) -> dict[str, dict[str, Any]]:
    """``count`` records' threads, each creating one sales receipt through ``route``."""
    answers: dict[str, dict[str, Any]] = {}
    all_waiting = threading.Barrier(count, timeout=10)

    def one(n: int) -> None:
        with route.working():
            all_waiting.wait()  # every thread working before any creates
            answer = route.create(
                company,  # type: ignore[arg-type]
                "SalesReceipt",
                {"DocNumber": str(n)},
                request_id=f"rid-{n}",
            )
        answers[str(n)] = answer

    threads = [threading.Thread(target=one, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    return answers


def test_creates_beyond_the_next_batch_go_alone_and_the_rest_wait_for_the_batch_slot() -> None:
    # The batch slot is 20 s off (sooner than 35 creates could go alone), 35 creates are
    # waiting: the 5 that the next batch cannot take go alone on request slots, the 30 others
    # wait in the function for the batch slot (here: once the 5 have gone).
    company = Company(batch_ahead_s=20.0, singles_before_batch=5)
    route = BatchRoute(window_s=0.05, hold_s=3600)
    answers = _create_all(route, company, 35)
    assert sorted(answers) == sorted(str(n) for n in range(35))
    assert all(answers[n]["DocNumber"] == n for n in answers)  # each thread its own answer
    assert len(company.singles) == 5 and len(company.batches) == 1
    assert len(company.batches[0]) == 30
    assert sorted([*company.singles, *(f"rid-{n}" for n in company.batches[0])]) == sorted(
        f"rid-{n}" for n in range(35)
    )  # every create sent once
    assert (route.singles, route.batches, route.batched) == (5, 1, 30)


def test_a_batch_refused_for_capacity_waits_again_instead_of_failing_its_creates() -> None:
    company = Company(batch_ahead_s=0.0)
    company.refuse_batches = 1  # another function took the slot this route was told of
    route = BatchRoute(window_s=0.05, hold_s=60)
    answers = _create_all(route, company, 12)
    assert len(answers) == 12  # none raised NoCapacityYet to its record
    assert [len(b) for b in company.batches] == [12]
    assert company.singles == []
    assert route.waited_again == 12


def test_a_create_whose_wait_for_the_batch_slot_would_pass_its_hold_goes_alone() -> None:
    # The batch slot is 3 s off, the creates may be held 0.2 s: each goes alone.
    company = Company(batch_ahead_s=3.0, singles_before_batch=10**6)
    route = BatchRoute(window_s=0.05, hold_s=0.2)
    answers = _create_all(route, company, 3)
    assert len(answers) == 3
    assert sorted(company.singles) == ["rid-0", "rid-1", "rid-2"] and company.batches == []


def test_a_record_pulled_again_under_a_new_receipt_is_not_failed_by_its_first_receipt() -> None:
    # Handed back on its first receive, pulled again by the same invocation once visible,
    # synced then: the new receipt is settled, only the first is reported failed.
    first = {**record("m1", "shop:order:1"), "receiptHandle": "r1"}
    again = {**record("m1", "shop:order:1"), "receiptHandle": "r2"}
    supply = [[again]]
    settled: list[tuple[str, bool]] = []

    def handle(raw: Mapping[str, Any]) -> None:
        if raw["receiptHandle"] == "r1":
            raise RuntimeError("handed back")

    def more(count: int) -> list[dict[str, Any]]:
        return supply.pop() if supply else []

    def finished(group: Any, failed: set[str]) -> None:
        settled.extend((r["receiptHandle"], r["receiptHandle"] in failed) for r in group)

    failed = run_groups(
        [first], handle, route=BatchRoute(), max_threads=1, more=more, finished=finished
    )
    assert failed == ["r1"]
    assert settled == [("r1", True), ("r2", False)]

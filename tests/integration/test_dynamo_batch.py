"""Batched DynamoDB writes and sync-state changes against moto's server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connector import dynamo_batch
from connector.state import ConcurrentUpdate, SyncState
from simulators.testbed.desktop import CONN, QbwcRig, QbwcRigs


@pytest.fixture(scope="module")
def rig(qbwc_rig: QbwcRigs) -> Iterator[QbwcRig]:
    with qbwc_rig() as running:
        yield running


def _mapping(rig: QbwcRig, key: str, value: str) -> dynamo_batch.Write:
    return rig.state.mapping_put(CONN, "batch-test", key, value)


def test_more_writes_than_one_batch_holds_all_land(rig: QbwcRig) -> None:
    # Given 120 puts (BatchWriteItem takes 25 a call) and deletes of some of them
    writes = [_mapping(rig, f"a{i}", "1") for i in range(120)]
    writes += [rig.state.mapping_delete(CONN, "batch-test", f"a{i}") for i in range(100, 120)]
    # When they are written
    rig.state.write_all(writes)
    # Then every put landed and the later deletes won
    found = rig.state.get_mappings(CONN, "batch-test", [f"a{i}" for i in range(120)])
    assert sorted(found) == sorted(f"a{i}" for i in range(100)) and set(found.values()) == {"1"}


def test_the_last_write_to_an_item_wins(rig: QbwcRig) -> None:
    rig.state.write_all([_mapping(rig, "twice", "first"), _mapping(rig, "twice", "second")])
    assert rig.state.get_mapping(CONN, "batch-test", "twice") == "second"
    gone = rig.state.mapping_delete(CONN, "batch-test", "back")
    rig.state.write_all([gone, _mapping(rig, "back", "again")])
    assert rig.state.get_mapping(CONN, "batch-test", "back") == "again"


def test_a_conditional_write_is_refused_rather_than_batched_without_its_condition(
    rig: QbwcRig,
) -> None:
    guarded = _mapping(rig, "guarded", "1")
    guarded["Put"]["ConditionExpression"] = "attribute_not_exists(pk)"
    with pytest.raises(ValueError, match="conditional"):
        rig.state.write_all([guarded])
    assert rig.state.get_mapping(CONN, "batch-test", "guarded") is None


def test_state_changes_set_fields_keep_the_others_and_outdate_earlier_reads(
    rig: QbwcRig,
) -> None:
    known, new = f"{CONN}#order#batch-1", f"{CONN}#order#batch-2"
    queued = rig.state.put_sync_state(
        SyncState(
            record_key=known, status="queued", content_hash="h1", last_error="x", updated_at=""
        )
    )
    # When outcomes for a known record and one without a state yet are recorded
    rig.state.change_sync_states(
        {
            known: {"status": "posted", "ledger_id": "TX-9", "last_error": None},
            new: {"status": "parked", "last_error": "no such item"},
        }
    )
    # Then the changed fields are set, the others kept, and a new state made
    after = rig.state.get_sync_state(known)
    assert after is not None
    assert (after.status, after.ledger_id, after.last_error) == ("posted", "TX-9", None)
    assert after.content_hash == "h1" and after.version == queued.version + 1
    made = rig.state.get_sync_state(new)
    assert made is not None and (made.status, made.last_error) == ("parked", "no such item")
    # And a worker still holding the state it read before must decide again
    with pytest.raises(ConcurrentUpdate):
        rig.state.put_sync_state(queued.model_copy(update={"status": "failed"}))

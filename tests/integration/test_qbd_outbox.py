"""The Desktop outbox in DynamoDB (moto server): order, idempotent queueing, marking, requeue of parked work."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connector.ledgers.qbd.outbox import OutboxEntry, requeue_parked
from connector.state import SyncState
from simulators.testbed.desktop import CONN, QbwcRig, QbwcRigs
from simulators.testbed.orders import taxed_order


@pytest.fixture(scope="module")
def rig(qbwc_rig: QbwcRigs) -> Iterator[QbwcRig]:
    with qbwc_rig() as running:
        yield running


def _entry(record: str, digest: str, action: str = "upsert_order") -> OutboxEntry:
    return OutboxEntry(
        connection_id=CONN,
        record_key=f"{CONN}#order#{record}",
        action=action,
        payload_json="{}",
        content_hash=digest,
    )


def test_entries_come_back_in_the_order_they_were_queued(rig: QbwcRig) -> None:
    outbox = rig.outbox
    first = outbox.put(_entry("a1", "h1"))
    second = outbox.put(_entry("a2", "h1"))
    third = outbox.put(_entry("a1", "h2"))
    seqs = [e.seq for e in outbox.pending(CONN, 1000)]
    assert seqs.index(first.seq) < seqs.index(second.seq) < seqs.index(third.seq)
    assert first.status == "pending" and first.created_at


def test_the_same_content_waiting_is_queued_once(rig: QbwcRig) -> None:
    outbox = rig.outbox
    one = outbox.put(_entry("b1", "same"))
    again = outbox.put(_entry("b1", "same"))
    assert again.seq == one.seq
    assert outbox.finish(CONN, one.seq)
    # Once carried, the same content may be queued again (it changed and changed back).
    assert outbox.put(_entry("b1", "same")).seq != one.seq


def test_a_finished_entry_leaves_the_waiting_entries_for_the_done_ones(rig: QbwcRig) -> None:
    outbox = rig.outbox
    entry = outbox.put(_entry("b2", "h"))
    outbox.mark(CONN, entry.seq, "sent", message_set_id="m1")
    assert outbox.finish(CONN, entry.seq)
    assert outbox.get(CONN, entry.seq) is None
    assert entry.seq not in [e.seq for e in outbox.entries(CONN)]
    done = {e.seq: e for e in outbox.finished(CONN)}
    assert done[entry.seq].status == "done" and done[entry.seq].message_set_id is None
    # QuickBooks has it: the entry keeps ids and its hash, not the order (retention)
    assert done[entry.seq].payload_json == "" and done[entry.seq].content_hash == "h"
    assert done[entry.seq].expires_at
    assert not outbox.finish(CONN, entry.seq)  # once


def test_mark_records_status_error_message_set_and_attempts(rig: QbwcRig) -> None:
    outbox = rig.outbox
    entry = outbox.put(_entry("c1", "h"))
    outbox.mark(CONN, entry.seq, "sent", message_set_id="abc0001", count_attempt=True)
    sent = outbox.get(CONN, entry.seq)
    assert sent is not None and sent.status == "sent" and sent.message_set_id == "abc0001"
    assert sent.attempts == 1
    outbox.mark(CONN, entry.seq, "parked", last_error="QuickBooks has no item named 'Mugs'")
    parked = outbox.get(CONN, entry.seq)
    assert parked is not None and parked.status == "parked" and parked.message_set_id is None
    assert parked.seq not in [e.seq for e in outbox.pending(CONN, 1000)]


def test_the_ledger_queues_orders_withdrawals_and_customers(rig: QbwcRig) -> None:
    ledger = rig.ledger()
    order = taxed_order(41)
    posted = ledger.post_order(order, None)
    assert (posted.operation, posted.ledger_type, posted.doc_number) == ("queued", "Invoice", "41")
    previous = SyncState(
        record_key=f"{CONN}#order#41", status="posted", ledger_id="TX-1", ledger_type="Invoice",
        sync_token="7", doc_number="41", updated_at="",
    )  # fmt: skip
    withdrawn = ledger.withdraw(previous, "41")
    assert withdrawn.operation == "queued" and withdrawn.ledger_id == "TX-1"
    customer = ledger.upsert_customer(order.customer)
    assert (customer.operation, customer.ledger_type) == ("queued", "Customer")
    actions = [(e.record_key, e.action) for e in rig.outbox.pending(CONN, 1000)][-3:]
    assert actions == [
        (f"{CONN}#order#41", "upsert_order"),
        (f"{CONN}#order#41", "void_order"),
        (f"{CONN}#customer#1041", "upsert_customer"),
    ]
    assert ledger.calls == 0


def test_requeue_parked_sends_parked_work_again_and_says_so(rig: QbwcRig) -> None:
    outbox = rig.outbox
    key = f"{CONN}#order#d1"
    entry = outbox.put(_entry("d1", "h"))
    other = outbox.put(_entry("d2", "h"))
    outbox.mark(CONN, entry.seq, "parked", last_error="no item")
    outbox.mark(CONN, other.seq, "parked", last_error="no item")
    rig.state.put_sync_state(
        SyncState(record_key=key, status="parked", last_error="no item", updated_at="")
    )

    requeued = requeue_parked(CONN, "d1", outbox=outbox, state=rig.state, audit=rig.trail)

    assert [e.seq for e in requeued] == [entry.seq]
    assert outbox.get(CONN, entry.seq).status == "pending"  # type: ignore[union-attr]
    assert outbox.get(CONN, other.seq).status == "parked"  # type: ignore[union-attr]
    state = rig.state.get_sync_state(key)
    assert state is not None and state.status == "queued" and state.last_error is None
    assert rig.trail.events(key)[-1].event == "replayed"
    everything = requeue_parked(CONN, outbox=outbox, state=rig.state, audit=rig.trail)
    assert other.seq in [e.seq for e in everything]

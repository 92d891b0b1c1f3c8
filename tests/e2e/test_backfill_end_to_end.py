"""Done-when (e): a backfill of 1,000 historical orders, interrupted half way and resumed.

A WooCommerce store took 1,000 orders in the first half of 2026 (its clock set back while
they were placed) and never sent a webhook. ``run_backfill`` for January to June queues
them through the local runtime's sync queue while the worker posts them into the simulated
QuickBooks Online; after 500 orders went out, the operator presses Ctrl-C (the queue's
501st send raises KeyboardInterrupt); the same command resumes from the checkpoint. In the
end every order that posts has exactly one invoice for the store's total to the cent, no
order was sent to the queue twice, nothing that should post was parked, and every progress
line the two runs printed told the truth: counts that only grow, never more posted than
queued, and a last line that matches QuickBooks.

The pace is scaled for a test (6,000 orders a minute, at most 100 ahead of the worker, so the
backlog limit holds the run back as the worker's pace would in production); the QuickBooks
company's request limits are raised to match. About two minutes on a laptop.
"""

from __future__ import annotations

import io
import itertools
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connector.backfill import Backfill, BackfillResult, Options, run_backfill
from connector.backfill_checkpoint import CheckpointStore
from connector.messages import SyncMessage
from connector.stores.registry import StoreLookups, open_store
from connector.sync_queue import SyncQueue
from simulators.testbed.clocks import T0, Clock
from simulators.testbed.online import QboRig, QboRigs, connection_settings
from simulators.woocommerce import LineSpec, OrderSpec
from simulators.woocommerce_catalogue import GUESTS

SHOP = "history"
ORDERS = 1000
HALF = 500
WINDOW = (date(2026, 1, 1), date(2026, 6, 30))
KEY = "2026-01-01..2026-06-30"
MUG, PRINT, BOOK, HOODIE_BLUE = 10, 11, 12, 21
US_BUYERS = (2, 5)  # registered customers in the US (the company uses US automated tax)
POSTING = ("processing", "completed", "on-hold")
PACE = Options(per_minute=6000, backlog=100, poll_s=0.25)
PROGRESS = re.compile(
    r"\] +(\d+)%  found (\d+)  queued (\d+)  posted (\d+)  parked (\d+)(?:  skipped (\d+))?"
    r".*  waiting (\d+)  "
)


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    mapping = {
        "fallback_item": "Sales",
        "shipping_item": "Shipping",
        "doc_number": "{prefix}{number}",
        "doc_prefix": "H-",
        "tax": {"mode": "us_automated"},
    }
    return [connection_settings(SHOP, woo_url=woo_url, qbo_url=qbo_url, mapping=mapping)]


class CtrlC(SyncQueue):
    """The sync queue, where the operator presses Ctrl-C instead of send number ``at``;
    counts what each record was sent."""

    def __init__(self, rig: QboRig, sent: dict[str, int], at: int | None = None) -> None:
        super().__init__(rig.queue_url, client=rig.sqs)
        self.sent, self.at, self.calls = sent, at, 0

    def send(self, message: SyncMessage, *, version: str, reason: str | None = None) -> str:
        self.calls += 1
        if self.at is not None and self.calls == self.at:
            raise KeyboardInterrupt
        answer = super().send(message, version=version, reason=reason)
        self.sent[message.record_id] = self.sent.get(message.record_id, 0) + 1
        return answer


@dataclass
class Outcome:
    rig: QboRig
    placed: dict[int, dict[str, Any]]  # order id -> the store's order as placed
    sent: dict[str, int]  # record id -> messages sent to the sync queue
    first_output: str
    second_output: str
    stopped_at: Any  # the checkpoint the interrupted run saved
    result: BackfillResult


def _spec(rng: random.Random) -> OrderSpec:
    lines = [
        LineSpec(rng.choice((MUG, PRINT, BOOK, HOODIE_BLUE)), rng.randint(1, 3))
        for _ in range(rng.randint(1, 3))
    ]
    buyer = rng.choice((*US_BUYERS, 0))
    return OrderSpec(
        lines,
        customer_id=buyer,
        guest=None if buyer else GUESTS[0],
        shipping=rng.choice(("flat_rate", "express", None)),
        status=rng.choice((*POSTING, "processing", "pending")),
    )


def _backfill(rig: QboRig, queue: SyncQueue, out: io.StringIO) -> Backfill:
    dynamodb = rig.runtime.boto3_resource("dynamodb")
    connection = rig.connection(SHOP)
    return Backfill(
        connection=connection,
        store=open_store(
            connection, vault=rig.vault, http=httpx.Client(timeout=30), lookups=StoreLookups()
        ),
        state=rig.state_store,
        audit=rig.trail,
        queue=queue,
        checkpoints=CheckpointStore(rig.runtime.env["CONNECTOR_STATE_TABLE"], resource=dynamodb),
        out=out,
        tty=False,
    )


@pytest.fixture(scope="module")
def outcome(qbo_rig: QboRigs) -> Iterator[Outcome]:
    clock = Clock(T0)
    rng = random.Random(10)
    limits = {"per_minute_limit": 100_000, "per_second_limit": 1000}
    with qbo_rig(_connections, store_clock=clock, **limits) as rig:
        # 1,000 orders from 1 January to late June, about four hours apart; no webhook
        placed = {}
        for n in range(ORDERS):
            clock.now = T0 + n * 15_000
            order = rig.woo.create_order(_spec(rng))
            placed[int(order["id"])] = order
        clock.now = T0 + 200 * 86_400  # mid-July
        sent: dict[str, int] = {}
        first, second = io.StringIO(), io.StringIO()
        # When the backfill is interrupted as it sends its 501st order
        with pytest.raises(KeyboardInterrupt):
            run_backfill(
                _backfill(rig, CtrlC(rig, sent, at=HALF + 1), first), *WINDOW, options=PACE
            )
        dynamodb = rig.runtime.boto3_resource("dynamodb")
        checkpoints = CheckpointStore(rig.runtime.env["CONNECTOR_STATE_TABLE"], resource=dynamodb)
        stopped_at = checkpoints.get(SHOP, KEY)
        # And the same command runs again
        result = run_backfill(_backfill(rig, CtrlC(rig, sent), second), *WINDOW, options=PACE)
        rig.drain()
        yield Outcome(rig, placed, sent, first.getvalue(), second.getvalue(), stopped_at, result)


def _posts(order: dict[str, Any]) -> bool:
    return order["status"] in POSTING


def test_every_order_that_posts_has_one_invoice_with_the_store_total(outcome: Outcome) -> None:
    rig = outcome.rig
    problems = []
    for order_id, order in outcome.placed.items():
        invoices = rig.documents("Invoice", order_id)
        if not _posts(order):
            if invoices:
                problems.append((order_id, order["status"], "posted although it does not post"))
            continue
        if len(invoices) != 1:
            problems.append((order_id, order["status"], f"{len(invoices)} invoices"))
        elif Decimal(str(invoices[0]["TotalAmt"])) != Decimal(order["total"]):
            problems.append((order_id, invoices[0]["TotalAmt"], order["total"]))
    assert problems == []
    postable = [o for o in outcome.placed.values() if _posts(o)]
    assert len(postable) > 700, "most orders must post"
    store_total = sum(Decimal(o["total"]) for o in postable)
    ledger_total = sum(Decimal(str(d["TotalAmt"])) for d in rig.qbo.documents("Invoice"))
    assert ledger_total == store_total


def test_no_order_was_queued_twice_and_none_parked(outcome: Outcome) -> None:
    assert sorted(outcome.sent) == sorted(str(i) for i in outcome.placed)
    assert set(outcome.sent.values()) == {1}
    cp = outcome.result.checkpoint
    postable = sum(1 for o in outcome.placed.values() if _posts(o))
    assert outcome.result.outcome == "finished"
    assert (cp.found, cp.queued, cp.posted, cp.skipped, cp.parked) == (
        ORDERS,
        ORDERS,
        postable,
        ORDERS - postable,
        0,
    )
    assert (cp.current, cp.held, cp.waiting, cp.runs) == (0, 0, {}, 2)
    assert outcome.rig.dead_letters() == []


def test_the_interrupted_run_saved_where_it_stopped_and_the_resumed_run_went_on(
    outcome: Outcome,
) -> None:
    stopped = outcome.stopped_at
    assert stopped is not None and stopped.finished_at is None
    assert stopped.queued == HALF
    ordered = sorted(outcome.placed)  # ids grow with creation time here
    assert stopped.cursor_id == str(ordered[HALF - 1])
    assert f"({HALF} queued); the same command resumes from order {ordered[HALF - 1]}" in (
        outcome.first_output
    )
    assert f"{ORDERS} orders in the window; {ORDERS - HALF} to go" in outcome.second_output
    assert "resuming (run 2)" in outcome.second_output


def _progress(text: str) -> list[tuple[int, ...]]:
    found = []
    for line in text.splitlines():
        match = PROGRESS.search(line)
        if match:
            found.append(tuple(int(g or 0) for g in match.groups()))
    return found


def test_the_progress_lines_tell_the_truth(outcome: Outcome) -> None:
    first, second = _progress(outcome.first_output), _progress(outcome.second_output)
    assert first and second
    for lines in (first, second):
        for share, found, queued, posted, parked, skipped, waiting in lines:
            assert found == ORDERS
            # What was settled or still waits is exactly what was queued
            assert posted + parked + skipped + waiting == queued
            assert share == (posted + parked + skipped) * 100 // ORDERS
            # The worker's pace held the run back: never more than the backlog ahead of it
            assert waiting <= (PACE.backlog or 0)
        for earlier, later in itertools.pairwise(lines):
            assert all(b >= a for a, b in zip(earlier[2:6], later[2:6], strict=True))
    # The interrupted run's last line stands at 500 queued; the resumed run starts from there
    assert first[-1][2] == HALF
    assert second[0][2] >= HALF
    # And the last line is what QuickBooks holds
    invoices = len(outcome.rig.qbo.documents("Invoice"))
    assert second[-1][:4] == (100, ORDERS, ORDERS, invoices)
    assert "finished: 1000 orders found, 1000 queued" in outcome.second_output.splitlines()[-1]

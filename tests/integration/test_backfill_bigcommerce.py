"""Backfill of a BigCommerce store through the local runtime: the same core, another store.

January's orders (the store's clock set back while they were placed): four that post, one
still pending, one cancelled, and one whose figures a plugin broke. The dry run says so
order by order and writes nothing; the real run posts the four once each and parks the
broken one with the store's figures.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connector.backfill import Backfill, Options, dry_run_backfill, run_backfill
from connector.backfill_checkpoint import CheckpointStore
from connector.stores.registry import StoreLookups, open_store
from simulators.bigcommerce import BigCommerceSimulator, Line
from simulators.httpserver import LoopbackServer, Request, Response
from simulators.qbo import QboSimulator
from simulators.testbed.bigcommerce import bigcommerce_shop
from simulators.testbed.clocks import T0, Clock
from simulators.testbed.online import LocalRig, connected_runtime

SHOP = "bchistory"
QBO_APP = {"client_id": "bf-app", "client_secret": "bf-app-secret"}
DAY = 86_400
JANUARY = (date(2026, 1, 1), date(2026, 1, 31))
D = Decimal


@dataclass
class Shop:
    rig: LocalRig
    bc: BigCommerceSimulator
    posts: list[int]
    pending: int
    cancelled: int
    broken: int
    february: int

    def store(self) -> Any:
        return open_store(
            self.rig.connection(SHOP),
            vault=self.rig.vault,
            http=httpx.Client(timeout=30),
            lookups=StoreLookups(),
        )

    def total(self, order_id: int) -> Decimal:
        return D(str(self.bc.orders[order_id]["total_inc_tax"])).quantize(D("0.01"))


@pytest.fixture(scope="module")
def shop() -> Iterator[Shop]:
    clock = Clock(T0)
    bc = BigCommerceSimulator(quota=10_000, clock=clock)
    qbo = QboSimulator(**QBO_APP)
    broken_ids: set[int] = set()

    def store_app(request: Request) -> Response:
        """The store, with a plugin that adds a dollar to the total of the broken order."""
        answer = bc.handle(request)
        order = request.path.rstrip("/").rsplit("/", 1)[-1]
        if answer.status == 200 and order.isdigit() and int(order) in broken_ids:
            payload = json.loads(answer.body)
            payload["total_inc_tax"] = str(D(str(payload["total_inc_tax"])) + 1)
            return Response.of_json(payload)
        return answer

    with LoopbackServer(store_app) as bc_server, LoopbackServer(qbo.handle) as qbo_server:
        connection, secrets = bigcommerce_shop(
            SHOP,
            bc,
            bc_server.base_url,
            qbo_server.base_url,
            webhook_secret="BcHistoryToken1",
            ledger=QBO_APP,
        )
        with connected_runtime("bchistory", [connection], secrets, qbo) as rig:

            def place(day: float, status_id: int = 11, quantity: int = 1) -> int:
                clock.now = T0 + day * DAY
                line = Line("Mug", "MUG-1", quantity, D("12.5000"))
                return bc.place_order([line], shipping=D("5.00"), status_id=status_id)

            posts = [place(d + 1, quantity=d + 1) for d in range(4)]
            pending = place(6, status_id=1)
            cancelled = place(7, status_id=5)
            broken = place(8)
            february = place(40)
            clock.now = T0 + 90 * DAY
            broken_ids.add(broken)
            yield Shop(rig, bc, posts, pending, cancelled, broken, february)


def test_a_dry_run_of_a_bigcommerce_store_names_each_order_and_writes_nothing(
    shop: Shop,
) -> None:
    out = io.StringIO()
    text = dry_run_backfill(shop.rig.connection(SHOP), shop.store(), *JANUARY, out=out)
    lines = out.getvalue().splitlines()[1:-1]

    def line_of(order_id: int) -> str:
        [found] = [ln for ln in lines if f"(id {order_id})" in ln]
        return found

    assert len(lines) == 7
    for order_id in shop.posts:
        assert line_of(order_id).endswith(f": {shop.total(order_id)} USD")
    assert line_of(shop.pending).startswith("would not post")
    assert "status 1 does not post" in line_of(shop.pending)
    assert line_of(shop.cancelled).startswith("would not post")
    assert "(cancelled)" in line_of(shop.cancelled)
    assert line_of(shop.broken).startswith("would park")
    assert "figures do not add up" in line_of(shop.broken)
    four = sum((shop.total(i) for i in shop.posts), D(0))
    assert text == f"7 orders: 4 would post (USD {four:,.2f}), 1 would park, 2 would not post"
    assert shop.rig.state(f"{SHOP}#order#{shop.posts[0]}") is None


def test_a_bigcommerce_backfill_posts_each_order_once_and_parks_the_broken_one(
    shop: Shop,
) -> None:
    rig = shop.rig
    dynamodb = rig.runtime.boto3_resource("dynamodb")
    backfill = Backfill(
        connection=rig.connection(SHOP),
        store=shop.store(),
        state=rig.state_store,
        audit=rig.trail,
        queue=rig.sync_queue(),
        checkpoints=CheckpointStore(rig.runtime.env["CONNECTOR_STATE_TABLE"], resource=dynamodb),
        out=io.StringIO(),
        tty=False,
    )
    result = run_backfill(backfill, *JANUARY, options=Options(per_minute=6000, poll_s=0.2))
    cp = result.checkpoint
    assert result.outcome == "finished"
    assert (cp.found, cp.queued, cp.posted, cp.parked, cp.skipped) == (7, 7, 4, 1, 2)
    for order_id in shop.posts:
        [invoice] = rig.documents("Invoice", order_id)
        assert D(str(invoice["TotalAmt"])) == shop.total(order_id)
    for order_id in (shop.pending, shop.cancelled, shop.broken, shop.february):
        assert rig.documents("Invoice", order_id) == []
    parked = rig.state(f"{SHOP}#order#{shop.broken}")
    assert parked is not None and parked.status == "parked"
    assert "do not add up" in (parked.last_error or "")

"""Backfill into QuickBooks Desktop: the worker queues each order in the outbox, and the
backfill counts it as waiting for the Web Connector, not as posted.

WooCommerce's January orders (the store's clock set back) into the ``desk`` connection;
the simulated Web Connector then carries them into a simulated company file.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any, cast

import httpx
import pytest

from connector.backfill import Backfill, Options, run_backfill
from connector.backfill_checkpoint import CheckpointStore
from connector.config import TenantConfig
from connector.ledgers.qbd.password import hash_password
from connector.stores.registry import StoreLookups, open_store
from simulators.qbd import QbdCompany
from simulators.testbed.clocks import T0, Clock
from simulators.testbed.deployment import Endpoints, deployment
from simulators.testbed.desktop import CONN, PASSWORD, USER, connection_settings
from simulators.testbed.online import STORE_KEYS, WEBHOOK_SECRET, QboRig
from simulators.woocommerce import LineSpec, OrderSpec, WooSimulator

DAY = 86_400
MUG = 10


def _connections(at: Endpoints) -> list[dict[str, Any]]:
    return [{**connection_settings(), "store": {"kind": "woocommerce", "url": at.store}}]


def _secrets(config: TenantConfig) -> dict[str, dict[str, Any]]:
    return {
        CONN: {
            "store": {**STORE_KEYS, "webhook_secret": WEBHOOK_SECRET},
            "ledger": {"password_hash": hash_password(PASSWORD)},
        }
    }


@pytest.fixture()
def rig() -> Iterator[tuple[QboRig, Clock]]:
    clock = Clock(T0)
    woo = WooSimulator(
        consumer_key=STORE_KEYS["consumer_key"],
        consumer_secret=STORE_KEYS["consumer_secret"],
        clock=clock,
        seed=5,
    )
    with deployment("desk", _connections, _secrets, store=woo, connect=(), rig=QboRig) as running:
        yield cast(QboRig, running), clock


def test_a_desktop_backfill_counts_orders_in_the_outbox_and_the_web_connector_posts_them(
    rig: tuple[QboRig, Clock],
) -> None:
    desk, clock = rig
    placed = []
    for day in range(3):
        clock.now = T0 + (day + 2) * DAY
        order = desk.woo.create_order(OrderSpec([LineSpec(MUG, day + 1)], customer_id=2))
        placed.append(order)
    clock.now = T0 + 40 * DAY
    dynamodb = desk.runtime.boto3_resource("dynamodb")
    connection = desk.connection(CONN)
    out = io.StringIO()
    backfill = Backfill(
        connection=connection,
        store=open_store(
            connection, vault=desk.vault, http=httpx.Client(timeout=30), lookups=StoreLookups()
        ),
        state=desk.state_store,
        audit=desk.trail,
        queue=desk.sync_queue(),
        checkpoints=CheckpointStore(desk.runtime.env["CONNECTOR_STATE_TABLE"], resource=dynamodb),
        out=out,
        tty=False,
    )
    # When January is backfilled
    result = run_backfill(
        backfill, date(2026, 1, 1), date(2026, 1, 31), options=Options(per_minute=6000, poll_s=0.2)
    )
    # Then the three wait in the outbox, and the backfill says so rather than "posted"
    cp = result.checkpoint
    assert result.outcome == "finished"
    assert (cp.queued, cp.outbox, cp.posted, cp.parked) == (3, 3, 0, 0)
    assert "3 queued, 0 posted, 0 parked, 3 in the Desktop outbox" in out.getvalue()
    # When the Web Connector runs
    company = QbdCompany()
    with desk.web_connector(CONN, USER, PASSWORD, company) as web:
        assert web.run_session().outcome == "done"
    # Then each order is one invoice in the company file for the store's total
    invoices = company.transactions("Invoice")
    assert sorted(i.total for i in invoices) == sorted(Decimal(o["total"]) for o in placed)
    for order in placed:
        assert desk.sync_state(CONN, order["id"]).status == "posted"

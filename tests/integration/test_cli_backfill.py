"""`connector backfill` from a shell against a running local runtime, as an operator runs it.

The tenant file is on disk, `connector local`'s endpoint file beside it, and no AWS
credentials in the environment. A dry run prints a line per order and writes nothing; a
real run paced at 30 orders a minute gets a real Ctrl-C (SIGINT) once its checkpoint
exists, says where it stopped and exits 130; the same command resumes and posts the rest,
each order once.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connector.backfill_checkpoint import Checkpoint, CheckpointStore
from simulators.testbed.clocks import T0, Clock
from simulators.testbed.online import QboRig, QboRigs, connection_settings
from simulators.testbed.tenant_files import operator_env, publish, run_cli, write_tenant_file
from simulators.woocommerce import LineSpec, OrderSpec

SHOP = "shop-past"
MUG, BOOK = 10, 12
DAY = 86_400
WINDOW = ("--since", "2026-01-01", "--until", "2026-01-31")


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    mapping = {"items": {"MUG-01": "Sales"}, "shipping_item": "Shipping"}
    return [connection_settings(SHOP, woo_url=woo_url, qbo_url=qbo_url, mapping=mapping)]


@dataclass
class Shop:
    rig: QboRig
    tenant_file: Path
    mugs: list[int]
    book: int

    def args(self, *more: str) -> list[str]:
        return ["backfill", "--config", str(self.tenant_file), "--local", "--connection", SHOP,
                *WINDOW, *more]  # fmt: skip

    def checkpoint(self) -> Checkpoint | None:
        rig = self.rig
        table = rig.runtime.env["CONNECTOR_STATE_TABLE"]
        store = CheckpointStore(table, resource=rig.runtime.boto3_resource("dynamodb"))
        return store.get(SHOP, "2026-01-01..2026-01-31")


@pytest.fixture(scope="module")
def shop(qbo_rig: QboRigs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    clock = Clock(T0)
    with qbo_rig(_connections, store_clock=clock) as rig:
        mugs = []
        for day in range(6):
            clock.now = T0 + (day + 1) * DAY
            mugs.append(rig.woo.create_order(OrderSpec([LineSpec(MUG, day + 1)], customer_id=2)))
        clock.now = T0 + 10 * DAY
        book = rig.woo.create_order(OrderSpec([LineSpec(BOOK)], customer_id=2))
        clock.now = T0 + 60 * DAY
        path = write_tenant_file(rig.config, tmp_path_factory.mktemp("tenants"))
        publish(rig.runtime, path)
        yield Shop(rig, path, [int(m["id"]) for m in mugs], int(book["id"]))


def test_a_dry_run_from_the_shell_prints_each_order_and_writes_nothing(shop: Shop) -> None:
    done = run_cli(*shop.args("--dry-run"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"dry run of backfill {SHOP} 2026-01-01..2026-01-31")
    assert sum(ln.startswith("would post") for ln in lines) == 6
    [book] = [ln for ln in lines if f"(id {shop.book})" in ln]
    assert book.startswith("would park") and "SKU BOOK-KIDS has no QuickBooks item" in book
    assert lines[-1].startswith("7 orders: 6 would post (USD ")
    assert lines[-1].endswith("1 would park, 0 would not post")
    assert shop.checkpoint() is None


def test_ctrl_c_stops_the_backfill_and_the_same_command_resumes(shop: Shop) -> None:
    rig = shop.rig
    connector = str(Path(sys.executable).with_name("connector"))
    # When a run paced at 30 a minute (one order every two seconds) gets Ctrl-C once it
    # has saved its first checkpoint
    running = subprocess.Popen(
        [connector, *shop.args("--per-minute", "30")],
        env=operator_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while shop.checkpoint() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        running.send_signal(signal.SIGINT)
        out, err = running.communicate(timeout=60)
    finally:
        if running.poll() is None:
            running.kill()
    # Then it exits 130 and says where it stopped, and the checkpoint agrees
    assert running.returncode == 130, err
    assert "stopping after this order" in err
    saved = shop.checkpoint()
    assert saved is not None and saved.finished_at is None and 1 <= saved.queued < 7
    assert f"({saved.queued} queued); the same command resumes from order {saved.cursor_id}" in (
        out
    )
    # When the same command runs again, unpaced
    done = run_cli(*shop.args("--per-minute", "6000"))
    # Then it resumes, and every mug posts once; the book parks with its reason
    assert done.returncode == 0, done.stderr
    assert "resuming (run 2)" in done.stdout
    assert f"7 orders in the window; {7 - saved.queued} to go" in done.stdout
    last = done.stdout.splitlines()[-1]
    assert last.startswith(
        f"backfill {SHOP} 2026-01-01..2026-01-31 finished: 7 orders found, 7 queued, 6 posted, "
        "1 parked"
    )
    rig.drain()
    for order_id in shop.mugs:
        [invoice] = rig.documents("Invoice", order_id)
        assert Decimal(str(invoice["TotalAmt"])) == Decimal(rig.woo.get_order(order_id)["total"])
    assert rig.sync_state(SHOP, shop.book).status == "parked"

"""QuickBooks → store (issue #13): QuickBooks and store calls per changed item, printed.

The local runtime with the simulated QuickBooks Online and WooCommerce: ``items`` inventory
items are made in QuickBooks and brought into the store once (products created), then each
one's price and quantity on hand change in QuickBooks; the signed webhooks go through ingest,
the queue and the sync function. Counted for the changes only: QuickBooks requests (reads of
the item), store requests (the SKU lookup and the write) and store writes.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from connector.resources import secret_name  # noqa: E402
from simulators.testbed.clocks import TickingClock  # noqa: E402
from simulators.testbed.online import QboRig, connection_settings, qbo_rig  # noqa: E402

SHOP = "shop"
VERIFIER = "bench-verifier"


@dataclass(frozen=True)
class BothWaysFigures:
    items: int
    qbo_calls: int
    store_calls: int
    store_writes: int
    seconds: float

    def lines(self) -> list[str]:
        per = max(self.items, 1)
        return [
            f"QuickBooks → store, {self.items} items' price and stock changed in QuickBooks "
            f"Online (by webhook), in {self.seconds:.1f} s:",
            f"  {self.qbo_calls / per:.2f} QuickBooks calls and {self.store_calls / per:.2f} "
            f"store calls per changed item; {self.store_writes / per:.2f} store writes per item",
        ]


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    made = connection_settings(
        SHOP, woo_url=woo_url, qbo_url=qbo_url, mapping={"fallback_item": "Sales"}
    )
    sync = {"products": "qbo_to_store", "prices": "qbo_to_store", "inventory": "qbo_to_store"}
    return [{**made, "sync": sync}]


def _verifier(rig: QboRig) -> None:
    client = rig.runtime.boto3_client("secretsmanager")
    name = secret_name(rig.runtime.secret_prefix, SHOP, "webhook")
    value = json.loads(client.get_secret_value(SecretId=name)["SecretString"])
    client.put_secret_value(
        SecretId=name, SecretString=json.dumps({**value, "webhook_verifier": VERIFIER})
    )


def run(items: int) -> BothWaysFigures:
    with qbo_rig(_connections, clock=TickingClock()) as rig:
        _verifier(rig)
        url = f"{rig.runtime.base_url}/webhooks/qbo/{SHOP}"
        sender = rig.qbo.send_webhooks(url, VERIFIER)
        try:
            made = [
                rig.qbo.seed(
                    "Item",
                    {
                        "Name": f"Bench item {n}",
                        "Sku": f"BENCH-{n:04d}",
                        "Type": "Inventory",
                        "UnitPrice": "10.00",
                        "IncomeAccountRef": {"value": "1"},
                        "ExpenseAccountRef": {"value": "7"},
                        "AssetAccountRef": {"value": "6"},
                        "QtyOnHand": "100",
                        "InvStartDate": "2026-01-01",
                    },
                )
                for n in range(items)
            ]
            sender.flush()
            rig.drain(timeout_s=300)
            qbo_mark = len(rig.qbo.request_log)
            store_mark = len(rig.woo.requests)
            writes = rig.woo.catalog.writes
            started = time.perf_counter()
            for n, item in enumerate(made):
                rig.qbo.edit("Item", item["Id"], UnitPrice=f"{11 + n % 50}.25", QtyOnHand="80")
            sender.flush()
            rig.drain(timeout_s=300)
            seconds = time.perf_counter() - started
        finally:
            rig.qbo.stop_webhooks(sender)
        return BothWaysFigures(
            items=items,
            qbo_calls=len(rig.qbo.request_log) - qbo_mark,
            store_calls=len(rig.woo.requests) - store_mark,
            store_writes=rig.woo.catalog.writes - writes,
            seconds=seconds,
        )


def main() -> None:
    items = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    for line in run(items).lines():
        print(line)


if __name__ == "__main__":
    main()

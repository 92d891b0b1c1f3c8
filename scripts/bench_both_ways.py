"""QuickBooks → store (issue #13): QuickBooks, store and AWS calls per changed item, printed.

The local runtime with the simulated QuickBooks Online and WooCommerce: ``items`` inventory
items in a few QuickBooks categories are brought into the store once (products created, not
counted), then four passes are counted, each over the same items:

- by webhook: each item's price and stock change, one in ten moves to the next category; the
  signed webhooks go through ingest, the queue and the sync function;
- by webhook, saved unchanged: each item saved again as it is (a webhook each, nothing new);
- by the CDC poll: each item changed again (moves back), no webhook; the reconcile schedule's
  change feed queues them;
- by the CDC poll, nothing new: the next reconcile, whose overlap lists the same changes.

Counted where the calls arrive, never assumed: QuickBooks requests at the simulated company
(item reads, category reads, CDC, the rest), store requests at the simulated store (reads and
writes, products and categories), the store's own count of writes, and the AWS requests the
functions made (where boto3 sends them). The same for QuickBooks Desktop through the simulated
Web Connector: SOAP round trips, qbXML messages by request type, store and AWS requests.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "shared"), str(ROOT / "scripts")]

from bench_company import counting_aws_requests  # noqa: E402

from connector.ledgers.qbd.password import hash_password  # noqa: E402
from connector.resources import secret_name  # noqa: E402
from simulators.qbd import QbdCompany  # noqa: E402
from simulators.testbed.clocks import TickingClock  # noqa: E402
from simulators.testbed.deployment import Endpoints, Rig, deployment  # noqa: E402
from simulators.testbed.online import (  # noqa: E402
    STORE_KEYS,
    WEBHOOK_SECRET,
    QboRig,
    connection_settings,
    qbo_rig,
)
from simulators.woocommerce import WooSimulator  # noqa: E402

SHOP = "shop"
VERIFIER = "bench-verifier"
DESK, DESK_USER, DESK_PASSWORD = "desk", "bench-sync", "bench desktop password"
SYNC = {"products": "qbo_to_store", "prices": "qbo_to_store", "inventory": "qbo_to_store"}
ITEMS_PER_CATEGORY = 10
DRAIN_S = 600.0
_QBO_ITEM = re.compile(r"/v3/company/[^/]+/item/(?P<id>[^/]+)$")
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The reconcile that runs the poll also checks the store's orders and customers (its store →
# QuickBooks half): listed, not counted per item.
_NOT_ITEMS = frozenset({"order read", "customer read"})


@dataclass
class Pass:
    """One counted pass: what each side received while ``changed`` items went through."""

    name: str
    changed: int
    qbo: Counter[str] = field(default_factory=Counter)  # item, category, cdc, other
    store: Counter[str] = field(default_factory=Counter)  # "product read", "category write", ..
    store_writes: int = 0  # the simulated store's own count of successful writes
    aws: Counter[str] = field(default_factory=Counter)  # "service:Operation"
    qbxml: Counter[str] = field(default_factory=Counter)  # Desktop: requests by type
    round_trips: int = 0  # Desktop: SOAP calls of the Web Connector
    messages: int = 0  # Desktop: qbXML message sets handed to QuickBooks
    matching: int = 0  # items whose store product shows QuickBooks' price, stock and category
    seconds: float = 0.0

    def aws_of(self, service: str) -> int:
        return sum(n for key, n in self.aws.items() if key.startswith(f"{service}:"))

    def store_side(self, side: str) -> int:
        """Store reads or writes for the items: the reconcile's own reads left out."""
        return sum(
            n for key, n in self.store.items() if key.endswith(side) and key not in _NOT_ITEMS
        )

    def per(self, n: int) -> str:
        return f"{n / max(self.changed, 1):.2f}"


@dataclass(frozen=True)
class BothWaysFigures:
    items: int
    moves: int
    online: list[Pass]
    desktop: list[Pass]

    def lines(self) -> list[str]:
        out = [
            f"QuickBooks → store: {self.items} items' price and stock changed ({self.moves} moved "
            "to another category), QuickBooks Online → WooCommerce; calls per changed item, "
            "counted at the simulators:",
            f"  {'pass':<31}{'QBO item':>9}{'categ.':>7}{'CDC':>6}{'other':>6}"
            f"{'store rd':>9}{'wr':>6}{'AWS':>7}{'s':>6}",
        ]
        for p in self.online:
            out.append(
                f"  {p.name:<31}{p.per(p.qbo['item']):>9}{p.per(p.qbo['category']):>7}"
                f"{p.per(p.qbo['cdc']):>6}{p.per(p.qbo['other']):>6}"
                f"{p.per(p.store_side('read')):>9}{p.per(p.store_side('write')):>6}"
                f"{p.per(p.aws.total()):>7}{p.seconds:>6.1f}"
            )
        for p in self.online:
            out.append(f"    {p.name}: {_totals(p)}")
        if self.desktop:
            out.append(
                f"  QuickBooks Desktop → WooCommerce ({self.items} items' price and stock, "
                "through the simulated Web Connector), per changed item:"
            )
            for p in self.desktop:
                out.append(
                    f"    {p.name}: {p.per(p.round_trips)} SOAP round trips, "
                    f"{p.per(p.messages)} qbXML messages of {p.per(p.qbxml.total())} requests, "
                    f"{p.per(p.store_side('read'))} store reads and "
                    f"{p.per(p.store_side('write'))} writes, {p.per(p.aws.total())} AWS "
                    f"requests ({p.seconds:.1f} s); {_totals(p)}"
                )
        return out


def _totals(p: Pass) -> str:
    def listed(counts: Counter[str]) -> str:
        return ", ".join(f"{name} {n}" for name, n in sorted(counts.items()) if n) or "none"

    parts = [f"{p.changed} items, {p.matching} shown by the store as QuickBooks has them"]
    if p.qbo:
        parts.append(f"QuickBooks {listed(p.qbo)}")
    if p.qbxml:
        parts.append(f"qbXML {listed(p.qbxml)}")
    parts.append(f"store {listed(p.store)} (its write count {p.store_writes})")
    services = Counter({key.split(":", 1)[0]: p.aws_of(key.split(":", 1)[0]) for key in p.aws})
    busiest = ", ".join(f"{key} {n}" for key, n in p.aws.most_common(4))
    parts.append(f"AWS {listed(services)} (most: {busiest or 'none'})")
    return "; ".join(parts)


# -- counting --------------------------------------------------------------------------


def _qbo_kind(path: str, categories: set[str]) -> str:
    if path.endswith("/cdc"):
        return "cdc"
    found = _QBO_ITEM.search(path)
    if found is None:
        return "other"  # preferences, queries, tokens
    return "category" if found["id"] in categories else "item"


def _store_kind(method: str, path: str) -> str:
    """ "product read", "category write", "settings read", "order read" (the reconcile's own
    store → QuickBooks half), ... from a WooCommerce REST path."""
    rest = path.split("/wc/v3/", 1)[-1].strip("/")
    if rest.startswith("products/categories"):
        what = "category"
    elif rest.startswith("products"):
        what = "product"
    else:
        what = rest.split("/", 1)[0].removesuffix("s") or "other"
    return f"{what} {'write' if method in _WRITES else 'read'}"


@contextmanager
def _counted(rig: Rig, woo: WooSimulator, into: Pass, categories: set[str]) -> Iterator[None]:
    qbo_mark = len(rig.qbo.request_log) if rig.qbo is not None else 0
    store_mark = len(woo.requests)
    writes = woo.catalog.writes
    started = time.perf_counter()
    with counting_aws_requests() as use:
        yield
    into.seconds = time.perf_counter() - started
    into.aws = Counter(use.requests)
    if rig.qbo is not None:
        into.qbo = Counter(_qbo_kind(r.path, categories) for r in rig.qbo.request_log[qbo_mark:])
    into.store = Counter(_store_kind(r.method, r.path) for r in woo.requests[store_mark:])
    into.store_writes = woo.catalog.writes - writes


def _in_thread(work: Callable[[], object]) -> None:
    """Run ``work`` off the caller's thread: the AWS count takes the functions' threads only
    (the caller's own requests are the bench's), and a scheduled function runs in the
    caller's."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # raised again in the caller's thread
            failed.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]


Shown = tuple[Decimal, int, list[str]]  # price, stock, category names


def _matching(woo: WooSimulator, expected: dict[str, Shown], *, by: str) -> int:
    """How many of ``expected`` (by SKU or name) the store shows as QuickBooks has them."""
    products = {getattr(p, by): p.id for p in woo.products.values() if not p.deleted}
    found = 0
    for key, (price, stock, categories) in expected.items():
        if key not in products:
            continue
        shown = woo.catalog.render_product(products[key])
        names = [c["name"] for c in shown["categories"]]
        if (Decimal(shown["regular_price"]), shown["stock_quantity"], names) == (
            price,
            stock,
            categories,
        ):
            found += 1
    return found


# -- QuickBooks Online -----------------------------------------------------------------


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    made = connection_settings(
        SHOP, woo_url=woo_url, qbo_url=qbo_url, mapping={"fallback_item": "Sales"}
    )
    return [{**made, "sync": SYNC}]


def _verifier(rig: QboRig) -> None:
    client = rig.runtime.boto3_client("secretsmanager")
    name = secret_name(rig.runtime.secret_prefix, SHOP, "webhook")
    value = json.loads(client.get_secret_value(SecretId=name)["SecretString"])
    client.put_secret_value(
        SecretId=name, SecretString=json.dumps({**value, "webhook_verifier": VERIFIER})
    )


def _inventory(rig: QboRig, n: int, category: dict[str, Any]) -> dict[str, Any]:
    return rig.qbo.seed(
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
            "ParentRef": {"value": category["Id"]},
            "SubItem": True,
        },
    )


def _online_expected(rig: QboRig, made: list[dict[str, Any]]) -> dict[str, Shown]:
    expected: dict[str, Shown] = {}
    for item in made:
        doc = rig.qbo.company.read("Item", item["Id"])
        path = str(doc["FullyQualifiedName"]).split(":")[:-1]
        expected[str(doc["Sku"])] = (
            Decimal(str(doc["UnitPrice"])),
            int(Decimal(str(doc["QtyOnHand"]))),
            path[-1:],
        )
    return expected


def _poll(rig: QboRig) -> None:
    _in_thread(lambda: rig.runtime.fire_schedule("reconcile", detail={"poll": "now"}))
    rig.drain(timeout_s=DRAIN_S)


def online(items: int) -> tuple[int, list[Pass]]:
    """The four counted passes against QuickBooks Online; (category moves, passes)."""
    passes: list[Pass] = []
    with qbo_rig(_connections, clock=TickingClock()) as rig:
        _verifier(rig)
        woo = rig.woo
        url = f"{rig.runtime.base_url}/webhooks/qbo/{SHOP}"
        count = max(2, -(-items // ITEMS_PER_CATEGORY))
        sender = rig.qbo.send_webhooks(url, VERIFIER)
        try:
            ranges = [
                rig.qbo.seed("Item", {"Name": f"Bench range {n}", "Type": "Category"})
                for n in range(count)
            ]
            made = [
                _inventory(rig, n, ranges[n // ITEMS_PER_CATEGORY % count]) for n in range(items)
            ]
            sender.flush()
            rig.drain(timeout_s=DRAIN_S)
            _poll(rig)  # the change feed is followed from here
            categories = {r["Id"] for r in ranges}
            moved = [n for n in range(items) if n % ITEMS_PER_CATEGORY == 0]

            def change(round_: int, n: int) -> dict[str, Any]:
                fields: dict[str, Any] = {
                    "UnitPrice": f"{11 + round_ + n % 50}.25",
                    "QtyOnHand": str(80 - round_ * 10 + n % 7),
                }
                if n in moved:
                    home = n // ITEMS_PER_CATEGORY % count
                    # round 1 moves it to the next range, round 0 back home
                    fields["ParentRef"] = {"value": ranges[(home + round_) % count]["Id"]}
                return fields

            p = Pass("by webhook", items)
            with _counted(rig, woo, p, categories):
                for n, item in enumerate(made):
                    rig.qbo.edit("Item", item["Id"], **change(1, n))
                sender.flush()
                rig.drain(timeout_s=DRAIN_S)
            p.matching = _matching(woo, _online_expected(rig, made), by="sku")
            passes.append(p)

            p = Pass("by webhook, saved unchanged", items)
            with _counted(rig, woo, p, categories):
                for n, item in enumerate(made):
                    rig.qbo.edit("Item", item["Id"], **change(1, n))
                sender.flush()
                rig.drain(timeout_s=DRAIN_S)
            p.matching = _matching(woo, _online_expected(rig, made), by="sku")
            passes.append(p)
        finally:
            rig.qbo.stop_webhooks(sender)

        p = Pass("by the CDC poll", items)
        with _counted(rig, woo, p, categories):
            for n, item in enumerate(made):
                rig.qbo.edit("Item", item["Id"], **change(0, n))
            _poll(rig)
        p.matching = _matching(woo, _online_expected(rig, made), by="sku")
        passes.append(p)

        p = Pass("by the CDC poll, nothing new", items)
        with _counted(rig, woo, p, categories):
            _poll(rig)
        p.matching = _matching(woo, _online_expected(rig, made), by="sku")
        passes.append(p)
    return len(moved), passes


# -- QuickBooks Desktop ----------------------------------------------------------------


def _desk_connections(at: Endpoints) -> list[dict[str, Any]]:
    return [
        {
            "id": DESK,
            "store": {"kind": "woocommerce", "url": at.store},
            "ledger": {"kind": "qbd", "user_name": DESK_USER},
            "mapping": {"fallback_item": "Sales"},
            "sync": SYNC,
        }
    ]


def _session(rig: Rig, company: QbdCompany, into: Pass | None = None) -> None:
    with rig.web_connector(DESK, DESK_USER, DESK_PASSWORD, company, noop_pause_s=0) as wc:
        report = wc.run_session()
    if report.outcome != "done":
        raise RuntimeError(f"Web Connector session {report.outcome}: {report.last_errors}")
    rig.drain(timeout_s=DRAIN_S)
    if into is not None:
        into.round_trips = len(report.calls)
        into.messages = len(report.requests)


def _desktop_expected(company: QbdCompany, names: list[str]) -> dict[str, Shown]:
    expected: dict[str, Shown] = {}
    for full in names:
        item = company.item(full)
        if item is None or item.price is None or item.quantity_on_hand is None:
            raise RuntimeError(f"{full!r} left the company file")
        *ranges, name = full.split(":")
        expected[name] = (item.price, int(item.quantity_on_hand), ranges[-1:])
    return expected


def desktop(items: int) -> list[Pass]:
    """A Web Connector run with ``items`` items' price and stock changed, then one with
    nothing changed, against the simulated QuickBooks Desktop company file."""
    woo = WooSimulator(
        consumer_key=STORE_KEYS["consumer_key"],
        consumer_secret=STORE_KEYS["consumer_secret"],
        clock=TickingClock(),
        seed=3,
    )
    secrets = {
        DESK: {
            "store": {**STORE_KEYS, "webhook_secret": WEBHOOK_SECRET},
            "ledger": {"password_hash": hash_password(DESK_PASSWORD)},
        }
    }
    company = QbdCompany()
    count = max(2, -(-items // ITEMS_PER_CATEGORY))
    names = []
    for r in range(count):
        company.add_item("ItemInventory", f"Bench range {r}", price="0", quantity_on_hand=0)
    for n in range(items):
        parent = f"Bench range {n // ITEMS_PER_CATEGORY % count}"
        company.add_item(
            "ItemInventory", f"Bench item {n}", parent=parent, price="10.00",
            quantity_on_hand=100,
        )  # fmt: skip
        names.append(f"{parent}:Bench item {n}")
    passes: list[Pass] = []
    with deployment("benchdesk", _desk_connections, secrets, store=woo) as rig:
        _session(rig, company)  # first run: every item, products made (not counted)
        for name, edit in (("a run after changes", True), ("a run, nothing new", False)):
            if edit:
                for n, full in enumerate(names):
                    company.edit_item(full, price=f"{11 + n % 50}.25", quantity_on_hand=80 + n % 7)
            p = Pass(name, items)
            processed = Counter(company.requests_processed)
            with _counted(rig, woo, p, set()):
                _in_thread(partial(_session, rig, company, p))
            p.qbxml = Counter(company.requests_processed) - processed
            p.matching = _matching(woo, _desktop_expected(company, names), by="name")
            passes.append(p)
    return passes


def run(items: int = 50, *, with_desktop: bool = True) -> BothWaysFigures:
    moves, passes = online(items)
    return BothWaysFigures(
        items=items, moves=moves, online=passes, desktop=desktop(items) if with_desktop else []
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="QuickBooks → store calls per changed item.")
    parser.add_argument("--items", type=int, default=50, help="items changed in QuickBooks")
    parser.add_argument("--no-desktop", action="store_true", help="QuickBooks Online only")
    args = parser.parse_args()
    import bench  # scripts/bench.py, which imports this module: its log silencing

    bench._quiet()
    for line in run(args.items, with_desktop=not args.no_desktop).lines():
        print(line)


if __name__ == "__main__":
    main()

"""`make bench`: figures for the ingest path, the QuickBooks Online sync and the Desktop drain,
printed, never asserted.

- ingest handler: cold-start import time (fresh interpreter) and warm latency p50/p99
- QuickBooks calls per paid order once the customer and items are known (targets: an invoice and
  its payment, two writes and no reads; a sales receipt, one write)
- orders per minute through the local runtime against the simulated QuickBooks at its real limits
- per store (WooCommerce, BigCommerce, Magento), the same order stream: store API calls per order
  and the ingest's answer time per push (p50/p95) as the store sees it
- QuickBooks → store (scripts/bench_both_ways.py): QuickBooks, store and AWS calls per item
  whose price, stock or category changed in QuickBooks Online (by webhook, by the CDC poll, and
  again with nothing new) and in QuickBooks Desktop (through the Web Connector)
- QuickBooks Desktop: SOAP round trips, qbXML messages and handler time per call (by method)
  to drain 1,000 queued orders (targets: at most 50 round trips, each call well under 1 s)
- per QuickBooks Online company (scripts/bench_company.py): a backlog of orders with known
  customer and items drained at the real limits and at limits scaled down tenfold, as orders a
  minute over whole minutes and a share of the ceiling for those limits, 429s per 1,000 orders,
  calls per order, records parked; batching off and on
- ingest answer time (p50/p99) while a backlog drains, queue worker in the runtime's process
  and in a process of its own
- per-handler cold import as a ratio to the bare `import boto3, aws_lambda_powertools`
  (scripts/bench_imports.py), in this venv and as deployed (Python 3.13, the assets' layout,
  with and without the bytecode they ship)
- AWS cost per 1,000 orders from the invocations, durations and AWS requests measured

Quick by default (a few minutes); ``--full`` for the 1,000-order runs.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import logging
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "shared"), str(ROOT / "scripts")]

import bench_both_ways as both_ways  # noqa: E402
import bench_company as company  # noqa: E402

from connector.local.context import new_context  # noqa: E402
from connector.observability import logger, metrics  # noqa: E402
from connector.resources import INGEST  # noqa: E402
from simulators.qbo import QboSimulator  # noqa: E402
from simulators.shops import BigCommerceDriver, MagentoDriver, WooCommerceDriver  # noqa: E402
from simulators.shops.driver import StoreDriver  # noqa: E402
from simulators.shops.online import (  # noqa: E402
    CONNECTION,
    QBO_APP,
    WEBHOOK_SECRET,
    OnlineDay,
    connection_settings,
)
from simulators.shops.woocommerce import KEYS as STORE_KEYS  # noqa: E402
from simulators.testbed.deployment import ONE_STORE, Endpoints, deployment  # noqa: E402
from simulators.woocommerce import LineSpec, OrderSpec, WooSimulator  # noqa: E402


def _quiet() -> None:
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    logger.setLevel(logging.CRITICAL)
    for name in ("werkzeug", "aws_lambda_powertools", "connector"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _ingest_event(body: bytes) -> dict[str, Any]:
    signature = base64.b64encode(
        hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).digest()
    ).decode()
    return {
        "resource": "/webhooks/{connection_id}",
        "path": f"/webhooks/{CONNECTION}",
        "httpMethod": "POST",
        "headers": {
            "Content-Type": "application/json",
            "X-WC-Webhook-Topic": "order.updated",
            "X-WC-Webhook-Signature": signature,
        },
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"connection_id": CONNECTION},
        "requestContext": {"requestId": "bench", "stage": "local", "path": "/webhooks"},
        "body": body.decode(),
        "isBase64Encoded": False,
    }


def bench_ingest(samples: int) -> None:
    secrets = {CONNECTION: {"store": {**STORE_KEYS, "webhook_secret": WEBHOOK_SECRET}}}
    with deployment(
        "bench",
        lambda _: [
            connection_settings(
                WooCommerceDriver(),
                Endpoints(qbo="https://qbo.example", stores={ONE_STORE: "https://shop.example"}),
            )
        ],
        secrets,
        functions=(INGEST,),
        connect=(),
        poll_interval_s=0.2,
    ) as rig:
        runtime = rig.runtime
        code = (
            "import time; t = time.perf_counter(); import functions.ingest.handler; "
            "print(time.perf_counter() - t)"
        )
        env = {**os.environ, **runtime.env, "PYTHONPATH": f"{ROOT}:{ROOT / 'shared'}"}
        colds = [
            float(
                subprocess.run(
                    [sys.executable, "-c", code],
                    env=env,
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
            )
            for _ in range(3)
        ]
        from functions.ingest import handler

        timings: list[float] = []
        for n in range(samples):
            body = json.dumps(
                {"id": 1000 + n, "status": "processing", "date_modified_gmt": "2026-11-24T09:00:00"}
            ).encode()
            event = _ingest_event(body)
            started = time.perf_counter()
            context = new_context(
                tenant="bench", spec=INGEST, region="us-east-1", account_id=runtime.account_id
            )
            answer = handler.lambda_handler(event, context)
            timings.append(time.perf_counter() - started)
            metrics.clear_metrics()  # disabled for the run; nothing to publish
            if answer["statusCode"] != 200:
                raise RuntimeError(f"ingest answered {answer['statusCode']}: {answer['body']}")
    print("ingest handler (in-process, against moto's server on loopback)")
    print(f"  cold-start import        {statistics.median(colds) * 1000:8.1f} ms (median of 3)")
    print(
        f"  warm latency p50         {_percentile(timings, 50) * 1000:8.1f} ms ({samples} requests)"
    )
    print(f"  warm latency p99         {_percentile(timings, 99) * 1000:8.1f} ms")


def _calls_per_order(document: str, orders: int) -> list[Any]:
    """QuickBooks' request log for ``orders`` paid orders of a known customer and known items."""
    driver = WooCommerceDriver(seed=3)
    woo = driver.sim
    qbo = QboSimulator(client_id=QBO_APP["client_id"], client_secret=QBO_APP["client_secret"])
    secrets = {
        CONNECTION: {
            "store": {**STORE_KEYS, "webhook_secret": WEBHOOK_SECRET},
            "ledger": dict(QBO_APP),
        }
    }
    with deployment(
        "bench",
        lambda at: [connection_settings(driver, at, document=document)],
        secrets,
        store=woo,
        qbo=qbo,
        poll_interval_s=0.2,
    ) as rig:
        sender = rig.woo_sender(CONNECTION, WEBHOOK_SECRET)
        customer = woo.customer_ids()[0]
        # Paid by card (status processing): an invoice and its payment, or a sales receipt.
        spec = OrderSpec(
            lines=[LineSpec(10, 2)],
            customer_id=customer,
            shipping="flat_rate",
            payment_method=("stripe", "Credit Card (Stripe)"),
        )
        sender.deliver("order.created", woo.create_order(spec)["id"])  # learns customer, items
        rig.runtime.drain(timeout_s=60)
        before = len(qbo.request_log)
        for _ in range(orders):
            sender.deliver("order.created", woo.create_order(spec)["id"])
        rig.runtime.drain(timeout_s=120)
        log = qbo.request_log[before:]
        sender.close()
    return log


def bench_calls_per_order(orders: int) -> None:
    print("QuickBooks calls per paid order, customer and items already known")
    targets = {"invoice": "two writes, no reads", "sales_receipt": "one write, no reads"}
    for document, target in targets.items():
        log = _calls_per_order(document, orders)
        accepted = [entry for entry in log if entry.status < 400]
        writes = sum(1 for entry in accepted if entry.method == "POST")
        refused = len(log) - len(accepted)
        print(
            f"  {document:<14} requests per order {len(accepted) / orders:6.2f} "
            f"({writes / orders:.2f} writes, {(len(accepted) - writes) / orders:.2f} reads; "
            f"{orders} orders; target {target})"
        )
        print(
            f"  {'':<14} throttled and resent {refused / orders:4.2f} per order "
            "(QuickBooks' 10/s limit)"
        )


def bench_throughput(orders: int) -> None:
    report = OnlineDay(WooCommerceDriver(seed=5), orders=orders, seed=5, faults=False).run()
    per_minute = report.orders / report.elapsed_s * 60
    print("orders through the local runtime into simulated QuickBooks (500/min, 10/s limits)")
    print(
        f"  orders per minute        {per_minute:8.0f} ({report.orders} orders in "
        f"{report.elapsed_s:.1f} s, end to end incl. start-up; all correct: {report.ok})"
    )


def bench_stores(orders: int) -> None:
    """The same seeded order stream through each store, QuickBooks faults off: how often the
    connector calls the store per order, and how fast the ingest answers each push."""
    print(
        f"one order stream through each store ({orders} orders; pushes repeated and late; "
        "Magento: 40 % found only by polling)"
    )
    stores: list[tuple[StoreDriver, float]] = [
        (WooCommerceDriver(), 0.0),
        (BigCommerceDriver(), 0.0),
        (MagentoDriver(), 0.4),
    ]
    for driver, silent in stores:
        report = OnlineDay(driver, orders=orders, seed=5, faults=False, silent_share=silent).run()
        pushes = report.pushes
        print(
            f"  {report.store:<12} store API calls per order {pushes.calls_per_order:5.1f} "
            f"({pushes.store_calls} calls, {pushes.polls} polls); ingest answer p50 "
            f"{pushes.ingest_ms(50):5.1f} ms, p95 {pushes.ingest_ms(95):5.1f} ms "
            f"({pushes.sent} pushes); all correct: {report.ok}"
        )


def bench_desktop(orders: int) -> None:
    """Drain ``orders`` queued Desktop orders with the simulated Web Connector."""
    from connector.config import TenantConfig
    from connector.ledgers.qbd.password import hash_password
    from connector.resources import QBWC
    from connector.stores.woocommerce import normalise_order
    from simulators.qbd import QbdCompany
    from simulators.qbwc import SessionReport
    from simulators.shops import desktop

    settings = desktop.connection_settings(
        WooCommerceDriver(), Endpoints(stores={ONE_STORE: "https://shop.example"})
    )
    config = TenantConfig.model_validate({"tenant": "bench", "connections": [settings]})
    connection = config.connections[0]
    woo = WooSimulator(consumer_key="ck", consumer_secret="cs", seed=9)
    secrets = {
        desktop.CONNECTION: {"ledger": {"password_hash": hash_password(desktop.QBWC_PASSWORD)}}
    }
    with deployment(
        "bench", lambda _: config.connections, secrets, functions=(QBWC,), poll_interval_s=0.2
    ) as rig:
        for _ in range(orders):  # what the sync worker does for each order
            rig.queue_order(connection.id, normalise_order(woo.create_order(), connection.id))
        calls: list[float] = []
        by_method: dict[str, list[float]] = {}

        def timed(response: httpx.Response) -> None:
            response.read()
            calls.append(response.elapsed.total_seconds())
            method = response.request.headers.get("SOAPAction", "").strip('"').rsplit("/", 1)[-1]
            by_method.setdefault(method, []).append(response.elapsed.total_seconds())

        client = httpx.Client(timeout=100, event_hooks={"response": [timed]})
        company = QbdCompany(seed=9)
        started = time.perf_counter()
        sessions: list[SessionReport] = []
        with rig.web_connector(
            connection.id, desktop.QBWC_USER, desktop.QBWC_PASSWORD, company,
            noop_pause_s=0.05, client=client,
        ) as connector:  # fmt: skip
            while not sessions or sessions[-1].outcome != "none":
                sessions.append(connector.run_session())
        drained = time.perf_counter() - started
    transactions = len(company.transactions())
    per_message = connection.qbd.max_requests_per_message
    print(f"QuickBooks Desktop: drain {orders} queued orders ({per_message} requests per message)")
    draining = [s for s in sessions if s.outcome != "none"]
    checking = sum(s.round_trips for s in sessions) - sum(s.round_trips for s in draining)
    print(
        f"  SOAP round trips         {sum(s.round_trips for s in draining):8d} "
        f"in {len(draining)} session(s) ({transactions} transactions in the company), "
        f"+{checking} for the next run, which finds nothing"
    )
    print(f"  qbXML messages           {sum(len(s.requests) for s in sessions):8d}")
    print(f"  handler call p50         {_percentile(calls, 50) * 1000:8.1f} ms")
    print(
        f"  handler call p99 / max   {_percentile(calls, 99) * 1000:8.1f} ms / "
        f"{max(calls) * 1000:.1f} ms (through the local gateway, against moto)"
    )
    for method, samples in sorted(by_method.items()):
        print(
            f"    {method:22s} {len(samples):4d} calls, p50 {_percentile(samples, 50) * 1000:7.1f} ms, "
            f"max {max(samples) * 1000:7.1f} ms"
        )
    print(f"  drain time               {drained:8.1f} s")


# What the handlers in worker processes are told, so their logs and warnings stay out of the
# figures (the runtime's own process is quietened by _quiet).
QUIET_ENV = {
    "POWERTOOLS_LOG_LEVEL": "CRITICAL",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "PYTHONWARNINGS": "ignore",
}
# The limiter's settings (connector.settings): the connector is told the limits QuickBooks has.
ENV_REQUESTS_PER_MINUTE = "CONNECTOR_QBO_REQUESTS_PER_MINUTE"
ENV_BATCHES_PER_MINUTE = "CONNECTOR_QBO_BATCHES_PER_MINUTE"
# Batching (connector.ledgers.qbo.batching): on from this many records of a company; the
# "off" runs say 0, since batching is on by default (from 10).
ENV_BATCH_FROM = "CONNECTOR_QBO_BATCH_FROM"
BATCH_FROM = "4"


def company_env(limits: company.Limits, batch: bool) -> dict[str, str]:
    env = {
        **QUIET_ENV,
        ENV_REQUESTS_PER_MINUTE: str(limits.per_minute),
        ENV_BATCHES_PER_MINUTE: str(limits.batch_per_minute),
    }
    env[ENV_BATCH_FROM] = BATCH_FROM if batch else "0"
    return env


def bench_company(runs: list[tuple[company.Limits, bool, int]]) -> None:
    print(
        "one QuickBooks Online company draining a backlog (sales receipts, customer and item "
        "known; worker and moto in processes of their own)"
    )
    for limits, batch, orders in runs:
        result = company.drain_backlog(
            orders, limits, worker_processes=True, extra_env=company_env(limits, batch)
        )
        counted = (
            f"over {result.whole_minutes} whole minute(s)"
            if result.whole_minutes
            else f"over {result.elapsed_s:.0f} s, under one whole minute"
        )
        print(
            f"  {limits.per_minute}/min, {limits.batch_per_minute} batches/min, batching "
            f"{'on ' if batch else 'off'}: {result.per_minute:6.1f} orders/min {counted}; "
            f"{result.share_of_ceiling:.2f} of the ceiling {limits.ceiling}/min "
            f"(single requests only: {result.per_minute / limits.per_minute:.2f} of "
            f"{limits.per_minute})"
        )
        print(
            f"  {'':<4}{orders} orders, {result.documents} documents; "
            f"429s per 1,000 orders {result.throttled_per_1000_orders:6.1f} "
            f"({result.throttled_share:.1%} of calls); calls per order "
            f"{result.calls_per_order:.2f}; parked {result.parked}; drained: {result.drained}"
        )


def bench_ingest_under_backlog(backlog: int, probes: int, modes: tuple[bool, ...]) -> None:
    print(f"ingest answer time while a backlog of {backlog} orders drains ({probes} pushes)")
    for processes in modes:
        result = company.ingest_under_backlog(
            backlog, probes, worker_processes=processes, extra_env=QUIET_ENV
        )
        where = "worker and moto in processes of their own" if processes else "one process"
        print(
            f"  {where:<42} p50 {result.percentile(50):6.1f} ms, p99 "
            f"{result.percentile(99):6.1f} ms (answers {dict(result.statuses)}; "
            f"{result.posted_meanwhile} backlog orders posted meanwhile)"
        )


def bench_imports(rounds: int) -> None:
    from bench_imports import measure_deployed, measure_imports, print_deployed

    from scripts.build_assets import bytecode_python  # on the path once bench_imports is

    rows = measure_imports(rounds, tracing=(False,))
    print(
        f"cold import, whole process, as a ratio to `import boto3, aws_lambda_powertools` "
        f"(CPU time, median of {rounds}; tracing off; target <= 1.5x)"
    )
    for row in rows:
        libraries = (
            ""
            if row.libraries_ratio is None
            else f" (its libraries alone {row.libraries_ratio:.2f}x)"
        )
        print(
            f"  {row.name:<12} {row.wall_s * 1000:7.1f} ms wall {row.cpu_s * 1000:7.1f} ms CPU "
            f"{row.ratio:5.2f}x bare{libraries}"
        )
    # What Lambda loads (decision 77): needs a CPython 3.13, and the first run installs the
    # layer's packages for this machine from the package index.
    if bytecode_python() is None:
        print("cold import as deployed: not measured (no CPython 3.13 on this machine)")
        return
    try:
        print_deployed(measure_deployed(rounds), rounds)
    except subprocess.CalledProcessError as exc:
        print(f"cold import as deployed: not measured (installing the layer failed: {exc})")


def bench_cost(orders: int) -> None:
    cost = company.cost_per_1000(orders)
    print(f"AWS cost per 1,000 orders (measured on {orders} orders pushed and posted)")
    for service, dollars in cost.dollars().items():
        print(f"  {service:<16} ${dollars:.4f}")
    print(f"  {'total':<16} ${cost.total:.4f}")
    invocations = ", ".join(f"{n} {name}" for name, n in sorted(cost.invocations.items()))
    print(
        f"  measured: {invocations} invocations, {cost.gb_seconds:.1f} GB-s (durations here, "
        f"against moto); DynamoDB {cost.use.read_units} read and {cost.use.write_units} write "
        f"units; {cost.use.count('sqs')} SQS and {cost.use.count('secretsmanager')} Secrets "
        "Manager requests"
    )
    busiest = ", ".join(f"{name} {n}" for name, n in cost.use.requests.most_common(6))
    print(f"  most made: {busiest}")
    print(f"  prices: {company.PRICES}")


def bench_both_ways(items: int) -> None:
    """QuickBooks → store (issue #13): QuickBooks, store and AWS calls per changed item,
    Online (webhook and CDC poll) and Desktop (scripts/bench_both_ways.py)."""
    for line in both_ways.run(items).lines():
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="the 1,000-order runs (long)")
    parser.add_argument("--samples", type=int, help="ingest requests to time")
    parser.add_argument("--orders", type=int, help="orders for the throughput run")
    parser.add_argument("--desktop-orders", type=int, help="queued Desktop orders")
    parser.add_argument("--store-orders", type=int, help="orders per store")
    parser.add_argument("--items", type=int, help="items changed in QuickBooks (default 50)")
    parser.add_argument(
        "--backlog", type=int, help="orders per company backlog (default 1000 full, 60 quick)"
    )
    parser.add_argument(
        "--batch",
        choices=("off", "on", "both"),
        default="both",
        help="the connector's batching in the per-company runs",
    )
    parser.add_argument(
        "--limits",
        choices=("real", "tenfold", "both"),
        default="both",
        help="QuickBooks' limits in the per-company runs: 500/40 a minute, or 50/4",
    )
    args = parser.parse_args()
    full = bool(args.full)
    _quiet()
    print(
        f"make bench{' --full' if full else ''} on {os.cpu_count()} cores, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    bench_ingest(args.samples or (300 if full else 100))
    bench_calls_per_order(20)
    bench_throughput(args.orders or (100 if full else 40))
    bench_stores(args.store_orders or (100 if full else 30))
    bench_both_ways(args.items or 50)
    bench_desktop(args.desktop_orders or (1000 if full else 200))
    backlog = args.backlog or (1000 if full else 60)
    limits = {
        "real": [company.REAL_LIMITS],
        "tenfold": [company.TENFOLD_DOWN],
        "both": [company.TENFOLD_DOWN, company.REAL_LIMITS],
    }[args.limits]
    batching = {"off": [False], "on": [True], "both": [False, True]}[args.batch]
    bench_company([(lim, batch, backlog) for lim in limits for batch in batching])
    bench_ingest_under_backlog(
        1000 if full else 200, 100 if full else 40, (False, True) if full else (True,)
    )
    bench_imports(7 if full else 3)
    bench_cost(200 if full else 30)


if __name__ == "__main__":
    main()

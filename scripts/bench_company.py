"""Throughput per QuickBooks company, ingest under a backlog, and AWS cost per 1,000 orders.

Used by ``scripts/bench.py`` (``make bench``); every function prints nothing and returns its
figures, so a test can run it small. A backlog is a number of paid orders of one known
customer and one known item (sales receipts: one document per order) put on the sync queue
the way ingest puts them, drained by the local runtime against the simulated QuickBooks
Online at the limits given.
"""

from __future__ import annotations

import inspect
import json
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import botocore.client

from connector.messages import SyncMessage
from simulators.httpserver import Request, Response
from simulators.qbo import QboSimulator
from simulators.shops import WooCommerceDriver
from simulators.shops.online import CONNECTION, QBO_APP, WEBHOOK_SECRET, connection_settings
from simulators.shops.woocommerce import KEYS as STORE_KEYS
from simulators.testbed.deployment import Rig, deployment
from simulators.woocommerce import LineSpec, OrderSpec

DOCUMENTS_PER_BATCH = 30  # QuickBooks' most operations in one batch request
DOCUMENT_PATH = "/salesreceipt"  # the document each backlog order becomes
DOCUMENT_ENTITY = "SalesReceipt"


@dataclass(frozen=True)
class Limits:
    """A QuickBooks Online company's limits: requests a minute, of which batch requests."""

    per_minute: int = 500
    batch_per_minute: int = 40

    @property
    def ceiling(self) -> int:
        """Documents a minute when every batch request carries 30: (limit - batch limit)
        single requests plus batch limit x 30 documents."""
        return (self.per_minute - self.batch_per_minute) + self.batch_per_minute * (
            DOCUMENTS_PER_BATCH
        )

    def scaled(self, divisor: int) -> Limits:
        return Limits(self.per_minute // divisor, self.batch_per_minute // divisor)


REAL_LIMITS = Limits()
TENFOLD_DOWN = Limits(50, 4)


@dataclass(frozen=True)
class Stamp:
    at: float  # time.monotonic()
    method: str
    path: str
    status: int


class StampedQbo(QboSimulator):
    """The simulated QuickBooks Online, noting when it answered each API request and when it
    created each document, alone or in a batch request."""

    def __init__(self, limits: Limits, **kwargs: Any) -> None:
        settings: dict[str, Any] = {"per_minute_limit": limits.per_minute}
        # The batch limit exists once the simulator serves POST /batch.
        if "batch_per_minute_limit" in inspect.signature(QboSimulator.__init__).parameters:
            settings["batch_per_minute_limit"] = limits.batch_per_minute
        super().__init__(**settings, **kwargs)
        self.stamps: list[Stamp] = []
        self.created: list[float] = []  # time.monotonic() of each document created
        self._stamps_lock = threading.Lock()

    def handle(self, request: Request) -> Response:
        response = super().handle(request)
        if not request.path.startswith("/v3/company/"):
            return response
        now = time.monotonic()
        documents = 0
        if request.method == "POST" and response.status == 200:
            if request.path.endswith(DOCUMENT_PATH):
                documents = 1
            elif request.path.endswith("/batch"):
                items = json.loads(response.body).get("BatchItemResponse", [])
                documents = sum(1 for item in items if DOCUMENT_ENTITY in item)
        with self._stamps_lock:
            self.stamps.append(Stamp(now, request.method, request.path, response.status))
            self.created.extend([now] * documents)
        return response


@dataclass(frozen=True)
class Drained:
    """What draining a backlog of ``orders`` looked like from QuickBooks' side."""

    limits: Limits
    orders: int
    documents: int  # documents QuickBooks created for the backlog
    elapsed_s: float  # from queueing the backlog until the last document was created
    whole_minutes: int
    documents_in_whole_minutes: int
    requests: int  # API requests QuickBooks accepted
    throttled: int  # answered 429
    parked: int  # records on the dead-letter queue afterwards
    drained: bool

    @property
    def per_minute(self) -> float:
        """Documents a minute, counted over whole minutes (over the run when under one)."""
        if self.whole_minutes:
            return self.documents_in_whole_minutes / self.whole_minutes
        return self.documents / self.elapsed_s * 60 if self.elapsed_s else 0.0

    @property
    def share_of_ceiling(self) -> float:
        return self.per_minute / self.limits.ceiling

    @property
    def throttled_per_1000_orders(self) -> float:
        return self.throttled / self.orders * 1000

    @property
    def throttled_share(self) -> float:
        return self.throttled / max(1, self.requests + self.throttled)

    @property
    def calls_per_order(self) -> float:
        return self.requests / self.orders


def _settings(driver: WooCommerceDriver, at: Any) -> list[dict[str, Any]]:
    return [connection_settings(driver, at, document="sales_receipt")]


def _secrets() -> dict[str, Any]:
    return {
        CONNECTION: {
            "store": {**STORE_KEYS, "webhook_secret": WEBHOOK_SECRET},
            "ledger": dict(QBO_APP),
        }
    }


PAID_BY_CARD = ("stripe", "Credit Card (Stripe)")


@contextmanager
def _known_company(
    qbo: QboSimulator, *, worker_processes: bool, extra_env: Mapping[str, str] | None = None
) -> Iterator[tuple[Rig, OrderSpec]]:
    """A deployment whose QuickBooks already knows the customer and item of ``spec``."""
    driver = WooCommerceDriver(seed=3)
    woo = driver.sim
    with deployment(
        "bench",
        lambda at: _settings(driver, at),
        _secrets(),
        store=woo,
        qbo=qbo,
        poll_interval_s=0.2,
        worker_processes=worker_processes,
        extra_env=extra_env,
    ) as rig:
        spec = OrderSpec(
            lines=[LineSpec(10, 2)], customer_id=woo.customer_ids()[0], payment_method=PAID_BY_CARD
        )
        sender = rig.woo_sender(CONNECTION, WEBHOOK_SECRET)
        try:
            sender.deliver("order.created", woo.create_order(spec)["id"])
        finally:
            sender.close()
        if not rig.runtime.drain(timeout_s=120):
            raise RuntimeError("the first order (customer and item) did not drain")
        yield rig, spec


def queue_backlog(rig: Rig, spec: OrderSpec, orders: int) -> None:
    """Places ``orders`` orders in the store and queues each as ingest would."""
    queue = rig.sync_queue()
    for _ in range(orders):
        order = rig.store.create_order(spec)
        message = SyncMessage(
            connection_id=CONNECTION,
            entity="order",
            record_id=str(order["id"]),
            topic="order.created",
            version=f"{order['date_modified_gmt']}#{order['id']}",
            received_at=datetime.now(UTC),
        )
        queue.send(message, version=message.version or "")


def drain_backlog(
    orders: int,
    limits: Limits,
    *,
    worker_processes: bool = True,
    extra_env: Mapping[str, str] | None = None,
    timeout_s: float = 3600,
) -> Drained:
    """Queues ``orders`` orders for one company at ``limits`` and waits for them to post."""
    qbo = StampedQbo(limits, client_id=QBO_APP["client_id"], client_secret=QBO_APP["client_secret"])
    with _known_company(qbo, worker_processes=worker_processes, extra_env=extra_env) as (
        rig,
        spec,
    ):
        mark, created_mark = len(qbo.stamps), len(qbo.created)
        started = time.monotonic()
        queue_backlog(rig, spec, orders)
        drained = rig.runtime.drain(timeout_s=timeout_s)
        parked = len(rig.dead_letters())
    stamps = [s for s in qbo.stamps[mark:] if s.at >= started]
    created = sorted(qbo.created[created_mark:])
    elapsed = (created[-1] - started) if created else time.monotonic() - started
    minutes = int(elapsed // 60)
    in_minutes = sum(1 for at in created if at < started + minutes * 60)
    return Drained(
        limits=limits,
        orders=orders,
        documents=len(created),
        elapsed_s=elapsed,
        whole_minutes=minutes,
        documents_in_whole_minutes=in_minutes,
        requests=sum(1 for s in stamps if s.status < 400),
        throttled=sum(1 for s in stamps if s.status == 429),
        parked=parked,
        drained=drained,
    )


@dataclass(frozen=True)
class IngestUnderBacklog:
    worker_processes: bool
    backlog: int
    answers_ms: list[float]
    statuses: Counter[int]
    posted_meanwhile: int  # backlog documents QuickBooks created while the probes ran

    def percentile(self, pct: float) -> float:
        ordered = sorted(self.answers_ms)
        return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]

    @property
    def median(self) -> float:
        return statistics.median(self.answers_ms)


def ingest_under_backlog(
    backlog: int,
    probes: int,
    *,
    worker_processes: bool,
    interval_s: float = 0.1,
    extra_env: Mapping[str, str] | None = None,
) -> IngestUnderBacklog:
    """How fast ingest answers the store's pushes while a backlog drains: ``probes`` webhook
    deliveries of new orders, ``interval_s`` apart, timed as the store sees them."""
    qbo = StampedQbo(
        REAL_LIMITS, client_id=QBO_APP["client_id"], client_secret=QBO_APP["client_secret"]
    )
    with _known_company(qbo, worker_processes=worker_processes, extra_env=extra_env) as (
        rig,
        spec,
    ):
        queue_backlog(rig, spec, backlog)
        mark = len(qbo.created)
        sender = rig.woo_sender(CONNECTION, WEBHOOK_SECRET)
        answers: list[float] = []
        statuses: Counter[int] = Counter()
        try:
            for _ in range(probes):
                order_id = rig.store.create_order(spec)["id"]
                sent = time.perf_counter()
                statuses[sender.deliver("order.created", order_id)] += 1
                answers.append((time.perf_counter() - sent) * 1000)
                time.sleep(interval_s)
        finally:
            sender.close()
        posted = len(qbo.created) - mark
    return IngestUnderBacklog(worker_processes, backlog, answers, statuses, posted)


# --- AWS cost -------------------------------------------------------------------------------

PRICES_DATE = "2026-12-03"
PRICES_REGION = "us-east-1"
LAMBDA_PER_REQUEST = Decimal("0.20") / 1_000_000
LAMBDA_PER_GB_SECOND = Decimal("0.0000133334")  # arm64, as the stack deploys
DYNAMODB_PER_WRITE_UNIT = Decimal("0.625") / 1_000_000  # on-demand
DYNAMODB_PER_READ_UNIT = Decimal("0.125") / 1_000_000
SQS_FIFO_PER_REQUEST = Decimal("0.50") / 1_000_000
API_GATEWAY_REST_PER_REQUEST = Decimal("3.50") / 1_000_000
SECRETS_MANAGER_PER_CALL = Decimal("0.05") / 10_000
PRICES = (
    f"{PRICES_REGION} list prices as of {PRICES_DATE}: Lambda $0.20 per million requests and "
    "$0.0000133334 per GB-second (arm64); DynamoDB on-demand $0.625 per million write and "
    "$0.125 per million read request units; SQS FIFO $0.50 per million requests; API Gateway "
    "REST $3.50 per million requests; Secrets Manager $0.05 per 10,000 calls. Free tiers, "
    "storage and CloudWatch logs left out."
)

_WRITES = {"PutItem": 1, "UpdateItem": 1, "DeleteItem": 1}
_READS = {"GetItem": 1, "Query": 1, "Scan": 1}


def _units(operation: str, params: Mapping[str, Any]) -> tuple[Decimal, Decimal]:
    """(read units, write units) of one DynamoDB request, items taken as under 1 KB written
    and 4 KB read; eventually consistent reads cost half, transactions twice."""
    consistent = Decimal(1) if params.get("ConsistentRead") else Decimal("0.5")
    if operation in _WRITES:
        return Decimal(0), Decimal(1)
    if operation in _READS:
        return consistent, Decimal(0)
    if operation == "BatchWriteItem":
        return Decimal(0), Decimal(sum(len(v) for v in params.get("RequestItems", {}).values()))
    if operation == "BatchGetItem":
        keys = sum(len(v.get("Keys", [])) for v in params.get("RequestItems", {}).values())
        return consistent * keys, Decimal(0)
    if operation == "TransactWriteItems":
        return Decimal(0), Decimal(2 * len(params.get("TransactItems", [])))
    if operation == "TransactGetItems":
        return Decimal(2 * len(params.get("TransactItems", []))), Decimal(0)
    return Decimal(0), Decimal(0)


@dataclass
class AwsUse:
    """AWS requests the functions made, counted where boto3 sends them."""

    requests: Counter[str] = field(default_factory=Counter)  # "service:Operation"
    read_units: Decimal = Decimal(0)
    write_units: Decimal = Decimal(0)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, service: str, operation: str, params: Mapping[str, Any], result: Any) -> None:
        if service == "sqs" and operation == "GetQueueAttributes":
            return  # the local runtime's own bookkeeping, not the functions'
        if service == "sqs" and operation == "ReceiveMessage" and not result.get("Messages"):
            return  # Lambda's poller bills these too, but how many depends on idle time
        with self.lock:
            self.requests[f"{service}:{operation}"] += 1
            if service == "dynamodb":
                reads, writes = _units(operation, params)
                self.read_units += reads
                self.write_units += writes

    def count(self, service: str) -> int:
        return sum(n for key, n in self.requests.items() if key.startswith(f"{service}:"))


# Where every boto3 client sends a request (botocore's, not public: a measuring tap only).
_API_CALL = "_make_api_call"


@contextmanager
def counting_aws_requests() -> Iterator[AwsUse]:
    """Counts every AWS request made from threads other than the caller's (the functions',
    and the queue poller's receives and deletes, which Lambda's poller makes on AWS)."""
    use = AwsUse()
    caller = threading.get_ident()
    original: Callable[..., Any] = getattr(botocore.client.BaseClient, _API_CALL)

    def counted(client: Any, operation: str, params: Any) -> Any:
        result = original(client, operation, params)
        if threading.get_ident() != caller:
            use.note(client.meta.service_model.service_name, operation, params, result)
        return result

    setattr(botocore.client.BaseClient, _API_CALL, counted)
    try:
        yield use
    finally:
        setattr(botocore.client.BaseClient, _API_CALL, original)


@dataclass(frozen=True)
class CostPer1000:
    orders: int
    invocations: Counter[str]  # by function
    gb_seconds: Decimal
    use: AwsUse

    def dollars(self) -> dict[str, Decimal]:
        scale = Decimal(1000) / self.orders
        api_requests = self.invocations.get("ingest", 0)
        return {
            "Lambda": (
                sum(self.invocations.values()) * LAMBDA_PER_REQUEST
                + self.gb_seconds * LAMBDA_PER_GB_SECOND
            )
            * scale,
            "DynamoDB": (
                self.use.read_units * DYNAMODB_PER_READ_UNIT
                + self.use.write_units * DYNAMODB_PER_WRITE_UNIT
            )
            * scale,
            "SQS": self.use.count("sqs") * SQS_FIFO_PER_REQUEST * scale,
            "API Gateway": api_requests * API_GATEWAY_REST_PER_REQUEST * scale,
            "Secrets Manager": self.use.count("secretsmanager") * SECRETS_MANAGER_PER_CALL * scale,
        }

    @property
    def total(self) -> Decimal:
        return sum(self.dollars().values(), Decimal(0))


def cost_per_1000(orders: int) -> CostPer1000:
    """``orders`` paid orders pushed through ingest and posted by the sync worker, in this
    process (so that every invocation and AWS request is seen), at QuickBooks' real limits."""
    qbo = StampedQbo(
        REAL_LIMITS, client_id=QBO_APP["client_id"], client_secret=QBO_APP["client_secret"]
    )
    with _known_company(qbo, worker_processes=False) as (rig, spec):
        runtime = rig.runtime
        runtime.invocations.clear()
        sender = rig.woo_sender(CONNECTION, WEBHOOK_SECRET)
        with counting_aws_requests() as use:
            try:
                for _ in range(orders):
                    sender.deliver("order.created", rig.store.create_order(spec)["id"])
            finally:
                sender.close()
            if not runtime.drain(timeout_s=600):
                raise RuntimeError(f"{orders} orders did not drain")
        ran = list(runtime.invocations)
        memory = {spec.name: spec.memory_mb for spec in runtime.functions}
    gb_seconds = sum(
        (Decimal(memory[name]) / 1024 * Decimal(str(round(seconds, 3))) for name, seconds in ran),
        Decimal(0),
    )
    return CostPer1000(orders, Counter(name for name, _ in ran), gb_seconds, use)


def main() -> None:
    """Only the per-company drains of ``make bench``, printed as it prints them."""
    import argparse
    import os

    import bench  # scripts/bench.py: the same runs and lines as make bench

    parser = argparse.ArgumentParser(
        description="Orders a minute one QuickBooks Online company takes from a backlog "
        "(the per-company lines of make bench)."
    )
    parser.add_argument("--full", action="store_true", help="a 1,000-order backlog (long)")
    parser.add_argument("--backlog", type=int, help="orders per run (default 1000 full, 60 quick)")
    parser.add_argument("--limits", choices=("real", "tenfold", "both"), default="tenfold")
    parser.add_argument("--batch", choices=("off", "on", "both"), default="both")
    args = parser.parse_args()
    bench._quiet()
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
        f"load average {load}"
    )
    limits = {
        "real": [REAL_LIMITS],
        "tenfold": [TENFOLD_DOWN],
        "both": [TENFOLD_DOWN, REAL_LIMITS],
    }[args.limits]
    batching = {"off": [False], "on": [True], "both": [False, True]}[args.batch]
    backlog = args.backlog or (1000 if args.full else 60)
    bench.bench_company([(lim, batch, backlog) for lim in limits for batch in batching])


if __name__ == "__main__":
    main()

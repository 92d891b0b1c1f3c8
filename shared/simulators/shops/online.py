"""A store's day into QuickBooks Online: any simulated store -> local runtime -> simulated QBO.

``OnlineDay(driver, orders=..., seed=...)`` plays the seeded day (``simulators.shops.stream``)
into the driver's store and sends the store's pushes to the connector as a real store would
and worse: some twice, some late (after newer ones, so stale), and for a share of the orders
(``silent_share``) none at all, so only the reconcile poll finds them. QuickBooks throttles,
loses a response after doing the work, answers 503, reports a stale SyncToken on a void and
expires the access token midway. Then every order is checked (``simulators.shops.books``)
against what the store says, and the report counts the store API calls the connector made
and how fast the ingest answered each push.

Options for the bookkeeper's side: ``park=(sku, item)`` maps the SKU to a QuickBooks item the
bookkeeper has made inactive, so its orders park; once the pushes have drained the bookkeeper
reactivates it and runs ``connector replay``, which must post each parked order once.
``doc_prefix`` numbers documents "{prefix}{number}"; ``foreign`` the checkout's currencies.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from connector.replay import replay_parked
from simulators.qbo import QboSimulator
from simulators.shops.books import OnlineBooks, OrderCheck, verdict
from simulators.shops.driver import StoreDriver
from simulators.shops.stream import FOREIGN, plan_day
from simulators.shops.trading import Progress, Pushes, Trader, drain, poll_now
from simulators.testbed.deployment import Endpoints, Rig, deployment

TENANT = "day"
CONNECTION = "shop"
WEBHOOK_SECRET = "ShopDayWebhookSecret42"
QBO_APP = {"client_id": "day-app", "client_secret": "day-app-secret"}
CARD = {"method": "Visa", "deposit_account": "Checking"}
# mapping.payments: each store's card gateway deposits into Checking, the rest into
# Undeposited Funds.
PAYMENTS: dict[str, dict[str, str]] = {
    "stripe": CARD,  # WooCommerce
    "stripev3": CARD,  # BigCommerce's Stripe provider id
    "braintree": CARD,  # Magento
    "default": {"deposit_account": "Undeposited Funds"},
}
DEPOSIT_ACCOUNTS = {key: value["deposit_account"] for key, value in PAYMENTS.items()}
QBO_RATES = {  # the company's rates (USD per unit), as of last month
    "CAD": Decimal("0.7300"),
    "EUR": Decimal("1.0850"),
    "GBP": Decimal("1.2700"),
    "AUD": Decimal("0.6600"),
    "NZD": Decimal("0.6000"),
}


@dataclass
class DayReport:
    pushes: Pushes
    faults_injected: list[str] = field(default_factory=list)
    qbo_statuses: Counter[int] = field(default_factory=Counter)
    checks: list[OrderCheck] = field(default_factory=list)
    documents: int = 0
    payments: int = 0
    refund_receipts: int = 0
    credit_memos: int = 0
    customers: int = 0
    duplicate_customers: list[str] = field(default_factory=list)
    doc_number_problems: list[str] = field(default_factory=list)
    long_numbers: int = 0
    paid_invoices: int = 0  # posted orders the store says are paid
    open_invoices: int = 0  # posted orders still owed
    refunds: int = 0  # refunds the store holds at the end of the day
    parked: dict[str, str] = field(default_factory=dict)  # sync record -> why it parked
    replayed: int = 0
    elapsed_s: float = 0.0

    @property
    def store(self) -> str:
        return self.pushes.store

    @property
    def orders(self) -> int:
        return self.pushes.orders

    @property
    def problems(self) -> list[OrderCheck]:
        return [c for c in self.checks if not c.ok]

    @property
    def postable(self) -> int:
        return sum(1 for c in self.checks if c.view.outcome == "posts")

    @property
    def ok(self) -> bool:
        return (
            bool(self.checks)
            and not self.problems
            and not self.duplicate_customers
            and not self.doc_number_problems
        )

    def summary(self) -> str:
        lines = [
            f"orders in {self.store:<19}{self.orders} ({self.postable} in a status that posts)",
            *self.pushes.lines(),
            f"QuickBooks faults injected   {', '.join(self.faults_injected) or 'none'}",
            f"documents in QuickBooks      {self.documents} invoices, {self.payments} payments, "
            f"{self.refund_receipts} refund receipts, {self.credit_memos} credit memos",
            f"long order numbers fitted    {self.long_numbers}",
            f"customers in QuickBooks      {self.customers}",
        ]
        if self.parked:
            lines.append(f"orders parked, then replayed {len(self.parked)} / {self.replayed}")
            reasons = Counter(self.parked.values())
            lines += [f"  {count} x {why}" for why, count in reasons.most_common()]
        lines.append(f"time                         {self.elapsed_s:.1f} s")
        duplicates = [f"duplicate customer {name}" for name in self.duplicate_customers]
        lines += verdict(self.ok, self.problems, duplicates + self.doc_number_problems)
        return "\n".join(lines)


def connection_settings(
    driver: StoreDriver,
    at: Endpoints,
    *,
    document: str = "invoice",
    items: dict[str, str] | None = None,
    doc_prefix: str | None = None,
) -> dict[str, Any]:
    """The tenant file's connection: the driver's store into the simulated QuickBooks Online
    (``items``: mapping.items; ``doc_prefix``: DocNumbers "{prefix}{number}")."""
    numbering = {"doc_number": "{prefix}{number}", "doc_prefix": doc_prefix} if doc_prefix else {}
    return {
        "id": CONNECTION,
        "document": document,
        **driver.connection(at.store),
        "ledger": at.qbo_ledger(environment="sandbox"),
        "mapping": {
            "items": items or {},
            **numbering,
            "fallback_item": "Sales",
            "auto_create_items": True,
            "income_account": "Sales of Product Income",
            "shipping_item": "Shipping",
            "fee_item": "Fees",
            "refund_item": "Refunds",
            "tax": {"mode": "us_automated"},
            "payments": PAYMENTS,
        },
    }


class OnlineDay:
    def __init__(
        self,
        driver: StoreDriver,
        *,
        orders: int,
        seed: int = 7,
        faults: bool = True,
        silent_share: float = 0.0,
        park: tuple[str, str] | None = None,
        doc_prefix: str | None = None,
        foreign: tuple[str, ...] = FOREIGN,
        progress: Progress | None = None,
    ) -> None:
        self.driver = driver
        self.faults = faults
        self.park = park
        self.doc_prefix = doc_prefix
        self._say = progress or (lambda _line: None)
        day = plan_day(orders, seed, foreign=foreign)
        self.trader = Trader(driver, day, seed=seed, silent_share=silent_share, progress=progress)
        self.qbo = QboSimulator(
            client_id=QBO_APP["client_id"],
            client_secret=QBO_APP["client_secret"],
            multicurrency=True,
        )
        self.report = DayReport(self.trader.pushes)

    def run(self) -> DayReport:
        started = time.monotonic()
        secrets = {
            CONNECTION: {
                "store": self.driver.store_secret(WEBHOOK_SECRET),
                "ledger": dict(QBO_APP),
            }
        }
        try:
            with deployment(
                TENANT,
                lambda at: [
                    connection_settings(
                        self.driver,
                        at,
                        items=dict([self.park]) if self.park else None,
                        doc_prefix=self.doc_prefix,
                    )
                ],
                secrets,
                store=self.driver.simulator,
                qbo=self.qbo,
                connect=(),  # the bookkeeper's company is set up first
            ) as rig:
                self._say(
                    f"{self.driver.display_name} at {rig.endpoints.store}, QuickBooks at "
                    f"{rig.endpoints.qbo}, the connector at {rig.runtime.base_url}"
                )
                self._connect(rig)
                if self.faults:
                    self._inject_faults()
                self.trader.play(
                    rig,
                    CONNECTION,
                    WEBHOOK_SECRET,
                    midday=lambda: self._midday(rig),
                    settled=lambda: self._fix_and_replay(rig),
                )
                self._check(rig)
        finally:
            self.trader.close()
        self.report.elapsed_s = time.monotonic() - started
        return self.report

    def _connect(self, rig: Rig) -> None:
        """PayPal money has its own bank account, QuickBooks knows last month's rates, and the
        merchant clicks Connect to QuickBooks (the simulated Intuit approves)."""
        self.qbo.seed(
            "Account", {"Name": "PayPal Bank", "AccountType": "Bank", "AccountSubType": "Checking"}
        )
        if self.park:  # an item the bookkeeper has made inactive
            self.qbo.seed(
                "Item",
                {
                    "Name": self.park[1],
                    "Type": "NonInventory",
                    "IncomeAccountRef": {"value": "1"},
                    "Active": False,
                },
            )
        rates_from = date.today() - timedelta(days=30)
        for currency, rate in QBO_RATES.items():
            self.qbo.set_exchange_rate(currency, rate, rates_from)
        rig.connect(CONNECTION)

    def _inject_faults(self) -> None:
        self.qbo.inject(429, times=3)
        self.qbo.inject("lost", times=1, entity="Invoice", operation="create")
        self.qbo.inject(503, times=1, entity="Invoice", operation="create")
        self.qbo.inject(5010, times=1, entity="Invoice", operation="void")
        self.report.faults_injected += ["429 x3", "lost response", "503", "5010 stale on a void"]

    def _midday(self, rig: Rig) -> None:
        if self.faults:
            self.qbo.expire_access_tokens()  # an hour passes: the next call gets a 401
            self.report.faults_injected.append("401 expired token")
        if self.trader.silent:  # the scheduled poll runs while the shop trades
            poll_now(rig)
            self.report.pushes.polls += 1

    def _fix_and_replay(self, rig: Rig) -> None:
        """The bookkeeper reads why orders parked, reactivates the item and replays them."""
        if self.park is None:
            return
        for record in rig.state_store.sync_states(CONNECTION, "order"):
            if record.status == "parked":
                self.report.parked[record.record_key] = record.last_error or ""
        if not self.report.parked:
            return
        self._say(
            f"{len(self.report.parked)} parked; the bookkeeper reactivates '{self.park[1]}' "
            "and replays them"
        )
        for item in self.qbo.documents("Item"):
            if item["Name"] == self.park[1]:
                self.qbo.set_active("Item", item["Id"], True)
        result = replay_parked(rig.sqs, dlq_url=rig.dlq_url, queue=rig.sync_queue())
        self.report.replayed = len(result.replayed)
        drain(rig, self.report.orders, self._say)

    def _check(self, rig: Rig) -> None:
        books = OnlineBooks(self.qbo, DEPOSIT_ACCOUNTS)
        for store_id in self.driver.order_ids():
            view = self.driver.view(store_id)
            trail = [(e.event, e.outcome) for e in rig.audit_of(f"{CONNECTION}#order#{store_id}")]
            check = books.check(view, trail)
            self.report.checks.append(check)
            self.report.refunds += len(view.refunds)
            if view.outcome == "posts" and check.documents == 1:
                if view.paid:
                    self.report.paid_invoices += 1
                else:
                    self.report.open_invoices += 1
            if len((self.doc_prefix or "") + view.number) > 21:
                self.report.long_numbers += 1
        self.report.documents = len(books.kinds["Invoice"])
        self.report.payments = len(books.kinds["Payment"])
        self.report.refund_receipts = len(books.kinds["RefundReceipt"])
        self.report.credit_memos = len(books.kinds["CreditMemo"])
        self.report.customers = len(books.customers)
        self.report.duplicate_customers = books.duplicate_customers()
        self.report.doc_number_problems = books.doc_number_problems()
        self.report.qbo_statuses = Counter(entry.status for entry in self.qbo.request_log)

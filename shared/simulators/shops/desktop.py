"""A store's day into QuickBooks Desktop: any simulated store -> local runtime -> outbox ->
simulated Web Connector -> simulated company file.

``DesktopDay(driver, orders=..., seed=...)`` trades the seeded day into the driver's store
(``simulators.shops.trading``: repeats, late and stale pushes), lets the sync worker put every
order, payment and refund into the connection's outbox, then runs the Web Connector's
sessions until the service says nothing is waiting. The company file locks an invoice once
(3175), the connection drops mid-session, and a response is lost after QuickBooks did the
work. Then each order is checked against what the store says: one transaction for the
store's total to the cent, each refund a credit memo for its amount (paid out when the order
was paid), the documents netting to the store's net, a paid invoice paid off into the
account its gateway maps to, an unpaid one open for what is owed, a cancelled order voided or
never sent, and an audit trail. Each buyer is one customer per currency, no customer holds two
buyers, and no RefNumber is longer than QuickBooks keeps. The faults go on: a customer name
held by a vendor (3100), a company file that will not open, and the lost response's next
answer lost as well.

Options: ``unusual_buyers`` puts buyers whose names Latin-1 cannot write and a wholesale
buyer into the day; ``rules`` turns class tracking on with revenue rules (gift cards under
"Gift Cards", the wholesale group under "Wholesale") and terms per customer group, checked on
every transaction; ``foreign`` the checkout's currencies; ``max_requests`` the connection's
requests per qbXML message.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fnmatch import fnmatchcase
from typing import Any

from connector.ledgers.qbd.currencies import CURRENCY_NAMES
from connector.ledgers.qbd.password import hash_password
from connector.resources import FUNCTIONS, QBWC
from simulators.qbd import QbdCompany, QbdMoney, QbdTxn
from simulators.qbwc import SessionReport, WebConnector
from simulators.shops.books import verdict
from simulators.shops.driver import OrderView, StoreDriver
from simulators.shops.stream import FOREIGN, plan_day
from simulators.shops.trading import Progress, Pushes, Trader
from simulators.testbed.deployment import Endpoints, Rig, deployment

TENANT = "desk-day"
CONNECTION = "desk-shop"
WEBHOOK_SECRET = "DeskDayWebhookSecret42"
QBWC_USER = "shop-day-sync"
QBWC_PASSWORD = "shop-day-web-connector-pass"
ACTIVE_WAIT_S = 300  # when "busy" comes without a postpone hint
CARD = {"method": "Visa", "deposit_account": "Checking"}
PAYMENTS: dict[str, dict[str, str]] = {
    "stripe": CARD,
    "stripev3": CARD,
    "braintree": CARD,
    "default": {"deposit_account": "Undeposited Funds"},
}
ZERO = Decimal(0)
# mapping.rules and mapping.terms (the company file has these classes and terms).
WHOLESALE = "wholesale_customer"
RULES = (
    {"when": {"sku": "GIFT-*"}, "class": "Gift Cards"},
    {"when": {"customer_group": WHOLESALE}, "class": "Wholesale"},
)
TERMS = {WHOLESALE: "Net 30", "default": "Due on receipt"}


@dataclass
class DeskCheck:
    view: OrderView
    transactions: int
    ledger_total: Decimal | None
    audit_events: list[str]
    # What each "received" event says: which push, or that polling found the order.
    received: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class DeskDayReport:
    pushes: Pushes
    sessions: list[SessionReport] = field(default_factory=list)
    faults_injected: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)  # QuickBooks statusCode -> count
    checks: list[DeskCheck] = field(default_factory=list)
    transactions: int = 0
    payments: int = 0
    credit_memos: int = 0
    refunds_paid_out: int = 0
    customers: int = 0
    duplicate_customers: list[str] = field(default_factory=list)
    # (buyer's e-mail, order currency) -> the QuickBooks customers their transactions name.
    customers_by_buyer: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    foreign_orders: Counter[str] = field(default_factory=Counter)  # currency -> orders posted
    classed: Counter[str] = field(default_factory=Counter)  # class -> transactions carrying it
    terms: Counter[str] = field(default_factory=Counter)  # terms -> invoices carrying them
    ref_number_problems: list[str] = field(default_factory=list)
    qbxml_messages: int = 0
    waited_s: int = 0  # Web Connector time spent waiting for a busy service (simulated)
    drain_s: float = 0.0
    elapsed_s: float = 0.0

    @property
    def buyer_problems(self) -> list[str]:
        """Buyers split over several customers in one currency, and customers shared by several
        buyers (or currencies)."""
        split = [
            f"buyer {buyer} in {currency} is {len(names)} customers: {sorted(names)}"
            for (buyer, currency), names in sorted(self.customers_by_buyer.items())
            if len(names) != 1
        ]
        holders: dict[str, list[tuple[str, str]]] = {}
        for buyer, names in self.customers_by_buyer.items():
            for name in names:
                holders.setdefault(name, []).append(buyer)
        merged = [
            f"customer {name!r} holds {len(buyers)} buyers: {sorted(buyers)}"
            for name, buyers in sorted(holders.items())
            if len(buyers) > 1
        ]
        return split + merged

    @property
    def store(self) -> str:
        return self.pushes.store

    @property
    def orders(self) -> int:
        return self.pushes.orders

    @property
    def round_trips(self) -> int:
        return sum(s.round_trips for s in self.sessions)

    @property
    def problems(self) -> list[DeskCheck]:
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
            and not self.buyer_problems
            and not self.ref_number_problems
        )

    def summary(self) -> str:
        outcomes = Counter(s.outcome for s in self.sessions)
        lines = [
            f"orders in {self.store:<19}{self.orders} ({self.postable} in a status that posts)",
            *self.pushes.lines(),
            f"Web Connector sessions       {len(self.sessions)} "
            f"({', '.join(f'{n} {o}' for o, n in sorted(outcomes.items()))}), "
            f"{self.round_trips} SOAP round trips",
            f"faults injected              {', '.join(self.faults_injected) or 'none'}",
            f"transactions in QuickBooks   {self.transactions} ({self.credit_memos} credit memos, "
            f"{self.payments} payments, {self.refunds_paid_out} refunds paid out)",
            f"qbXML messages run           {self.qbxml_messages}",
            "QuickBooks status codes      "
            + ", ".join(f"{code} x {n}" for code, n in sorted(self.statuses.items())),
            f"customers in QuickBooks      {self.customers}",
            f"time                         {self.elapsed_s:.1f} s "
            f"(Web Connector {self.drain_s:.1f} s)",
        ]
        twice = [f"customer created twice: {e}" for e in self.duplicate_customers]
        others = twice + self.buyer_problems + self.ref_number_problems
        return "\n".join(lines + verdict(self.ok, self.problems, others))


def connection_settings(
    driver: StoreDriver,
    at: Endpoints,
    *,
    rules: bool = False,
    max_requests: int | None = None,
) -> dict[str, Any]:
    """The tenant file's connection: the driver's store into QuickBooks Desktop (``rules``:
    RULES and TERMS; ``max_requests`` None keeps the setting's default)."""
    ledger: dict[str, Any] = {
        "kind": "qbd",
        "user_name": QBWC_USER,
        "sales_tax_item": "Sales Tax",
        "discount_item": "Discount",
    }
    if max_requests is not None:
        ledger["max_requests_per_message"] = max_requests
    return {
        "id": CONNECTION,
        "document": "invoice",
        **driver.connection(at.store),
        "ledger": ledger,
        "mapping": {
            **({"rules": list(RULES), "terms": TERMS} if rules else {}),
            "fallback_item": "Sales",
            "auto_create_items": True,
            "income_account": "Merchandise Sales",
            "shipping_item": "Shipping",
            "fee_item": "Fees",
            "payments": PAYMENTS,
        },
    }


def _noted(memo: str | None) -> str | None:
    """The store id a memo names ("... (id 123)")."""
    text = memo or ""
    return text.split("(id ", 1)[1].split(")", 1)[0] if "(id " in text else None


class DeskBooks:
    """The company file's transactions, grouped by the store order their memos name."""

    def __init__(self, company: QbdCompany, *, rules: bool = False) -> None:
        self.company = company
        self.rules = rules
        self.classed: Counter[str] = Counter()
        self.terms: Counter[str] = Counter()
        self.txns = company.transactions()
        self.money = [m for m in company.money_txns() if not m.voided]
        self._orders: dict[str, list[QbdTxn]] = {}
        self._memos: dict[str, list[QbdTxn]] = {}
        for txn in self.txns:
            noted = _noted(txn.memo)
            if noted is not None:
                into = self._memos if txn.kind == "CreditMemo" else self._orders
                into.setdefault(noted, []).append(txn)
        self._payments: dict[str, list[QbdMoney]] = {}
        for m in self.money:
            if m.kind == "ReceivePayment" and m.total and _noted(m.memo) is not None:
                self._payments.setdefault(str(_noted(m.memo)), []).append(m)
        self._paid_out = {
            memo for m in self.money if m.kind == "ARRefundCreditCard" for memo, _ in m.applied
        }

    def of(self, store_id: str) -> list[QbdTxn]:
        """The order's own transactions (not its credit memos)."""
        return self._orders.get(store_id, [])

    def ref_number_problems(self) -> list[str]:
        """QuickBooks keeps 11 characters of a RefNumber, 20 of a ReceivePayment's."""
        numbers = [(t.kind, t.ref_number) for t in self.txns]
        numbers += [(m.kind, m.ref_number) for m in self.money]
        return [
            f"{kind} RefNumber {number!r} is too long"
            for kind, number in numbers
            if len(number) > (20 if kind == "ReceivePayment" else 11)
        ]

    def check(self, view: OrderView, trail: Sequence[tuple[str, str]]) -> DeskCheck:
        """``trail``: the order's audit events, (event, outcome) oldest first."""
        found = self._orders.get(view.store_id, [])
        events = [event for event, _ in trail]
        check = DeskCheck(
            view=view,
            transactions=len(found),
            ledger_total=found[0].total if found else None,
            audit_events=events,
            received=[outcome for event, outcome in trail if event == "received"],
        )
        if not events:
            check.problems.append("no audit trail")
        if view.outcome == "posts":
            if len(found) != 1:
                check.problems.append(f"{len(found)} transactions for an order that posts")
            else:
                check.problems += self._posted(view, found[0])
        elif view.outcome == "withdrawn":
            if len(found) > 1 or (found and found[0].total != 0):
                check.problems.append(f"cancelled, yet transactions {[t.total for t in found]}")
        elif found:
            check.problems.append(f"status {view.status} does not post, yet {len(found)} sent")
        return check

    def _posted(self, view: OrderView, txn: QbdTxn) -> list[str]:
        found: list[str] = []
        if txn.total != view.total:
            found.append(f"QuickBooks total {txn.total}, the store's {view.total}")
        memos = self._memos.get(view.store_id, [])
        for refund in view.refunds:
            mine = [m.total for m in memos if f"refund {refund.refund_id} of" in (m.memo or "")]
            if mine != [refund.amount]:
                found.append(f"refund {refund.refund_id} of {refund.amount}: credit memos {mine}")
        if len(memos) != len(view.refunds):
            found.append(f"{len(memos)} credit memos for {len(view.refunds)} store refunds")
        net = txn.total - sum((m.total for m in memos), ZERO)
        if net != view.net:
            found.append(f"QuickBooks nets {net}, the store {view.net}")
        payments = self._payments.get(view.store_id, [])
        if view.paid and view.total > 0:
            account = PAYMENTS.get(view.payment_key, PAYMENTS["default"])["deposit_account"]
            if txn.kind == "Invoice" and txn.balance != 0:
                found.append(f"paid, but {txn.balance} is still open")
            if txn.kind == "Invoice" and [p.account for p in payments] != [account]:
                found.append(
                    f"payments {[(p.total, p.account) for p in payments]}, want one in {account}"
                )
            unpaid_out = [m.ref_number for m in memos if m.txn_id not in self._paid_out]
            if unpaid_out:
                found.append(f"credit memos {unpaid_out} were not paid out")
        else:
            if payments:
                found.append(f"unpaid, yet payments {[p.total for p in payments]}")
            if txn.balance != view.net:
                found.append(f"unpaid, {txn.balance} open, the store is owed {view.net}")
        wanted = CURRENCY_NAMES[view.currency]
        customer = self.company.customer_currency(txn.customer) if txn.customer else None
        if (txn.currency, customer) != (wanted, wanted):
            found.append(f"in {view.currency}, yet {txn.currency}, its customer in {customer}")
        if self.rules:
            found += self._classes_and_terms(view, txn)
        return found

    def _classes_and_terms(self, view: OrderView, txn: QbdTxn) -> list[str]:
        """RULES' classes per line and for the transaction, TERMS on an invoice."""
        found: list[str] = []
        wholesale = view.customer_group == WHOLESALE
        gift = [fnmatchcase(sku, "GIFT-*") for sku in view.line_skus]
        line_classes = [
            "Gift Cards" if is_gift else "Wholesale" if wholesale else None for is_gift in gift
        ]
        whole = "Gift Cards" if gift and all(gift) else "Wholesale" if wholesale else None
        wanted = line_classes + [whole] * (len(txn.lines) - len(gift))  # shipping, fees...
        classes = [line.class_name for line in txn.lines]
        if (txn.class_name, classes) != (whole, wanted):
            found.append(f"classes {txn.class_name} / {classes}, want {whole} / {wanted}")
        for name in {*classes, txn.class_name} - {None}:
            self.classed[str(name)] += 1
        if txn.kind == "Invoice":
            terms = TERMS[WHOLESALE] if wholesale else TERMS["default"]
            if txn.terms != terms:
                found.append(f"terms {txn.terms}, want {terms}")
            self.terms[str(txn.terms)] += 1
        return found


class DesktopDay:
    def __init__(
        self,
        driver: StoreDriver,
        *,
        orders: int,
        seed: int = 11,
        faults: bool = True,
        progress: Progress | None = None,
        max_sessions: int = 200,
        foreign: tuple[str, ...] = FOREIGN,
        unusual_buyers: bool = False,
        rules: bool = False,
        max_requests: int | None = None,
    ) -> None:
        self.driver = driver
        self.faults = faults
        self.max_sessions = max_sessions
        self.rules = rules
        self.max_requests = max_requests
        self._say = progress or (lambda _line: None)
        day = plan_day(orders, seed, foreign=foreign, unusual_buyers=unusual_buyers)
        self.trader = Trader(driver, day, seed=seed, progress=progress)
        self.company = QbdCompany(seed=seed, multicurrency=True, class_tracking=rules)
        self.report = DeskDayReport(self.trader.pushes)

    def run(self) -> DeskDayReport:
        started = time.monotonic()
        secrets = {
            CONNECTION: {
                "store": self.driver.store_secret(WEBHOOK_SECRET),
                "ledger": {"password_hash": hash_password(QBWC_PASSWORD)},
            }
        }
        try:
            with deployment(
                TENANT,
                lambda at: [
                    connection_settings(
                        self.driver, at, rules=self.rules, max_requests=self.max_requests
                    )
                ],
                secrets,
                store=self.driver.simulator,
                functions=FUNCTIONS if QBWC in FUNCTIONS else (*FUNCTIONS, QBWC),
            ) as rig:
                self.trader.play(rig, CONNECTION, WEBHOOK_SECRET)
                self._say("every order is in the outbox; the Web Connector's turn")
                drain_started = time.monotonic()
                self._web_connector(rig)
                self.report.drain_s = time.monotonic() - drain_started
                self._check(rig)
        finally:
            self.trader.close()
        self.report.elapsed_s = time.monotonic() - started
        return self.report

    def _inject(self, session_number: int, wc: WebConnector) -> None:
        if not self.faults:
            return
        if session_number == 0:
            # The bookkeeper has a vendor named like the first order's buyer -> 3100.
            buyer = self.trader.day.orders[0].buyer
            name = f"{buyer.first_name} {buyer.last_name}"
            self.company.add_list_record("Vendor", name)
            self.company.inject(3175, times=1, request="InvoiceAdd")
            wc.drop_connection_after(6)  # the second receiveResponseXML never arrives
            self.report.faults_injected += [
                f"3100 name in use by a vendor ({name})",
                "3175 locked invoice",
                "dropped connection",
            ]
        elif session_number == 1:
            wc.lose_response_once()
            self.report.faults_injected.append("response lost after QuickBooks did the work")
        elif session_number == 2:
            self.company.fail_open_company(times=1)
            self.report.faults_injected.append("company file could not be opened")
        lost = [s for s in self.report.sessions if s.outcome == "response_lost"]
        if len(lost) == 1 and self.report.sessions[-1] is lost[0]:
            # The next run's first message (it asks about the lost one) is lost as well.
            wc.lose_response_once()
            self.report.faults_injected.append("a second response lost")

    def _web_connector(self, rig: Rig) -> None:
        with rig.web_connector(
            CONNECTION, QBWC_USER, QBWC_PASSWORD, self.company, noop_pause_s=0.05
        ) as wc:
            for number in range(self.max_sessions):
                self._inject(number, wc)
                session = wc.run_session()
                self.report.sessions.append(session)
                self._say(
                    f"session {number + 1}: {session.outcome}, {len(session.requests)} messages"
                )
                if session.outcome == "none":
                    return
                if session.outcome == "busy":
                    # A crashed session still holds the connection; QBWC comes back later.
                    seconds = session.postpone_s or ACTIVE_WAIT_S
                    rig.time_passes(CONNECTION, seconds)
                    self.report.waited_s += seconds
                if session.outcome in ("nvu", "aborted"):
                    raise RuntimeError(f"the Web Connector stopped: {session.errors}")
        raise RuntimeError(f"the outbox did not drain in {self.max_sessions} sessions")

    def _check(self, rig: Rig) -> None:
        books = DeskBooks(self.company, rules=self.rules)
        for store_id in self.driver.order_ids():
            view = self.driver.view(store_id)
            trail = [(e.event, e.outcome) for e in rig.audit_of(f"{CONNECTION}#order#{store_id}")]
            check = books.check(view, trail)
            self.report.checks.append(check)
            found = books.of(store_id)
            names = {t.customer for t in found if t.customer}
            if names:  # nothing of theirs posted otherwise
                buyer = (view.buyer_email.strip().lower(), view.currency)
                self.report.customers_by_buyer.setdefault(buyer, set()).update(names)
            if view.outcome == "posts" and len(found) == 1 and view.currency != "USD":
                self.report.foreign_orders[view.currency] += 1
        self.report.classed = books.classed
        self.report.terms = books.terms
        self.report.ref_number_problems = books.ref_number_problems()
        self.report.qbxml_messages = self.company.messages_processed
        self.report.transactions = len(books.txns) + len(books.money)
        self.report.credit_memos = sum(1 for t in books.txns if t.kind == "CreditMemo")
        self.report.payments = sum(1 for m in books.money if m.kind == "ReceivePayment" and m.total)
        self.report.refunds_paid_out = sum(1 for m in books.money if m.kind == "ARRefundCreditCard")
        customers = [c for c in self.company.customers() if c.name != "Cash Customer"]
        self.report.customers = len(customers)
        emails = Counter(
            ((c.email or c.name).casefold(), self.company.customer_currency(c.name))
            for c in customers
        )
        self.report.duplicate_customers = [
            f"{email} ({currency})" for (email, currency), n in emails.items() if n > 1
        ]
        self.report.statuses = dict(self.company.statuses)

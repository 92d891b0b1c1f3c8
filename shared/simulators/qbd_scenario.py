"""A store's day into QuickBooks Desktop: simulated WooCommerce -> local runtime -> outbox ->
simulated Web Connector -> simulated QuickBooks Desktop company.

Orders arrive as signed webhooks; the sync worker puts them in the connection's outbox; the
Web Connector then runs its scheduled sessions against ``POST /qbwc/{connection}`` until the
service says there is nothing left ("none"). Along the way QuickBooks loses two responses
after doing the work, the HTTP connection drops mid-session, a record is locked by another
user (3175), and one customer's name is already taken by a vendor (3100). The company file
answers lookups as QuickBooks Desktop does (500 for a name it lacks), and some buyers have
names Latin-1 cannot write (山田 太郎, 佐藤 花子). The company file has Multiple Currencies and
class tracking on: some orders are placed in CAD or EUR (the store gives no rate, so
QuickBooks uses its own), gift cards post under the "Gift Cards" class and a wholesale
buyer's orders under "Wholesale", on Net 30 terms (everyone else's: Due on receipt).
Buyers pay by card (stripe, paid at once),
bank transfer or cheque (on hold, some paid later); some orders are refunded by line, by
shipping, by an amount or in full, paid ones and unpaid ones. Then every order is checked:
exactly one transaction with the store's total, the documents netting to the store's net to
the cent (invoice less credit memos), a paid invoice paid off by its ReceivePayment in the
account its gateway maps to, an unpaid one open for what is still owed, every refund of
money taken paid out, no RefNumber longer than QuickBooks keeps, every buyer exactly one
customer per currency, each transaction in its order's currency and its customer's, and the
classes and terms the rules give on every invoice.

The end-to-end test (300 orders) and ``make bench`` (SOAP round trips to drain 1,000 queued
orders) run this. Any store's day into Desktop is ``simulators.shops.desktop``.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from fnmatch import fnmatchcase
from typing import Any

from connector.config import TenantConfig
from connector.ledgers.qbd.currencies import CURRENCY_NAMES
from connector.ledgers.qbd.password import hash_password
from connector.resources import FUNCTIONS, QBWC
from simulators.qbd import QbdCompany, QbdMoney, QbdTxn
from simulators.qbwc import SessionReport, WebConnector
from simulators.scenario import POSTING, order_landed_right
from simulators.testbed.deployment import Rig, deployment
from simulators.woocommerce import OrderSpec, WooSimulator
from simulators.woocommerce_catalogue import Person
from simulators.woocommerce_webhooks import WebhookSender

CONNECTION = "desk-shop"
WEBHOOK_SECRET = "DeskWebhookSecret42"
STORE_KEYS: dict[str, str] = {"consumer_key": "ck_desk", "consumer_secret": "cs_desk"}
QBWC_USER = "ml-connector"
QBWC_PASSWORD = "desk-shop-web-connector-pass"
ACTIVE_WAIT_S = 300  # when "busy" comes without a postpone hint
# Buyers whose names Latin-1 cannot write: each would be "?? ??" in the company file.
NON_LATIN_REGISTERED: tuple[Person, ...] = (
    Person("太郎", "山田", "taro.yamada@example.jp", "1-1 Marunouchi", "Tokyo", "", "100-0005", "JP"),
    Person("花子", "佐藤", "hanako.sato@example.jp", "2-2 Umeda", "Osaka", "", "530-0001", "JP"),
)  # fmt: skip
NON_LATIN_GUEST = Person(
    "一郎", "鈴木", "ichiro.suzuki@example.jp", "3-3 Sakae", "Nagoya", "", "460-0008", "JP"
)
NON_LATIN_EVERY = 10  # every tenth order is one of theirs
METHODS = (
    ("stripe", "Credit Card (Stripe)"),
    ("bacs", "Direct bank transfer"),
    ("cheque", "Check payments"),
)
# mapping.payments: where each gateway's money lands (the rest: Undeposited Funds).
PAYMENTS = {
    "stripe": {"method": "Visa", "deposit_account": "Checking"},
    "bacs": {"method": "E-Check", "deposit_account": "Checking"},
    "cheque": {"method": "Check"},
}
REFUND_KINDS = ("line", "shipping", "amount", "full")
FOREIGN_EVERY = 7  # every seventh order is paid in a foreign currency...
FOREIGN = ("CAD", "EUR")  # ...one of these, with no rate from the store
WHOLESALE_EVERY = 9  # every ninth order is the wholesale buyer's
WHOLESALE_BUYER = Person(
    "Wanda", "Wholesale", "orders@wholesale.example", "9 Depot Rd", "Reno", "NV", "89501", "US",
    company="Wholesale Goods Inc",
)  # fmt: skip
# mapping.rules and mapping.terms (the company file has these classes and terms).
RULES = (
    {"when": {"sku": "GIFT-*"}, "class": "Gift Cards"},
    {"when": {"customer_group": "wholesale_customer"}, "class": "Wholesale"},
)
TERMS = {"wholesale_customer": "Net 30", "default": "Due on receipt"}

Progress = Callable[[str], None]


@dataclass
class DeskOrderCheck:
    order_id: int
    number: str
    status: str
    store_total: Decimal
    transactions: int
    ledger_total: Decimal | None

    @property
    def ok(self) -> bool:
        return order_landed_right(
            self.status, self.transactions, self.ledger_total, self.store_total
        )


@dataclass
class DeskScenarioReport:
    orders: int = 0
    webhooks_sent: int = 0
    sessions: list[SessionReport] = field(default_factory=list)
    faults_injected: list[str] = field(default_factory=list)
    checks: list[DeskOrderCheck] = field(default_factory=list)
    transactions: int = 0
    customers: int = 0
    duplicate_customers: list[str] = field(default_factory=list)
    # (buyer's billing e-mail, order currency) -> the QuickBooks customers their transactions name.
    customers_by_buyer: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    foreign_orders: Counter[str] = field(default_factory=Counter)  # currency -> orders posted
    currency_problems: list[str] = field(default_factory=list)
    rules_problems: list[str] = field(default_factory=list)  # classes and terms
    classed: Counter[str] = field(default_factory=Counter)  # class -> invoices carrying it
    terms: Counter[str] = field(default_factory=Counter)  # terms -> invoices carrying them
    refunds: dict[str, Decimal] = field(default_factory=dict)  # store refund id -> amount
    credit_memos: dict[str, list[Decimal]] = field(default_factory=dict)  # refund id -> totals
    refund_kinds: Counter[str] = field(default_factory=Counter)  # "line paid", "full unpaid"...
    paid_later: list[int] = field(default_factory=list)
    books_problems: list[str] = field(default_factory=list)  # per order: net, balance, account
    payments: int = 0  # ReceivePayments of orders' money
    refunds_paid_out: int = 0  # ARRefundCreditCards
    qbxml_messages: int = 0
    statuses: dict[int, int] = field(default_factory=dict)  # QuickBooks statusCode -> count
    elapsed_s: float = 0.0
    drain_s: float = 0.0
    waited_s: int = 0  # Web Connector time spent waiting for a busy service (simulated)

    @property
    def round_trips(self) -> int:
        return sum(s.round_trips for s in self.sessions)

    @property
    def problems(self) -> list[DeskOrderCheck]:
        return [c for c in self.checks if not c.ok]

    @property
    def refund_problems(self) -> list[str]:
        """Refunds without exactly one credit memo of their amount."""
        return [
            f"refund {rid} of {amount}: credit memos {self.credit_memos.get(rid, [])}"
            for rid, amount in self.refunds.items()
            if self.credit_memos.get(rid, []) != [amount]
        ]

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
    def ok(self) -> bool:
        return (
            bool(self.checks)
            and not self.problems
            and not self.duplicate_customers
            and not self.buyer_problems
            and not self.refund_problems
            and not self.books_problems
            and not self.currency_problems
            and not self.rules_problems
        )

    def summary(self) -> str:
        outcomes = Counter(s.outcome for s in self.sessions)
        lines = [
            f"orders in the store            {self.orders}",
            f"webhooks sent                  {self.webhooks_sent}",
            f"Web Connector sessions         {len(self.sessions)} "
            f"({', '.join(f'{n} {o}' for o, n in sorted(outcomes.items()))})",
            f"SOAP round trips               {self.round_trips}",
            f"qbXML messages run             {self.qbxml_messages}",
            f"faults injected                {', '.join(self.faults_injected) or 'none'}",
            "QuickBooks status codes        "
            + ", ".join(f"{code} x {n}" for code, n in sorted(self.statuses.items())),
            f"transactions in QuickBooks     {self.transactions} "
            f"({len(self.refunds)} refunds as credit memos, {self.payments} payments, "
            f"{self.refunds_paid_out} refunds paid out)",
            f"customers in QuickBooks        {self.customers}",
            f"time                           {self.elapsed_s:.1f} s "
            f"(Web Connector {self.drain_s:.1f} s)",
        ]
        if self.ok:
            lines.append(
                "result                         every order once, totals equal to the cent"
            )
        else:
            for check in self.problems:
                lines.append(
                    f"PROBLEM order {check.number} ({check.status}): {check.transactions} "
                    f"transactions, QuickBooks total {check.ledger_total}, store {check.store_total}"
                )
            lines += [f"PROBLEM customer created twice: {e}" for e in self.duplicate_customers]
            lines += [f"PROBLEM {problem}" for problem in self.buyer_problems]
            lines += [f"PROBLEM {problem}" for problem in self.refund_problems]
            lines += [f"PROBLEM {problem}" for problem in self.books_problems]
            lines += [f"PROBLEM {problem}" for problem in self.currency_problems]
            lines += [f"PROBLEM {problem}" for problem in self.rules_problems]
        return "\n".join(lines)


def tenant_config(woo_url: str, *, max_requests: int | None = None) -> TenantConfig:
    """A Desktop tenant; ``max_requests`` None keeps the setting's default."""
    ledger: dict[str, object] = {
        "kind": "qbd",
        "user_name": QBWC_USER,
        "sales_tax_item": "Sales Tax",
        "discount_item": "Discount",
    }
    if max_requests is not None:
        ledger["max_requests_per_message"] = max_requests
    return TenantConfig.model_validate(
        {
            "tenant": "desk",
            "connections": [
                {
                    "id": CONNECTION,
                    "document": "invoice",
                    "store": {"kind": "woocommerce", "url": woo_url},
                    "ledger": ledger,
                    "mapping": {
                        "fallback_item": "Sales",
                        "auto_create_items": True,
                        "income_account": "Merchandise Sales",
                        "shipping_item": "Shipping",
                        "fee_item": "Fees",
                        "payments": PAYMENTS,
                        "rules": RULES,
                        "terms": TERMS,
                    },
                }
            ],
        }
    )


class DeskScenario:
    def __init__(
        self,
        *,
        orders: int,
        seed: int = 11,
        faults: bool = True,
        progress: Progress | None = None,
        max_sessions: int = 200,
        max_requests: int | None = None,
        cancellations: bool = True,
    ) -> None:
        self.orders = orders
        self.cancellations = cancellations
        self.faults = faults
        self.max_sessions = max_sessions
        self.max_requests = max_requests
        self._rng = random.Random(seed)
        self._say = progress or (lambda _line: None)
        self.woo = WooSimulator(
            consumer_key=STORE_KEYS["consumer_key"],
            consumer_secret=STORE_KEYS["consumer_secret"],
            seed=seed,
        )
        self.company = QbdCompany(seed=seed, multicurrency=True, class_tracking=True)
        self.wholesale: set[int] = set()  # store customer ids with the wholesale role
        self.report = DeskScenarioReport()

    def run(self) -> DeskScenarioReport:
        started = time.monotonic()
        secrets = {
            CONNECTION: {
                "store": {**STORE_KEYS, "webhook_secret": WEBHOOK_SECRET},
                "ledger": {"password_hash": hash_password(QBWC_PASSWORD)},
            }
        }
        with deployment(
            "desk",
            lambda at: tenant_config(at.store, max_requests=self.max_requests).connections,
            secrets,
            store=self.woo,
            functions=FUNCTIONS if QBWC in FUNCTIONS else (*FUNCTIONS, QBWC),
            poll_interval_s=0.2,
        ) as rig:
            self._say(f"local runtime at {rig.runtime.base_url}; store {rig.endpoints.store}")
            self._trade(rig)
            drain_started = time.monotonic()
            self._web_connector(rig)
            self.report.drain_s = time.monotonic() - drain_started
            self._check()
        self.report.elapsed_s = time.monotonic() - started
        return self.report

    def _trade(self, rig: Rig) -> None:
        sender = rig.woo_sender(CONNECTION, WEBHOOK_SECRET)
        try:
            if sender.ping() != 200:
                raise RuntimeError(f"the webhook ping failed: {sender.last_ping_error}")
            order_ids: list[int] = []
            non_latin = self._non_latin_buyers()
            wholesale = self.woo.create_customer(WHOLESALE_BUYER, role="wholesale_customer")
            self.wholesale.add(int(wholesale["id"]))
            for n in range(self.orders):
                spec = self._with_payment(self.woo.random_spec(self._rng))
                if n % NON_LATIN_EVERY == NON_LATIN_EVERY - 1:
                    customer_id, guest = non_latin[n // NON_LATIN_EVERY % len(non_latin)]
                    spec = dataclasses.replace(spec, customer_id=customer_id, guest=guest)
                elif n % WHOLESALE_EVERY == 4:
                    spec = dataclasses.replace(spec, customer_id=int(wholesale["id"]), guest=None)
                if n % FOREIGN_EVERY == 3 and n % NON_LATIN_EVERY != NON_LATIN_EVERY - 1:
                    # A multi-currency plugin's checkout; it passes on no exchange rate.
                    spec = dataclasses.replace(spec, currency=self._rng.choice(FOREIGN))
                order = self.woo.create_order(spec)
                order_ids.append(order["id"])
                sender.deliver("order.created", order["id"])
                self.report.webhooks_sent += 1
                if n % 100 == 99:
                    self._say(f"{n + 1} orders placed")
            self.report.orders = len(order_ids)
            cancelled = max(1, len(order_ids) // 20) if self.cancellations else 0
            chosen = self._rng.sample(order_ids, k=cancelled)
            for order_id in chosen:
                self.woo.update_order(order_id, status="cancelled")
                sender.deliver("order.updated", order_id)
                self.report.webhooks_sent += 1
            self._pay_later(sender, [i for i in order_ids if i not in chosen])
            self._refund(sender, [i for i in order_ids if i not in chosen])
        finally:
            sender.close()
        rig.drain(timeout_s=120 + self.orders)
        self._say("every order is in the outbox; the Web Connector's turn")

    def _with_payment(self, spec: OrderSpec) -> OrderSpec:
        """Card orders are paid at checkout; bank transfers and cheques wait on hold."""
        method = self._rng.choice(METHODS)
        if method[0] == "stripe":
            status = self._rng.choice(("processing", "completed"))
        else:
            status = self._rng.choice(("on-hold", "on-hold", "on-hold", "pending"))
        return dataclasses.replace(spec, payment_method=method, status=status)

    def _pay_later(self, sender: WebhookSender, order_ids: list[int]) -> None:
        """A third of the orders on hold are paid: the shop marks them processing."""
        on_hold = [i for i in order_ids if self.woo.get_order(i)["status"] == "on-hold"]
        for order_id in on_hold[::3]:
            self.woo.update_order(order_id, status="processing")
            sender.deliver("order.updated", order_id)
            self.report.webhooks_sent += 1
            self.report.paid_later.append(order_id)

    def _refund(self, sender: WebhookSender, order_ids: list[int]) -> None:
        """Refunds by line, shipping, amount and in full, of paid and of unpaid orders."""
        paid = [i for i in order_ids
                if self.woo.get_order(i)["status"] in ("processing", "completed")]  # fmt: skip
        unpaid = [i for i in order_ids if self.woo.get_order(i)["status"] == "on-hold"]
        count = max(len(REFUND_KINDS), len(order_ids) // 12)
        for n, order_id in enumerate(paid[:count] + unpaid[: count // 2]):
            kind = REFUND_KINDS[n % len(REFUND_KINDS)]
            order = self.woo.get_order(order_id)
            state = "paid" if order["date_paid"] else "unpaid"
            if kind == "line":
                item = order["line_items"][0]
                refund = self.woo.add_refund(order_id, items={item["id"]: 1}, reason="Damaged")
            elif kind == "shipping" and any(Decimal(s["total"]) > 0
                                            for s in order["shipping_lines"]):  # fmt: skip
                refund = self.woo.add_refund(order_id, shipping=True, reason="Late delivery")
            elif kind == "full":
                refund = self.woo.add_refund(order_id, amount=Decimal(order["total"]))
            else:
                kind = "amount"
                amount = min(Decimal("5.00"), Decimal(order["total"]))
                refund = self.woo.add_refund(order_id, amount=amount, reason="Goodwill")
            self.report.refunds[str(refund["id"])] = Decimal(str(refund["amount"]))
            self.report.refund_kinds[f"{kind} {state}"] += 1
            sender.deliver("order.updated", order_id)
            self.report.webhooks_sent += 1

    def _non_latin_buyers(self) -> list[tuple[int, Person | None]]:
        """(customer id, guest) for OrderSpec: the registered ones, then a guest."""
        registered = [self.woo.create_customer(p)["id"] for p in NON_LATIN_REGISTERED]
        return [(int(i), None) for i in registered] + [(0, NON_LATIN_GUEST)]

    def _check_ref_numbers(self, txns: list[QbdTxn], money: list[QbdMoney]) -> None:
        """QuickBooks keeps 11 characters of a RefNumber, 20 of a ReceivePayment's."""
        numbers = [(t.kind, t.ref_number) for t in txns] + [(m.kind, m.ref_number) for m in money]
        for kind, number in numbers:
            if len(number) > (20 if kind == "ReceivePayment" else 11):
                self.report.books_problems.append(f"{kind} RefNumber {number!r} is too long")

    def _check_books(
        self, by_order: dict[str, list[QbdTxn]], txns: list[QbdTxn], money: list[QbdMoney]
    ) -> None:
        """Per order: documents net to the store's net, balances and accounts are right."""
        memos = {t.txn_id: t for t in txns if t.kind == "CreditMemo"}
        live = [m for m in money if not m.voided]
        self.report.payments = sum(1 for m in live if m.kind == "ReceivePayment" and m.total)
        self.report.refunds_paid_out = sum(1 for m in live if m.kind == "ARRefundCreditCard")
        payments: dict[str, list[QbdMoney]] = {}
        for m in live:
            if m.kind == "ReceivePayment" and m.total and "(id " in (m.memo or ""):
                noted = (m.memo or "").split("(id ", 1)[1].split(")", 1)[0]
                payments.setdefault(noted, []).append(m)
        paid_out = {memo for m in live if m.kind == "ARRefundCreditCard" for memo, _ in m.applied}
        problems = self.report.books_problems
        for order_id in self.woo.order_ids():
            order = self.woo.get_order(order_id)
            found = by_order.get(str(order_id), [])
            if order["status"] not in POSTING or len(found) != 1:
                continue  # the landing check above speaks for these
            document = found[0]
            refunds = [r for r in order.get("refunds") or []]
            store_net = Decimal(str(order["total"])) - sum(
                (abs(Decimal(str(r.get("total") or r.get("amount") or 0))) for r in refunds),
                Decimal(0),
            )
            credits = [
                memos[t.txn_id]
                for t in txns
                if t.kind == "CreditMemo" and f"of order #{order['number']} (id {order_id})"
                in (t.memo or "")
            ]  # fmt: skip
            books_net = document.total - sum((c.total for c in credits), Decimal(0))
            label = f"order {order['number']} ({order['status']})"
            if books_net != store_net:
                problems.append(f"{label}: QuickBooks nets {books_net}, the store {store_net}")
            is_paid = order.get("date_paid") is not None
            mine = payments.get(str(order_id), [])
            if is_paid:
                account = PAYMENTS.get(order["payment_method"], {}).get(
                    "deposit_account", "Undeposited Funds"
                )
                if document.kind == "Invoice" and document.balance != 0:
                    problems.append(f"{label}: paid, but {document.balance} is still open")
                if document.kind == "Invoice" and [m.account for m in mine] != [account]:
                    problems.append(
                        f"{label}: paid by {order['payment_method']}, payments "
                        f"{[(m.total, m.account) for m in mine]} (want one in {account})"
                    )
                unpaid_out = [c.ref_number for c in credits if c.txn_id not in paid_out]
                if unpaid_out:
                    problems.append(f"{label}: credit memos {unpaid_out} were not paid out")
            else:
                if mine:
                    problems.append(f"{label}: unpaid, yet payments {[m.total for m in mine]}")
                if document.balance != store_net:
                    problems.append(
                        f"{label}: unpaid, {document.balance} open, the store is owed {store_net}"
                    )

    def _check_currency(self, order: dict[str, Any], txn: QbdTxn) -> None:
        """The transaction and its customer are in the order's currency."""
        code = str(order["currency"])
        wanted = CURRENCY_NAMES[code]
        customer = self.company.customer_currency(txn.customer) if txn.customer else None
        if (txn.currency, customer) != (wanted, wanted):
            self.report.currency_problems.append(
                f"order {order['number']} in {code}: {txn.kind} {txn.ref_number} is in "
                f"{txn.currency}, its customer {txn.customer!r} in {customer}"
            )
        elif code != "USD":
            self.report.foreign_orders[code] += 1

    def _check_rules(self, order: dict[str, Any], txn: QbdTxn) -> None:
        """Classes (RULES) per line and for the transaction, and terms (TERMS) on invoices."""
        wholesale = int(order.get("customer_id") or 0) in self.wholesale
        gift = [fnmatchcase(str(item.get("sku") or ""), "GIFT-*") for item in order["line_items"]]
        line_classes = [
            "Gift Cards" if is_gift else "Wholesale" if wholesale else None for is_gift in gift
        ]
        whole = "Gift Cards" if gift and all(gift) else "Wholesale" if wholesale else None
        items = len(order["line_items"])
        wanted = line_classes + [whole] * (len(txn.lines) - items)
        found = [line.class_name for line in txn.lines]
        label = f"order {order['number']} ({txn.kind} {txn.ref_number})"
        if (txn.class_name, found) != (whole, wanted):
            self.report.rules_problems.append(
                f"{label}: classes {txn.class_name} / {found}, want {whole} / {wanted}"
            )
        for name in {*found, txn.class_name} - {None}:
            self.report.classed[str(name)] += 1
        if txn.kind == "Invoice":
            terms = TERMS["wholesale_customer"] if wholesale else TERMS["default"]
            if txn.terms != terms:
                self.report.rules_problems.append(f"{label}: terms {txn.terms}, want {terms}")
            self.report.terms[str(txn.terms)] += 1

    def _inject(self, session_number: int, wc: WebConnector) -> None:
        if not self.faults:
            return
        if session_number == 0:
            # The bookkeeper has a vendor named like the first order's buyer -> 3100.
            billing = self.woo.get_order(self.woo.order_ids()[0])["billing"]
            name = f"{billing['first_name']} {billing['last_name']}".strip()
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
                    f"session {number + 1}: {session.outcome}, {len(session.requests)} messages, "
                    f"{session.round_trips} round trips"
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

    def _check(self) -> None:
        by_order: dict[str, list[QbdTxn]] = {}
        txns = self.company.transactions()
        money = self.company.money_txns()
        self._check_ref_numbers(txns, money)
        for txn in txns:
            memo = txn.memo or ""
            if txn.kind == "CreditMemo":
                refund_id = (
                    memo.split("refund ", 1)[1].split(" ", 1)[0] if "refund " in memo else ""
                )
                self.report.credit_memos.setdefault(refund_id, []).append(txn.total)
                continue
            if "(id " in memo:
                noted = memo.split("(id ", 1)[1].split(")", 1)[0]
                by_order.setdefault(noted, []).append(txn)
        for order_id in self.woo.order_ids():
            order = self.woo.get_order(order_id)
            found = by_order.get(str(order_id), [])
            buyer = (str(order["billing"]["email"]).strip().lower(), str(order["currency"]))
            names = self.report.customers_by_buyer.setdefault(buyer, set())
            names.update(t.customer for t in found if t.customer)
            if not names:
                del self.report.customers_by_buyer[buyer]  # nothing of theirs posted (yet)
            if order["status"] in POSTING and len(found) == 1:
                self._check_currency(order, found[0])
                self._check_rules(order, found[0])
            self.report.checks.append(
                DeskOrderCheck(
                    order_id=order_id,
                    number=str(order["number"]),
                    status=str(order["status"]),
                    store_total=Decimal(str(order["total"])),
                    transactions=len(found),
                    ledger_total=found[0].total if found else None,
                )
            )
        self._check_books(by_order, txns, money)
        self.report.transactions = len(txns) + len(money)
        customers = [c for c in self.company.customers() if c.name != "Cash Customer"]
        self.report.customers = len(customers)
        # One customer per buyer and currency ("Ada Lovelace" and "Ada Lovelace (CAD)").
        emails = Counter(
            ((c.email or c.name).casefold(), self.company.customer_currency(c.name))
            for c in customers
        )
        self.report.duplicate_customers = [
            f"{email} ({currency})" for (email, currency), n in emails.items() if n > 1
        ]
        self.report.qbxml_messages = self.company.messages_processed
        self.report.statuses = dict(self.company.statuses)

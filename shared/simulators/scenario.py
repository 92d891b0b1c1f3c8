"""A store's day, end to end: simulated WooCommerce -> local runtime -> simulated QuickBooks Online.

The demo, the end-to-end test and the benchmark all run this scenario: the
store sends signed webhooks (a ping, duplicates, out-of-order deliveries, a
deleted product, guests, O'Brien) while QuickBooks throttles, loses a response,
expires tokens and reports a stale SyncToken. An order whose item is inactive
in QuickBooks is parked; the bookkeeper reactivates the item and replays it.
Then every order is checked: one document, the store's total to the cent, an
audit trail. The books must tie out: paid invoices are paid into the account
their gateway maps to, unpaid ones stay open, refunds (lines, shipping, amounts,
whole orders; of paid and unpaid orders) net every order to the store's net,
and orders in five foreign currencies post in their currency for customers in
that currency. Long store numbers get DocNumbers that fit, never repeated.

This is WooCommerce's own, deeper day. The store-neutral day that runs through WooCommerce,
BigCommerce and Magento alike (into QuickBooks Online or Desktop) is ``simulators.shops``.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from connector.config import TenantConfig
from connector.replay import replay_parked
from simulators.qbo import QboSimulator
from simulators.testbed.deployment import Rig, deployment
from simulators.woocommerce import LineSpec, OrderSpec, WooSimulator
from simulators.woocommerce_webhooks import WebhookSender

CONNECTION = "demo-shop"
WEBHOOK_SECRET = "DemoWebhookSecret42"
STORE_KEYS: dict[str, str] = {"consumer_key": "ck_demo", "consumer_secret": "cs_demo"}
QBO_APP: dict[str, str] = {"client_id": "demo-app", "client_secret": "demo-app-secret"}
GIFT_CARD_PRODUCT = 13  # mapped to an item the bookkeeper has made inactive
POSTER_PRODUCT = 11  # deleted from the catalogue after it sold
ZERO = Decimal("0")
POSTING = ("processing", "completed", "on-hold", "refunded")
FOREIGN_RATES = {  # the company's rates (USD per unit) for the currencies the store sells in
    "CAD": Decimal("0.7300"),
    "EUR": Decimal("1.0850"),
    "GBP": Decimal("1.2700"),
    "AUD": Decimal("0.6600"),
    "NZD": Decimal("0.6000"),
}
DEPOSIT_ACCOUNTS = {"stripe": "Checking", "paypal": "PayPal Bank"}  # the rest: Undeposited Funds

Progress = Callable[[str], None]


@dataclass
class OrderCheck:
    order_id: int
    number: str
    status: str
    store_total: Decimal
    documents: int
    ledger_total: Decimal | None
    audit_events: list[str]
    # What is wrong with the order's money in the books beyond its document (Online).
    books: list[str] = field(default_factory=list)

    @property
    def expected_documents(self) -> int:
        return 1 if self.status in POSTING else 0

    @property
    def ok(self) -> bool:
        if not self.audit_events or self.books:
            return False
        return order_landed_right(self.status, self.documents, self.ledger_total, self.store_total)


def order_landed_right(
    status: str, documents: int, ledger_total: Decimal | None, store_total: Decimal
) -> bool:
    """What the books must hold for a store order in its final status, Online or Desktop."""
    if status in POSTING:
        return documents == 1 and ledger_total == store_total
    if status in ("cancelled", "trash"):
        # Posted before the cancellation arrived -> voided; cancelled first -> never posted.
        return documents == 0 or (documents == 1 and ledger_total == Decimal("0"))
    return documents == 0


@dataclass
class ScenarioReport:
    orders: int = 0
    webhooks_sent: int = 0
    webhooks_accepted: int = 0
    duplicate_deliveries: int = 0
    skipped_unchanged: int = 0
    faults_injected: list[str] = field(default_factory=list)
    parked: dict[str, str] = field(default_factory=dict)
    replayed: int = 0
    checks: list[OrderCheck] = field(default_factory=list)
    documents_posted: int = 0
    payments: int = 0
    paid_invoices: int = 0
    open_invoices: int = 0
    refunds: int = 0
    refund_receipts: int = 0
    credit_memos: int = 0
    foreign_orders: dict[str, int] = field(default_factory=dict)  # currency -> orders
    long_numbers: int = 0
    doc_number_problems: list[str] = field(default_factory=list)
    customers: int = 0
    duplicate_customers: list[str] = field(default_factory=list)
    qbo_requests: int = 0
    qbo_writes: int = 0
    elapsed_s: float = 0.0

    @property
    def problems(self) -> list[OrderCheck]:
        return [c for c in self.checks if not c.ok]

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
            f"orders in the store          {self.orders}",
            f"webhooks sent / accepted     {self.webhooks_sent} / {self.webhooks_accepted}",
            f"duplicates absorbed          {self.duplicate_deliveries} repeat deliveries, "
            f"{self.skipped_unchanged} unchanged updates skipped",
            f"QuickBooks faults injected   {', '.join(self.faults_injected) or 'none'}",
            f"documents in QuickBooks      {self.documents_posted} for "
            f"{sum(c.expected_documents for c in self.checks)} postable orders",
            f"payments                     {self.payments} ({self.paid_invoices} invoices paid, "
            f"{self.open_invoices} left open)",
            f"refunds                      {self.refunds} in the store: "
            f"{self.refund_receipts} refund receipts, {self.credit_memos} credit memos",
            "foreign-currency orders      "
            + (", ".join(f"{n} {cur}" for cur, n in sorted(self.foreign_orders.items())) or "none"),
            f"long order numbers fitted    {self.long_numbers}",
            f"customers in QuickBooks      {self.customers}",
            f"records parked, then replayed {len(self.parked)} / {self.replayed}",
        ]
        reasons = Counter(self.parked.values())
        lines += [f"  {count} x {why}" for why, count in reasons.most_common()]
        lines.append(
            f"QuickBooks requests          {self.qbo_requests} ({self.qbo_writes} writes) "
            f"in {self.elapsed_s:.1f} s"
        )
        if self.ok:
            lines.append("result                       every order once, totals equal to the cent")
        else:
            for check in self.problems:
                lines.append(
                    f"PROBLEM order {check.number} ({check.status}): {check.documents} documents, "
                    f"QuickBooks total {check.ledger_total}, store total {check.store_total}"
                    + "".join(f"; {problem}" for problem in check.books)
                )
            lines += [f"PROBLEM duplicate customer {name}" for name in self.duplicate_customers]
            lines += [f"PROBLEM {problem}" for problem in self.doc_number_problems]
        return "\n".join(lines)


def tenant_config(woo_url: str, qbo_url: str, *, document: str = "invoice") -> TenantConfig:
    return TenantConfig.model_validate(
        {
            "tenant": "demo",
            "connections": [
                {
                    "id": CONNECTION,
                    "document": document,
                    "store": {"kind": "woocommerce", "url": woo_url},
                    "ledger": {
                        "kind": "qbo",
                        "environment": "sandbox",
                        "api_base": qbo_url,
                        "token_url": f"{qbo_url}/oauth2/v1/tokens/bearer",
                        "authorize_url": f"{qbo_url}/connect/oauth2",
                    },
                    "mapping": {
                        "items": {"GIFT-25": "Gift Cards"},
                        "fallback_item": "Sales",
                        "auto_create_items": True,
                        "income_account": "Sales of Product Income",
                        "shipping_item": "Shipping",
                        "fee_item": "Fees",
                        "doc_number": "{prefix}{number}",
                        "doc_prefix": "WC-",
                        "refund_item": "Refunds",
                        "tax": {"mode": "us_automated"},
                        "payments": {
                            "stripe": {"method": "Visa", "deposit_account": "Checking"},
                            "paypal": {"method": "PayPal", "deposit_account": "PayPal Bank"},
                            "default": {"deposit_account": "Undeposited Funds"},
                        },
                    },
                }
            ],
        }
    )


class Scenario:
    def __init__(
        self,
        *,
        orders: int,
        seed: int = 7,
        faults: bool = True,
        progress: Progress | None = None,
        qbo_latency_s: float = 0.0,
    ) -> None:
        self.orders = orders
        self.faults = faults
        self._rng = random.Random(seed)
        self._say = progress or (lambda _line: None)
        self.woo = WooSimulator(
            consumer_key=STORE_KEYS["consumer_key"],
            consumer_secret=STORE_KEYS["consumer_secret"],
            seed=seed,
        )
        self.qbo = QboSimulator(
            client_id=QBO_APP["client_id"],
            client_secret=QBO_APP["client_secret"],
            latency_s=qbo_latency_s,
            multicurrency=True,
        )
        self.report = ScenarioReport()

    # --- running --------------------------------------------------------------------------
    def run(self) -> ScenarioReport:
        started = time.monotonic()
        secrets = {
            CONNECTION: {
                "store": {**STORE_KEYS, "webhook_secret": WEBHOOK_SECRET},
                "ledger": dict(QBO_APP),
            }
        }
        with deployment(
            "demo",
            lambda at: tenant_config(at.store, at.qbo).connections,
            secrets,
            store=self.woo,
            qbo=self.qbo,
            connect=(),  # the bookkeeper's company is set up first
            poll_interval_s=0.2,
        ) as rig:
            self._say(
                f"local runtime at {rig.runtime.base_url}; store {rig.endpoints.store}; "
                f"QuickBooks {rig.endpoints.qbo}"
            )
            self._connect(rig)
            sender = rig.woo_sender(CONNECTION, WEBHOOK_SECRET)
            try:
                self._trade(rig, sender)
            finally:
                sender.close()
            self._fix_and_replay(rig)
            self._check(rig)
        self.report.elapsed_s = time.monotonic() - started
        return self.report

    def _connect(self, rig: Rig) -> None:
        """The merchant clicks Connect to QuickBooks; the simulated Intuit approves."""
        # The bookkeeper's QuickBooks has a gift-card item they have made inactive.
        self.qbo.seed(
            "Item",
            {
                "Name": "Gift Cards",
                "Type": "NonInventory",
                "IncomeAccountRef": {"value": "1"},
                "Active": False,
            },
        )
        # PayPal money lands in its own bank account; QuickBooks knows last month's rates.
        self.qbo.seed("PaymentMethod", {"Name": "PayPal", "Type": "NON_CREDIT_CARD"})
        self.qbo.seed(
            "Account", {"Name": "PayPal Bank", "AccountType": "Bank", "AccountSubType": "Checking"}
        )
        rates_from = date.today() - timedelta(days=30)
        for currency, rate in FOREIGN_RATES.items():
            self.qbo.set_exchange_rate(currency, rate, rates_from)
        rig.connect(CONNECTION)
        self._say("QuickBooks connected through the OAuth flow")

    def _deliver(self, sender: WebhookSender, topic: str, resource_id: int) -> None:
        status = sender.deliver(topic, resource_id)
        self.report.webhooks_sent += 1
        if 200 <= status < 300:
            self.report.webhooks_accepted += 1

    def _trade(self, rig: Rig, sender: WebhookSender) -> None:
        if sender.ping() != 200:
            raise RuntimeError(f"the webhook ping failed: {sender.last_ping_error}")
        self._say("webhook saved in WooCommerce; ping answered 200")
        if self.faults:
            self._inject_faults()
        order_ids: list[int] = []
        stale_bodies: list[tuple[bytes, dict[str, str]]] = []
        for n in range(self.orders):
            spec = self.woo.random_spec(self._rng)
            if n == 2:
                spec = OrderSpec(lines=[LineSpec(POSTER_PRODUCT, 2)], status="processing")
            if n == 3:
                spec = OrderSpec(lines=[LineSpec(GIFT_CARD_PRODUCT, 1)], status="processing")
            if n == 4:
                customer = next(
                    i
                    for i in self.woo.customer_ids()
                    if "O'Brien" in self.woo.rest_representation("customer", i)["last_name"]
                )
                spec = OrderSpec(lines=[LineSpec(10, 1)], customer_id=customer, status="completed")
            if n % 7 == 5:  # a multi-currency plugin's checkout
                spec = replace(spec, currency=self._rng.choice(sorted(FOREIGN_RATES)))
            if n % 20 == 6:  # a numbering plugin's long numbers
                spec = replace(spec, number=f"EU-WEBSHOP-2026-{n:010d}")
            if n % 20 == 7:  # numbers that already carry the DocNumber prefix
                spec = replace(spec, number=f"WC-{90000 + n}")
            order = self.woo.create_order(spec)
            order_ids.append(order["id"])
            if n == 2:
                self.woo.delete_product(POSTER_PRODUCT)  # sold, then removed from the catalogue
            self._deliver(sender, "order.created", order["id"])
            if self._rng.random() < 0.15:  # WooCommerce redelivers
                self._deliver(sender, "order.created", order["id"])
                self.report.duplicate_deliveries += 1
            if self._rng.random() < 0.1:
                stale_bodies.append(self._snapshot(order["id"]))
            if n % 25 == 24:
                self._say(f"{n + 1} orders placed")
            if self.faults and n == self.orders // 2:
                self.qbo.expire_access_tokens()  # an hour passes: the next call gets a 401
                self.report.faults_injected.append("401 expired token")
        self.report.orders = len(order_ids)
        # Later in the day: updates, payments, refunds, cancellations, and stale deliveries.
        cancelled = self._rng.sample(order_ids, k=max(1, len(order_ids) // 20))
        for order_id in self._rng.sample(order_ids, k=max(1, len(order_ids) // 10)):
            current = self.woo.get_order(order_id)["status"]
            if current in ("pending", "processing"):
                self.woo.update_order(order_id, status="completed")
                self._deliver(sender, "order.updated", order_id)
        self._pay_and_refund(sender, [i for i in order_ids if i not in cancelled])
        for order_id in cancelled:
            self.woo.update_order(order_id, status="cancelled")
            self._deliver(sender, "order.updated", order_id)
        for body, headers in stale_bodies:  # out of order: an old version arrives last
            status = sender.deliver_raw(body, headers)
            self.report.webhooks_sent += 1
            self.report.duplicate_deliveries += 1
            if 200 <= status < 300:
                self.report.webhooks_accepted += 1
        for customer_id in self.woo.customer_ids()[:2]:
            self._deliver(sender, "customer.updated", customer_id)
        self._say(f"{self.report.webhooks_sent} webhooks sent; waiting for the queue to drain")
        self._drain(rig)

    def _pay_and_refund(self, sender: WebhookSender, order_ids: list[int]) -> None:
        """Bank transfers arrive for some orders on hold; customers get money back on others:
        a line, the shipping, an amount, the whole order; paid and unpaid. WooCommerce tells
        the connector with an order update each time."""
        rng = self._rng

        def status(order_id: int) -> str:
            return str(self.woo.get_order(order_id)["status"])

        on_hold = [i for i in order_ids if status(i) == "on-hold"]
        rng.shuffle(on_hold)
        for order_id in on_hold[: len(on_hold) // 2]:
            self.woo.update_order(order_id, status="processing")  # the transfer arrived
            self._deliver(sender, "order.updated", order_id)
        unpaid = on_hold[len(on_hold) // 2 :]
        paid = [i for i in order_ids if status(i) in ("processing", "completed")]
        rng.shuffle(paid)
        k = max(1, len(paid) // 12)
        groups = [paid[n * k : (n + 1) * k] for n in range(4)]
        refunds: list[tuple[int, dict[str, Any]]] = []
        for order_id in groups[0]:  # one unit of the first line
            line = self.woo.get_order(order_id)["line_items"][0]
            refunds.append((order_id, self.woo.add_refund(order_id, items={line["id"]: 1})))
        for order_id in groups[1]:  # the shipping
            if Decimal(self.woo.get_order(order_id)["shipping_total"]) > 0:
                refunds.append((order_id, self.woo.add_refund(order_id, shipping=True)))
        for order_id in groups[2] + unpaid[: max(1, len(unpaid) // 2)]:  # an amount
            if Decimal(self.woo.get_order(order_id)["total"]) > 3:
                refund = self.woo.add_refund(order_id, amount=Decimal("3.00"), reason="goodwill")
                refunds.append((order_id, refund))
        for order_id in groups[3]:  # the whole order
            order = self.woo.get_order(order_id)
            rest = Decimal(order["total"]) + sum(Decimal(r["total"]) for r in order["refunds"])
            if rest > 0:
                refunds.append((order_id, self.woo.add_refund(order_id, amount=rest)))
        for order_id, _ in refunds:
            self._deliver(sender, "order.updated", order_id)
        self.report.refunds = len(refunds)
        amounts = [(o, r) for o, r in refunds if not r["line_items"] and not r["shipping_lines"]]
        if amounts:  # given by mistake, and deleted again
            order_id, refund = amounts[0]
            self.woo.delete_refund(order_id, refund["id"])
            self._deliver(sender, "order.updated", order_id)
            self.report.refunds -= 1

    def _snapshot(self, order_id: int) -> tuple[bytes, dict[str, str]]:
        from simulators.woocommerce_webhooks import php_json, webhook_signature

        body = php_json(self.woo.rest_representation("order", order_id))
        return body, {
            "Content-Type": "application/json",
            "X-WC-Webhook-Topic": "order.updated",
            "X-WC-Webhook-Signature": webhook_signature(body, WEBHOOK_SECRET),
        }

    def _inject_faults(self) -> None:
        self.qbo.inject(429, times=3)
        self.qbo.inject("lost", times=1, entity="Invoice", operation="create")
        self.qbo.inject(503, times=1, entity="Invoice", operation="create")
        self.qbo.inject(5010, times=1, entity="Invoice", operation="update")
        self.report.faults_injected += ["429 throttled x3", "lost response", "503", "5010 stale"]

    def _drain(self, rig: Rig) -> None:
        deadline = time.monotonic() + 60 + self.orders * 2
        while time.monotonic() < deadline:
            if rig.runtime.drain(timeout_s=5):
                return
            self._say(f"  ... {self._posted(rig)} records in step so far")
        raise RuntimeError("the sync queue did not drain")

    def _posted(self, rig: Rig) -> int:
        return sum(
            1
            for s in rig.state_store.sync_states(CONNECTION, "order")
            if s.status in ("posted", "voided")
        )

    def _fix_and_replay(self, rig: Rig) -> None:
        for record in rig.state_store.sync_states(CONNECTION, "order"):
            if record.status == "parked":
                self.report.parked[record.record_key] = record.last_error or ""
        if not self.report.parked:
            return
        self._say(
            f"{len(self.report.parked)} parked; the bookkeeper reactivates 'Gift Cards' and replays"
        )
        for item in self.qbo.documents("Item"):
            if item["Name"] == "Gift Cards":
                self.qbo.set_active("Item", item["Id"], True)
        result = replay_parked(rig.sqs, dlq_url=rig.dlq_url, queue=rig.sync_queue())
        self.report.replayed = len(result.replayed)
        self._drain(rig)

    # --- checking --------------------------------------------------------------------------
    def _check(self, rig: Rig) -> None:
        audit = rig.trail
        books = _Books(self.qbo)
        for order_id in self.woo.order_ids():
            order = self.woo.get_order(order_id)
            docs = books.of(order_id, "Invoice")
            events = audit.events(f"{CONNECTION}#order#{order_id}")
            self.report.skipped_unchanged += sum(
                1 for e in events if e.event == "skipped" and "unchanged" in e.outcome
            )
            check = OrderCheck(
                order_id=order_id,
                number=str(order["number"]),
                status=str(order["status"]),
                store_total=Decimal(str(order["total"])),
                documents=len(docs),
                ledger_total=Decimal(str(docs[0]["TotalAmt"])) if docs else None,
                audit_events=[e.event for e in events],
            )
            if check.status in POSTING and len(docs) == 1:
                check.books = books.problems(order, docs[0])
                if order["date_paid_gmt"]:
                    self.report.paid_invoices += 1
                else:
                    self.report.open_invoices += 1
            self.report.checks.append(check)
            if order["currency"] != "USD":
                currency = str(order["currency"])
                self.report.foreign_orders[currency] = (
                    self.report.foreign_orders.get(currency, 0) + 1
                )
            if len(f"WC-{order['number']}") > 21:
                self.report.long_numbers += 1
        invoices = self.qbo.documents("Invoice")
        self.report.documents_posted = len(invoices)
        self.report.payments = len(books.of_kind("Payment"))
        self.report.refund_receipts = len(books.of_kind("RefundReceipt"))
        self.report.credit_memos = len(books.of_kind("CreditMemo"))
        numbers = Counter(str(d.get("DocNumber", "")) for d in invoices)
        self.report.doc_number_problems = [
            f"DocNumber {n!r} " + ("is over 21 characters" if len(n) > 21 else f"used {c} times")
            for n, c in numbers.items()
            if len(n) > 21 or c > 1
        ]
        customers = self.qbo.documents("Customer")
        self.report.customers = len(customers)
        names = Counter(c["DisplayName"] for c in customers)
        per_email = Counter(
            (str((c.get("PrimaryEmailAddr") or {}).get("Address", "")).lower(), _currency(c))
            for c in customers
            if c.get("PrimaryEmailAddr")
        )
        self.report.duplicate_customers = [n for n, count in names.items() if count > 1] + [
            f"{email} in {currency}" for (email, currency), n in per_email.items() if n > 1
        ]
        self.report.qbo_requests = len(self.qbo.request_log)
        self.report.qbo_writes = self.qbo.writes


def _currency(record: dict[str, Any], home: str = "USD") -> str:
    return str((record.get("CurrencyRef") or {}).get("value") or home)


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


class _Books:
    """What the simulated company holds for each store order, as a bookkeeper reconciles it."""

    def __init__(self, qbo: QboSimulator) -> None:
        self._qbo = qbo
        self._by_order: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._kinds: dict[str, list[dict[str, Any]]] = {}
        for kind in ("Invoice", "Payment", "RefundReceipt", "CreditMemo"):
            documents = qbo.documents(kind)
            self._kinds[kind] = [d for d in documents if "(id " in str(d.get("PrivateNote", ""))]
            for doc in self._kinds[kind]:
                noted = str(doc["PrivateNote"]).split("(id ", 1)[1].split(")", 1)[0]
                self._by_order.setdefault((kind, noted), []).append(doc)
        self._customers = {str(c["Id"]): c for c in qbo.documents("Customer")}
        self._accounts = {str(a["Name"]): str(a["Id"]) for a in qbo.documents("Account")}

    def of(self, order_id: int, kind: str) -> list[dict[str, Any]]:
        return self._by_order.get((kind, str(order_id)), [])

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return self._kinds[kind]

    def problems(self, order: dict[str, Any], invoice: dict[str, Any]) -> list[str]:
        """Everything about a posted order's money that does not tie out with the store."""
        order_id = int(order["id"])
        found: list[str] = []
        refunds = self.of(order_id, "RefundReceipt") + self.of(order_id, "CreditMemo")
        store_net = Decimal(order["total"]) + sum(Decimal(r["total"]) for r in order["refunds"])
        net = _money(invoice["TotalAmt"]) - sum((_money(d["TotalAmt"]) for d in refunds), ZERO)
        if net != store_net:
            found.append(f"QuickBooks nets {net}, the store {store_net}")
        payments = [p for p in self.of(order_id, "Payment") if _money(p["TotalAmt"]) > 0]
        balance = _money(invoice["Balance"])
        if order["date_paid_gmt"] and Decimal(order["total"]) > 0:
            account = DEPOSIT_ACCOUNTS.get(order["payment_method"], "Undeposited Funds")
            if len(payments) != 1:
                found.append(f"{len(payments)} payments for a paid order")
            elif payments[0]["DepositToAccountRef"]["value"] != self._accounts[account]:
                found.append(
                    f"paid into account {payments[0]['DepositToAccountRef']}, not {account}"
                )
            if balance != 0:
                found.append(f"a paid invoice has balance {balance}")
        else:
            credited = sum((_money(d["TotalAmt"]) for d in self.of(order_id, "CreditMemo")), ZERO)
            if payments:
                found.append("an unpaid order has a payment")
            if balance != _money(invoice["TotalAmt"]) - credited:
                found.append(f"an unpaid invoice has balance {balance}, not its total less credits")
        customer = self._customers.get(str(invoice["CustomerRef"]["value"]), {})
        currencies = {
            "invoice": _currency(invoice),
            "customer": _currency(customer),
            **{f"{d['Id']}": _currency(d) for d in payments + refunds},
        }
        wrong = {what: cur for what, cur in currencies.items() if cur != order["currency"]}
        if wrong:
            found.append(f"order in {order['currency']} but {wrong}")
        return found

"""Playing a planned day into a store, and the store's pushes into the connector.

``Trader`` places each planned order through the store's driver, then makes the day's later
changes, and posts the store's pushes to the connector's webhook URL the way stores really
deliver them: some twice (``DUPLICATE_SHARE``), some at the end of the day after newer news
(``LATE_SHARE``: a WooCommerce body is then a stale snapshot), and none at all for the silent
orders, which only the reconcile poll can find. ``Pushes`` counts what was sent, what the
store refused to do, how fast the ingest answered and how often the connector called the
store.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from connector import webhook_setup
from simulators.shops.driver import Delivery, OrderView, Refused, StoreDriver
from simulators.shops.stream import Change, Day
from simulators.testbed.deployment import Rig

DUPLICATE_SHARE = 0.15  # pushes the store sends twice
LATE_SHARE = 0.10  # pushes that arrive at the end of the day, after newer ones

Progress = Callable[[str], None]


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


@dataclass
class Pushes:
    store: str
    orders: int = 0
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    late: int = 0
    silent_orders: int = 0  # orders the store never pushed: found by the poll alone
    silent_ids: set[str] = field(default_factory=set)  # their store ids
    polls: int = 0
    # Pushed orders whose books the end-of-day poll still changed: a push the connector missed.
    caught_by_poll: list[str] = field(default_factory=list)
    sent_about: dict[str, list[str]] = field(default_factory=dict)  # store id -> what was sent
    changes: Counter[str] = field(default_factory=Counter)  # "pay", "refund amount", ...
    refused: Counter[str] = field(default_factory=Counter)  # changes the store cannot make
    refund_kinds: Counter[str] = field(default_factory=Counter)  # "line paid", "full unpaid"...
    foreign_orders: Counter[str] = field(default_factory=Counter)  # currency -> orders
    ingest_s: list[float] = field(default_factory=list)  # the ingest's answer time per push
    store_calls: int = 0  # API requests the connector made to the store

    @property
    def calls_per_order(self) -> float:
        return self.store_calls / self.orders if self.orders else 0.0

    def missed_beyond_look_alike_updates(self) -> list[str]:
        """Orders the end-of-day poll still changed that BigCommerce did not call
        ``store/order/updated`` about twice: two stubs of one second carry the same ``hash``
        and ``created_at``, exactly like a re-sent event, so SQS takes the second for a repeat
        and the poll brings that change. Any other order here is a push the connector missed."""
        return [
            store_id
            for store_id in self.caught_by_poll
            if self.sent_about.get(store_id, []).count("store/order/updated") < 2
        ]

    def ingest_ms(self, pct: float) -> float:
        return percentile(self.ingest_s, pct) * 1000 if self.ingest_s else 0.0

    def lines(self) -> list[str]:
        changes = ", ".join(f"{n} {what}" for what, n in sorted(self.changes.items()))
        foreign = ", ".join(f"{n} {cur}" for cur, n in sorted(self.foreign_orders.items()))
        return [
            f"pushes sent / accepted       {self.sent} / {self.accepted} "
            f"({self.duplicates} twice, {self.late} late and stale)",
            f"found only by the poll       {self.silent_orders} orders ({self.polls} polls)",
            f"missed pushes the poll found {len(self.caught_by_poll)} orders",
            f"later that day               {changes or 'nothing'}",
            f"foreign-currency checkouts   {foreign or 'none'}",
            f"store API calls              {self.store_calls} ({self.calls_per_order:.1f} per order)",
            f"ingest answer p50 / p95      {self.ingest_ms(50):.1f} / {self.ingest_ms(95):.1f} ms",
        ]


def register_webhooks(rig: Rig) -> str:
    """``connector webhooks sync``, as the README tells the merchant to run it: each store's
    webhooks created through its API (Magento's report says it is polled). Its table."""
    with httpx.Client(timeout=30) as http:
        found = webhook_setup.run(
            "sync",
            list(rig.config.connections),
            base_url=rig.runtime.base_url,
            vault=rig.vault,
            http=http,
        )
    if webhook_setup.exit_code(found, verb="sync") != 0:
        raise RuntimeError(webhook_setup.render(found, verb="sync"))
    return webhook_setup.render(found, verb="sync")


def drain(rig: Rig, orders: int, say: Progress) -> None:
    """Wait until the sync queue is empty (its worker has acted on every push)."""
    say("waiting for the queue to drain")
    deadline = time.monotonic() + 120 + orders * 2
    while time.monotonic() < deadline:
        if rig.runtime.drain(timeout_s=10):
            return
        say("  ... still draining")
    raise RuntimeError("the sync queue did not drain")


def poll_now(rig: Rig) -> None:
    """What the reconcile schedule does, at once (``{"poll": "now"}``)."""
    rig.runtime.fire_schedule("reconcile", detail={"poll": "now"})


# Audit events that mean the books changed (Desktop: a change queued for the Web Connector).
BOOKS_CHANGED = frozenset({"posted", "updated", "voided", "deleted", "queued"})


def books_changes(rig: Rig, connection_id: str, views: list[OrderView]) -> dict[str, set[str]]:
    """Per order, the distinct changes its document, payment and refunds saw (audit events;
    a change queued again in the same words is no new change)."""
    changes: dict[str, set[str]] = {}
    for view in views:
        keys = [f"order#{view.store_id}", f"payment#{view.store_id}"]
        keys += [f"refund#{r.refund_id}" for r in view.refunds]
        changes[view.store_id] = {
            f"{key} {event.event}: {event.outcome}"
            for key in keys
            for event in rig.audit_of(f"{connection_id}#{key}")
            if event.event in BOOKS_CHANGED
        }
    return changes


class Trader:
    def __init__(
        self,
        driver: StoreDriver,
        day: Day,
        *,
        seed: int,
        silent_share: float = 0.0,
        progress: Progress | None = None,
    ) -> None:
        self.driver = driver
        self.day = day
        self.pushes = Pushes(store=driver.display_name)
        self._rng = random.Random(seed * 31 + 1)
        orders = len(day.orders)
        self.silent = frozenset(self._rng.sample(range(orders), round(orders * silent_share)))
        self._say = progress or (lambda _line: None)
        self._late: list[tuple[str, Delivery]] = []
        self._store_ids: dict[int, str] = {}
        self._url = ""
        self._http = httpx.Client(timeout=30)

    def close(self) -> None:
        self._http.close()

    def play(
        self,
        rig: Rig,
        connection_id: str,
        webhook_secret: str,
        *,
        midday: Callable[[], None] = lambda: None,
        settled: Callable[[], None] = lambda: None,
    ) -> None:
        """The merchant runs ``connector webhooks sync``; the day is traded and its pushes
        drained; ``settled`` runs (the bookkeeper's turn), then the end-of-day poll. The store
        API calls the connector made meanwhile are counted."""
        self._say(register_webhooks(rig))
        self.driver.hook_up(webhook_secret)
        calls_before = self.driver.calls
        self.trade(rig.webhook_url(connection_id), midday=midday)
        drain(rig, self.pushes.orders, self._say)
        settled()
        self.end_of_day_poll(rig, connection_id, lambda: drain(rig, self.pushes.orders, self._say))
        self.pushes.store_calls = self.driver.calls - calls_before

    def end_of_day_poll(self, rig: Rig, connection_id: str, drain: Callable[[], None]) -> None:
        """The schedule's last poll of the day, once the pushes are settled: for which pushed
        orders it still changed the books (a push the connector missed)."""
        pushed = [
            self.driver.view(sid)
            for sid in self._store_ids.values()
            if sid not in self.pushes.silent_ids
        ]
        before = books_changes(rig, connection_id, pushed)
        poll_now(rig)
        self.pushes.polls += 1
        drain()
        after = books_changes(rig, connection_id, pushed)
        self.pushes.caught_by_poll = sorted(
            view.store_id for view in pushed if after[view.store_id] - before[view.store_id]
        )

    def trade(self, webhook_url: str, midday: Callable[[], None] = lambda: None) -> None:
        """The whole day: checkouts (``midday`` runs halfway through), later changes, and the
        late deliveries last."""
        self._url = webhook_url
        store_ids = self._store_ids
        for plan in self.day.orders:
            store_id, delivery = self.driver.place(plan)
            store_ids[plan.n] = store_id
            self.pushes.orders += 1
            if plan.currency:
                self.pushes.foreign_orders[plan.currency] += 1
            self._push(plan.n, delivery)
            if (plan.n + 1) % 25 == 0:
                self._say(f"  {plan.n + 1} orders placed")
            if plan.n == len(self.day.orders) // 2:
                midday()
        for change in self.day.later:
            self._change(change, store_ids[change.order])
        for about, delivery in self._late:  # out of order: older news arrives last
            self._send(about, delivery)
        self.pushes.silent_orders = len(self.silent)
        self.pushes.silent_ids = {store_ids[n] for n in self.silent}
        self._say(f"{self.pushes.sent} pushes sent")

    def _change(self, change: Change, store_id: str) -> None:
        what = change.kind if change.refund is None else f"refund {change.refund}"
        try:
            if change.kind == "pay":
                delivery = self.driver.pay(store_id)
            elif change.kind == "complete":
                delivery = self.driver.complete(store_id)
            elif change.kind == "cancel":
                delivery = self.driver.cancel(store_id)
            else:
                assert change.refund is not None
                paid = self.driver.view(store_id).paid
                delivery = self.driver.refund(store_id, change.refund)
                self.pushes.refund_kinds[f"{change.refund} {'paid' if paid else 'unpaid'}"] += 1
        except Refused:
            self.pushes.refused[what] += 1
            return
        self.pushes.changes[what] += 1
        self._push(change.order, delivery)

    def _push(self, n: int, delivery: Delivery | None) -> None:
        """The store's push about order ``n``: none for a silent order; some twice, some late."""
        if delivery is None or n in self.silent:
            return
        about = self._store_ids[n]
        if self._rng.random() < LATE_SHARE:
            self._late.append((about, delivery))
            self.pushes.late += 1
            return
        self._send(about, delivery)
        if self._rng.random() < DUPLICATE_SHARE:
            self._send(about, delivery)
            self.pushes.duplicates += 1

    def _send(self, about: str, delivery: Delivery) -> None:
        self.pushes.sent_about.setdefault(about, []).append(delivery.what)
        started = time.perf_counter()
        answer = self._http.post(self._url, content=delivery.body, headers=dict(delivery.headers))
        self.pushes.ingest_s.append(time.perf_counter() - started)
        self.pushes.sent += 1
        if 200 <= answer.status_code < 300:
            self.pushes.accepted += 1

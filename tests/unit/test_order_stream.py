"""The seeded day every store plays (simulators.shops.stream): the same for a seed, and a
plausible day: changes only where a shop would make them."""

from __future__ import annotations

from collections import Counter

from simulators.shops.stream import (
    FOREIGN,
    FOREIGN_EVERY,
    LONG_NUMBER_EVERY,
    REFUND_KINDS,
    REGISTERED,
    plan_day,
)


def test_a_seed_is_one_day_and_another_seed_another() -> None:
    assert plan_day(60, seed=5) == plan_day(60, seed=5)
    assert plan_day(60, seed=5) != plan_day(60, seed=6)


def test_checkouts_mix_buyers_payments_currencies_and_long_numbers() -> None:
    day = plan_day(120, seed=7)
    assert [o.n for o in day.orders] == list(range(120))
    payments = Counter(o.payment for o in day.orders)
    assert payments["card"] > payments["transfer"] > payments["abandoned"] > 0
    assert all((o.buyer in REGISTERED) == o.registered for o in day.orders)
    foreign = [o for o in day.orders if o.currency]
    assert all(o.n % FOREIGN_EVERY == FOREIGN_EVERY - 2 for o in foreign)
    assert {o.currency for o in foreign} == set(FOREIGN)
    assert [o.n for o in day.orders if o.long_number] == [
        n for n in range(120) if n % LONG_NUMBER_EVERY == LONG_NUMBER_EVERY - 14
    ]
    assert all(1 <= len(o.lines) <= 3 and all(line.quantity >= 1 for line in o.lines)
               for o in day.orders)  # fmt: skip


def test_later_changes_happen_only_where_a_shop_makes_them() -> None:
    day = plan_day(120, seed=7)
    by_n = {o.n: o for o in day.orders}
    paid_later = {c.order for c in day.later if c.kind == "pay"}
    paid = {n for n, o in by_n.items() if o.payment == "card"} | paid_later
    # Only transfers are paid later, each once, and before anything else happens to them
    assert all(by_n[n].payment == "transfer" for n in paid_later)
    assert len(paid_later) == sum(1 for c in day.later if c.kind == "pay")
    kinds = [c.kind for c in day.later]
    assert kinds == sorted(kinds, key=["pay", "complete", "refund", "cancel"].index)
    # Only paid orders ship; an abandoned checkout is never touched again
    assert all(c.order in paid for c in day.later if c.kind == "complete")
    assert not {c.order for c in day.later} & {
        n for n, o in by_n.items() if o.payment == "abandoned"
    }
    # Refunds: every kind, mostly of paid orders, a few of unpaid ones, some in two steps
    refunds = [c for c in day.later if c.kind == "refund"]
    assert {c.refund for c in refunds} == set(REFUND_KINDS)
    refunded = Counter(c.order for c in refunds)
    assert sum(1 for n in refunded if n in paid) > 3 * sum(1 for n in refunded if n not in paid)
    twice = [n for n, times in refunded.items() if times == 2]
    assert twice and all(
        [c.refund for c in refunds if c.order == n] == ["amount", "full"] for n in twice
    )
    # A cancelled order was never refunded
    cancelled = {c.order for c in day.later if c.kind == "cancel"}
    assert len(cancelled) >= 6 and not cancelled & set(refunded)


def test_a_day_of_a_few_orders_is_planned_whole() -> None:
    # `connector demo --orders 3` once raised ValueError: it sampled four refunds from fewer
    # paid orders.
    for count in range(1, 8):
        for seed in range(5):
            day = plan_day(count, seed=seed)
            assert [o.n for o in day.orders] == list(range(count))
            assert all(0 <= change.order < count for change in day.later)

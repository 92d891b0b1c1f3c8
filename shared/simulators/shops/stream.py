"""A day of trading, planned once from a seed and played into any store.

``plan_day(orders, seed)`` says who buys what (lines and quantities by catalogue position,
a registered buyer or a guest, a coupon, shipping, a fee, a foreign currency, how they pay,
a long order number) and what happens later that day: transfers paid, orders shipped,
refunds by line, shipping, amount or in full, cancellations. Nothing here knows a store:
each store's driver turns a plan into its own checkout (its catalogue, its statuses, its way
of showing a currency) and refuses what it cannot do, so the same seed is the same day in
WooCommerce, BigCommerce and Magento.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Literal

RefundKind = Literal["line", "shipping", "amount", "full"]
REFUND_KINDS: tuple[RefundKind, ...] = ("line", "shipping", "amount", "full")
# card: paid at checkout; transfer: awaits the money (some arrive later the same day);
# abandoned: the payment never completed (the order must never post).
PaymentPlan = Literal["card", "transfer", "abandoned"]
ChangeKind = Literal["pay", "complete", "refund", "cancel"]
FOREIGN: tuple[str, ...] = ("CAD", "EUR", "GBP")
FOREIGN_EVERY = 7  # every seventh order is paid in a foreign currency
LONG_NUMBER_EVERY = 20  # every twentieth has a numbering plugin's long number (stores with one)


@dataclass(frozen=True)
class Buyer:
    first_name: str
    last_name: str
    email: str
    street: str
    city: str
    region: str  # state or province code
    postcode: str
    country: str  # ISO 3166-1 alpha-2
    company: str = ""


# Registered buyers (they have store accounts) and guests; O'Brien and the accents are on
# purpose (quotes and non-ASCII in names and queries).
REGISTERED: tuple[Buyer, ...] = (
    Buyer("Jane", "Smith", "jane.smith@example.com", "1 Market St", "San Francisco", "CA", "94105", "US"),
    Buyer("Siobhán", "O'Brien", "siobhan.obrien@example.com", "350 5th Ave", "New York", "NY", "10118", "US"),
    Buyer("Ana", "Müller", "ana.mueller@example.com", "600 Congress Ave", "Austin", "TX", "78701", "US"),
    Buyer("Jean-François", "Côté", "jf.cote@example.ca", "1200 Rue Sainte-Catherine", "Montréal", "QC", "H3B 1K9", "CA"),
)  # fmt: skip
GUESTS: tuple[Buyer, ...] = (
    Buyer("Tom", "Baker", "tom.baker@example.net", "9 Ocean Ave", "Santa Monica", "CA", "90401", "US"),
    Buyer("Mia", "Tremblay", "mia.tremblay@example.net", "45 Elm St", "Portland", "OR", "97201", "US"),
    Buyer("Oliver", "Jones", "oliver.jones@example.net", "3 High St", "Boston", "MA", "02108", "US"),
)  # fmt: skip


# With ``unusual_buyers``: every tenth order is a buyer whose name Latin-1 cannot write (a
# company file would show "?? ??"): two registered, one a guest; every ninth (else) is the
# wholesale buyer's, whose store account is in the wholesale customer group.
NON_LATIN_EVERY = 10
NON_LATIN_REGISTERED: tuple[Buyer, ...] = (
    Buyer("太郎", "山田", "taro.yamada@example.jp", "1-1 Marunouchi", "Tokyo", "", "100-0005", "JP"),
    Buyer("花子", "佐藤", "hanako.sato@example.jp", "2-2 Umeda", "Osaka", "", "530-0001", "JP"),
)  # fmt: skip
NON_LATIN_GUEST = Buyer(
    "一郎", "鈴木", "ichiro.suzuki@example.jp", "3-3 Sakae", "Nagoya", "", "460-0008", "JP"
)
WHOLESALE_EVERY = 9
WHOLESALE_BUYER = Buyer(
    "Wanda", "Wholesale", "orders@wholesale.example", "9 Depot Rd", "Reno", "NV", "89501", "US",
    company="Wholesale Goods Inc",
)  # fmt: skip


@dataclass(frozen=True)
class PlannedLine:
    product: int  # a position in the store's catalogue (taken modulo its size)
    quantity: int


@dataclass(frozen=True)
class PlannedOrder:
    n: int  # its place in the day, from 0
    lines: tuple[PlannedLine, ...]
    buyer: Buyer
    registered: bool
    coupon: bool
    shipping: bool
    fee: bool  # gift wrapping, handling: whatever extra charge the store has
    currency: str | None  # a foreign currency the buyer pays in; None: the store's own
    payment: PaymentPlan
    long_number: bool
    wholesale: bool = False  # the buyer's account is in the wholesale customer group


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    order: int  # PlannedOrder.n
    refund: RefundKind | None = None


@dataclass(frozen=True)
class Day:
    orders: tuple[PlannedOrder, ...]
    later: tuple[Change, ...]  # in the order they happen, after every order is placed

    def changes_of(self, n: int) -> list[Change]:
        return [c for c in self.later if c.order == n]


def plan_day(
    orders: int, seed: int, *, foreign: tuple[str, ...] = FOREIGN, unusual_buyers: bool = False
) -> Day:
    """``orders`` checkouts and the day's later changes, the same for a seed in every store
    (``foreign``: the currencies a multi-currency checkout picks from; ``unusual_buyers``:
    non-Latin names and a wholesale buyer among them)."""
    rng = random.Random(seed)
    planned = tuple(_checkout(n, rng, foreign) for n in range(orders))
    if unusual_buyers:
        planned = tuple(_unusual(plan) for plan in planned)
    return Day(planned, _later(planned, rng))


def _unusual(plan: PlannedOrder) -> PlannedOrder:
    n = plan.n
    if n % NON_LATIN_EVERY == NON_LATIN_EVERY - 1:
        buyers = (*NON_LATIN_REGISTERED, NON_LATIN_GUEST)
        buyer = buyers[n // NON_LATIN_EVERY % len(buyers)]
        return replace(plan, buyer=buyer, registered=buyer is not NON_LATIN_GUEST)
    if n % WHOLESALE_EVERY == 4:
        return replace(plan, buyer=WHOLESALE_BUYER, registered=True, wholesale=True)
    return plan


def _checkout(n: int, rng: random.Random, foreign: tuple[str, ...]) -> PlannedOrder:
    registered = rng.random() < 0.6
    buyer = rng.choice(REGISTERED if registered else GUESTS)
    roll = rng.random()
    payment: PaymentPlan = "card" if roll < 0.6 else "transfer" if roll < 0.93 else "abandoned"
    return PlannedOrder(
        n=n,
        lines=tuple(
            PlannedLine(product, rng.choice((1, 1, 1, 2, 3)))
            for product in rng.sample(range(8), rng.randint(1, 3))
        ),
        buyer=buyer,
        registered=registered,
        coupon=rng.random() < 0.25,
        shipping=rng.random() < 0.75,
        fee=rng.random() < 0.15,
        currency=rng.choice(foreign) if n % FOREIGN_EVERY == FOREIGN_EVERY - 2 else None,
        payment=payment,
        long_number=n % LONG_NUMBER_EVERY == LONG_NUMBER_EVERY - 14,
    )


def _later(orders: tuple[PlannedOrder, ...], rng: random.Random) -> tuple[Change, ...]:
    """Transfers arrive, orders ship, money goes back, orders are cancelled.

    A third of the transfers are paid; a tenth of the paid orders ship; a sixth of the orders
    are refunded, mostly paid ones (each refund kind in turn, a few of them twice: an amount,
    then the rest), a few unpaid ones; a twentieth are cancelled, paid and unpaid ones, never
    one that was refunded.
    """
    transfers = [o.n for o in orders if o.payment == "transfer"]
    paid_later = rng.sample(transfers, len(transfers) // 3)
    paid = sorted([o.n for o in orders if o.payment == "card"] + paid_later)
    unpaid = [n for n in transfers if n not in paid_later]
    shipped = rng.sample(paid, len(paid) // 10)
    # A short stream (connector demo --orders 3) has fewer paid orders than the usual share.
    refunded = rng.sample(paid, min(len(paid), max(4, len(orders) // 7))) + rng.sample(
        unpaid, min(len(unpaid), max(1, len(orders) // 40))
    )
    refunds: list[Change] = []
    for i, n in enumerate(refunded):
        kind = REFUND_KINDS[i % len(REFUND_KINDS)]
        if i % 9 == 4:  # some money back now, the rest later
            refunds.append(Change("refund", n, "amount"))
            kind = "full"
        refunds.append(Change("refund", n, kind))
    rest = [o.n for o in orders if o.n not in refunded and o.payment != "abandoned"]
    cancelled = rng.sample(rest, min(len(rest), max(2, len(orders) // 20)))
    pays = [Change("pay", n) for n in paid_later]
    ships = [Change("complete", n) for n in shipped]
    rng.shuffle(pays)
    rng.shuffle(ships)
    return (*pays, *ships, *refunds, *(Change("cancel", n) for n in cancelled))

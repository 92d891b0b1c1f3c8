"""Rounding a store's money to the cent so that the parts add up to the store's own totals.

Stores keep more decimals than they show (BigCommerce four, WooCommerce's per-rate taxes
unrounded) or round parts and totals separately (Magento), while the books must match the
totals the merchant sees. Every store adapter settles its parts the same way:

- ``round_to``: round each part to the currency's minor unit, then move whole units by
  largest remainder until the parts add up to the target; only as far as rounding can
  explain, so a wider gap is left for ``check_totals`` to name.
- ``split``: share a total in proportion to weights (equally when they weigh nothing).
- ``settle_per_rate``: make each tax rate's shares add up to that rate's total.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from decimal import Decimal
from typing import TypeVar

from connector.model import ZERO, minor_unit, quantize

Owner = TypeVar("Owner", bound=Hashable)


def unit(currency: str) -> Decimal:
    """The currency's minor unit (0.01 for USD, 1 for JPY)."""
    return Decimal(1).scaleb(-minor_unit(currency))


def round_to(exacts: Sequence[Decimal], target: Decimal, currency: str) -> list[Decimal]:
    """``exacts`` rounded to the minor unit so that they add up to ``target``.

    The parts whose rounding went furthest against the gap take a unit first; ties go to the
    larger amount, then the earlier one, so the result is stable. Each part's rounding moves it
    at most half a unit, so a gap wider than half a unit per part (plus one) is not rounding:
    the plain roundings come back and the caller's check names the difference.
    """
    one = unit(currency)
    rounded = [quantize(e, currency) for e in exacts]
    gap = target - sum(rounded, ZERO)
    if not exacts or gap == 0 or abs(gap) > one * (len(exacts) // 2 + 1):
        return rounded
    step = one if gap > 0 else -one
    direction = Decimal(1).copy_sign(step)
    order = sorted(
        range(len(exacts)),
        key=lambda i: (-(exacts[i] - rounded[i]) * direction, -abs(exacts[i]), i),
    )
    for n in range(int(abs(gap / one))):
        rounded[order[n % len(order)]] += step
    return rounded


def split(total: Decimal, weights: Sequence[Decimal], currency: str) -> list[Decimal]:
    """``total`` shared in proportion to ``weights`` (equally when they add up to nothing),
    to the minor unit, the parts adding up to ``total`` exactly."""
    if not weights:
        return []
    whole = sum(weights, ZERO)
    if whole == 0:
        exacts = [total / len(weights)] * len(weights)
    else:
        exacts = [total * w / whole for w in weights]
    return round_to(exacts, quantize(total, currency), currency)


def settle_per_rate(
    shares: Mapping[tuple[Owner, str], Decimal], targets: Mapping[str, Decimal], currency: str
) -> dict[tuple[Owner, str], Decimal]:
    """Each (owner, rate) share rounded so that every rate's shares add up to its target.

    A rate without a target (a rate the store has deleted since) can only be rounded plainly.
    """
    by_rate: dict[str, list[tuple[Owner, str]]] = {}
    for key in shares:
        by_rate.setdefault(key[1], []).append(key)
    settled: dict[tuple[Owner, str], Decimal] = {}
    for rate, keys in by_rate.items():
        exacts = [shares[k] for k in keys]
        target = targets.get(rate)
        rounded = (
            [quantize(e, currency) for e in exacts]
            if target is None
            else round_to(exacts, target, currency)
        )
        settled.update(zip(keys, rounded, strict=True))
    return {key: settled[key] for key in shares}

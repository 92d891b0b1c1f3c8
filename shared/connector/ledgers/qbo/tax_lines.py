"""The store's tax, per QuickBooks tax rate, for non-US companies (pure: no I/O).

A non-US QuickBooks Online company computes a document's tax itself, per rate at subtotal
level: for each TaxRate, the net Amounts of the sales lines whose TaxCode holds it, each less
its proportional share of the discount line, times the rate's percent, rounded half up once.
Stores round tax per line, so the two can differ by cents (three 0.99 mugs at 20%: the
store charges 3 x 0.20 = 0.60, QuickBooks would compute 20% of 2.97 = 0.59), and by more
where the store discounted lines unevenly. A bare TxnTaxDetail.TotalTax does not change
QuickBooks' figure; a TxnTaxDetail.TaxLine per rate does. So the document carries, for every
rate on it:

    TaxRateRef         the rate
    PercentBased/TaxPercent  true / the rate's percent
    NetAmountTaxable   the amount QuickBooks taxes at that rate (as it computes it)
    Amount             the store's tax at that rate (what the buyer paid)
    TaxInclusiveAmount NetAmountTaxable + Amount, on TaxInclusive documents

and TotalTax is the store's total tax. The store's tax per rate: each document line's store
taxes go to the line's tax code; the order's total tax is spread over the codes in proportion
(each rounded, the remainder to the largest, so the codes add up to it exactly). A code with
one rate gives it all to that rate. A combined code (Canada's GST/QST) splits its amount the
same way over its rates: in proportion to the store's own per-rate taxes when each store rate
on its lines has the percentage of exactly one of the code's rates (so GST stays GST even
where the store compounds QST), else in proportion to what QuickBooks computes for them.
``tax_adjustments`` names every rate where the store's amount is not QuickBooks' own.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from connector.errors import PermanentError
from connector.model import ZERO, TaxAmount

K = TypeVar("K", bound=Hashable)
Round = Callable[[Decimal], Decimal]
CodeRates = Mapping[str, tuple["QboTaxRate", ...]]


class QboTaxRate(BaseModel):
    """One of a QuickBooks tax code's sales rates (TaxRate Id, Name and RateValue)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str
    percent: Decimal


class RateTax(BaseModel):
    """One QuickBooks rate on a document: what QuickBooks would charge and what the store did."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate: QboTaxRate
    taxable: Decimal  # NetAmountTaxable, rounded
    quickbooks: Decimal
    store: Decimal

    def tax_line(self, inclusive: bool) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "TaxRateRef": {"value": self.rate.id, "name": self.rate.name},
            "PercentBased": True,
            "TaxPercent": self.rate.percent,
            "NetAmountTaxable": self.taxable,
        }
        if inclusive:
            detail["TaxInclusiveAmount"] = self.taxable + self.store
        return {"Amount": self.store, "DetailType": "TaxLineDetail", "TaxLineDetail": detail}

    def adjustment(self) -> str | None:
        """The audit trail's words for a rate where the store's amount wins (None: they agree)."""
        if self.store == self.quickbooks:
            return None
        return (
            f"tax {self.rate.name} ({self.rate.percent.normalize():f}%) on {self.taxable}: "
            f"store {self.store}, QuickBooks would compute {self.quickbooks}; "
            "store's amount kept"
        )


def apportion(total: Decimal, weights: Mapping[K, Decimal], q: Round) -> dict[K, Decimal] | None:
    """``total`` split over ``weights`` in proportion: each part rounded, the remainder on the
    largest weight, so the parts add up to ``total`` exactly. None: nothing to split it by."""
    whole = sum(weights.values(), ZERO)
    if whole == 0:
        if total != 0:
            return None
        return dict.fromkeys(weights, ZERO)
    parts = {key: q(total * weight / whole) for key, weight in weights.items()}
    rest = total - sum(parts.values(), ZERO)
    if rest:
        largest = max(weights, key=lambda key: abs(weights[key]))
        parts[largest] += rest
    return parts


def _sales_lines(lines: Sequence[Mapping[str, Any]]) -> list[tuple[Decimal, str]]:
    out: list[tuple[Decimal, str]] = []
    for line in lines:
        if line.get("DetailType") == "SalesItemLineDetail":
            code = line["SalesItemLineDetail"]["TaxCodeRef"]["value"]
            out.append((Decimal(line["Amount"]), str(code)))
    return out


def _ratio(lines: Sequence[Mapping[str, Any]]) -> Decimal:
    """What is left of every line after the discount line, as QuickBooks spreads it."""
    subtotal = sum((amount for amount, _ in _sales_lines(lines)), ZERO)
    discount = sum(
        (
            Decimal(line["Amount"])
            for line in lines
            if line.get("DetailType") == "DiscountLineDetail"
        ),
        ZERO,
    )
    return (subtotal - discount) / subtotal if subtotal else ZERO


def _rates_of(code_id: str, code_rates: CodeRates, what: str) -> tuple[QboTaxRate, ...]:
    rates = code_rates.get(code_id)
    if rates is None:
        raise PermanentError(
            f"{what}: the rates of QuickBooks tax code Id {code_id} are not known: check the "
            "code in QuickBooks (Taxes → Sales tax settings), then replay"
        )
    return rates


def quickbooks_taxes(
    lines: Sequence[Mapping[str, Any]], code_rates: CodeRates, q: Round, what: str
) -> dict[str, tuple[QboTaxRate, Decimal, Decimal]]:
    """Per TaxRate Id, in the order QuickBooks meets them: the rate, the amount it taxes
    (unrounded) and its own tax, for a document's Line list as QuickBooks computes them."""
    ratio = _ratio(lines)
    bases: dict[str, tuple[QboTaxRate, Decimal]] = {}
    for amount, code_id in _sales_lines(lines):
        for rate in _rates_of(code_id, code_rates, what):
            base = bases.get(rate.id, (rate, ZERO))[1]
            bases[rate.id] = (rate, base + amount * ratio)
    return {
        rate_id: (rate, base, q(base * rate.percent / 100))
        for rate_id, (rate, base) in bases.items()
    }


def _matched(
    rates: tuple[QboTaxRate, ...],
    store: Mapping[str, Decimal],
    store_percents: Mapping[str, Decimal],
) -> dict[str, Decimal] | None:
    """QuickBooks rate Id -> the store's tax at the rate of the same percentage, when every
    store rate on a combined code's lines matches exactly one of its rates (else None)."""
    by_percent: dict[Decimal, list[QboTaxRate]] = {}
    for rate in rates:
        by_percent.setdefault(rate.percent.normalize(), []).append(rate)
    out = dict.fromkeys((r.id for r in rates), ZERO)
    for store_rate, amount in store.items():
        percent = store_percents.get(store_rate)
        found = by_percent.get(percent.normalize(), []) if percent is not None else []
        if len(found) != 1:
            return None
        out[found[0].id] += amount
    return out


def rate_taxes(
    lines: Sequence[Mapping[str, Any]],
    taxed: Sequence[tuple[str, tuple[TaxAmount, ...]]],
    code_rates: CodeRates,
    total_tax: Decimal,
    q: Round,
    what: str,
    store_percents: Mapping[str, Decimal] | None = None,
) -> list[RateTax]:
    """Every QuickBooks rate on a document, with the store's amount for it.

    ``lines`` is the document's Line list; ``taxed`` each sales line's tax code Id and the
    store's taxes on it (in the same order); ``total_tax`` the store's total tax, which the
    rates' store amounts add up to exactly; ``store_percents`` the store's rate percentages
    by store rate id (for combined codes).
    """
    ratio = _ratio(lines)
    sales = _sales_lines(lines)
    if [code for _, code in sales] != [code for code, _ in taxed]:
        raise ValueError("the taxed parts do not match the document's sales lines")
    store_by_code: dict[str, Decimal] = {}
    store_by_rate: dict[str, dict[str, Decimal]] = {}  # code Id -> store rate id -> tax
    code_bases: dict[str, Decimal] = {}
    for (amount, code_id), (_, taxes) in zip(sales, taxed, strict=True):
        by_rate = store_by_rate.setdefault(code_id, {})
        for t in taxes:
            store_by_code[code_id] = store_by_code.get(code_id, ZERO) + t.amount
            by_rate[t.rate_id] = by_rate.get(t.rate_id, ZERO) + t.amount
        store_by_code.setdefault(code_id, ZERO)
        code_bases[code_id] = code_bases.get(code_id, ZERO) + amount * ratio
    per_code = apportion(total_tax, store_by_code, q)
    if per_code is None:
        raise PermanentError(
            f"{what} charges {total_tax} tax, but none of its lines carries a tax: check the "
            "order's taxes in the store, then replay"
        )
    store: dict[str, Decimal] = {}
    for code_id, amount in per_code.items():
        rates = _rates_of(code_id, code_rates, what)
        matched = None
        if len(rates) > 1:
            matched = _matched(rates, store_by_rate[code_id], store_percents or {})
        weights = matched or {r.id: code_bases[code_id] * r.percent for r in rates}
        if not any(weights.values()):
            weights = {r.id: r.percent for r in rates}
        shares = apportion(amount, weights, q)
        if shares is None:
            names = ", ".join(f"{r.name} {r.percent.normalize():f}%" for r in rates) or "none"
            raise PermanentError(
                f"{what}: the store charged {amount} tax on lines whose QuickBooks tax code "
                f"(Id {code_id}) charges no tax (rates: {names}): map the store's rate to a "
                "taxing code under tax.codes in the tenant file, then replay"
            )
        for rate_id, share in shares.items():
            store[rate_id] = store.get(rate_id, ZERO) + share
    return [
        RateTax(rate=rate, taxable=q(base), quickbooks=own, store=store.get(rate_id, ZERO))
        for rate_id, (rate, base, own) in quickbooks_taxes(lines, code_rates, q, what).items()
    ]


def tax_detail(rates: Sequence[RateTax], total_tax: Decimal, inclusive: bool) -> dict[str, Any]:
    """TxnTaxDetail: the store's total tax and one TaxLine per QuickBooks rate."""
    if sum((r.store for r in rates), ZERO) != total_tax:
        raise ValueError("the rates' store amounts do not add up to the total tax")
    detail: dict[str, Any] = {"TotalTax": total_tax}
    if rates:
        detail["TaxLine"] = [r.tax_line(inclusive) for r in rates]
    return detail


def tax_adjustments(
    document: Mapping[str, Any], code_rates: CodeRates, q: Round
) -> tuple[str, ...]:
    """For a document carrying TaxLine overrides, one line per rate whose amount is not what
    QuickBooks would compute for it (the audit trail's record that the store's tax won)."""
    sent = {
        str(line["TaxLineDetail"]["TaxRateRef"]["value"]): Decimal(line["Amount"])
        for line in (document.get("TxnTaxDetail") or {}).get("TaxLine") or []
    }
    if not sent:
        return ()
    out: list[str] = []
    for rate_id, (rate, base, own) in quickbooks_taxes(
        document["Line"], code_rates, q, "the document"
    ).items():
        change = RateTax(
            rate=rate, taxable=q(base), quickbooks=own, store=sent.get(rate_id, own)
        ).adjustment()
        if change:
            out.append(change)
    return tuple(out)

"""Sales tax as a non-US QuickBooks Online company computes it, and the overrides it accepts.

QuickBooks computes a document's tax itself from the lines' tax codes, at subtotal level:
for each tax rate, the net Amounts of the lines whose code contains it (less the discount
line's proportional share) are its taxable amount, and the rate's tax is that amount times
its RateValue, rounded half up to the cent once per rate. Line Amounts are net of tax whether
GlobalTaxCalculation is TaxExcluded or TaxInclusive (TaxInclusive only changes what the
forms show), so TotalAmt is always the net lines, less the discount, plus the tax.

A bare ``TxnTaxDetail.TotalTax`` changes nothing here: QuickBooks recomputes and answers its
own. What it keeps is a ``TxnTaxDetail.TaxLine`` per rate (DetailType TaxLineDetail with
TaxRateRef, PercentBased, TaxPercent, NetAmountTaxable, Amount): the Amount sent replaces
the rate's computed tax, OverrideDeltaAmount says by how much, and TotalTax is the sum of
the rates. A rate the document does not use, a rate that does not exist, a rate listed
twice and a negative tax are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from simulators.qbo_currency import cents, money, ref_code
from simulators.qbo_faults import (
    business,
    invalid_enumeration,
    invalid_reference,
    required,
)

ZERO = Decimal("0")
Taxable = list[tuple[Decimal, dict[str, Any] | None]]


def rate_bases(taxable: Taxable, subtotal: Decimal, discount: Decimal) -> dict[str, Decimal]:
    """Per TaxRate Id, the amount QuickBooks taxes: every line whose code holds the rate, each
    lowered by its share of the discount (the discount spread over the lines in proportion)."""
    ratio = (subtotal - discount) / subtotal if subtotal else ZERO
    bases: dict[str, Decimal] = {}
    for amount, code in taxable:
        assert code is not None
        for rate_detail in code["SalesTaxRateList"]["TaxRateDetail"]:
            rate_id = rate_detail["TaxRateRef"]["value"]
            bases[rate_id] = bases.get(rate_id, ZERO) + amount * ratio
    return bases


def _overrides(
    sent: Any, bases: Mapping[str, Decimal], rates: Mapping[str, dict[str, Any]]
) -> dict[str, Decimal]:
    """Rate Id -> the tax the caller set for it, after QuickBooks' checks."""
    if sent is None:
        return {}
    if not isinstance(sent, list):
        raise required("TxnTaxDetail.TaxLine", "TaxLine")
    amounts: dict[str, Decimal] = {}
    for line in sent:
        if not isinstance(line, dict) or line.get("DetailType") is None:
            raise required("TaxLine.DetailType", "DetailType")
        if line["DetailType"] != "TaxLineDetail":
            raise invalid_enumeration(
                f"{line['DetailType']} is not supported in TxnTaxDetail", "DetailType"
            )
        detail = line.get("TaxLineDetail")
        rate_id = ref_code(detail.get("TaxRateRef")) if isinstance(detail, dict) else None
        if rate_id is None:
            raise required("TaxLine.TaxLineDetail.TaxRateRef", "TaxRateRef")
        rate = rates.get(rate_id)
        if rate is None:
            raise invalid_reference("TaxRateRef", rate_id)
        if rate_id not in bases:
            raise business(
                f"The tax rate {rate['Name']} (Id {rate_id}) isn't in a tax code on any line "
                "of this transaction.",
                "TaxRateRef",
            )
        if rate_id in amounts:
            raise business(
                f"The tax rate {rate['Name']} (Id {rate_id}) is listed more than once.",
                "TaxRateRef",
            )
        if "Amount" not in line:
            raise required("TaxLine.Amount", "Amount")
        amount = cents(money(line["Amount"], "Amount"))
        if amount < 0:
            raise business(f"The tax amount for {rate['Name']} can't be negative.", "Amount")
        amounts[rate_id] = amount
    return amounts


def tax_lines(
    rates: Mapping[str, dict[str, Any]],
    taxable: Taxable,
    subtotal: Decimal,
    discount: Decimal,
    *,
    inclusive: bool,
    sent: Any,
) -> tuple[Decimal, list[dict[str, Any]]]:
    """TotalTax and the TaxLine list QuickBooks answers for a non-US document."""
    bases = rate_bases(taxable, subtotal, discount)
    overrides = _overrides(sent, bases, rates)
    total = ZERO
    lines: list[dict[str, Any]] = []
    for rate_id, base in bases.items():
        percent = rates[rate_id]["RateValue"]
        net = cents(base)
        computed = cents(base * percent / 100)
        amount = overrides.get(rate_id, computed)
        detail: dict[str, Any] = {
            "TaxRateRef": {"value": rate_id},
            "PercentBased": True,
            "TaxPercent": percent,
            "NetAmountTaxable": net,
        }
        if inclusive:
            detail["TaxInclusiveAmount"] = net + amount
        if amount != computed:
            detail["OverrideDeltaAmount"] = amount - computed
        total += amount
        lines.append({"Amount": amount, "DetailType": "TaxLineDetail", "TaxLineDetail": detail})
    return total, lines

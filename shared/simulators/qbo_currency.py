"""Currencies of a simulated QuickBooks Online company: home currency, multicurrency, rates.

QBO's rules, as the simulator enforces them: without multicurrency only the home currency may
be used (by customers, accounts and transactions); a customer's and an account's currency is
fixed when it is created; a transaction is in its customer's currency; a transaction in a
foreign currency carries an ExchangeRate (sent, else the company's rate for its TxnDate) and
its HomeTotalAmt is TotalAmt x ExchangeRate in cents. A deposit goes to an account in the
transaction's currency or in the home currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from simulators.qbo_faults import (
    BUSINESS_MESSAGE,
    ApiFault,
    business,
    invalid_number,
    invalid_reference,
)

# ISO 4217 codes with two minor digits that QBO's currency list offers, and its names for them.
CURRENCY_NAMES = {
    "AUD": "Australian Dollar",
    "CAD": "Canadian Dollar",
    "CHF": "Swiss Franc",
    "DKK": "Danish Krone",
    "EUR": "Euro",
    "GBP": "British Pound Sterling",
    "MXN": "Mexican Peso",
    "NOK": "Norwegian Krone",
    "NZD": "New Zealand Dollar",
    "SEK": "Swedish Krona",
    "USD": "United States Dollar",
}
ONE = Decimal("1")
HOME_FIELDS = {"TotalAmt": "HomeTotalAmt", "Balance": "HomeBalance"}
CENT = Decimal("0.01")


def money(value: Any, element: str) -> Decimal:
    """An amount as sent: a JSON number (read as Decimal) or a numeric string."""
    if isinstance(value, bool) or value is None:
        raise invalid_number(value, element)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise invalid_number(value, element) from None
    if not amount.is_finite():
        raise invalid_number(value, element)
    return amount


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def ref_code(ref: Any) -> str | None:
    if isinstance(ref, dict):
        value = ref.get("value")
        return None if value in (None, "") else str(value)
    if isinstance(ref, str | int) and not isinstance(ref, bool) and ref != "":
        return str(ref)
    return None


def currency_mismatch(txn_currency: str, customer_currency: str) -> ApiFault:
    """The words the real service used when a CAD order met a USD customer."""
    return ApiFault.validation(
        400,
        "6000",
        BUSINESS_MESSAGE,
        f"The transaction currency ({txn_currency}) must match the currency of the customer "
        f"({customer_currency})",
        "CurrencyRef",
    )


@dataclass
class Currencies:
    """The company's currency settings and the exchange rates it knows (per unit, to home)."""

    home: str
    multicurrency: bool
    _rates: dict[str, dict[date, Decimal]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.home not in CURRENCY_NAMES:
            raise ValueError(f"unknown home currency {self.home!r}: {sorted(CURRENCY_NAMES)}")

    def ref(self, code: str) -> dict[str, str]:
        return {"value": code, "name": CURRENCY_NAMES[code]}

    def usable(self, ref: Any, default: str) -> str:
        """The currency code a record may use: known, and home unless multicurrency is on."""
        code = ref_code(ref) or default
        if code not in CURRENCY_NAMES:
            raise invalid_reference("CurrencyRef", code)
        if code != self.home and not self.multicurrency:
            raise business(
                f"Multicurrency isn't turned on for this company, so only its home currency "
                f"({self.home}) can be used, not {code}.",
                "CurrencyRef",
            )
        return code

    def set_rate(self, code: str, rate: Decimal, as_of: date) -> None:
        if code not in CURRENCY_NAMES or code == self.home:
            raise ValueError(f"{code!r} is not a foreign currency this company can hold")
        if rate <= 0:
            raise ValueError("an exchange rate is positive")
        self._rates.setdefault(code, {})[as_of] = rate

    def rate_on(self, code: str, day: date) -> tuple[Decimal, date] | None:
        """The rate in force on ``day``: the latest one set on or before it."""
        if code == self.home:
            return ONE, day
        known = [d for d in self._rates.get(code, {}) if d <= day]
        if not known:
            return None
        latest = max(known)
        return self._rates[code][latest], latest

    def txn_rate(self, code: str, sent: Any, day: date) -> Decimal:
        """The ExchangeRate of a transaction in ``code`` dated ``day``."""
        if code == self.home:
            return ONE
        if sent is not None:
            rate = money(sent, "ExchangeRate")
            if rate <= 0:
                raise invalid_number(sent, "ExchangeRate")
            return rate
        found = self.rate_on(code, day)
        if found is None:
            raise self.no_rate(code, day)
        return found[0]

    def no_rate(self, code: str, day: date) -> ApiFault:
        return business(
            f"There is no exchange rate for {code} on {day.isoformat()}. "
            "Enter the ExchangeRate on the transaction.",
            "ExchangeRate",
        )

    def home_amount(self, amount: Decimal, rate: Decimal) -> Decimal:
        return cents(amount * rate)

    def stamp(
        self, doc: dict[str, Any], code: str, rate: Decimal, amounts: tuple[str, ...]
    ) -> None:
        """A transaction's currency fields: CurrencyRef always; with multicurrency also its
        ExchangeRate and the home-currency twin of each of ``amounts`` (TotalAmt, Balance)."""
        doc["CurrencyRef"] = self.ref(code)
        doc.pop("ExchangeRate", None)
        for name in HOME_FIELDS.values():
            doc.pop(name, None)
        if not self.multicurrency:
            return
        doc["ExchangeRate"] = rate
        for name in amounts:
            doc[HOME_FIELDS[name]] = self.home_amount(doc[name], rate)

    def deposit_allowed(self, account_currency: str, txn_currency: str) -> ApiFault | None:
        if account_currency in (txn_currency, self.home):
            return None
        return business(
            f"The account's currency ({account_currency}) must be the transaction's currency "
            f"({txn_currency}) or the home currency ({self.home}).",
            "DepositToAccountRef",
        )

    def resource(self, source: str | None, as_of: str | None, today: date) -> dict[str, Any]:
        """GET /exchangerate?sourcecurrencycode=CAD&asofdate=YYYY-MM-DD."""
        if not source:
            raise ApiFault.validation(
                400,
                "2020",
                "Required param missing, need to supply the required value for the API",
                "Required parameter sourcecurrencycode is missing in the request",
                "sourcecurrencycode",
            )
        code = self.usable(source.upper(), self.home)
        try:
            day = date.fromisoformat(as_of) if as_of else today
        except ValueError:
            raise ApiFault.validation(
                400, "2040", "Invalid Date", f"Invalid date : {as_of}", "asofdate"
            ) from None
        found = self.rate_on(code, day)
        if found is None:
            raise self.no_rate(code, day)
        rate, _ = found
        return {
            "ExchangeRate": {
                "SourceCurrencyCode": code,
                "TargetCurrencyCode": self.home,
                "Rate": rate,
                "AsOfDate": day.isoformat(),
                "domain": "QBO",
                "sparse": False,
            }
        }

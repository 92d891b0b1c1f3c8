"""Which currencies a QuickBooks Online company can hold, and what a foreign one is worth.

QuickBooks fixes a customer's currency when it is created, and a transaction
must be in its customer's currency; currencies other than the home one need
the company's Multicurrency setting. So a buyer who pays in two currencies is
two QuickBooks customers: the home-currency one under the buyer's name, the
other named ``<name> (<currency>)``, e.g. ``Ada Lovelace (CAD)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from connector.errors import PermanentError

MULTICURRENCY_SETTING = (
    "turn on Multicurrency in QuickBooks (Settings → Account and settings → Advanced → "
    "Currency; it cannot be turned off again)"
)


@dataclass(frozen=True)
class CompanyCurrency:
    home: str
    multicurrency: bool

    def to_text(self) -> str:
        """How the facts are cached (a DynamoDB mapping value)."""
        return f"{self.home}|{'on' if self.multicurrency else 'off'}"

    @classmethod
    def from_text(cls, text: str) -> CompanyCurrency:
        home, _, flag = text.partition("|")
        return cls(home=home, multicurrency=flag == "on")

    @classmethod
    def from_preferences(cls, preferences: dict[str, Any]) -> CompanyCurrency:
        prefs = preferences.get("CurrencyPrefs") or {}
        home = str((prefs.get("HomeCurrency") or {}).get("value") or "USD").upper()
        return cls(home=home, multicurrency=bool(prefs.get("MultiCurrencyEnabled")))

    def is_foreign(self, currency: str) -> bool:
        return currency.upper() != self.home

    def refuse(self, currency: str, what: str) -> PermanentError:
        """Why a foreign-currency record cannot post while multicurrency is off."""
        return PermanentError(
            f"{what} is in {currency.upper()}, but this QuickBooks company keeps its books in "
            f"{self.home} with Multicurrency off: {MULTICURRENCY_SETTING}, then replay"
        )


def customer_name_for(name: str, currency: str, company: CompanyCurrency) -> str:
    """The buyer's QuickBooks DisplayName in a currency: their name, or ``<name> (<CUR>)``."""
    if not company.is_foreign(currency):
        return name
    return f"{name} ({currency.upper()})"


def customer_key_for(match_key: str, currency: str, company: CompanyCurrency) -> str:
    """The customer mapping key: one QuickBooks customer per buyer and currency."""
    if not company.is_foreign(currency):
        return match_key
    return f"{match_key}#{currency.upper()}"


def customer_currency(customer: dict[str, Any], company: CompanyCurrency) -> str:
    """A QuickBooks customer's currency (absent: the home currency)."""
    return str((customer.get("CurrencyRef") or {}).get("value") or company.home).upper()


def rate_from_answer(payload: dict[str, Any]) -> Decimal | None:
    """The Rate of a GET /exchangerate answer, None when QuickBooks has none for the date."""
    rate = (payload.get("ExchangeRate") or {}).get("Rate")
    if rate in (None, ""):
        return None
    value = Decimal(str(rate))
    return value if value > 0 else None

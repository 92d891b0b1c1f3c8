"""The QuickBooks Desktop company file's preferences the connector reads, and what they mean.

Two of them change what the connector may send:

* Multiple Currencies (MultiCurrencyPreferences): whether the file holds customers and
  transactions in currencies other than its home one (connector.ledgers.qbd.currencies);
* class tracking (AccountingPreferences.IsUsingClassTracking, Edit → Preferences →
  Accounting → "Use class tracking"): whether ClassRef may be sent at all. Desktop has no
  separate per-line or per-transaction setting: with it on, a transaction's header and each
  of its lines take a class; with it off, QuickBooks refuses both.

They come from the PreferencesQueryRs the Web Connector hands over on the first
sendRequestXML of a session (or a PreferencesQuery), cached per connection between
sessions; ``read`` says whether they were read this session or only remembered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connector.ledgers.qbd.currencies import COUNTRY_HOME, CURRENCY_CODES

CLASS_TRACKING_SETTING = (
    "turn on class tracking in QuickBooks Desktop (Edit → Preferences → Accounting → Company "
    'Preferences → "Use class tracking")'
)


@dataclass(frozen=True)
class CompanyPreferences:
    home: str  # ISO code of the home currency
    multicurrency: bool
    class_tracking: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "home": self.home,
            "multicurrency": self.multicurrency,
            "class_tracking": self.class_tracking,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> CompanyPreferences:
        # Facts cached before class tracking was read lack it: off until read again.
        return cls(
            home=str(value["home"]),
            multicurrency=bool(value["multicurrency"]),
            class_tracking=bool(value.get("class_tracking", False)),
        )

    def is_foreign(self, currency: str) -> bool:
        return currency.upper() != self.home


def _on(value: object) -> bool:
    return str(value or "false").strip().lower() == "true"


def company_preferences(preferences: dict[str, Any] | None, country: str) -> CompanyPreferences:
    """The facts from a PreferencesRet (as qbxml.parse_response reads it); ``country`` is the
    Web Connector's qbXMLCountry (the home currency of an edition without Multiple
    Currencies)."""
    prefs = preferences or {}
    currencies = prefs.get("MultiCurrencyPreferences") or {}
    accounting = prefs.get("AccountingPreferences") or {}
    home_name = str((currencies.get("HomeCurrencyRef") or {}).get("FullName") or "")
    home = CURRENCY_CODES.get(home_name.casefold()) or COUNTRY_HOME.get(country.upper(), "USD")
    return CompanyPreferences(
        home=home,
        multicurrency=_on(currencies.get("IsMultiCurrencyOn")),
        class_tracking=_on(accounting.get("IsUsingClassTracking")),
    )

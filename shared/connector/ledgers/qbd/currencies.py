"""Which currency a QuickBooks Desktop company file keeps its books in, and what it may hold.

QuickBooks Desktop names currencies ("Canadian Dollar"), not ISO codes, in CurrencyRef;
it fixes a customer's currency when the customer is added, and a transaction is in its
customer's currency (qbXML's Add requests have no CurrencyRef). A currency other than
the home one needs Edit → Preferences → Multiple Currencies, which cannot be turned off
again. So a buyer who pays in two currencies is two customers: ``Ada Lovelace`` and
``Ada Lovelace (CAD)``, as on QuickBooks Online.

The company's home currency and whether Multiple Currencies is on are read with its other
preferences (connector.ledgers.qbd.preferences).
"""

from __future__ import annotations

from connector.ledgers.qbd.qbxml_text import NAME_MAX

MULTICURRENCY_SETTING = (
    "turn on Multiple Currencies in QuickBooks Desktop (Edit → Preferences → Multiple "
    "Currencies → Company Preferences; it cannot be turned off again)"
)
# The names QuickBooks Desktop's built-in Currency list gives ISO codes (a part of the list).
CURRENCY_NAMES: dict[str, str] = {
    "USD": "US Dollar",
    "CAD": "Canadian Dollar",
    "EUR": "Euro",
    "GBP": "British Pound Sterling",
    "AUD": "Australian Dollar",
    "NZD": "New Zealand Dollar",
    "JPY": "Japanese Yen",
    "CHF": "Swiss Franc",
    "MXN": "Mexican Peso",
    "SEK": "Swedish Krona",
    "NOK": "Norwegian Krone",
    "DKK": "Danish Krone",
    "INR": "Indian Rupee",
    "ZAR": "South African Rand",
    "SGD": "Singapore Dollar",
    "HKD": "Hong Kong Dollar",
}
CURRENCY_CODES = {name.casefold(): code for code, name in CURRENCY_NAMES.items()}
# The home currency of an edition without Multiple Currencies (qbXMLCountry).
COUNTRY_HOME = {"US": "USD", "CA": "CAD", "UK": "GBP", "GB": "GBP", "AU": "AUD"}


def currency_name(code: str) -> str | None:
    """The QuickBooks Desktop Currency list name for an ISO code, None when not known."""
    return CURRENCY_NAMES.get(code.upper())


def in_currency(name: str, currency: str) -> str:
    """A customer Name for a buyer's foreign-currency customer: ``<name> (<CUR>)`` in 41."""
    suffix = f" ({currency.upper()})"
    return name[: NAME_MAX - len(suffix)].rstrip() + suffix

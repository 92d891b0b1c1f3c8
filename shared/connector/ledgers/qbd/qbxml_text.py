"""Text and numbers as QuickBooks Desktop accepts them in qbXML.

QuickBooks Desktop stores ISO-8859-1 (Latin-1) text: any other character makes
the request fail to parse or turns into "?" in the company file. Rather than
drop a customer for an accent, text is transliterated: characters Latin-1
already has stay ("é", "ü", "ß"), the rest lose their accents (Unicode NFKD:
"ő" -> "o", "ﬁ" -> "fi"), a small table covers letters NFKD cannot split
("ł" -> "l") and punctuation ("“" -> '"', "€" -> "EUR"), and anything left
(emoji, CJK) becomes "?". Lengths are Intuit's per-field maximums from the
qbXML 13.0 "ops" reference; the schema itself does not carry them.

Money is AMTTYPE: an optional sign, up to 13 digits, and exactly two decimals.
Prices and quantities (PRICETYPE, QUANTYPE) take up to 5 decimals.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal

from connector.errors import PermanentError
from connector.mapping import note_text, single_line

# Intuit's maximum lengths for QuickBooks Desktop (QBD) fields we send (qbxmlops130 sample).
NAME_MAX = 41  # Customer Name, CompanyName, Addr1-5
FIRST_NAME_MAX = 25
LAST_NAME_MAX = 25
CITY_MAX = 31
STATE_MAX = 21
POSTAL_CODE_MAX = 13
COUNTRY_MAX = 31
PHONE_MAX = 21
EMAIL_MAX = 1023
ITEM_NAME_MAX = 31  # each segment of an item's "Parent:Child" FullName
CUSTOMER_FULL_NAME_MAX = 209
REF_NUMBER_MAX = 11
PAYMENT_REF_NUMBER_MAX = 20  # ReceivePayment's RefNumber holds more than other transactions'
PAYMENT_METHOD_MAX = 31
TERMS_MAX = 31  # TermsRef FullName (terms have no sub-terms)
CLASS_NAME_MAX = 31  # each segment of a class's "Parent:Child" FullName
MEMO_MAX = 4095
DESC_MAX = 4095
SALES_TAX_CODE_MAX = 3
MESSAGE_SET_ID_MAX = 23
REQUEST_ID_MAX = 50
EDIT_SEQUENCE_MAX = 16
ID_MAX = 36  # IDTYPE: ListID, TxnID

_CENT = Decimal("0.01")
_QUANTITY_STEP = Decimal("0.00001")
_AMOUNT_LIMIT = Decimal(10) ** 13

# Characters NFKD leaves alone (no decomposition) or decomposes into something unhelpful.
_TRANSLITERATIONS = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u2039": "<", "\u203a": ">",
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
    "\u2212": "-",
    "\u2022": "*", "\u2026": "...", "\u20ac": "EUR", "\u2122": "(TM)", "\u2116": "No.",
    "\u0141": "L", "\u0142": "l", "\u0110": "D", "\u0111": "d", "\u0126": "H", "\u0127": "h",
    "\u0131": "i", "\u0152": "OE", "\u0153": "oe", "\u0166": "T", "\u0167": "t",
    "\u014a": "N", "\u014b": "n", "\u0138": "k", "\u0192": "f", "\u0218": "S", "\u0219": "s",
    "\u021a": "T", "\u021b": "t", "\u1e9e": "SS",
}  # fmt: skip
# XML 1.0 forbids most C0 controls; C1 controls are legal XML but meaningless to QuickBooks.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _latin1_char(char: str) -> str:
    if ord(char) < 0x100:
        return char
    mapped = _TRANSLITERATIONS.get(char)
    if mapped is not None:
        return mapped
    category = unicodedata.category(char)
    if category in ("Mn", "Me", "Cf"):
        # Combining marks, variation selectors, zero-width joiners: nothing to show on their own.
        return ""
    if category.startswith("Z"):
        return " "
    if category == "Cs":
        return "?"  # a lone surrogate cannot be encoded at all
    kept = []
    for part in unicodedata.normalize("NFKD", char):
        if ord(part) < 0x100:
            kept.append(part)
        elif part in _TRANSLITERATIONS:
            kept.append(_TRANSLITERATIONS[part])
        elif unicodedata.category(part) not in ("Mn", "Me"):
            kept.append("?")
    return "".join(kept) or "?"


def latin1_safe(text: str) -> str:
    """``text`` with only ISO-8859-1 characters QuickBooks and XML 1.0 accept.

    Never empty for non-empty input: what cannot be transliterated becomes "?".
    Control characters become spaces; tab, line feed and carriage return stay.
    """
    if not text:
        return text
    composed = unicodedata.normalize("NFC", text)
    out = _CONTROLS.sub(" ", "".join(_latin1_char(c) for c in composed))
    return out or "?"


def latin1_readable(text: str) -> tuple[str, bool]:
    """``text`` in Latin-1 without the "?" standing for what could not be written, and
    whether letters or digits were among it.

    A name that lost letters ("山田 太郎" -> "?? ??") no longer says who it is, and two of
    them can become the same text; the caller then needs something else to name the
    buyer by. Symbols that cannot be written (emoji) are dropped without counting as lost.
    """
    lost = False
    kept: list[str] = []
    for char in unicodedata.normalize("NFC", text):
        written = _latin1_char(char)
        if char != "?" and "?" in written:
            lost = lost or unicodedata.category(char)[0] in "LN"
            written = written.replace("?", "")
        kept.append(written)
    readable = " ".join(_CONTROLS.sub(" ", "".join(kept)).split())
    return readable, lost


def fit(text: str, limit: int) -> str:
    """One line of Latin-1 text of at most ``limit`` characters (may be empty)."""
    # Transliteration can lengthen text ("€" -> "EUR"), so cut after it.
    return single_line(latin1_safe(text), limit)


def fit_note(text: str, limit: int) -> str:
    """Latin-1 free text that keeps its line breaks, at most ``limit`` characters."""
    return note_text(latin1_safe(text), limit)


def fit_path(name: str, segment_limit: int, total_limit: int | None = None) -> str:
    """A list FullName ("Parent:Child"): each segment fitted to ``segment_limit``."""
    segments = [fit(part, segment_limit) for part in name.split(":")]
    value = ":".join(segments)
    if total_limit is not None:
        value = value[:total_limit].rstrip()
    return value


def amount(value: Decimal, what: str = "amount") -> str:
    """AMTTYPE text: exactly two decimals, no exponent, no thousands separators.

    Refuses (PermanentError) an amount with sub-cent digits rather than round it:
    a rounded line would no longer add up to the store's total.
    """
    if not value.is_finite():
        raise ValueError(f"{what} {value} is not a number")
    cents = value.quantize(_CENT, rounding=ROUND_HALF_UP)
    if cents != value:
        raise PermanentError(
            f"{what} {value} has more than two decimals, and QuickBooks Desktop amounts have "
            f"exactly two: check the currency and the store's figures, then replay"
        )
    if abs(cents) >= _AMOUNT_LIMIT:
        raise PermanentError(f"{what} {value} is larger than QuickBooks Desktop accepts")
    if cents == 0:
        cents = abs(cents)  # never "-0.00"
    return format(cents, "f")


def quantity(value: Decimal) -> str:
    """QUANTYPE/PRICETYPE text: at most 5 decimals, trailing zeros dropped."""
    if not value.is_finite():
        raise ValueError(f"quantity {value} is not a number")
    rounded = value.quantize(_QUANTITY_STEP, rounding=ROUND_HALF_UP)
    if rounded == 0:
        return "0"
    text = format(rounded.normalize(), "f")
    return text

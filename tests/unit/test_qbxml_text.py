"""Text and numbers QuickBooks Desktop accepts: Latin-1 only, exact two-decimal amounts."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from connector.errors import PermanentError
from connector.ledgers.qbd.qbxml_text import amount, fit, fit_path, latin1_safe, quantity

D = Decimal


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Siobhán O'Brien", "Siobhán O'Brien"),  # á is Latin-1: it stays
        ("Zürich", "Zürich"),
        ("Łódź", "Lódz"),  # Ł has no decomposition (table), ź loses its accent (NFKD)
        ("“quotes” and \u2018single\u2019", "\"quotes\" and 'single'"),
        ("Price: 5 €", "Price: 5 EUR"),
        ("wait…", "wait..."),
        ("Crème brûlée ☕", "Crème brûlée ?"),
        (
            "Team \U0001f468\u200d\U0001f469\u200d\U0001f467",
            "Team ???",
        ),  # the zero-width joiners vanish, each person is "?"
        ("\u2764\ufe0f", "?"),  # the variation selector is dropped, the heart is "?"
        ("Œuvre \u2013 Straße", "OEuvre - Straße"),
        ("\ufb01ne \uff21", "fine A"),  # compatibility forms decompose
        ("東京", "??"),
        ("e\u0301", "é"),  # a decomposed accent is composed first, then kept
        ("x\ud800y", "x?y"),  # a lone surrogate cannot be encoded at all
        ("a\x00b\x07c\tz", "a b c\tz"),  # controls XML forbids become spaces; tab stays
    ],
)
def test_latin1_safe_transliterates_what_quickbooks_cannot_store(text: str, expected: str) -> None:
    # Given text with characters outside ISO-8859-1
    # When it is made safe
    result = latin1_safe(text)
    # Then it is the readable Latin-1 equivalent
    assert result == expected
    result.encode("latin-1")


def test_latin1_safe_keeps_empty_text_empty() -> None:
    assert latin1_safe("") == ""


@given(st.text(min_size=1))
def test_latin1_safe_always_encodes_and_is_never_empty(text: str) -> None:
    result = latin1_safe(text)
    assert result
    result.encode("latin-1")
    # And lxml accepts it as element text (XML 1.0 characters only).
    etree.Element("Name").text = result


@given(st.text(), st.integers(min_value=1, max_value=60))
def test_fit_is_one_latin1_line_within_the_limit(text: str, limit: int) -> None:
    result = fit(text, limit)
    assert len(result) <= limit
    assert "\n" not in result and "\r" not in result
    assert result == result.strip()
    result.encode("latin-1")


def test_fit_cuts_after_transliterating() -> None:
    # "€" becomes three characters: the cut counts what QuickBooks receives.
    assert fit("€€€€€", 7) == "EUREURE"


def test_fit_path_fits_each_segment() -> None:
    assert fit_path("Clothing:" + "T" * 40, 31) == "Clothing:" + "T" * 31


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D("1"), "1.00"),
        (D("12.5"), "12.50"),
        (D("-2.00"), "-2.00"),
        (D("0"), "0.00"),
        (D("-0.00"), "0.00"),
        (D("1E+3"), "1000.00"),
        (D("1234567.89"), "1234567.89"),
    ],
)
def test_amount_has_exactly_two_decimals(value: Decimal, text: str) -> None:
    assert amount(value) == text


def test_amount_refuses_sub_cent_values_rather_than_round_them() -> None:
    with pytest.raises(PermanentError, match=r"more than two decimals"):
        amount(D("1.005"), "line 'Mug'")


def test_amount_refuses_more_than_thirteen_digits() -> None:
    with pytest.raises(PermanentError, match="larger than"):
        amount(D("10000000000000"))


@pytest.mark.parametrize(
    ("value", "text"),
    [(D("2"), "2"), (D("1.50"), "1.5"), (D("0.333333"), "0.33333"), (D("100"), "100"), (D(0), "0")],
)
def test_quantity_has_at_most_five_decimals(value: Decimal, text: str) -> None:
    assert quantity(value) == text


@given(st.decimals(min_value=D("-999999999"), max_value=D("999999999"), places=2, allow_nan=False))
def test_amount_text_matches_amttype(value: Decimal) -> None:
    text = amount(value)
    assert re.fullmatch(r"[+\-]?[0-9]{1,13}\.[0-9]{2}", text)
    assert D(text) == value

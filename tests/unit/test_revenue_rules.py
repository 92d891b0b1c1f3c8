"""Revenue rules: which class, location and item each sale gets (connector.revenue_rules)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from connector.config import MappingRules
from connector.errors import PermanentError
from connector.model import Address, Order, OrderLine, Payment
from connector.revenue_rules import (
    LineItem,
    LineRule,
    account_item_name,
    decide,
    line_items,
)
from simulators.testbed.orders import item, make_customer, make_order

D = Decimal


def line(line_id: str, sku: str | None, *categories: str) -> OrderLine:
    return item(line_id, sku, categories=categories)


def order(
    *lines: OrderLine, group: str | None = "customer", country: str = "US", payment: str = "stripe"
) -> Order:
    """The testbed's order of ``lines``, by a buyer in ``group`` billed in ``country``."""
    buyer = make_customer(
        group=group,
        billing=Address(country=country, city="X", line1="1 Main St"),
        shipping=Address(),
    )
    return make_order(lines=lines, customer=buyer, payment=Payment(method=payment))


def rules(*rule: dict[str, Any], **mapping: Any) -> MappingRules:
    return MappingRules.model_validate({"fallback_item": "Sales", **mapping, "rules": rule})


GIFT = line("1", "GIFT-25", "Gift cards", "gift-cards")
MUG = line("2", "MUG-01", "Kitchen", "kitchen")


def test_no_rules_decide_nothing() -> None:
    decided = decide(order(GIFT, MUG), rules())
    assert decided.lines == {} and decided.class_name is None and decided.location is None


def test_sku_globs_are_case_sensitive_and_a_line_without_sku_never_matches() -> None:
    # Given a rule for SKUs starting GIFT-
    ruled = rules({"when": {"sku": "GIFT-*"}, "class": "Gift cards"})
    lower = line("3", "gift-50")
    no_sku = line("4", None)
    # When an order holds a gift card, a mug, a lower-case look-alike and a line without SKU
    decided = decide(order(GIFT, MUG, lower, no_sku), ruled)
    # Then only the real gift card gets the class
    assert [decided.line(i).class_name for i in "1234"] == ["Gift cards", None, None, None]


def test_several_values_match_any_and_globs_take_character_classes() -> None:
    ruled = rules({"when": {"sku": ["MUG-*", "GIFT-[0-9]*"]}, "class": "Ours"})
    decided = decide(order(GIFT, MUG, line("3", "GIFT-X")), ruled)
    assert [decided.line(i).class_name for i in "123"] == ["Ours", "Ours", None]


def test_category_matches_a_name_or_slug_case_insensitively() -> None:
    by_name = rules({"when": {"category": "GIFT CARDS"}, "class": "Gift cards"})
    by_slug = rules({"when": {"category": "kitchen"}, "class": "Homeware"})
    assert decide(order(GIFT, MUG), by_name).line("1").class_name == "Gift cards"
    assert decide(order(GIFT, MUG), by_name).line("2").class_name is None
    assert decide(order(GIFT, MUG), by_slug).line("2").class_name == "Homeware"
    # A line whose categories the store adapter did not look up matches no category rule
    assert decide(order(line("9", "GIFT-25")), by_name).line("9").class_name is None


@pytest.mark.parametrize(
    ("when", "matched"),
    [
        ({"customer_group": "wholesale_customer"}, {"wholesale_customer"}),
        ({"customer_group": "guest"}, {"guest"}),
        ({"customer_group": ["guest", "customer"]}, {"guest", "customer"}),
    ],
)
def test_customer_group_is_the_buyers_role(when: dict[str, Any], matched: set[str]) -> None:
    ruled = rules({"when": when, "class": "Hit"})
    for group in ("customer", "wholesale_customer", "guest", None):
        hit = decide(order(MUG, group=group), ruled).class_name == "Hit"
        assert hit == (group in matched), group


def test_country_is_the_billing_country_and_payment_the_method_id() -> None:
    ruled = rules(
        {"when": {"country": "CA", "payment": "stripe"}, "location": "Canada online"},
        {"when": {"country": "CA"}, "location": "Canada"},
    )
    assert decide(order(MUG, country="ca"), ruled).location == "Canada online"
    assert decide(order(MUG, country="CA", payment="cod"), ruled).location == "Canada"
    assert decide(order(MUG, country="US"), ruled).location is None
    # Payment method ids are compared as the store spells them
    assert decide(order(MUG, country="CA", payment="Stripe"), ruled).location == "Canada"


def test_first_match_wins_for_each_outcome_on_its_own() -> None:
    # Given a gift-card rule (class and account), a wholesale class rule, per-country locations
    # and a default class
    ruled = rules(
        {"when": {"sku": "GIFT-*"}, "class": "Gift cards", "income_account": "Gift card liability"},
        {"when": {"customer_group": "wholesale_customer"}, "class": "Wholesale"},
        {"when": {"country": "US"}, "location": "US"},
        {"when": {"country": "CA"}, "location": "Canada"},
        {"class": "Retail", "location": "Elsewhere"},
    )
    # When a wholesale buyer in Canada orders a gift card and a mug
    decided = decide(order(GIFT, MUG, group="wholesale_customer", country="CA"), ruled)
    # Then the gift card line takes the first rule's class and account; the mug, the next
    # class rule that matches; the order's location is the first location rule matching
    assert decided.line("1") == LineRule("Gift cards", None, "Gift card liability")
    assert decided.line("2") == LineRule("Wholesale", None, None)
    assert decided.location == "Canada"
    # And the transaction's class is the wholesale one: the gift card rule does not hold for
    # the order as a whole (its mug is no gift card)
    assert decided.class_name == "Wholesale"
    assert decided.class_names == {"Gift cards", "Wholesale"}
    # While an order of gift cards only takes the gift card class as a whole
    assert decide(order(GIFT, group="wholesale_customer"), ruled).class_name == "Gift cards"
    # And a retail buyer elsewhere falls through to the default
    elsewhere = decide(order(MUG, country="GB"), ruled)
    assert (elsewhere.class_name, elsewhere.location) == ("Retail", "Elsewhere")


def test_an_empty_when_matches_every_line_and_order() -> None:
    decided = decide(order(GIFT, MUG), rules({"class": "Online"}))
    assert decided.class_name == "Online"
    assert {decided.line(i).class_name for i in "12"} == {"Online"}


def test_a_rule_item_replaces_the_sku_mapping_and_an_account_keeps_the_item() -> None:
    # Given mugs mapped to "Mug", gift cards to a rule item, and mugs sent to an account
    ruled = rules(
        {"when": {"sku": "GIFT-*"}, "item": "Gift Card"},
        {"when": {"category": "kitchen"}, "income_account": "Homeware Sales"},
        items={"MUG-01": "Mug"},
        fallback_item=None,
    )
    both = order(GIFT, MUG)
    items = line_items(both, ruled, decide(both, ruled))
    # Then the gift card line needs no SKU mapping, and the mug posts through its account item
    assert items == {
        "1": LineItem("Gift Card"),
        "2": LineItem("Mug (Homeware Sales)", "Homeware Sales"),
    }


def test_lines_no_rule_decides_still_need_a_mapping() -> None:
    ruled = rules({"when": {"sku": "GIFT-*"}, "item": "Gift Card"}, fallback_item=None)
    both = order(GIFT, MUG)
    with pytest.raises(PermanentError, match="SKU MUG-01 has no QuickBooks item"):
        line_items(both, ruled, decide(both, ruled))


def test_account_item_names_fit_quickbooks() -> None:
    assert (
        account_item_name("Gift Card", "Gift card liability") == "Gift Card (Gift card liability)"
    )
    # Colons would make a sub-item; a long item name is shortened, the account kept whole
    assert account_item_name("A:B", "Sales:Online") == "A-B (Sales-Online)"
    long = account_item_name("X" * 120, "Gift card liability")
    assert len(long) == 100 and long.endswith("X (Gift card liability)")

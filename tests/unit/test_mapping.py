"""Store-side mapping decisions: DocNumbers, content hashes, item and tax code names, ids, names."""

from __future__ import annotations

import re
import subprocess
import sys
import unicodedata
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.config import MappingRules, TaxRules
from connector.errors import PermanentError
from connector.mapping import (
    content_hash,
    display_name,
    doc_number,
    fitted_doc_number,
    item_names_needed,
    request_id,
    tax_code_names_needed,
    txn_date,
)
from connector.model import Customer, OrderLine, ShippingLine, TaxAmount, TaxLine
from simulators.testbed.orders import item, make_order

REPO = Path(__file__).resolve().parents[2]


def line(line_id: str, sku: str | None, *rates: str) -> OrderLine:
    """A 10.00 line, taxed 1.00 at each of ``rates``."""
    return item(
        line_id, sku, taxes=tuple(TaxAmount(rate_id=r, amount=Decimal("1.00")) for r in rates)
    )


# --- DocNumber ---------------------------------------------------------------------------------


def test_doc_number_expands_prefix_number_and_id() -> None:
    # Given a template using every placeholder
    rules = MappingRules(doc_number="{prefix}{number}-{id}", doc_prefix="WC-")
    # When the DocNumber is derived
    # Then each placeholder is replaced by the order's values
    assert doc_number(make_order(), rules) == "WC-1042-727"


def test_doc_number_of_exactly_21_characters_is_accepted() -> None:
    rules = MappingRules(doc_number="{prefix}{number}", doc_prefix="X" * 17)
    assert doc_number(make_order(), rules) == "X" * 17 + "1042"


def test_doc_number_that_fits_is_used_as_it_is() -> None:
    # Given numbers of up to 21 characters once the prefix is added
    rules = MappingRules(doc_number="{prefix}{number}", doc_prefix="WOOCOMMERCE-SHOP-")
    # When their DocNumbers are derived
    # Then they are the template's expansion, unchanged
    assert doc_number(make_order(), rules) == "WOOCOMMERCE-SHOP-1042"
    assert doc_number(make_order(number="1"), rules, limit=18) == "WOOCOMMERCE-SHOP-1"


LONG = "SHOP-EUROPE-2024-0000123456789"  # 30 characters, as a sequential-numbers plugin makes


def test_a_long_number_is_fitted_to_exactly_the_limit_keeping_prefix_and_tail() -> None:
    # Given an order whose number is 30 characters, and the prefix "WC-"
    rules = MappingRules(doc_number="{prefix}{number}", doc_prefix="WC-")
    # When its DocNumber is derived for QuickBooks Online (21) and Desktop (11)
    online = doc_number(make_order(number=LONG), rules)
    desktop = doc_number(make_order(number=LONG), rules, limit=11)
    # Then each is exactly the limit: the prefix, "~", a base-36 hash, the number's tail
    assert len(online) == 21 and len(desktop) == 11
    assert re.fullmatch(r"WC-~[0-9A-Z]{11}456789", online), online
    assert re.fullmatch(r"WC-~[0-9A-Z]{6}9", desktop), desktop


def test_a_fitted_number_is_the_same_in_every_process() -> None:
    # Given the long number fitted here
    rules = MappingRules(doc_number="{prefix}{number}", doc_prefix="WC-")
    here = doc_number(make_order(number=LONG), rules)
    # When another interpreter, with another hash seed, fits it
    script = (
        "from connector.config import MappingRules; "
        "from connector.mapping import fitted_doc_number; "
        "rules = MappingRules(doc_number='{prefix}{number}', doc_prefix='WC-'); "
        f"print(fitted_doc_number({LONG!r}, '727', rules, limit=21))"
    )
    there = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO / "shared"), "PYTHONHASHSEED": "12345"},
    ).stdout.strip()
    # Then both give the same number, pinned here so a change of rule is a visible decision
    assert there == here == "WC-~AUL26RPRR0D456789"


def test_a_store_number_carrying_the_prefix_does_not_get_it_twice() -> None:
    # Given the prefix "WC-" and a store that numbers its orders "WC-10045"
    rules = MappingRules(doc_number="{prefix}{number}", doc_prefix="WC-")
    # When the DocNumber is derived
    # Then the prefix appears once; a number without it still gets it
    assert doc_number(make_order(number="WC-10045"), rules) == "WC-10045"
    assert doc_number(make_order(number="10045"), rules) == "WC-10045"
    # And the comparison is case-sensitive: "wc-10045" is a different number
    assert doc_number(make_order(number="wc-10045"), rules) == "WC-wc-10045"
    # And a long number carrying the prefix keeps it once when fitted
    fitted = doc_number(make_order(number="WC-" + LONG), rules)
    assert fitted.startswith("WC-~") and not fitted.startswith("WC-WC-")


def test_a_template_without_the_prefix_first_keeps_its_leading_text() -> None:
    # Given a template with text before the number, and a long number
    rules = MappingRules(doc_number="INV{number}-{id}", doc_prefix="unused")
    # When it is fitted
    fitted = doc_number(make_order(number=LONG), rules)
    # Then the leading text stays, and the tail is the expansion's (the store id's) end
    assert len(fitted) == 21 and fitted.startswith("INV~") and fitted.endswith("89-727")


def test_a_prefix_leaving_no_room_for_the_hash_parks_naming_doc_prefix() -> None:
    # Given a 17-character prefix: short numbers fit, a long one cannot be shortened
    rules = MappingRules(doc_number="{prefix}{number}", doc_prefix="WOOCOMMERCE-SHOP-")
    # When the order number grows past the limit
    with pytest.raises(PermanentError) as caught:
        doc_number(make_order(number="104211"), rules)
    # Then the reason names doc_prefix and how long it may be
    reason = caught.value.reason
    assert "doc_prefix ('WOOCOMMERCE-SHOP-') at most 14 characters" in reason
    assert "'WOOCOMMERCE-SHOP-104211'" in reason
    # And for QuickBooks Desktop's 11 characters the prefix may be 4 long
    with pytest.raises(PermanentError, match=r"doc_prefix \('SHOP-'\) at most 4 characters"):
        doc_number(
            make_order(number=LONG), rules.model_copy(update={"doc_prefix": "SHOP-"}), limit=11
        )
    desktop = doc_number(
        make_order(number=LONG), rules.model_copy(update={"doc_prefix": "SHOP"}), limit=11
    )
    assert re.fullmatch(r"SHOP~[0-9A-Z]{6}", desktop), desktop


def test_an_empty_doc_number_is_still_refused() -> None:
    # Given a template that expands to nothing for an order without a number
    rules = MappingRules(doc_number="{number}")
    # When the DocNumber is derived
    # Then it is refused, naming the settings to check
    with pytest.raises(PermanentError, match=r"empty document number.*doc_number and doc_prefix"):
        doc_number(make_order(number=" "), rules)


def test_a_placeholder_inside_a_store_number_is_not_expanded() -> None:
    rules = MappingRules(doc_number="{number}-{id}")
    assert doc_number(make_order(number="A{id}"), rules) == "A{id}-727"


def test_100k_distinct_long_numbers_sharing_their_tail_get_distinct_doc_numbers() -> None:
    # Given 100,000 long numbers that differ only in the middle (the worst case: the tail
    # kept in the DocNumber is the same for all, so only the hash tells them apart)
    rules = MappingRules(doc_number="{prefix}{number}", doc_prefix="WC-")
    numbers = [f"EU-{i:07d}-WAREHOUSE-WEST-00" for i in range(100_000)]
    # When each is fitted to QuickBooks Online's 21 characters
    fitted = {fitted_doc_number(n, "1", rules, limit=21) for n in numbers}
    # Then no two share a DocNumber
    assert len(fitted) == len(numbers)
    assert {len(f) for f in fitted} == {21}


def test_100k_sequential_long_numbers_get_distinct_desktop_ref_numbers() -> None:
    # Given 100,000 consecutive long numbers, as a store's numbering plugin makes them
    rules = MappingRules(doc_number="{number}")
    numbers = [f"SHOP-EUROPE-2024-{i:09d}" for i in range(1_000_000, 1_100_000)]
    # When each is fitted to QuickBooks Desktop's 11-character RefNumber
    fitted = {fitted_doc_number(n, "1", rules, limit=11) for n in numbers}
    # Then no two share a RefNumber
    assert len(fitted) == len(numbers)


NUMBERS = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="{}"),
    min_size=1,
    max_size=40,
)


@given(
    numbers=st.lists(NUMBERS, min_size=2, max_size=40, unique=True),
    prefix=st.sampled_from(["", "W", "WC-", "SHOP"]),
    limit=st.sampled_from([11, 21]),
)
def test_fitted_numbers_fit_and_stay_distinct(numbers: list[str], prefix: str, limit: int) -> None:
    # Given distinct store numbers, a prefix and a ledger's limit
    rules = MappingRules(doc_number="{prefix}{number}", doc_prefix=prefix)
    # When each is fitted
    fitted = [fitted_doc_number(n, "1", rules, limit=limit) for n in numbers]
    # Then each fits, and distinct expansions stay distinct
    assert all(0 < len(f) <= limit for f in fitted)
    expansions = {n if n.startswith(prefix) else prefix + n for n in numbers}
    assert len(set(fitted)) == len(expansions)
    # And one that had to be shortened keeps the prefix
    for number, result in zip(numbers, fitted, strict=True):
        if len(prefix + number) > limit and not number.startswith(prefix):
            assert result.startswith(prefix + "~")


# --- content hash ------------------------------------------------------------------------------


def test_content_hash_ignores_modified_at_and_status() -> None:
    # Given the same order touched later and moved from processing to completed
    first = make_order()
    later = make_order(
        modified_at=datetime(2024, 6, 1, tzinfo=UTC),
        status="completed",
        customer=first.customer.model_copy(
            update={"modified_at": datetime(2024, 6, 1, tzinfo=UTC)}
        ),
    )
    # Then nothing that reaches QuickBooks changed, so the hash is the same
    assert content_hash(later) == content_hash(first)


def test_content_hash_changes_when_a_line_changes() -> None:
    changed_line = make_order().lines[0].model_copy(update={"quantity": Decimal(3)})
    assert content_hash(make_order(lines=(changed_line,))) != content_hash(make_order())


def test_content_hash_changes_with_the_customer_note_and_address() -> None:
    base = make_order()
    assert content_hash(make_order(note="leave at door")) != content_hash(base)
    moved = base.customer.model_copy(update={"email": "ann@elsewhere.example"})
    assert content_hash(make_order(customer=moved)) != content_hash(base)


def test_content_hash_of_an_order_without_rule_facts_is_the_one_it_was_posted_under() -> None:
    # Given an order as the store adapter gives it when no revenue rule needs categories or
    # the customer's group (the hash v1 gave this order before those fields existed)
    base = make_order(customer=customer(email="ann@example.com"))
    assert content_hash(base) == "f14820a73240f59ee6098fdc546373263545afa1818019e6c7a50babaa369b40"
    # Then once looked up, they are part of what reaches QuickBooks (a class may follow them)
    categorised = base.lines[0].model_copy(update={"categories": ("Kitchen", "kitchen")})
    assert content_hash(make_order(lines=(categorised,))) != content_hash(base)
    grouped = base.customer.model_copy(update={"group": "wholesale_customer"})
    assert content_hash(make_order(customer=grouped)) != content_hash(base)


def test_content_hash_treats_equal_decimals_alike() -> None:
    # Given the same amounts spelled 20.0 and 20.00 by two fetches
    one = make_order(total=Decimal("20.0"))
    two = make_order(total=Decimal("20.00"))
    assert content_hash(one) == content_hash(two)


def test_content_hash_is_the_same_in_another_process() -> None:
    # Given a hash computed here
    order = make_order(note="café ☕")
    # When another interpreter (different hash seed) computes it from the same JSON
    script = (
        "import sys; from connector.model import Order; from connector.mapping import content_hash;"
        "print(content_hash(Order.model_validate_json(sys.stdin.read())))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=order.model_dump_json(),
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO / "shared"), "PYTHONHASHSEED": "12345"},
    )
    # Then it is the same
    assert done.stdout.strip() == content_hash(order)
    assert len(content_hash(order)) == 64


# --- items -------------------------------------------------------------------------------------


def test_item_names_for_mapped_and_fallback_skus() -> None:
    rules = MappingRules(items={"MUG-01": "Mug"}, fallback_item="Sales")
    order = make_order(lines=(line("1", "MUG-01"), line("2", "CAP-9"), line("3", None)))
    assert item_names_needed(order, rules) == {"MUG-01": "Mug", "CAP-9": "Sales", None: "Sales"}


def test_auto_create_uses_the_sku_as_item_name_before_the_fallback() -> None:
    rules = MappingRules(
        items={"MUG-01": "Mug"},
        fallback_item="Sales",
        auto_create_items=True,
        income_account="Sales of Product Income",
    )
    order = make_order(lines=(line("1", "MUG-01"), line("2", "CAP:RED"), line("3", None)))
    # A colon would make QuickBooks read a parent:child item, so it becomes a dash.
    assert item_names_needed(order, rules) == {"MUG-01": "Mug", "CAP:RED": "CAP-RED", None: "Sales"}


def test_unmapped_skus_without_fallback_park_with_the_skus_and_the_fix() -> None:
    # Given no fallback and no auto-create
    rules = MappingRules(items={"MUG-01": "Mug"})
    order = make_order(lines=(line("1", "MUG-01"), line("2", "HOODIE-BLUE-M"), line("3", "CAP-9")))
    # When the items are worked out
    with pytest.raises(PermanentError) as caught:
        item_names_needed(order, rules)
    # Then the reason names both SKUs and what to change
    reason = caught.value.reason
    assert reason.startswith("order 1042: SKU CAP-9, HOODIE-BLUE-M has no QuickBooks item")
    assert "neither fallback_item nor auto_create_items is set" in reason
    assert "add it under items in the tenant file's mapping (or set fallback_item)" in reason
    assert reason.endswith("then replay the order")


def test_line_of_a_deleted_product_needs_the_fallback_even_with_auto_create() -> None:
    rules = MappingRules(auto_create_items=True, income_account="Sales")
    order = make_order(lines=(line("7", None),))
    with pytest.raises(PermanentError) as caught:
        item_names_needed(order, rules)
    assert "line 'Product 7' (line 7) has no SKU" in caught.value.reason
    assert "set fallback_item" in caught.value.reason


# --- tax codes ---------------------------------------------------------------------------------


def per_rate(codes: dict[str, str], exempt: str | None = "Exempt") -> MappingRules:
    return MappingRules(tax=TaxRules(mode="per_rate", codes=codes, exempt_code=exempt))


TAX_LINES = (
    TaxLine(rate_id="1", code="CA-GST-1", label="GST", percent=Decimal("5"), tax_total=Decimal(0)),
    TaxLine(
        rate_id="2",
        code="CA-QC-QST-2",
        label="QST",
        percent=Decimal("9.975"),
        compound=True,
        tax_total=Decimal(0),
    ),
)


def test_tax_code_names_cover_every_rate_and_the_exempt_code() -> None:
    rules = per_rate({"1": "GST", "3": "HST ON"})
    order = make_order(
        lines=(line("1", "A", "1"), line("2", "B", "3")),
        shipping_lines=(ShippingLine(line_id="9", method="Pickup", total=Decimal(0)),),
    )
    assert tax_code_names_needed(order, rules) == {"GST", "HST ON", "Exempt"}


def test_us_automated_needs_no_tax_code_lookup() -> None:
    order = make_order(lines=(line("1", "A", "1"),))
    assert tax_code_names_needed(order, MappingRules()) == set()


def test_unmapped_rate_parks_naming_id_code_and_label() -> None:
    rules = per_rate({"1": "GST"})
    order = make_order(lines=(line("1", "A", "2"),), tax_lines=TAX_LINES)
    with pytest.raises(PermanentError) as caught:
        tax_code_names_needed(order, rules)
    reason = caught.value.reason
    assert "store tax rate 2 (CA-QC-QST-2, 'QST', 9.975%, compound)" in reason
    assert '"2" = "<tax code name>" under tax.codes' in reason


def test_two_rates_on_a_line_use_the_combined_code() -> None:
    # Given GST and compound QST on one line, and QuickBooks' combined code mapped for the pair
    rules = per_rate({"1": "GST", "2": "QST", "1+2": "GST/QST QC"})
    order = make_order(lines=(line("1", "A", "2", "1"), line("2", "B", "1")), tax_lines=TAX_LINES)
    assert tax_code_names_needed(order, rules) == {"GST/QST QC", "GST"}


def test_rates_mapped_to_one_code_need_no_combined_entry() -> None:
    rules = per_rate({"1": "GST/QST QC", "2": "GST/QST QC"})
    order = make_order(lines=(line("1", "A", "1", "2"),), tax_lines=TAX_LINES)
    assert tax_code_names_needed(order, rules) == {"GST/QST QC"}


def test_two_rates_without_a_combined_code_park_with_the_key_to_add() -> None:
    rules = per_rate({"1": "GST", "2": "QST"})
    order = make_order(lines=(line("4", "A", "2", "1"),), tax_lines=TAX_LINES)
    with pytest.raises(PermanentError) as caught:
        tax_code_names_needed(order, rules)
    reason = caught.value.reason
    assert "line 'Product 4' (line 4) is taxed by rate 1 (CA-GST-1, 'GST', 5%)" in reason
    assert "QuickBooks takes one tax code per line" in reason
    assert '"1+2" = "<combined tax code name>"' in reason


def test_untaxed_line_without_exempt_code_parks() -> None:
    rules = per_rate({"1": "GST"}, exempt=None)
    with pytest.raises(PermanentError) as caught:
        tax_code_names_needed(make_order(lines=(line("1", "A"),)), rules)
    assert "has no tax and tax.exempt_code is not set" in caught.value.reason


# --- request ids -------------------------------------------------------------------------------


def test_request_id_is_deterministic_and_fits_qbo() -> None:
    first = request_id("shop-us", "order", "727", "ab" * 32, "create")
    again = request_id("shop-us", "order", "727", "ab" * 32, "create")
    assert first == again
    assert len(first) <= 50


def test_request_id_differs_per_logical_write() -> None:
    base = ("shop-us", "order", "727", "ab" * 32, "create")
    ids = {
        request_id(*base),
        request_id("shop-eu", *base[1:]),
        request_id(base[0], "customer", *base[2:]),
        request_id(*base[:2], "728", *base[3:]),
        request_id(*base[:3], "cd" * 32, base[4]),
        request_id(*base[:4], "void"),
    }
    assert len(ids) == 6


@given(st.lists(st.text(max_size=300), min_size=5, max_size=5))
def test_request_id_never_exceeds_50_characters(parts: list[str]) -> None:
    value = request_id(*parts)
    assert len(value) <= 50
    assert value == request_id(*parts)


# --- display names -----------------------------------------------------------------------------


def customer(**fields: Any) -> Customer:
    return Customer(connection_id="shop-us", **{"store_id": "15", **fields})


def test_display_name_replaces_colons_and_keeps_apostrophes() -> None:
    assert display_name(customer(first_name="Ann", last_name="O'Neil: Jr")) == "Ann O'Neil- Jr"


def test_display_name_collapses_whitespace_and_trims() -> None:
    name = display_name(customer(first_name="  Ann\t\n", last_name=" van   der  Berg "))
    assert name == "Ann van der Berg"
    assert display_name(customer(first_name="Ann\x00\ud800", last_name="Lee")) == "Ann Lee"


def test_display_name_turns_typographic_apostrophes_into_plain_ones() -> None:
    # QuickBooks' query lexer breaks on a typographic apostrophe, and the name is used to find the customer.
    assert display_name(customer(first_name="Seán", last_name="O\u2019Brien")) == "Seán O'Brien"


def test_display_name_falls_back_to_company_then_email_then_store_id() -> None:
    assert display_name(customer(company="Acme: Tools Ltd")) == "Acme- Tools Ltd"
    assert display_name(customer(email="ann@example.com")) == "ann@example.com"
    assert display_name(customer(store_id=None, email="ann@example.com")) == "Guest ann@example.com"
    assert display_name(customer()) == "Customer 15"
    assert display_name(customer(store_id=None)) == "Guest"


def test_display_name_is_cut_to_500_characters() -> None:
    assert len(display_name(customer(first_name="A" * 400, last_name="B" * 400))) == 500


@given(
    first=st.text(max_size=300),
    last=st.text(max_size=300),
    company=st.text(max_size=50),
    email=st.emails() | st.just(""),
    store_id=st.none() | st.just("15"),
)
def test_display_name_is_always_usable(
    first: str, last: str, company: str, email: str, store_id: str | None
) -> None:
    name = display_name(
        customer(first_name=first, last_name=last, company=company, email=email, store_id=store_id)
    )
    assert name
    assert ":" not in name
    assert len(name) <= 500
    assert name == name.strip()
    assert "  " not in name
    assert not any(unicodedata.category(ch) in {"Cc", "Cs"} for ch in name)
    name.encode("utf-8")  # sendable: no lone surrogates


# --- transaction date --------------------------------------------------------------------------


def test_txn_date_is_the_day_in_the_store_timezone() -> None:
    # Given an order placed at 21:30 in New York (01:30 UTC the next day)
    order = make_order(created_at=datetime(2024, 5, 2, 1, 30, tzinfo=UTC))
    assert txn_date(order, "America/New_York").isoformat() == "2024-05-01"
    assert txn_date(order).isoformat() == "2024-05-02"


def test_txn_date_with_an_unknown_zone_parks() -> None:
    with pytest.raises(PermanentError) as caught:
        txn_date(make_order(), "Mars/Olympus")
    assert "'Mars/Olympus' is not an IANA zone name" in caught.value.reason

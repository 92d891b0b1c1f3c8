"""Magento payloads -> the canonical model, and the OAuth 1.0a signature Magento checks."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.model import TotalsMismatch
from connector.stores.magento.normalise import allocate, normalise_order, normalise_refund
from connector.stores.magento.oauth import (
    OAuthCredentials,
    authorization_header,
    signature_base_string,
)

SAMPLE = (
    Path(__file__).resolve().parents[2]
    / ".."
    / "shared"
    / "reference"
    / "stores"
    / "magento"
    / "order.GET-V1-orders-3.adobe-tutorial.json"
)
reference = pytest.mark.skipif(
    not SAMPLE.is_file(), reason="../shared/reference/stores/magento is absent"
)


# --- OAuth 1.0a ---------------------------------------------------------------------------


def test_the_base_string_is_rfc_5849s_worked_example() -> None:
    # Given the request of RFC 5849 section 3.4.1.1 (query, body and oauth parameters)
    params = [
        ("b5", "=%3D"), ("a3", "a"), ("c@", ""), ("a2", "r b"), ("c2", ""), ("a3", "2 q"),
        ("oauth_consumer_key", "9djdj82h48djs9d2"), ("oauth_token", "kkk9d7dh3k39sjv7"),
        ("oauth_signature_method", "HMAC-SHA1"), ("oauth_timestamp", "137131201"),
        ("oauth_nonce", "7d8f3e4a"),
    ]  # fmt: skip
    # When the base string is built / Then it is the RFC's, byte for byte
    assert signature_base_string("post", "http://EXAMPLE.COM:80/request", params) == (
        "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D"
        "%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3"
        "e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkk"
        "k9d7dh3k39sjv7"
    )


def test_the_header_is_signed_with_hmac_sha256_keyed_by_both_secrets() -> None:
    # The expected signature is openssl's: printf '%s' "$BASE" | openssl dgst -sha256
    # -hmac 'cs1&ts1' -binary | base64
    credentials = OAuthCredentials(
        consumer_key="ck1", consumer_secret="cs1", access_token="at1", access_token_secret="ts1"
    )
    header = authorization_header(
        "GET",
        "https://shop.example.com/rest/default/V1/orders",
        [("searchCriteria[pageSize]", "50")],
        credentials,
        timestamp=1767225600,
        nonce="n0nce",
    )
    assert header.startswith('OAuth oauth_consumer_key="ck1", oauth_nonce="n0nce", ')
    assert 'oauth_signature_method="HMAC-SHA256"' in header and 'oauth_token="at1"' in header
    assert header.endswith('oauth_signature="o2ZXUlk0sDenk425sM4Wyzk%2BGJfIF1A7UChxzIqBoXM%3D"')


# --- orders -------------------------------------------------------------------------------


def _row(item_id: int, sku: str, price: str, qty: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "item_id": item_id, "sku": sku, "name": sku.title(), "product_type": "simple",
        "qty_ordered": qty, "price": float(price), "row_total": float(Decimal(price) * qty),
        "tax_amount": 0, "discount_amount": 0, **extra,
    }  # fmt: skip


def _order(items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    subtotal = sum(Decimal(str(i["row_total"])) for i in items if i.get("parent_item_id") is None)
    return {
        "entity_id": 41, "increment_id": "000000041", "status": "processing",
        "created_at": "2026-03-01 10:00:00", "updated_at": "2026-03-01 10:05:00",
        "order_currency_code": "USD", "base_currency_code": "USD", "base_to_order_rate": 1,
        "customer_is_guest": 0, "customer_id": 7, "customer_group_id": 1,
        "customer_email": "ann@example.com", "customer_firstname": "Ann",
        "customer_lastname": "Lee", "subtotal": float(subtotal), "shipping_amount": 5,
        "shipping_description": "Flat Rate - Fixed", "tax_amount": 0,
        "grand_total": float(subtotal + 5), "total_paid": 0, "items": items,
        "billing_address": {"firstname": "Ann", "lastname": "Lee", "street": ["1 Main St"],
                            "city": "Austin", "region_code": "TX", "postcode": "78701",
                            "country_id": "US"},
        **extra,
    }  # fmt: skip


def test_a_configurable_is_counted_once_on_its_parent_with_the_childs_sku() -> None:
    parent = _row(10, "MH01-S-Gray", "52", 2, product_type="configurable")
    child = _row(11, "MH01-S-Gray", "0", 2, parent_item_id=10)
    order = normalise_order(_order([parent, child]), "c1")
    assert [(line.line_id, line.sku, line.quantity, line.total) for line in order.lines] == [
        ("10", "MH01-S-Gray", 2, Decimal("104.00"))
    ]
    assert (order.store_id, order.number, order.total) == ("41", "000000041", Decimal("109.00"))


def test_a_bundle_priced_by_its_children_takes_their_figures() -> None:
    parent = _row(20, "KIT-A-B", "0", product_type="bundle")
    a = _row(21, "A", "5", parent_item_id=20, tax_amount=0.5)
    b = _row(22, "B", "17", parent_item_id=20, tax_amount=1.7)
    raw = _order([parent, a, b], tax_amount=2.2, grand_total=29.2, subtotal=22)
    order = normalise_order(raw, "c1")
    [line] = order.lines
    assert (line.sku, line.total, line.tax_total) == ("KIT-A-B", Decimal("22.00"), Decimal("2.20"))
    assert [t.rate_id for t in order.tax_lines] == ["tax"]


@reference
def test_the_reference_order_counts_each_sold_unit_once() -> None:
    order = normalise_order(json.loads(SAMPLE.read_text()), "c1")
    assert order.items_total == Decimal("160.00")  # the sample's subtotal, not the 228 of all rows
    assert order.total == Decimal("165.00")
    assert [line.sku for line in order.lines][-1] == "MH01-S-Gray"


def test_the_exchange_rate_is_home_units_per_order_unit() -> None:
    # 1 USD (base) = 0.8 EUR (order): QuickBooks wants 1.25 USD per EUR
    raw = _order(
        [_row(1, "A", "8")], order_currency_code="EUR", base_to_order_rate=0.8,
        base_grand_total=16.25,
    )  # fmt: skip
    order = normalise_order(raw, "c1")
    assert (order.currency, order.total, order.exchange_rate) == (
        "EUR",
        Decimal("13.00"),
        Decimal("1.25"),
    )
    assert order.q(order.total * order.exchange_rate) == Decimal("16.25")
    assert normalise_order(_order([_row(1, "A", "8")]), "c1").exchange_rate is None


def test_paid_means_magento_invoiced_the_whole_order() -> None:
    raw = _order([_row(1, "A", "8")])
    assert not normalise_order({**raw, "total_paid": 5}, "c1").payment.is_paid
    paid = normalise_order(
        {**raw, "total_paid": 13, "_connector": {"invoiced_at": "2026-03-01T10:01:00+00:00"}}, "c1"
    )
    assert paid.payment.paid_at is not None and paid.payment.paid_at.minute == 1


def test_a_guest_is_matched_on_the_email() -> None:
    raw = _order([_row(1, "A", "8")], customer_is_guest=1, customer_group_id=0)
    del raw["customer_id"]
    customer = normalise_order(raw, "c1").customer
    assert (customer.store_id, customer.match_key, customer.group) == (
        None, "email:ann@example.com", "guest"
    )  # fmt: skip


def test_two_applied_rates_share_line_and_shipping_tax_to_the_cent() -> None:
    items = [_row(1, "A", "10", tax_amount=0.9), _row(2, "B", "20", tax_amount=1.8)]
    raw = _order(
        items, tax_amount=3.15, shipping_tax_amount=0.45, grand_total=38.15,
        extension_attributes={"applied_taxes": [
            {"code": "STATE", "title": "State", "percent": 6.25, "amount": 2.19},
            {"code": "CITY", "title": "City", "percent": 2.75, "amount": 0.96},
        ]},
    )  # fmt: skip
    order = normalise_order(raw, "c1")
    assert [(t.rate_id, t.amount) for t in order.tax_lines] == [
        ("STATE", Decimal("2.19")), ("CITY", Decimal("0.96"))
    ]  # fmt: skip
    for tax_line in order.tax_lines:
        on_lines = sum(
            t.amount for line in order.lines for t in line.taxes if t.rate_id == tax_line.rate_id
        )
        assert on_lines == tax_line.tax_total


def test_figures_that_do_not_add_up_name_the_part() -> None:
    raw = _order([_row(1, "A", "8")], grand_total=14)
    with pytest.raises(TotalsMismatch, match=r"not the order total 14\.00"):
        normalise_order(raw, "c1")


# --- credit memos -------------------------------------------------------------------------


def _memo(**extra: Any) -> dict[str, Any]:
    return {
        "entity_id": 3, "order_id": 41, "increment_id": "000000003",
        "created_at": "2026-03-05 09:00:00", "grand_total": 57, "shipping_amount": 5,
        "adjustment_positive": 2, "adjustment_negative": 2,
        "items": [
            {"entity_id": 30, "order_item_id": 10, "sku": "MH01-S-Gray", "qty": 1, "row_total": 52},
            {"entity_id": 31, "order_item_id": 11, "sku": "MH01-S-Gray", "qty": 1, "row_total": 0},
        ],
        **extra,
    }  # fmt: skip


def test_a_credit_memo_counts_a_configurable_once_and_its_adjustments_are_not_on_a_line() -> None:
    parent = _row(10, "MH01-S-Gray", "52", 2, product_type="configurable")
    order = normalise_order(
        _order([parent, _row(11, "MH01-S-Gray", "0", 2, parent_item_id=10)]), "c1"
    )
    refund = normalise_refund(_memo(adjustment_positive=4.5, grand_total=59.5), order, {11: 10})
    assert [(r.kind, r.line_id, r.quantity, r.total) for r in refund.lines] == [
        ("item", "10", 1, Decimal("52.00")),
        ("shipping", "shipping", 1, Decimal("5.00")),
    ]
    assert (refund.amount, refund.order_number) == (Decimal("59.50"), "000000041")
    assert refund.amount - sum(r.total for r in refund.lines) == Decimal("2.50")


@pytest.mark.parametrize(
    ("parent_total", "child_totals"),
    [("22", ("5", "17")), ("0", ("5", "17"))],
    ids=["children repeat the parent's price", "priced by its children"],
)
def test_a_credit_memo_counts_a_bundle_once(
    parent_total: str, child_totals: tuple[str, str]
) -> None:
    # Given a bundle sold for 22 (with 2.20 tax) and a credit memo of all of it
    parent = _row(20, "KIT-A-B", parent_total, product_type="bundle")
    a = _row(21, "A", child_totals[0], parent_item_id=20)
    b = _row(22, "B", child_totals[1], parent_item_id=20)
    raw = _order([parent, a, b], tax_amount=2.2, grand_total=29.2, subtotal=22)
    if parent_total == "0":
        a["tax_amount"], b["tax_amount"] = 0.5, 1.7
    else:
        parent["tax_amount"] = 2.2
    order = normalise_order(raw, "c1")
    rows = [
        {"entity_id": 30 + n, "order_item_id": row["item_id"], "sku": row["sku"], "qty": 1,
         "row_total": row["row_total"], "tax_amount": row["tax_amount"]}
        for n, row in enumerate((parent, a, b))
    ]  # fmt: skip
    memo = _memo(items=rows, shipping_amount=0, adjustment_positive=0, adjustment_negative=0,
                 grand_total=24.2)  # fmt: skip
    # When it is read / Then the bundle is refunded once, on the line it was sold on
    refund = normalise_refund(memo, order, {21: 20, 22: 20})
    [line] = refund.lines
    assert (line.line_id, line.quantity, line.total) == ("20", 1, Decimal("22.00"))
    assert sum(t.amount for t in line.taxes) == Decimal("2.20")
    assert refund.amount == Decimal("24.20")


def test_a_credit_memo_that_does_not_add_up_is_refused() -> None:
    parent = _row(10, "MH01-S-Gray", "52", 2, product_type="configurable")
    order = normalise_order(_order([parent]), "c1")
    with pytest.raises(TotalsMismatch, match="adjustment"):
        normalise_refund(_memo(grand_total=60), order, {11: 10})


@given(
    total=st.decimals(min_value=-1000, max_value=1000, places=2),
    weights=st.lists(st.decimals(min_value=0, max_value=500, places=2), min_size=1, max_size=6),
)
def test_allocated_parts_add_up_to_the_total(total: Decimal, weights: list[Decimal]) -> None:
    parts = allocate(total, weights, "USD")
    assert sum(parts) == total
    assert all(p == p.quantize(Decimal("0.01")) for p in parts)


def test_a_customer_s_address_region_object_is_read_as_its_code_and_name() -> None:
    # A customer's addresses carry the region as an object (an order's as two strings).
    from connector.stores.magento.normalise import normalise_customer

    customer = normalise_customer(
        {
            "id": 7,
            "email": "ann@example.com",
            "firstname": "Ann",
            "lastname": "Lee",
            "default_billing": "3",
            "addresses": [
                {
                    "id": 3,
                    "firstname": "Ann",
                    "lastname": "Lee",
                    "street": ["1 Main St"],
                    "city": "Austin",
                    "postcode": "78701",
                    "country_id": "US",
                    "telephone": "512-555-0101",
                    "region": {"region_code": "TX", "region": "Texas", "region_id": 57},
                }
            ],
        },
        "m2",
    )
    assert customer.billing.region == "TX" and customer.shipping.region == "TX"
    assert customer.phone == "512-555-0101"


def test_the_connector_s_invoice_marker_is_read_and_another_channel_s_external_id_is_not() -> None:
    # The adapter writes ext_order_id = qbo-invoice-<Id> on an order made from an invoice
    made = normalise_order(_order([_row(10, "24-WG084", "5")], ext_order_id="qbo-invoice-77"), "c")
    assert made.origin_ledger_id == "77"
    imported = normalise_order(_order([_row(10, "24-WG084", "5")], ext_order_id="AMZ-1234"), "c")
    assert imported.origin_ledger_id is None
    assert normalise_order(_order([_row(10, "24-WG084", "5")]), "c").origin_ledger_id is None

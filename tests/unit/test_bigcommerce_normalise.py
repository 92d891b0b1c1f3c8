"""BigCommerce payloads -> the canonical model, to the cent (pure: no store, no sockets).

Orders are built here the way the client hands them over: the V2 order with its products,
shipping addresses, coupons, taxes (``?details=true``) and fees in place of their links.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.model import Order
from connector.stores.bigcommerce.normalise import (
    INCOMPLETE,
    allocate,
    normalise_order,
    normalise_refund,
)
from connector.stores.bigcommerce.webhook import read_callback

D = Decimal
CALLBACKS = (
    Path(__file__).resolve().parents[2]
    / ".."
    / "shared"
    / "reference"
    / "stores"
    / "bigcommerce"
    / "webhook-callbacks"
).resolve()
reference = pytest.mark.skipif(
    not CALLBACKS.is_dir(), reason="../shared/reference/stores/bigcommerce is absent"
)


# --- builders ------------------------------------------------------------------------------


def product(pid: int, total_ex: str, *, qty: int = 1, total_inc: str | None = None,
            discount: str = "0", sku: str = "SKU") -> dict[str, Any]:  # fmt: skip
    return {
        "id": pid, "product_id": pid, "name": f"Product {pid}", "sku": sku, "quantity": qty,
        "total_ex_tax": total_ex, "total_inc_tax": total_inc or total_ex,
        "applied_discounts": [{"id": "c", "amount": discount}] if D(discount) else [],
        "parent_order_product_id": None,
    }  # fmt: skip


def tax(amount: str, kind: str = "item", product_id: int | None = None, rate_id: int = 1,
        rate: str = "8.0000") -> dict[str, Any]:  # fmt: skip
    return {
        "id": abs(hash((amount, kind, product_id))) % 10_000, "tax_rate_id": rate_id,
        "name": "Sales Tax", "class": "Default Tax Class", "rate": rate, "line_amount": amount,
        "order_product_id": str(product_id) if product_id is not None else None,
        "line_item_type": kind,
    }  # fmt: skip


def order(products: list[dict[str, Any]], taxes: list[dict[str, Any]], total_inc: str,
          total_tax: str, **fields: Any) -> dict[str, Any]:  # fmt: skip
    raw: dict[str, Any] = {
        "id": 250, "customer_id": 0, "status_id": 11, "status": "Awaiting Fulfillment",
        "date_created": "Tue, 05 Mar 2019 21:40:49 +0000",
        "date_modified": "Tue, 05 Mar 2019 21:41:13 +0000",
        "total_inc_tax": total_inc, "total_tax": total_tax, "payment_status": "captured",
        "payment_method": "Credit Card", "default_currency_code": "USD", "currency_code": "USD",
        "billing_address": {"first_name": "Jane", "last_name": "Doe",
                            "email": "janedoe@example.com", "country_iso2": "US"},
        "products": products, "taxes": taxes, "shipping_addresses": [], "coupons": [], "fees": [],
    }  # fmt: skip
    raw.update(fields)
    return raw


def adds_up(found: Order) -> bool:
    parts = found.items_total + found.shipping_total + found.fees_total + found.tax_lines_total
    return parts == found.total


# --- money ---------------------------------------------------------------------------------


def test_four_decimal_amounts_add_up_to_the_stores_rounded_totals() -> None:
    # Given three 3.335 lines taxed at 8 % per line (0.2668 each): the store rounds only totals
    raw = order(
        [product(n, "3.3350") for n in (1, 2, 3)],
        [tax("0.2668", product_id=n) for n in (1, 2, 3)],
        total_inc="10.8100",  # 10.005 -> 10.01, tax 0.8004 -> 0.80
        total_tax="0.8004",
    )
    # When it is normalised
    found = normalise_order(raw, "bc")
    # Then each amount is in cents and they add up to the total the merchant sees
    assert found.total == D("10.81") and found.total_tax == D("0.80")
    assert sorted(line.total for line in found.lines) == [D("3.33"), D("3.34"), D("3.34")]
    assert sum((t.amount for line in found.lines for t in line.taxes), D(0)) == D("0.80")
    assert adds_up(found)


def test_a_rounding_cent_is_not_shown_as_a_discount() -> None:
    # Given the same three lines and no discount at all
    raw = order(
        [product(n, "3.3350") for n in (1, 2, 3)],
        [tax("0.2668", product_id=n) for n in (1, 2, 3)],
        total_inc="10.8100",
        total_tax="0.8004",
    )
    found = normalise_order(raw, "bc")
    # Then no line carries a discount: the cent rounding moved is not money taken off
    assert [line.discount for line in found.lines] == [0, 0, 0]
    assert found.discount_total == 0


def test_a_line_discount_is_the_stores_discount_to_the_cent() -> None:
    raw = order(
        [product(1, "10.0050", qty=3, discount="1.0000"), product(2, "18.0650", sku="")],
        [tax("0.7204", product_id=1), tax("1.4452", product_id=2)],
        total_inc="29.2400",  # 27.07 + 2.1656 -> 2.17
        total_tax="2.1656",
    )
    found = normalise_order(raw, "bc")
    assert [line.discount for line in found.lines] == [D("1.00"), D("0")]
    assert found.discount_total == D("1.00")
    assert found.lines[1].sku is None
    assert adds_up(found)


@given(
    st.lists(st.decimals(min_value=0, max_value=500, places=4), min_size=1, max_size=8),
    st.integers(min_value=-3, max_value=3),
)
def test_allocation_hits_any_target_rounding_can_explain(exacts: list[Decimal], cents: int) -> None:
    # Given exact amounts and a target some cents away from their plain roundings
    plain = [a.quantize(D("0.01"), rounding=ROUND_HALF_UP) for a in exacts]
    target = sum(plain, D(0)) + D(cents) / 100
    # When they are allocated
    shares = allocate(exacts, target, "USD")
    # Then a gap rounding can explain is closed a cent at a time, never more than a cent a line
    # over the rounds needed; a wider one is left for check_totals to name
    if abs(cents) <= len(exacts) // 2 + 1:
        assert sum(shares, D(0)) == target
        rounds = -(-abs(cents) // len(exacts))
        assert all(abs(s - p) <= D("0.01") * rounds for s, p in zip(shares, plain, strict=True))
    else:
        assert shares == plain


def test_tax_inclusive_prices_become_tax_exclusive_lines_and_discounts() -> None:
    # Given a tax-inclusive store (8 %): a 10.80 mug with 1.08 off, and 5.00 shipping, both
    # stated with tax; the ex-tax figures BigCommerce estimates to 4 decimals
    raw = order(
        [product(1, "10.0000", total_inc="10.8000", discount="1.0800")],
        [tax("0.7200", product_id=1), tax("0.3704", kind="shipping")],
        total_inc="14.7200",  # 9.72 + 5.00
        total_tax="1.0904",  # 0.72 + 0.3704
        is_tax_inclusive_pricing=True,
        shipping_cost_ex_tax="4.6296",
        shipping_cost_inc_tax="5.0000",
    )
    found = normalise_order(raw, "bc")
    # Then the line is 9.00 without tax after a 1.00 discount, and shipping 4.63 + 0.37 tax
    assert found.prices_include_tax
    assert (found.lines[0].subtotal, found.lines[0].total) == (D("10.00"), D("9.00"))
    assert found.shipping_total == D("4.63")
    assert [t.amount for t in found.shipping_lines[0].taxes] == [D("0.37")]
    assert found.total == D("14.72") and adds_up(found)


def test_handling_and_gift_wrapping_are_fee_lines_with_their_tax() -> None:
    raw = order(
        [product(1, "20.0000")],
        [tax("1.6000", product_id=1), tax("0.2000", kind="handling", product_id=1),
         tax("0.1200", kind="gift-wrapping")],
        total_inc="25.9200",  # 20 + 2.50 handling + 1.50 wrapping + 1.92 tax
        total_tax="1.9200",
        handling_cost_ex_tax="2.5000",
        wrapping_cost_ex_tax="1.5000",
    )  # fmt: skip
    found = normalise_order(raw, "bc")
    fees = {
        fee.name: (fee.total, sum((t.amount for t in fee.taxes), D(0))) for fee in found.fee_lines
    }
    assert fees == {"Handling": (D("2.50"), D("0.20")), "Gift wrapping": (D("1.50"), D("0.12"))}
    # the handling tax row names the product (as BigCommerce's does), but is not the item's
    assert [t.amount for t in found.lines[0].taxes] == [D("1.60")]
    assert adds_up(found)


def test_store_credit_and_gift_certificates_pay_but_do_not_lower_the_total() -> None:
    raw = order(
        [product(1, "10.0000")],
        [tax("0.8000", product_id=1)],
        total_inc="10.8000",
        total_tax="0.8000",
        store_credit_amount="4.0000",
        gift_certificate_amount="6.8000",
        payment_status="",  # nothing went through a gateway
        payment_method="gift certificate",
    )
    found = normalise_order(raw, "bc")
    assert found.total == D("10.80")
    assert "Store credit paid 4.00 USD." in found.note
    assert "Gift certificates paid 6.80 USD." in found.note
    # paid in full by them: the order is paid
    assert found.payment.is_paid


def test_an_unpaid_order_partly_on_store_credit_is_not_paid() -> None:
    raw = order([product(1, "10.0000")], [tax("0.8000", product_id=1)], "10.8000", "0.8000",
                store_credit_amount="4.0000", payment_status="pending")  # fmt: skip
    assert not normalise_order(raw, "bc").payment.is_paid


def test_the_charged_currency_and_the_rate_to_the_store_default() -> None:
    # Given a USD store that charged in EUR at 1 USD = 0.9 EUR, shown to the shopper in GBP
    raw = order(
        [product(1, "9.0000")], [tax("0.7200", product_id=1)], "9.7200", "0.7200",
        default_currency_code="EUR", currency_code="GBP", currency_exchange_rate="0.8000",
        store_default_currency_code="USD",
        store_default_to_transactional_exchange_rate="0.9000000000",
    )  # fmt: skip
    found = normalise_order(raw, "bc")
    # Then the document is in euros at home (USD) units per euro: 1 / 0.9
    assert found.currency == "EUR"
    assert found.exchange_rate == D("1.1111111111")
    # A yen order at 1 USD = 100 JPY is in whole yen at 0.01 USD per yen
    yen = order(
        [product(1, "1000.0000")], [tax("80.0000", product_id=1)], "1080.0000", "80.0000",
        default_currency_code="JPY", store_default_currency_code="USD",
        store_default_to_transactional_exchange_rate="100.0000000000",
    )  # fmt: skip
    found = normalise_order(yen, "bc")
    assert (found.currency, found.total, found.exchange_rate) == ("JPY", D("1080"), D("0.01"))
    # And a single-currency store (no store default stated) gives no rate
    plain = order([product(1, "1.0000")], [], "1.0000", "0", store_default_currency_code="")
    assert normalise_order(plain, "bc").exchange_rate is None


def test_an_incomplete_order_has_a_status_no_tenant_file_can_list() -> None:
    raw = order([product(1, "1.0000")], [], "1.0000", "0", status_id=0, status="Incomplete")
    assert normalise_order(raw, "bc").status == INCOMPLETE
    shipped = order([product(1, "1.0000")], [], "1.0000", "0", status_id=2)
    assert normalise_order(shipped, "bc").status == "2"


# --- refunds -------------------------------------------------------------------------------


def _sold() -> Order:
    """Two mugs (2 x 10.00) and a tee (18.00), 5.00 shipping, 2.50 handling, all at 8 %."""
    raw = order(
        [product(11, "20.0000", qty=2), product(12, "18.0000")],
        [tax("1.6000", product_id=11), tax("1.4400", product_id=12),
         tax("0.4000", kind="shipping"), tax("0.2000", kind="handling")],
        total_inc="49.1400",  # 45.50 + 3.64 tax
        total_tax="3.6400",
        shipping_cost_ex_tax="5.0000",
        handling_cost_ex_tax="2.5000",
        shipping_addresses=[{"id": 7, "shipping_method": "Flat Rate", "cost_ex_tax": "5.0000"}],
    )  # fmt: skip
    return normalise_order(raw, "bc")


def refund(items: list[dict[str, Any]], total: float, tax_part: float) -> dict[str, Any]:
    # V3 refunds state money as JSON numbers
    return {"id": 3, "order_id": 250, "created": "2019-06-25T16:25:23+00:00", "reason": "Broken",
            "total_amount": total, "total_tax": tax_part, "items": items}  # fmt: skip


def test_a_product_refunded_by_quantity_takes_its_price_and_tax() -> None:
    sold = _sold()
    back = normalise_refund(
        refund([{"item_type": "PRODUCT", "item_id": 11, "quantity": 1}], 10.80, 0.80), sold
    )
    [line] = back.lines
    assert (line.kind, line.line_id, line.quantity, line.total) == ("item", "11", 1, D("10.00"))
    assert [(t.rate_id, t.amount) for t in line.taxes] == [("1", D("0.80"))]
    assert back.amount == D("10.80") and back.reason == "Broken"


def test_shipping_and_handling_refunds_name_their_lines() -> None:
    sold = _sold()
    back = normalise_refund(
        refund([{"item_type": "SHIPPING", "item_id": 7, "requested_amount": 5.0},
                {"item_type": "HANDLING", "item_id": 250, "requested_amount": 2.5}], 8.10, 0.60),
        sold,
    )  # fmt: skip
    kinds = [(line.kind, line.line_id, line.total) for line in back.lines]
    assert kinds == [("shipping", "7", D("5.00")), ("fee", "handling", D("2.50"))]
    assert sum((t.amount for line in back.lines for t in line.taxes), D(0)) == D("0.60")
    assert sum((line.total for line in back.lines), D(0)) + D("0.60") == back.amount


def test_an_order_level_refund_is_a_tax_exempt_amount_tied_to_no_line() -> None:
    back = normalise_refund(
        refund([{"item_type": "ORDER", "item_id": 250, "requested_amount": 7.33}], 7.33, 0), _sold()
    )
    # an amount-only refund: the document gives it back on mapping.refund_item
    assert back.amount == D("7.33") and back.lines == ()
    # beside a refunded product, only the product is a line; the rest is the ORDER amount
    both = normalise_refund(
        refund([{"item_type": "PRODUCT", "item_id": 12, "quantity": 1},
                {"item_type": "ORDER", "item_id": 250, "requested_amount": 2.0}], 21.44, 1.44),
        _sold(),
    )  # fmt: skip
    [line] = both.lines
    assert (line.line_id, line.total, sum((t.amount for t in line.taxes), D(0))) == (
        "12",
        D("18.00"),
        D("1.44"),
    )
    assert both.amount - line.total - D("1.44") == D("2.00")


def test_refund_amounts_stated_as_floats_are_exact_cents() -> None:
    back = normalise_refund(
        refund([{"item_type": "ORDER", "item_id": 250, "requested_amount": 0.1 + 0.2}], 0.3, 0),
        _sold(),
    )
    assert back.amount == D("0.30")
    shipped = normalise_refund(
        refund([{"item_type": "SHIPPING", "item_id": 7, "requested_amount": 0.1 + 0.2}], 0.3, 0),
        _sold(),
    )
    assert shipped.lines[0].total == D("0.30")


# --- the reference's callbacks ---------------------------------------------------------------


@reference
def test_every_reference_callback_is_read_as_its_scope_says() -> None:
    expected = {
        "store/order/created": ("order", "upsert"),
        "store/order/updated": ("order", "upsert"),
        "store/order/statusUpdated": ("order", "upsert"),
        "store/order/refund/created": ("order", "upsert"),
        "store/order/archived": ("order", "delete"),
        "store/customer/created": ("customer", "upsert"),
    }
    seen = set()
    # (the reference's three customer samples all carry the scope store/customer/created:
    # updated and deleted are read below)
    for path in sorted(CALLBACKS.glob("*.json")):
        body = path.read_bytes()
        scope = json.loads(body)["scope"]
        reading = read_callback({"X-Connector-Token": "t"}, body, lambda: "t", None, 1.0e9)
        assert reading.status == 200, (path.name, reading.message)
        if scope not in expected:
            # An order message is verified and acknowledged, but not synced
            assert scope == "store/order/message/created" and reading.ignored_topic == scope
            continue
        [record] = reading.records
        assert (record.entity, record.action) == expected[scope], path.name
        assert record.record_id == str(json.loads(body)["data"]["id"])
        seen.add(scope)
    assert seen == set(expected)


@pytest.mark.parametrize(
    ("scope", "action"),
    [("store/customer/updated", "upsert"), ("store/customer/deleted", "delete")],
)
def test_customer_updates_and_deletions_are_read_as_such(scope: str, action: str) -> None:
    body = json.dumps({"scope": scope, "data": {"type": "customer", "id": 32},
                       "hash": "8768ab", "created_at": 1561481571}).encode()  # fmt: skip
    reading = read_callback({"X-Connector-Token": "t"}, body, lambda: "t", None, 1.0e9)
    [record] = reading.records
    assert (record.entity, record.record_id, record.action) == ("customer", "32", action)

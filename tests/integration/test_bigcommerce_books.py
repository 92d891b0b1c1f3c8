"""What a BigCommerce store's records become in QuickBooks Online, through the local runtime.

Customer callbacks, tax-inclusive prices, gift wrapping, refunds of lines and shipping, and an
order charged in another currency than the one the shopper saw or the store keeps. The hooks
are registered by the connector itself (``connector webhooks sync``'s registration), the
simulated store calls them, and each test reads what QuickBooks holds afterwards: totals to
the cent, in the currency charged, and the refund documents.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connector.stores.bigcommerce.hooks import BigCommerceHooks
from simulators.bigcommerce import BigCommerceSimulator, Line
from simulators.httpserver import LoopbackServer
from simulators.qbo import QboSimulator
from simulators.testbed.bigcommerce import bigcommerce_shop
from simulators.testbed.online import LocalRig, connected_runtime

TENANT = "bcbooks"
SHOP = "bcbooks"
WEBHOOK_SECRET = "BigCommerceBooksToken3"
QBO_APP = {"client_id": "bcbooks-app", "client_secret": "bcbooks-secret"}
CAD_RATE = Decimal("0.74")  # QuickBooks' own rate: US dollars per Canadian dollar
D = Decimal


@dataclass
class Books:
    rig: LocalRig
    bc: BigCommerceSimulator

    def deliver(self, scope: str, record_id: int) -> None:
        """The store calls the hook registered for ``scope``; the runtime drains."""
        assert self.bc.deliver(scope, record_id) == [200]
        self.rig.drain()

    def documents(self, entity: str, order_id: int) -> list[dict[str, Any]]:
        return self.rig.documents(entity, order_id)

    def customers(self, email: str) -> list[dict[str, Any]]:
        return [
            c
            for c in self.rig.qbo.documents("Customer")
            if (c.get("PrimaryEmailAddr") or {}).get("Address") == email
        ]


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


def _sales_lines(document: dict[str, Any]) -> list[tuple[str, Decimal]]:
    return [
        (line["SalesItemLineDetail"]["ItemRef"]["name"], _money(line["Amount"]))
        for line in document["Line"]
        if line.get("DetailType") == "SalesItemLineDetail"
    ]


def _store_total(order: dict[str, Any]) -> Decimal:
    return D(order["total_inc_tax"]).quantize(D("0.01"))


@pytest.fixture(scope="module")
def books() -> Iterator[Books]:
    bc = BigCommerceSimulator(quota=10_000, loopback_destinations=True)
    qbo = QboSimulator(multicurrency=True, home_currency="USD", **QBO_APP)
    qbo.set_exchange_rate("CAD", CAD_RATE, "2020-01-01")
    with (
        LoopbackServer(bc.handle) as bc_server,
        LoopbackServer(qbo.handle) as qbo_server,
        httpx.Client(timeout=10) as http,
    ):
        connection, secrets = bigcommerce_shop(
            SHOP,
            bc,
            bc_server.base_url,
            qbo_server.base_url,
            webhook_secret=WEBHOOK_SECRET,
            ledger=QBO_APP,
        )
        with connected_runtime(TENANT, [connection], secrets, qbo) as rig:
            hooks = BigCommerceHooks(
                api_base=bc_server.base_url,
                store_hash=bc.store_hash,
                access_token=SecretStr(bc.access_token),
                http=http,
                connection_id=SHOP,
            )
            report = hooks.sync_webhooks(rig.webhook_url(SHOP), WEBHOOK_SECRET)
            assert {hook.state for hook in report.hooks} == {"created"}, report
            yield Books(rig, bc)


# -- customers --------------------------------------------------------------------------------


def test_customer_callbacks_create_then_update_the_quickbooks_customer(books: Books) -> None:
    # Given a shopper who opens an account
    cid = books.bc.add_customer("grace@example.com", "Grace", "Hopper")
    books.deliver("store/customer/created", cid)
    # Then QuickBooks has the customer, under the shopper's name
    [created] = books.customers("grace@example.com")
    assert created["DisplayName"] == "Grace Hopper"
    state = books.rig.state(f"{SHOP}#customer#{cid}")
    assert state is not None and state.status == "posted"
    # When the shopper changes their name
    books.bc.update_customer(cid, last_name="Murray Hopper")
    books.deliver("store/customer/updated", cid)
    # Then the same QuickBooks customer is updated, not a second one made
    [updated] = books.customers("grace@example.com")
    assert updated["Id"] == created["Id"]
    assert (updated["FamilyName"], updated["DisplayName"]) == (
        "Murray Hopper",
        "Grace Murray Hopper",
    )
    # And an account deleted in the store is recorded; QuickBooks keeps its customer
    books.deliver("store/customer/deleted", cid)
    assert [c["Id"] for c in books.customers("grace@example.com")] == [created["Id"]]
    events = books.rig.events(f"{SHOP}#customer#{cid}")
    assert any("QuickBooks customer kept" in outcome for _, outcome in events)


# -- orders -----------------------------------------------------------------------------------


def test_a_tax_inclusive_order_posts_the_price_the_shopper_saw_to_the_cent(books: Books) -> None:
    # Given a store whose prices include 8 % tax: 3 mugs at 10.79 with 1.50 off, a cap at
    # 19.99, and 5.99 shipping, all with tax; BigCommerce works the tax out at four decimals
    oid = books.bc.place_order(
        [
            Line("Mug", "MUG-1", 3, D(0), discount=D("1.50"), price_inc_tax=D("10.79")),
            Line("Cap", "CAP-1", 1, D(0), price_inc_tax=D("19.99")),
        ],
        shipping=D("5.99"),
        tax_inclusive=True,
    )
    order = books.bc.orders[oid]
    assert order["is_tax_inclusive_pricing"] is True
    # When it posts
    books.deliver("store/order/created", oid)
    # Then the invoice totals what the shopper paid: 32.37 - 1.50 + 19.99 + 5.99
    [invoice] = books.documents("Invoice", oid)
    assert _money(invoice["TotalAmt"]) == _store_total(order) == D("56.85")
    # with the store's tax; the lines, less the discount, and the shipping without it
    tax = _money(invoice["TxnTaxDetail"]["TotalTax"])
    assert tax == D(order["total_tax"]).quantize(D("0.01"))
    discounts = [_money(line["Amount"]) for line in invoice["Line"]
                 if line.get("DetailType") == "DiscountLineDetail"]  # fmt: skip
    assert discounts == [D("1.39")]  # the 1.50 off, without its tax
    assert sum(amount for _, amount in _sales_lines(invoice)) - sum(discounts) + tax == D("56.85")


def test_gift_wrapping_and_handling_post_as_fee_lines_to_the_cent(books: Books) -> None:
    # Given an order with gift wrapping (2.50) and handling (1.25), both taxed
    oid = books.bc.place_order(
        [Line("Scarf", "SCARF-1", 1, D("24.9950"))],
        shipping=D("4.0000"),
        handling=D("1.2500"),
        wrapping=D("2.5000"),
    )
    order = books.bc.orders[oid]
    books.deliver("store/order/created", oid)
    [invoice] = books.documents("Invoice", oid)
    # Then wrapping and handling are fee lines on the fee item
    lines = _sales_lines(invoice)
    assert ("Services", D("2.50")) in lines and ("Services", D("1.25")) in lines
    descriptions = [line.get("Description") for line in invoice["Line"]]
    assert "Gift wrapping" in descriptions and "Handling" in descriptions
    # And the invoice totals the store's total, tax included
    assert _money(invoice["TotalAmt"]) == _store_total(order)


def test_a_refund_of_a_line_and_the_shipping_is_a_refund_receipt_to_the_cent(
    books: Books,
) -> None:
    # Given a paid order of two mugs and a tee with shipping
    oid = books.bc.place_order(
        [Line("Mug", "MUG-1", 2, D("10.0000")), Line("Tee", "TEE-1", 1, D("18.3333"))],
        shipping=D("5.0000"),
    )
    mug = books.bc.orders[oid]["_products"][0]["id"]
    books.deliver("store/order/created", oid)
    # When one mug and the shipping are refunded
    rid = books.bc.refund_lines(oid, {mug: 1}, shipping=True, reason="Chipped")
    refund = books.bc.refunds[oid][-1]
    assert books.bc.orders[oid]["status_id"] == 14  # Partially Refunded
    books.deliver("store/order/refund/created", oid)
    # Then QuickBooks holds a refund receipt for exactly what BigCommerce gave back:
    # the mug 10.00 and the shipping 5.00, with their tax
    [receipt] = books.documents("RefundReceipt", oid)
    assert _money(receipt["TotalAmt"]) == _money(refund["total_amount"]) == D("16.20")
    assert f"BigCommerce refund {rid} of order" in receipt["PrivateNote"]
    assert _sales_lines(receipt) == [("Sales", D("10.00")), ("Shipping", D("5.00"))]
    mug_line = receipt["Line"][0]["SalesItemLineDetail"]
    assert _money(mug_line["Qty"]) == 1
    assert _money(receipt["TxnTaxDetail"]["TotalTax"]) == _money(refund["total_tax"])
    # And the invoice is untouched: the order posts as sold
    [invoice] = books.documents("Invoice", oid)
    assert _money(invoice["TotalAmt"]) == _store_total(books.bc.orders[oid])


def test_an_order_charged_in_euros_on_a_dollar_store_posts_in_euros_at_its_rate(
    books: Books,
) -> None:
    # Given an order charged in EUR (transactional) on a USD store (1 USD = 0.92 EUR), while
    # the shopper's screen showed pounds
    oid = books.bc.place_order(
        [Line("Mug", "MUG-1", 2, D("9.1954"))],
        shipping=D("4.6000"),
        currency="EUR",
        display_currency="GBP",
        store_currency="USD",
        store_to_order_rate=D("0.92"),
    )
    order = books.bc.orders[oid]
    books.deliver("store/order/created", oid)
    # Then the invoice is in euros, not pounds, for the store's total
    [invoice] = books.documents("Invoice", oid)
    assert invoice["CurrencyRef"]["value"] == "EUR"
    assert _money(invoice["TotalAmt"]) == _store_total(order)
    # at BigCommerce's rate as dollars per euro
    assert _money(invoice["ExchangeRate"]) == (1 / D("0.92")).quantize(D("1e-10"))


def test_a_store_whose_default_currency_is_not_home_posts_at_quickbooks_rate(
    books: Books,
) -> None:
    # Given an order charged in CAD on a store whose default currency is EUR: BigCommerce's
    # rate is euros per Canadian dollar, which books kept in US dollars cannot use
    oid = books.bc.place_order(
        [Line("Mug", "MUG-1", 1, D("13.5000"))],
        currency="CAD",
        store_currency="EUR",
        store_to_order_rate=D("1.48"),
    )
    order = books.bc.orders[oid]
    books.deliver("store/order/created", oid)
    [invoice] = books.documents("Invoice", oid)
    assert invoice["CurrencyRef"]["value"] == "CAD"
    assert _money(invoice["TotalAmt"]) == _store_total(order)
    assert _money(invoice["ExchangeRate"]) == CAD_RATE
    assert date.fromisoformat(invoice["TxnDate"]) >= date(2020, 1, 1)

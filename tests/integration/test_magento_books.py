"""What a Magento store's orders become in QuickBooks Online, through the local runtime.

Credit memos with an adjustment fee, revenue rules and terms on Magento's customer groups and
categories, and exchange rates when the store's base currency is or is not the books' home
currency. The Magento and QuickBooks Online simulators answer over loopback; each test reads
the documents QuickBooks holds afterwards, as a bookkeeper would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from simulators.httpserver import LoopbackServer
from simulators.magento import LineSpec, MagentoSimulator, OrderSpec, signed_hint
from simulators.qbo import QboSimulator
from simulators.testbed.magento import CREDENTIALS
from simulators.testbed.online import LocalRig, connected_runtime, qbo_connection

TENANT = "magebooks"
SHOP = "shop"  # a USD store, with revenue rules and terms on groups and categories
EURO = "euro"  # a EUR store (its base currency is not the books' home currency, USD)
EURO_PREFIX = "EU-"
WEBHOOK_SECRET = "MagentoBooksPush7"
QBO_APP = {"client_id": "magebooks-app", "client_secret": "magebooks-secret"}
GBP_RATE = Decimal("1.27")  # QuickBooks' own rate for the pound, in dollars
WHOLESALE = 2  # the simulated store's Wholesale group
RULES: list[dict[str, Any]] = [
    {"when": {"category": "Gear"}, "class": "Gear"},
    {"when": {"customer_group": "Wholesale"}, "class": "Wholesale"},
    {"class": "Retail"},
]


@dataclass
class Books:
    rig: LocalRig
    shop: MagentoSimulator
    euro: MagentoSimulator

    def sync(self, order_id: int, connection_id: str = SHOP) -> None:
        answer = self.rig.push(connection_id, *signed_hint(order_id, WEBHOOK_SECRET))
        assert answer.status_code == 200, answer.text
        self.rig.drain()

    def documents(
        self, entity: str, order_id: int, connection_id: str = SHOP
    ) -> list[dict[str, Any]]:
        """The connection's documents of the order (both stores number their orders from 1;
        the euro store's documents carry its prefix)."""
        euro = connection_id == EURO
        return [
            d
            for d in self.rig.documents(entity, order_id)
            if str(d.get("DocNumber", "")).startswith(EURO_PREFIX) == euro
        ]


def _lines(document: dict[str, Any]) -> list[tuple[str, Decimal]]:
    return [
        (line["Description"], Decimal(str(line["Amount"])))
        for line in document["Line"]
        if line.get("DetailType") == "SalesItemLineDetail"
    ]


@pytest.fixture(scope="module")
def books() -> Iterator[Books]:
    shop = MagentoSimulator(**CREDENTIALS)
    euro = MagentoSimulator(base_currency="EUR", **CREDENTIALS)
    qbo = QboSimulator(
        multicurrency=True, home_currency="USD", class_tracking_per_line=True, **QBO_APP
    )
    for name in ("Gear", "Wholesale", "Retail"):
        qbo.seed("Class", {"Name": name})
    qbo.set_exchange_rate("GBP", GBP_RATE, "2020-01-01")
    statuses: dict[str, Any] = {
        "post_statuses": ["processing", "complete"],
        "cancel_statuses": ["canceled"],
        "refund_statuses": ["closed"],
    }
    with (
        LoopbackServer(shop.handle) as shop_server,
        LoopbackServer(euro.handle) as euro_server,
        LoopbackServer(qbo.handle) as qbo_server,
    ):
        items = {"fallback_item": "Sales", "shipping_item": "Shipping"}
        ruled = {**items, "rules": RULES, "terms": {"Wholesale": "Net 15"}}
        # Both stores number their orders from 1: the euro one's documents carry a prefix.
        prefixed = {**items, "doc_prefix": EURO_PREFIX, "doc_number": "{prefix}{number}"}
        connections = [
            qbo_connection(connection_id, {"kind": "magento", "url": server.base_url},
                           qbo_server.base_url, **statuses, mapping=mapping)
            for connection_id, server, mapping in (
                (SHOP, shop_server, ruled), (EURO, euro_server, prefixed)
            )
        ]  # fmt: skip
        store_secret = {**CREDENTIALS, "webhook_secret": WEBHOOK_SECRET}
        secrets = {c: {"store": store_secret, "ledger": QBO_APP} for c in (SHOP, EURO)}
        with connected_runtime(TENANT, connections, secrets, qbo) as rig:
            yield Books(rig, shop, euro)


# -- credit memos with an adjustment fee ------------------------------------------------------


def test_a_credit_memo_whose_fee_exceeds_its_adjustment_refund_posts_to_the_cent(
    books: Books,
) -> None:
    # Given a paid order (the tee 22.00 and 5.00 shipping), refunded in part: the tee and the
    # shipping, an adjustment refund of 1.00 and an adjustment fee of 4.00
    oid = books.shop.create_order(OrderSpec([LineSpec("WS12-M-Orange")]))
    books.shop.invoice(oid)
    memo = books.shop.refund(
        oid, adjustment_positive=Decimal("1.00"), adjustment_negative=Decimal("4.00")
    )
    # When Magento's hint for the order arrives
    books.sync(oid)
    # Then the refund receipt gives back exactly the credit memo's 24.00
    [refund] = books.documents("RefundReceipt", oid)
    assert Decimal(str(refund["TotalAmt"])) == Decimal("24.00")
    assert f"Magento refund {memo} of order" in refund["PrivateNote"]
    # with each adjustment on the refund item, the fee as a negative line
    assert _lines(refund) == [
        ("Radiant Tee-M-Orange", Decimal("22.00")),
        ("Flat Rate - Fixed", Decimal("5.00")),
        ("Refund", Decimal("1.00")),
        ("Adjustment fee", Decimal("-4.00")),
    ]
    # And the refund is posted, not parked
    state = books.rig.state(f"{SHOP}#refund#{memo}")
    assert state is not None and state.status == "posted"


def test_magento_refuses_a_credit_memo_that_refunds_nothing(books: Books) -> None:
    oid = books.shop.create_order(OrderSpec([LineSpec("24-WG084")]))
    books.shop.invoice(oid)
    with pytest.raises(ValueError, match=r"The credit memo's total must be positive\."):
        books.shop.refund(oid, {}, shipping=False, adjustment_negative=Decimal("1.00"))


# -- revenue rules and terms on Magento's groups and categories -------------------------------


def test_rules_and_terms_match_a_magento_group_and_category_by_name(books: Books) -> None:
    # Given a wholesale buyer's order of the yoga kit (category Gear) and a tee
    buyer = books.shop.create_customer("wes@example.com", "Wes", "Trade", group_id=WHOLESALE)
    oid = books.shop.create_order(
        OrderSpec(
            [LineSpec("24-WG080"), LineSpec("WS12-M-Orange")],
            customer_id=buyer,
            status="processing",
        )
    )
    # When it posts
    books.sync(oid)
    [invoice] = books.documents("Invoice", oid)
    # Then the kit is classed by its category and the tee by the buyer's group
    classes = {
        line["Description"]: line["SalesItemLineDetail"].get("ClassRef", {}).get("name")
        for line in invoice["Line"]
        if line.get("DetailType") == "SalesItemLineDetail"
    }
    assert classes["Sprite Yoga Companion Kit"] == "Gear"
    assert classes["Radiant Tee-M-Orange"] == "Wholesale"
    # And the invoice carries the wholesale group's terms
    assert invoice["SalesTermRef"]["name"] == "Net 15"


def test_a_general_buyer_falls_through_to_the_default_class(books: Books) -> None:
    buyer = books.shop.create_customer("gen@example.com", "Gen", "Eral", group_id=1)
    oid = books.shop.create_order(
        OrderSpec([LineSpec("WS12-M-Orange")], customer_id=buyer, status="processing")
    )
    books.sync(oid)
    [invoice] = books.documents("Invoice", oid)
    [tee] = [line for line in invoice["Line"] if line.get("Description") == "Radiant Tee-M-Orange"]
    assert tee["SalesItemLineDetail"]["ClassRef"]["name"] == "Retail"
    assert invoice["SalesTermRef"]["name"] != "Net 15"


# -- exchange rates ---------------------------------------------------------------------------


def test_a_usd_store_selling_in_euros_posts_at_magentos_rate(books: Books) -> None:
    oid = books.shop.create_order(
        OrderSpec(
            [LineSpec("24-WG084")],
            currency="EUR",
            base_to_order_rate=Decimal("0.8"),
            status="processing",
        )
    )
    books.sync(oid)
    [invoice] = books.documents("Invoice", oid)
    assert invoice["CurrencyRef"]["value"] == "EUR"
    assert Decimal(str(invoice["ExchangeRate"])) == Decimal("1.25")  # dollars per euro


def test_a_euro_store_selling_in_pounds_posts_at_quickbooks_rate_not_the_euro_one(
    books: Books,
) -> None:
    # Given a store whose base is EUR (1 EUR = 0.85 GBP) and books kept in USD
    oid = books.euro.create_order(
        OrderSpec(
            [LineSpec("24-WG084", 2)],
            currency="GBP",
            base_to_order_rate=Decimal("0.85"),
            status="processing",
        )
    )
    order = books.euro.order(oid)
    books.sync(oid, EURO)
    # Then the invoice is in pounds for Magento's total, at QuickBooks' dollars per pound:
    # Magento's rate is euros per pound, which the dollar books cannot use
    [invoice] = books.documents("Invoice", oid, EURO)
    assert invoice["CurrencyRef"]["value"] == "GBP"
    assert Decimal(str(invoice["TotalAmt"])) == Decimal(str(order["grand_total"]))
    assert Decimal(str(invoice["ExchangeRate"])) == GBP_RATE


def test_a_euro_store_selling_in_dollars_posts_in_the_home_currency(books: Books) -> None:
    oid = books.euro.create_order(
        OrderSpec(
            [LineSpec("24-WG084")],
            currency="USD",
            base_to_order_rate=Decimal("1.08"),
            status="processing",
        )
    )
    order = books.euro.order(oid)
    books.sync(oid, EURO)
    [invoice] = books.documents("Invoice", oid, EURO)
    assert invoice["CurrencyRef"]["value"] == "USD"
    assert Decimal(str(invoice.get("ExchangeRate", 1))) == 1
    assert Decimal(str(invoice["TotalAmt"])) == Decimal(str(order["grand_total"]))

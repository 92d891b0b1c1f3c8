"""Revenue rules through the whole local path: classes, locations and income accounts.

Each test reads what QuickBooks Online holds afterwards, as a bookkeeper would: the
class on each invoice line (or on the invoice), its location (DepartmentRef), and the
income account of the item each line posted on. Orders a rule cannot post park naming
what to fix; replayed after the fix, they post once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connector.replay import replay_parked
from simulators.testbed.online import QboRig, QboRigs, connection_settings
from simulators.woocommerce import LineSpec, OrderSpec

SHOP = "rules"
DEFERRED = "deferred"  # the same store and company, gift cards to an account added later
MUG, GIFT_CARD, HOODIE_BLUE = 10, 13, 21
JANE = 2  # San Francisco, US; role "customer"
STRIPE = ("stripe", "Credit Card (Stripe)")

RULES: list[dict[str, Any]] = [
    {"when": {"sku": "GIFT-*"}, "class": "Gift cards", "income_account": "Gift card liability"},
    {"when": {"customer_group": "wholesale_customer"}, "class": "Wholesale"},
    {"when": {"category": "Clothing"}, "class": "Apparel"},  # not in QuickBooks at first
    {"when": {"country": "US"}, "location": "US"},
    {"when": {"country": "CA"}, "location": "Canada"},
    {"class": "Retail"},
]


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    mapping = {
        "fallback_item": "Sales",
        "shipping_item": "Shipping",
        "tax": {"mode": "us_automated"},
        "payments": {"stripe": {"deposit_account": "Checking"}},
        "rules": RULES,
    }
    deferred = {
        **mapping,
        "doc_prefix": "D-",
        "rules": [{"when": {"sku": "GIFT-*"}, "income_account": "Deferred revenue"}],
    }
    return [
        connection_settings(SHOP, woo_url=woo_url, qbo_url=qbo_url, mapping=mapping),
        connection_settings(DEFERRED, woo_url=woo_url, qbo_url=qbo_url, mapping=deferred),
    ]


def _books(rig: QboRig) -> None:
    """What the bookkeeper set up in QuickBooks before connecting."""
    for name in ("Gift cards", "Wholesale", "Retail"):
        rig.qbo.seed("Class", {"Name": name})
    for name in ("US", "Canada"):
        rig.qbo.seed("Department", {"Name": name})
    rig.qbo.seed(
        "Account",
        {
            "Name": "Gift card liability",
            "AccountType": "Other Current Liability",
            "AccountSubType": "OtherCurrentLiabilities",
        },
    )


@pytest.fixture(scope="module")
def rig(qbo_rig: QboRigs) -> Iterator[QboRig]:
    with qbo_rig(_connections, class_tracking_per_line=True, track_departments=True) as running:
        _books(running)
        yield running


def _order(rig: QboRig, *lines: tuple[int, int], **spec: Any) -> dict[str, Any]:
    spec.setdefault("customer_id", JANE)
    spec.setdefault("payment_method", STRIPE)
    spec.setdefault("shipping", None)
    return rig.woo.create_order(OrderSpec(lines=[LineSpec(p, q) for p, q in lines], **spec))


def _one(rig: QboRig, entity: str, order_id: int) -> dict[str, Any]:
    found = rig.documents(entity, order_id)
    assert len(found) == 1, f"{len(found)} {entity}s for order {order_id}"
    return found[0]


def _named(rig: QboRig, entity: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in rig.qbo.documents(entity) if d["Name"] == name]
    return found


def _sales_lines(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        line["SalesItemLineDetail"]
        for line in document["Line"]
        if line["DetailType"] == "SalesItemLineDetail"
    ]


def _class_of(rig: QboRig, detail: dict[str, Any]) -> str | None:
    ref = detail.get("ClassRef")
    if ref is None:
        return None
    (found,) = [c for c in rig.qbo.documents("Class") if c["Id"] == ref["value"]]
    return str(found["Name"])


def _location_of(rig: QboRig, document: dict[str, Any]) -> str | None:
    ref = document.get("DepartmentRef")
    if ref is None:
        return None
    (found,) = [d for d in rig.qbo.documents("Department") if d["Id"] == ref["value"]]
    return str(found["Name"])


def _income_account_of(rig: QboRig, detail: dict[str, Any]) -> str:
    (item,) = [i for i in rig.qbo.documents("Item") if i["Id"] == detail["ItemRef"]["value"]]
    (account,) = [
        a for a in rig.qbo.documents("Account") if a["Id"] == item["IncomeAccountRef"]["value"]
    ]
    return str(account["Name"])


def test_a_gift_card_line_posts_to_its_class_and_liability_account_the_rest_to_retail(
    rig: QboRig,
) -> None:
    # Given Jane (US) buys a gift card, two mugs and shipping
    order = _order(rig, (GIFT_CARD, 1), (MUG, 2), shipping="flat_rate")
    rig.sync(SHOP, "order.created", order["id"])

    # Then the invoice's gift card line is in class "Gift cards" on an item whose income
    # account is the liability; the mugs and shipping are Retail on their usual items
    invoice = _one(rig, "Invoice", order["id"])
    gift, mugs, shipping = _sales_lines(invoice)
    assert _class_of(rig, gift) == "Gift cards"
    assert gift["ItemRef"]["name"] == "Sales (Gift card liability)"
    assert _income_account_of(rig, gift) == "Gift card liability"
    assert (_class_of(rig, mugs), mugs["ItemRef"]["name"]) == ("Retail", "Sales")
    assert _income_account_of(rig, mugs) == "Sales of Product Income"
    assert (_class_of(rig, shipping), shipping["ItemRef"]["name"]) == ("Retail", "Shipping")
    # And the invoice is located in the US, with no class of its own (classes are per line)
    assert _location_of(rig, invoice) == "US"
    assert "ClassRef" not in invoice
    assert rig.sync_state(SHOP, order["id"]).status == "posted"

    # When the gift card is refunded
    gift_line = next(i for i in order["line_items"] if i["product_id"] == GIFT_CARD)
    rig.woo.add_refund(order["id"], items={gift_line["id"]: 1}, reason="unwanted")
    rig.sync(SHOP, "order.updated", order["id"])

    # Then it comes back out of the same class, item (so account) and location
    (receipt,) = rig.documents("RefundReceipt", order["id"])
    (returned,) = _sales_lines(receipt)
    assert _class_of(rig, returned) == "Gift cards"
    assert returned["ItemRef"]["value"] == gift["ItemRef"]["value"]
    assert _location_of(rig, receipt) == "US"


def test_wholesale_buyers_orders_are_wholesale_and_located_by_country(rig: QboRig) -> None:
    # Given a wholesale buyer in Montréal
    buyer = rig.woo.create_customer(
        role="wholesale_customer",
        first_name="Camille",
        last_name="Roy",
        email="camille@grossiste.example.ca",
        address_1="500 Rue Sherbrooke",
        city="Montréal",
        state="QC",
        postcode="H3A 3C6",
        country="CA",
    )
    first = _order(rig, (MUG, 6), customer_id=buyer["id"])
    rig.sync(SHOP, "order.created", first["id"])

    invoice = _one(rig, "Invoice", first["id"])
    (mugs,) = _sales_lines(invoice)
    assert _class_of(rig, mugs) == "Wholesale"
    assert _location_of(rig, invoice) == "Canada"

    # When the buyer orders again, the class, location and items are known: nothing is
    # looked up in QuickBooks, one invoice is written (and its payment)
    mark = len(rig.qbo.request_log)
    second = _order(rig, (MUG, 12), customer_id=buyer["id"])
    rig.sync(SHOP, "order.created", second["id"])
    calls = [(r.method, r.path.rsplit("/", 1)[-1]) for r in rig.requests_since(mark)]
    assert ("GET", "query") not in calls, calls
    assert ("GET", "preferences") not in calls, calls
    assert _class_of(rig, _sales_lines(_one(rig, "Invoice", second["id"]))[0]) == "Wholesale"


def test_an_unknown_class_parks_naming_it_and_posts_once_after_it_is_created(
    rig: QboRig,
) -> None:
    # Given a hoodie (category Clothing) whose rule names class "Apparel", missing in QuickBooks
    order = _order(rig, (HOODIE_BLUE, 1))
    rig.sync(SHOP, "order.created", order["id"])

    # Then nothing is posted and the order parks naming the class and where to fix it
    assert rig.documents("Invoice", order["id"]) == []
    state = rig.sync_state(SHOP, order["id"])
    assert state.status == "parked"
    assert state.last_error and "class named 'Apparel'" in state.last_error
    assert "mapping.rules" in state.last_error
    (parked,) = rig.parked(SHOP, order["id"])
    assert "'Apparel'" in parked["reason"]

    # When the bookkeeper creates the class and replays the order
    rig.qbo.seed("Class", {"Name": "Apparel"})
    replay_parked(rig.sqs, dlq_url=rig.dlq_url, queue=rig.sync_queue(), record_id=str(order["id"]))
    rig.drain()

    # Then it posts once, the hoodie in Apparel
    invoice = _one(rig, "Invoice", order["id"])
    (hoodie,) = _sales_lines(invoice)
    assert _class_of(rig, hoodie) == "Apparel"
    assert rig.sync_state(SHOP, order["id"]).status == "posted"


def test_an_unknown_income_account_parks_naming_it_and_posts_once_after_it_is_created(
    rig: QboRig,
) -> None:
    # Given a connection whose rule sends gift cards to an account the company lacks
    order = _order(rig, (GIFT_CARD, 2))
    rig.sync(DEFERRED, "order.created", order["id"])

    # Then the order parks naming the account, and no item was created for it
    state = rig.sync_state(DEFERRED, order["id"])
    assert state.status == "parked"
    assert state.last_error and "account named 'Deferred revenue'" in state.last_error
    assert rig.documents("Invoice", order["id"]) == []
    assert not [i for i in rig.qbo.documents("Item") if "Deferred revenue" in i["Name"]]

    # When the bookkeeper adds the account and replays
    rig.qbo.seed("Account", {"Name": "Deferred revenue", "AccountType": "Other Current Liability"})
    replay_parked(rig.sqs, dlq_url=rig.dlq_url, queue=rig.sync_queue(), record_id=str(order["id"]))
    rig.drain()

    # Then it posts once, on an item of that account
    (gift,) = _sales_lines(_one(rig, "Invoice", order["id"]))
    assert gift["ItemRef"]["name"] == "Sales (Deferred revenue)"
    assert _income_account_of(rig, gift) == "Deferred revenue"


# --- a company that does not track classes or locations ----------------------------------------


@pytest.fixture(scope="module")
def untracked(qbo_rig: QboRigs) -> Iterator[QboRig]:
    with qbo_rig(_connections) as running:
        _books(running)
        yield running


def test_rules_naming_classes_and_locations_park_naming_the_settings_until_turned_on(
    untracked: QboRig,
) -> None:
    rig = untracked
    # Given a company with class and location tracking off
    order = _order(rig, (MUG, 1))
    rig.sync(SHOP, "order.created", order["id"])

    # Then the order parks naming both QuickBooks settings
    state = rig.sync_state(SHOP, order["id"])
    assert state.status == "parked"
    assert state.last_error
    assert "does not track classes: turn on Track classes" in state.last_error
    assert "ClassTrackingPerTxn" in state.last_error
    assert "does not track locations: turn on Track locations" in state.last_error
    assert "TrackDepartments" in state.last_error
    assert rig.documents("Invoice", order["id"]) == []

    # When the merchant turns on one class per transaction and locations, then replays
    prefs = rig.qbo.company.preferences["AccountingInfoPrefs"]
    prefs["ClassTrackingPerTxn"] = True
    prefs["TrackDepartments"] = True
    replay_parked(rig.sqs, dlq_url=rig.dlq_url, queue=rig.sync_queue(), record_id=str(order["id"]))
    rig.drain()

    # Then the invoice carries its class on the transaction, none on its lines, and its location
    invoice = _one(rig, "Invoice", order["id"])
    assert _class_of(rig, invoice) == "Retail"
    assert all("ClassRef" not in detail for detail in _sales_lines(invoice))
    assert _location_of(rig, invoice) == "US"

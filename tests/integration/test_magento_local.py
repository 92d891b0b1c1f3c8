"""Magento through the real runtime: a signed push -> queue -> worker -> simulated QuickBooks.

The local runtime (moto's AWS, the same handlers) serves the connector; the Magento and
QuickBooks Online simulators answer over loopback. Each test checks what the merchant sees
in QuickBooks (the order currency, the store total to the cent) and what the bookkeeper
sees in the audit trail.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connector.local import LocalRuntime
from connector.state import SyncState
from simulators.httpserver import LoopbackServer
from simulators.magento import LineSpec, MagentoSimulator, OrderSpec, signed_hint
from simulators.qbo import QboSimulator
from simulators.testbed.magento import CREDENTIALS
from simulators.testbed.online import LocalRig, connected_runtime, qbo_connection

TENANT = "mage"
SHOP = "shop"
BAD_KEYS = "badkeys"  # the same store, with a consumer secret Magento does not know
WEBHOOK_SECRET = "MagentoPushSecret9"
QBO_APP = {"client_id": "mage-app", "client_secret": "mage-app-secret"}


@dataclass
class Setup:
    rig: LocalRig
    mage: MagentoSimulator

    @property
    def runtime(self) -> LocalRuntime:
        return self.rig.runtime

    def push(self, connection_id: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return self.rig.push(connection_id, body, headers)

    def sync(self, order_id: int, connection_id: str = SHOP) -> None:
        answer = self.push(connection_id, *signed_hint(order_id, WEBHOOK_SECRET))
        assert answer.status_code == 200, answer.text
        self.rig.drain()

    def state(self, order_id: int, connection_id: str = SHOP) -> SyncState | None:
        return self.rig.state(f"{connection_id}#order#{order_id}")

    def events(self, order_id: int, connection_id: str = SHOP) -> list[tuple[str, str]]:
        return self.rig.events(f"{connection_id}#order#{order_id}")

    def documents(self, entity: str, order_id: int) -> list[dict[str, Any]]:
        return self.rig.documents(entity, order_id)


def _connection(connection_id: str, mage_url: str, qbo_url: str) -> dict[str, Any]:
    return qbo_connection(
        connection_id,
        {"kind": "magento", "url": mage_url},
        qbo_url,
        post_statuses=["processing", "complete"],
        cancel_statuses=["canceled"],
        refund_statuses=["closed"],
    )


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    mage = MagentoSimulator(**CREDENTIALS)
    qbo = QboSimulator(multicurrency=True, home_currency="USD", **QBO_APP)
    with LoopbackServer(mage.handle) as mage_server, LoopbackServer(qbo.handle) as qbo_server:
        urls = (mage_server.base_url, qbo_server.base_url)
        connections = [_connection(c, *urls) for c in (SHOP, BAD_KEYS)]
        store_secret = {**CREDENTIALS, "webhook_secret": WEBHOOK_SECRET}
        secrets = {
            SHOP: {"store": store_secret, "ledger": QBO_APP},
            BAD_KEYS: {"store": {**store_secret, "consumer_secret": "wrong"}, "ledger": QBO_APP},
        }
        with connected_runtime(TENANT, connections, secrets, qbo) as rig:
            yield Setup(rig, mage)


def test_a_pushed_euro_order_becomes_an_invoice_in_euros_to_the_cent(setup: Setup) -> None:
    # Given an invoiced EUR order on a USD store, with a configurable hoodie and a bundle
    oid = setup.mage.create_order(
        OrderSpec(
            [LineSpec("MH01-S-Gray", 2, parent="MH01"), LineSpec("24-WG080")],
            currency="EUR",
            base_to_order_rate=Decimal("0.9"),
        )
    )
    setup.mage.invoice(oid)
    order = setup.mage.order(oid)
    # When the store pushes a hint for it (entity_id as a string)
    setup.sync(int(oid))
    # Then QuickBooks holds one invoice in euros, numbered as the merchant sees the order
    [invoice] = setup.documents("Invoice", oid)
    assert invoice["CurrencyRef"]["value"] == "EUR"
    assert invoice["DocNumber"] == order["increment_id"]
    assert Decimal(str(invoice["TotalAmt"])) == Decimal(str(order["grand_total"]))
    # at the rate Magento used, as home (USD) units per euro
    assert Decimal(str(invoice["ExchangeRate"])) == (1 / Decimal("0.9")).quantize(Decimal("1e-10"))
    # And each sold unit once: the hoodie (2) and the kit (1), not their child rows
    sold = [
        line["SalesItemLineDetail"].get("Qty")
        for line in invoice["Line"]
        if line.get("DetailType") == "SalesItemLineDetail"
        and "Shipping" not in str(line["SalesItemLineDetail"].get("ItemRef", {}).get("name", ""))
    ]
    assert sorted(Decimal(str(q)) for q in sold if q is not None) == [1, 2]
    # And the audit trail tells the story
    events = [event for event, _ in setup.events(oid)]
    assert events[0] == "received" and "fetched" in events and "posted" in events


def test_a_closed_order_posts_then_its_credit_memo(setup: Setup) -> None:
    oid = setup.mage.create_order(
        OrderSpec([LineSpec("WS12-M-Orange")], customer_id=None, tax_percent=Decimal("0"))
    )
    setup.mage.invoice(oid)
    # refunded in full: the tee, and the shipping as an adjustment (not tied to a line)
    memo = setup.mage.refund(oid, shipping=False, adjustment_positive=Decimal("5.00"))
    order = setup.mage.order(oid)
    assert order["status"] == "closed"
    setup.sync(oid)
    [invoice] = setup.documents("Invoice", oid)
    assert Decimal(str(invoice["TotalAmt"])) == Decimal("27.00")
    # And the credit memo gives the money back (the order was paid: a refund receipt), the
    # adjustment on the connection's refund item
    [refund] = setup.documents("RefundReceipt", oid)
    assert Decimal(str(refund["TotalAmt"])) == Decimal("27.00")
    assert f"refund {memo} of order #{order['increment_id']}" in refund["PrivateNote"]
    lines = [
        (line["Description"], Decimal(str(line["Amount"])))
        for line in refund["Line"]
        if line.get("DetailType") == "SalesItemLineDetail"
    ]
    assert lines == [("Radiant Tee-M-Orange", Decimal("22.00")), ("Refund", Decimal("5.00"))]


def test_a_credit_memo_whose_figures_do_not_add_up_parks_at_once_and_posts_once_fixed(
    setup: Setup,
) -> None:
    # Given a paid order whose credit memo says 30.00 while its rows and adjustments make 27.00
    oid = setup.mage.create_order(
        OrderSpec([LineSpec("WS12-M-Orange")], customer_id=None, tax_percent=Decimal("0"))
    )
    setup.mage.invoice(oid)
    memo = setup.mage.refund(oid, shipping=False, adjustment_positive=Decimal("5.00"))
    setup.mage.amend_credit_memo(memo, grand_total=30)
    # When the order is synced
    setup.sync(oid)
    # Then its invoice posted, no refund document did, and the order is parked at once (one
    # attempt, not five) with a reason naming the credit memo and its figures
    [invoice] = setup.documents("Invoice", oid)
    assert setup.documents("RefundReceipt", oid) == []
    state = setup.state(oid)
    assert state is not None and state.status == "parked"
    assert state.ledger_id == invoice["Id"]
    reason = state.last_error or ""
    assert "credit memo" in reason and "not its grand total 30.00" in reason
    assert "refund figures do not add up" in reason and "Magento" in reason
    events = [event for event, _ in setup.events(oid)]
    assert events.count("parked") == 1 and "failed" not in events
    # When the memo is put right and the order synced again
    setup.mage.amend_credit_memo(memo, grand_total=27)
    setup.sync(oid)
    # Then the refund posts and the invoice is still the one
    assert [d["Id"] for d in setup.documents("Invoice", oid)] == [invoice["Id"]]
    [refund] = setup.documents("RefundReceipt", oid)
    assert Decimal(str(refund["TotalAmt"])) == Decimal("27.00")


def test_a_forged_signature_is_401_and_nothing_is_queued(setup: Setup) -> None:
    oid = setup.mage.create_order(OrderSpec([LineSpec("24-WG084")], status="processing"))
    body, headers = signed_hint(oid, "not-the-webhook-secret")
    assert setup.push(SHOP, body, headers).status_code == 401
    assert setup.push(SHOP, body, {"Content-Type": "application/json"}).status_code == 401
    assert setup.push(SHOP, b"{not json", signed_hint(0, WEBHOOK_SECRET)[1]).status_code == 401
    malformed, headers = signed_hint(0, WEBHOOK_SECRET)  # signed, but no entity_id 0
    assert setup.push(SHOP, malformed, headers).status_code == 200  # recorded, not queued
    assert setup.runtime.drain(timeout_s=10)
    assert setup.state(oid) is None and setup.events(oid) == []


def test_a_hint_for_an_order_the_store_does_not_have_is_recorded_and_nothing_voided(
    setup: Setup,
) -> None:
    setup.sync(987654)
    events = setup.events(987654)
    assert events[0][0] == "received"
    assert any("does not say it was deleted" in outcome for _, outcome in events)
    assert setup.documents("Invoice", 987654) == []


def test_an_order_magento_no_longer_has_keeps_its_posted_invoice(setup: Setup) -> None:
    # Given an order posted to QuickBooks
    oid = setup.mage.create_order(OrderSpec([LineSpec("24-WG084")], status="processing"))
    setup.sync(oid)
    [invoice] = setup.documents("Invoice", oid)
    # When Magento no longer has it (an extension deleted it) and a hint arrives
    setup.mage.delete_order(oid)
    setup.sync(oid)
    # Then it is recorded, and the invoice is not voided: Magento did not say it was deleted
    [still] = setup.documents("Invoice", oid)
    assert still["Id"] == invoice["Id"] and still["TotalAmt"] == invoice["TotalAmt"] != 0
    assert any("does not say it was deleted" in outcome for _, outcome in setup.events(oid))


def test_a_signature_magento_refuses_parks_the_order_with_magentos_message(setup: Setup) -> None:
    oid = setup.mage.create_order(OrderSpec([LineSpec("24-WG084")], status="processing"))
    setup.sync(oid, BAD_KEYS)
    state = setup.state(oid, BAD_KEYS)
    assert state is not None and state.status == "parked"
    assert "The signature is invalid. Verify and try again." in (state.last_error or "")

"""BigCommerce through the real runtime: a callback -> queue -> worker -> simulated QuickBooks.

The local runtime (moto's AWS, the same handlers) serves the connector; the BigCommerce and
QuickBooks Online simulators answer over loopback. The hooks are registered as the README
tells the merchant to (``POST /v3/hooks`` with the ``X-Connector-Token`` header), and the
simulated store delivers its callbacks to them. Each test checks what the merchant sees in
QuickBooks (the transactional currency, the store total to the cent) and what the bookkeeper
sees in the audit trail.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

from simulators.bigcommerce import BigCommerceSimulator, Line
from simulators.httpserver import LoopbackServer
from simulators.qbo import QboSimulator
from simulators.testbed.bigcommerce import bigcommerce_shop
from simulators.testbed.online import LocalRig, connected_runtime

TENANT = "bc"
SHOP = "bcshop"
WEBHOOK_SECRET = "BigCommerceHookToken7"
QBO_APP = {"client_id": "bc-app", "client_secret": "bc-app-secret"}
SCOPES = (
    "store/order/created",
    "store/order/updated",
    "store/order/archived",
    "store/order/refund/created",
)
D = Decimal


@dataclass
class Setup:
    rig: LocalRig
    bc: BigCommerceSimulator
    bc_url: str

    def deliver(self, scope: str, order_id: int) -> None:
        """The store calls every hook registered for ``scope``; the runtime drains."""
        statuses = self.bc.deliver(scope, order_id)
        assert statuses == [200], statuses
        self.rig.drain()

    def key(self, order_id: int) -> str:
        return f"{SHOP}#order#{order_id}"

    def events(self, order_id: int) -> list[tuple[str, str]]:
        return self.rig.events(self.key(order_id))

    def invoices(self, order_id: int) -> list[dict[str, Any]]:
        return self.rig.documents("Invoice", order_id)


def _register_hooks(bc_url: str, bc: BigCommerceSimulator, destination: str) -> None:
    """What the merchant's curl does: one hook per scope, echoing X-Connector-Token."""
    for scope in SCOPES:
        answer = httpx.post(
            f"{bc_url}/stores/{bc.store_hash}/v3/hooks",
            headers={"X-Auth-Token": bc.access_token, "Accept": "application/json"},
            json={
                "scope": scope,
                "destination": destination,
                "is_active": True,
                "headers": {"X-Connector-Token": WEBHOOK_SECRET},
            },
            timeout=10,
        )
        assert answer.status_code == 200, answer.text


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    bc = BigCommerceSimulator(quota=10_000, loopback_destinations=True)
    qbo = QboSimulator(
        multicurrency=True,
        home_currency="USD",
        client_id=QBO_APP["client_id"],
        client_secret=QBO_APP["client_secret"],
    )
    with LoopbackServer(bc.handle) as bc_server, LoopbackServer(qbo.handle) as qbo_server:
        connection, secrets = bigcommerce_shop(
            SHOP,
            bc,
            bc_server.base_url,
            qbo_server.base_url,
            webhook_secret=WEBHOOK_SECRET,
            ledger=QBO_APP,
        )
        with connected_runtime(TENANT, [connection], secrets, qbo) as rig:
            _register_hooks(bc_server.base_url, bc, rig.webhook_url(SHOP))
            yield Setup(rig, bc, bc_server.base_url)


def test_an_order_callback_becomes_an_invoice_for_the_store_total_in_the_charged_currency(
    setup: Setup,
) -> None:
    # Given an order priced at 4 decimals, with a discount, shipping and handling, charged in
    # USD while the shopper's screen showed euros
    oid = setup.bc.place_order(
        [Line("Mug", "MUG-1", 3, D("3.3350"), discount=D("1.0000")), Line("Tee", "TEE-1", 1, D("18.0650"))],
        shipping=D("5.0000"),
        handling=D("1.2500"),
        currency="USD",
        display_currency="EUR",
    )  # fmt: skip
    order = setup.bc.orders[oid]
    # When the store calls the hook (X-Connector-Token echoed)
    setup.deliver("store/order/created", oid)
    # Then QuickBooks holds one invoice in the transactional currency, for the store total
    [invoice] = setup.invoices(oid)
    assert invoice["CurrencyRef"]["value"] == order["default_currency_code"] == "USD"
    assert D(str(invoice["TotalAmt"])) == D(order["total_inc_tax"]).quantize(D("0.01"))
    # (27.07 goods after the discount + 5.00 shipping + 1.25 handling + 2.67 tax at 8 %)
    assert D(str(invoice["TotalAmt"])) == D("35.99")
    # And the audit trail tells the story
    events = [event for event, _ in setup.events(oid)]
    assert events[0] == "received" and "fetched" in events and "posted" in events
    state = setup.rig.state(setup.key(oid))
    assert state is not None and state.status == "posted"
    # And the worker read the store through its shared limiter, which learned the store's quota
    limiter = (
        setup.rig.runtime.boto3_resource("dynamodb")
        .Table(setup.rig.runtime.env["CONNECTOR_STATE_TABLE"])
        .get_item(Key={"pk": f"limiter#bigcommerce#{setup.bc.store_hash}", "sk": "LIMITER"})
    )
    assert (limiter["Item"]["quota"], limiter["Item"]["window_ms"]) == (10_000, 30_000)


def test_a_standard_webhooks_delivery_without_the_token_is_accepted(setup: Setup) -> None:
    oid = setup.bc.place_order([Line("Cap", "CAP-1", 2, D("12.5000"))], status_id=2)
    body = setup.bc.callback("store/order/created", oid)
    headers = {"Content-Type": "application/json",
               **setup.bc.sign(body, "msg_standard_1", int(time.time()))}  # fmt: skip
    answer = setup.rig.push(SHOP, body, headers)
    assert answer.status_code == 200, answer.text
    setup.rig.drain()
    [invoice] = setup.invoices(oid)
    assert D(str(invoice["TotalAmt"])) == D("27.00")


def test_a_stale_signature_and_a_forged_token_are_401_and_nothing_is_queued(
    setup: Setup,
) -> None:
    oid = setup.bc.place_order([Line("Cap", "CAP-1", 1, D("12.5000"))])
    body = setup.bc.callback("store/order/created", oid)
    stale = setup.bc.sign(body, "msg_stale", int(time.time()) - 600)
    assert setup.rig.push(SHOP, body, stale).status_code == 401
    forged = {"X-Connector-Token": "not-the-token", **setup.bc.sign(body, "m", int(time.time()))}
    assert setup.rig.push(SHOP, body, forged).status_code == 401
    # a signature made with another app's client secret
    other = BigCommerceSimulator(client_secret="another-apps-secret")
    assert setup.rig.push(SHOP, body, other.sign(body, "m", int(time.time()))).status_code == 401
    assert setup.rig.push(SHOP, body, {"Content-Type": "application/json"}).status_code == 401
    setup.rig.drain()
    assert setup.rig.state(setup.key(oid)) is None and setup.events(oid) == []


def test_a_repeat_delivery_is_absorbed(setup: Setup) -> None:
    oid = setup.bc.place_order([Line("Mug", "MUG-1", 1, D("10.0000"))], status_id=10)
    setup.deliver("store/order/created", oid)
    setup.deliver("store/order/created", oid)  # the same event again: the same hash
    setup.deliver("store/order/updated", oid)  # nothing changed in the order
    assert len(setup.invoices(oid)) == 1
    assert len(setup.rig.documents("Payment", oid)) == 1  # captured: paid once


def test_an_archived_order_voids_its_invoice(setup: Setup) -> None:
    oid = setup.bc.place_order([Line("Mug", "MUG-1", 2, D("10.0000"))])
    setup.deliver("store/order/created", oid)
    [posted] = setup.invoices(oid)
    assert D(str(posted["TotalAmt"])) == D("21.60")
    # When the merchant deletes (archives) it
    setup.bc.archive(oid)
    setup.deliver("store/order/archived", oid)
    # Then the invoice is voided
    [voided] = setup.invoices(oid)
    assert voided["Id"] == posted["Id"] and D(str(voided["TotalAmt"])) == 0
    state = setup.rig.state(setup.key(oid))
    assert state is not None and state.status == "voided"


def test_an_update_for_an_archived_order_voids_too(setup: Setup) -> None:
    oid = setup.bc.place_order([Line("Mug", "MUG-1", 1, D("10.0000"))])
    setup.deliver("store/order/created", oid)
    setup.bc.archive(oid)  # is_deleted, but the callback is only an update
    setup.deliver("store/order/updated", oid)
    [voided] = setup.invoices(oid)
    assert D(str(voided["TotalAmt"])) == 0


def test_an_order_the_store_does_not_have_is_recorded_and_its_invoice_left_alone(
    setup: Setup,
) -> None:
    # Given a posted order that BigCommerce later answers 404 for
    oid = setup.bc.place_order([Line("Mug", "MUG-1", 1, D("10.0000"))])
    setup.deliver("store/order/created", oid)
    [posted] = setup.invoices(oid)
    setup.bc.purge(oid)
    # When a callback about it arrives
    setup.deliver("store/order/updated", oid)
    # Then it is recorded and the invoice stands
    [still] = setup.invoices(oid)
    assert still["Id"] == posted["Id"] and still["TotalAmt"] == posted["TotalAmt"] != 0
    assert any("does not say it was deleted" in outcome for _, outcome in setup.events(oid))
    # And an order it never had is recorded the same way
    setup.deliver("store/order/updated", 987654)
    assert any("does not say it was deleted" in o for _, o in setup.events(987654))
    assert setup.invoices(987654) == []


def test_a_refund_callback_posts_a_refund_receipt_for_a_paid_order(setup: Setup) -> None:
    oid = setup.bc.place_order([Line("Mug", "MUG-1", 2, D("10.0000"))])
    setup.deliver("store/order/created", oid)
    [invoice] = setup.invoices(oid)
    # When the merchant refunds part of it and BigCommerce calls refund/created
    rid = setup.bc.refund(oid, D("5.00"), D("0"), reason="Chipped")
    assert setup.bc.orders[oid]["status_id"] == 14
    setup.deliver("store/order/refund/created", oid)
    # Then the money goes back with a refund receipt, the invoice unchanged
    [refund] = setup.rig.documents("RefundReceipt", oid)
    assert D(str(refund["TotalAmt"])) == D("5.00")
    assert f"refund {rid}" in refund["PrivateNote"]
    # an order-level amount, tied to no line: on the refund item (here the fallback, Sales)
    items = [
        line["SalesItemLineDetail"]["ItemRef"]
        for line in refund["Line"]
        if line.get("DetailType") == "SalesItemLineDetail"
    ]
    assert [i.get("name") for i in items] == ["Sales"], items
    [same] = setup.invoices(oid)
    assert same["TotalAmt"] == invoice["TotalAmt"]
    refund_state = setup.rig.state(f"{SHOP}#refund#{rid}")
    assert refund_state is not None and refund_state.status == "posted"


def test_a_store_credit_and_gift_certificate_order_posts_its_full_total(setup: Setup) -> None:
    oid = setup.bc.place_order(
        [Line("Mug", "MUG-1", 1, D("10.0000"))],
        store_credit=D("4.0000"),
        gift_certificate=D("6.8000"),
    )
    setup.deliver("store/order/created", oid)
    [invoice] = setup.invoices(oid)
    assert D(str(invoice["TotalAmt"])) == D("10.80")
    assert "Store credit paid 4.00 USD" in str(invoice.get("CustomerMemo", {})) + str(
        invoice.get("PrivateNote", "")
    )


def test_an_incomplete_order_never_posts(setup: Setup) -> None:
    # BigCommerce sends order/created for abandoned and failed-payment checkouts (status 0)
    oid = setup.bc.place_order([Line("Mug", "MUG-1", 1, D("10.0000"))], status_id=0)
    setup.deliver("store/order/created", oid)
    assert setup.invoices(oid) == []
    assert any("status incomplete does not post" in o for _, o in setup.events(oid))
    # and a status the tenant file does not list (Pending) does not either
    pending = setup.bc.place_order([Line("Mug", "MUG-1", 1, D("10.0000"))], status_id=1)
    setup.deliver("store/order/created", pending)
    assert setup.invoices(pending) == []
    # until it moves to one it does (Shipped, listed as the integer 2)
    setup.bc.set_status(pending, 2)
    setup.deliver("store/order/updated", pending)
    assert len(setup.invoices(pending)) == 1


def test_an_archived_callback_for_an_order_the_store_still_has_live_voids_nothing(
    setup: Setup,
) -> None:
    # Given a posted order the merchant has not archived
    oid = setup.bc.place_order([Line("Mug", "MUG-1", 2, D("10.0000"))])
    setup.deliver("store/order/created", oid)
    [posted] = setup.invoices(oid)
    # When an archived callback for it arrives (a replayed capture: the token never changes)
    setup.deliver("store/order/archived", oid)
    # Then the worker asked the store, which does not say is_deleted: the invoice stands
    [still] = setup.invoices(oid)
    assert still["Id"] == posted["Id"] and D(str(still["TotalAmt"])) == D("21.60")
    state = setup.rig.state(setup.key(oid))
    assert state is not None and state.status == "posted"
    fetched = [outcome for event, outcome in setup.events(oid) if event == "fetched"]
    assert "BigCommerce does not confirm: settled as the store says" in fetched[-1]

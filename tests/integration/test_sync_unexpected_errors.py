"""A failure nobody classified, through the real path: signed webhook -> queue -> sync handler ->
simulated QuickBooks Online, on moto's server.

The store answers an order in a way no rule expects: a plugin's REST filter drops its
``date_created_gmt`` (the normaliser raises ValueError, neither transient nor permanent). The
record goes back to the queue with a growing delay, each time audited with the error's type and
message, and once the retry budget is spent it parks with a reason that says to report it;
``connector parked`` lists it, and once the plugin is fixed a replay from that list posts it once.
A bug whose message quotes a signed URL reaches the audit without the URL's query.
The retry scale shrinks the deployed budget (24 hours) to seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from connector import parked as parked_list
from connector import resources
from connector.messages import SyncMessage
from connector.replay import resend_parked
from connector.runtime import Runtime
from connector.state import now_utc
from connector.sync import Delivery, HandedBack, SyncWorker
from simulators.testbed.online import STORE_KEYS, QboRig, QboRigs, connection_settings
from simulators.woocommerce import LineSpec, OrderSpec

SHOP = "shop"
MUG = 10
JANE = 2
# 24 hours of retrying in 6 seconds.
FAST = {resources.ENV_RETRY_SCALE: str(6 / 86400)}


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    mapping = {"fallback_item": "Sales", "shipping_item": "Shipping"}
    return [connection_settings(SHOP, woo_url=woo_url, qbo_url=qbo_url, mapping=mapping)]


@pytest.fixture(scope="module")
def rig(qbo_rig: QboRigs) -> Iterator[QboRig]:
    with qbo_rig(_connections, extra_env=FAST) as running:
        yield running


def test_an_unexpected_error_is_retried_on_the_budget_then_parked_and_replayed(
    rig: QboRig,
) -> None:
    order = rig.woo.create_order(OrderSpec(lines=[LineSpec(MUG, 3)], customer_id=JANE))
    broken = order["id"]

    def drop_created(order_id: int, doc: dict[str, Any]) -> dict[str, Any]:
        return {**doc, "date_created_gmt": None} if order_id == broken else doc

    rig.woo.filter_orders(drop_created)
    try:
        rig.sync(SHOP, "order.created", broken)
    finally:
        rig.woo.filter_orders(None)

    # Parked with its state and a reason a person can act on
    state = rig.sync_state(SHOP, broken)
    assert state.status == "parked" and state.last_error
    why = f"unexpected error ValueError: WooCommerce order {broken} has no date_created_gmt"
    assert state.last_error.startswith(why + " after ")
    assert "tries" in state.last_error and "report it" in state.last_error
    assert rig.documents("Invoice", broken) == []

    # Before that it went back to the queue with a growing delay, each time audited
    trail = rig.audit(SHOP, broken)
    handed_back = [e for e in trail if e.event == "failed" and "back to the queue" in e.outcome]
    assert len(handed_back) >= 3
    assert all(e.outcome.startswith(why) for e in handed_back)
    receives = [e.detail["receives"] for e in handed_back]
    assert receives == sorted(receives) and receives[0] == 1
    assert trail[-1].event == "parked" and trail[-1].outcome == state.last_error
    # Type and message only: no traceback, no credentials
    texts = " ".join(e.outcome for e in trail)
    assert "Traceback" not in texts
    assert not any(secret in texts for secret in STORE_KEYS.values())

    # connector parked lists it
    (listed,) = parked_list.parked_records(
        None, state=rig.state_store, outbox=None, connection_id=SHOP, record_id=str(broken)
    )
    assert listed.reason == state.last_error
    assert f"{SHOP}#order#{broken}" in parked_list.render([listed])

    # The plugin is fixed (its filter was removed above): a replay from the list posts it once
    report = resend_parked([listed], queue=rig.sync_queue())
    assert report.resent == [f"{SHOP}#order#{broken}"]
    rig.drain()
    (invoice,) = rig.documents("Invoice", broken)
    assert Decimal(str(invoice["TotalAmt"])) == Decimal(order["total"])
    assert rig.sync_state(SHOP, broken).status == "posted"


def test_an_order_that_fails_unexpectedly_once_posts_on_its_next_receive(rig: QboRig) -> None:
    order = rig.woo.create_order(OrderSpec(lines=[LineSpec(MUG, 1)], customer_id=JANE))
    calls = {"n": 0}

    def first_answer_broken(order_id: int, doc: dict[str, Any]) -> dict[str, Any]:
        # The webhook body is rendered first, then the worker's fetches.
        if order_id != order["id"]:
            return doc
        calls["n"] += 1
        return {**doc, "date_created_gmt": None} if calls["n"] == 2 else doc

    rig.woo.filter_orders(first_answer_broken)
    try:
        rig.sync(SHOP, "order.created", order["id"])
    finally:
        rig.woo.filter_orders(None)

    (invoice,) = rig.documents("Invoice", order["id"])
    assert Decimal(str(invoice["TotalAmt"])) == Decimal(order["total"])
    (failed,) = [e for e in rig.audit(SHOP, order["id"]) if e.event == "failed"]
    assert failed.outcome.startswith("unexpected error ValueError")
    assert failed.detail["receives"] == 1
    assert rig.events(SHOP, order["id"])[-1] == "posted"


class _LeakyStore:
    """A store adapter with a bug whose message quotes a signed request URL."""

    display_name = "WooCommerce"

    def get_order(self, store_id: str) -> None:
        raise RuntimeError(
            f"could not read https://shop.example/wp-json/wc/v3/orders/{store_id}"
            f"?oauth_consumer_key={STORE_KEYS['consumer_key']}&oauth_signature=c2lnbmVk"
        )


def test_an_unexpected_errors_audit_names_its_type_and_message_without_credentials(
    rig: QboRig,
) -> None:
    # The rig's environment is the deployed function's: build its worker as the handler does
    runtime = Runtime.from_environment()
    parked: list[str] = []
    worker = SyncWorker(
        connection_for=runtime.connection,
        store_for=lambda _connection: _LeakyStore(),  # type: ignore[arg-type,return-value]
        ledger_for=runtime.ledger,
        state=runtime.state,
        audit=runtime.audit,
        park=lambda _message, reason: parked.append(reason),
        policy=runtime.retry_policy,
    )
    message = SyncMessage(
        connection_id=SHOP,
        entity="order",
        record_id="9001",
        topic="order.created",
        received_at=now_utc(),
    )
    with pytest.raises(HandedBack):
        worker.process(message, Delivery(receives=1))
    result = worker.process(message, Delivery(receives=100, last_receive=True))

    assert result.outcome == "parked"
    (reason,) = parked
    said = (
        "unexpected error RuntimeError: could not read "
        "https://shop.example/wp-json/wc/v3/orders/9001?…"
    )
    assert reason.startswith(said + " after 100 tries") and "report it" in reason
    trail = rig.audit(SHOP, "9001")
    assert [e.event for e in trail] == ["failed", "failed", "parked"]
    assert trail[0].outcome.startswith(said + "; back to the queue, tried again at")
    assert not any(STORE_KEYS["consumer_key"] in e.outcome for e in trail)
    assert rig.sync_state(SHOP, 9001).status == "parked"

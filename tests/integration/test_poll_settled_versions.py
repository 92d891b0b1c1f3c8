"""Every version the worker settles is recorded, so the poll does not queue it again.

A cancellation reaches the worker by a push that carries no modification time (as
BigCommerce's stubs and deletions do): the worker fetches the order as it is now and
settles that version, voiding what was posted or recording that nothing was. Polled
twice afterwards, the store lists both orders and the poll queues nothing: QuickBooks
keeps one voided invoice.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from connector.messages import SyncMessage
from simulators.testbed.online import QboRig, QboRigs, connection_settings
from simulators.woocommerce import LineSpec, OrderSpec

SHOP = "shop"


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    mapping = {"fallback_item": "Sales", "doc_prefix": "S-"}
    return [connection_settings(SHOP, woo_url=woo_url, qbo_url=qbo_url, mapping=mapping)]


@pytest.fixture(scope="module")
def rig(qbo_rig: QboRigs) -> Iterator[QboRig]:
    with qbo_rig(_connections) as running:
        yield running


def _push_without_time(rig: QboRig, order_id: int) -> None:
    """What a push without the store's modification time queues."""
    now = datetime.now(UTC)
    message = SyncMessage(
        connection_id=SHOP, entity="order", record_id=str(order_id),
        topic="order.updated", received_at=now, version=f"stub-{order_id}-{now.isoformat()}",
    )  # fmt: skip
    rig.sync_queue().send(message, version=str(message.version))


def _poll(rig: QboRig) -> dict[str, Any]:
    report = rig.runtime.fire_schedule("reconcile", detail={"poll": "now"})
    rig.drain()
    found: dict[str, Any] = report["connections"][0]
    return found


def test_cancellations_settled_without_a_store_time_are_current_for_the_poll(rig: QboRig) -> None:
    # Given an order never posted (pending) and one posted, both then cancelled in the store
    never = rig.woo.create_order(OrderSpec(lines=[LineSpec(10, 1)], status="pending"))
    posted = rig.woo.create_order(OrderSpec(lines=[LineSpec(10, 1)], status="processing"))
    rig.sync(SHOP, "order.created", posted["id"])
    assert rig.sync_state(SHOP, posted["id"]).status == "posted"
    _poll(rig)  # everything else the store lists is current from here
    for order in (never, posted):
        rig.woo.update_order(order["id"], status="cancelled")
        _push_without_time(rig, order["id"])
    rig.drain()
    assert rig.sync_state(SHOP, posted["id"]).status == "voided"
    # When the poll runs twice
    first, second = _poll(rig), _poll(rig)
    # Then neither run queues either order again: the worker settled those versions
    assert (first["queued"], second["queued"]) == (0, 0)
    withdrawn = [e.outcome for e in rig.audit(SHOP, never["id"]) if "withdraw" in e.outcome]
    assert withdrawn == ["status cancelled; nothing was posted to withdraw"]
    assert rig.events(SHOP, posted["id"]).count("voided") == 1
    assert len(rig.documents("Invoice", posted["id"])) == 1

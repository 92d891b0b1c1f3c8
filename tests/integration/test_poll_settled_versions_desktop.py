"""On QuickBooks Desktop, a cancellation is a void waiting in the outbox: the poll and a newer
store version must not queue a second one.

WooCommerce into the ``desk`` Desktop connection (testbed.deployment with the store
simulator), the reconcile poll fired by hand, and the simulated Web Connector draining the
outbox into a simulated company file. What a bookkeeper checks: the invoice in the company
file, how many TxnVoid requests QuickBooks received, and the order's audit trail.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from connector.config import TenantConfig
from connector.ledgers.qbd.password import hash_password
from connector.messages import SyncMessage
from simulators.qbd import QbdCompany
from simulators.testbed.clocks import TickingClock
from simulators.testbed.deployment import Endpoints, deployment
from simulators.testbed.desktop import CONN, PASSWORD, USER, connection_settings
from simulators.testbed.online import STORE_KEYS, WEBHOOK_SECRET, QboRig
from simulators.woocommerce import LineSpec, OrderSpec, WooSimulator

VOIDED_QUEUED = "status cancelled: void queued for the Web Connector"


def _connections(at: Endpoints) -> list[dict[str, Any]]:
    settings = connection_settings()
    return [{**settings, "store": {"kind": "woocommerce", "url": at.store}}]


def _secrets(config: TenantConfig) -> dict[str, dict[str, Any]]:
    return {
        CONN: {
            "store": {**STORE_KEYS, "webhook_secret": WEBHOOK_SECRET},
            "ledger": {"password_hash": hash_password(PASSWORD)},
        }
    }


@pytest.fixture()
def rig() -> Iterator[QboRig]:
    woo = WooSimulator(
        consumer_key=STORE_KEYS["consumer_key"],
        consumer_secret=STORE_KEYS["consumer_secret"],
        clock=TickingClock(),
        seed=5,
    )
    with deployment("desk", _connections, _secrets, store=woo, connect=(), rig=QboRig) as running:
        yield cast(QboRig, running)


@pytest.fixture()
def company() -> QbdCompany:
    return QbdCompany()


def _push_without_time(rig: QboRig, order_id: int) -> None:
    """What a push without the store's modification time queues (a BigCommerce stub)."""
    now = datetime.now(UTC)
    message = SyncMessage(
        connection_id=CONN, entity="order", record_id=str(order_id),
        topic="order.updated", received_at=now, version=f"stub-{order_id}-{now.isoformat()}",
    )  # fmt: skip
    rig.sync_queue().send(message, version=str(message.version))


def _poll(rig: QboRig) -> int:
    """One reconcile run; how many records it queued."""
    report = rig.runtime.fire_schedule("reconcile", detail={"poll": "now"})
    rig.drain()
    queued: int = report["connections"][0]["queued"]
    return queued


def _web_connector_runs(rig: QboRig, company: QbdCompany) -> None:
    with rig.web_connector(CONN, USER, PASSWORD, company) as web:
        assert web.run_session().outcome == "done"
    rig.time_passes(CONN, 3600)


def _void_events(rig: QboRig, order_id: int) -> list[tuple[str, str]]:
    return [
        (e.event, e.outcome)
        for e in rig.audit(CONN, order_id)
        if e.event in ("queued", "voided") and "void" in e.outcome
    ]


def _posted_order(rig: QboRig, company: QbdCompany) -> int:
    """An order synced and carried into the company file by the Web Connector."""
    order = rig.woo.create_order(OrderSpec(lines=[LineSpec(10, 1)], status="processing"))
    rig.sync(CONN, "order.created", order["id"])
    assert rig.sync_state(CONN, order["id"]).status == "queued"
    _web_connector_runs(rig, company)
    assert rig.sync_state(CONN, order["id"]).status == "posted"
    order_id: int = order["id"]
    return order_id


def test_a_cancelled_order_polled_twice_is_voided_once_by_the_web_connector(
    rig: QboRig, company: QbdCompany
) -> None:
    # Given a posted order and one never posted (pending), both then cancelled in the store
    posted = _posted_order(rig, company)
    never = rig.woo.create_order(OrderSpec(lines=[LineSpec(10, 1)], status="pending"))["id"]
    _poll(rig)  # everything else the store lists is current from here
    for order_id in (never, posted):
        rig.woo.update_order(order_id, status="cancelled")
        _push_without_time(rig, order_id)
    rig.drain()
    assert rig.sync_state(CONN, posted).status == "queued"  # the void waits for the PC

    # When the poll runs twice before the Web Connector does, then the Web Connector runs
    first, second = _poll(rig), _poll(rig)
    _web_connector_runs(rig, company)

    # Then neither poll queued either order, and QuickBooks received one void
    assert (first, second) == (0, 0)
    assert company.requests_processed["TxnVoid"] == 1
    [invoice] = company.transactions("Invoice")
    assert invoice.voided
    assert rig.sync_state(CONN, posted).status == "voided"
    assert _void_events(rig, posted)[0] == ("queued", VOIDED_QUEUED)
    assert [e for e, _ in _void_events(rig, posted)] == ["queued", "voided"]
    # And the never-posted order was recorded once as having nothing to withdraw
    withdrawn = [e.outcome for e in rig.audit(CONN, never) if "withdraw" in e.outcome]
    assert withdrawn == ["status cancelled; nothing was posted to withdraw"]
    assert rig.sync_state(CONN, never).status == "skipped"
    assert [t.ref_number for t in company.transactions("Invoice")] == [str(posted)]


def test_a_newer_version_of_an_order_whose_void_waits_queues_no_second_void(
    rig: QboRig, company: QbdCompany
) -> None:
    # Given a posted order cancelled in the store, its void waiting in the outbox
    posted = _posted_order(rig, company)
    _poll(rig)
    rig.woo.update_order(posted, status="cancelled")
    rig.sync(CONN, "order.updated", posted)
    assert rig.sync_state(CONN, posted).status == "queued"

    # When the cancelled order is edited again in the store (a note the poll finds, then
    # moved to the bin, which the store pushes) before the Web Connector runs
    rig.woo.update_order(posted, customer_note="refused at the door")
    found_note = _poll(rig)
    rig.woo.trash_order(posted)
    rig.sync(CONN, "order.deleted", posted)
    _web_connector_runs(rig, company)

    # Then the poll queued the newer version, the worker knew the void was already waiting,
    # and QuickBooks received one void
    assert found_note == 1
    assert company.requests_processed["TxnVoid"] == 1
    [invoice] = company.transactions("Invoice")
    assert invoice.voided
    assert rig.sync_state(CONN, posted).status == "voided"
    assert [e for e, _ in _void_events(rig, posted)] == ["queued", "voided"]
    # And the audit trail says why the newer versions queued nothing
    waits = [e.outcome for e in rig.audit(CONN, posted) if "already waits" in e.outcome]
    assert waits == [
        "status cancelled; its void already waits for the Web Connector",
        # The delete delivery is confirmed by fetching: the store shows the order in the bin.
        "status trash; its void already waits for the Web Connector",
    ]
    # And a later poll has nothing left to queue
    assert _poll(rig) == 0


def test_an_order_sold_again_while_its_void_waits_is_parked_with_the_reason(
    rig: QboRig, company: QbdCompany
) -> None:
    # Given a posted order cancelled in the store, its void waiting in the outbox
    posted = _posted_order(rig, company)
    rig.woo.update_order(posted, status="cancelled")
    rig.sync(CONN, "order.updated", posted)

    # When the shop takes the cancellation back before the Web Connector runs
    rig.woo.update_order(posted, status="processing")
    rig.sync(CONN, "order.updated", posted)
    _web_connector_runs(rig, company)

    # Then the order is parked with a reason the bookkeeper can act on (QuickBooks cannot
    # un-void), and QuickBooks received the one void and no change to the voided invoice
    [reason] = [p["reason"] for p in rig.parked(CONN, posted)]
    assert reason.startswith(
        f"order {posted} is processing again, but the void of its QuickBooks document "
        f"{posted} already waits for the Web Connector"
    )
    assert rig.sync_state(CONN, posted).status == "voided"
    assert [e for e, _ in _void_events(rig, posted)] == ["queued", "voided"]
    assert company.requests_processed["TxnVoid"] == 1
    assert company.requests_processed["InvoiceMod"] == 0
    [invoice] = company.transactions("Invoice")
    assert invoice.voided

"""A delete changes QuickBooks only on the store's word, through the real path: signed webhook ->
ingest -> SQS FIFO on moto -> sync worker -> simulated WooCommerce and QuickBooks Online.

WooCommerce signs ``order.deleted`` as ``{"id": N}`` with no time, so a captured delivery is
valid for ever. The worker fetches the order for every delete: a 404 with WooCommerce's own
invalid-id code, or the order in the trash, withdraws its document; an order the store still
has live is settled as the store says; a 404 without the code (a proxy, a plugin, a wrong
address) is tried again and parked, never a void.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connector import resources
from connector.messages import SyncMessage
from connector.stores.port import StoreRecordNotFound, StoreUnavailable
from connector.stores.woocommerce_client import WooClient, WooCredentials
from connector.sync_queue import deduplication_id
from simulators.testbed.online import (
    STORE_KEYS,
    WEBHOOK_SECRET,
    QboRig,
    QboRigs,
    connection_settings,
)
from simulators.woocommerce import LineSpec, OrderSpec
from simulators.woocommerce_webhooks import php_json, webhook_signature

INV = "inv"  # invoices voided on cancel
DEL = "del"  # invoices deleted on cancel
MUG, PRINT = 10, 11
JANE = 2
# 24 hours of retrying in 8 seconds.
FAST = {resources.ENV_RETRY_SCALE: str(8 / 86400)}


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    mapping = {"fallback_item": "Sales", "shipping_item": "Shipping"}
    return [
        connection_settings(INV, woo_url=woo_url, qbo_url=qbo_url, mapping=mapping),
        connection_settings(
            DEL, woo_url=woo_url, qbo_url=qbo_url, on_cancel="delete", mapping=mapping
        ),
    ]


@pytest.fixture(scope="module")
def rig(qbo_rig: QboRigs) -> Iterator[QboRig]:
    with qbo_rig(_connections, extra_env=FAST) as running:
        yield running


@pytest.fixture(autouse=True)
def _no_leftover_faults(rig: QboRig) -> Iterator[None]:
    yield
    rig.woo.clear_faults()


def _posted(rig: QboRig, connection_id: str = INV) -> tuple[dict[str, Any], dict[str, Any]]:
    """A paid order posted as one invoice: (the store's order, the invoice)."""
    order = rig.woo.create_order(
        OrderSpec(lines=[LineSpec(MUG, 2), LineSpec(PRINT, 1)], customer_id=JANE)
    )
    rig.sync(connection_id, "order.created", order["id"])
    invoices = rig.documents("Invoice", order["id"])
    assert len(invoices) == 1
    return order, invoices[0]


def _captured_delete(order_id: int) -> tuple[bytes, dict[str, str]]:
    """An ``order.deleted`` delivery exactly as WooCommerce signs it: whenever it was captured,
    its body is ``{"id": N}`` and its signature the same."""
    body = php_json({"id": order_id})
    headers = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": "order.deleted",
        "X-WC-Webhook-Resource": "order",
        "X-WC-Webhook-Event": "deleted",
        "X-WC-Webhook-Signature": webhook_signature(body, WEBHOOK_SECRET),
        "X-WC-Webhook-ID": "1",
        "X-WC-Webhook-Delivery-ID": "5f0c1e2d3a4b",
    }
    return body, headers


def _voids(rig: QboRig, mark: int) -> list[str]:
    return [
        f"{r.method} {r.path}"
        for r in rig.requests_since(mark)
        if r.query.get("operation") in ("void", "delete")
    ]


def _total(invoice: dict[str, Any]) -> Decimal:
    return Decimal(str(invoice["TotalAmt"]))


def test_a_replayed_delete_of_a_live_order_voids_nothing(rig: QboRig) -> None:
    order, invoice = _posted(rig)
    body, headers = _captured_delete(order["id"])
    mark = len(rig.qbo.request_log)

    # The capture sent twice, a minute apart in the attacker's eyes: both reach the worker.
    rig.deliver_raw(INV, body, headers)
    rig.deliver_raw(INV, body, headers)
    rig.drain()

    assert _voids(rig, mark) == []
    (still,) = rig.documents("Invoice", order["id"])
    assert still["Id"] == invoice["Id"]
    assert _total(still) == Decimal(order["total"])
    assert rig.sync_state(INV, order["id"]).status == "posted"
    unconfirmed = [
        e
        for e in rig.audit(INV, order["id"])
        if e.event == "fetched" and "does not confirm" in e.outcome
    ]
    assert len(unconfirmed) == 2
    assert f"status {order['status']}" in unconfirmed[0].outcome
    assert "nothing withdrawn" in unconfirmed[0].outcome


def test_an_order_in_the_trash_is_voided_once_for_every_delete_delivery(rig: QboRig) -> None:
    order, invoice = _posted(rig)
    rig.woo.trash_order(order["id"])
    mark = len(rig.qbo.request_log)

    rig.deliver(INV, "order.deleted", order["id"])
    rig.deliver(INV, "order.deleted", order["id"])
    rig.drain()

    assert len(_voids(rig, mark)) == 1
    (voided,) = rig.documents("Invoice", order["id"])
    assert voided["Id"] == invoice["Id"] and _total(voided) == 0
    assert rig.sync_state(INV, order["id"]).status == "voided"
    assert rig.events(INV, order["id"]).count("voided") == 1


def test_an_order_deleted_for_good_is_withdrawn_on_woocommerces_invalid_id(rig: QboRig) -> None:
    order, _ = _posted(rig, DEL)
    rig.woo.trash_order(order["id"])
    rig.woo.delete_order(order["id"])  # GET now answers woocommerce_rest_shop_order_invalid_id

    rig.sync(DEL, "order.deleted", order["id"])

    assert rig.documents("Invoice", order["id"]) == []
    assert rig.sync_state(DEL, order["id"]).status == "deleted"
    assert rig.audit(DEL, order["id"])[-1].outcome.startswith("deleted in the store")


def test_a_delete_undone_before_the_worker_ran_then_repeated_within_minutes_voids(
    rig: QboRig,
) -> None:
    order, invoice = _posted(rig)
    rig.woo.trash_order(order["id"])
    rig.deliver(INV, "order.deleted", order["id"])
    rig.woo.restore_order(order["id"])  # restored before the worker got to the delivery
    rig.drain()
    assert _total(rig.documents("Invoice", order["id"])[0]) == Decimal(order["total"])

    # Trashed again a moment later: this delete must not be taken for the first one's repeat.
    rig.woo.trash_order(order["id"])
    rig.sync(INV, "order.deleted", order["id"])

    (voided,) = rig.documents("Invoice", order["id"])
    assert voided["Id"] == invoice["Id"] and _total(voided) == 0
    assert rig.sync_state(INV, order["id"]).status == "voided"


def test_a_404_without_woocommerces_code_is_tried_again_never_a_void(rig: QboRig) -> None:
    order, _ = _posted(rig)
    mark = len(rig.qbo.request_log)
    rig.woo.inject(404, times=1)  # a proxy's page for the worker's fetch

    rig.deliver(INV, "order.deleted", order["id"])
    rig.drain()

    assert _voids(rig, mark) == []
    assert _total(rig.documents("Invoice", order["id"])[0]) == Decimal(order["total"])
    assert rig.sync_state(INV, order["id"]).status == "posted"
    failed = [e.outcome for e in rig.audit(INV, order["id"]) if e.event == "failed"]
    assert len(failed) == 1
    assert "answered 404 for order" in failed[0]
    assert "without saying the record does not exist" in failed[0]
    assert "back to the queue" in failed[0]


def test_a_store_that_keeps_answering_404_without_the_code_parks_the_delete(rig: QboRig) -> None:
    order, _ = _posted(rig)
    mark = len(rig.qbo.request_log)
    rig.woo.inject(404, times=10_000)

    rig.sync(INV, "order.deleted", order["id"])

    assert _voids(rig, mark) == []
    assert _total(rig.documents("Invoice", order["id"])[0]) == Decimal(order["total"])
    state = rig.sync_state(INV, order["id"])
    assert state.status == "parked" and state.last_error
    assert "still failing after the last retry" in state.last_error
    assert "without saying the record does not exist" in state.last_error
    (parked,) = rig.parked(INV, order["id"])
    assert "404" in parked["reason"]


# --- the client and the queue ------------------------------------------------------------


def _client(base_url: str) -> WooClient:
    return WooClient(
        base_url=base_url,
        credentials=WooCredentials(
            consumer_key=SecretStr(STORE_KEYS["consumer_key"]),
            consumer_secret=SecretStr(STORE_KEYS["consumer_secret"]),
        ),
        http=httpx.Client(),
        connection_id=INV,
        backoff_s=0.01,
    )


def test_only_woocommerces_invalid_id_says_an_order_is_deleted(rig: QboRig) -> None:
    live = rig.woo.create_order(OrderSpec(lines=[LineSpec(MUG, 1)], customer_id=JANE))
    gone = rig.woo.create_order(OrderSpec(lines=[LineSpec(MUG, 1)], customer_id=JANE))
    rig.woo.trash_order(live["id"])
    rig.woo.delete_order(gone["id"])
    store = _client(rig.endpoints.store)

    assert store.get_order(str(live["id"]))["status"] == "trash"
    with pytest.raises(StoreRecordNotFound, match=f"order {gone['id']}"):
        store.get_order(str(gone["id"]))
    rig.woo.inject(404, times=1)
    with pytest.raises(StoreUnavailable, match="no WooCommerce error code"):
        store.get_order(str(live["id"]))
    # A wrong store address: WordPress's theme answers its HTML "not found" page.
    with pytest.raises(StoreUnavailable, match="no WooCommerce error code"):
        _client(rig.endpoints.store + "/shop").get_order(str(gone["id"]))


def _delete(received_at: datetime) -> SyncMessage:
    return SyncMessage(
        connection_id=INV,
        entity="order",
        record_id="42",
        action="delete",
        topic="order.deleted",
        version="deleted",
        received_at=received_at,
    )


def test_each_delete_delivery_has_its_own_deduplication_id() -> None:
    first = datetime(2026, 12, 3, 16, 0, tzinfo=UTC)
    again = first + timedelta(seconds=40)
    assert deduplication_id(_delete(first), "deleted") != deduplication_id(
        _delete(again), "deleted"
    )
    # A repeat of one update is still dropped by SQS.
    update = _delete(first).model_copy(update={"action": "upsert", "topic": "order.updated"})
    later = update.model_copy(update={"received_at": again})
    assert deduplication_id(update, "2026-12-03T15:59:00") == deduplication_id(
        later, "2026-12-03T15:59:00"
    )

"""The local runtime with its queue worker in a process of its own (worker_processes=True):
ingest answers a store's push while a backlog drains, and the backlog still posts once."""

from __future__ import annotations

from datetime import UTC, datetime

from connector.messages import SyncMessage
from simulators.qbo import QboSimulator
from simulators.shops import WooCommerceDriver
from simulators.shops.online import CONNECTION, QBO_APP, WEBHOOK_SECRET, connection_settings
from simulators.shops.woocommerce import KEYS as STORE_KEYS
from simulators.testbed.deployment import deployment
from simulators.woocommerce import LineSpec, OrderSpec

BACKLOG = 24
# Each QuickBooks call takes this long, so the backlog surely outlasts the push below.
LATENCY_S = 0.25


def test_ingest_answers_while_a_backlog_drains_in_the_worker_process() -> None:
    driver = WooCommerceDriver(seed=3)
    woo = driver.sim
    qbo = QboSimulator(
        client_id=QBO_APP["client_id"], client_secret=QBO_APP["client_secret"], latency_s=LATENCY_S
    )
    secrets = {
        CONNECTION: {
            "store": {**STORE_KEYS, "webhook_secret": WEBHOOK_SECRET},
            "ledger": dict(QBO_APP),
        }
    }
    with deployment(
        "workers",
        lambda at: [connection_settings(driver, at, document="sales_receipt")],
        secrets,
        store=woo,
        qbo=qbo,
        worker_processes=True,
    ) as rig:
        spec = OrderSpec(
            lines=[LineSpec(10, 2)],
            customer_id=woo.customer_ids()[0],
            payment_method=("stripe", "Credit Card (Stripe)"),
        )
        # Given a backlog of paid orders on the sync queue, as ingest queues them
        queue = rig.sync_queue()
        backlog = [woo.create_order(spec) for _ in range(BACKLOG)]
        for order in backlog:
            message = SyncMessage(
                connection_id=CONNECTION,
                entity="order",
                record_id=str(order["id"]),
                topic="order.created",
                version=f"{order['date_modified_gmt']}#{order['id']}",
                received_at=datetime.now(UTC),
            )
            queue.send(message, version=message.version or "")
        # When the store pushes a new order while the worker drains it
        pushed = woo.create_order(spec)
        sender = rig.woo_sender(CONNECTION, WEBHOOK_SECRET)
        try:
            status = sender.deliver("order.created", pushed["id"])
        finally:
            sender.close()
        posted_at_answer = len(qbo.documents("SalesReceipt"))

        # Then ingest accepted it before the backlog was through
        assert status == 200
        assert posted_at_answer < BACKLOG
        # And drain() waits for the worker process: every order ends with one sales receipt
        rig.drain(timeout_s=120)
        for order in [*backlog, pushed]:
            receipts = rig.documents("SalesReceipt", order["id"])
            assert len(receipts) == 1, order["id"]
            assert str(receipts[0]["TotalAmt"]) == order["total"]
        assert rig.dead_letters() == []
        # The sync function ran in the worker process, ingest in the runtime's own
        ran_here = {name for name, _ in rig.runtime.invocations}
        assert "ingest" in ran_here
        assert "sync" not in ran_here

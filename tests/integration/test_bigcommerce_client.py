"""The BigCommerce adapter against the simulated store over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from connector.stores.bigcommerce.client import BcCredentials, BigCommerceClient
from connector.stores.bigcommerce.store import (
    BigCommerceOrderArchived,
    BigCommerceOrderMissing,
    BigCommerceStoreAdapter,
)
from connector.stores.port import StoreAuthFailed, StoreRecordNotFound, StoreUnavailable
from simulators.bigcommerce import BigCommerceSimulator, Line
from simulators.httpserver import LoopbackServer

D = Decimal


@pytest.fixture
def sim() -> BigCommerceSimulator:
    return BigCommerceSimulator(quota=1000)


@pytest.fixture
def served(sim: BigCommerceSimulator) -> Iterator[str]:
    with LoopbackServer(sim.handle) as server:
        yield server.base_url


def _store(base: str, sim: BigCommerceSimulator, token: str | None = None) -> tuple[
    BigCommerceStoreAdapter, BigCommerceClient, list[float]
]:  # fmt: skip
    waits: list[float] = []
    client = BigCommerceClient(
        api_base=base,
        store_hash=sim.store_hash,
        credentials=BcCredentials(access_token=token or sim.access_token),
        http=httpx.Client(timeout=10),
        connection_id="bc",
        sleep=waits.append,
    )
    return BigCommerceStoreAdapter(client=client, connection_id="bc"), client, waits


def test_an_order_adds_up_to_the_cent_in_the_transactional_currency(
    sim: BigCommerceSimulator, served: str
) -> None:
    # Given an order with 4-decimal prices, a discount, shipping, handling and store credit
    oid = sim.place_order(
        [Line("Mug", "MUG-1", 3, D("3.3350"), discount=D("1.0000")), Line("Tee", "", 1, D("18.0650"))],
        shipping=D("5.0000"),
        handling=D("1.2500"),
        store_credit=D("10.0000"),
        currency="USD",
        display_currency="EUR",
    )  # fmt: skip
    store, _, _ = _store(served, sim)
    # When it is fetched
    order = store.get_order(str(oid))
    # Then the document carries the full total in USD, and every part adds up to it
    assert order.currency == "USD"
    assert order.total == D(sim.orders[oid]["total_inc_tax"]).quantize(D("0.01"))
    parts = order.items_total + order.shipping_total + order.fees_total + order.tax_lines_total
    assert parts == order.total
    assert order.lines[0].discount == D("1.00")
    assert order.lines[1].sku is None
    assert [f.name for f in order.fee_lines] == ["Handling"]
    assert "Store credit paid 10.00 USD" in order.note
    assert order.status == "11"


def test_a_429_storm_is_waited_out_by_the_reset_header(
    sim: BigCommerceSimulator, served: str
) -> None:
    oid = sim.place_order([Line("Mug", "MUG-1", 1, D("10.0000"))])
    sim.fail_next(429, times=4, X_Rate_Limit_Time_Reset_Ms="1500", X_Rate_Limit_Requests_Left="0")
    store, _, waits = _store(served, sim)
    order = store.get_order(str(oid))
    assert order.total == D("10.80")
    assert waits[:4] == [1.5, 1.5, 1.5, 1.5]


def test_a_spent_quota_holds_the_next_request_until_the_window_resets() -> None:
    sim = BigCommerceSimulator(quota=2, window_ms=30_000)
    with LoopbackServer(sim.handle) as server:
        store, _, waits = _store(server.base_url, sim)
        oid = sim.place_order([Line("Mug", "MUG-1", 1, D("10.0000"))])
        with pytest.raises(StoreUnavailable):  # the simulated window never resets here
            store.get_order(str(oid))
    assert waits and all(0 < w <= 30 for w in waits)


def test_a_revoked_token_names_the_scope(sim: BigCommerceSimulator, served: str) -> None:
    store, _, _ = _store(served, sim, token="revoked")
    with pytest.raises(StoreAuthFailed, match=r"revoked or lacks a scope.*Orders \(read-only\)"):
        store.get_order("1")


def test_a_missing_scope_is_named() -> None:
    sim = BigCommerceSimulator(scopes=frozenset({"orders"}))
    with LoopbackServer(sim.handle) as server:
        store, _, _ = _store(server.base_url, sim)
        cid = sim.add_customer("a@example.com", "Ann", "Lee")
        with pytest.raises(StoreAuthFailed, match=r"Customers \(read-only\)"):
            store.get_customer(str(cid))


def test_an_archived_order_is_a_deletion_and_a_purged_one_is_not(
    sim: BigCommerceSimulator, served: str
) -> None:
    kept = sim.place_order([Line("Mug", "MUG-1", 1, D("10.0000"))])
    gone = sim.place_order([Line("Mug", "MUG-1", 1, D("10.0000"))])
    sim.archive(kept)
    sim.purge(gone)
    store, _, _ = _store(served, sim)
    with pytest.raises(BigCommerceOrderArchived):
        store.get_order(str(kept))
    with pytest.raises(BigCommerceOrderMissing) as missing:
        store.get_order(str(gone))
    assert not isinstance(missing.value, StoreRecordNotFound)


def test_refunds_and_customers(sim: BigCommerceSimulator, served: str) -> None:
    cid = sim.add_customer("ann@example.com", "Ann", "Lee")
    oid = sim.place_order([Line("Mug", "MUG-1", 2, D("10.0000"))], customer_id=cid)
    rid = sim.refund(oid, D("5.00"), D("0"), reason="Overcharged")
    store, _, _ = _store(served, sim)
    order = store.get_order(str(oid))
    assert order.refund_ids == (str(rid),) and order.refunded_total == D("5.00")
    (refund,) = store.get_refunds(order)
    # an ORDER-level refund is an amount tied to no line
    assert refund.amount == D("5.00") and refund.lines == () and refund.reason == "Overcharged"
    customer = store.get_customer(str(cid))
    assert customer.email == "ann@example.com" and customer.billing.postcode == "78751"
    with pytest.raises(StoreRecordNotFound):
        store.get_customer("999999")


def test_changed_orders_and_customers_are_listed_after_the_watermark() -> None:
    # Given a store whose clock we move: an order and a customer before the watermark, and
    # after it an order placed and an old order touched
    now = [1_767_225_600.0]  # 2026-01-01 00:00:00 UTC
    sim = BigCommerceSimulator(quota=1000, clock=lambda: now[0])
    with LoopbackServer(sim.handle) as server:
        store, _, _ = _store(server.base_url, sim)
        old = sim.place_order([Line("Mug", "MUG-1", 1, D("10.0000"))])
        sim.add_customer("old@example.com", "Old", "Buyer")
        watermark = datetime.fromtimestamp(now[0], UTC)
        now[0] += 60
        new = sim.place_order([Line("Mug", "MUG-1", 1, D("10.0000"))])
        fresh = sim.add_customer("new@example.com", "New", "Buyer")
        now[0] += 60
        sim.set_status(old, 2)
        # When the changes since the watermark are listed
        orders = list(store.list_changed("order", watermark))
        customers = list(store.list_changed("customer", watermark))
    # Then each comes once, oldest change first, the watermark itself excluded
    assert [(c.record_id, c.modified_at - watermark) for c in orders] == [
        (str(new), timedelta(seconds=60)),
        (str(old), timedelta(seconds=120)),
    ]
    assert [c.record_id for c in customers] == [str(fresh)]

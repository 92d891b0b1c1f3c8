"""The store port's history listing (``list_created``), each store against its simulator.

A backfill lists the orders created in a window, however often they were edited since.
Each store is asked over real HTTP; the window's start is included and its end is not,
to the second, and paging (Magento's keyset, three a page) loses and repeats nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx

from connector.stores.bigcommerce.client import BcCredentials, BigCommerceClient
from connector.stores.bigcommerce.store import BigCommerceStoreAdapter
from connector.stores.magento.store import MagentoShop
from connector.stores.port import HistoricOrder
from connector.stores.woocommerce_client import WooClient, WooCredentials
from connector.stores.woocommerce_store import WooStore
from simulators.bigcommerce import BigCommerceSimulator, Line
from simulators.httpserver import LoopbackServer
from simulators.magento import LineSpec as MageLine
from simulators.magento import MagentoSimulator
from simulators.magento import OrderSpec as MageOrder
from simulators.testbed.clocks import T0, Clock
from simulators.testbed.loopback import Loopback
from simulators.testbed.magento import client as magento_client
from simulators.woocommerce import LineSpec as WooLine
from simulators.woocommerce import OrderSpec as WooOrder
from simulators.woocommerce import WooSimulator

HOUR = 3600
START = datetime.fromtimestamp(T0, UTC)


def _place_hourly(clock: Clock, place: Callable[[], int], hours: int) -> list[int]:
    """One order at the top of each hour from T0, then every one edited a day later."""
    placed = []
    for hour in range(hours):
        clock.now = T0 + hour * HOUR
        placed.append(place())
    clock.now = T0 + 24 * HOUR
    return placed


def _window(found: list[HistoricOrder]) -> list[tuple[str, int]]:
    """(record id, hours after T0 it was created), in the order a backfill sorts them."""
    ordered = sorted(found, key=lambda o: (o.created_at, int(o.record_id)))
    return [(o.record_id, int((o.created_at - START).total_seconds()) // HOUR) for o in ordered]


def test_woocommerce_lists_the_orders_created_in_the_window(
    clock: Clock, loopback: Loopback
) -> None:
    # Given 30 orders an hour apart, each edited a day later
    woo = WooSimulator(consumer_key="ck_h", consumer_secret="cs_h", clock=clock, seed=2)
    url = loopback.plug(woo.handle)

    def place() -> int:
        return int(woo.create_order(WooOrder([WooLine(10, 1)], status="processing"))["id"])

    placed = _place_hourly(clock, place, 30)
    for order_id in placed:
        woo.update_order(order_id, customer_note="edited")
    client = WooClient(
        base_url=url,
        credentials=WooCredentials(consumer_key="ck_h", consumer_secret="cs_h"),
        connection_id="woo",
        backoff_s=0.01,
    )
    store = WooStore(client=client, connection_id="woo")
    # When the window from hour 5 to hour 25 is listed
    found = list(store.list_created(START + timedelta(hours=5), START + timedelta(hours=25)))
    # Then hours 5..24 come, each once: the start included, the end not
    assert _window(found) == [(str(placed[h]), h) for h in range(5, 25)]
    # And each carries the version the poll would queue (its latest edit)
    assert {o.modified_at for o in found} == {START + timedelta(hours=24)}


def test_bigcommerce_lists_the_orders_created_in_the_window() -> None:
    clock = Clock()
    sim = BigCommerceSimulator(quota=1000, clock=clock)

    def place() -> int:
        return sim.place_order([Line("Mug", "MUG-1", 1, Decimal("10.0000"))])

    placed = _place_hourly(clock, place, 12)
    sim.set_status(placed[3], 2)  # edited: still listed by creation
    with LoopbackServer(sim.handle) as server:
        client = BigCommerceClient(
            api_base=server.base_url,
            store_hash=sim.store_hash,
            credentials=BcCredentials(access_token=sim.access_token),
            http=httpx.Client(timeout=10),
            connection_id="bc",
        )
        store = BigCommerceStoreAdapter(client=client, connection_id="bc")
        found = list(store.list_created(START + timedelta(hours=2), START + timedelta(hours=9)))
    assert _window(found) == [(str(placed[h]), h) for h in range(2, 9)]
    edited = next(o for o in found if o.record_id == str(placed[3]))
    assert edited.modified_at == START + timedelta(hours=24)


def test_magento_lists_the_orders_created_in_the_window_by_keyset_pages(
    clock: Clock, store: MagentoSimulator, url: str
) -> None:
    def place() -> int:
        oid = store.create_order(MageOrder([MageLine("24-WG084")]))
        return int(oid)

    placed = _place_hourly(clock, place, 12)
    shop = MagentoShop(client=magento_client(url, page_size=3), connection_id="mage")
    found = list(shop.list_created(START + timedelta(hours=1), START + timedelta(hours=11)))
    assert _window(found) == [(str(placed[h]), h) for h in range(1, 11)]

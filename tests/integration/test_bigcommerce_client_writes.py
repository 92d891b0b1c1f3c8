"""BigCommerceClient.write against the simulated store: paced and retried like the reads, but
a POST is sent once (a retry after an unknown outcome could make the record twice)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from pydantic import SecretStr

from connector.stores.bigcommerce.client import BcCredentials, BigCommerceClient
from connector.stores.port import StoreUnavailable
from simulators.bigcommerce import BigCommerceSimulator
from simulators.httpserver import LoopbackServer


@pytest.fixture
def sim() -> BigCommerceSimulator:
    return BigCommerceSimulator(quota=1000)


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def client(sim: BigCommerceSimulator, waits: list[float]) -> Iterator[BigCommerceClient]:
    with (
        LoopbackServer(sim.handle) as server,
        BigCommerceClient(
            api_base=server.base_url,
            store_hash=sim.store_hash,
            credentials=BcCredentials(access_token=SecretStr(sim.access_token)),
            sleep=waits.append,
            connection_id="shop",
        ) as made,
    ):
        yield made


BODY = {"name": "Mug", "type": "physical", "weight": 1, "price": 12.5, "sku": "MUG-01"}


def test_a_post_that_fails_is_not_sent_again(
    sim: BigCommerceSimulator, client: BigCommerceClient, waits: list[float]
) -> None:
    sim.fail_next(503)
    with pytest.raises(StoreUnavailable, match=r"HTTP 503.*after 1 attempts"):
        client.write("POST", "/v3/catalog/products", BODY, "creating product MUG-01")
    assert sim.catalog.products == {}
    assert client.calls == 1 and waits == []


def test_a_put_is_tried_again_after_a_5xx_and_a_429_is_waited_out(
    sim: BigCommerceSimulator, client: BigCommerceClient, waits: list[float]
) -> None:
    pid = sim.catalog.add_product("Mug", "MUG-01", Decimal("12.50"))
    sim.fail_next(503, times=2)
    answer = client.write("PUT", f"/v3/catalog/products/{pid}", {"price": 13}, "updating")
    assert answer.status_code == 200 and sim.catalog.products[pid]["price"] == Decimal("13")
    assert client.calls == 3 and len(waits) == 2
    sim.fail_next(429, X_Rate_Limit_Time_Reset_Ms="1500")
    answer = client.write("POST", "/v3/catalog/products", {**BODY, "name": "Cup", "sku": "C"}, "x")
    # BigCommerce did nothing on a 429: even a POST is sent again once the window resets
    assert answer.status_code == 200 and waits[-1] == 1.5
    assert [p["sku"] for p in sim.catalog.products.values()] == ["MUG-01", "C"]

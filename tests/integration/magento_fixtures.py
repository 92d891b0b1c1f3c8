"""A simulated Magento store behind one loopback server per test module.

Load with ``pytest_plugins = ("tests.integration.magento_fixtures",)``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulators.httpserver import LoopbackServer
from simulators.magento import MagentoSimulator
from tests.integration.magento_wiring import Clock, Router, simulator


@pytest.fixture(scope="module")
def loopback() -> Iterator[tuple[LoopbackServer, Router]]:
    router = Router()
    with LoopbackServer(router) as running:
        yield running, router


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> MagentoSimulator:
    return simulator(clock)


@pytest.fixture
def url(store: MagentoSimulator, loopback: tuple[LoopbackServer, Router]) -> str:
    running, router = loopback
    router.app = store.handle
    return running.base_url

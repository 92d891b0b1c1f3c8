"""Fixtures for tests that speak HTTP to the simulated QuickBooks Online company.

Load them with ``pytest_plugins = ("tests.integration.qbo_sim_fixtures",)``. ``make_api(**options)``
plugs a fresh ``QboSimulator`` (``options`` passed to it) into the module's one loopback server
and returns an ``Api`` holding a valid access token; ``api`` is a default US company, ``uk_api``
a UK one; ``clock`` is the simulator's ``FakeClock``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from simulators.httpserver import LoopbackServer
from simulators.qbo import QboSimulator
from tests.integration.qbo_sim_http import CLIENT_ID, CLIENT_SECRET, Api, FakeClock, Switchboard


@pytest.fixture(scope="module")
def wiring() -> Iterator[tuple[Switchboard, LoopbackServer]]:
    board = Switchboard()
    with LoopbackServer(board.handle) as server:
        yield board, server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_api(
    wiring: tuple[Switchboard, LoopbackServer], clock: FakeClock
) -> Iterator[Callable[..., Api]]:
    board, server = wiring
    made: list[Api] = []

    def make(**options: Any) -> Api:
        limits = {"per_second_limit": 1000, "per_minute_limit": 100_000}
        board.sim = QboSimulator(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, clock=clock, **{**limits, **options}
        )
        made.append(Api(board.sim, server))
        return made[-1]

    yield make
    for api in made:
        api.http.close()


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()


@pytest.fixture
def uk_api(make_api: Callable[..., Api]) -> Api:
    return make_api(country="GB")

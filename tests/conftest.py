"""Fixtures every layer may ask for: thin wrappers around ``simulators.testbed``.

A test module takes what it needs by naming a fixture, never by importing another test
module (tests/unit/test_test_imports.py holds them to it). Builders and rigs themselves are
imported from ``simulators.testbed``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import PurePosixPath
from typing import Any

import pytest

from simulators.magento import MagentoSimulator
from simulators.qbo import QboSimulator
from simulators.testbed import magento
from simulators.testbed.clocks import QBO_NOW, Clock
from simulators.testbed.desktop import QbwcRigs
from simulators.testbed.desktop import qbwc_rig as start_qbwc_rig
from simulators.testbed.loopback import Loopback
from simulators.testbed.loopback import loopback as serve_loopback
from simulators.testbed.online import QboRigs
from simulators.testbed.online import qbo_rig as start_qbo_rig
from simulators.testbed.qbo_http import CLIENT_ID, CLIENT_SECRET, Api
from simulators.testbed.reference import REFERENCE


def worker_group(nodeid: str) -> str:
    """The unit of work pytest-xdist hands one worker: a test's module, or the whole infra
    layer (every synth reads build/lambda, which scripts/build_assets.py rewrites in place).

    A module's tests share one worker, so its module-scoped rigs start once and each test
    sees what the module's earlier tests left (a replay after a parked order, a company whose
    tax codes an earlier order cached).
    """
    path = PurePosixPath(nodeid.split("::", 1)[0])
    return "tests/infra" if path.parent.name == "infra" else str(path)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup`` (``make test``) schedules by ``worker_group``.

    Not by xdist_group marks: xdist passes a mark to its scheduler by appending it to the node
    id, which pytest 9.2 no longer lets a plugin change (pytest-xdist issue #1386), so marked
    tests were spread one by one over the workers. The node id itself is enough here.
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    # In collection order (tests/e2e, tests/infra, then the rest), not by test count: an e2e
    # module has few tests and takes minutes, and started last it would run alone at the end.
    config.option.loadscopereorder = False

    class ByWorkerGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return worker_group(nodeid)

    return ByWorkerGroup(config, log)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked ``reference`` reads ../shared/reference: it skips where that is absent."""
    if item.get_closest_marker("reference") is not None and not REFERENCE.is_dir():
        pytest.skip(f"reference material absent: {REFERENCE}")


# --- the local runtime against the simulators ------------------------------------------------


@pytest.fixture(scope="session")
def qbo_rig() -> QboRigs:
    """``with qbo_rig(connections, **options) as rig``: WooCommerce into QuickBooks Online
    (simulators.testbed.online.qbo_rig)."""
    return start_qbo_rig


@pytest.fixture(scope="session")
def qbwc_rig() -> QbwcRigs:
    """``with qbwc_rig(**mapping) as rig``: the ``desk`` QuickBooks Desktop connection
    (simulators.testbed.desktop.qbwc_rig)."""
    return start_qbwc_rig


# --- one simulator over loopback, fresh per test -----------------------------------------------


@pytest.fixture(scope="module")
def loopback() -> Iterator[Loopback]:
    """One server per module; each test plugs its own simulator in."""
    with serve_loopback() as running:
        yield running


@pytest.fixture
def clock() -> Clock:
    """A simulator's clock, standing at 2026-01-01 00:00 UTC until the test moves it."""
    return Clock()


@pytest.fixture
def qbo_clock() -> Clock:
    """The simulated QuickBooks Online company's clock (2026-05-28), moved by the test."""
    return Clock(QBO_NOW)


@pytest.fixture
def store(clock: Clock) -> MagentoSimulator:
    """The simulated Magento store, on ``clock``."""
    return magento.simulator(clock)


@pytest.fixture
def url(store: MagentoSimulator, loopback: Loopback) -> str:
    """Where ``store`` (the simulated Magento) answers."""
    return loopback.plug(store.handle)


@pytest.fixture
def make_api(loopback: Loopback, qbo_clock: Clock) -> Iterator[Callable[..., Api]]:
    """``make_api(**options)``: a fresh simulated QuickBooks Online company (``options`` for
    QboSimulator) on the module's server, and an ``Api`` holding a valid access token."""
    made: list[Api] = []

    def make(**options: object) -> Api:
        limits: dict[str, object] = {"per_second_limit": 1000, "per_minute_limit": 100_000}
        sim = QboSimulator(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            clock=qbo_clock,
            **{**limits, **options},  # type: ignore[arg-type]
        )
        made.append(Api(sim, loopback.plug(sim.handle)))
        return made[-1]

    yield make
    for api in made:
        api.close()


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    """A US company."""
    return make_api()


@pytest.fixture
def uk_api(make_api: Callable[..., Api]) -> Api:
    """A UK company."""
    return make_api(country="GB")

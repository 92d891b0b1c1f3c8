"""Ten functions calling one QuickBooks Online company through its limiter, on moto's server
and the simulated company on loopback: whatever the ten do at once, the company never sees more
than its limits (requests a minute, calls at once), and a throttle answer stops all of them.

Each thread is one sync function: its own QboClient and RealmLimiter (so they share only the
state table's item), and on NoCapacityYet it waits what it was told, as a record handed back
would. Time runs on a ScaledClock shared by the limiters and the simulator: minutes of
QuickBooks' limits in seconds, the limiters' sleeps shortened by the same factor.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from connector.errors import NoCapacityYet
from connector.ledgers.qbo.client import QboClient
from connector.ledgers.qbo.limiter import LimiterRules, RealmLimiter
from connector.local.aws import EmbeddedAws
from simulators.httpserver import LoopbackServer
from simulators.qbo import QboSimulator
from simulators.testbed.clocks import ScaledClock
from simulators.testbed.limiters import run_functions, served_state_table
from simulators.testbed.qbo_http import CLIENT_ID, CLIENT_SECRET

FUNCTIONS = 10
_REALMS = itertools.count(9341450000000101)  # a company (so a limiter item) per test


class _Token:
    """A valid access token; these tests never see it expire."""

    def __init__(self, token: str) -> None:
        self._token = token

    def access_token(self) -> str:
        return self._token

    def refresh_after_unauthorized(self, rejected: str) -> str:
        raise AssertionError("no 401 expected")


@pytest.fixture(scope="module")
def aws() -> Iterator[tuple[EmbeddedAws, str]]:
    with served_state_table("limits") as served:
        yield served


class Company:
    """A simulated company on loopback and the functions that call it."""

    def __init__(
        self,
        aws: tuple[EmbeddedAws, str],
        sim: QboSimulator,
        base_url: str,
        rules: LimiterRules,
        clock: Callable[[], float],
        factor: float,
    ) -> None:
        self.aws, self.table = aws
        self.sim = sim
        self.base_url = base_url
        self.rules = rules
        self.clock = clock
        self.factor = factor
        self.token = sim.issue_tokens()["access_token"]

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds / self.factor)

    def function(self, dynamodb: Any | None = None) -> QboClient:
        """One function's client and limiter (its own DynamoDB resource, as a Lambda has)."""
        limiter = RealmLimiter(
            self.table,
            self.sim.realm_id,
            rules=self.rules,
            resource=dynamodb or self.aws.resource("dynamodb"),
            clock=self.clock,
            sleep=self.sleep,
        )
        return QboClient(
            api_base=self.base_url,
            realm_id=self.sim.realm_id,
            tokens=_Token(self.token),
            limiter=limiter,
            timeout_s=10,
        )

    def run(self, until: float, call: Callable[[QboClient], Any]) -> list[int]:
        """Ten functions calling until the clock reads ``until``; the calls each one made."""
        run = run_functions(
            FUNCTIONS,
            until=until,
            clock=self.clock,
            sleep=self.sleep,
            function=self.function,
            call=call,
        )
        return run.made


@pytest.fixture
def company(aws: tuple[EmbeddedAws, str]) -> Iterator[Callable[..., Company]]:
    servers: list[LoopbackServer] = []

    def make(*, rules: LimiterRules, factor: float = 1.0, **limits: Any) -> Company:
        clock = ScaledClock(factor) if factor != 1 else time.time
        realm = str(next(_REALMS))
        sim = QboSimulator(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, realm_id=realm, clock=clock, **limits
        )
        server = sim.serve()
        server.start()
        servers.append(server)
        return Company(aws, sim, server.base_url, rules, clock, factor)

    yield make
    for server in servers:
        server.stop()


def _three_at_once(company: Callable[..., Company], *, max_wait_s: float) -> Company:
    """A company taking a generous rate, three calls at once, each a tenth of a second long."""
    rules = LimiterRules(per_minute=60_000, per_second=1000, max_in_flight=3, max_wait_s=max_wait_s)
    return company(
        rules=rules, per_minute_limit=60_000, per_second_limit=1000, max_concurrent=3, latency_s=0.1
    )


def test_ten_functions_never_exceed_the_company_s_requests_a_minute(
    company: Callable[..., Company],
) -> None:
    # Limits scaled down tenfold (50 a minute), twelve times faster than the wall clock:
    # two and a half minutes of QuickBooks' time in about thirteen seconds.
    rules = LimiterRules(per_minute=50, batches_per_minute=4, max_wait_s=15)
    rig = company(rules=rules, factor=12, per_minute_limit=50, latency_s=0.01)
    start = rig.clock()

    made = rig.run(start + 150, lambda client: client.preferences())

    assert rig.sim.throttled == 0, "no request refused"
    assert rig.sim.busiest_minute <= 50
    assert rig.sim.peak_in_flight <= 10
    # ... and the company was kept busy: at least 80 % of what two and a half minutes allow
    assert sum(made) >= 0.8 * 50 * 2.5, made
    assert sum(made) == rig.sim.reads


def test_ten_functions_never_have_more_calls_in_flight_than_the_company_takes(
    company: Callable[..., Company],
) -> None:
    # A generous rate, three calls at once, each call a tenth of a second long
    rig = _three_at_once(company, max_wait_s=2)

    made = rig.run(rig.clock() + 4, lambda client: client.preferences())

    seen = (made, rig.sim.peak_in_flight, rig.sim.throttled)
    assert rig.sim.throttled == 0, seen
    assert rig.sim.peak_in_flight <= 3, seen
    # ... and the slots were used: ten calls a second of a tenth of a second need most of them
    assert rig.sim.peak_in_flight >= 2 and sum(made) >= 40, seen


def test_a_throttle_answer_stops_every_function_of_the_company(
    company: Callable[..., Company],
) -> None:
    rules = LimiterRules(per_minute=500, throttle_pause_s=60)
    rig = company(rules=rules, factor=60)
    one, other = rig.function(), rig.function()
    one.preferences()
    rig.sim.inject(429)  # another app spent the company's quota

    with pytest.raises(NoCapacityYet) as caught:
        one.preferences()
    assert caught.value.retry_after_s == 60
    assert "throttled a request to company" in str(caught.value)
    with pytest.raises(NoCapacityYet) as other_caught:
        other.preferences()
    assert "paused after QuickBooks answered a request with a throttle fault" in str(
        other_caught.value
    )
    assert rig.sim.throttled == 1 and len(rig.sim.request_log) == 2, "the pause sent nothing"

    time.sleep(61 / 60)  # a minute of the company's time
    other.preferences()


def test_one_function_s_threads_beyond_the_company_s_slots_wait_without_polling_the_limiter(
    company: Callable[..., Company],
) -> None:
    # One batching function with thirty threads in hand, three calls at once allowed, each
    # call a tenth of a second long
    rig = _three_at_once(company, max_wait_s=30)
    dynamodb = rig.aws.resource("dynamodb")
    requests: list[str] = []  # each DynamoDB request the function sends
    dynamodb.meta.client.meta.events.register(
        "before-send.dynamodb", lambda request, **_: requests.append(request.url)
    )
    client = rig.function(dynamodb)

    with ThreadPoolExecutor(max_workers=30) as pool:
        list(pool.map(lambda _: [client.preferences() for _ in range(3)], range(30)))

    # Then every call was made within the company's limits
    assert rig.sim.reads == 90 and rig.sim.throttled == 0 and rig.sim.peak_in_flight <= 3
    # ... and the 27 threads waiting for a slot did not read the limiter meanwhile: a call
    # costs its booking and its release, and a few re-reads when another thread booked first
    assert len(requests) <= 3 * 90, len(requests)

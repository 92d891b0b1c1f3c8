"""Ten functions reading one BigCommerce store, on moto's server and the simulated store on
loopback: through the store's shared limiter they never spend more than its quota in a window
and draw no 429, where ten clients each honouring the headers alone draw 429s together; a plan
change told by the store's headers is learned by every function; a 429 for another app's
spending pauses all of them until the reset.

Each thread is one sync function: its own BigCommerceClient and StoreLimits (its own DynamoDB
resource, as a Lambda has), so they share only the state table's item; on NoCapacityYet it
waits what it was told, as a record handed back would. Time runs on a ScaledClock shared by
the limiters and the simulator: windows of 30 s in a few seconds, sleeps shortened alike.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from connector.errors import NoCapacityYet
from connector.local.aws import EmbeddedAws
from connector.stores.bigcommerce.client import BcCredentials, BigCommerceClient
from connector.stores.limiter import StoreLimits, StoreRules
from connector.stores.port import StoreUnavailable
from simulators.bigcommerce import BigCommerceSimulator
from simulators.httpserver import LoopbackServer
from simulators.testbed.clocks import ScaledClock
from simulators.testbed.limiters import run_functions, served_state_table

FUNCTIONS = 10
FACTOR = 10  # a 30 s window in 3 s
_STORES = (f"lim{n}" for n in itertools.count(1))  # a store (so a limiter item) per test


@pytest.fixture(scope="module")
def aws() -> Iterator[tuple[EmbeddedAws, str]]:
    with served_state_table("bclimits") as served:
        yield served


@dataclass
class Store:
    """A simulated store on loopback and the functions that read it."""

    aws: EmbeddedAws
    table: str
    sim: BigCommerceSimulator
    base_url: str
    clock: ScaledClock
    rules: StoreRules
    customer: int = 0
    refusals_seen: list[str] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds / FACTOR)

    def function(self, *, shared: bool = True) -> BigCommerceClient:
        """One function's client: through the store's limiter, or (``shared=False``) pacing
        itself alone on the headers, as before the limiter."""
        limiter = None
        if shared:
            limits = StoreLimits(
                self.table,
                resource=self.aws.resource("dynamodb"),
                rules=self.rules,
                clock=self.clock,
                sleep=self.sleep,
            )
            limiter = limits.for_store(f"bigcommerce#{self.sim.store_hash}")
        return BigCommerceClient(
            api_base=self.base_url,
            store_hash=self.sim.store_hash,
            credentials=BcCredentials(access_token=self.sim.access_token),
            http=httpx.Client(timeout=10),
            connection_id="bc",
            sleep=self.sleep,
            clock=self.clock,
            limiter=limiter,
        )

    def run(self, until: float, *, shared: bool = True) -> list[int]:
        """Ten functions reading the customer until the clock reads ``until``; the reads each
        one completed. A 429 storm that outlasts a client's tries is noted in refusals_seen."""
        run = run_functions(
            FUNCTIONS,
            until=until,
            clock=self.clock,
            sleep=self.sleep,
            function=lambda: self.function(shared=shared),
            call=lambda client: client.get_customer(str(self.customer)),
            close=BigCommerceClient.close,
            given_up=(StoreUnavailable,),
        )
        self.refusals_seen.extend(run.given_up)
        return run.made


@pytest.fixture
def store(aws: tuple[EmbeddedAws, str]) -> Iterator[Callable[..., Store]]:
    servers: list[LoopbackServer] = []

    def make(*, quota: int, window_ms: int = 30_000, rules: StoreRules | None = None) -> Store:
        clock = ScaledClock(FACTOR)
        sim = BigCommerceSimulator(
            store_hash=next(_STORES), quota=quota, window_ms=window_ms, clock=clock
        )
        customer = sim.add_customer("jane@example.com", "Jane", "Doe")
        server = LoopbackServer(sim.handle)
        server.start()
        servers.append(server)
        embedded, table = aws
        rules = rules or StoreRules(quota=quota, window_s=window_ms / 1000)
        return Store(embedded, table, sim, server.base_url, clock, rules, customer)

    yield make
    for server in servers:
        server.stop()


def test_ten_functions_never_spend_more_than_the_store_s_quota(
    store: Callable[..., Store],
) -> None:
    # 30 requests per 30 s window; two and a half windows in about eight seconds
    rig = store(quota=30)
    start = rig.clock()

    made = rig.run(start + 75)

    assert rig.sim.quota_refusals == 0, "no request refused"
    assert rig.sim.busiest_window <= 30
    assert not rig.refusals_seen
    # ... and the store was kept busy: at least 80 % of what 75 s at the spacing allow
    assert sum(made) >= 0.8 * 75 * 30 / 30 * 0.9, made
    assert sum(made) == len(rig.sim.requests)


def test_ten_clients_each_honouring_the_headers_alone_draw_429s_together(
    store: Callable[..., Store],
) -> None:
    rig = store(quota=30)

    rig.run(rig.clock() + 45, shared=False)

    # each waits only once its own answer says none are left: the others' requests meet 429
    assert rig.sim.quota_refusals >= FUNCTIONS - 1, rig.sim.quota_refusals


def test_a_plan_change_told_by_the_store_is_learned_by_every_function(
    store: Callable[..., Store],
) -> None:
    # The configured default and the store agree at first: 30 per window
    rig = store(quota=30)
    start = rig.clock()
    rig.run(start + 30)
    assert rig.sim.busiest_window <= 30

    # The merchant moves to a plan three times larger
    rig.sim.change_plan(90)
    rig.run(start + 100)

    assert rig.sim.quota_refusals == 0
    # a later window took more than the old quota: every function learned the new one
    assert rig.sim.busiest_window > 45, rig.sim.busiest_window
    item = (
        rig.aws.resource("dynamodb")
        .Table(rig.table)
        .get_item(Key={"pk": f"limiter#bigcommerce#{rig.sim.store_hash}", "sk": "LIMITER"})["Item"]
    )
    assert (item["quota"], item["window_ms"]) == (90, 30_000)


def test_a_smaller_plan_is_learned_and_kept_from_the_next_window(
    store: Callable[..., Store],
) -> None:
    # The store was on a plan of 90 per window, and the functions knew it
    rig = store(quota=90)
    start = rig.clock()
    rig.run(start + 30)

    # The merchant moves down to 30 per window: the store says so on its next answer
    rig.sim.change_plan(30)
    changed_in = len(rig.sim.windows)
    rig.run(start + 120)

    # at most the requests already on their way met the smaller quota; every window from the
    # next one held at most the new quota
    assert rig.sim.quota_refusals <= FUNCTIONS, rig.sim.quota_refusals
    after = rig.sim.windows[changed_in + 1 :]
    assert after and max(after) <= 30, rig.sim.windows
    assert rig.function().get_customer(str(rig.customer))["id"] == rig.customer


def test_a_429_for_another_app_s_spending_pauses_every_function_until_the_reset(
    store: Callable[..., Store],
) -> None:
    rig = store(quota=150)
    one, other = rig.function(), rig.function()
    one.get_customer(str(rig.customer))
    # another app on the store spent the quota: 20 s to the window's reset
    rig.sim.fail_next(429, X_Rate_Limit_Time_Reset_Ms="20000", X_Rate_Limit_Requests_Left="0")

    with pytest.raises(NoCapacityYet) as caught:
        one.get_customer(str(rig.customer))
    assert caught.value.retry_after_s == 20
    with pytest.raises(NoCapacityYet) as other_caught:
        other.get_customer(str(rig.customer))
    assert "quota is spent until the store's reset" in str(other_caught.value)
    assert len(rig.sim.requests) == 2, "the pause sent nothing"

    rig.sleep(20)
    assert other.get_customer(str(rig.customer))["email"] == "jane@example.com"


def test_a_short_reset_is_slept_and_the_call_goes_on(store: Callable[..., Store]) -> None:
    rig = store(quota=150)
    client = rig.function()
    rig.sim.fail_next(429, X_Rate_Limit_Time_Reset_Ms="1500", X_Rate_Limit_Requests_Left="0")

    assert client.get_customer(str(rig.customer))["email"] == "jane@example.com"
    assert len(rig.sim.requests) == 2, "refused once, then answered"
    assert client.waited_s == pytest.approx(1.5, abs=0.2)

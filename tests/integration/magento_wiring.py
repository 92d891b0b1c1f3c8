"""The simulated Magento's credentials and clock, and a client signed with them (fixtures:
magento_fixtures)."""

from __future__ import annotations

from collections.abc import Callable

from connector.stores.magento.client import MagentoClient
from connector.stores.magento.oauth import OAuthCredentials
from simulators.httpserver import Request, Response
from simulators.magento import MagentoSimulator

CREDENTIALS = {
    "consumer_key": "mg-consumer-4f1e0b9d2c8a",
    "consumer_secret": "mg-consumer-secret-9a8b7c6d5e4f",
    "access_token": "mg-token-3b2a1908f7e6",
    "access_token_secret": "mg-token-secret-d5c4b3a2e1f0",
}
T0 = 1_767_225_600  # 2026-01-01 00:00:00 UTC


class Clock:
    """The store's clock; tests move it on by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Router:
    """Lets one loopback server front a fresh store per test (server start/stop is slow)."""

    def __init__(self) -> None:
        self.app: Callable[[Request], Response] | None = None

    def __call__(self, request: Request) -> Response:
        assert self.app is not None
        return self.app(request)


def simulator(clock: Callable[[], float]) -> MagentoSimulator:
    return MagentoSimulator(clock=clock, **CREDENTIALS)


def credentials(**changes: str) -> OAuthCredentials:
    return OAuthCredentials.model_validate({**CREDENTIALS, **changes})


def client(
    url: str, *, page_size: int = 100, max_retries: int = 2, **changes: str
) -> MagentoClient:
    return MagentoClient(
        base_url=url,
        credentials=credentials(**changes),
        connection_id="mage",
        backoff_s=0.01,
        max_retries=max_retries,
        page_size=page_size,
        timeout_s=5.0,
    )

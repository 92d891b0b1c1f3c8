"""The simulated Magento's integration credentials, and a client signed with them."""

from __future__ import annotations

from collections.abc import Callable

from connector.stores.magento.client import MagentoClient
from connector.stores.magento.oauth import OAuthCredentials
from simulators.magento import MagentoSimulator

CREDENTIALS = {
    "consumer_key": "mg-consumer-4f1e0b9d2c8a",
    "consumer_secret": "mg-consumer-secret-9a8b7c6d5e4f",
    "access_token": "mg-token-3b2a1908f7e6",
    "access_token_secret": "mg-token-secret-d5c4b3a2e1f0",
}


def simulator(clock: Callable[[], float]) -> MagentoSimulator:
    """A store whose integration has ``CREDENTIALS``, on ``clock``."""
    return MagentoSimulator(
        clock=clock,
        consumer_key=CREDENTIALS["consumer_key"],
        consumer_secret=CREDENTIALS["consumer_secret"],
        access_token=CREDENTIALS["access_token"],
        access_token_secret=CREDENTIALS["access_token_secret"],
    )


def credentials(**changes: str) -> OAuthCredentials:
    """The integration's four values, ``changes`` replacing some (a wrong secret, say)."""
    return OAuthCredentials.model_validate({**CREDENTIALS, **changes})


def client(
    url: str, *, page_size: int = 100, max_retries: int = 2, **changes: str
) -> MagentoClient:
    """The adapter's client for connection ``mage`` at ``url``, retrying quickly."""
    return MagentoClient(
        base_url=url,
        credentials=credentials(**changes),
        connection_id="mage",
        backoff_s=0.01,
        max_retries=max_retries,
        page_size=page_size,
        timeout_s=5.0,
    )

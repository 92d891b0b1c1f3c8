"""Connecting QuickBooks Online: a signed connect link -> simulated Intuit -> /oauth/qbo/callback.

What the merchant's browser sees (redirects and pages), and what lands in
Secrets Manager, for the happy path and for every way the callback can be wrong.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from connector.ledger_webhooks import LedgerRealms
from simulators.qbo import SCOPE_ACCOUNTING
from simulators.testbed.online import QBO_APP, QboRig, QboRigs, connection_settings

SHOP, OTHER = "shop", "other"
NO_APP = "no-app"  # deployed before anyone stored the QuickBooks app's credentials
WRONG_APP = "wrong-app"  # the app's client secret was mistyped


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    return [
        connection_settings(SHOP, woo_url=woo_url, qbo_url=qbo_url),
        connection_settings(OTHER, woo_url=woo_url, qbo_url=qbo_url),
        connection_settings(NO_APP, woo_url=woo_url, qbo_url=qbo_url),
        connection_settings(WRONG_APP, woo_url=woo_url, qbo_url=qbo_url),
    ]


@pytest.fixture(scope="module")
def rig(qbo_rig: QboRigs) -> Iterator[QboRig]:
    wrong = {"client_id": QBO_APP["client_id"], "client_secret": "mistyped"}
    with qbo_rig(
        _connections, connect=(), ledger_secrets={NO_APP: None, WRONG_APP: wrong}
    ) as running:
        yield running


def _start(rig: QboRig, connection_id: str) -> httpx.Response:
    """The merchant opens a fresh link from `connector connect-url`."""
    return httpx.get(rig.connect_link(connection_id), timeout=10)


def _intuit_approves(rig: QboRig, authorize_url: str) -> str:
    """The merchant signs in at (simulated) Intuit and approves; returns the callback URL."""
    answer = httpx.get(authorize_url, timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_connect_redirects_to_intuit_with_state_client_redirect_and_scope(rig: QboRig) -> None:
    answer = _start(rig, SHOP)

    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(f"{rig.qbo_url}/connect/oauth2?")
    query = _query(location)
    assert query["client_id"] == QBO_APP["client_id"]
    assert query["redirect_uri"] == f"{rig.runtime.base_url}/oauth/qbo/callback"
    assert query["response_type"] == "code"
    assert SCOPE_ACCOUNTING in query["scope"].split()
    assert len(query["state"]) >= 32
    assert _query(_start(rig, SHOP).headers["location"])["state"] != query["state"]


def test_following_the_flow_connects_and_stores_realm_and_tokens(rig: QboRig) -> None:
    page = httpx.get(rig.connect_link(SHOP), follow_redirects=True, timeout=30)

    assert page.status_code == 200
    assert "QuickBooks is connected" in page.text and rig.qbo.realm_id in page.text
    secret = rig.ledger_secret(SHOP)
    assert secret.realm_id == rig.qbo.realm_id
    assert secret.access_token and secret.refresh_token
    assert secret.client_id == QBO_APP["client_id"]
    assert secret.access_expires_at and secret.refresh_hard_expires_at
    hard = datetime.fromisoformat(secret.refresh_hard_expires_at)
    assert hard - datetime.now(UTC) > timedelta(days=4 * 365)
    assert rig.state.connection_status(SHOP) == ("connected", f"company {rig.qbo.realm_id}")
    assert rig.events(SHOP, "qbo", "connection")[-1] == "connected"
    # Where ingest checks QuickBooks webhooks' company (connector.ledger_webhooks).
    realms = LedgerRealms(
        rig.runtime.env["CONNECTOR_STATE_TABLE"], resource=rig.runtime.boto3_resource("dynamodb")
    )
    assert realms.realm(SHOP) == rig.qbo.realm_id and realms.realm(OTHER) is None
    # Only this connection got the company's tokens.
    assert rig.ledger_secret(OTHER).refresh_token is None


def test_a_reused_callback_url_is_refused(rig: QboRig) -> None:
    callback = _intuit_approves(rig, _start(rig, OTHER).headers["location"])
    first = httpx.get(callback, timeout=30)
    assert first.status_code == 200 and "is connected" in first.text
    stored = rig.ledger_secret(OTHER).refresh_token

    again = httpx.get(callback, timeout=30)

    assert again.status_code == 400
    assert "expired or was already used" in again.text
    assert rig.ledger_secret(OTHER).refresh_token == stored


def test_an_unknown_connection_is_404(rig: QboRig) -> None:
    answer = _start(rig, "no-such-shop")
    assert answer.status_code == 404
    assert "no-such-shop" in answer.text


def test_a_refusal_at_intuit_shows_a_400_page(rig: QboRig) -> None:
    state = _query(_start(rig, SHOP).headers["location"])["state"]
    answer = httpx.get(
        f"{rig.runtime.base_url}/oauth/qbo/callback",
        params={"error": "access_denied", "state": state},
        timeout=10,
    )
    assert answer.status_code == 400
    assert "was not connected" in answer.text and "access_denied" in answer.text


def test_a_callback_after_ten_minutes_is_refused(rig: QboRig) -> None:
    callback = _intuit_approves(rig, _start(rig, OTHER).headers["location"])
    state = _query(callback)["state"]
    # Eleven minutes pass between the click and the approval.
    table = rig.runtime.boto3_resource("dynamodb").Table(rig.runtime.env["CONNECTOR_STATE_TABLE"])
    table.update_item(
        Key={"pk": f"oauth#{state}", "sk": "STATE"},
        UpdateExpression="SET expires_at = :t",
        ExpressionAttributeValues={":t": int(time.time()) - 60},
    )
    stored = rig.ledger_secret(OTHER).refresh_token

    answer = httpx.get(callback, timeout=30)

    assert answer.status_code == 400
    assert "expired" in answer.text
    assert rig.ledger_secret(OTHER).refresh_token == stored


def test_a_forged_state_is_refused(rig: QboRig) -> None:
    answer = httpx.get(
        f"{rig.runtime.base_url}/oauth/qbo/callback",
        params={"code": "AB11code-forged", "state": "made-up", "realmId": "123"},
        timeout=10,
    )
    assert answer.status_code == 400
    assert "expired or was already used" in answer.text


def test_connecting_without_the_apps_credentials_says_which_secret_is_missing(
    rig: QboRig,
) -> None:
    answer = _start(rig, NO_APP)

    # 409 (not ready), not 5xx: an anonymous visit must not page on-call.
    assert answer.status_code == 409
    assert "QuickBooks cannot be connected yet" in answer.text
    assert f"ml-connector/{rig.runtime.tenant}/{NO_APP}/ledger" in answer.text


def test_a_wrong_client_secret_shows_intuits_refusal(rig: QboRig) -> None:
    page = httpx.get(rig.connect_link(WRONG_APP), follow_redirects=True, timeout=30)

    assert page.status_code == 502
    assert "was not connected" in page.text and "invalid_client" in page.text
    assert "mistyped" not in page.text
    assert rig.ledger_secret(WRONG_APP).refresh_token is None

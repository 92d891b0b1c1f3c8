"""The token lease fences: ten refreshers behind a slow Intuit refresh once, a refresh slower
than the lease keeps it (renewed), a holder whose lease lapsed saves nothing, and the OAuth
callback saves under the same lease, so a refresh in flight cannot overwrite a reconnect.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from connector.ledgers.qbo import tokens as tokens_module
from connector.ledgers.qbo.token_lease import LeaseLost
from connector.ledgers.qbo.tokens import QboTokens
from simulators.httpserver import Request, Response
from simulators.testbed.online import TOKEN_PATH, QboRig, QboRigs, connection_settings

SHOP = "shop"


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    return [connection_settings(SHOP, woo_url=woo_url, qbo_url=qbo_url)]


@pytest.fixture(scope="module")
def rig(qbo_rig: QboRigs) -> Iterator[QboRig]:
    with qbo_rig(_connections, connect=(SHOP,)) as running:
        yield running


@pytest.fixture(autouse=True)
def _reset(rig: QboRig) -> Iterator[None]:
    yield
    rig.qbo_hook = None
    rig.qbo.token_delay_s = 0.0


def _expire_stored_access_token(rig: QboRig) -> None:
    secret = rig.ledger_secret(SHOP)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    rig.vault.save_ledger(SHOP, secret.model_copy(update={"access_expires_at": past}))


def _tokens(rig: QboRig) -> QboTokens:
    return QboTokens(
        connection=rig.connection(SHOP), vault=rig.vault, state=rig.state, audit=rig.trail
    )


def _refresh_together(rig: QboRig, count: int) -> tuple[list[str], list[BaseException]]:
    start = threading.Barrier(count)
    results: list[str] = []
    errors: list[BaseException] = []

    def refresher() -> None:
        tokens = _tokens(rig)
        start.wait()
        try:
            results.append(tokens.access_token())
        except BaseException as exc:  # reported by the test, with the others' outcomes
            errors.append(exc)

    threads = [threading.Thread(target=refresher) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results, errors


def _token_answers(rig: QboRig, mark: int) -> list[int]:
    return [r.status for r in rig.requests_since(mark) if r.path == TOKEN_PATH]


def _works_at_quickbooks(rig: QboRig, access_token: str) -> bool:
    answer = httpx.get(
        f"{rig.qbo_url}/v3/company/{rig.qbo.realm_id}/preferences",
        headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        timeout=10,
    )
    return answer.status_code == 200


def _assert_one_refresh(
    rig: QboRig, mark: int, results: list[str], errors: list[BaseException]
) -> None:
    assert errors == []
    assert _token_answers(rig, mark) == [200], "one refresh at Intuit, no invalid_grant"
    assert len(results) == 10 and len(set(results)) == 1
    assert _works_at_quickbooks(rig, results[0])
    stored = rig.ledger_secret(SHOP).access_token
    assert stored is not None and stored.get_secret_value() == results[0]
    refreshed = [
        e for e in rig.trail.events(f"{SHOP}#connection#qbo") if e.event == "token_refreshed"
    ]
    assert len(refreshed) >= 1


def test_ten_refreshers_behind_a_slow_token_service_refresh_once(rig: QboRig) -> None:
    _expire_stored_access_token(rig)
    rig.qbo.token_delay_s = 3.0
    mark = len(rig.qbo.request_log)

    results, errors = _refresh_together(rig, 10)

    _assert_one_refresh(rig, mark, results, errors)


def test_a_refresh_slower_than_the_lease_keeps_the_lease(
    rig: QboRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Intuit answers after 6 s, the lease lasts 4 s: renewed, it still lets one refresh."""
    monkeypatch.setattr(tokens_module, "LOCK_LEASE_S", 4)
    _expire_stored_access_token(rig)
    rig.qbo.token_delay_s = 6.0
    mark = len(rig.qbo.request_log)

    results, errors = _refresh_together(rig, 10)

    _assert_one_refresh(rig, mark, results, errors)


def test_each_taking_of_a_lease_gets_a_higher_fence_and_a_lapsed_holder_cannot_renew(
    rig: QboRig,
) -> None:
    name = "fence-test"
    first = rig.state.take_lease(name, "first", 1)
    assert first is not None
    assert rig.state.take_lease(name, "second", 1) is None, "held"
    time.sleep(2.1)  # the first holder stalls past its lease
    second = rig.state.take_lease(name, "second", 30)
    assert second == first + 1
    assert rig.state.lease_left(name, "first", first) == 0.0
    assert not rig.state.renew_lease(name, "first", first, 30)
    rig.state.end_lease(name, "first", first)  # a lapsed holder's release changes nothing
    assert rig.state.lease_left(name, "second", second) > 20
    rig.state.end_lease(name, "second", second)
    third = rig.state.take_lease(name, "third", 30)
    assert third == second + 1, "the fence never goes back, even after a release"


def test_a_refresher_whose_lease_was_taken_saves_nothing(rig: QboRig) -> None:
    _expire_stored_access_token(rig)
    before = rig.ledger_secret(SHOP)
    name = f"qbo-refresh#{SHOP}"
    taken: list[int] = []

    def stall_past_the_lease(request: Request) -> Response | None:
        if request.path == TOKEN_PATH and not taken:
            # As DynamoDB sees a holder that stalled past its lease: it lapsed, another took it.
            rig.state._table.update_item(
                Key={"pk": f"lock#{name}", "sk": "LOCK"},
                UpdateExpression="SET expires_at = :gone",
                ExpressionAttributeValues={":gone": 0},
            )
            fence = rig.state.take_lease(name, "another", 30)
            assert fence is not None
            taken.append(fence)
        return None

    rig.qbo_hook = stall_past_the_lease

    with pytest.raises(LeaseLost, match="were not saved"):
        _tokens(rig).access_token()

    assert taken, "the other caller took the lease"
    assert rig.ledger_secret(SHOP) == before, "nothing saved by a holder that lost the lease"
    assert rig.state.lease_left(name, "another", taken[0]) > 20, "the new holder keeps it"
    rig.state.end_lease(name, "another", taken[0])


def test_the_oauth_callback_waits_for_a_refresh_in_flight_and_its_tokens_win(rig: QboRig) -> None:
    _expire_stored_access_token(rig)

    def slow_refresh(request: Request) -> Response | None:
        form = parse_qs(request.body.decode())
        if request.path == TOKEN_PATH and form.get("grant_type") == ["refresh_token"]:
            time.sleep(3.0)
        return None

    rig.qbo_hook = slow_refresh
    refreshed: list[str] = []
    refresher = threading.Thread(target=lambda: refreshed.append(_tokens(rig).access_token()))
    refresher.start()
    time.sleep(0.5)  # the refresh holds the lease and waits for Intuit

    rig.connect(SHOP)  # the merchant reconnects meanwhile
    refresher.join(timeout=60)

    assert refreshed, "the refresh finished"
    stored = rig.ledger_secret(SHOP).access_token
    assert stored is not None and stored.get_secret_value() != refreshed[0], (
        "the reconnect's tokens are kept, not overwritten by the refresh it waited for"
    )
    assert _works_at_quickbooks(rig, stored.get_secret_value())
    events = [e.event for e in rig.trail.events(f"{SHOP}#connection#qbo")]
    assert events[-2:] == ["token_refreshed", "connected"]

"""QuickBooks Online tokens: refreshed before they expire and after a 401, once per realm, saved
rotated; a refused refresh token marks the connection for reconnecting, a lost race does not;
the schedule keeps quiet connections alive and reports unconnected ones.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from connector.ledgers.qbo.tokens import QboTokens
from connector.secrets import LedgerSecrets
from simulators.httpserver import Request, Response
from simulators.testbed.online import TOKEN_PATH, QboRig, QboRigs, connection_settings
from simulators.woocommerce import LineSpec, OrderSpec

SHOP, QUIET, NEVER, BARE = "shop", "quiet", "never", "bare"
CONNECTION_KEY = "{}#connection#qbo"


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    lenient = {"fallback_item": "Sales", "doc_number": "{prefix}{number}"}
    return [
        connection_settings(
            SHOP, woo_url=woo_url, qbo_url=qbo_url, mapping={**lenient, "doc_prefix": "S-"}
        ),
        connection_settings(
            QUIET, woo_url=woo_url, qbo_url=qbo_url, mapping={**lenient, "doc_prefix": "Q-"}
        ),
        # Deployed, app credentials stored, never connected.
        connection_settings(NEVER, woo_url=woo_url, qbo_url=qbo_url),
        # Deployed before anyone put the app credentials into Secrets Manager.
        connection_settings(BARE, woo_url=woo_url, qbo_url=qbo_url),
    ]


@pytest.fixture(scope="module")
def rig(qbo_rig: QboRigs) -> Iterator[QboRig]:
    with qbo_rig(_connections, connect=(SHOP, QUIET), ledger_secrets={BARE: None}) as running:
        yield running


@pytest.fixture(autouse=True)
def _clean_hook(rig: QboRig) -> Iterator[None]:
    yield
    rig.qbo_hook = None


def _expire_stored_access_token(rig: QboRig, connection_id: str) -> LedgerSecrets:
    """As if the hour had passed: the stored expiry is behind us."""
    secret = rig.ledger_secret(connection_id)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    rig.vault.save_ledger(connection_id, secret.model_copy(update={"access_expires_at": past}))
    return secret


def _token_requests(rig: QboRig, mark: int) -> list[int]:
    return [r.status for r in rig.requests_since(mark) if r.path == TOKEN_PATH]


def _works_at_quickbooks(rig: QboRig, access_token: str) -> bool:
    answer = httpx.get(
        f"{rig.qbo_url}/v3/company/{rig.qbo.realm_id}/preferences",
        headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        timeout=10,
    )
    return answer.status_code == 200


def _tokens(rig: QboRig, connection_id: str) -> QboTokens:
    return QboTokens(
        connection=rig.connection(connection_id), vault=rig.vault, state=rig.state, audit=rig.trail
    )


def _post_an_order(rig: QboRig) -> dict[str, Any]:
    order = rig.woo.create_order(OrderSpec(lines=[LineSpec(10, 1)], customer_id=2))
    rig.sync(SHOP, "order.created", order["id"])
    return order


def test_an_expiring_access_token_is_refreshed_before_the_call(rig: QboRig) -> None:
    before = _expire_stored_access_token(rig, SHOP)
    mark = len(rig.qbo.request_log)

    order = _post_an_order(rig)

    assert len(rig.documents("Invoice", order["id"])) == 1
    statuses = [r.status for r in rig.requests_since(mark)]
    assert 401 not in statuses, "no call may carry an expired token"
    assert _token_requests(rig, mark) == [200]
    after = rig.ledger_secret(SHOP)
    assert after.refresh_token != before.refresh_token, "the rotated refresh token is saved"
    assert after.access_token != before.access_token
    assert datetime.fromisoformat(after.access_expires_at or "") > datetime.now(UTC)
    refreshed = rig.trail.events(CONNECTION_KEY.format(SHOP))[-1]
    assert refreshed.event == "token_refreshed" and refreshed.outcome == "access token expires"


def test_a_401_refreshes_and_retries_the_call_once(rig: QboRig) -> None:
    before = rig.ledger_secret(SHOP)
    rig.qbo.expire_access_tokens()  # QuickBooks says expired although our clock disagrees
    mark = len(rig.qbo.request_log)

    order = _post_an_order(rig)

    assert len(rig.documents("Invoice", order["id"])) == 1
    requests = [(r.method, r.path.rsplit("/", 1)[-1], r.status) for r in rig.requests_since(mark)]
    first_401 = next(i for i, r in enumerate(requests) if r[2] == 401)
    rejected = requests[first_401]
    assert requests[first_401 + 1] == ("POST", "bearer", 200)
    assert requests[first_401 + 2][:2] == rejected[:2] and requests[first_401 + 2][2] == 200
    assert [r[2] for r in requests].count(401) == 1
    assert rig.ledger_secret(SHOP).refresh_token != before.refresh_token
    refreshed = rig.trail.events(CONNECTION_KEY.format(SHOP))[-1]
    assert refreshed.outcome == "QuickBooks answered 401"


def test_two_concurrent_refreshers_refresh_once_and_both_get_a_valid_token(rig: QboRig) -> None:
    _expire_stored_access_token(rig, SHOP)
    mark = len(rig.qbo.request_log)
    start = threading.Barrier(2)
    results: list[str] = []
    errors: list[BaseException] = []

    def refresher() -> None:
        tokens = _tokens(rig, SHOP)
        start.wait()
        try:
            results.append(tokens.access_token())
        except BaseException as exc:  # reported below, with the other thread's outcome
            errors.append(exc)

    threads = [threading.Thread(target=refresher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert _token_requests(rig, mark) == [200], "one refresh at Intuit, not two"
    assert len(results) == 2 and results[0] == results[1]
    assert _works_at_quickbooks(rig, results[0])
    assert rig.ledger_secret(SHOP).access_token is not None
    assert rig.ledger_secret(SHOP).access_token.get_secret_value() == results[0]  # type: ignore[union-attr]


def test_a_token_rotated_by_a_racing_writer_is_not_a_reason_to_reconnect(rig: QboRig) -> None:
    """Our refresh token dies while another writer stores a new one: use theirs."""
    _expire_stored_access_token(rig, SHOP)
    rig.qbo.revoke_connection()  # the stored grant is dead at Intuit
    raced: list[str] = []

    def reconnect_lands_meanwhile(request: Request) -> Response | None:
        form = parse_qs(request.body.decode())
        if request.path == TOKEN_PATH and form.get("grant_type") == ["refresh_token"] and not raced:
            fresh = rig.qbo.issue_tokens()
            secret = rig.ledger_secret(SHOP)
            rig.vault.save_ledger(
                SHOP,
                secret.model_copy(
                    update={
                        "refresh_token": fresh["refresh_token"],
                        "access_token": fresh["access_token"],
                    }
                ),
            )
            raced.append(fresh["refresh_token"])
        return None  # Intuit answers the (now stale) request itself: invalid_grant

    rig.qbo_hook = reconnect_lands_meanwhile
    mark = len(rig.qbo.request_log)

    token = _tokens(rig, SHOP).access_token()

    assert raced, "the racing writer ran"
    assert _token_requests(rig, mark) == [400, 200]
    assert _works_at_quickbooks(rig, token)
    assert rig.state.connection_status(SHOP) == ("connected", f"company {rig.qbo.realm_id}")
    assert "needs_reconnect" not in [e.event for e in rig.trail.events(CONNECTION_KEY.format(SHOP))]
    stored = rig.ledger_secret(SHOP).refresh_token
    assert stored is not None and stored.get_secret_value() != raced[0], "rotated again and saved"
    rig.connect(QUIET)  # the revocation took the other connection's grant too


def test_the_schedule_refreshes_quiet_connections_and_reports_unconnected_ones(
    rig: QboRig,
) -> None:
    before = _expire_stored_access_token(rig, QUIET)  # no order for an hour

    report = rig.runtime.fire_schedule("qbo_token")

    assert sorted(report["refreshed"]) == [QUIET, SHOP]
    assert sorted(report["not_connected"]) == [BARE, NEVER]
    assert report["failed"] == {}
    after = rig.ledger_secret(QUIET)
    assert after.refresh_token != before.refresh_token
    assert after.access_token is not None and _works_at_quickbooks(
        rig, after.access_token.get_secret_value()
    )
    refreshed = rig.trail.events(CONNECTION_KEY.format(QUIET))[-1]
    assert refreshed.event == "token_refreshed" and refreshed.outcome == "scheduled keep-alive"


def _intuit_down(times: int) -> tuple[list[int], Any]:
    answered: list[int] = []

    def hook(request: Request) -> Response | None:
        if request.path == TOKEN_PATH and len(answered) < times:
            answered.append(503)
            return Response.of_text("Service Unavailable", 503)
        return None

    return answered, hook


def test_the_schedule_reports_an_intuit_outage_and_goes_on(rig: QboRig) -> None:
    before = _expire_stored_access_token(rig, QUIET)
    answered, rig.qbo_hook = _intuit_down(times=1)

    report = rig.runtime.fire_schedule("qbo_token")

    assert answered == [503]
    assert list(report["failed"]) == [QUIET] and "503" in report["failed"][QUIET]
    assert SHOP in report["refreshed"]
    assert rig.ledger_secret(QUIET).refresh_token == before.refresh_token, "nothing lost"
    assert rig.state.connection_status(QUIET) == ("connected", f"company {rig.qbo.realm_id}")


def test_an_order_waits_out_an_intuit_outage_and_posts(rig: QboRig) -> None:
    _expire_stored_access_token(rig, SHOP)
    answered, rig.qbo_hook = _intuit_down(times=2)

    order = _post_an_order(rig)

    assert answered == [503, 503]
    assert len(rig.documents("Invoice", order["id"])) == 1
    events = rig.events(SHOP, order["id"])
    assert events.count("failed") == 2 and events[-1] == "posted" and "parked" not in events


def test_a_refused_refresh_token_parks_the_order_and_asks_for_a_reconnect(rig: QboRig) -> None:
    rig.qbo.revoke_connection()  # the merchant disconnected the app in QuickBooks
    order = rig.woo.create_order(OrderSpec(lines=[LineSpec(10, 2)], customer_id=2))
    rig.sync(SHOP, "order.created", order["id"])

    status, message = rig.state.connection_status(SHOP) or ("", "")
    assert status == "needs_reconnect" and "reconnect" in message
    flagged = rig.trail.events(CONNECTION_KEY.format(SHOP))[-1]
    assert flagged.event == "needs_reconnect" and "invalid_grant" in flagged.detail["error"]
    state = rig.sync_state(SHOP, order["id"])
    assert state.status == "parked" and state.last_error
    assert (
        "connector connect-url --connection shop" in state.last_error
        and "replay" in state.last_error
    )
    (parked,) = rig.parked(SHOP, order["id"])
    assert "reconnect" in parked["reason"]
    assert rig.documents("Invoice", order["id"]) == []

    rig.connect(SHOP)  # the merchant follows the advice
    assert rig.state.connection_status(SHOP) == ("connected", f"company {rig.qbo.realm_id}")


def test_an_order_for_a_connection_without_a_quickbooks_secret_is_parked_saying_so(
    rig: QboRig,
) -> None:
    order = rig.woo.create_order(OrderSpec(lines=[LineSpec(10, 1)], customer_id=2))
    rig.sync(BARE, "order.created", order["id"])

    state = rig.sync_state(BARE, order["id"])
    assert state.status == "parked" and state.last_error
    assert "no QuickBooks secret" in state.last_error and "connect" in state.last_error
    (parked,) = rig.parked(BARE, order["id"])
    assert parked["reason"] == state.last_error

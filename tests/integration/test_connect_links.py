"""Only the merchant connects (issue #11 part 1): signed, single-use connect links, and a
callback that keeps the connection's QuickBooks company unless the link allows a change.

Against the oauth handler in the local runtime (moto server) and the simulated Intuit: what
the browser is answered (status, page, whether it is sent on to Intuit), what lands in
Secrets Manager, the audit trail, and which ids the connection uses afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from simulators.testbed.online import TENANT, QboRig, QboRigs, connection_settings
from simulators.woocommerce import LineSpec, OrderSpec

SHOP = "shop"  # holds the simulated company; someone tries to point it elsewhere
MOVER = "mover"  # moved to another company and back, on purpose
NO_APP = "no-app"  # the Intuit app's credentials are not in Secrets Manager yet
OTHER_REALM = "6666666666"
MUG, JANE = 10, 2  # a product and a registered customer of the simulated store


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    lenient = {"fallback_item": "Sales", "shipping_item": "Shipping"}
    return [
        connection_settings(SHOP, woo_url=woo_url, qbo_url=qbo_url, mapping=lenient),
        connection_settings(MOVER, woo_url=woo_url, qbo_url=qbo_url, mapping=lenient),
        connection_settings(NO_APP, woo_url=woo_url, qbo_url=qbo_url, mapping=lenient),
    ]


@pytest.fixture(scope="module")
def rig(qbo_rig: QboRigs) -> Iterator[QboRig]:
    # SHOP and MOVER connected with a link each, as the merchant would
    with qbo_rig(_connections, connect=(SHOP, MOVER), ledger_secrets={NO_APP: None}) as running:
        yield running


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _with_query(url: str, **changes: str | None) -> str:
    """The link with some query parameters replaced (None: removed)."""
    parts = urlsplit(url)
    query = _query(url)
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


def _assert_refused(answer: httpx.Response, status: int, why: str, connection_id: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert "location" not in answer.headers  # never sent on to Intuit
    assert "This connect link does not work" in answer.text and why in answer.text
    hint = f"connector connect-url --tenant {TENANT} --connection {connection_id}"
    assert hint in answer.text


def _callback_from(rig: QboRig, link: str, *, realm_id: str | None = None) -> str:
    """Open ``link``, approve at the simulated Intuit; the callback URL it sends back, with
    ``realm_id`` as the company the merchant picked there (default: the simulated one)."""
    to_intuit = httpx.get(link, timeout=30)
    assert to_intuit.status_code == 302, to_intuit.text
    callback = httpx.get(to_intuit.headers["location"], timeout=30).headers["location"]
    return _with_query(callback, realmId=realm_id) if realm_id else callback


def test_an_unsigned_visit_is_refused_with_how_to_get_a_link(rig: QboRig) -> None:
    answer = httpx.get(f"{rig.runtime.base_url}/oauth/qbo/connect/{SHOP}", timeout=30)

    _assert_refused(answer, 403, "needs a connect link", SHOP)


def test_an_unsigned_visit_learns_no_secret_name(rig: QboRig) -> None:
    unsigned = httpx.get(f"{rig.runtime.base_url}/oauth/qbo/connect/{NO_APP}", timeout=30)

    _assert_refused(unsigned, 403, "needs a connect link", NO_APP)
    assert "secret" not in unsigned.text.lower()
    # The link's holder is told what is missing, and the link stays unspent for later.
    link = rig.connect_link(NO_APP)
    for _ in range(2):
        signed = httpx.get(link, timeout=30)
        assert signed.status_code == 409 and f"{NO_APP}/ledger" in signed.text


_NONCE, _SIG = "n" * 32, "s" * 43


@pytest.mark.parametrize(
    "query",
    [
        f"expires={'9' * 5000}&nonce={_NONCE}&sig={_SIG}",
        f"expires=soon&nonce={_NONCE}&sig={_SIG}",
        f"expires=1&nonce={_NONCE}&sig={'%FF%FE' * 8}",
        f"expires=1&nonce=%3Cscript%3Ealert(1)%3C/script%3E&sig={_SIG}",
        f"expires=1&nonce={'n' * 5000}&sig={_SIG}",
    ],
    ids=["huge-expiry", "text-expiry", "non-utf-8-sig", "markup-nonce", "huge-nonce"],
)
def test_junk_in_a_link_is_a_403_page(rig: QboRig, query: str) -> None:
    answer = httpx.get(f"{rig.runtime.base_url}/oauth/qbo/connect/{SHOP}?{query}", timeout=30)

    _assert_refused(answer, 403, "damaged or was not made here", SHOP)
    assert "<script>" not in answer.text


@pytest.mark.parametrize(
    "tamper",
    [
        {"change_company": "1"},  # a plain link made into one that may move the company
        {"expires": str(int(time.time()) + 86400)},  # stretched to a day
        {"nonce": "A" * 32},  # a fresh nonce to use it again
        {"sig": "B" * 43},  # a made-up signature
        {"sig": None},
    ],
    ids=["change-company-added", "expiry-stretched", "nonce-replaced", "forged-sig", "no-sig"],
)
def test_a_tampered_link_is_refused_at_the_connect_route(
    rig: QboRig, tamper: dict[str, str | None]
) -> None:
    link = rig.connect_link(SHOP)

    answer = httpx.get(_with_query(link, **tamper), timeout=30)

    _assert_refused(answer, 403, "damaged or was not made here", SHOP)
    # The untouched link still works: the refusal did not spend it.
    assert httpx.get(link, timeout=30).status_code == 302


def test_a_link_for_one_connection_does_not_open_another(rig: QboRig) -> None:
    link = rig.connect_link(MOVER)

    answer = httpx.get(link.replace(f"/connect/{MOVER}?", f"/connect/{SHOP}?"), timeout=30)

    _assert_refused(answer, 403, "damaged or was not made here", SHOP)


def test_a_link_older_than_thirty_minutes_is_refused(rig: QboRig) -> None:
    # Made 31 minutes ago (the runtime's clock is the machine's: the link is issued in the past).
    link = rig.connect_link(SHOP, now=time.time() - 31 * 60)

    answer = httpx.get(link, timeout=30)

    _assert_refused(answer, 410, "has expired", SHOP)


def test_a_link_works_once(rig: QboRig) -> None:
    link = rig.connect_link(SHOP)

    first = httpx.get(link, timeout=30)
    second = httpx.get(link, timeout=30)

    assert first.status_code == 302
    assert first.headers["location"].startswith(f"{rig.qbo_url}/connect/oauth2?")
    _assert_refused(second, 410, "was used already", SHOP)


def test_another_company_is_refused_without_change_company(rig: QboRig) -> None:
    held = rig.ledger_secret(SHOP)
    assert held.realm_id == rig.qbo.realm_id
    callback = _callback_from(rig, rig.connect_link(SHOP), realm_id=OTHER_REALM)

    answer = httpx.get(callback, timeout=30)

    assert answer.status_code == 409
    assert "QuickBooks was not connected" in answer.text
    assert f"posts to QuickBooks company {held.realm_id}" in answer.text
    assert f"--connection {SHOP} --change-company" in answer.text
    kept = rig.ledger_secret(SHOP)
    assert (kept.realm_id, kept.refresh_token) == (held.realm_id, held.refresh_token)
    assert rig.state.connection_status(SHOP) == ("connected", f"company {held.realm_id}")
    refused = rig.audit(SHOP, "qbo", "connection")[-1]
    assert refused.event == "connect_refused"
    assert refused.detail == {"realm_id": OTHER_REALM, "held_realm_id": held.realm_id}


def test_the_same_company_again_needs_no_change_company(rig: QboRig) -> None:
    before = rig.ledger_secret(SHOP)

    page = httpx.get(_callback_from(rig, rig.connect_link(SHOP)), timeout=30)

    assert page.status_code == 200 and "is connected" in page.text
    after = rig.ledger_secret(SHOP)
    assert after.realm_id == before.realm_id and after.refresh_token != before.refresh_token


def _post_order(rig: QboRig, connection_id: str) -> int:
    order = rig.woo.create_order(OrderSpec(lines=[LineSpec(MUG, 1)], customer_id=JANE))
    rig.sync(connection_id, "order.created", order["id"])
    assert rig.sync_state(connection_id, order["id"]).status == "posted"
    return int(order["id"])


def _lookups(rig: QboRig, mark: int) -> list[str]:
    """The item and customer look-ups QuickBooks was asked since ``mark``."""
    queries = [r.query.get("query", "") for r in rig.requests_since(mark)]
    return [q for q in queries if " from item " in q.lower() or " from customer " in q.lower()]


def test_a_company_change_starts_from_empty_mappings_and_going_back_finds_the_old(
    rig: QboRig,
) -> None:
    home = rig.qbo.realm_id
    mark = len(rig.qbo.request_log)
    _post_order(rig, MOVER)
    assert _lookups(rig, mark)  # the first order taught the connection its ids
    learned = rig.state.for_company(home).mappings(MOVER, "item")
    assert learned and rig.state.for_company(home).mappings(MOVER, "customer")

    # The merchant moves the connection to another company with a --change-company link.
    moved = httpx.get(
        _callback_from(rig, rig.connect_link(MOVER, change_company=True), realm_id=OTHER_REALM),
        timeout=30,
    )

    assert moved.status_code == 200 and OTHER_REALM in moved.text
    assert rig.ledger_secret(MOVER).realm_id == OTHER_REALM
    entry = rig.audit(MOVER, "qbo", "connection")[-1]
    assert entry.event == "connected"
    assert entry.outcome == f"moved from QuickBooks company {home} to company {OTHER_REALM}"
    # Nothing the old company taught is used for the new one.
    for kind in ("item", "customer", "account", "company"):
        assert rig.state.for_company(OTHER_REALM).mappings(MOVER, kind) == {}

    # And back (again with --change-company): the first company's ids are found again, so
    # the next order is posted without looking its item or customer up.
    back = httpx.get(_callback_from(rig, rig.connect_link(MOVER, change_company=True)), timeout=30)
    assert back.status_code == 200 and home in back.text
    assert rig.state.for_company(home).mappings(MOVER, "item") == learned
    mark = len(rig.qbo.request_log)
    _post_order(rig, MOVER)
    assert _lookups(rig, mark) == []

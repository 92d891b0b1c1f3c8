"""QboClient and the OAuth token calls against the simulated QuickBooks Online company."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from connector.errors import PermanentError, TransientError
from connector.ledgers.qbo import oauth
from connector.ledgers.qbo.client import QboClient, escape_query_value
from connector.ledgers.qbo.faults import (
    QboAuthFailed,
    QboBusinessRetryable,
    QboDuplicateDocNumber,
    QboDuplicateName,
    QboNotFound,
    QboServerError,
    QboStaleObject,
    QboThrottled,
    QboTimeout,
    QboUnknownOutcome,
    QboValidation,
)
from simulators.httpserver import LoopbackServer, Request, Response
from simulators.qbo import QboSimulator

CLIENT_ID = "client-app"
CLIENT_SECRET = "client-secret"
REDIRECT = "http://127.0.0.1/oauth/qbo/callback"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_780_000_000.0

    def __call__(self) -> float:
        return self.now


class Switchboard:
    """One loopback server for the module; each test plugs in a fresh handler."""

    def __init__(self) -> None:
        self.app: Callable[[Request], Response] | None = None

    def handle(self, request: Request) -> Response:
        assert self.app is not None
        return self.app(request)


class RefreshingTokens:
    """A TokenProvider that refreshes through the real token endpoint of the simulator."""

    def __init__(self, token_url: str, issued: dict[str, Any]) -> None:
        self.token_url = token_url
        self.current = str(issued["access_token"])
        self.refresh_token = str(issued["refresh_token"])
        self.refreshes = 0

    def access_token(self) -> str:
        return self.current

    def refresh_after_unauthorized(self, rejected: str) -> str:
        assert rejected == self.current
        tokens = oauth.refresh(
            token_url=self.token_url,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            refresh_token=self.refresh_token,
        )
        self.refreshes += 1
        self.current = tokens.access_token.get_secret_value()
        self.refresh_token = tokens.refresh_token.get_secret_value()
        return self.current


# Two short waits keep the tests quick; production waits 1, 2 and 4 seconds.
THROTTLE_WAITS = (0.01, 0.01)


class Rig:
    def __init__(self, sim: QboSimulator, base_url: str, timeout_s: float = 30.0) -> None:
        self.sim = sim
        self.base_url = base_url
        self.token_url = f"{base_url}/oauth2/v1/tokens/bearer"
        self.tokens = RefreshingTokens(self.token_url, sim.issue_tokens())
        self.client = QboClient(
            api_base=base_url,
            realm_id=sim.realm_id,
            tokens=self.tokens,
            timeout_s=timeout_s,
            throttle_backoff_s=THROTTLE_WAITS,
        )

    def customer(self, name: str = "Ada Lovelace") -> str:
        created = self.client.create("Customer", {"DisplayName": name}, request_id=f"cust-{name}")
        return str(created["Id"])


@pytest.fixture(scope="module")
def wiring() -> Iterator[tuple[Switchboard, str]]:
    board = Switchboard()
    with LoopbackServer(board.handle) as server:
        yield board, server.base_url


@pytest.fixture
def make_rig(wiring: tuple[Switchboard, str]) -> Callable[..., Rig]:
    board, base_url = wiring

    def make(*, timeout_s: float = 30.0, **options: Any) -> Rig:
        limits = {"per_second_limit": 1000, "per_minute_limit": 100_000}
        sim = QboSimulator(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            clock=FakeClock(),
            **{**limits, **options},
        )
        board.app = sim.handle
        return Rig(sim, base_url, timeout_s)

    return make


@pytest.fixture
def rig(make_rig: Callable[..., Rig]) -> Rig:
    return make_rig()


def invoice(customer_id: str, doc_number: str = "WC-1001") -> dict[str, Any]:
    return {
        "CustomerRef": {"value": customer_id},
        "DocNumber": doc_number,
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": Decimal("30.30"),
                "SalesItemLineDetail": {
                    "ItemRef": {"value": "2"},
                    "Qty": Decimal("3"),
                    "UnitPrice": Decimal("10.10"),
                    "TaxCodeRef": {"value": "TAX"},
                },
            }
        ],
        "TxnTaxDetail": {"TotalTax": Decimal("2.42")},
    }


# -- reads and writes ----------------------------------------------------------------------


def test_create_read_update_void_round_trip(rig: Rig) -> None:
    customer_id = rig.customer()
    created = rig.client.create("Invoice", invoice(customer_id), request_id="wc-1001-a")
    assert created["TotalAmt"] == Decimal("32.72")
    assert isinstance(created["TotalAmt"], Decimal)  # parsed without float
    assert rig.client.read("Invoice", created["Id"]) == created
    updated = rig.client.update(
        "Invoice",
        {"Id": created["Id"], "SyncToken": created["SyncToken"], "PrivateNote": "Woo order 1001"},
        request_id="wc-1001-note",
    )
    assert updated["SyncToken"] == "1"
    assert rig.sim.documents("Invoice")[0]["PrivateNote"] == "Woo order 1001"
    voided = rig.client.void(
        "Invoice", created["Id"], updated["SyncToken"], request_id="wc-1001-void"
    )
    assert voided["TotalAmt"] == Decimal("0.00")
    assert rig.sim.documents("Invoice")[0]["TotalAmt"] == Decimal("0.00")
    assert rig.client.calls == 5


def test_sales_receipt_void_and_delete(rig: Rig) -> None:
    customer_id = rig.customer()
    receipt = rig.client.create("SalesReceipt", invoice(customer_id), request_id="sr-1")
    voided = rig.client.void("SalesReceipt", receipt["Id"], "0", request_id="sr-1-void")
    assert voided["TotalAmt"] == Decimal("0.00")
    deleted = rig.client.delete("SalesReceipt", receipt["Id"], "1", request_id="sr-1-del")
    assert deleted == {"status": "Deleted", "domain": "QBO", "Id": receipt["Id"]}
    assert rig.sim.documents("SalesReceipt") == []
    with pytest.raises(QboNotFound):
        rig.client.read("SalesReceipt", receipt["Id"])


def test_money_goes_out_as_exact_decimals(rig: Rig) -> None:
    customer_id = rig.customer()
    big = Decimal("12345678901234567.89")  # float would round this
    body = invoice(customer_id)
    body["Line"][0] = {
        "DetailType": "SalesItemLineDetail",
        "Amount": big,
        "SalesItemLineDetail": {"ItemRef": {"value": "2"}, "Qty": 1, "UnitPrice": big},
    }
    created = rig.client.create("Invoice", body, request_id="big-1")
    stored = rig.sim.documents("Invoice")[0]
    assert stored["Line"][0]["SalesItemLineDetail"]["UnitPrice"] == big
    assert str(stored["TxnTaxDetail"]["TotalTax"]) == "2.42"
    assert created["TotalAmt"] == big + Decimal("2.42")


def test_requestid_replay_returns_the_same_document_with_one_write(rig: Rig) -> None:
    customer_id = rig.customer()
    writes_before = rig.sim.writes
    first = rig.client.create("Invoice", invoice(customer_id), request_id="wc-1001-v1")
    again = rig.client.create("Invoice", invoice(customer_id), request_id="wc-1001-v1")
    assert again == first
    assert len(rig.sim.documents("Invoice")) == 1
    assert rig.sim.writes == writes_before + 1


def test_request_id_over_50_characters_is_refused_before_sending(rig: Rig) -> None:
    with pytest.raises(ValueError, match="requestid"):
        rig.client.create("Customer", {"DisplayName": "x"}, request_id="r" * 51)
    assert rig.client.calls == 0


def test_every_request_carries_minorversion_and_json_headers(rig: Rig) -> None:
    rig.customer()
    rig.client.query("SELECT * FROM Customer")
    assert [e.query.get("minorversion") for e in rig.sim.request_log] == ["75", "75"]
    assert rig.sim.request_log[0].query["requestid"] == "cust-Ada Lovelace"


# -- queries -------------------------------------------------------------------------------


def test_query_finds_names_with_apostrophes_and_typographic_quotes(rig: Rig) -> None:
    customer_id = rig.customer("Pat O'Brien")
    rig.customer("Patrick")
    for typed in ("Pat O'Brien", "Pat O\u2019Brien"):
        statement = f"SELECT * FROM Customer WHERE DisplayName = '{escape_query_value(typed)}'"
        assert [c["Id"] for c in rig.client.query(statement)] == [customer_id]


def test_escape_query_value_escapes_backslashes_and_apostrophes() -> None:
    assert escape_query_value("a\\b'c") == "a\\\\b\\'c"
    assert escape_query_value("\u2018quoted\u2019") == "\\'quoted\\'"


def test_query_pages_past_a_thousand_rows(rig: Rig) -> None:
    for n in range(1005):
        rig.sim.seed("Customer", {"DisplayName": f"Customer {n:04d}"})
    rows = rig.client.query("SELECT * FROM Customer")
    assert len(rows) == 1005
    assert len({r["Id"] for r in rows}) == 1005
    starts = [e.query["query"].split("STARTPOSITION")[1] for e in rig.sim.request_log]
    assert starts == [" 1 MAXRESULTS 1000", " 1001 MAXRESULTS 1000"]
    assert rig.client.count("SELECT COUNT(*) FROM Customer") == 1005


def test_query_with_no_rows_is_an_empty_list(rig: Rig) -> None:
    assert rig.client.query("SELECT * FROM Invoice WHERE DocNumber = 'none'") == []


def test_query_syntax_error_is_a_validation_fault(rig: Rig) -> None:
    with pytest.raises(QboValidation) as caught:
        rig.client.query("SELECT * FROM Customer WHERE DisplayName = 'a' OR Id = '1'")
    assert caught.value.code == "4000"
    assert "QueryParserError" in caught.value.reason


# -- faults --------------------------------------------------------------------------------


def test_expired_token_is_refreshed_once_and_the_call_retried(rig: Rig) -> None:
    customer_id = rig.customer()
    old_refresh = rig.tokens.refresh_token
    rig.sim.expire_access_tokens()
    created = rig.client.create("Invoice", invoice(customer_id), request_id="after-expiry")
    assert created["DocNumber"] == "WC-1001"
    assert rig.tokens.refreshes == 1
    assert rig.tokens.refresh_token != old_refresh  # rotated
    statuses = [e.status for e in rig.sim.request_log if e.path.endswith("/invoice")]
    assert statuses == [401, 200]
    assert len(rig.sim.documents("Invoice")) == 1


def test_a_second_401_raises_auth_failed(rig: Rig) -> None:
    rig.sim.inject(401, times=2)
    with pytest.raises(QboAuthFailed) as caught:
        rig.client.query("SELECT * FROM Item")
    assert caught.value.code == "3200"
    assert rig.client.calls == 2
    assert rig.tokens.refreshes == 1


def test_revoked_connection_ends_in_invalid_grant_on_refresh(rig: Rig) -> None:
    rig.sim.revoke_connection()
    with pytest.raises(oauth.InvalidGrant):
        rig.client.query("SELECT * FROM Item")


def test_throttling_fault_in_xml_is_parsed(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(per_second_limit=1)
    rig.client.query("SELECT * FROM Item")
    with pytest.raises(QboThrottled) as caught:
        rig.client.query("SELECT * FROM Item")
    assert caught.value.code == "3001"
    assert caught.value.retry_after_s == 60
    assert caught.value.http_status == 429
    assert isinstance(caught.value, TransientError)


def test_a_throttled_request_is_resent_after_a_wait_and_succeeds(rig: Rig) -> None:
    rig.sim.inject(429, times=len(THROTTLE_WAITS))
    before = len(rig.sim.request_log)
    assert rig.client.query("SELECT * FROM Item WHERE Name = 'Sales'")[0]["Name"] == "Sales"
    statuses = [entry.status for entry in rig.sim.request_log[before:]]
    assert statuses == [429, 429, 200]


def test_throttling_that_outlasts_the_waits_is_left_to_the_queue(rig: Rig) -> None:
    rig.sim.inject(429, times=len(THROTTLE_WAITS) + 1)
    with pytest.raises(QboThrottled):
        rig.client.query("SELECT * FROM Item")


def test_duplicate_doc_number_carries_the_existing_id(rig: Rig) -> None:
    customer_id = rig.customer()
    first = rig.client.create("Invoice", invoice(customer_id, "WC-7"), request_id="wc-7-a")
    with pytest.raises(QboDuplicateDocNumber) as caught:
        rig.client.create("Invoice", invoice(customer_id, "WC-7"), request_id="wc-7-b")
    assert caught.value.existing_txn_id == first["Id"]
    assert isinstance(caught.value, PermanentError)


def test_stale_sync_token_is_5010(rig: Rig) -> None:
    customer_id = rig.customer()
    created = rig.client.create("Invoice", invoice(customer_id), request_id="st-1")
    rig.client.update("Invoice", {"Id": created["Id"], "SyncToken": "0"}, request_id="st-2")
    with pytest.raises(QboStaleObject) as caught:
        rig.client.update(
            "Invoice",
            {"Id": created["Id"], "SyncToken": "0", "PrivateNote": "x"},
            request_id="st-3",
        )
    assert caught.value.code == "5010"
    assert isinstance(caught.value, TransientError)


def test_duplicate_name_and_missing_reference(rig: Rig) -> None:
    rig.customer("Ada Lovelace")
    with pytest.raises(QboDuplicateName):
        rig.client.create("Customer", {"DisplayName": "Ada Lovelace"}, request_id="dup")
    with pytest.raises(QboNotFound) as caught:
        rig.client.create("Invoice", invoice("404"), request_id="missing-ref")
    assert caught.value.element == "CustomerRef"


@pytest.mark.parametrize(
    ("injected", "expected"),
    [
        (500, QboServerError),
        (503, QboServerError),
        (6000, QboBusinessRetryable),
        (5010, QboStaleObject),
    ],
)
def test_injected_faults_raise_classified_errors(
    rig: Rig, injected: int, expected: type[Exception]
) -> None:
    rig.sim.inject(injected, entity="Customer", operation="create")
    with pytest.raises(expected):
        rig.client.create("Customer", {"DisplayName": "Grace"}, request_id="g-1")
    assert rig.client.calls == 1  # no retry loop in the client
    assert rig.sim.documents("Customer") == []


def test_lost_answer_is_unknown_outcome_and_replay_adopts_the_write(rig: Rig) -> None:
    customer_id = rig.customer()
    rig.sim.inject("lost", entity="Invoice", operation="create")
    with pytest.raises(QboUnknownOutcome):
        rig.client.create("Invoice", invoice(customer_id), request_id="lost-1")
    replay = rig.client.create("Invoice", invoice(customer_id), request_id="lost-1")
    assert [d["Id"] for d in rig.sim.documents("Invoice")] == [replay["Id"]]


def test_timeout_is_an_unknown_outcome(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(latency_s=0.5, timeout_s=0.1)
    with pytest.raises(QboTimeout):
        rig.client.create("Customer", {"DisplayName": "Slow"}, request_id="slow-1")


def test_nothing_listening_is_a_transient_server_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = QboClient(
        api_base=f"http://127.0.0.1:{port}",
        realm_id="1",
        tokens=RefreshingTokens("http://127.0.0.1:1/", {"access_token": "a", "refresh_token": "r"}),
        timeout_s=2.0,
    )
    with pytest.raises(QboServerError):
        client.read("Invoice", "1")


# -- OAuth ---------------------------------------------------------------------------------


def test_authorize_url_and_code_exchange(rig: Rig) -> None:
    url = oauth.authorize_url(
        authorize_endpoint=f"{rig.base_url}/connect/oauth2",
        client_id=CLIENT_ID,
        redirect_uri=REDIRECT,
        state="s-42",
    )
    query = parse_qs(urlsplit(url).query)
    assert query["scope"] == [oauth.SCOPE]
    assert query["response_type"] == ["code"]
    redirect = httpx.get(url)
    assert redirect.status_code == 302
    back = parse_qs(urlsplit(redirect.headers["location"]).query)
    assert back["state"] == ["s-42"] and back["realmId"] == [rig.sim.realm_id]
    tokens = oauth.exchange_code(
        token_url=rig.token_url,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        code=back["code"][0],
        redirect_uri=REDIRECT,
        now=NOW,
    )
    assert tokens.access_expires_at == NOW + timedelta(hours=1)
    assert tokens.refresh_expires_at == NOW + timedelta(seconds=8_726_400)
    assert tokens.refresh_hard_expires_at == NOW + timedelta(days=5 * 365)
    assert "AB11" not in repr(tokens)  # secrets stay masked
    with pytest.raises(oauth.InvalidGrant):
        oauth.exchange_code(
            token_url=rig.token_url,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            code=back["code"][0],
            redirect_uri=REDIRECT,
        )


def test_refresh_rotates_the_refresh_token(rig: Rig) -> None:
    first = rig.tokens.refresh_token
    tokens = oauth.refresh(
        token_url=rig.token_url,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        refresh_token=first,
    )
    assert tokens.refresh_token.get_secret_value() != first
    rig.tokens.current = tokens.access_token.get_secret_value()
    assert rig.client.query("SELECT * FROM TaxCode")


def test_unknown_refresh_token_is_invalid_grant(rig: Rig) -> None:
    with pytest.raises(oauth.InvalidGrant):
        oauth.refresh(
            token_url=rig.token_url,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            refresh_token="AB11-never-issued",
        )


def test_wrong_client_secret_is_invalid_client(rig: Rig) -> None:
    with pytest.raises(oauth.InvalidClient) as caught:
        oauth.refresh(
            token_url=rig.token_url,
            client_id=CLIENT_ID,
            client_secret="wrong",
            refresh_token=rig.tokens.refresh_token,
        )
    assert "wrong" not in str(caught.value)


def test_token_endpoint_outage_is_transient(wiring: tuple[Switchboard, str]) -> None:
    board, base_url = wiring
    board.app = lambda request: Response.of_text("upstream unavailable", 503)
    with pytest.raises(TransientError):
        oauth.refresh(
            token_url=f"{base_url}/oauth2/v1/tokens/bearer",
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            refresh_token="anything",
        )

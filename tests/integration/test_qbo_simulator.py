"""The simulated QuickBooks Online company, spoken to over HTTP the way QBO is."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from lxml import etree

from simulators.qbo import QboSimulator
from simulators.testbed.clocks import Clock
from simulators.testbed.qbo_http import (
    CLIENT_ID,
    CLIENT_SECRET,
    Api,
    fault_of,
    invoice_body,
    new_customer,
)

REDIRECT = "https://connector.example/oauth/qbo/callback"
DAY = 86_400.0


# -- OAuth ---------------------------------------------------------------------------------


def authorize(api: Api, state: str = "st-1") -> dict[str, list[str]]:
    response = api.http.get(
        "/connect/oauth2",
        params={
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "com.intuit.quickbooks.accounting",
            "state": state,
        },
    )
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return parse_qs(urlsplit(location).query)


def test_authorize_redirects_back_with_code_state_and_realm(api: Api) -> None:
    params = authorize(api, state="abc123")
    assert params["state"] == ["abc123"]
    assert params["realmId"] == [api.sim.realm_id]
    tokens = api.token_call(
        {"grant_type": "authorization_code", "code": params["code"][0], "redirect_uri": REDIRECT}
    )
    assert tokens.status_code == 200
    body = tokens.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["x_refresh_token_expires_in"] == 8726400
    assert "x_refresh_token_hard_expires_in" not in body  # not asked for
    api.token = body["access_token"]
    assert api.get("preferences").status_code == 200


def test_a_reused_code_is_refused_and_revokes_what_it_issued(api: Api) -> None:
    code = authorize(api)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    first = api.token_call(form).json()
    again = api.token_call(form)
    assert again.status_code == 400
    assert again.json() == {"error": "invalid_grant"}
    refresh = api.token_call(
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    assert refresh.json() == {"error": "invalid_grant"}


def test_wrong_client_secret_is_invalid_client(api: Api) -> None:
    tokens = api.sim.issue_tokens()
    response = api.token_call(
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, secret="nope"
    )
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}


def test_refresh_rotates_and_the_old_token_lapses_after_a_day(api: Api, qbo_clock: Clock) -> None:
    original = api.sim.issue_tokens()["refresh_token"]
    first = api.token_call({"grant_type": "refresh_token", "refresh_token": original}).json()
    assert first["refresh_token"] != original
    qbo_clock.advance(DAY - 60)
    # Still inside the 24 h grace: a worker that missed the rotation is not locked out.
    grace = api.token_call({"grant_type": "refresh_token", "refresh_token": original})
    assert grace.status_code == 200
    qbo_clock.advance(120)
    late = api.token_call({"grant_type": "refresh_token", "refresh_token": original})
    assert late.status_code == 400
    assert late.json()["error"] == "invalid_grant"
    newest = api.token_call(
        {"grant_type": "refresh_token", "refresh_token": grace.json()["refresh_token"]}
    )
    assert newest.status_code == 200


def test_hard_expiry_is_reported_when_asked_for(api: Api) -> None:
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    response = api.http.post(
        "/oauth2/v1/tokens/bearer",
        data={
            "grant_type": "refresh_token",
            "refresh_token": api.sim.issue_tokens()["refresh_token"],
        },
        headers={
            "Authorization": f"Basic {basic}",
            "x-include-refresh-token-hard-expires-in": "true",
        },
    )
    assert response.json()["x_refresh_token_hard_expires_in"] == 5 * 365 * 86_400


def test_unknown_refresh_token_is_invalid_grant(api: Api) -> None:
    response = api.token_call({"grant_type": "refresh_token", "refresh_token": "AB11made-up"})
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant"}


# -- authentication and limits -------------------------------------------------------------


def test_expired_access_token_gets_the_authentication_fault(api: Api) -> None:
    api.sim.expire_access_tokens()
    response = api.get("preferences")
    assert response.status_code == 401
    error = response.json()["fault"]["error"][0]
    assert error["code"] == "3200"
    assert "AuthenticationFailed" in error["message"]
    assert api.token not in response.text


def test_access_tokens_expire_after_an_hour(api: Api, qbo_clock: Clock) -> None:
    assert api.get("preferences").status_code == 200
    qbo_clock.advance(3600)
    assert api.get("preferences").status_code == 401


def test_another_realm_is_forbidden(api: Api) -> None:
    response = api.http.get(
        "/v3/company/123/preferences", params={"minorversion": "75"}, headers=api.headers()
    )
    assert response.status_code == 403
    assert fault_of(response)["code"] == "3100"


def test_over_the_per_second_limit_answers_429_in_xml(
    make_api: Callable[..., Api], qbo_clock: Clock
) -> None:
    api = make_api(per_second_limit=2)
    assert api.get("preferences").status_code == 200
    assert api.get("preferences").status_code == 200
    throttled = api.get("preferences")
    assert throttled.status_code == 429
    root = etree.fromstring(throttled.content)
    error = root.find(".//{http://schema.intuit.com/finance/v3}Error")
    assert error is not None and error.get("code") == "3001"
    qbo_clock.advance(1.0)
    assert api.get("preferences").status_code == 200


def test_over_the_per_minute_limit_answers_429(
    make_api: Callable[..., Api], qbo_clock: Clock
) -> None:
    api = make_api(per_minute_limit=3, per_second_limit=100)
    statuses = []
    for _ in range(4):
        statuses.append(api.get("preferences").status_code)
        qbo_clock.advance(5)
    assert statuses == [200, 200, 200, 429]
    qbo_clock.advance(60)
    assert api.get("preferences").status_code == 200


def test_concurrent_requests_over_the_limit_are_throttled(make_api: Callable[..., Api]) -> None:
    api = make_api(max_concurrent=1, latency_s=0.3)
    statuses: list[int] = []

    def call() -> None:
        with httpx.Client(base_url=api.base, timeout=5.0) as http:
            response = http.get(
                api.url("preferences"), params={"minorversion": "75"}, headers=api.headers()
            )
            statuses.append(response.status_code)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses)[0] == 200
    assert 429 in statuses


# -- writes, reads and validation ----------------------------------------------------------


def test_created_invoice_has_ids_totals_and_metadata(api: Api) -> None:
    customer = new_customer(api)
    response = api.post(
        "invoice",
        invoice_body(customer["Id"], TxnTaxDetail={"TotalTax": 2.00}),
        requestid="rq-1",
    )
    assert response.status_code == 200, response.text
    invoice = response.json()["Invoice"]
    assert invoice["SyncToken"] == "0"
    assert invoice["CustomerRef"] == {"value": customer["Id"], "name": "Ada Lovelace"}
    assert invoice["Line"][0]["SalesItemLineDetail"]["ItemRef"]["name"] == "Sales"
    assert invoice["Line"][-1]["DetailType"] == "SubTotalLineDetail"
    assert Decimal(str(invoice["TotalAmt"])) == Decimal("26.99")  # 20.00 + 4.99 + 2.00 tax
    assert invoice["Balance"] == invoice["TotalAmt"]
    assert invoice["MetaData"]["CreateTime"].endswith("-07:00")
    fetched = api.get(f"invoice/{invoice['Id']}").json()["Invoice"]
    assert fetched == invoice


def test_same_requestid_returns_the_original_without_a_second_write(api: Api) -> None:
    customer = new_customer(api)
    first = api.post("invoice", invoice_body(customer["Id"]), requestid="order-77-v1")
    second = api.post("invoice", invoice_body(customer["Id"]), requestid="order-77-v1")
    assert second.status_code == 200
    assert second.json() == first.json()
    assert len(api.sim.documents("Invoice")) == 1
    assert api.sim.writes == 2  # the customer and the invoice


def test_duplicate_doc_number_names_the_existing_txn(api: Api) -> None:
    customer = new_customer(api)
    first = api.post("invoice", invoice_body(customer["Id"], "WC-9")).json()["Invoice"]
    response = api.post("invoice", invoice_body(customer["Id"], "WC-9"))
    assert response.status_code == 400
    error = fault_of(response)
    assert error["code"] == "6140"
    assert (
        f"DocNumber=WC-9 is assigned to TxnType=Invoice with TxnId={first['Id']}" in error["Detail"]
    )
    # A sales receipt may reuse the number: uniqueness is per transaction type.
    receipt = api.post("salesreceipt", invoice_body(customer["Id"], "WC-9"))
    assert receipt.status_code == 200


def test_doc_number_longer_than_21_characters_is_refused(api: Api) -> None:
    customer = new_customer(api)
    response = api.post("invoice", invoice_body(customer["Id"], "X" * 22))
    assert response.status_code == 400
    assert fault_of(response)["code"] == "2050"
    assert fault_of(response)["element"] == "DocNumber"


def test_invoice_needs_a_customer_and_lines(api: Api) -> None:
    no_customer = api.post("invoice", {"Line": invoice_body("1")["Line"]})
    assert fault_of(no_customer)["code"] == "2020"
    customer = new_customer(api)
    no_lines = api.post("invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": []})
    assert fault_of(no_lines)["code"] == "2020"


def test_missing_and_inactive_references_are_refused(api: Api) -> None:
    missing = api.post("invoice", invoice_body("999"))
    assert fault_of(missing)["code"] == "2500"
    customer = new_customer(api)
    api.sim.set_active("Customer", customer["Id"], False)
    inactive = api.post("invoice", invoice_body(customer["Id"]))
    assert fault_of(inactive)["code"] == "610"
    other = new_customer(api, "Grace Hopper")
    body = invoice_body(other["Id"])
    body["Line"][0]["SalesItemLineDetail"]["ItemRef"] = {"value": "4"}  # seeded inactive item
    assert fault_of(api.post("invoice", body))["code"] == "610"
    assert len(api.sim.documents("Invoice")) == 0


def test_amount_must_equal_qty_times_price(api: Api) -> None:
    customer = new_customer(api)
    body = invoice_body(customer["Id"])
    body["Line"][0]["Amount"] = 21.00
    assert fault_of(api.post("invoice", body))["code"] == "6070"


def test_unknown_properties_are_refused(api: Api) -> None:
    customer = new_customer(api)
    response = api.post("invoice", invoice_body(customer["Id"], ShippingAmount=5))
    assert response.status_code == 400
    assert fault_of(response)["code"] == "2010"
    assert "ShippingAmount" in fault_of(response)["Detail"]


def test_display_names_are_unique_and_colon_free(api: Api) -> None:
    new_customer(api, "Ada Lovelace")
    duplicate = api.post("customer", {"DisplayName": "ada lovelace"})
    assert fault_of(duplicate)["code"] == "6240"
    assert fault_of(duplicate)["Message"] == "Duplicate Name Exists Error"
    colon = api.post("customer", {"DisplayName": "Shop: Ada"})
    assert fault_of(colon)["element"] == "DisplayName"
    derived = api.post("customer", {"GivenName": "Alan", "FamilyName": "Turing"})
    assert derived.json()["Customer"]["DisplayName"] == "Alan Turing"


def test_items_need_an_existing_income_account(api: Api) -> None:
    missing = api.post("item", {"Name": "Blue mug", "Type": "NonInventory"})
    assert fault_of(missing)["code"] == "2020"
    assert fault_of(missing)["element"] == "IncomeAccountRef"
    wrong = api.post(
        "item", {"Name": "Blue mug", "Type": "Service", "IncomeAccountRef": {"value": "99"}}
    )
    assert fault_of(wrong)["code"] == "2500"
    made = api.post(
        "item", {"Name": "Blue mug", "Type": "Service", "IncomeAccountRef": {"value": "1"}}
    )
    assert made.json()["Item"]["IncomeAccountRef"] == {
        "value": "1",
        "name": "Sales of Product Income",
    }


def test_sparse_update_bumps_sync_token_and_stale_token_is_5010(api: Api) -> None:
    customer = new_customer(api)
    invoice = api.post("invoice", invoice_body(customer["Id"])).json()["Invoice"]
    update = {"Id": invoice["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "Order 1001"}
    updated = api.post("invoice", update).json()["Invoice"]
    assert updated["SyncToken"] == "1"
    assert updated["PrivateNote"] == "Order 1001"
    assert updated["DocNumber"] == "WC-1001"  # untouched fields stay
    assert updated["MetaData"]["CreateTime"] == invoice["MetaData"]["CreateTime"]
    stale = api.post("invoice", update)
    assert stale.status_code == 400
    assert fault_of(stale)["code"] == "5010"


def test_void_zeroes_the_invoice_and_delete_removes_it(api: Api) -> None:
    customer = new_customer(api)
    invoice = api.post("invoice", invoice_body(customer["Id"])).json()["Invoice"]
    voided = api.post("invoice", {"Id": invoice["Id"], "SyncToken": "0"}, operation="void")
    assert voided.status_code == 200
    body = voided.json()["Invoice"]
    assert Decimal(str(body["TotalAmt"])) == 0
    assert body["PrivateNote"].startswith("Voided")
    assert body["SyncToken"] == "1"
    assert body["DocNumber"] == "WC-1001"
    deleted = api.post("invoice", {"Id": invoice["Id"], "SyncToken": "1"}, operation="delete")
    assert deleted.json()["Invoice"] == {"status": "Deleted", "domain": "QBO", "Id": invoice["Id"]}
    assert fault_of(api.get(f"invoice/{invoice['Id']}"))["code"] == "610"


def test_sales_receipt_is_voided_by_update_with_include_void(api: Api) -> None:
    customer = new_customer(api)
    receipt = api.post("salesreceipt", invoice_body(customer["Id"])).json()["SalesReceipt"]
    assert Decimal(str(receipt["Balance"])) == 0
    voided = api.post(
        "salesreceipt",
        {"Id": receipt["Id"], "SyncToken": "0", "sparse": True},
        operation="update",
        include="void",
    )
    assert Decimal(str(voided.json()["SalesReceipt"]["TotalAmt"])) == 0


def test_uk_company_computes_vat_per_tax_code(uk_api: Api) -> None:
    customer = new_customer(uk_api)
    body = invoice_body(customer["Id"])
    body["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"] = {"value": "2"}  # 20%
    body["Line"][1]["SalesItemLineDetail"]["TaxCodeRef"] = {"value": "3"}  # 5%
    invoice = uk_api.post("invoice", body).json()["Invoice"]
    assert Decimal(str(invoice["TxnTaxDetail"]["TotalTax"])) == Decimal("4.25")  # 4.00 + 0.25
    assert Decimal(str(invoice["TotalAmt"])) == Decimal("29.24")
    assert invoice["GlobalTaxCalculation"] == "TaxExcluded"


def test_uk_company_needs_a_vat_code_on_every_line(uk_api: Api) -> None:
    customer = new_customer(uk_api)
    response = uk_api.post("invoice", invoice_body(customer["Id"]))
    assert fault_of(response)["code"] == "6000"
    assert "VAT" in fault_of(response)["Detail"]


# -- queries -------------------------------------------------------------------------------


def test_query_with_escaped_apostrophe_finds_the_customer(api: Api) -> None:
    made = new_customer(api, "Pat O'Brien")
    response = api.query("SELECT * FROM Customer WHERE DisplayName = 'Pat O\\'Brien'")
    assert response.status_code == 200
    found = response.json()["QueryResponse"]
    assert [c["Id"] for c in found["Customer"]] == [made["Id"]]
    assert found["startPosition"] == 1 and found["maxResults"] == 1


def test_typographic_quote_breaks_the_query_lexer(api: Api) -> None:
    response = api.query("SELECT * FROM Customer WHERE DisplayName = 'Pat O\u2019Brien'")
    assert response.status_code == 400
    error = fault_of(response)
    assert error["code"] == "4000"
    assert error["Detail"].startswith("QueryParserError")


def test_query_pages_counts_and_hides_inactive_names(api: Api) -> None:
    for name in ("A1", "A2", "A3"):
        new_customer(api, name)
    api.sim.set_active("Customer", "2", False)
    page = api.query("select * from Customer STARTPOSITION 2 MAXRESULTS 1").json()["QueryResponse"]
    assert [c["DisplayName"] for c in page["Customer"]] == ["A3"]
    assert page["startPosition"] == 2
    count = api.query("SELECT COUNT(*) FROM Customer").json()["QueryResponse"]
    assert count == {"totalCount": 2}
    both = api.query("SELECT * FROM Customer WHERE Active IN (true, false)").json()
    assert len(both["QueryResponse"]["Customer"]) == 3
    assert (
        api.query("SELECT * FROM Customer WHERE DisplayName = 'nobody'").json()["QueryResponse"]
        == {}
    )


def test_query_by_doc_number_and_reference(api: Api) -> None:
    customer = new_customer(api)
    api.post("invoice", invoice_body(customer["Id"], "WC-1"))
    api.post("invoice", invoice_body(customer["Id"], "WC-2"))
    statement = (
        f"SELECT * FROM Invoice WHERE DocNumber = 'WC-2' AND CustomerRef = '{customer['Id']}'"
    )
    rows = api.query(statement).json()["QueryResponse"]["Invoice"]
    assert [r["DocNumber"] for r in rows] == ["WC-2"]


def test_query_limits_are_validated(api: Api) -> None:
    assert fault_of(api.query("SELECT * FROM Item MAXRESULTS 1001"))["code"] == "4001"
    assert fault_of(api.query("SELECT * FROM Item STARTPOSITION 0"))["code"] == "4001"
    assert fault_of(api.query("SELECT * FROM Nope"))["code"] == "4001"
    assert (
        fault_of(api.query("SELECT * FROM Item WHERE Name = 'a' OR Name = 'b'"))["code"] == "4000"
    )


def test_preferences_and_seeded_lists(api: Api) -> None:
    prefs = api.get("preferences").json()["Preferences"]
    assert prefs["TaxPrefs"]["PartnerTaxEnabled"] is True
    names = [i["Name"] for i in api.query("SELECT * FROM Item").json()["QueryResponse"]["Item"]]
    assert "Shipping" in names
    codes = api.query("SELECT * FROM TaxCode").json()["QueryResponse"]["TaxCode"]
    assert {c["Id"] for c in codes} == {"TAX", "NON"}


# -- injected faults -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        (500, 500, "10000"),
        (5010, 400, "5010"),
        (6000, 400, "6000"),
        (429, 429, None),
        (503, 503, None),
    ],
)
def test_injected_faults_answer_like_qbo(
    api: Api, kind: int, status: int, code: str | None
) -> None:
    api.sim.inject(kind, entity="Customer", operation="create")
    response = api.post("customer", {"DisplayName": "Injected"})
    assert response.status_code == status
    if code is not None:
        assert fault_of(response)["code"] == code
    assert api.sim.documents("Customer") == []
    assert api.post("customer", {"DisplayName": "Injected"}).status_code == 200  # used up


def test_injected_401_then_the_same_token_works(api: Api) -> None:
    api.sim.inject(401)
    assert api.get("preferences").status_code == 401
    assert api.get("preferences").status_code == 200


def test_lost_response_applies_the_write_and_replay_returns_it(api: Api) -> None:
    customer = new_customer(api)
    api.sim.inject("lost", entity="Invoice")
    lost = api.post("invoice", invoice_body(customer["Id"]), requestid="lost-1")
    assert lost.status_code == 504
    assert len(api.sim.documents("Invoice")) == 1
    replay = api.post("invoice", invoice_body(customer["Id"]), requestid="lost-1")
    assert replay.status_code == 200
    assert replay.json()["Invoice"]["Id"] == api.sim.documents("Invoice")[0]["Id"]
    assert len(api.sim.documents("Invoice")) == 1


def test_request_log_records_each_call(api: Api) -> None:
    api.get("preferences")
    api.query("SELECT * FROM Item")
    entries = [(e.method, e.path.rsplit("/", 1)[-1], e.status) for e in api.sim.request_log]
    assert entries == [("GET", "preferences", 200), ("GET", "query", 200)]
    assert api.sim.request_log[1].query["query"] == "SELECT * FROM Item"
    assert api.sim.reads == 2


def test_ids_and_timestamps_are_deterministic(qbo_clock: Clock) -> None:
    runs = []
    for _ in range(2):
        qbo_clock.now = 1_780_000_000.0
        sim = QboSimulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, clock=qbo_clock)
        with sim.serve() as server:
            api = Api(sim, server.base_url)
            customer = new_customer(api)
            invoice = api.post("invoice", invoice_body(customer["Id"])).json()["Invoice"]
            runs.append((customer["Id"], invoice["Id"], invoice["MetaData"], invoice["TxnDate"]))
    assert runs[0] == runs[1]

"""Hostile or mistaken requests to every public route: a clear 4xx (or a SOAP fault), never a 5xx.

The Api5xx alarm pages on-call at the first 5xx, and a function error alarms too, so a body
nobody should send must be answered by the function with what was wrong, not by a crash.
Through the local runtime's gateway (real HTTP, API Gateway's proxy events), with one
QuickBooks Online connection (``shop``) and one QuickBooks Desktop connection (``desk``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from lxml import etree

from connector.ledgers.qbd.password import hash_password
from connector.resources import secret_name
from simulators.testbed.desktop import CONN as DESK
from simulators.testbed.desktop import PASSWORD, USER, envelope
from simulators.testbed.desktop import connection_settings as desktop_settings
from simulators.testbed.online import QboRig, QboRigs, connection_settings

SHOP = "shop"
SOAP = {"Content-Type": "text/xml; charset=utf-8"}
NS = "http://developer.intuit.com/"


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    return [connection_settings(SHOP, woo_url=woo_url, qbo_url=qbo_url), desktop_settings()]


@pytest.fixture(scope="module")
def rig(qbo_rig: QboRigs) -> Iterator[QboRig]:
    desk_ledger = {"password_hash": hash_password(PASSWORD)}
    with qbo_rig(_connections, ledger_secrets={DESK: desk_ledger}) as running:
        yield running


@pytest.fixture()
def no_function_error(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The gateway logs (and answers 502 for) every function that raised: there must be none."""
    with caplog.at_level(logging.ERROR, logger="connector.local.gateway"):
        yield
    failed = [r.getMessage() for r in caplog.records if r.name == "connector.local.gateway"]
    assert not failed, failed


def _qbwc(rig: QboRig, connection_id: str = DESK) -> str:
    return f"{rig.runtime.base_url}/qbwc/{connection_id}"


def _fault(answer: httpx.Response) -> tuple[str, str]:
    """(faultcode, faultstring) of a SOAP fault answer."""
    root = etree.fromstring(answer.content, etree.XMLParser(resolve_entities=False))
    fault = root.find(".//{http://schemas.xmlsoap.org/soap/envelope/}Fault")
    assert fault is not None, answer.text
    return fault.findtext("faultcode") or "", fault.findtext("faultstring") or ""


@pytest.mark.usefixtures("no_function_error")
@pytest.mark.parametrize(
    ("body", "headers", "says"),
    [
        # Latin-1 bytes with no XML declaration saying so: not UTF-8, not XML we can read.
        (b"<soap:Envelope>caf\xe9 \xff\xfe</soap:Envelope>", SOAP, "not well-formed XML"),
        (b"\x80\x81\x82\xff" * 64, {"Content-Type": "application/octet-stream"}, "not well-formed"),
        (b'{"method": "authenticate"}', {"Content-Type": "application/json"}, "not well-formed"),
        (
            b"user=a&password=b",
            {"Content-Type": "application/x-www-form-urlencoded"},
            "well-formed",
        ),
        (b"", SOAP, "empty request"),
        (b"<html><body>hi</body></html>", {"Content-Type": "text/html"}, "not a SOAP envelope"),
    ],
    ids=["latin-1", "binary", "json", "form", "empty", "html"],
)
def test_a_body_that_is_no_soap_call_is_a_client_fault_with_a_4xx(
    rig: QboRig, body: bytes, headers: dict[str, str], says: str
) -> None:
    answer = httpx.post(_qbwc(rig), content=body, headers=headers, timeout=30)

    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("text/xml")
    code, message = _fault(answer)
    assert code == "soap:Client" and says in message


@pytest.mark.usefixtures("no_function_error")
def test_a_soap_12_envelope_is_a_version_mismatch_with_a_4xx(rig: QboRig) -> None:
    soap12 = (
        b'<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope">'
        b"<env:Body/></env:Envelope>"
    )
    answer = httpx.post(_qbwc(rig), content=soap12, headers=SOAP, timeout=30)

    assert answer.status_code == 400
    code, message = _fault(answer)
    assert code == "soap:VersionMismatch" and "SOAP 1.1" in message


@pytest.mark.usefixtures("no_function_error")
def test_a_call_in_another_declared_encoding_is_read(rig: QboRig) -> None:
    # The XML declaration names the encoding, so Latin-1 bytes (the comment's é is 0xE9, not
    # UTF-8) are a well-formed call: the right password logs in, nothing waiting.
    body = envelope("authenticate", strUserName=USER, strPassword=PASSWORD).decode("utf-8")
    latin = body.replace("encoding='utf-8'", "encoding='ISO-8859-1'").replace(
        "<soap:Body>", "<!-- caf\u00e9 --><soap:Body>"
    )
    raw = latin.encode("latin-1")
    assert b"caf\xe9" in raw and b"ISO-8859-1" in raw
    answer = httpx.post(_qbwc(rig), content=raw, headers=SOAP, timeout=30)

    assert answer.status_code == 200, answer.text
    strings = [s.text for s in etree.fromstring(answer.content).iter(f"{{{NS}}}string")]
    assert len(strings) == 2 and strings[1] == "none"


@pytest.mark.usefixtures("no_function_error")
def test_huge_headers_get_a_4xx(rig: QboRig) -> None:
    big = {**SOAP, "X-Padding": "a" * 8_000, "Cookie": "; ".join(f"c{i}=v" for i in range(900))}
    within = httpx.post(_qbwc(rig), content=envelope("serverVersion"), headers=big, timeout=30)
    beyond = httpx.post(
        _qbwc(rig), content=envelope("serverVersion"), headers={"X-Big": "b" * 70_000}, timeout=30
    )

    assert within.status_code == 200  # large but within HTTP's limits: served as usual
    assert 400 <= beyond.status_code < 500


@pytest.mark.usefixtures("no_function_error")
def test_an_online_connections_web_connector_routes_are_404(rig: QboRig) -> None:
    call = httpx.post(_qbwc(rig, SHOP), content=envelope("serverVersion"), headers=SOAP, timeout=30)
    login = httpx.post(
        _qbwc(rig, SHOP),
        content=envelope("authenticate", strUserName=USER, strPassword=PASSWORD),
        headers=SOAP,
        timeout=30,
    )
    wsdl = httpx.get(_qbwc(rig, SHOP), params={"wsdl": ""}, timeout=30)
    unknown = httpx.post(_qbwc(rig, "no-such"), content=b"\xff", headers=SOAP, timeout=30)

    for answer in (call, login, wsdl):
        assert answer.status_code == 404
        assert "connection shop is not a Desktop connection" in answer.text
    assert unknown.status_code == 404
    assert "connection no-such is not a Desktop connection" in unknown.text


@pytest.mark.usefixtures("no_function_error")
def test_a_desktop_connections_connect_url_is_404_and_names_no_secret(rig: QboRig) -> None:
    answer = httpx.get(f"{rig.runtime.base_url}/oauth/qbo/connect/{DESK}", timeout=30)

    assert answer.status_code == 404
    assert f"connection {DESK} is not a QuickBooks Online connection" in answer.text
    assert "secret" not in answer.text.lower() and "client id" not in answer.text
    assert "location" not in answer.headers


@pytest.mark.usefixtures("no_function_error")
@pytest.mark.parametrize(
    "query",
    [
        "",
        "code=x&state=%FF%FE&realmId=%C0",
        "error=%3Cscript%3Ealert(1)%3C/script%3E",
    ],
    ids=["nothing", "non-utf-8", "markup"],
)
def test_a_callback_nobody_started_is_a_400_page(rig: QboRig, query: str) -> None:
    answer = httpx.get(f"{rig.runtime.base_url}/oauth/qbo/callback?{query}", timeout=30)

    assert answer.status_code == 400, answer.text
    assert "QuickBooks was not connected" in answer.text
    assert "<script>" not in answer.text


@pytest.mark.usefixtures("no_function_error")
def test_a_state_longer_than_any_we_make_is_refused_before_it_is_looked_up(rig: QboRig) -> None:
    # DynamoDB refuses a key over 2 KB (moto checks only writes): on AWS this was a 5xx.
    answer = httpx.get(
        f"{rig.runtime.base_url}/oauth/qbo/callback",
        params={"code": "x" * 3000, "state": "y" * 3000, "realmId": "1"},
        timeout=30,
    )

    assert answer.status_code == 400
    assert "This link was not made by this connector" in answer.text


@pytest.mark.usefixtures("no_function_error")
def test_a_callback_for_a_connection_without_the_apps_credentials_is_a_409(rig: QboRig) -> None:
    secrets = rig.runtime.boto3_client("secretsmanager")
    name = secret_name(rig.runtime.secret_prefix, SHOP, "ledger")
    kept = secrets.get_secret_value(SecretId=name)["SecretString"]
    start = httpx.get(rig.connect_link(SHOP), timeout=30)
    callback = httpx.get(start.headers["location"], timeout=30).headers["location"]
    # The app's credentials are taken out while the merchant is at Intuit.
    secrets.put_secret_value(SecretId=name, SecretString="{}")
    try:
        answer = httpx.get(callback, timeout=30)
    finally:
        secrets.put_secret_value(SecretId=name, SecretString=kept)

    assert answer.status_code == 409
    assert "QuickBooks was not connected" in answer.text and "client id" in answer.text


@pytest.mark.usefixtures("no_function_error")
@pytest.mark.parametrize("method", ["sendRequestXML", "receiveResponseXML", "closeConnection"])
def test_a_ticket_longer_than_any_we_issue_is_a_client_fault(rig: QboRig, method: str) -> None:
    # A ticket is a DynamoDB key; DynamoDB refuses one over 2 KB (moto checks only writes).
    body = envelope(method, ticket="t" * 3000)
    answer = httpx.post(_qbwc(rig), content=body, headers=SOAP, timeout=30)

    assert answer.status_code == 400
    assert _fault(answer) == ("soap:Client", "the ticket is not one this service issued")


@pytest.mark.usefixtures("no_function_error")
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"\x80\x81\xfe\xff", "application/json"),
        (b"", "application/json"),
        (b"<xml/>", "text/xml"),
        (b'{"id": 1}', "application/x-www-form-urlencoded"),
    ],
    ids=["non-utf-8", "empty", "xml", "form"],
)
def test_an_unsigned_webhook_of_any_body_is_a_4xx(
    rig: QboRig, body: bytes, content_type: str
) -> None:
    answer = httpx.post(
        f"{rig.runtime.base_url}/webhooks/{SHOP}",
        content=body,
        headers={"Content-Type": content_type},
        timeout=30,
    )

    assert 400 <= answer.status_code < 500, answer.text

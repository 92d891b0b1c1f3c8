"""The simulated Web Connector against a small QBWC web service that follows Intuit's WSDL.

The service here is deliberately simple (a queue of qbXML requests); the real one is
connector.ledgers.qbd.qbwc. What is asserted is what QBWC puts on the wire and in what order.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from lxml import etree

from simulators.httpserver import LoopbackServer, Request, Response
from simulators.qbd import QbdCompany
from simulators.qbwc import WebConnector

NS = "http://developer.intuit.com/"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
USER, PASSWORD = "shop-sync", "s3cret-pass"


def qbxml(body: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><?qbxml version="13.0"?><QBXML>'
        f'<QBXMLMsgsRq onError="continueOnError">{body}</QBXMLMsgsRq></QBXML>'
    )


def customer_add(name: str) -> str:
    return qbxml(f"<CustomerAddRq><CustomerAdd><Name>{name}</Name></CustomerAdd></CustomerAddRq>")


@dataclass
class Call:
    method: str
    params: dict[str, str]
    soap_action: str
    content_type: str


@dataclass
class QueueService:
    """A QBWC web service that drains a queue of qbXML requests, one per sendRequestXML."""

    pending: list[str]
    client_version_answer: str = ""
    noops_before_work: int = 0
    auth_extra: tuple[str, ...] = ()
    calls: list[Call] = field(default_factory=list)
    received: list[str] = field(default_factory=list)
    in_flight: str | None = None
    last_error: str = ""
    total: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.total = len(self.pending)

    def handle(self, request: Request) -> Response:
        root = etree.fromstring(
            request.body, etree.XMLParser(resolve_entities=False, no_network=True)
        )
        call = root.find(f"{{{SOAP}}}Body")[0]
        method = etree.QName(call).localname
        params = {etree.QName(c).localname: c.text or "" for c in call}
        with self.lock:
            self.calls.append(
                Call(
                    method,
                    params,
                    request.headers.get("soapaction", ""),
                    request.headers.get("content-type", ""),
                )
            )
            result = getattr(self, method)(params)
        envelope = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"soap": SOAP})
        body = etree.SubElement(
            etree.SubElement(envelope, f"{{{SOAP}}}Body"),
            f"{{{NS}}}{method}Response",
            nsmap={None: NS},
        )
        out = etree.SubElement(body, f"{{{NS}}}{method}Result")
        if isinstance(result, list):
            for value in result:
                etree.SubElement(out, f"{{{NS}}}string").text = value
        else:
            out.text = str(result)
        return Response(200, etree.tostring(envelope, xml_declaration=True, encoding="utf-8"),
                        {"Content-Type": "text/xml; charset=utf-8"})  # fmt: skip

    def serverVersion(self, params: dict[str, str]) -> str:
        return "1.0.0"

    def clientVersion(self, params: dict[str, str]) -> str:
        return self.client_version_answer

    def authenticate(self, params: dict[str, str]) -> list[str]:
        if (params.get("strUserName"), params.get("strPassword")) != (USER, PASSWORD):
            return ["", "nvu"]
        if self.in_flight is not None:  # sent last session, never answered: send it again
            self.pending.insert(0, self.in_flight)
            self.in_flight = None
        if not self.pending:
            return ["ticket-none", "none"]
        return ["ticket-1", "", *self.auth_extra]

    def sendRequestXML(self, params: dict[str, str]) -> str:
        if self.noops_before_work:
            self.noops_before_work -= 1
            self.last_error = "NoOp"
            return "NoOp"
        if not self.pending:
            return ""
        self.in_flight = self.pending.pop(0)
        return self.in_flight

    def receiveResponseXML(self, params: dict[str, str]) -> int:
        self.in_flight = None
        if params.get("hresult"):
            self.last_error = f"{params['hresult']}: {params['message']}"
            return -1
        self.received.append(params.get("response", ""))
        done = self.total - len(self.pending)
        return 100 if not self.pending else max(1, done * 100 // self.total)

    def getLastError(self, params: dict[str, str]) -> str:
        return self.last_error

    def connectionError(self, params: dict[str, str]) -> str:
        self.last_error = f"{params['hresult']}: {params['message']}"
        return "done"

    def closeConnection(self, params: dict[str, str]) -> str:
        return "OK"


@pytest.fixture
def company() -> QbdCompany:
    return QbdCompany()


@pytest.fixture
def service() -> QueueService:
    return QueueService([customer_add("Jane Doe"), customer_add("John Roe")])


@pytest.fixture
def server(service: QueueService) -> Iterator[LoopbackServer]:
    with LoopbackServer(service.handle) as running:
        yield running


def connector(server: LoopbackServer, company: QbdCompany, **options: object) -> WebConnector:
    sleeps: list[float] = []
    wc = WebConnector(f"{server.base_url}/qbwc/shop", USER, PASSWORD, company, sleep=sleeps.append,
                      noop_pause_s=0.01, **options)  # type: ignore[arg-type]  # fmt: skip
    wc.sleeps = sleeps  # type: ignore[attr-defined]
    return wc


def test_a_session_calls_the_methods_in_qbwc_order_and_drains_the_queue(
    server: LoopbackServer, service: QueueService, company: QbdCompany
) -> None:
    with connector(server, company) as wc:
        report = wc.run_session()
    assert report.calls == [
        "serverVersion", "clientVersion", "authenticate",
        "sendRequestXML", "receiveResponseXML", "sendRequestXML", "receiveResponseXML",
        "closeConnection",
    ]  # fmt: skip
    assert report.outcome == "done"
    assert report.percents == [50, 100]
    assert report.close_message == "OK"
    assert [c.name for c in company.customers()] == ["Cash Customer", "Jane Doe", "John Roe"]
    # what QuickBooks answered is what the service received
    assert service.received == report.responses
    assert 'statusCode="0"' in service.received[0]


def test_the_wire_carries_wsdl_names_soap_action_and_content_type(
    server: LoopbackServer, service: QueueService, company: QbdCompany
) -> None:
    with connector(server, company) as wc:
        wc.run_session()
    by_method = {c.method: c for c in service.calls}
    for call in service.calls:
        assert call.soap_action == f'"http://developer.intuit.com/{call.method}"'
        assert call.content_type == "text/xml; charset=utf-8"
    assert by_method["serverVersion"].params == {}
    assert by_method["clientVersion"].params == {"strVersion": "2.3.0.36"}
    assert by_method["authenticate"].params == {"strUserName": USER, "strPassword": PASSWORD}
    sends = [c.params for c in service.calls if c.method == "sendRequestXML"]
    assert list(sends[0]) == [
        "ticket", "strHCPResponse", "strCompanyFileName", "qbXMLCountry", "qbXMLMajorVers", "qbXMLMinorVers",
    ]  # fmt: skip
    # the Host/Company query response goes with the first call only
    assert (
        "<HostQueryRs" in sends[0]["strHCPResponse"]
        and "<CompanyQueryRs" in sends[0]["strHCPResponse"]
    )
    assert sends[1]["strHCPResponse"] == ""
    assert sends[0]["ticket"] == "ticket-1" and sends[0]["qbXMLCountry"] == "US"
    assert sends[0]["strCompanyFileName"].endswith(".qbw")
    receive = next(c.params for c in service.calls if c.method == "receiveResponseXML")
    assert list(receive) == ["ticket", "response", "hresult", "message"]
    assert receive["hresult"] == "" and receive["message"] == ""


def test_nothing_to_do_is_none_and_the_connection_is_closed(
    server: LoopbackServer, company: QbdCompany
) -> None:
    service_empty = QueueService([])
    with LoopbackServer(service_empty.handle) as empty, connector(empty, company) as wc:
        report = wc.run_session()
    assert report.outcome == "none"
    assert report.calls == ["serverVersion", "clientVersion", "authenticate", "closeConnection"]


def test_a_bad_password_is_nvu_and_the_session_stops(
    server: LoopbackServer, company: QbdCompany
) -> None:
    with WebConnector(f"{server.base_url}/qbwc/shop", USER, "wrong", company) as wc:
        report = wc.run_session()
    assert report.outcome == "nvu"
    assert report.calls == ["serverVersion", "clientVersion", "authenticate"]
    assert company.customers()[-1].name == "Cash Customer"


def test_client_version_e_aborts_and_w_warns(company: QbdCompany) -> None:
    abort = QueueService(
        [customer_add("A")], client_version_answer="E:Please upgrade the Web Connector"
    )
    warn = QueueService(
        [customer_add("B")], client_version_answer="W:A newer Web Connector is available"
    )
    with LoopbackServer(abort.handle) as s1, connector(s1, company) as wc:
        aborted = wc.run_session()
    with LoopbackServer(warn.handle) as s2, connector(s2, company) as wc:
        warned = wc.run_session()
    assert aborted.outcome == "aborted" and aborted.calls == ["serverVersion", "clientVersion"]
    assert aborted.errors == ["Please upgrade the Web Connector"]
    assert warned.outcome == "done" and warned.warnings == ["A newer Web Connector is available"]


def test_noop_asks_get_last_error_then_pauses_and_asks_again(company: QbdCompany) -> None:
    service = QueueService([customer_add("A")], noops_before_work=2, auth_extra=("30", "60"))
    with LoopbackServer(service.handle) as server, connector(server, company) as wc:
        report = wc.run_session()
    assert report.calls[3:9] == [
        "sendRequestXML", "getLastError", "sendRequestXML", "getLastError", "sendRequestXML", "receiveResponseXML",
    ]  # fmt: skip
    assert wc.sleeps == [0.01, 0.01]  # type: ignore[attr-defined]
    assert report.noop_pauses == 2 and report.outcome == "done"
    assert (report.postpone_s, report.min_run_every_s) == (30, 60)


def test_a_request_quickbooks_cannot_parse_goes_back_as_hresult_0x80040400(
    company: QbdCompany,
) -> None:
    service = QueueService([customer_add("Łukasz")])
    with LoopbackServer(service.handle) as server, connector(server, company) as wc:
        report = wc.run_session()
    receive = next(c.params for c in service.calls if c.method == "receiveResponseXML")
    assert receive["response"] == ""
    assert receive["hresult"] == "0x80040400"
    assert (
        receive["message"] == "QuickBooks found an error when parsing the provided XML text stream."
    )
    assert report.percents == [-1]
    assert report.calls[-2:] == ["getLastError", "closeConnection"]
    assert report.last_errors[-1].startswith("0x80040400")


def test_a_company_that_cannot_be_opened_is_reported_through_connection_error(
    server: LoopbackServer, service: QueueService, company: QbdCompany
) -> None:
    company.fail_open_company(times=1)
    with connector(server, company) as wc:
        failed = wc.run_session()
        recovered = wc.run_session()
    assert failed.outcome == "connection_error"
    assert failed.calls == [
        "serverVersion",
        "clientVersion",
        "authenticate",
        "connectionError",
        "closeConnection",
    ]
    error = next(c.params for c in service.calls if c.method == "connectionError")
    assert error == {
        "ticket": "ticket-1",
        "hresult": "0x80040408",
        "message": "Could not start QuickBooks.",
    }
    assert recovered.outcome == "done"


def test_a_dropped_connection_ends_the_session_and_the_next_one_starts_over(
    server: LoopbackServer, service: QueueService, company: QbdCompany
) -> None:
    with connector(server, company) as wc:
        wc.drop_connection_after(4)  # serverVersion, clientVersion, authenticate, sendRequestXML
        dropped = wc.run_session()
        again = wc.run_session()
    assert dropped.outcome == "dropped"
    assert dropped.calls == ["serverVersion", "clientVersion", "authenticate", "sendRequestXML"]
    assert len(dropped.requests) == 1  # QuickBooks ran it; the answer never reached the service
    assert again.calls[:3] == ["serverVersion", "clientVersion", "authenticate"]
    assert again.outcome == "done"
    # the service sent the unanswered request again; QuickBooks kept the first one's work
    assert 'statusCode="3100"' in again.responses[0]
    assert [c.name for c in company.customers()].count("Jane Doe") == 1


def test_a_drop_after_delivery_loses_only_the_answer(
    server: LoopbackServer, service: QueueService, company: QbdCompany
) -> None:
    with connector(server, company) as wc:
        wc.drop_connection_after(4, after_delivery=True)
        report = wc.run_session()
    assert report.outcome == "dropped"
    assert report.calls[-1] == "receiveResponseXML"  # it reached the service
    assert len(service.received) == 1


def test_a_lost_response_leaves_the_work_in_quickbooks(
    server: LoopbackServer, service: QueueService, company: QbdCompany
) -> None:
    with connector(server, company) as wc:
        wc.lose_response_once()
        report = wc.run_session()
    assert report.outcome == "response_lost"
    assert report.calls[-1] == "sendRequestXML"
    assert "Jane Doe" in [c.name for c in company.customers()]
    assert service.received == []
    assert not company.session_open


def test_plain_http_to_another_host_is_refused_like_qbwc1051(company: QbdCompany) -> None:
    with pytest.raises(ValueError, match="QBWC1051"):
        WebConnector("http://connector.example.com/qbwc/shop", USER, PASSWORD, company)


def test_set_up_from_a_qwc_file(
    server: LoopbackServer, service: QueueService, company: QbdCompany
) -> None:
    qwc = (
        "<?xml version='1.0'?><QBWCXML><AppName>ml-connector</AppName>"
        f"<AppURL>{server.base_url}/qbwc/shop</AppURL><UserName>{USER}</UserName>"
        "<QBType>QBFS</QBType><Scheduler><RunEveryNMinutes>15</RunEveryNMinutes></Scheduler></QBWCXML>"
    )
    with WebConnector.from_qwc(qwc, PASSWORD, company, noop_pause_s=0) as wc:
        report = wc.run_session()
    assert report.outcome == "done" and len(service.received) == 2


# -- against the connector's own QBWC endpoint, through the local runtime ------------------------


def test_the_web_connector_drains_the_connectors_outbox_into_quickbooks_once() -> None:
    from simulators.shops import WooCommerceDriver
    from simulators.shops.desktop import DesktopDay

    # Given orders queued for a Desktop connection, and sessions that drop, lose an answer,
    # meet a locked invoice, a vendor-held customer name and a company that will not open
    scenario = DesktopDay(WooCommerceDriver(), orders=12)
    # When the simulated Web Connector runs its sessions against POST /qbwc/{connection}
    report = scenario.run()
    # Then every order is one transaction with the store's total, every customer is there once
    assert report.ok, report.summary()
    outcomes = [s.outcome for s in report.sessions]
    assert {"dropped", "response_lost", "connection_error"} <= set(outcomes)
    assert outcomes[-1] == "none"
    assert report.statuses.get(3175) == 1 and report.statuses.get(3100, 0) >= 1
    for session in report.sessions:
        assert session.calls[:3] == ["serverVersion", "clientVersion", "authenticate"]
        if session.outcome == "done":
            assert session.percents[-1] == 100 and session.calls[-1] == "closeConnection"

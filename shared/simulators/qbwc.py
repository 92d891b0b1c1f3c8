"""A simulated QuickBooks Web Connector: polls a QBWC SOAP endpoint like the real one.

One ``run_session()`` is one scheduled run of the Web Connector (QBWC Programmer's Guide,
ch. 10, and ../shared/reference/qbd/FACTS.md §1, §6):

serverVersion -> clientVersion ("E:" aborts, "W:" warns) -> authenticate (ticket, then ""
or a company file = work, "none" = nothing to do, "nvu" = bad login, "busy"; optional
postpone seconds) -> QuickBooks opens the company (failure: connectionError, which answers
"done" or another file to try) -> loop: sendRequestXML (strHCPResponse only on the first
call; "" = finished, "NoOp" = getLastError then pause) -> QuickBooks runs the qbXML ->
receiveResponseXML (response, or hresult/message when QuickBooks threw) -> percent done
(100 = finished, negative = getLastError) -> closeConnection.

Faults: ``drop_connection_after(n)`` (the HTTP connection dies on call n+1; the session ends
and the next run starts over), ``lose_response_once()`` (QuickBooks did the work, the Web
Connector never delivers the answer), and whatever the QbdCompany is told to do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from lxml import etree

from simulators.qbd import CompanyOpenError, QbdCompany, QbXmlParseError, ResponseLost
from simulators.qbwc_soap import (
    CONTENT_TYPE,
    USER_AGENT,
    SoapFault,
    SoapProtocolError,
    parse_result,
    request_envelope,
    soap_action,
)

QBWC_VERSION = "2.3.0.36"
MAX_CONNECTION_RETRIES = 2  # the Guide: "don't retry more than a couple of times"


# A session that needs more messages than this is stuck, not busy (1,000 orders take ~30).
MAX_MESSAGES_PER_SESSION = 2_000


class ConnectionDropped(Exception):
    """The HTTP connection to the web service failed (injected)."""


@dataclass
class SessionReport:
    calls: list[str] = field(default_factory=list)  # SOAP methods, in order
    requests: list[str] = field(default_factory=list)  # qbXML handed to QuickBooks
    responses: list[str] = field(default_factory=list)  # qbXML QuickBooks answered (delivered)
    percents: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    last_errors: list[str] = field(default_factory=list)  # getLastError answers
    ticket: str | None = None
    server_version: str | None = None
    auth_status: str | None = None
    postpone_s: int | None = None
    min_run_every_s: int | None = None
    close_message: str | None = None
    noop_pauses: int = 0
    outcome: str = "running"  # done | none | nvu | busy | aborted | connection_error | dropped |
    # response_lost | error

    @property
    def round_trips(self) -> int:
        return len(self.calls)


class WebConnector:
    def __init__(
        self,
        url: str,
        user_name: str,
        password: str,
        company: QbdCompany,
        *,
        noop_pause_s: float = 5.0,
        version: str = QBWC_VERSION,
        qbxml_major: int = 16,
        qbxml_minor: int = 0,
        country: str = "US",
        timeout_s: float = 100.0,  # .NET's default WebClientProtocol.Timeout
        max_noops: int = 120,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        scheme = urlsplit(url).scheme
        host = urlsplit(url).hostname or ""
        if scheme != "https" and host not in ("localhost", "127.0.0.1"):
            # QBWC1051: the real Web Connector refuses plain http except to this machine.
            raise ValueError(f"QBWC1051: the service URL is not on a secure (https) server: {url}")
        self.url = url
        self.user_name = user_name
        self.password = password
        self.company = company
        self.noop_pause_s = noop_pause_s
        self.version = version
        self.qbxml_major = qbxml_major
        self.qbxml_minor = qbxml_minor
        self.country = country
        self.max_noops = max_noops
        self._sleep = sleep
        self._client = client or httpx.Client(timeout=timeout_s)
        self._owns_client = client is None
        self._drop_after: int | None = None
        self._drop_after_delivery = False
        self._lose_response = False
        self._calls_this_session = 0
        self.sessions: list[SessionReport] = []

    @classmethod
    def from_qwc(
        cls, qwc_xml: str, password: str, company: QbdCompany, **options: object
    ) -> WebConnector:
        """Set up from a .qwc file's AppURL and UserName, as the merchant does."""
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        root = etree.fromstring(qwc_xml.encode("utf-8"), parser)
        url = (root.findtext("AppURL") or "").strip()
        user = (root.findtext("UserName") or "").strip()
        if not url or not user:
            raise ValueError("the .qwc file has no AppURL or UserName")
        return cls(url, user, password, company, **options)  # type: ignore[arg-type]

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> WebConnector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- faults ---------------------------------------------------------------------------------

    def drop_connection_after(self, n_calls: int, *, after_delivery: bool = False) -> None:
        """In the next session, HTTP call n_calls+1 fails: before it reaches the service, or
        (``after_delivery``) after the service handled it but before its answer arrives."""
        self._drop_after = n_calls
        self._drop_after_delivery = after_delivery

    def lose_response_once(self) -> None:
        """Next time QuickBooks answers, the Web Connector dies before receiveResponseXML."""
        self._lose_response = True

    # -- a session --------------------------------------------------------------------------------

    def run_session(self) -> SessionReport:
        report = SessionReport()
        self.sessions.append(report)
        self._calls_this_session = 0
        company_open = False
        try:
            company_open = self._session(report)
        except ConnectionDropped as exc:
            report.outcome = "dropped"
            report.errors.append(str(exc))
        except ResponseLost as exc:
            report.outcome = "response_lost"
            report.errors.append(str(exc))
        except (SoapFault, SoapProtocolError, httpx.HTTPError) as exc:
            report.outcome = "error"
            report.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            self._drop_after = None
            if company_open or self.company.session_open:
                self.company.close_session()
        return report

    def _session(self, report: SessionReport) -> bool:
        report.server_version = str(self._call(report, "serverVersion"))
        answer = str(self._call(report, "clientVersion", self.version))
        if answer.startswith("E:"):
            report.outcome = "aborted"
            report.errors.append(answer[2:])
            return False
        if answer.startswith(("W:", "O:")):
            report.warnings.append(answer[2:])
        auth = self._call(report, "authenticate", self.user_name, self.password)
        if not isinstance(auth, list) or len(auth) < 2:
            raise SoapProtocolError(
                f"authenticate answered {auth!r}; QBWC needs at least two strings"
            )
        ticket, status = auth[0], auth[1]
        report.ticket, report.auth_status = ticket, status
        report.postpone_s = _int_or_none(auth[2]) if len(auth) > 2 else None
        report.min_run_every_s = _int_or_none(auth[3]) if len(auth) > 3 else None
        if status == "nvu":
            report.outcome = "nvu"
            report.errors.append("The user name or password is not valid (nvu).")
            return False
        if status in ("none", "busy"):
            report.outcome = status
            report.close_message = str(self._call(report, "closeConnection", ticket))
            return False
        company_file = status  # "" = the company file open in QuickBooks
        if not self._open_company(report, ticket, company_file):
            return False
        self._exchange(report, ticket)
        return True

    def _open_company(self, report: SessionReport, ticket: str, company_file: str) -> bool:
        for _ in range(MAX_CONNECTION_RETRIES + 1):
            try:
                self.company.open_session(company_file)
                return True
            except CompanyOpenError as exc:
                report.errors.append(f"{exc.hresult}: {exc.message}")
                answer = str(
                    self._call(report, "connectionError", ticket, exc.hresult, exc.message)
                )
                if answer.strip().lower() in ("done", ""):
                    break
                company_file = answer
        report.outcome = "connection_error"
        report.close_message = str(self._call(report, "closeConnection", ticket))
        return False

    def _exchange(self, report: SessionReport, ticket: str) -> None:
        first = True
        noops = 0
        for _ in range(MAX_MESSAGES_PER_SESSION):
            hcp = self.company.host_company_preferences_response() if first else ""
            request = str(
                self._call(
                    report,
                    "sendRequestXML",
                    ticket,
                    hcp,
                    self.company.company_file,
                    self.country,
                    self.qbxml_major,
                    self.qbxml_minor,
                )
            )
            first = False
            if request == "":
                report.last_errors.append(str(self._call(report, "getLastError", ticket)))
                break
            if request == "NoOp":
                message = str(self._call(report, "getLastError", ticket))
                report.last_errors.append(message)
                noops += 1
                if message != "NoOp" or noops > self.max_noops:
                    break
                report.noop_pauses += 1
                self._sleep(self.noop_pause_s)
                continue
            report.requests.append(request)
            percent = self._run_in_quickbooks(report, ticket, request)
            report.percents.append(percent)
            if percent >= 100:
                report.outcome = "done"
                break
            if percent < 0:
                report.last_errors.append(str(self._call(report, "getLastError", ticket)))
                report.outcome = "error"
                break
        else:
            # The real Web Connector would go on for ever; a test must fail instead of hang.
            raise RuntimeError(
                f"the service asked for more than {MAX_MESSAGES_PER_SESSION} messages in one "
                "session without finishing: it is not making progress"
            )
        if report.outcome == "running":
            report.outcome = "done" if not report.errors else "error"
        report.close_message = str(self._call(report, "closeConnection", ticket))

    def _run_in_quickbooks(self, report: SessionReport, ticket: str, request: str) -> int:
        try:
            response = self.company.process(request)
        except QbXmlParseError as exc:
            report.errors.append(f"{exc.hresult}: {exc.detail}")
            answer = self._call(report, "receiveResponseXML", ticket, "", exc.hresult, exc.message)
            return _percent(answer)
        if self._lose_response:
            self._lose_response = False
            raise ResponseLost(
                "QuickBooks processed the request; the Web Connector died before receiveResponseXML"
            )
        report.responses.append(response)
        return _percent(self._call(report, "receiveResponseXML", ticket, response, "", ""))

    # -- the wire -------------------------------------------------------------------------------------

    def _call(self, report: SessionReport, method: str, *values: str | int) -> str | list[str]:
        self._calls_this_session += 1
        dropping = self._drop_after is not None and self._calls_this_session > self._drop_after
        if dropping and not self._drop_after_delivery:
            raise ConnectionDropped(f"connection failed before {method} reached the service")
        report.calls.append(method)
        answer = self._client.post(
            self.url,
            content=request_envelope(method, values),
            headers={
                "Content-Type": CONTENT_TYPE,
                "SOAPAction": soap_action(method),
                "User-Agent": USER_AGENT,
            },
        )
        if dropping:
            raise ConnectionDropped(f"connection failed before the answer to {method} arrived")
        if answer.status_code != 200 and b"Fault" not in answer.content:
            raise SoapProtocolError(f"{method}: HTTP {answer.status_code}")
        return parse_result(method, answer.content)


def _percent(answer: str | list[str]) -> int:
    text = answer if isinstance(answer, str) else ""
    try:
        return int(text.strip())
    except ValueError as exc:
        raise SoapProtocolError(f"receiveResponseXML answered {text!r}, not an int") from exc


def _int_or_none(text: str) -> int | None:
    try:
        return int(text)
    except (TypeError, ValueError):
        return None

"""SOAP 1.1 envelopes as the QuickBooks Web Connector writes and reads them (Intuit's QBWC WSDL).

Document/literal in namespace ``http://developer.intuit.com/``: the request element is the
method name with its parameters as children; the answer is ``<method>Response`` holding
``<method>Result`` (``authenticate`` answers an ArrayOfString of ``<string>`` elements).
"""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

INTUIT_NS = "http://developer.intuit.com/"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
CONTENT_TYPE = "text/xml; charset=utf-8"
USER_AGENT = "MS Web Services Client Protocol 2.0.50727.9151"

# Parameter names exactly as in the WSDL, in order.
PARAMETERS: dict[str, tuple[str, ...]] = {
    "serverVersion": (),
    "clientVersion": ("strVersion",),
    "authenticate": ("strUserName", "strPassword"),
    "sendRequestXML": (
        "ticket",
        "strHCPResponse",
        "strCompanyFileName",
        "qbXMLCountry",
        "qbXMLMajorVers",
        "qbXMLMinorVers",
    ),
    "receiveResponseXML": ("ticket", "response", "hresult", "message"),
    "connectionError": ("ticket", "hresult", "message"),
    "getLastError": ("ticket",),
    "closeConnection": ("ticket",),
}


class SoapFault(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class SoapProtocolError(Exception):
    """The answer is not the SOAP document the WSDL promises."""


def soap_action(method: str) -> str:
    return f'"{INTUIT_NS}{method}"'


def request_envelope(method: str, values: Sequence[str | int]) -> bytes:
    names = PARAMETERS[method]
    if len(names) != len(values):
        raise ValueError(f"{method} takes {names}, got {len(values)} values")
    envelope = etree.Element(
        f"{{{SOAP_NS}}}Envelope", nsmap={"soap": SOAP_NS, "xsi": XSI_NS, "xsd": XSD_NS}
    )
    body = etree.SubElement(envelope, f"{{{SOAP_NS}}}Body")
    call = etree.SubElement(body, f"{{{INTUIT_NS}}}{method}", nsmap={None: INTUIT_NS})
    for name, value in zip(names, values, strict=True):
        etree.SubElement(call, f"{{{INTUIT_NS}}}{name}").text = str(value)
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def parse_result(method: str, payload: bytes) -> str | list[str]:
    """The ``<method>Result`` text (or, for authenticate, its strings); raise SoapFault on a Fault."""
    try:
        root = etree.fromstring(payload, _parser())
    except etree.XMLSyntaxError as exc:
        raise SoapProtocolError(f"{method}: answer is not XML: {exc}") from exc
    body = root.find(f"{{{SOAP_NS}}}Body")
    if root.tag != f"{{{SOAP_NS}}}Envelope" or body is None:
        raise SoapProtocolError(f"{method}: answer is not a SOAP 1.1 envelope")
    fault = body.find(f"{{{SOAP_NS}}}Fault")
    if fault is not None:
        raise SoapFault(fault.findtext("faultcode") or "", fault.findtext("faultstring") or "")
    response = body.find(f"{{{INTUIT_NS}}}{method}Response")
    if response is None:
        raise SoapProtocolError(f"{method}: no {{{INTUIT_NS}}}{method}Response in the body")
    result = response.find(f"{{{INTUIT_NS}}}{method}Result")
    if method == "authenticate":
        if result is None:
            return []
        return [s.text or "" for s in result.findall(f"{{{INTUIT_NS}}}string")]
    if result is None:
        return ""
    return result.text or ""

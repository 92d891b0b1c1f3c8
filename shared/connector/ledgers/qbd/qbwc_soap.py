"""The Web Connector's SOAP 1.1 wire format: read a call, write a result, a fault or our WSDL.

The contract is Intuit's QBWebConnectorSvc WSDL: document/literal, namespace
http://developer.intuit.com/, one request element per method whose children are
the parameters by name. Parsing uses lxml with entities and network access off,
and refuses DTDs outright: the Web Connector never sends one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree

NS = "http://developer.intuit.com/"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
CONTENT_TYPE = "text/xml; charset=utf-8"
_WSDL = "http://schemas.xmlsoap.org/wsdl/"
_WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
_XSD = "http://www.w3.org/2001/XMLSchema"

# Method -> its parameters in WSDL order, with the XML Schema type of each.
METHODS: dict[str, tuple[tuple[str, str], ...]] = {
    "serverVersion": (),
    "clientVersion": (("strVersion", "string"),),
    "authenticate": (("strUserName", "string"), ("strPassword", "string")),
    "sendRequestXML": (
        ("ticket", "string"),
        ("strHCPResponse", "string"),
        ("strCompanyFileName", "string"),
        ("qbXMLCountry", "string"),
        ("qbXMLMajorVers", "int"),
        ("qbXMLMinorVers", "int"),
    ),
    "receiveResponseXML": (
        ("ticket", "string"),
        ("response", "string"),
        ("hresult", "string"),
        ("message", "string"),
    ),
    "connectionError": (("ticket", "string"), ("hresult", "string"), ("message", "string")),
    "getLastError": (("ticket", "string"),),
    "closeConnection": (("ticket", "string"),),
}
# What each method answers: a string, an int (receiveResponseXML) or an ArrayOfString.
RESULT_TYPES: dict[str, str] = {
    "serverVersion": "string",
    "clientVersion": "string",
    "authenticate": "ArrayOfString",
    "sendRequestXML": "string",
    "receiveResponseXML": "int",
    "connectionError": "string",
    "getLastError": "string",
    "closeConnection": "string",
}
# Some published WSDLs (consolibyte's) give serverVersion a strVersion; accept it, never require it.
_TOLERATED = {"serverVersion": {"strVersion"}}
MAX_BODY_BYTES = 8 * 1024 * 1024
# Our tickets are 43 characters. A ticket is a DynamoDB key, and DynamoDB refuses a key over
# 2 KB with an error (moto checks only writes): a Server fault, a 5xx and a page on AWS.
MAX_TICKET_CHARS = 256


class SoapFault(Exception):
    """A request we cannot serve; answered as a soap:Fault (HTTP status: ``status``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code  # "Client", "Server" or "VersionMismatch"
        self.message = message

    @property
    def status(self) -> int:
        """400 for the caller's fault, 500 only for ours.

        SOAP 1.1 sends every fault with 500, but any 5xx pages on-call (Api5xx). The Web
        Connector only sends well-formed SOAP 1.1 calls of its WSDL, so a Client or
        VersionMismatch fault answers someone else, who must not be able to page anyone.
        """
        return 500 if self.code == "Server" else 400


@dataclass(frozen=True)
class SoapCall:
    method: str
    params: dict[str, str]

    def text(self, name: str) -> str:
        return self.params.get(name, "")

    def number(self, name: str) -> int | None:
        raw = self.params.get(name, "").strip()
        try:
            return int(raw)
        except ValueError:
            return None


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def parse_call(body: bytes) -> SoapCall:
    """The method and parameters of one SOAP request; SoapFault when it is not one we serve."""
    if not body.strip():
        raise SoapFault("Client", "empty request: expected a SOAP 1.1 envelope")
    if len(body) > MAX_BODY_BYTES:
        raise SoapFault("Client", "request too large")
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as exc:
        raise SoapFault("Client", f"the request is not well-formed XML: {exc.msg}") from None
    if root.getroottree().docinfo.internalDTD is not None or (root.getroottree().docinfo.doctype):
        raise SoapFault("Client", "document type declarations are not accepted")
    if etree.QName(root).localname != "Envelope":
        raise SoapFault("Client", "the request is not a SOAP envelope")
    if etree.QName(root).namespace == SOAP12_ENV:
        raise SoapFault(
            "VersionMismatch", "this endpoint speaks SOAP 1.1, as the Web Connector does"
        )
    if etree.QName(root).namespace != SOAP_ENV:
        raise SoapFault(
            "VersionMismatch", f"unknown envelope namespace {etree.QName(root).namespace}"
        )
    bodies = root.findall(f"{{{SOAP_ENV}}}Body")
    if len(bodies) != 1:
        raise SoapFault("Client", "the envelope must have exactly one soap:Body")
    calls = [c for c in bodies[0] if isinstance(c.tag, str)]
    if len(calls) != 1:
        raise SoapFault("Client", "the soap:Body must hold exactly one method element")
    call = calls[0]
    name = etree.QName(call)
    if name.namespace != NS or name.localname not in METHODS:
        raise SoapFault("Client", f"unknown method {{{name.namespace or ''}}}{name.localname}")
    known = {p for p, _ in METHODS[name.localname]} | _TOLERATED.get(name.localname, set())
    params: dict[str, str] = {}
    for child in call:
        if not isinstance(child.tag, str):
            continue
        child_name = etree.QName(child)
        if child_name.namespace != NS or child_name.localname not in known:
            raise SoapFault("Client", f"{name.localname} has no parameter {child_name.localname}")
        params[child_name.localname] = child.text or ""
    if len(params.get("ticket", "")) > MAX_TICKET_CHARS:
        raise SoapFault("Client", "the ticket is not one this service issued")
    return SoapCall(name.localname, params)


def _envelope() -> tuple[etree._Element, etree._Element]:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    body = etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")
    return envelope, body


def _serialise(envelope: etree._Element) -> str:
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8").decode("utf-8")


def render_result(method: str, value: str | int | Sequence[str]) -> str:
    """The response envelope for ``method`` carrying ``value`` as <method>Result."""
    envelope, body = _envelope()
    response = etree.SubElement(body, f"{{{NS}}}{method}Response", nsmap={None: NS})
    result = etree.SubElement(response, f"{{{NS}}}{method}Result")
    kind = RESULT_TYPES[method]
    if kind == "ArrayOfString":
        assert not isinstance(value, str | int)
        for item in value:
            # An empty <string/> is still emitted: the Web Connector counts positions.
            etree.SubElement(result, f"{{{NS}}}string").text = item
    else:
        result.text = str(value)
    return _serialise(envelope)


def render_fault(code: str, message: str) -> str:
    envelope, body = _envelope()
    fault = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = f"soap:{code}"
    etree.SubElement(fault, "faultstring").text = message
    return _serialise(envelope)


def render_wsdl(address: str) -> str:
    """Our WSDL for the service at ``address``, built from the METHODS table (SOAP 1.1 binding)."""
    q = "tns:"
    definitions = etree.Element(
        f"{{{_WSDL}}}definitions",
        nsmap={"wsdl": _WSDL, "soap": _WSDL_SOAP, "s": _XSD, "tns": NS},
        targetNamespace=NS,
    )
    etree.SubElement(
        definitions, f"{{{_WSDL}}}documentation"
    ).text = "ml-connector: the QuickBooks Web Connector service for one connection"
    types = etree.SubElement(definitions, f"{{{_WSDL}}}types")
    schema = etree.SubElement(
        types, f"{{{_XSD}}}schema", elementFormDefault="qualified", targetNamespace=NS
    )

    def field(parent: etree._Element, name: str, kind: str) -> None:
        required = kind == "int"  # value types cannot be absent in the .NET contract
        etree.SubElement(
            parent,
            f"{{{_XSD}}}element",
            minOccurs="1" if required else "0",
            maxOccurs="1",
            name=name,
            type=f"{q}{kind}" if kind == "ArrayOfString" else f"s:{kind}",
        )

    for method, params in METHODS.items():
        request = etree.SubElement(schema, f"{{{_XSD}}}element", name=method)
        complex_type = etree.SubElement(request, f"{{{_XSD}}}complexType")
        if params:
            sequence = etree.SubElement(complex_type, f"{{{_XSD}}}sequence")
            for name, kind in params:
                field(sequence, name, kind)
        response = etree.SubElement(schema, f"{{{_XSD}}}element", name=f"{method}Response")
        sequence = etree.SubElement(
            etree.SubElement(response, f"{{{_XSD}}}complexType"), f"{{{_XSD}}}sequence"
        )
        field(sequence, f"{method}Result", RESULT_TYPES[method])
    array = etree.SubElement(schema, f"{{{_XSD}}}complexType", name="ArrayOfString")
    etree.SubElement(
        etree.SubElement(array, f"{{{_XSD}}}sequence"),
        f"{{{_XSD}}}element",
        minOccurs="0",
        maxOccurs="unbounded",
        name="string",
        nillable="true",
        type="s:string",
    )
    for method in METHODS:
        for direction, suffix in (("In", ""), ("Out", "Response")):
            message = etree.SubElement(
                definitions, f"{{{_WSDL}}}message", name=f"{method}Soap{direction}"
            )
            etree.SubElement(
                message, f"{{{_WSDL}}}part", name="parameters", element=f"{q}{method}{suffix}"
            )
    port_type = etree.SubElement(definitions, f"{{{_WSDL}}}portType", name="QBWebConnectorSvcSoap")
    for method in METHODS:
        operation = etree.SubElement(port_type, f"{{{_WSDL}}}operation", name=method)
        etree.SubElement(operation, f"{{{_WSDL}}}input", message=f"{q}{method}SoapIn")
        etree.SubElement(operation, f"{{{_WSDL}}}output", message=f"{q}{method}SoapOut")
    binding = etree.SubElement(
        definitions,
        f"{{{_WSDL}}}binding",
        name="QBWebConnectorSvcSoap",
        type=f"{q}QBWebConnectorSvcSoap",
    )
    etree.SubElement(
        binding, f"{{{_WSDL_SOAP}}}binding", transport="http://schemas.xmlsoap.org/soap/http"
    )
    for method in METHODS:
        operation = etree.SubElement(binding, f"{{{_WSDL}}}operation", name=method)
        etree.SubElement(
            operation, f"{{{_WSDL_SOAP}}}operation", soapAction=f"{NS}{method}", style="document"
        )
        for direction in ("input", "output"):
            part = etree.SubElement(operation, f"{{{_WSDL}}}{direction}")
            etree.SubElement(part, f"{{{_WSDL_SOAP}}}body", use="literal")
    service = etree.SubElement(definitions, f"{{{_WSDL}}}service", name="QBWebConnectorSvc")
    port = etree.SubElement(
        service,
        f"{{{_WSDL}}}port",
        name="QBWebConnectorSvcSoap",
        binding=f"{q}QBWebConnectorSvcSoap",
    )
    etree.SubElement(port, f"{{{_WSDL_SOAP}}}address", location=address)
    return etree.tostring(
        definitions, xml_declaration=True, encoding="utf-8", pretty_print=True
    ).decode("utf-8")

"""qbXML response messages, read into plain Python values.

Every <...Rs> element becomes a QbResponse with its requestID, status code,
severity and message, the <...Ret> records as nested dicts (a child that
repeats becomes a list; a leaf is its text) and the iterator attributes of a
paged query. Parsed with lxml with entities, DTDs and network access off; a
response that is not a qbXML response message raises QbxmlParseError saying why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

# Status codes QuickBooks Desktop answers (Intuit "status codes in response messages").
STATUS_OK = 0
STATUS_NO_MATCH = 1  # a filter (NameFilter, RefNumber, dates) matched nothing: Info
STATUS_NOT_FOUND = 500  # a ListID, FullName or TxnID the query names is not there: Warn
STATUS_NAME_IN_USE = 3100
STATUS_INVALID_REFERENCE = 3140
STATUS_IN_USE_FIRST, STATUS_IN_USE_LAST = 3170, 3180
STATUS_STALE_EDIT_SEQUENCE = 3200

_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


class QbxmlParseError(ValueError):
    """The text is not a qbXML response message; the message names the problem."""


@dataclass(frozen=True)
class QbResponse:
    request_id: str
    kind: str  # "InvoiceAddRs", ...
    status_code: int
    status_severity: str  # "Info", "Warn", "Error"
    status_message: str
    ret: dict[str, Any] | None  # the first *Ret record
    rets: list[dict[str, Any]]
    iterator_id: str | None
    iterator_remaining: int | None
    ret_kinds: list[str] = field(default_factory=list)  # tag of each ret: "ItemServiceRet", ...
    # Children that are not *Ret records: TxnDelRs/TxnVoidRs' TxnID, ErrorRecovery, ...
    other: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """The request did what it asked (0) or a query found nothing (1); not a warning/error."""
        return self.status_code in (STATUS_OK, STATUS_NO_MATCH)

    @property
    def is_error(self) -> bool:
        return self.status_severity == "Error" or self.status_code >= 1000

    def named(self, full_name: str) -> dict[str, Any] | None:
        """The record a query by name found for ``full_name``, or None: it is not there.

        QuickBooks says "not there" two ways: 1 when a filter matched nothing, and 500
        Warn ("a required element ... could not be found") when the query named a
        FullName it lacks; a 500 still carries the records found for the other names.
        """
        if self.is_error:
            return None
        wanted = full_name.strip().casefold()
        for ret in self.rets:
            if str(ret.get("FullName") or "").strip().casefold() == wanted:
                return ret
        return None


@dataclass(frozen=True)
class ResponseMessage:
    responses: list[QbResponse]
    new_message_set_id: str | None
    message_set_status_code: int | None

    def by_request_id(self) -> dict[str, QbResponse]:
        return {r.request_id: r for r in self.responses}


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
    )


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _value(element: etree._Element) -> Any:
    children = [c for c in element if isinstance(c.tag, str)]
    if not children:
        return element.text or ""
    out: dict[str, Any] = {}
    for child in children:
        name = _local(child.tag)
        value = _value(child)
        if name in out:
            existing = out[name]
            if isinstance(existing, list):
                existing.append(value)
            else:
                out[name] = [existing, value]
        else:
            out[name] = value
    return out


def as_list(value: Any) -> list[Any]:
    """A child that may be missing, single or repeated, as a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _int(value: str | None, what: str, where: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        raise QbxmlParseError(f"{where}: {what} {value!r} is not a whole number") from None


def _response(element: etree._Element, position: int) -> QbResponse:
    kind = _local(element.tag)
    where = f"{kind} (response {position})"
    code = _int(element.get("statusCode"), "statusCode", where)
    if code is None:
        raise QbxmlParseError(f"{where} has no statusCode attribute")
    rets: list[dict[str, Any]] = []
    ret_kinds: list[str] = []
    other: dict[str, Any] = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue
        name = _local(child.tag)
        value = _value(child)
        if name.endswith("Ret"):
            rets.append(value if isinstance(value, dict) else {"value": value})
            ret_kinds.append(name)
        elif name in other:
            other[name] = [*as_list(other[name]), value]
        else:
            other[name] = value
    return QbResponse(
        request_id=element.get("requestID", ""),
        kind=kind,
        status_code=code,
        status_severity=element.get("statusSeverity", ""),
        status_message=element.get("statusMessage", ""),
        ret=rets[0] if rets else None,
        rets=rets,
        iterator_id=element.get("iteratorID"),
        iterator_remaining=_int(
            element.get("iteratorRemainingCount"), "iteratorRemainingCount", where
        ),
        ret_kinds=ret_kinds,
        other=other,
    )


def parse_response(xml_text: str | bytes) -> ResponseMessage:
    """Read a qbXML response message (the ``response`` receiveResponseXML carries)."""
    if isinstance(xml_text, str):
        # lxml refuses a str that declares its own encoding; the str is already decoded.
        source: str | bytes = _DECLARATION.sub("", xml_text, count=1)
    else:
        source = xml_text
    if not source.strip():
        raise QbxmlParseError("the qbXML response is empty")
    try:
        root = etree.fromstring(source, _parser())
    except etree.XMLSyntaxError as exc:
        raise QbxmlParseError(f"the qbXML response is not well-formed XML: {exc}") from None
    if root.getroottree().docinfo.doctype:
        raise QbxmlParseError("the qbXML response has a DOCTYPE, which qbXML never uses")
    if _local(root.tag) != "QBXML":
        raise QbxmlParseError(f"the root element is <{_local(root.tag)}>, not <QBXML>")
    msgs = next((c for c in root if _local(c.tag) == "QBXMLMsgsRs"), None)
    if msgs is None:
        found = [_local(c.tag) for c in root if isinstance(c.tag, str)]
        raise QbxmlParseError(f"<QBXML> holds no <QBXMLMsgsRs> (found {found or 'nothing'})")
    responses: list[QbResponse] = []
    for child in msgs:
        name = _local(child.tag)
        if not name:
            continue
        if not name.endswith("Rs"):
            raise QbxmlParseError(f"<QBXMLMsgsRs> holds <{name}>, which is not a response")
        responses.append(_response(child, len(responses) + 1))
    return ResponseMessage(
        responses=responses,
        new_message_set_id=msgs.get("newMessageSetID"),
        message_set_status_code=_int(
            msgs.get("messageSetStatusCode"), "messageSetStatusCode", "QBXMLMsgsRs"
        ),
    )

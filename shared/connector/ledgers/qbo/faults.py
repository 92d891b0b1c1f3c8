"""QuickBooks Online Fault bodies -> classified exceptions the sync worker understands.

QBO answers errors as ``{"Fault": {"Error": [...], "type": ...}}`` in JSON, a lower-case
``{"fault": {"error": [...]}}`` variant on authentication failures, or ``<IntuitResponse><Fault>``
XML (throttling and some gateway errors come back as XML even when JSON was asked for).
A Fault can also arrive with HTTP 200, so callers parse every body, not only error statuses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from connector.errors import NeedsReconnect, PermanentError, SyncError, TransientError

# Intuit asks integrators to wait a minute after a 429; it sends no Retry-After we can trust.
THROTTLE_RETRY_AFTER_S = 60

if TYPE_CHECKING:
    from lxml import etree

_TXN_ID = re.compile(r"TxnId\s*=\s*(\w+)")


@dataclass(frozen=True)
class FaultError:
    """One ``Error`` entry of a Fault."""

    code: str
    message: str
    detail: str
    element: str


@dataclass(frozen=True)
class FaultInfo:
    """A parsed Fault: its type and errors, plus the HTTP status it came with."""

    fault_type: str
    errors: tuple[FaultError, ...]
    http_status: int | None

    @property
    def first(self) -> FaultError:
        return self.errors[0] if self.errors else FaultError("", "", "", "")


class QboFault(SyncError):
    """Base of every QuickBooks Online failure; keeps what QBO said, verbatim."""

    summary = "QuickBooks Online rejected the request"

    def __init__(self, info: FaultInfo, text: str | None = None) -> None:
        first = info.first
        self.info = info
        self.code = first.code
        self.message = first.message
        self.detail = first.detail
        self.element = first.element
        self.http_status = info.http_status
        self.fault_type = info.fault_type
        text = text or _describe(self.summary, info)
        Exception.__init__(self, text)
        # Both failure families carry these; set them here so the MRO order does not matter.
        self.reason = text
        self.retry_after_s: int | None = None


class QboTransientFault(QboFault, TransientError):
    """Worth retrying as is."""


class QboPermanentFault(QboFault, PermanentError):
    """Retrying will not help until a person fixes the cause."""


class QboThrottled(QboTransientFault):
    summary = "QuickBooks Online throttled the request (over its rate limits)"

    def __init__(self, info: FaultInfo, text: str | None = None) -> None:
        super().__init__(info, text)
        self.retry_after_s = THROTTLE_RETRY_AFTER_S


class QboServerError(QboTransientFault):
    summary = "QuickBooks Online had a server error"


class QboUnknownOutcome(QboTransientFault):
    """The request may have reached QBO but we never saw the answer: re-check before reposting."""

    summary = "No answer from QuickBooks Online; the write may or may not have been applied"


class QboTimeout(QboUnknownOutcome):
    summary = "QuickBooks Online did not answer in time; the write may or may not have been applied"


class QboStaleObject(QboTransientFault):
    """The SyncToken we sent is old: re-read the object and apply the change again."""

    summary = "Someone changed this record in QuickBooks at the same time (stale SyncToken)"


class QboBusinessRetryable(QboTransientFault):
    """Code 6000 in its "unexpected error, try again" variant."""

    summary = "QuickBooks Online reported a temporary business-validation error"


class QboAuthFailed(QboFault, NeedsReconnect):
    """401/3200 after a refresh, or 3100/120 authorization failures: the merchant must reconnect."""

    summary = "QuickBooks Online refused our credentials; reconnect the QuickBooks company"


class QboDuplicateDocNumber(QboPermanentFault):
    """6140: another transaction already has this DocNumber; ``existing_txn_id`` says which."""

    summary = "QuickBooks already has a transaction with this document number"

    def __init__(self, info: FaultInfo, text: str | None = None) -> None:
        super().__init__(info, text)
        match = _TXN_ID.search(self.detail)
        self.existing_txn_id: str | None = match.group(1) if match else None


class QboDuplicateName(QboPermanentFault):
    summary = (
        "QuickBooks already has a customer, vendor or employee with this name "
        "(names must be unique across all three)"
    )


class QboNotFound(QboPermanentFault):
    summary = (
        "A record this document refers to is inactive or missing in QuickBooks "
        "(reactivate it or fix the mapping, then replay)"
    )


class QboValidation(QboPermanentFault):
    summary = "QuickBooks Online rejected the document"


def _describe(summary: str, info: FaultInfo) -> str:
    parts = [summary]
    for error in info.errors:
        bits = [f"code {error.code}" if error.code else "", error.message, error.detail]
        text = ": ".join(b for b in bits if b)
        if error.element:
            text += f" (field {error.element})"
        if text:
            parts.append(text)
    if info.http_status is not None:
        parts.append(f"HTTP {info.http_status}")
    return " — ".join(parts)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _from_json(payload: Mapping[str, Any]) -> tuple[str, list[FaultError]] | None:
    fault = payload.get("Fault") or payload.get("fault")
    if not isinstance(fault, Mapping):
        return None
    raw_errors = fault.get("Error") or fault.get("error") or []
    if isinstance(raw_errors, Mapping):
        raw_errors = [raw_errors]
    errors = [
        FaultError(
            code=_text(e.get("code")),
            message=_text(e.get("Message", e.get("message"))),
            detail=_text(e.get("Detail", e.get("detail"))),
            element=_text(e.get("element")),
        )
        for e in raw_errors
        if isinstance(e, Mapping)
    ]
    return _text(fault.get("type")), errors


@cache
def _xml_parser() -> etree.XMLParser:
    # lxml (some 20 ms to import) is loaded by the first XML fault: most answers are JSON.
    from lxml import etree

    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _local(tag: object) -> str:
    from lxml import etree

    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _from_xml(body: bytes) -> tuple[str, list[FaultError]] | None:
    from lxml import etree

    try:
        root = etree.fromstring(body, parser=_xml_parser())
    except etree.XMLSyntaxError:
        return None
    fault = root if _local(root.tag) == "Fault" else None
    if fault is None:
        fault = next((el for el in root.iter() if _local(el.tag) == "Fault"), None)
    if fault is None:
        return None
    errors = []
    for err in fault:
        if _local(err.tag) != "Error":
            continue
        children = {_local(child.tag): (child.text or "") for child in err}
        errors.append(
            FaultError(
                code=_text(err.get("code")),
                message=_text(children.get("Message")),
                detail=_text(children.get("Detail")),
                element=_text(err.get("element")),
            )
        )
    return _text(fault.get("type")), errors


def parse_fault(body: bytes, http_status: int | None = None) -> FaultInfo | None:
    """The Fault in ``body`` (JSON or XML), or None when the body carries no Fault."""
    stripped = body.lstrip()
    parsed: tuple[str, list[FaultError]] | None = None
    if stripped.startswith(b"{"):
        try:
            payload = json.loads(stripped.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            payload = None
        if isinstance(payload, Mapping):
            parsed = _from_json(payload)
    elif stripped.startswith(b"<"):
        parsed = _from_xml(stripped)
    if parsed is None:
        return None
    fault_type, errors = parsed
    return FaultInfo(fault_type=fault_type, errors=tuple(errors), http_status=http_status)


def _is_retryable_6000(error: FaultError) -> bool:
    text = f"{error.message} {error.detail}".lower()
    return "try again" in text or "unexpected error" in text


def classify(info: FaultInfo) -> QboFault:
    """The exception for a parsed Fault; codes win over HTTP status where both speak."""
    codes = {e.code.lstrip("0") for e in info.errors}
    status = info.http_status
    fault_type = info.fault_type.lower()
    if "3001" in codes or status == 429:
        return QboThrottled(info)
    if status == 401 or codes & {"3200", "3100", "120", "100"} or "authentication" in fault_type:
        return QboAuthFailed(info)
    if "5010" in codes:
        return QboStaleObject(info)
    if "6140" in codes:
        return QboDuplicateDocNumber(info)
    if "6240" in codes:
        return QboDuplicateName(info)
    if codes & {"610", "2500"}:
        return QboNotFound(info)
    if "6000" in codes and any(e.code == "6000" and _is_retryable_6000(e) for e in info.errors):
        return QboBusinessRetryable(info)
    if status in (502, 504):
        return QboUnknownOutcome(info)
    if status is not None and status >= 500:
        return QboServerError(info)
    if "systemfault" in fault_type or codes & {"10000"}:
        return QboServerError(info)
    return QboValidation(info)


def fault_from_response(status: int, body: bytes) -> QboFault:
    """Classify an error response, whether or not its body holds a parseable Fault."""
    info = parse_fault(body, status)
    if info is None:
        snippet = body[:200].decode("utf-8", "replace").strip()
        info = FaultInfo(
            fault_type="",
            errors=(FaultError("", f"HTTP {status} without a Fault body", snippet, ""),),
            http_status=status,
        )
    return classify(info)

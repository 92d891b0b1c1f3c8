"""qbXML request messages: requests wrapped in <QBXML><QBXMLMsgsRq>, bounded in size.

A message carries several requests; with onError="continueOnError" QuickBooks
runs every one and answers each with its own status, so one bad invoice does not
hold back the rest. newMessageSetID / oldMessageSetID switch on QuickBooks'
error recovery: QuickBooks remembers the answer to a message set, and a session
that died before reading it can ask for it again instead of repeating the Adds.
"""

from __future__ import annotations

import base64
import copy
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from lxml import etree

from connector.ledgers.qbd.qbxml_text import MESSAGE_SET_ID_MAX, REQUEST_ID_MAX

QBXML_VERSIONS = ("13.0", "16.0")
DEFAULT_VERSION = "13.0"
ON_ERROR = ("continueOnError", "stopOnError")
# A message stays far below Lambda's 6 MB response limit and keeps QuickBooks' work per
# Web Connector round trip short (the Web Connector times out slow answers).
DEFAULT_MAX_BYTES = 512_000

OnError = Literal["continueOnError", "stopOnError"]


@dataclass(frozen=True)
class QbRequest:
    """One qbXML request: ``element`` is its <...Rq requestID="..."> element."""

    request_id: str
    kind: str  # "InvoiceAdd", "CustomerQuery", ...
    element: etree._Element

    def to_xml(self) -> str:
        return etree.tostring(self.element, encoding="unicode")


def new_request(kind: str, request_id: str, **attributes: str) -> etree._Element:
    """An empty <{kind}Rq requestID=...> element (extra attributes such as iterator)."""
    if not request_id or len(request_id) > REQUEST_ID_MAX:
        raise ValueError(
            f"requestID {request_id!r} must be 1 to {REQUEST_ID_MAX} characters (QuickBooks "
            f"answers status 1060 otherwise)"
        )
    element = etree.Element(f"{kind}Rq")
    element.set("requestID", request_id)
    for name, value in attributes.items():
        element.set(name, value)
    return element


def _check_version(version: str) -> None:
    if version not in QBXML_VERSIONS:
        raise ValueError(f"qbXML version {version!r} is not one of {QBXML_VERSIONS}")


def _check_message_set_id(value: str | None, name: str) -> None:
    if value is not None and not 0 < len(value) <= MESSAGE_SET_ID_MAX:
        raise ValueError(f"{name} {value!r} must be 1 to {MESSAGE_SET_ID_MAX} characters")


def _prolog(version: str) -> str:
    return f'<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="{version}"?>\n'


def render_message(
    requests: Sequence[QbRequest],
    *,
    version: str = DEFAULT_VERSION,
    on_error: str = "continueOnError",
    new_message_set_id: str | None = None,
    old_message_set_id: str | None = None,
) -> str:
    """The qbXML text of one request message (the string sendRequestXML returns)."""
    _check_version(version)
    if on_error not in ON_ERROR:
        raise ValueError(f"onError {on_error!r} is not one of {ON_ERROR}")
    _check_message_set_id(new_message_set_id, "newMessageSetID")
    _check_message_set_id(old_message_set_id, "oldMessageSetID")
    if not requests:
        raise ValueError("a qbXML message needs at least one request")
    ids = [r.request_id for r in requests]
    if len(set(ids)) != len(ids):
        raise ValueError(f"requestIDs repeat within one message: {ids}")
    root = etree.Element("QBXML")
    msgs = etree.SubElement(root, "QBXMLMsgsRq")
    if old_message_set_id is not None:
        msgs.set("oldMessageSetID", old_message_set_id)
    if new_message_set_id is not None:
        msgs.set("newMessageSetID", new_message_set_id)
    msgs.set("onError", on_error)
    for request in requests:
        # Appending moves an lxml element; a copy leaves the request renderable again.
        msgs.append(copy.deepcopy(request.element))
    return _prolog(version) + etree.tostring(root, encoding="unicode")


def message_set_id(requests: Sequence[QbRequest]) -> str:
    """A deterministic newMessageSetID (23 characters) for a set of requests."""
    digest = hashlib.sha256("\x1f".join(r.request_id for r in requests).encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii")[:MESSAGE_SET_ID_MAX]


def _envelope_bytes(version: str) -> int:
    # The message with no requests, plus the longest attributes we may add.
    attrs = f' oldMessageSetID="{"x" * MESSAGE_SET_ID_MAX}" newMessageSetID="{"x" * MESSAGE_SET_ID_MAX}"'
    empty = (
        _prolog(version)
        + f'<QBXML><QBXMLMsgsRq{attrs} onError="continueOnError"></QBXMLMsgsRq></QBXML>'
    )
    return len(empty.encode("utf-8"))


def split_requests(
    requests: Sequence[QbRequest],
    *,
    max_requests: int,
    max_bytes: int = DEFAULT_MAX_BYTES,
    version: str = DEFAULT_VERSION,
) -> list[list[QbRequest]]:
    """Consecutive groups of requests, each within ``max_requests`` and ``max_bytes``.

    Order is kept (a CustomerAdd stays ahead of the invoice that names the
    customer). A single request larger than ``max_bytes`` travels alone: it
    cannot be split, and holding it back forever would lose it.
    """
    if max_requests < 1:
        raise ValueError("max_requests must be at least 1")
    _check_version(version)
    budget = max_bytes - _envelope_bytes(version)
    groups: list[list[QbRequest]] = []
    current: list[QbRequest] = []
    used = 0
    for request in requests:
        size = len(etree.tostring(request.element, encoding="utf-8"))
        if current and (len(current) >= max_requests or used + size > budget):
            groups.append(current)
            current, used = [], 0
        current.append(request)
        used += size
    if current:
        groups.append(current)
    return groups


def render_messages(
    requests: Sequence[QbRequest],
    *,
    max_requests: int,
    max_bytes: int = DEFAULT_MAX_BYTES,
    version: str = DEFAULT_VERSION,
    on_error: str = "continueOnError",
    new_message_set_id: Callable[[Sequence[QbRequest]], str] | None = None,
) -> list[str]:
    """Request messages for ``requests``, split by :func:`split_requests`.

    ``new_message_set_id``, when given, names each message's set for error
    recovery (for example :func:`message_set_id`).
    """
    return [
        render_message(
            group,
            version=version,
            on_error=on_error,
            new_message_set_id=new_message_set_id(group) if new_message_set_id else None,
        )
        for group in split_requests(
            requests, max_requests=max_requests, max_bytes=max_bytes, version=version
        )
    ]

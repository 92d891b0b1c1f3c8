"""How the simulated QuickBooks Desktop reads a qbXML request document before running it.

QuickBooks rejects a whole message set it cannot parse (the request processor throws HRESULT
0x80040400, which the Web Connector hands to ``receiveResponseXML`` as ``hresult``). The rules:
well-formed XML, a ``<?qbxml version?>`` instruction, only ISO-8859-1 characters, and a
document valid against Intuit's schema for that version. The schema comes from
``../shared/reference/qbd/xsd`` when it is there; without it a structural check stands in.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

PARSE_ERROR_HRESULT = "0x80040400"
PARSE_ERROR_MESSAGE = "QuickBooks found an error when parsing the provided XML text stream."

_SCHEMA_FILES = {"13.0": "130/qbxmlops130.xsd", "16.0": "160/qbxmlops160.xsd"}
# DATETIMETYPE's pattern (qbxmltypes130.xsd): a date, optionally a time and an offset.
_DATETIME = re.compile(
    r"([0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(T[0-9]{1,2}(:[0-9]{1,2}(:[0-9]{1,2}"
    r"([+\-][0-9]{1,2}:[0-9]{1,2})?)?)?)?)?"
)
_VERSION_PI = re.compile(r'version\s*=\s*"(?P<version>\d+\.\d+)"')
DEFAULT_XSD_DIR = (
    Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "qbd" / "xsd"
)


class QbXmlParseError(Exception):
    """The request document never reached the company: what QBWC reports as an hresult."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"{PARSE_ERROR_HRESULT}: {detail}")
        self.hresult = PARSE_ERROR_HRESULT
        self.message = PARSE_ERROR_MESSAGE
        self.detail = detail


@dataclass(frozen=True)
class ParsedRequest:
    version: str
    root: etree._Element  # <QBXML>
    msgs: etree._Element  # <QBXMLMsgsRq>


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        remove_blank_text=True,
        huge_tree=False,
    )


class SchemaLibrary:
    """Intuit's qbxmlops schemas per qbXML version, loaded once (lxml schemas are not cheap)."""

    def __init__(self, xsd_dir: Path | None) -> None:
        self.xsd_dir = xsd_dir
        self._schemas: dict[str, etree.XMLSchema] = {}
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return self.xsd_dir is not None and (self.xsd_dir / _SCHEMA_FILES["13.0"]).is_file()

    def schema(self, version: str) -> etree.XMLSchema | None:
        if self.xsd_dir is None or version not in _SCHEMA_FILES:
            return None
        path = self.xsd_dir / _SCHEMA_FILES[version]
        if not path.is_file():
            return None
        with self._lock:
            if version not in self._schemas:
                self._schemas[version] = etree.XMLSchema(etree.parse(str(path), _parser()))
            return self._schemas[version]


_DEFAULT_LIBRARY = SchemaLibrary(DEFAULT_XSD_DIR if DEFAULT_XSD_DIR.is_dir() else None)


def default_library() -> SchemaLibrary:
    return _DEFAULT_LIBRARY


def parse_request(
    text: str, known_requests: frozenset[str], library: SchemaLibrary
) -> ParsedRequest:
    """Parse and validate one request document; raise QbXmlParseError the way QuickBooks would."""
    for position, char in enumerate(text):
        if ord(char) > 0xFF:
            raise QbXmlParseError(
                f"character U+{ord(char):04X} at offset {position} is outside ISO-8859-1"
            )
    version = _qbxml_version(text)
    try:
        # Bytes, because lxml refuses a str that carries an encoding declaration.
        root = etree.fromstring(text.encode("utf-8"), _parser())
    except etree.XMLSyntaxError as exc:
        raise QbXmlParseError(f"not well-formed: {exc}") from exc
    schema = library.schema(version)
    if schema is not None and not schema.validate(root):
        error = schema.error_log.last_error
        raise QbXmlParseError(f"line {error.line}: {error.message}" if error else "invalid")
    # With the schema, any request it accepts is real qbXML; without it, only the ones we know.
    msgs = _structural_check(root, known_requests if schema is None else None)
    return ParsedRequest(version=version, root=root, msgs=msgs)


def _qbxml_version(text: str) -> str:
    head = text[:400]
    start = head.find("<?qbxml")
    if start < 0:
        raise QbXmlParseError("missing <?qbxml version=...?> processing instruction")
    end = head.find("?>", start)
    match = _VERSION_PI.search(head[start:end])
    if not match:
        raise QbXmlParseError("the <?qbxml?> instruction has no version")
    return match.group("version")


def _structural_check(
    root: etree._Element, known_requests: frozenset[str] | None
) -> etree._Element:
    if root.tag != "QBXML":
        raise QbXmlParseError(f"root element is <{root.tag}>, expected <QBXML>")
    children = [c for c in root if isinstance(c.tag, str)]
    if len(children) != 1 or children[0].tag != "QBXMLMsgsRq":
        raise QbXmlParseError("<QBXML> must hold exactly one <QBXMLMsgsRq>")
    msgs = children[0]
    on_error = msgs.get("onError")
    if on_error not in ("stopOnError", "continueOnError"):
        raise QbXmlParseError(f"onError must be stopOnError or continueOnError, not {on_error!r}")
    for request in msgs:
        if not isinstance(request.tag, str):
            continue
        if known_requests is not None and request.tag not in known_requests:
            raise QbXmlParseError(f"unknown request <{request.tag}>")
        _check_filters(request)
    return msgs


def _check_filters(request: etree._Element) -> None:
    """What Intuit's schema says of query filters, checked with or without the schema files:
    MaxReturned is an integer of at least 1; a modified date matches DATETIMETYPE."""
    for node in request.iter("MaxReturned"):
        text = (node.text or "").strip()
        if not text.lstrip("+-").isdigit() or int(text) < 1:
            raise QbXmlParseError(f"<MaxReturned> {text!r} is not an integer of at least 1")
    for tag in ("FromModifiedDate", "ToModifiedDate"):
        for node in request.iter(tag):
            text = (node.text or "").strip()
            if not _DATETIME.fullmatch(text):
                raise QbXmlParseError(f"<{tag}> {text!r} is not a qbXML DATETIMETYPE")

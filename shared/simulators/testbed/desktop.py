"""A tenant with one QuickBooks Desktop connection (``desk``), its QBWC function in the runtime.

``qbwc_rig()`` starts it (``testbed.deployment``). Orders are queued the way the sync worker
queues them (QbdLedger.post_order); tests then talk SOAP to ``POST /qbwc/desk`` by hand
(``call``, ``login``, ``send``, ``receive``), or let the simulated Web Connector with a
simulated company file drain the outbox (``rig.web_connector(CONN, USER, PASSWORD, company)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

import httpx
from lxml import etree

from connector.ledgers.qbd.ledger import QbdLedger
from connector.ledgers.qbd.outbox import OutboxEntry
from connector.ledgers.qbd.password import hash_password
from connector.ledgers.qbd.qbwc_soap import NS, SOAP_ENV
from connector.model import Order, Refund
from connector.resources import QBWC, FunctionSpec
from connector.state import StateStore, SyncState
from simulators.testbed.deployment import Rig, deployment
from simulators.testbed.orders import DESK

TENANT = "desk"
CONN = DESK
USER = "shop-sync"
PASSWORD = "correct horse battery"


def connection_settings(
    document: str = "invoice",
    *,
    sync: dict[str, Any] | None = None,
    ledger: dict[str, Any] | None = None,
    **mapping: Any,
) -> dict[str, Any]:
    """The ``desk`` connection: WooCommerce into QuickBooks Desktop, ten requests a message
    (``sync``: its QuickBooks → store directions; ``ledger``: more ledger settings)."""
    settings = {
        "id": CONN,
        "document": document,
        "store": {"kind": "woocommerce", "url": "https://shop.example"},
        "ledger": {
            "kind": "qbd",
            "user_name": USER,
            "sales_tax_item": "Sales Tax",
            "max_requests_per_message": 10,
            **(ledger or {}),
        },
        "mapping": {"fallback_item": "Sales", **mapping},
    }
    if sync is not None:
        settings["sync"] = sync
    return settings


def envelope(method: str, **params: str | int) -> bytes:
    """A SOAP 1.1 request as the Web Connector writes it."""
    root = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    body = etree.SubElement(root, f"{{{SOAP_ENV}}}Body")
    call = etree.SubElement(body, f"{{{NS}}}{method}", nsmap={None: NS})
    for name, value in params.items():
        etree.SubElement(call, f"{{{NS}}}{name}").text = str(value)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


@dataclass
class Answer:
    """The service's SOAP answer, parsed."""

    status: int
    content_type: str
    root: etree._Element
    text: str

    @property
    def result(self) -> etree._Element | None:
        return self.root.find(f".//{{{NS}}}*")

    def value(self) -> str:
        found = self.root.find(f".//{{{NS}}}*/{{{NS}}}*")
        return "" if found is None or found.text is None else found.text

    def strings(self) -> list[str]:
        return [s.text or "" for s in self.root.iter(f"{{{NS}}}string")]

    def fault(self) -> tuple[str, str] | None:
        fault = self.root.find(f".//{{{SOAP_ENV}}}Fault")
        if fault is None:
            return None
        return fault.findtext("faultcode") or "", fault.findtext("faultstring") or ""


class QbwcRig(Rig):
    """The rig of the ``desk`` connection: queueing as the worker does, SOAP by hand."""

    @property
    def url(self) -> str:
        return self.qbwc_url(CONN)

    @property
    def state(self) -> StateStore:
        return self.state_store

    def ledger(self) -> QbdLedger:
        return self.desktop_ledger(CONN)

    def queue(self, order: Order) -> OutboxEntry:
        """What the sync worker does for a Desktop connection: queue it, record "queued"."""
        self.queue_order(CONN, order)
        return self.outbox.pending(CONN, 10_000)[-1]

    def queue_payment(self, order: Order, credited: Decimal = Decimal("0")) -> None:
        """What the sync worker does for a paid invoice (``credited``: what refunds credited
        to the invoice before it was paid)."""
        self.queue_order_payment(CONN, order, credited)

    def queue_refund(self, refund: Refund, order: Order) -> None:
        self.queue_order_refund(CONN, refund, order)

    def withdraw_refund(self, refund_id: int | str) -> None:
        self.queue_refund_withdrawal(CONN, refund_id)

    def let_sessions_lapse(self) -> None:
        self.lapse_sessions(CONN)

    def record(self, key: str) -> SyncState:
        """The sync state of ``<entity>#<id>`` on the connection."""
        found = self.state_of(f"{CONN}#{key}")
        if found is None:
            raise AssertionError(f"no sync state for {CONN}#{key}")
        return found

    def events(self, order_id: int | str) -> list[str]:
        return [e.event for e in self.audit_of(f"{CONN}#order#{order_id}")]

    def sync_state(self, order_id: int | str) -> SyncState:
        return self.record(f"order#{order_id}")

    def call(self, method: str, **params: str | int) -> Answer:
        raw = httpx.post(
            self.url,
            content=envelope(method, **params),
            headers={
                "Content-Type": "text/xml; charset=utf-8",
                "SOAPAction": f'"http://developer.intuit.com/{method}"',
            },
            timeout=30,
        )
        return self.answer(raw)

    @staticmethod
    def answer(raw: httpx.Response) -> Answer:
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        return Answer(
            raw.status_code,
            raw.headers.get("content-type", ""),
            etree.fromstring(raw.content, parser),
            raw.text,
        )

    def login(self, password: str = PASSWORD, user: str = USER) -> list[str]:
        return self.call("authenticate", strUserName=user, strPassword=password).strings()

    def send(self, ticket: str, *, first: bool = False) -> str:
        return self.call(
            "sendRequestXML",
            ticket=ticket,
            strHCPResponse="" if not first else "<QBXML/>",
            strCompanyFileName="",
            qbXMLCountry="US",
            qbXMLMajorVers=13,
            qbXMLMinorVers=0,
        ).value()

    def receive(self, ticket: str, response: str = "", hresult: str = "", message: str = "") -> int:
        answer = self.call(
            "receiveResponseXML", ticket=ticket, response=response, hresult=hresult, message=message
        )
        return int(answer.value())


QbwcRigs = Callable[..., AbstractContextManager[QbwcRig]]  # qbwc_rig, as the tests' fixture


@contextmanager
def qbwc_rig(
    *,
    functions: Sequence[FunctionSpec] = (QBWC,),
    document: str = "invoice",
    retention_days: int | None = None,
    sync: dict[str, Any] | None = None,
    ledger: dict[str, Any] | None = None,
    **mapping: Any,
) -> Iterator[QbwcRig]:
    """The ``desk`` connection (``mapping`` added to its mapping), with only ``functions``;
    ``retention_days`` as the tenant file sets it (None: left out, the default)."""
    with deployment(
        TENANT,
        lambda _: [connection_settings(document, sync=sync, ledger=ledger, **mapping)],
        {CONN: {"ledger": {"password_hash": hash_password(PASSWORD)}}},
        functions=functions,
        rig=QbwcRig,
        tenant_fields={} if retention_days is None else {"retention_days": retention_days},
    ) as rig:
        yield cast(QbwcRig, rig)

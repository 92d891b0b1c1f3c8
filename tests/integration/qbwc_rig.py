"""A tenant with one QuickBooks Desktop connection, its QBWC function running in a LocalRuntime.

Orders are queued the way the sync worker queues them (QbdLedger.post_order);
tests then talk SOAP to POST /qbwc/{connection} by hand, or let the simulated
Web Connector with a simulated company file drain the outbox.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from lxml import etree

from connector.config import TenantConfig
from connector.ledgers.qbd.ledger import QbdLedger
from connector.ledgers.qbd.outbox import OutboxEntry, OutboxStore
from connector.ledgers.qbd.password import hash_password
from connector.ledgers.qbd.qbwc_soap import NS, SOAP_ENV
from connector.local import LocalRuntime
from connector.model import (
    Address,
    Customer,
    Order,
    OrderLine,
    Payment,
    Refund,
    RefundLine,
    ShippingLine,
    TaxAmount,
    TaxLine,
)
from connector.resources import QBWC, FunctionSpec
from connector.state import AuditTrail, StateStore, SyncState

TENANT = "desk"
CONN = "desk"
USER = "shop-sync"
PASSWORD = "correct horse battery"


def connection_settings(document: str = "invoice", **mapping: Any) -> dict[str, Any]:
    return {
        "id": CONN,
        "document": document,
        "store": {"kind": "woocommerce", "url": "https://shop.example"},
        "ledger": {
            "kind": "qbd",
            "user_name": USER,
            "sales_tax_item": "Sales Tax",
            "max_requests_per_message": 10,
        },
        "mapping": {"fallback_item": "Sales", **mapping},
    }


def make_order(
    store_id: int,
    *,
    email: str | None = None,
    first: str = "Ada",
    last: str | None = None,
    price: str = "20.00",
    tax: str = "1.60",
    shipping: str = "5.00",
) -> Order:
    """A paid WooCommerce order: one line, taxed, with shipping; parts add up to the total."""
    when = datetime(2026, 1, 5, 15, 30, tzinfo=UTC)
    last = last or f"Buyer{store_id}"
    customer = Customer(
        connection_id=CONN,
        store_id=str(1000 + store_id),
        email=email or f"buyer{store_id}@example.com",
        first_name=first,
        last_name=last,
        billing=Address(
            first_name=first,
            last_name=last,
            line1="1 Main St",
            city="Springfield",
            region="IL",
            postcode="62701",
            country="US",
        ),
    )
    total = Decimal(price) + Decimal(tax) + Decimal(shipping)
    return Order(
        connection_id=CONN,
        store_id=str(store_id),
        number=str(store_id),
        status="processing",
        currency="USD",
        created_at=when,
        modified_at=when,
        customer=customer,
        lines=(
            OrderLine(
                line_id="1",
                sku="MUG",
                name="Mug",
                quantity=Decimal(2),
                subtotal=Decimal(price),
                total=Decimal(price),
                taxes=(TaxAmount(rate_id="1", amount=Decimal(tax)),),
            ),
        ),
        shipping_lines=(ShippingLine(line_id="s", method="Flat rate", total=Decimal(shipping)),),
        tax_lines=(
            TaxLine(
                rate_id="1", code="US-IL", label="IL", percent=Decimal(8), tax_total=Decimal(tax)
            ),
        ),
        shipping_total=Decimal(shipping),
        total_tax=Decimal(tax),
        total=total,
    )


def paid(order: Order, method: str = "stripe", transaction_id: str = "") -> Order:
    """The order as WooCommerce has it once the gateway took the money."""
    payment = Payment(
        method=method,
        method_title=method.title(),
        paid_at=order.created_at,
        transaction_id=transaction_id or f"ch_{order.store_id:0>24}",
    )
    return order.model_copy(update={"payment": payment})


def make_refund(order: Order, refund_id: int, amount: str, *, shipping: bool = False) -> Refund:
    """A refund of ``amount`` (amount-only, or the shipping line with ``shipping``)."""
    shipping_line = RefundLine(
        line_id="s",
        kind="shipping",
        sku=None,
        name="Flat rate",
        quantity=Decimal(0),
        total=Decimal(amount),
    )
    lines = (shipping_line,) if shipping else ()
    return Refund(
        connection_id=CONN,
        store_id=str(refund_id),
        order_store_id=order.store_id,
        order_number=order.number,
        currency=order.currency,
        created_at=order.created_at,
        amount=Decimal(amount),
        reason="Late",
        lines=lines,
    )


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


@dataclass
class QbwcRig:
    runtime: LocalRuntime
    config: TenantConfig

    @property
    def url(self) -> str:
        return f"{self.runtime.base_url}/qbwc/{CONN}"

    @property
    def state(self) -> StateStore:
        return StateStore(
            self.runtime.env["CONNECTOR_STATE_TABLE"],
            resource=self.runtime.boto3_resource("dynamodb"),
        )

    @property
    def trail(self) -> AuditTrail:
        return AuditTrail(
            self.runtime.env["CONNECTOR_AUDIT_TABLE"],
            resource=self.runtime.boto3_resource("dynamodb"),
        )

    @property
    def outbox(self) -> OutboxStore:
        return OutboxStore(
            self.runtime.env["CONNECTOR_OUTBOX_TABLE"],
            resource=self.runtime.boto3_resource("dynamodb"),
        )

    def ledger(self) -> QbdLedger:
        connection = self.config.connection(CONN)
        assert connection is not None
        return QbdLedger(connection=connection, outbox=self.outbox, state=self.state)

    def queue(self, order: Order) -> OutboxEntry:
        """What the sync worker does for a Desktop connection: queue it, record "queued"."""
        key = f"{CONN}#order#{order.store_id}"
        previous = self.state.get_sync_state(key)
        posted = self.ledger().post_order(order, previous)
        self.state.put_sync_state(
            (previous or SyncState(record_key=key, status="received", updated_at="")).model_copy(
                update={
                    "status": "queued",
                    "ledger_type": posted.ledger_type,
                    "doc_number": posted.doc_number,
                }
            )
        )
        return self.outbox.pending(CONN, 10_000)[-1]

    def _mark_queued(self, key: str, posted: Any) -> None:
        previous = self.state.get_sync_state(key)
        self.state.put_sync_state(
            (previous or SyncState(record_key=key, status="received", updated_at="")).model_copy(
                update={
                    "status": "queued" if posted.operation == "queued" else posted.operation,
                    "ledger_type": posted.ledger_type,
                    "doc_number": posted.doc_number,
                }
            )
        )

    def queue_payment(self, order: Order, credited: Decimal = Decimal("0")) -> None:
        """What the sync worker does for a paid invoice on a Desktop connection (``credited``:
        what refunds credited to the invoice before it was paid)."""
        document = self.sync_state(order.store_id)
        key = f"{CONN}#payment#{order.store_id}"
        self._mark_queued(key, self.ledger().post_payment(order, document, None, credited))

    def queue_refund(self, refund: Refund, order: Order) -> None:
        key = f"{CONN}#refund#{refund.store_id}"
        document = self.state.get_sync_state(f"{CONN}#order#{order.store_id}")
        self._mark_queued(key, self.ledger().post_refund(refund, order, document, None))

    def withdraw_refund(self, refund_id: int | str) -> None:
        key = f"{CONN}#refund#{refund_id}"
        previous = self.state.get_sync_state(key)
        assert previous is not None
        self._mark_queued(key, self.ledger().withdraw_refund(previous, str(refund_id)))

    def record(self, key: str) -> SyncState:
        found = self.state.get_sync_state(f"{CONN}#{key}")
        assert found is not None
        return found

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

    def let_sessions_lapse(self) -> None:
        """Time passes: a session that died without closeConnection stops counting as alive."""
        table = self.runtime.boto3_resource("dynamodb").Table(
            self.runtime.env["CONNECTOR_SESSION_TABLE"]
        )
        key = {"pk": f"active#{CONN}", "sk": "LEASE"}
        if table.get_item(Key=key).get("Item"):
            table.update_item(
                Key=key,
                UpdateExpression="SET alive_until = :past",
                ExpressionAttributeValues={":past": int(time.time()) - 1},
            )

    def events(self, order_id: int | str) -> list[str]:
        return [e.event for e in self.trail.events(f"{CONN}#order#{order_id}")]

    def sync_state(self, order_id: int | str) -> SyncState:
        found = self.state.get_sync_state(f"{CONN}#order#{order_id}")
        assert found is not None
        return found


@contextmanager
def qbwc_rig(
    *, functions: Sequence[FunctionSpec] = (QBWC,), document: str = "invoice", **mapping: Any
) -> Iterator[QbwcRig]:
    config = TenantConfig.model_validate(
        {"tenant": TENANT, "connections": [connection_settings(document, **mapping)]}
    )
    secrets = {CONN: {"ledger": {"password_hash": hash_password(PASSWORD)}}}
    with LocalRuntime(
        tenant=TENANT,
        tenant_config_json=config.model_dump_json(),
        functions=tuple(functions),
        secrets=secrets,
        poll_interval_s=0.05,
    ) as runtime:
        yield QbwcRig(runtime=runtime, config=config)

"""The QuickBooks → store direction's decisions: echoes, an invoice's order status, shipment
note and the fees that make its total (issue #13)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from connector.both_ways import fields
from connector.both_ways.echo import is_own_customer_write
from connector.both_ways.invoices import order_status, shipment_note
from connector.ledger_records import LedgerInvoice
from connector.model import Address, Customer
from connector.stores.writes import StoreCustomerRecord

HOME = Address(line1="1 Market St", city="San Francisco", region="CA", country="US")


def _store_customer(**changes: str) -> Customer:
    base = {
        "connection_id": "shop",
        "store_id": "2",
        "email": "jane@example.com",
        "first_name": "Jane",
        "last_name": "Smith",
        "phone": "(415) 555-0142",
        "billing": HOME,
    }
    return Customer.model_validate(base | changes)


def _as_answered(customer: Customer) -> dict[str, str]:
    """What the connector keeps of the store's answer to its write."""
    return fields.customer_now(
        StoreCustomerRecord(
            store_id="2",
            email=customer.email,
            first_name=customer.first_name,
            last_name=customer.last_name,
            company=customer.company,
            phone=customer.phone,
            billing=customer.billing,
            shipping=customer.shipping,
            customer_type="Wholesale",
        )
    )


def test_the_store_s_webhook_for_the_connector_s_own_write_is_recognised() -> None:
    wrote = _as_answered(_store_customer())
    assert is_own_customer_write(wrote, _store_customer())


def test_any_later_edit_in_the_store_travels_even_to_a_field_quickbooks_left_blank() -> None:
    wrote = _as_answered(_store_customer())
    assert not is_own_customer_write(wrote, _store_customer(last_name="Smith-Jones"))
    shipped = _store_customer().model_copy(update={"shipping": HOME})
    assert not is_own_customer_write(wrote, shipped)
    assert not is_own_customer_write({}, _store_customer())


def _invoice(**changes: object) -> LedgerInvoice:
    base: dict[str, object] = {
        "ledger_id": "130",
        "version": "0",
        "doc_number": "1042",
        "customer_ledger_id": "58",
        "currency": "USD",
        "total": Decimal("100.00"),
        "balance": Decimal("100.00"),
    }
    return LedgerInvoice.model_validate(base | changes)


def test_the_order_status_follows_the_balance_shipment_and_void() -> None:
    assert order_status(_invoice()) == "pending"
    assert order_status(_invoice(balance=Decimal("40"))) == "on-hold"
    assert order_status(_invoice(balance=Decimal("0"))) == "processing"
    assert order_status(_invoice(balance=Decimal("0"), tracking_number="1Z9")) == "completed"
    assert order_status(_invoice(balance=Decimal("0"), voided=True)) == "cancelled"


def test_the_shipment_note_names_what_quickbooks_has() -> None:
    assert shipment_note(_invoice()) == ""
    shipped = _invoice(
        ship_date=datetime(2026, 12, 3, tzinfo=UTC), ship_method="UPS", tracking_number="1Z9"
    )
    assert shipment_note(shipped) == (
        "Shipment from QuickBooks: shipped 2026-12-03, via UPS, tracking number 1Z9."
    )
    assert shipment_note(_invoice(tracking_number="1Z9")) == (
        "Shipment from QuickBooks: tracking number 1Z9."
    )

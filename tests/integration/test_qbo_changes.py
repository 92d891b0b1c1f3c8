"""QboChanges, the QuickBooks Online read port of the QuickBooks → store direction, against the
simulated company over HTTP: what the store side is handed for items, customers, invoices and
the change feed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import pytest

from connector.ledgers.qbo.changes import QboChanges
from connector.ledgers.qbo.client import QboClient
from connector.ledgers.qbo.faults import QboServerError
from simulators.testbed.clocks import Clock
from simulators.testbed.qbo_http import Api


class _Token:
    def __init__(self, token: str) -> None:
        self.token = token

    def access_token(self) -> str:
        return self.token

    def refresh_after_unauthorized(self, rejected: str) -> str:
        raise AssertionError("the simulator's token is valid for the whole test")


class _Slot:
    def release(self) -> None:
        return None


class _CountingLimit:
    """A CallLimit that lets everything through and counts what asked."""

    def __init__(self) -> None:
        self.acquired = 0

    def acquire(self, kind: Literal["single", "batch"] = "single") -> _Slot:
        self.acquired += 1
        return _Slot()

    def throttled(self) -> float:
        return 60.0


@pytest.fixture
def limit() -> _CountingLimit:
    return _CountingLimit()


@pytest.fixture
def port(api: Api, limit: _CountingLimit) -> tuple[QboChanges, QboClient]:
    client = QboClient(
        api_base=api.base, realm_id=api.sim.realm_id, tokens=_Token(api.token), limiter=limit
    )
    return QboChanges(client), client


def _seed(api: Api, entity: str, body: dict[str, Any]) -> dict[str, Any]:
    return api.sim.seed(entity, body)


def _catalogue(api: Api) -> dict[str, dict[str, Any]]:
    apparel = _seed(api, "Item", {"Name": "Apparel", "Type": "Category"})
    shirts = _seed(
        api, "Item", {"Name": "Shirts", "Type": "Category", "ParentRef": {"value": apparel["Id"]}}
    )
    tee = _seed(
        api,
        "Item",
        {
            "Name": "Tee",
            "Sku": "TEE-1",
            "Description": "A cotton tee",
            "Type": "Inventory",
            "UnitPrice": "12.50",
            "IncomeAccountRef": {"value": "1"},
            "ExpenseAccountRef": {"value": "7"},
            "AssetAccountRef": {"value": "6"},
            "QtyOnHand": "7",
            "InvStartDate": "2026-01-01",
            "ParentRef": {"value": shirts["Id"]},
        },
    )
    design = _seed(
        api,
        "Item",
        {
            "Name": "Design",
            "Type": "Service",
            "UnitPrice": "75",
            "IncomeAccountRef": {"value": "2"},
        },
    )
    return {"apparel": apparel, "shirts": shirts, "tee": tee, "design": design}


def test_an_inventory_item_comes_with_its_categories_price_and_stock(
    api: Api, port: tuple[QboChanges, QboClient]
) -> None:
    changes, _ = port
    made = _catalogue(api)

    tee = changes.item(made["tee"]["Id"])
    design = changes.item(made["design"]["Id"])
    shirts = changes.item(made["shirts"]["Id"])

    assert tee is not None and design is not None and shirts is not None
    assert (tee.kind, tee.name, tee.sku, tee.description) == (
        "inventory",
        "Tee",
        "TEE-1",
        "A cotton tee",
    )
    assert tee.unit_price == Decimal("12.50") and tee.currency == "USD"
    assert tee.category_path == ("Apparel", "Shirts") and tee.qty_on_hand == Decimal("7")
    assert tee.version == "0" and tee.active is True
    assert design.kind == "service" and design.qty_on_hand is None and design.category_path == ()
    assert shirts.kind == "category" and shirts.unit_price is None
    assert shirts.category_path == ("Apparel",)
    assert changes.item("999") is None


def test_a_price_edit_made_in_quickbooks_is_read_with_its_new_version(
    api: Api, port: tuple[QboChanges, QboClient]
) -> None:
    changes, _ = port
    tee = _catalogue(api)["tee"]
    api.sim.edit("Item", tee["Id"], UnitPrice="14.99", QtyOnHand="-2", Active=False)

    found = changes.item(tee["Id"])

    assert found is not None
    assert found.unit_price == Decimal("14.99") and found.version == "1"
    assert found.qty_on_hand == Decimal("-2")  # negative stock is QuickBooks' to allow
    assert found.active is False


def test_a_customer_comes_with_contacts_addresses_type_and_terms(
    api: Api, port: tuple[QboChanges, QboClient]
) -> None:
    changes, _ = port
    customer = _seed(
        api,
        "Customer",
        {
            "DisplayName": "Grace Hopper",
            "GivenName": "Grace",
            "FamilyName": "Hopper",
            "CompanyName": "Navy",
            "PrimaryEmailAddr": {"Address": "grace@example.com"},
            "PrimaryPhone": {"FreeFormNumber": "555-0100"},
            "BillAddr": {
                "Line1": "1 Main St",
                "City": "Arlington",
                "CountrySubDivisionCode": "VA",
                "PostalCode": "22201",
                "Country": "US",
            },
            "SalesTermRef": {"value": "2"},
            "CustomerTypeRef": {"value": "1", "name": "Wholesale"},
        },
    )

    found = changes.customer(customer["Id"])

    assert found is not None
    assert (found.display_name, found.first_name, found.last_name, found.company) == (
        "Grace Hopper",
        "Grace",
        "Hopper",
        "Navy",
    )
    assert found.email == "grace@example.com" and found.phone == "555-0100"
    assert (found.billing.line1, found.billing.city, found.billing.region) == (
        "1 Main St",
        "Arlington",
        "VA",
    )
    assert found.terms == "Net 15" and found.customer_type == "Wholesale"
    assert changes.customer("999") is None


def _invoice(api: Api, customer_id: str, tee_id: str, design_id: str) -> dict[str, Any]:
    return _seed(
        api,
        "Invoice",
        {
            "CustomerRef": {"value": customer_id},
            "DocNumber": "Q-1001",
            "TxnDate": "2026-05-28",
            "BillEmail": {"Address": "grace@example.com"},
            "ShipDate": "2026-05-29",
            "TrackingNum": "1Z999AA10123456784",
            "ShipMethodRef": {"value": "UPS", "name": "UPS"},
            "ShipAddr": {"Line1": "2 Dock Rd", "City": "Norfolk", "PostalCode": "23501"},
            "TxnTaxDetail": {"TotalTax": "3.40"},
            "Line": [
                {
                    "Amount": "25.00",
                    "DetailType": "SalesItemLineDetail",
                    "Description": "Tee",
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": tee_id},
                        "Qty": 2,
                        "UnitPrice": "12.50",
                    },
                },
                {
                    "Amount": "75.00",
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": design_id}, "Qty": 1},
                },
            ],
        },
    )


def test_an_invoice_comes_with_skus_tax_balance_and_shipment(
    api: Api, port: tuple[QboChanges, QboClient]
) -> None:
    changes, _ = port
    made = _catalogue(api)
    customer = _seed(api, "Customer", {"DisplayName": "Grace Hopper"})
    invoice = _invoice(api, customer["Id"], made["tee"]["Id"], made["design"]["Id"])

    found = changes.invoice(invoice["Id"])

    assert found is not None
    assert found.doc_number == "Q-1001" and found.customer_ledger_id == customer["Id"]
    assert found.customer_name == "Grace Hopper" and found.customer_email == "grace@example.com"
    assert [(line.sku, line.quantity, line.unit_price, line.amount) for line in found.lines] == [
        ("TEE-1", Decimal("2"), Decimal("12.50"), Decimal("25.00")),
        (None, Decimal("1"), Decimal("75.00"), Decimal("75.00")),
    ]
    assert found.tax_total == Decimal("3.40") and found.total == Decimal("103.40")
    assert found.balance == Decimal("103.40") and found.voided is False
    assert found.ship_date == datetime(2026, 5, 29, tzinfo=UTC)
    assert found.tracking_number == "1Z999AA10123456784" and found.ship_method == "UPS"
    assert found.shipping.city == "Norfolk" and found.currency == "USD"


def test_a_voided_invoice_reads_as_voided_and_a_deleted_one_as_gone(
    api: Api, port: tuple[QboChanges, QboClient]
) -> None:
    changes, _ = port
    made = _catalogue(api)
    customer = _seed(api, "Customer", {"DisplayName": "Grace Hopper"})
    voided = _invoice(api, customer["Id"], made["tee"]["Id"], made["design"]["Id"])
    deleted = _seed(
        api,
        "Invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "PrivateNote": "Voided by hand? no: still owed",
            "Line": [
                {
                    "Amount": "75.00",
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": made["design"]["Id"]}},
                }
            ],
        },
    )
    typed = changes.invoice(deleted["Id"])
    api.sim.void_as_person("Invoice", voided["Id"])
    api.sim.delete_as_person("Invoice", deleted["Id"])

    found = changes.invoice(voided["Id"])

    assert found is not None and found.voided is True
    assert found.total == 0 and found.balance == 0
    assert typed is not None and typed.voided is False, "a note a person typed is not a void"
    assert changes.invoice(deleted["Id"]) is None


def test_the_change_feed_names_each_change_oldest_first(
    api: Api, port: tuple[QboChanges, QboClient], qbo_clock: Clock
) -> None:
    changes, _ = port
    start = datetime.fromtimestamp(qbo_clock.now, UTC)
    qbo_clock.advance(5)
    made = _catalogue(api)
    qbo_clock.advance(60)
    api.sim.edit("Item", made["tee"]["Id"], UnitPrice="13.00")
    customer = _seed(api, "Customer", {"DisplayName": "Grace Hopper"})
    invoice = _invoice(api, customer["Id"], made["tee"]["Id"], made["design"]["Id"])
    qbo_clock.advance(5)
    api.sim.void_as_person("Invoice", invoice["Id"])

    feed = changes.changed_since(start)
    later = changes.changed_since(start + timedelta(seconds=30))

    assert [(c.entity, c.ledger_id, c.operation) for c in feed][-3:] == [
        ("ledger_item", made["tee"]["Id"], "update"),
        ("ledger_customer", customer["Id"], "create"),
        ("ledger_invoice", invoice["Id"], "void"),
    ]
    assert {c.ledger_id for c in feed if c.entity == "ledger_item"} == {
        m["Id"] for m in made.values()
    }
    assert [c.ledger_id for c in later if c.entity == "ledger_item"] == [made["tee"]["Id"]]
    assert all(c.changed_at is not None for c in feed)


def test_every_read_goes_through_the_client_its_limiter_and_faults(
    api: Api, port: tuple[QboChanges, QboClient], limit: _CountingLimit, qbo_clock: Clock
) -> None:
    changes, client = port
    made = _catalogue(api)
    changes.item(made["tee"]["Id"])
    changes.changed_since(datetime.fromtimestamp(qbo_clock.now - 60, UTC))
    api.sim.inject(500, entity="Item", operation="read")

    with pytest.raises(QboServerError):
        changes.item(made["tee"]["Id"])
    assert limit.acquired == client.calls >= 3


def test_everything_lists_inactive_records_too(
    api: Api, port: tuple[QboChanges, QboClient]
) -> None:
    changes, _ = port
    made = _catalogue(api)
    api.sim.set_active("Item", made["design"]["Id"], False)

    listed = {c.ledger_id for c in changes.everything("ledger_item")}

    assert {m["Id"] for m in made.values()} <= listed

"""The simulated QuickBooks Online company's items, its change feed (CDC) and its webhooks out."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from simulators.httpserver import LoopbackServer, Request, Response
from simulators.testbed.clocks import Clock
from simulators.testbed.qbo_http import Api, fault_of, new_customer

VERIFIER = "verifier-token-1"


def _item(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post("item", body)
    assert response.status_code == 200, response.text
    item: dict[str, Any] = response.json()["Item"]
    return item


def _inventory(name: str, sku: str, parent: str | None = None, qty: str = "5") -> dict[str, Any]:
    body: dict[str, Any] = {
        "Name": name,
        "Sku": sku,
        "Type": "Inventory",
        "UnitPrice": "12.50",
        "IncomeAccountRef": {"value": "1"},
        "ExpenseAccountRef": {"value": "7"},
        "AssetAccountRef": {"value": "6"},
        "QtyOnHand": qty,
        "InvStartDate": "2026-01-01",
    }
    if parent:
        body["ParentRef"] = {"value": parent}
    return body


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


def _cdc(api: Api, entities: str, since: float | str) -> Any:
    changed = since if isinstance(since, str) else _iso(since)
    return api.get("cdc", entities=entities, changedSince=changed)


def test_items_carry_categories_sub_items_sku_and_stock(api: Api) -> None:
    apparel = _item(api, {"Name": "Apparel", "Type": "Category"})
    shirts = _item(
        api, {"Name": "Shirts", "Type": "Category", "ParentRef": {"value": apparel["Id"]}}
    )
    tee = _item(api, _inventory("Tee", "TEE-1", shirts["Id"]))

    assert tee["FullyQualifiedName"] == "Apparel:Shirts:Tee"
    assert tee["SubItem"] is True and tee["ParentRef"] == {"value": shirts["Id"], "name": "Shirts"}
    assert tee["Sku"] == "TEE-1" and tee["TrackQtyOnHand"] is True
    assert Decimal(str(tee["QtyOnHand"])) == 5 and Decimal(str(tee["UnitPrice"])) == Decimal(
        "12.50"
    )
    assert "UnitPrice" not in apparel and apparel["SubItem"] is False
    # Renaming the category shows in the path of every item under it.
    api.sim.edit("Item", apparel["Id"], Name="Clothing")
    assert api.get(f"item/{tee['Id']}").json()["Item"]["FullyQualifiedName"] == (
        "Clothing:Shirts:Tee"
    )


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        ({**_inventory("A", "A-1"), "AssetAccountRef": None}, "2020", "AssetAccountRef"),
        (
            {k: v for k, v in _inventory("B", "B-1").items() if k != "QtyOnHand"},
            "2020",
            "QtyOnHand",
        ),
        (
            {k: v for k, v in _inventory("C", "C-1").items() if k != "InvStartDate"},
            "2020",
            "InvStartDate",
        ),
        ({"Name": "Cat", "Type": "Category", "UnitPrice": "3"}, "6000", "category"),
        (
            {"Name": "Cat", "Type": "Category", "IncomeAccountRef": {"value": "1"}},
            "6000",
            "category",
        ),
        ({**_inventory("D", "D-1"), "ParentRef": {"value": "999"}}, "2500", "ParentRef"),
        ({"Name": "Sales", "Type": "Service", "IncomeAccountRef": {"value": "2"}}, "6240", "name"),
        ({"Name": "E", "Type": "Bundle"}, "2170", "Bundle"),
    ],
)
def test_item_refusals_follow_the_references(
    api: Api, body: dict[str, Any], code: str, says: str
) -> None:
    response = api.post("item", body)

    assert response.status_code == 400
    error = fault_of(response)
    assert error["code"] == code
    assert says.lower() in (error["Detail"] + error.get("element", "")).lower()


def test_a_category_cannot_sit_under_an_item_nor_be_sold(api: Api) -> None:
    tee = _item(api, _inventory("Tee", "TEE-1"))
    under_item = api.post(
        "item", {"Name": "Sub", "Type": "Category", "ParentRef": {"value": tee["Id"]}}
    )
    category = _item(api, {"Name": "Apparel", "Type": "Category"})
    customer = new_customer(api)
    sold = api.post(
        "invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "Line": [
                {
                    "Amount": "1.00",
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": category["Id"]}},
                }
            ],
        },
    )

    assert fault_of(under_item)["code"] == "6000"
    assert fault_of(sold)["code"] == "6000" and "category" in fault_of(sold)["Detail"]


def test_a_stale_sync_token_is_refused_after_a_persons_edit(api: Api) -> None:
    tee = _item(api, _inventory("Tee", "TEE-1"))
    api.sim.edit("Item", tee["Id"], UnitPrice="14.00")

    stale = api.post(
        "item", {"Id": tee["Id"], "SyncToken": tee["SyncToken"], "sparse": True, "Name": "X"}
    )

    assert stale.status_code == 400 and fault_of(stale)["code"] == "5010"


def test_cdc_answers_each_changed_record_as_it_is_now_and_deleted_ones(
    api: Api, qbo_clock: Clock
) -> None:
    start = qbo_clock.now
    tee = _item(api, _inventory("Tee", "TEE-1"))
    customer = new_customer(api, "Grace Hopper")
    invoice = api.post(
        "invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "ShipDate": "2026-05-29",
            "TrackingNum": "1Z999",
            "Line": [
                {
                    "Amount": "25.00",
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": tee["Id"]},
                        "Qty": 2,
                        "UnitPrice": "12.50",
                    },
                }
            ],
        },
    ).json()["Invoice"]
    qbo_clock.advance(60)
    edited = api.sim.edit("Item", tee["Id"], UnitPrice="15.00", QtyOnHand="3")
    api.sim.delete_as_person("Invoice", invoice["Id"])

    since_start = _cdc(api, "Item,Customer,Invoice,Payment", start - 1).json()
    only_latest = _cdc(api, "Item", start + 30).json()

    responses = since_start["CDCResponse"][0]["QueryResponse"]
    assert len(responses) == 4  # one per entity asked for, in that order
    items, customers, invoices, payments = responses
    assert [i["Id"] for i in items["Item"]] == [tee["Id"]]  # once, as it is now
    assert items["Item"][0]["SyncToken"] == edited["SyncToken"] == "1"
    assert Decimal(str(items["Item"][0]["UnitPrice"])) == Decimal("15.00")
    assert customers["Customer"][0]["DisplayName"] == "Grace Hopper"
    assert invoices["Invoice"] == [
        {
            "domain": "QBO",
            "status": "Deleted",
            "Id": invoice["Id"],
            "MetaData": {"LastUpdatedTime": invoices["Invoice"][0]["MetaData"]["LastUpdatedTime"]},
        }
    ]
    assert payments == {}
    assert [i["Id"] for i in only_latest["CDCResponse"][0]["QueryResponse"][0]["Item"]] == [
        tee["Id"]
    ]
    assert edited["MetaData"]["LastUpdatedTime"] > tee["MetaData"]["LastUpdatedTime"]


def test_cdc_refuses_more_than_30_days_back_and_an_unknown_entity(
    api: Api, qbo_clock: Clock
) -> None:
    too_old = _cdc(api, "Item", qbo_clock.now - 31 * 86_400)
    unknown = _cdc(api, "Item,Widget", qbo_clock.now - 60)
    missing = api.get("cdc", entities="Item")

    assert too_old.status_code == 400
    assert "older than fixed days is not supported" in fault_of(too_old)["Detail"]
    assert unknown.status_code == 400 and "Widget" in fault_of(unknown)["Detail"]
    assert missing.status_code == 400 and fault_of(missing)["code"] == "2020"


def test_cdc_answers_at_most_1000_objects_oldest_first(api: Api, qbo_clock: Clock) -> None:
    start = qbo_clock.now
    for number in range(1005):
        qbo_clock.advance(1)
        api.sim.seed(
            "Item",
            {"Name": f"Item {number}", "Type": "Service", "IncomeAccountRef": {"value": "2"}},
        )

    found = _cdc(api, "Item", start).json()["CDCResponse"][0]["QueryResponse"][0]["Item"]

    assert len(found) == 1000
    assert found[0]["Name"] == "Item 0" and found[-1]["Name"] == "Item 999"


# -- webhooks out --------------------------------------------------------------------------------


class _Receiver:
    """An HTTP endpoint that records deliveries and answers with the statuses it is given."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.bodies: list[tuple[bytes, str]] = []
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        with self._lock:
            self.bodies.append((request.body, request.headers.get("intuit-signature", "")))
            status = self.statuses.pop(0) if self.statuses else 200
        return Response.of_json({}, status)


@pytest.fixture
def receiver() -> Iterator[Callable[[list[int]], tuple[_Receiver, str]]]:
    servers: list[LoopbackServer] = []

    def start(statuses: list[int]) -> tuple[_Receiver, str]:
        found = _Receiver(statuses)
        server = LoopbackServer(found)
        server.start()
        servers.append(server)
        return found, f"{server.base_url}/webhooks/qbo/shop-a"

    yield start
    for server in servers:
        server.stop()


def _signed(body: bytes, signature: str) -> bool:
    expected = base64.b64encode(hmac.new(VERIFIER.encode(), body, hashlib.sha256).digest())
    return hmac.compare_digest(expected.decode(), signature)


def test_changes_are_sent_signed_in_the_legacy_shape_and_retried_until_acknowledged(
    api: Api, receiver: Callable[[list[int]], tuple[_Receiver, str]]
) -> None:
    found, url = receiver([500, 503])
    sender = api.sim.send_webhooks(url, VERIFIER, batch_window_s=0.2)
    try:
        tee = api.sim.seed("Item", _inventory("Tee", "TEE-1"))
        api.sim.edit("Item", tee["Id"], UnitPrice="13.00")
        customer = api.sim.seed("Customer", {"DisplayName": "Ada"})
        assert sender.flush(), "the deliveries were never acknowledged"
    finally:
        api.sim.stop_webhooks(sender)

    assert [d.status for d in sender.deliveries] == [500, 503, 200]
    bodies = {body for body, _ in found.bodies}
    assert len(bodies) == 1, "a redelivery carries the same body"
    body, signature = found.bodies[-1]
    assert _signed(body, signature)
    payload = json.loads(body)
    [notification] = payload["eventNotifications"]
    assert notification["realmId"] == api.sim.realm_id
    assert [
        (e["name"], e["id"], e["operation"]) for e in notification["dataChangeEvent"]["entities"]
    ] == [
        ("Item", tee["Id"], "Create"),
        ("Item", tee["Id"], "Update"),
        ("Customer", customer["Id"], "Create"),
    ]


def test_changes_go_as_cloud_events_when_asked_and_only_for_subscribed_entities(
    api: Api, receiver: Callable[[list[int]], tuple[_Receiver, str]]
) -> None:
    found, url = receiver([])
    sender = api.sim.send_webhooks(url, VERIFIER, style="cloudevents", entities=("Invoice", "Item"))
    try:
        api.sim.seed("Customer", {"DisplayName": "Ada"})  # not subscribed: not sent
        customer = api.sim.company.read("Customer", "1")
        invoice = api.sim.seed(
            "Invoice",
            {
                "CustomerRef": {"value": customer["Id"]},
                "Line": [
                    {
                        "Amount": "10.00",
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": "2"}},
                    }
                ],
            },
        )
        api.sim.void_as_person("Invoice", invoice["Id"])
        assert sender.flush()
    finally:
        api.sim.stop_webhooks(sender)

    events = [e for body, _ in found.bodies for e in json.loads(body)]
    assert all(_signed(body, signature) for body, signature in found.bodies)
    assert [(e["type"], e["intuitentityid"], e["intuitaccountid"]) for e in events] == [
        ("qbo.invoice.created.v1", invoice["Id"], api.sim.realm_id),
        ("qbo.invoice.voided.v1", invoice["Id"], api.sim.realm_id),
    ]
    assert all(e["specversion"] == "1.0" for e in events)


def test_a_voided_invoice_keeps_its_document_with_nothing_owed(api: Api) -> None:
    customer = new_customer(api)
    invoice = api.sim.seed(
        "Invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "Line": [
                {
                    "Amount": "10.00",
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": "2"}},
                }
            ],
        },
    )
    voided = api.sim.void_as_person("Invoice", invoice["Id"])

    assert voided["PrivateNote"] == "Voided"
    assert voided["TotalAmt"] == 0 and voided["Balance"] == 0
    assert int(voided["SyncToken"]) == int(invoice["SyncToken"]) + 1
    assert [c.operation for c in api.sim.changes() if c.entity == "Invoice"] == ["Create", "Void"]

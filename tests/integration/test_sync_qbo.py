"""The sync worker through the whole local path: signed webhook -> queue -> sync -> simulated QuickBooks.

Each test asserts what the merchant sees in QuickBooks (one document, the
store's total to the cent), what the bookkeeper sees when something is parked
(the reason, in the sync state, the audit trail and the dead-letter queue),
and what the on-call engineer counts (requests made to QuickBooks).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from connector.mapping import fitted_doc_number
from connector.replay import replay_parked
from simulators.httpserver import Request, Response
from simulators.testbed.online import WEBHOOK_SECRET, QboRig, QboRigs, connection_settings
from simulators.woocommerce import LineSpec, OrderSpec
from simulators.woocommerce_catalogue import Person
from simulators.woocommerce_webhooks import php_json, webhook_signature

INV = "inv"  # invoices; strict mapping: no fallback item, no auto-create
RCPT = "rcpt"  # sales receipts, fallback item
DEL = "del"  # invoices deleted (not voided) on cancel

MUG, PRINT, BOOK, HOODIE_BLUE, POSTER = 10, 11, 12, 21, 30
JANE, OBRIEN = 2, 3  # registered customers of the simulated store


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    strict = {
        "items": {
            "MUG-01": "Sales",
            "PRINT-A2": "Sales",
            "HOODIE": "Sales",
            "POSTER-LTD": "Discontinued Widget",  # inactive in the simulated company
        },
        "shipping_item": "Shipping",
        "doc_number": "{prefix}{number}",
        "doc_prefix": "INV-",
        "tax": {"mode": "us_automated"},
    }
    lenient = {
        "fallback_item": "Sales",
        "shipping_item": "Shipping",
        "doc_number": "{prefix}{number}",
    }
    return [
        connection_settings(INV, woo_url=woo_url, qbo_url=qbo_url, mapping=strict),
        connection_settings(
            RCPT,
            woo_url=woo_url,
            qbo_url=qbo_url,
            document="sales_receipt",
            mapping={**lenient, "doc_prefix": "SR-"},
        ),
        connection_settings(
            DEL,
            woo_url=woo_url,
            qbo_url=qbo_url,
            on_cancel="delete",
            mapping={**lenient, "doc_prefix": "DEL-"},
        ),
    ]


@pytest.fixture(scope="module")
def rig(qbo_rig: QboRigs) -> Iterator[QboRig]:
    with qbo_rig(_connections) as running:
        yield running


@pytest.fixture(autouse=True)
def _no_leftover_faults(rig: QboRig) -> Iterator[None]:
    yield
    rig.qbo_hook = None
    rig.store_rewrites.clear()


def _order(rig: QboRig, *lines: tuple[int, int], **spec: Any) -> dict[str, Any]:
    spec.setdefault("customer_id", JANE)
    return rig.woo.create_order(OrderSpec(lines=[LineSpec(p, q) for p, q in lines], **spec))


def _only_document(rig: QboRig, entity: str, order_id: int) -> dict[str, Any]:
    documents = rig.documents(entity, order_id)
    assert len(documents) == 1, f"{len(documents)} {entity}s for order {order_id}"
    return documents[0]


def _store_total(rig: QboRig, order_id: int) -> Decimal:
    return Decimal(rig.woo.get_order(order_id)["total"])


def _writes(rig: QboRig, mark: int) -> list[str]:
    return [f"{r.method} {r.path}" for r in rig.requests_since(mark) if r.method == "POST"]


# --- posting ---------------------------------------------------------------------------------


def test_an_order_becomes_one_invoice_with_every_part_and_the_store_total(rig: QboRig) -> None:
    order = _order(rig, (MUG, 2), (HOODIE_BLUE, 1), coupons=["save10"], shipping="flat_rate")
    rig.sync(INV, "order.created", order["id"])

    invoice = _only_document(rig, "Invoice", order["id"])
    assert invoice["DocNumber"] == f"INV-{order['number']}"
    assert f"WooCommerce order #{order['number']} (id {order['id']})" in invoice["PrivateNote"]
    assert "Coupons: save10" in invoice["PrivateNote"]
    assert Decimal(str(invoice["TotalAmt"])) == Decimal(order["total"])
    lines = [line for line in invoice["Line"] if line["DetailType"] != "SubTotalLineDetail"]
    items = [line for line in lines if line["DetailType"] == "SalesItemLineDetail"]
    products = [line for line in items if line["SalesItemLineDetail"]["ItemRef"]["value"] == "2"]
    shipping = [line for line in items if line["SalesItemLineDetail"]["ItemRef"]["value"] == "3"]
    assert [Decimal(str(line["SalesItemLineDetail"]["Qty"])) for line in products] == [2, 1]
    assert sum(Decimal(str(line["Amount"])) for line in products) == sum(
        Decimal(item["subtotal"]) for item in order["line_items"]
    )
    assert [Decimal(str(line["Amount"])) for line in shipping] == [Decimal(order["shipping_total"])]
    (discount,) = [line for line in lines if line["DetailType"] == "DiscountLineDetail"]
    assert Decimal(str(discount["Amount"])) == Decimal(order["discount_total"]) > 0
    assert Decimal(str(invoice["TxnTaxDetail"]["TotalTax"])) == Decimal(order["total_tax"]) > 0

    state = rig.sync_state(INV, order["id"])
    assert (state.status, state.ledger_id, state.ledger_type) == (
        "posted",
        invoice["Id"],
        "Invoice",
    )
    assert state.doc_number == invoice["DocNumber"]
    assert rig.events(INV, order["id"]) == ["received", "fetched", "posted"]
    posted = rig.audit(INV, order["id"])[-1]
    assert posted.ledger_id == invoice["Id"] and order["total"] in posted.outcome


def test_a_sales_receipt_connection_posts_a_sales_receipt(rig: QboRig) -> None:
    order = _order(rig, (PRINT, 1), (BOOK, 3), payment_method=("stripe", "Credit Card (Stripe)"))
    rig.sync(RCPT, "order.created", order["id"])

    receipt = _only_document(rig, "SalesReceipt", order["id"])
    assert receipt["DocNumber"] == f"SR-{order['number']}"
    assert Decimal(str(receipt["TotalAmt"])) == Decimal(order["total"])
    assert rig.documents("Invoice", order["id"]) == []
    assert rig.sync_state(RCPT, order["id"]).ledger_type == "SalesReceipt"


# --- updates, cancellations, repeats ---------------------------------------------------------


def test_an_update_changes_the_same_invoice_and_an_unchanged_one_is_skipped(rig: QboRig) -> None:
    order = _order(rig, (MUG, 1))
    rig.sync(INV, "order.created", order["id"])
    before = _only_document(rig, "Invoice", order["id"])

    rig.woo.update_order(order["id"], lines=[LineSpec(MUG, 3), LineSpec(PRINT, 1)])
    rig.sync(INV, "order.updated", order["id"])

    after = _only_document(rig, "Invoice", order["id"])
    assert after["Id"] == before["Id"]
    assert int(after["SyncToken"]) > int(before["SyncToken"])
    assert (
        Decimal(str(after["TotalAmt"]))
        == _store_total(rig, order["id"])
        != Decimal(str(before["TotalAmt"]))
    )
    assert rig.events(INV, order["id"])[-1] == "updated"

    writes_before = rig.qbo.writes
    mark = len(rig.qbo.request_log)
    rig.woo.update_order(order["id"], status="completed")  # nothing QuickBooks shows changes
    rig.sync(INV, "order.updated", order["id"])

    skipped = rig.audit(INV, order["id"])[-1]
    assert skipped.event == "skipped" and "unchanged" in skipped.outcome
    assert _writes(rig, mark) == [] and rig.qbo.writes == writes_before
    assert _only_document(rig, "Invoice", order["id"])["SyncToken"] == after["SyncToken"]


def test_a_cancelled_order_voids_its_invoice(rig: QboRig) -> None:
    order = _order(rig, (MUG, 2))
    rig.sync(INV, "order.created", order["id"])
    posted = _only_document(rig, "Invoice", order["id"])

    rig.woo.update_order(order["id"], status="cancelled")
    rig.sync(INV, "order.updated", order["id"])

    voided = _only_document(rig, "Invoice", order["id"])
    assert voided["Id"] == posted["Id"]
    assert Decimal(str(voided["TotalAmt"])) == 0
    assert rig.sync_state(INV, order["id"]).status == "voided"
    assert rig.events(INV, order["id"])[-1] == "voided"


def test_a_trashed_order_voids_its_invoice(rig: QboRig) -> None:
    order = _order(rig, (PRINT, 1))
    rig.sync(INV, "order.created", order["id"])

    rig.woo.trash_order(order["id"])
    rig.sync(INV, "order.deleted", order["id"])

    assert Decimal(str(_only_document(rig, "Invoice", order["id"])["TotalAmt"])) == 0
    assert rig.sync_state(INV, order["id"]).status == "voided"


def test_a_cancelled_sales_receipt_is_voided(rig: QboRig) -> None:
    order = _order(rig, (PRINT, 1))
    rig.sync(RCPT, "order.created", order["id"])
    rig.woo.update_order(order["id"], status="cancelled")
    rig.sync(RCPT, "order.updated", order["id"])

    assert Decimal(str(_only_document(rig, "SalesReceipt", order["id"])["TotalAmt"])) == 0
    assert rig.sync_state(RCPT, order["id"]).status == "voided"


def test_on_cancel_delete_deletes_the_invoice(rig: QboRig) -> None:
    order = _order(rig, (MUG, 1))
    rig.sync(DEL, "order.created", order["id"])
    assert _only_document(rig, "Invoice", order["id"])["DocNumber"] == f"DEL-{order['number']}"

    rig.woo.update_order(order["id"], status="cancelled")
    rig.sync(DEL, "order.updated", order["id"])

    assert rig.documents("Invoice", order["id"]) == []
    assert rig.sync_state(DEL, order["id"]).status == "deleted"
    assert rig.events(DEL, order["id"])[-1] == "deleted"


def test_an_order_reinstated_after_its_invoice_was_voided_is_parked_with_the_way_out(
    rig: QboRig,
) -> None:
    order = _order(rig, (MUG, 1))
    rig.sync(INV, "order.created", order["id"])
    rig.woo.update_order(order["id"], status="cancelled")
    rig.sync(INV, "order.updated", order["id"])
    rig.woo.update_order(order["id"], status="processing")
    rig.sync(INV, "order.updated", order["id"])

    (document,) = rig.documents("Invoice", order["id"])
    assert Decimal(str(document["TotalAmt"])) == 0, "the voided invoice is left as it is"
    state = rig.sync_state(INV, order["id"])
    assert state.status == "parked"
    assert "cannot un-void" in (state.last_error or "")
    assert rig.events(INV, order["id"])[-1] == "parked"


def test_an_order_reinstated_after_its_invoice_was_deleted_is_posted_anew(rig: QboRig) -> None:
    order = _order(rig, (MUG, 1))
    rig.sync(DEL, "order.created", order["id"])
    rig.woo.update_order(order["id"], status="cancelled")
    rig.sync(DEL, "order.updated", order["id"])
    rig.woo.update_order(order["id"], status="processing")
    rig.sync(DEL, "order.updated", order["id"])

    (document,) = rig.documents("Invoice", order["id"])
    assert str(document["TotalAmt"]) == order["total"]
    assert rig.sync_state(DEL, order["id"]).status == "posted"


def test_a_new_store_customer_is_audited_as_created(rig: QboRig) -> None:
    person = rig.woo.create_customer(first_name="Ines", last_name="Duarte", email="ines@example.pt")
    rig.sync(RCPT, "customer.created", person["id"])
    (event,) = [e for e in rig.audit(RCPT, person["id"], "customer") if e.event == "posted"]
    assert event.outcome == "created Customer Ines Duarte"


def test_repeats_and_a_stale_delivery_leave_one_invoice_with_the_newest_content(
    rig: QboRig,
) -> None:
    order = _order(rig, (MUG, 1))
    rig.deliver(INV, "order.created", order["id"])
    rig.deliver(INV, "order.created", order["id"])  # WooCommerce redelivers
    rig.woo.update_order(order["id"], lines=[LineSpec(MUG, 2)])
    # This version's webhook is held up somewhere and arrives last.
    stale_body = php_json(rig.woo.rest_representation("order", order["id"]))
    rig.woo.update_order(order["id"], lines=[LineSpec(MUG, 4)], customer_note="leave at the door")
    rig.deliver(INV, "order.updated", order["id"])
    rig.drain()
    writes = rig.qbo.writes
    rig.deliver_raw(
        INV,
        stale_body,
        {
            "Content-Type": "application/json",
            "X-WC-Webhook-Topic": "order.updated",
            "X-WC-Webhook-Signature": webhook_signature(stale_body, WEBHOOK_SECRET),
        },
    )
    rig.drain()

    invoice = _only_document(rig, "Invoice", order["id"])
    assert Decimal(str(invoice["TotalAmt"])) == _store_total(rig, order["id"])
    (mugs,) = [
        line
        for line in invoice["Line"]
        if line["DetailType"] == "SalesItemLineDetail"
        and line["SalesItemLineDetail"]["ItemRef"]["value"] == "2"
    ]
    assert Decimal(str(mugs["SalesItemLineDetail"]["Qty"])) == 4
    assert "leave at the door" in invoice["PrivateNote"]
    # The late delivery reached the worker, which fetched the current order and left it alone.
    last = rig.audit(INV, order["id"])[-1]
    assert last.event == "skipped" and "unchanged" in last.outcome
    assert rig.qbo.writes == writes


# --- QuickBooks faults -----------------------------------------------------------------------


def test_a_lost_create_answer_is_found_by_docnumber_and_adopted(rig: QboRig) -> None:
    rig.qbo.inject("lost", entity="Invoice", operation="create")
    order = _order(rig, (PRINT, 2))
    mark = len(rig.qbo.request_log)
    rig.sync(INV, "order.created", order["id"])

    invoice = _only_document(rig, "Invoice", order["id"])
    assert Decimal(str(invoice["TotalAmt"])) == Decimal(order["total"])
    events = rig.audit(INV, order["id"])
    assert [e.event for e in events if e.event in ("failed", "posted")] == ["failed", "posted"]
    assert events[-1].detail["operation"] == "adopted"
    queries = [r.query.get("query", "") for r in rig.requests_since(mark) if "query" in r.path]
    assert any(f"DocNumber = 'INV-{order['number']}'" in q for q in queries), queries
    assert rig.sync_state(INV, order["id"]).ledger_id == invoice["Id"]


def test_a_30_character_store_number_posts_under_a_fitted_docnumber_and_is_adopted_once(
    rig: QboRig,
) -> None:
    # Given an order a numbering plugin gave a 30-character number (INV- makes it 34)
    order = _order(rig, (PRINT, 1))
    number = f"SHOP-EUROPE-2024-{order['id']:013d}"
    assert len(number) == 30

    def numbered_by_a_plugin(payload: dict[str, Any]) -> None:
        payload["number"] = number

    rig.store_rewrites[order["id"]] = numbered_by_a_plugin
    fitted = fitted_doc_number(number, str(order["id"]), rig.connection(INV).mapping, limit=21)
    # And QuickBooks creates the invoice but its answer is lost
    rig.qbo.inject("lost", entity="Invoice", operation="create")
    mark = len(rig.qbo.request_log)
    # When the order is synced (and retried after the unknown outcome)
    rig.sync(INV, "order.created", order["id"])

    # Then one invoice, under the fitted 21-character DocNumber with the prefix, names the number
    invoice = _only_document(rig, "Invoice", order["id"])
    assert invoice["DocNumber"] == fitted and len(fitted) == 21 and fitted.startswith("INV-~")
    assert f"WooCommerce order #{number} (id {order['id']})" in invoice["PrivateNote"]
    assert Decimal(str(invoice["TotalAmt"])) == Decimal(order["total"])
    # And the retry found it by that DocNumber and adopted it: posted, never parked
    state = rig.sync_state(INV, order["id"])
    assert (state.status, state.ledger_id, state.doc_number) == ("posted", invoice["Id"], fitted)
    events = rig.audit(INV, order["id"])
    assert [e.event for e in events if e.event in ("failed", "posted", "parked")] == [
        "failed",
        "posted",
    ]
    assert events[-1].detail == {
        "operation": "adopted",
        "doc_number": fitted,
        "store_number": number,
    }
    queries = [r.query.get("query", "") for r in rig.requests_since(mark) if "query" in r.path]
    assert any(f"DocNumber = '{fitted}'" in q for q in queries), queries
    assert [d["Id"] for d in rig.qbo.documents("Invoice") if d["DocNumber"] == fitted] == [
        invoice["Id"]
    ]


def test_a_lost_update_answer_is_retried_onto_the_same_invoice(rig: QboRig) -> None:
    order = _order(rig, (MUG, 1))
    rig.sync(INV, "order.created", order["id"])
    rig.woo.update_order(order["id"], lines=[LineSpec(MUG, 5)])
    rig.qbo.inject("lost", entity="Invoice", operation="update")  # applied, answer lost
    rig.sync(INV, "order.updated", order["id"])

    invoice = _only_document(rig, "Invoice", order["id"])
    assert Decimal(str(invoice["TotalAmt"])) == _store_total(rig, order["id"])
    assert rig.events(INV, order["id"])[-3:] == ["failed", "fetched", "updated"]
    assert rig.sync_state(INV, order["id"]).sync_token == invoice["SyncToken"]


def _seed_invoice(rig: QboRig, doc_number: str, note: str) -> dict[str, Any]:
    customer = rig.qbo.seed("Customer", {"DisplayName": f"Walk-in {doc_number}"})
    return rig.qbo.seed(
        "Invoice",
        {
            "CustomerRef": {"value": customer["Id"]},
            "DocNumber": doc_number,
            "PrivateNote": note,
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": "1.00",
                    "SalesItemLineDetail": {"ItemRef": {"value": "2"}},
                }
            ],
        },
    )


def test_a_6140_for_this_orders_own_invoice_adopts_it(rig: QboRig) -> None:
    order = _order(rig, (MUG, 1))
    number = f"INV-{order['number']}"
    # An earlier run (or a teammate's import) made it already, without us knowing.
    seeded = _seed_invoice(rig, number, f"WooCommerce order #{order['number']} (id {order['id']})")
    rig.sync(INV, "order.created", order["id"])

    invoice = _only_document(rig, "Invoice", order["id"])
    assert invoice["Id"] == seeded["Id"]
    assert Decimal(str(invoice["TotalAmt"])) == Decimal(order["total"])
    assert rig.audit(INV, order["id"])[-1].detail["operation"] == "adopted"


def test_a_6140_for_another_orders_invoice_parks_naming_the_docnumber(rig: QboRig) -> None:
    order = _order(rig, (MUG, 1))
    number = f"INV-{order['number']}"
    seeded = _seed_invoice(rig, number, "typed in by the bookkeeper for a phone sale")
    rig.sync(INV, "order.created", order["id"])

    state = rig.sync_state(INV, order["id"])
    assert state.status == "parked" and state.last_error and number in state.last_error
    (parked,) = rig.parked(INV, order["id"])
    assert number in parked["reason"]
    untouched = [d for d in rig.qbo.documents("Invoice") if d["DocNumber"] == number]
    assert [(d["Id"], d["SyncToken"]) for d in untouched] == [(seeded["Id"], seeded["SyncToken"])]


def test_a_stale_synctoken_on_update_is_reread_and_the_update_lands(rig: QboRig) -> None:
    # Unpaid, so no payment has moved the invoice's SyncToken on since it was posted.
    order = _order(rig, (MUG, 1), status="on-hold")
    rig.sync(INV, "order.created", order["id"])
    rig.woo.update_order(order["id"], lines=[LineSpec(MUG, 2)])
    rig.qbo.inject(5010, entity="Invoice", operation="update")
    mark = len(rig.qbo.request_log)
    rig.sync(INV, "order.updated", order["id"])

    invoice = _only_document(rig, "Invoice", order["id"])
    assert Decimal(str(invoice["TotalAmt"])) == _store_total(rig, order["id"])
    # (Throttled answers are Intuit's per-second limit, waited out by the client.)
    statuses = [(r.method, r.status) for r in rig.requests_since(mark) if r.status != 429]
    assert statuses == [("POST", 400), ("GET", 200), ("POST", 200)], statuses
    assert rig.events(INV, order["id"])[-1] == "updated"


def test_throttling_is_waited_out_and_one_invoice_posted(rig: QboRig) -> None:
    order = _order(rig, (PRINT, 1))
    rig.qbo.inject(429, times=2)
    mark = len(rig.qbo.request_log)
    rig.sync(INV, "order.created", order["id"])

    assert Decimal(str(_only_document(rig, "Invoice", order["id"])["TotalAmt"])) == Decimal(
        order["total"]
    )
    assert [r.status for r in rig.requests_since(mark)].count(429) == 2


@pytest.mark.parametrize("status", [500, 503])
def test_a_server_error_is_retried_and_one_invoice_posted(rig: QboRig, status: int) -> None:
    order = _order(rig, (MUG, 1), (PRINT, 1))
    rig.qbo.inject(status, entity="Invoice", operation="create")
    rig.sync(INV, "order.created", order["id"])

    assert Decimal(str(_only_document(rig, "Invoice", order["id"])["TotalAmt"])) == Decimal(
        order["total"]
    )
    events = rig.events(INV, order["id"])
    assert "failed" in events and events[-1] == "posted" and "parked" not in events


# --- parking ---------------------------------------------------------------------------------


def test_an_unmapped_sku_parks_the_order_with_the_sku_in_the_reason(rig: QboRig) -> None:
    order = _order(rig, (MUG, 1), (BOOK, 1))
    writes = rig.qbo.writes
    rig.sync(INV, "order.created", order["id"])

    state = rig.sync_state(INV, order["id"])
    assert state.status == "parked" and state.last_error and "BOOK-KIDS" in state.last_error
    parked = rig.audit(INV, order["id"])[-1]
    assert parked.event == "parked" and "BOOK-KIDS" in parked.outcome
    (message,) = rig.parked(INV, order["id"])
    assert "BOOK-KIDS" in message["reason"]
    assert rig.documents("Invoice", order["id"]) == []
    assert rig.qbo.writes == writes


def test_a_line_without_a_sku_and_no_fallback_parks_naming_the_line(rig: QboRig) -> None:
    sticker = 14  # a product that never had a SKU
    order = _order(rig, (MUG, 1), (sticker, 2))
    rig.sync(INV, "order.created", order["id"])

    state = rig.sync_state(INV, order["id"])
    assert state.status == "parked" and state.last_error
    assert "'Sticker Pack'" in state.last_error and "has no SKU" in state.last_error
    assert "fallback_item" in state.last_error
    assert rig.documents("Invoice", order["id"]) == []


def test_an_order_whose_parts_do_not_add_up_is_parked_naming_the_part(rig: QboRig) -> None:
    order = _order(rig, (MUG, 1), shipping="flat_rate")

    def shipping_line_off_by_two(payload: dict[str, Any]) -> None:
        payload["shipping_lines"][0]["total"] = "9.95"  # the order still says 7.95

    rig.store_rewrites[order["id"]] = shipping_line_off_by_two
    rig.sync(INV, "order.created", order["id"])

    state = rig.sync_state(INV, order["id"])
    assert state.status == "parked" and state.last_error
    assert "shipping lines add up to 9.95" in state.last_error
    assert "7.95" in state.last_error
    assert rig.documents("Invoice", order["id"]) == []


def test_an_inactive_item_parks_until_reactivated_and_replayed(rig: QboRig) -> None:
    order = _order(rig, (POSTER, 1))
    rig.sync(INV, "order.created", order["id"])
    state = rig.sync_state(INV, order["id"])
    assert state.status == "parked" and state.last_error
    assert "Discontinued Widget" in state.last_error and "inactive" in state.last_error

    (widget,) = [i for i in rig.qbo.documents("Item") if i["Name"] == "Discontinued Widget"]
    rig.qbo.set_active("Item", widget["Id"], True)
    report = replay_parked(
        rig.sqs,
        dlq_url=rig.dlq_url,
        queue=rig.sync_queue(),
        connection_id=INV,
        record_id=str(order["id"]),
    )
    assert report.replayed == [f"{INV}#order#{order['id']}"]
    rig.drain()

    invoice = _only_document(rig, "Invoice", order["id"])
    assert Decimal(str(invoice["TotalAmt"])) == Decimal(order["total"])
    events = rig.events(INV, order["id"])
    assert events.index("parked") < events.index("replayed") < events.index("posted")
    assert rig.parked(INV, order["id"]) == []


# --- customers -------------------------------------------------------------------------------


def _customers(rig: QboRig, **match: str) -> list[dict[str, Any]]:
    out = []
    for customer in rig.qbo.documents("Customer"):
        email = (customer.get("PrimaryEmailAddr") or {}).get("Address", "")
        if (
            match.get("email", email) == email
            and match.get("name", customer["DisplayName"]) == customer["DisplayName"]
        ):
            out.append(customer)
    return out


def test_a_store_customer_is_created_then_updated_in_quickbooks(rig: QboRig) -> None:
    person = rig.woo.create_customer(
        first_name="Priya", last_name="Natarajan", email="priya@example.org", city="Austin",
        state="TX", country="US", postcode="73301", address_1="5 Congress Ave",
    )  # fmt: skip
    rig.sync(RCPT, "customer.created", person["id"])
    (created,) = _customers(rig, email="priya@example.org")
    assert created["DisplayName"] == "Priya Natarajan"

    rig.woo.update_customer(person["id"], last_name="Natarajan-Rao", billing={"city": "Dallas"})
    rig.sync(RCPT, "customer.updated", person["id"])

    (updated,) = _customers(rig, email="priya@example.org")
    assert updated["Id"] == created["Id"]
    assert updated["DisplayName"] == "Priya Natarajan-Rao"
    assert updated["BillAddr"]["City"] == "Dallas"
    assert int(updated["SyncToken"]) > int(created["SyncToken"])
    assert rig.events(RCPT, person["id"], "customer")[-1] == "updated"


def test_guest_orders_with_one_billing_email_share_one_customer(rig: QboRig) -> None:
    guest = Person(
        "Noor", "Haddad", "noor.haddad@example.net", "1 Elm St", "Reno", "NV", "89501", "US"
    )
    first = _order(rig, (MUG, 1), customer_id=0, guest=guest)
    second = _order(rig, (PRINT, 1), customer_id=0, guest=guest)
    rig.sync(RCPT, "order.created", first["id"])
    rig.sync(RCPT, "order.created", second["id"])

    (customer,) = _customers(rig, email="noor.haddad@example.net")
    refs = {
        _only_document(rig, "SalesReceipt", o["id"])["CustomerRef"]["value"]
        for o in (first, second)
    }
    assert refs == {customer["Id"]}


def test_an_apostrophe_name_is_found_by_query_not_duplicated(rig: QboRig) -> None:
    obrien = rig.woo.rest_representation("customer", OBRIEN)
    name = f"{obrien['first_name']} {obrien['last_name']}"
    assert "'" in name
    # Entered by hand without an e-mail, so only the name can find it.
    existing = rig.qbo.seed("Customer", {"DisplayName": name})
    mark = len(rig.qbo.request_log)
    order = _order(rig, (MUG, 1), customer_id=OBRIEN)
    rig.sync(DEL, "order.created", order["id"])

    assert _only_document(rig, "Invoice", order["id"])["CustomerRef"]["value"] == existing["Id"]
    assert len(_customers(rig, name=name)) == 1
    queries = [r.query.get("query", "") for r in rig.requests_since(mark) if "query" in r.path]
    assert any("O\\'Brien" in q for q in queries), queries


def test_two_people_with_one_name_get_two_customers(rig: QboRig) -> None:
    one = rig.woo.create_customer(first_name="Sam", last_name="Lee", email="sam.lee@one.example")
    two = rig.woo.create_customer(first_name="Sam", last_name="Lee", email="sam.lee@two.example")
    orders = [_order(rig, (MUG, 1), customer_id=c["id"]) for c in (one, two)]
    for order in orders:
        rig.sync(DEL, "order.created", order["id"])

    refs = [_only_document(rig, "Invoice", o["id"])["CustomerRef"]["value"] for o in orders]
    assert refs[0] != refs[1]
    names = sorted(c["DisplayName"] for c in rig.qbo.documents("Customer") if c["Id"] in refs)
    assert names == ["Sam Lee", "Sam Lee (sam.lee@two.example)"]

    # The second Sam moves: the update reaches their customer and keeps the distinct name.
    rig.woo.update_customer(two["id"], billing={"city": "Dallas", "address_1": "9 Main St"})
    rig.sync(DEL, "customer.updated", two["id"])
    (moved,) = [c for c in rig.qbo.documents("Customer") if c["Id"] == refs[1]]
    assert moved["DisplayName"] == "Sam Lee (sam.lee@two.example)"
    assert moved["BillAddr"]["City"] == "Dallas"
    assert rig.events(DEL, two["id"], "customer")[-1] == "updated"


# --- cost ------------------------------------------------------------------------------------


def test_a_paid_order_of_a_known_customer_with_known_items_costs_two_writes_and_no_reads(
    rig: QboRig,
) -> None:
    warm = _order(rig, (MUG, 1), (HOODIE_BLUE, 1), shipping="express")
    rig.sync(INV, "order.created", warm["id"])
    assert _only_document(rig, "Invoice", warm["id"])

    order = _order(rig, (HOODIE_BLUE, 2), (MUG, 3), shipping="express")
    mark = len(rig.qbo.request_log)
    rig.sync(INV, "order.created", order["id"])

    # Throttled answers (Intuit's per-second limit, waited out by the client) aside.
    requests = [r for r in rig.requests_since(mark) if r.status != 429]
    # The invoice, and the store's payment of it.
    assert [(r.method, r.path.rsplit("/", 1)[-1], r.status) for r in requests] == [
        ("POST", "invoice", 200),
        ("POST", "payment", 200),
    ]
    assert Decimal(str(_only_document(rig, "Invoice", order["id"])["TotalAmt"])) == Decimal(
        order["total"]
    )


def test_a_quickbooks_total_that_differs_from_the_store_is_recorded(rig: QboRig) -> None:
    """The simulated company always keeps the tax we send, so its totals always agree; real
    companies can recompute tax. Here QuickBooks' answer to the create carries a total one
    cent off, as a company rounding tax per rate would; the worker must record it."""
    order = _order(rig, (MUG, 3), (PRINT, 1))
    doc_number = f"INV-{order['number']}"

    def rounds_tax_its_own_way(request: Request) -> Response | None:
        if not (request.method == "POST" and request.path.endswith("/invoice")):
            return None
        if request.json().get("DocNumber") != doc_number:
            return None
        answer = rig.qbo.handle(request)
        payload = json.loads(answer.body)
        if "Invoice" in payload:
            payload["Invoice"]["TotalAmt"] = str(Decimal(order["total"]) + Decimal("0.01"))
        return Response(answer.status, json.dumps(payload).encode(), answer.headers)

    rig.qbo_hook = rounds_tax_its_own_way
    rig.sync(INV, "order.created", order["id"])

    assert len(rig.documents("Invoice", order["id"])) == 1
    (mismatch,) = [e for e in rig.audit(INV, order["id"]) if e.event == "total_mismatch"]
    off = str(Decimal(order["total"]) + Decimal("0.01"))
    assert mismatch.detail == {"store_total": order["total"], "ledger_total": off}
    assert off in mismatch.outcome and order["total"] in mismatch.outcome
    state = rig.sync_state(INV, order["id"])
    assert state.status == "posted" and state.ledger_total == off

"""Retention (issue #11 part 10): what a Desktop order leaves in DynamoDB once QuickBooks has it.

The tenant file keeps things 30 days here. An order parked for a person keeps everything
replay needs and never expires; once the Web Connector has carried it, its outbox entry
keeps ids, hashes and amounts, no name, address or e-mail, and every outbox entry and audit
event it left expires 30 days after it was written.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from connector.ledgers.qbd.outbox import requeue_parked
from simulators.qbd import QbdCompany
from simulators.testbed.desktop import CONN, PASSWORD, USER, QbwcRig, QbwcRigs
from simulators.testbed.orders import taxed_order

DAYS = 30
# What identifies the buyer of order 7: name, e-mail, street, city, postcode.
PERSONAL = ("Grace", "Hopper", "grace.hopper@example.com", "Main St", "Springfield", "62701")


@pytest.fixture()
def rig(qbwc_rig: QbwcRigs) -> Iterator[QbwcRig]:
    # Mugs is not in the company file until the test adds it: the order parks first.
    with qbwc_rig(retention_days=DAYS, fallback_item="Mugs") as running:
        yield running


def _items(rig: QbwcRig, env_var: str, pk: str) -> list[dict[str, Any]]:
    """The raw items of one partition, as DynamoDB holds them."""
    table = rig.runtime.boto3_resource("dynamodb").Table(rig.runtime.env[env_var])
    return list(table.query(KeyConditionExpression=Key("pk").eq(pk))["Items"])


def _outbox(rig: QbwcRig, pk: str) -> list[dict[str, Any]]:
    return _items(rig, "CONNECTOR_OUTBOX_TABLE", pk)


def _expiries_within(items: list[dict[str, Any]], start: float, end: float) -> None:
    assert items
    for item in items:
        assert "expires_at" in item, item
        low, high = int(start) + DAYS * 86_400, int(end) + 1 + DAYS * 86_400
        assert low <= int(item["expires_at"]) <= high, (item, low, high)


def test_a_carried_desktop_order_keeps_no_personal_data_and_expires(rig: QbwcRig) -> None:
    start = time.time()
    company = QbdCompany()
    order = taxed_order(7, first="Grace", last="Hopper", email="grace.hopper@example.com")
    rig.queue(order)
    with rig.web_connector(CONN, USER, PASSWORD, company, noop_pause_s=0) as connector:
        connector.run_session()
        # Parked for a person: the entry keeps the whole order for replay, and no expiry
        (parked,) = _outbox(rig, CONN)
        assert parked["status"] == "parked" and "Hopper" in parked["payload_json"]
        assert "expires_at" not in parked

        company.add_list_record("ItemNonInventory", "Mugs")
        requeue_parked(CONN, "7", outbox=rig.outbox, state=rig.state, audit=rig.trail)
        rig.let_sessions_lapse()
        connector.run_session()
        assert rig.sync_state(7).status == "posted"
        rig.queue_payment(order)
        rig.let_sessions_lapse()
        connector.run_session()
    end = time.time()
    (invoice,) = company.transactions("Invoice")
    assert invoice.ref_number == "7" and rig.record("payment#7").status == "posted"

    # What waits is gone; what QuickBooks has keeps ids, hashes and amounts only
    assert [i for i in _outbox(rig, CONN) if i["sk"] != "COUNTER"] == []
    done = {item["record_key"]: item for item in _outbox(rig, f"{CONN}#done")}
    assert set(done) >= {f"{CONN}#order#7", f"{CONN}#payment#7"}
    for item in done.values():
        text = json.dumps(item, default=str)
        assert not [word for word in PERSONAL if word in text], text
        assert item["status"] == "done" and item["content_hash"] and item["payload_json"] == ""
    for key in (f"{CONN}#order#7", f"{CONN}#payment#7"):
        assert done[key]["amount"] == order.total == Decimal("26.60")
        assert done[key]["currency"] == order.currency
    # ... and, with the dedup items and every audit event of the order, expires in 30 days
    _expiries_within(list(done.values()), start, end)
    _expiries_within(_outbox(rig, f"{CONN}#dedup"), start, end)
    for key, written in (("order#7", {"parked", "replayed", "posted"}), ("payment#7", {"posted"})):
        events = _items(rig, "CONNECTOR_AUDIT_TABLE", f"{CONN}#{key}")
        assert written <= {e["event"] for e in events}
        _expiries_within(events, start, end)


def test_a_done_entry_says_it_keeps_no_payload(rig: QbwcRig) -> None:
    entry = rig.queue(taxed_order(8, first="Grace", last="Hopper"))
    assert rig.outbox.finish(CONN, entry.seq)
    (done,) = [e for e in rig.outbox.finished(CONN) if e.seq == entry.seq]
    assert done.payload_json == "" and done.amount == Decimal("26.60")
    with pytest.raises(ValueError, match="is done and keeps no payload"):
        done.payload()


def test_the_local_runtime_expires_audit_events_and_outbox_entries(rig: QbwcRig) -> None:
    dynamodb = rig.runtime.boto3_client("dynamodb")
    for env_var in ("CONNECTOR_AUDIT_TABLE", "CONNECTOR_OUTBOX_TABLE"):
        ttl = dynamodb.describe_time_to_live(TableName=rig.runtime.env[env_var])
        described = ttl["TimeToLiveDescription"]
        assert (described["TimeToLiveStatus"], described["AttributeName"]) == (
            "ENABLED",
            "expires_at",
        ), env_var

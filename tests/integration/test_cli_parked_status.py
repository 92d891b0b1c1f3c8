"""`connector parked`, `connector replay` and `connector status` from a shell, against a running
local runtime found through its endpoint file, as an on-call engineer without AWS credentials runs
them.

The story: an order parks on an inactive item and nobody looks for a year; its dead-letter
message expired long ago. `connector parked` still lists it with its reason and age; once the
item is active again, `connector replay` sends it again from the state table and it posts
exactly once. `connector status` tells how each connection is doing before and after.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connector.circuit import CircuitBreaker, CircuitRules
from connector.resources import STATE_TABLE
from simulators.qbd import QbdCompany
from simulators.qbwc import WebConnector
from simulators.testbed.desktop import PASSWORD, USER, QbwcRig, QbwcRigs
from simulators.testbed.online import QboRig, QboRigs, connection_settings
from simulators.testbed.orders import taxed_order
from simulators.testbed.tenant_files import publish, run_cli, write_tenant_file
from simulators.woocommerce import LineSpec, OrderSpec

SHOP = "shop-a"
POSTER = 30  # mapped to "Discontinued Widget", inactive in the simulated company
MUG = 10


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    mapping = {"items": {"POSTER-LTD": "Discontinued Widget"}, "fallback_item": "Sales"}
    return [connection_settings(SHOP, woo_url=woo_url, qbo_url=qbo_url, mapping=mapping)]


@pytest.fixture(scope="module")
def rig(qbo_rig: QboRigs) -> Iterator[QboRig]:
    with qbo_rig(_connections) as running:
        yield running


@pytest.fixture(scope="module")
def tenant_file(rig: QboRig, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = write_tenant_file(rig.config, tmp_path_factory.mktemp("tenants"))
    publish(rig.runtime, path)
    return path


@pytest.fixture(scope="module")
def orders(rig: QboRig) -> dict[str, int]:
    """One order posted, one parked a year ago whose dead-letter message has expired."""
    posted = rig.woo.create_order(OrderSpec(lines=[LineSpec(MUG, 2)], customer_id=2))
    parked = rig.woo.create_order(OrderSpec(lines=[LineSpec(POSTER, 1)], customer_id=2))
    rig.deliver(SHOP, "order.created", posted["id"])
    rig.deliver(SHOP, "order.created", parked["id"])
    rig.drain()
    assert rig.sync_state(SHOP, parked["id"]).status == "parked"
    # SQS keeps a dead letter 14 days; a year on, only the state table remembers the record.
    rig.runtime.boto3_client("sqs").purge_queue(QueueUrl=rig.dlq_url)
    a_year_ago = (datetime.now(UTC) - timedelta(days=365)).isoformat()
    rig.runtime.boto3_resource("dynamodb").Table(
        rig.runtime.table_names[STATE_TABLE.logical_id]
    ).update_item(
        Key={"pk": f"{SHOP}#order#{parked['id']}", "sk": "STATE"},
        UpdateExpression="SET parked_at = :then",
        ExpressionAttributeValues={":then": a_year_ago},
    )
    return {"posted": posted["id"], "parked": parked["id"]}


def _status(tenant_file: Path) -> dict[str, Any]:
    done = run_cli("status", "--config", str(tenant_file), "--local", "--json")
    assert done.returncode == 0, done.stderr
    (connection,) = json.loads(done.stdout)["connections"]
    assert connection["connection_id"] == SHOP
    return dict(connection)


def test_a_record_parked_a_year_ago_is_listed_replayed_and_posted_once(
    rig: QboRig, tenant_file: Path, orders: dict[str, int]
) -> None:
    key = f"{SHOP}#order#{orders['parked']}"

    # When the on-call engineer lists what is parked
    listed = run_cli("parked", "--config", str(tenant_file), "--local")

    # Then the table names the record, its age, its attempts and its reason
    assert listed.returncode == 0, listed.stderr
    header, row, total = listed.stdout.strip().splitlines()
    assert header.split()[:4] == ["RECORD", "LEDGER", "PARKED", "SINCE"]
    assert row.startswith(key) and " qbo " in row and "(365 d)" in row
    assert "Discontinued Widget" in row and "inactive" in row
    assert total.startswith("1 parked")
    # And the JSON carries the same fields for a machine
    as_json = run_cli("parked", "--config", str(tenant_file), "--local", "--json")
    (record,) = json.loads(as_json.stdout)
    assert record["record_key"] == key and record["ledger"] == "qbo"
    assert record["attempts"] >= 1 and "Discontinued Widget" in record["reason"]
    assert datetime.fromisoformat(record["since"]) < datetime.now(UTC) - timedelta(days=364)
    # And status counts it
    assert _status(tenant_file)["parked"] == 1

    # When the bookkeeper reactivates the item and the engineer replays everything, with no
    # --local and no AWS credentials: the CLI finds the running `connector local` itself
    (widget,) = [i for i in rig.qbo.documents("Item") if i["Name"] == "Discontinued Widget"]
    rig.qbo.set_active("Item", widget["Id"], True)
    replayed = run_cli("replay", "--tenant", rig.config.tenant, "--config", str(tenant_file))

    # Then nothing came from the (empty) dead-letter queue and the record was sent again
    assert replayed.returncode == 0, replayed.stderr
    report = json.loads(replayed.stdout)
    assert report["replayed"] == [] and report["resent"] == [key]
    rig.drain()
    # And it posted exactly once, for the store's total
    (invoice,) = rig.documents("Invoice", orders["parked"])
    total = Decimal(rig.woo.get_order(orders["parked"])["total"])
    assert Decimal(str(invoice["TotalAmt"])) == total
    assert rig.events(SHOP, orders["parked"])[-3:] == ["replayed", "fetched", "posted"]
    # And nothing is parked any more; a second replay sends nothing
    assert run_cli("parked", "--config", str(tenant_file)).stdout.strip() == "nothing parked"
    tenant = rig.config.tenant
    again = json.loads(run_cli("replay", "--tenant", tenant, "--config", str(tenant_file)).stdout)
    assert again["resent"] == []
    wrong = run_cli("replay", "--tenant", "other", "--config", str(tenant_file))
    assert wrong.returncode == 2 and "--tenant is 'other'" in wrong.stderr
    rig.drain()
    assert len(rig.documents("Invoice", orders["parked"])) == 1
    assert len(rig.documents("Invoice", orders["posted"])) == 1


def test_status_shows_each_connection_as_the_functions_last_saw_it(
    rig: QboRig, tenant_file: Path, orders: dict[str, int]
) -> None:
    rig.runtime.fire_schedule("reconcile", detail={"poll": "now"})
    rig.drain()

    connection = _status(tenant_file)

    now = datetime.now(UTC)
    for moment in ("last_webhook_at", "last_reconcile_at", "last_post_at"):
        assert connection[moment] is not None, moment
        assert now - datetime.fromisoformat(connection[moment]) < timedelta(minutes=5), moment
    assert connection["circuit"] == "closed"
    assert connection["connection"].startswith("connected: company")
    assert connection["token"].endswith("days left")
    assert datetime.fromisoformat(connection["token_expires_at"]) > now + timedelta(days=30)
    assert connection["web_connector_last_contact_at"] is None

    # The table an engineer reads: one column per connection, one row per question
    table = run_cli("status", "--config", str(tenant_file), "--local")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].startswith(f"tenant {rig.config.tenant} (connector local at http://")
    assert lines[1] == (
        "sync queue (all connections): 0 queued, 0 in flight, 0 delayed, 0 in the dead-letter queue"
    )
    rows = {line.split("  ")[0]: line for line in lines[3:]}
    assert "woocommerce -> QuickBooks Online" in rows["store / ledger"]
    assert "s ago" in rows["last post"] or "min ago" in rows["last post"]
    assert rows["circuit"].split()[-1] == "closed"
    assert "days left" in rows["token expiry"]
    assert rows["Web Connector"].split()[-2:] == ["n/a", "(Online)"]
    # And the refresh token itself appears nowhere
    secret = json.loads(
        rig.runtime.boto3_client("secretsmanager").get_secret_value(
            SecretId=f"{rig.runtime.secret_prefix}/{SHOP}/ledger"
        )["SecretString"]
    )
    assert secret["refresh_token"] not in table.stdout

    # When QuickBooks keeps failing for the company, its circuit opens: status says so and why
    breaker = CircuitBreaker(
        rig.runtime.table_names[STATE_TABLE.logical_id],
        rig.qbo.realm_id,
        rules=CircuitRules(threshold=2),
        resource=rig.runtime.boto3_resource("dynamodb"),
    )
    breaker.failed("QuickBooks answered 503")
    breaker.failed("QuickBooks answered 503")
    circuit = _status(tenant_file)["circuit"]
    assert circuit.startswith("open after 2 failures, retry at ")
    assert circuit.endswith("UTC: QuickBooks answered 503")


def test_without_a_running_local_runtime_the_error_says_how_to_start_one(
    rig: QboRig, tmp_path: Path
) -> None:
    lonely = write_tenant_file(rig.config, tmp_path)
    done = run_cli("status", "--config", str(lonely), "--local")
    assert done.returncode == 2
    assert "no running `connector local`" in done.stderr and "--config" in done.stderr


@pytest.fixture()
def desk(qbwc_rig: QbwcRigs, tmp_path: Path) -> Iterator[tuple[QbwcRig, Path]]:
    with qbwc_rig(fallback_item="Mugs") as running:
        path = write_tenant_file(running.config, tmp_path)
        publish(running.runtime, path)
        yield running, path


def test_a_desktop_connection_shows_its_parked_entries_and_the_web_connectors_last_visit(
    desk: tuple[QbwcRig, Path],
) -> None:
    rig, tenant_file = desk
    rig.queue(taxed_order(1))
    company = QbdCompany()  # lacks the item "Mugs": QuickBooks refuses the invoice
    with WebConnector(rig.url, USER, PASSWORD, company) as web:
        assert web.run_session().outcome == "done"

    listed = json.loads(run_cli("parked", "--config", str(tenant_file), "--json").stdout)
    (record,) = listed
    assert record["ledger"] == "qbd" and record["outbox_seq"] is not None
    assert "Mugs" in record["reason"]

    done = run_cli("status", "--config", str(tenant_file), "--json")
    assert done.returncode == 0, done.stderr
    (connection,) = json.loads(done.stdout)["connections"]
    assert connection["parked"] == 1
    assert connection["circuit"] == "n/a (Desktop)"
    seen = datetime.fromisoformat(connection["web_connector_last_contact_at"])
    assert datetime.now(UTC) - seen < timedelta(minutes=5)
    assert (
        connection["web_connector_every_minutes"] == rig.config.connections[0].qbd.run_every_minutes
    )

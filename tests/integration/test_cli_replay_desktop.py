"""`connector replay` sends parked QuickBooks Desktop work again, from a shell, against moto.

Orders are parked the real way: the simulated Web Connector runs a session
against the QBWC endpoint and the simulated company lacks the mapped item.
Once the bookkeeper adds the item, a replay puts the work back in the outbox
and the next Web Connector run posts it, once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from connector.resources import AUDIT_TABLE, OUTBOX_TABLE, STATE_TABLE
from simulators.qbd import QbdCompany
from simulators.qbwc import WebConnector
from simulators.testbed.cli import connector
from simulators.testbed.desktop import CONN, PASSWORD, TENANT, USER, QbwcRig, QbwcRigs
from simulators.testbed.orders import taxed_order


@pytest.fixture()
def rig(qbwc_rig: QbwcRigs) -> Iterator[QbwcRig]:
    with qbwc_rig(fallback_item="Mugs") as running:
        yield running


def session(rig: QbwcRig, company: QbdCompany) -> str:
    with WebConnector(rig.url, USER, PASSWORD, company) as web:
        report = web.run_session()
    return report.outcome


def park_two_orders(rig: QbwcRig, company: QbdCompany) -> None:
    """Orders 1 and 2 need the item "Mugs", which the company file does not have."""
    rig.queue(taxed_order(1))
    rig.queue(taxed_order(2))
    assert session(rig, company) == "done"
    for order_id in (1, 2):
        state = rig.sync_state(order_id)
        assert state.status == "parked" and "Mugs" in (state.last_error or "")
    assert company.transactions("Invoice") == []


def test_replay_by_table_names_requeues_one_record_and_the_next_run_posts_it(
    rig: QbwcRig,
) -> None:
    company = QbdCompany()
    park_two_orders(rig, company)
    company.add_list_record("ItemNonInventory", "Mugs")  # the bookkeeper's fix

    # When the operator replays order 1 of the connection, naming the tables
    done = connector(
        rig.runtime, "replay",
        "--outbox-table", rig.runtime.env[OUTBOX_TABLE.env_var],
        "--state-table", rig.runtime.env[STATE_TABLE.env_var],
        "--audit-table", rig.runtime.env[AUDIT_TABLE.env_var],
        "--connection", CONN, "--record", "1",
    )  # fmt: skip

    # Then the report lists it, its state is queued again and the audit trail says so
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [e["record_key"] for e in report["desktop_requeued"]] == [f"{CONN}#order#1"]
    assert report["desktop_requeued"][0]["action"] == "upsert_order"
    assert rig.sync_state(1).status == "queued"
    assert rig.events(1)[-1] == "replayed"
    assert rig.sync_state(2).status == "parked"

    # And the next Web Connector run posts order 1 only, once
    assert session(rig, company) == "done"
    assert [t.ref_number for t in company.transactions("Invoice")] == ["1"]
    assert rig.sync_state(1).status == "posted"
    assert rig.sync_state(2).status == "parked"


def test_replay_by_tenant_finds_the_tables_and_the_parked_connections_in_the_stack(
    rig: QbwcRig,
) -> None:
    company = QbdCompany()
    park_two_orders(rig, company)
    company.add_list_record("ItemNonInventory", "Mugs")
    # Given the tenant's stack outputs, as deployed
    sync = rig.runtime.local_queues["SyncQueue"]
    outputs = {
        "SyncQueueUrl": sync.url,
        "SyncDeadLetterQueueUrl": sync.dlq_url,
        "OutboxTableName": rig.runtime.env[OUTBOX_TABLE.env_var],
        "StateTableName": rig.runtime.env[STATE_TABLE.env_var],
        "AuditTableName": rig.runtime.env[AUDIT_TABLE.env_var],
    }
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    rig.runtime.boto3_client("cloudformation").create_stack(
        StackName=f"MlConnector-{TENANT}", TemplateBody=json.dumps(template)
    )

    # When the operator replays everything of the tenant
    done = connector(rig.runtime, "replay", "--tenant", TENANT)

    # Then the dead-letter queue was looked at (nothing there) and both orders are queued again
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["replayed"] == [] and report["kept"] == 0
    assert sorted(e["record_key"] for e in report["desktop_requeued"]) == [
        f"{CONN}#order#1",
        f"{CONN}#order#2",
    ]
    # And the next run posts each exactly once
    assert session(rig, company) == "done"
    assert sorted(t.ref_number for t in company.transactions("Invoice")) == ["1", "2"]
    # And a second replay finds nothing left to send
    again = json.loads(connector(rig.runtime, "replay", "--tenant", TENANT).stdout)
    assert again["desktop_requeued"] == []


def test_replay_with_some_of_the_desktop_tables_says_which_are_needed(rig: QbwcRig) -> None:
    done = connector(rig.runtime, "replay", "--outbox-table", rig.runtime.env[OUTBOX_TABLE.env_var])
    assert done.returncode == 2
    assert "--outbox-table, --state-table and --audit-table" in done.stderr

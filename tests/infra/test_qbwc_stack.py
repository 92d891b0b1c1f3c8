"""A tenant with a QuickBooks Desktop connection: the Web Connector's function, routes and tables.

What the deployment must give the Web Connector: POST (SOAP) and GET (WSDL,
support page) on /qbwc/{connection_id} reaching the qbwc function; the outbox
it drains and the session table its tickets live in (with a TTL); grants that
let the sync worker fill the outbox and nobody else touch it; cdk-nag clean.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from connector import resources
from connector.config import load_tenant, parse_tenant_json
from infra.nag import unacknowledged_findings
from simulators.testbed.synth import Synth

DESKTOP_TENANT = """
tenant = "desk"

[[connections]]
id = "books"
[connections.store]
kind = "woocommerce"
url = "https://shop.desk.test"
[connections.ledger]
kind = "qbd"
user_name = "desk-sync"
run_every_minutes = 10
sales_tax_item = "Sales Tax"
[connections.mapping]
fallback_item = "Sales"

[[connections]]
id = "online"
[connections.store]
kind = "woocommerce"
url = "https://online.desk.test"
[connections.ledger]
kind = "qbo"
"""

READS = ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan")
WRITES = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")


@pytest.fixture(scope="module")
def desk(synth: Callable[..., Synth]) -> Synth:
    return synth(DESKTOP_TENANT, "desk")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _table_arn(desk: Synth, logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [desk.logical_id(desk.stack.tables.by_id[logical_id]), "Arn"]}


def _statements(desk: Synth, function_name: str) -> list[dict[str, Any]]:
    role = desk.stack.functions.by_name[function_name].role
    assert role is not None
    role_ref = {"Ref": desk.logical_id(role)}
    return [
        statement
        for policy in desk.resources("AWS::IAM::Policy").values()
        if role_ref in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _may(desk: Synth, function_name: str, action: str, logical_id: str) -> bool:
    arn = _table_arn(desk, logical_id)
    return any(
        s["Effect"] == "Allow"
        and action in _list(s["Action"])
        and any(
            r == arn or r == {"Fn::Join": ["", [arn, "/index/*"]]} for r in _list(s["Resource"])
        )
        for s in _statements(desk, function_name)
    )


def _function_props(desk: Synth, name: str) -> dict[str, Any]:
    logical_id = desk.logical_id(desk.stack.functions.by_name[name])
    return dict(desk.cfn["Resources"][logical_id]["Properties"])


def test_the_qbwc_function_runs_its_handler_with_the_outbox_and_session_tables(desk: Synth):
    props = _function_props(desk, "qbwc")
    assert props["Handler"] == "functions.qbwc.handler.lambda_handler"
    # API Gateway gives up after 29 s; the function must not outlive it.
    assert props["Timeout"] <= 29
    env = props["Environment"]["Variables"]
    for spec in (resources.OUTBOX_TABLE, resources.SESSION_TABLE, resources.STATE_TABLE):
        table_ref = {"Ref": desk.logical_id(desk.stack.tables.by_id[spec.logical_id])}
        assert env[spec.env_var] == table_ref, spec.env_var
    # The tenant file in the environment is the one with the Desktop connection.

    config = parse_tenant_json(env[resources.ENV_TENANT_CONFIG])
    assert config == load_tenant(desk.tenant_file)
    books = config.connection("books")
    assert books is not None and books.qbd.user_name == "desk-sync"


def test_post_and_get_on_qbwc_connection_reach_the_qbwc_function(desk: Synth):
    paths = desk.api_paths()
    qbwc_id = desk.logical_id(desk.stack.functions.by_name["qbwc"])
    served: dict[str, dict[str, Any]] = {}
    for method in desk.resources("AWS::ApiGateway::Method").values():
        props = method["Properties"]
        if paths[props["ResourceId"]["Ref"]] == "/qbwc/{connection_id}":
            served[props["HttpMethod"]] = props
    assert set(served) == {"POST", "GET"}
    for props in served.values():
        uri_parts = props["Integration"]["Uri"]["Fn::Join"][1]
        assert {"Fn::GetAtt": [qbwc_id, "Arn"]} in uri_parts
        assert props["Integration"]["Type"] == "AWS_PROXY"
        # The Web Connector authenticates inside SOAP; the path parameter is still required.
        assert props["AuthorizationType"] == "NONE"
        assert props["RequestParameters"] == {"method.request.path.connection_id": True}
    # API Gateway may invoke the function from these routes.
    permissions = [
        p["Properties"]
        for p in desk.resources("AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [qbwc_id, "Arn"]}
    ]
    arns = [str(p["SourceArn"]) for p in permissions]
    assert any("/POST/qbwc/*" in arn for arn in arns)
    assert any("/GET/qbwc/*" in arn for arn in arns)


def test_outbox_and_session_tables_are_keyed_recoverable_and_expire_items(desk: Synth):
    for spec in (resources.OUTBOX_TABLE, resources.SESSION_TABLE):
        logical_id = desk.logical_id(desk.stack.tables.by_id[spec.logical_id])
        table = desk.cfn["Resources"][logical_id]
        props = table["Properties"]
        assert props["KeySchema"] == [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ]
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["SSESpecification"]["SSEEnabled"] is True
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        # Queued Desktop work must survive a stack deletion.
        assert table["DeletionPolicy"] == "Retain"
    session = desk.cfn["Resources"][
        desk.logical_id(desk.stack.tables.by_id[resources.SESSION_TABLE.logical_id])
    ]["Properties"]
    assert session["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    outbox = desk.cfn["Resources"][
        desk.logical_id(desk.stack.tables.by_id[resources.OUTBOX_TABLE.logical_id])
    ]["Properties"]
    # Finished outbox entries expire retention_days after QuickBooks took them.
    assert outbox["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_only_the_sync_worker_and_the_qbwc_function_touch_the_outbox(desk: Synth):
    outbox, sessions = resources.OUTBOX_TABLE.logical_id, resources.SESSION_TABLE.logical_id
    # The worker queues Desktop work...
    for action in ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"):
        assert _may(desk, "sync", action, outbox), action
    # ...and the Web Connector's function drains it and keeps its sessions.
    for action in (*READS, "dynamodb:PutItem", "dynamodb:UpdateItem"):
        assert _may(desk, "qbwc", action, outbox), action
        assert _may(desk, "qbwc", action, sessions), action
    # Webhooks, OAuth, the token refresh and the poll never see either table; the worker never
    # sees sessions.
    for name in ("ingest", "oauth", "qbo_token", "reconcile"):
        for action in (*READS, *WRITES):
            assert not _may(desk, name, action, outbox), (name, action)
            assert not _may(desk, name, action, sessions), (name, action)
    for action in (*READS, *WRITES):
        assert not _may(desk, "sync", action, sessions), action


def test_the_qbwc_function_reads_secrets_but_cannot_change_them(desk: Synth):
    actions = {
        a
        for s in _statements(desk, "qbwc")
        for a in _list(s["Action"])
        if a.startswith("secretsmanager:")
    }
    # The password hash is set by `connector qwc` from the operator's shell, never by the endpoint.
    assert actions == {"secretsmanager:GetSecretValue"}
    # Only the Desktop connection's ledger secret (the hash): no store key, no Online token.
    ledger = desk.stack.secrets.ledger["books"]
    readable = [
        r
        for s in _statements(desk, "qbwc")
        if "secretsmanager:GetSecretValue" in _list(s["Action"])
        for r in _list(s["Resource"])
    ]
    assert readable == [{"Ref": desk.logical_id(ledger)}]


def test_outputs_name_the_tables_replay_and_qwc_read(desk: Synth):
    outputs = desk.cfn["Outputs"]
    for spec in resources.TABLES:
        table_ref = {"Ref": desk.logical_id(desk.stack.tables.by_id[spec.logical_id])}
        assert outputs[f"{spec.logical_id}Name"]["Value"] == table_ref
    assert "ApiUrl" in outputs
    # `connector qwc` and `connector replay` find the stack and the secrets by the same names.
    assert resources.stack_name("desk") == desk.stack.stack_name
    assert resources.secret_prefix("desk") == "ml-connector/desk"


def test_cdk_nag_finds_nothing_unacknowledged_with_a_desktop_connection(desk: Synth):
    assert unacknowledged_findings(desk.stack) == []

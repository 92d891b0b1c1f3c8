"""A tenant deploys only what its ledgers use (issue #11 part 11).

An Online-only tenant gets no Web Connector function, /qbwc routes, outbox or
session table; a Desktop-only tenant gets no OAuth function, /oauth routes or
token-refresh schedule. Alarms follow the functions that exist, the sync worker
is granted (and told of) the outbox only where there is one, and cdk-nag stays clean.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from connector import resources
from infra.nag import unacknowledged_findings
from simulators.testbed.synth import Synth

DESKTOP_ONLY = """
tenant = "desk"

[[connections]]
id = "books"
[connections.store]
kind = "woocommerce"
url = "https://shop.desk.test"
[connections.ledger]
kind = "qbd"
user_name = "desk-sync"
[connections.mapping]
fallback_item = "Sales"
"""


@pytest.fixture(scope="module")
def desk(synth: Callable[..., Synth]) -> Synth:
    return synth(DESKTOP_ONLY, "desk")


def _function_names(s: Synth) -> dict[str, str]:
    """Logical id -> function name, read from the template's descriptions."""
    by_description = {spec.description: spec.name for spec in resources.FUNCTIONS}
    return {
        logical_id: by_description[props["Properties"]["Description"]]
        for logical_id, props in s.resources("AWS::Lambda::Function").items()
    }


def _routes(s: Synth) -> set[tuple[str, str]]:
    paths = s.api_paths()
    return {
        (m["Properties"]["HttpMethod"], paths[m["Properties"]["ResourceId"]["Ref"]])
        for m in s.resources("AWS::ApiGateway::Method").values()
    }


def _table_ids(s: Synth) -> set[str]:
    tables = s.resources("AWS::DynamoDB::Table")
    assert len(tables) == len(s.stack.tables.by_id)
    return {
        spec_id for spec_id, table in s.stack.tables.by_id.items() if s.logical_id(table) in tables
    }


def _scheduled(s: Synth) -> set[str]:
    names = _function_names(s)
    return {
        names[target["Arn"]["Fn::GetAtt"][0]]
        for rule in s.resources("AWS::Events::Rule").values()
        for target in rule["Properties"]["Targets"]
    }


def _error_alarmed(s: Synth) -> set[str]:
    names = _function_names(s)
    return {
        names[dimension["Value"]["Ref"]]
        for alarm in s.resources("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "Errors"
        for dimension in alarm["Properties"]["Dimensions"]
        if dimension["Name"] == "FunctionName"
    }


def _sync_env(s: Synth) -> dict[str, Any]:
    sync_id = s.logical_id(s.stack.functions.by_name["sync"])
    return dict(s.cfn["Resources"][sync_id]["Properties"]["Environment"]["Variables"])


def test_an_online_only_tenant_deploys_no_web_connector(acme: Synth):
    assert set(_function_names(acme).values()) == {
        "ingest",
        "sync",
        "oauth",
        "qbo_token",
        "reconcile",
    }
    routes = _routes(acme)
    assert ("GET", "/oauth/qbo/connect/{connection_id}") in routes
    assert ("GET", "/oauth/qbo/callback") in routes
    assert not [path for _, path in routes if path.startswith("/qbwc")]
    assert _table_ids(acme) == {"StateTable", "AuditTable"}
    assert _scheduled(acme) == {"qbo_token", "reconcile"}
    assert _error_alarmed(acme) == {"ingest", "sync", "oauth", "qbo_token", "reconcile"}
    assert resources.ENV_OUTBOX_TABLE not in _sync_env(acme)
    assert resources.ENV_SESSION_TABLE not in _sync_env(acme)
    outputs = acme.cfn["Outputs"]
    assert "OutboxTableName" not in outputs and "SessionTableName" not in outputs


def test_a_desktop_only_tenant_deploys_no_oauth_and_no_token_refresher(desk: Synth):
    assert set(_function_names(desk).values()) == {"ingest", "sync", "qbwc", "reconcile"}
    routes = _routes(desk)
    assert ("POST", "/qbwc/{connection_id}") in routes
    assert ("GET", "/qbwc/{connection_id}") in routes
    assert not [path for _, path in routes if path.startswith("/oauth")]
    assert _table_ids(desk) == {"StateTable", "AuditTable", "OutboxTable", "SessionTable"}
    assert _scheduled(desk) == {"reconcile"}
    assert _error_alarmed(desk) == {"ingest", "sync", "qbwc", "reconcile"}
    outbox_ref = {"Ref": desk.logical_id(desk.stack.tables.by_id["OutboxTable"])}
    assert _sync_env(desk)[resources.ENV_OUTBOX_TABLE] == outbox_ref
    outputs = desk.cfn["Outputs"]
    assert "OAuthRedirectUri" not in outputs
    assert not [name for name in outputs if name.startswith("ConnectUrl")]


def test_sync_is_granted_the_outbox_only_where_it_is_deployed(acme: Synth, desk: Synth):
    def sync_table_refs(s: Synth) -> set[str]:
        role = s.stack.functions.by_name["sync"].role
        assert role is not None
        role_ref = {"Ref": s.logical_id(role)}
        found: set[str] = set()
        for policy in s.resources("AWS::IAM::Policy").values():
            if role_ref not in policy["Properties"]["Roles"]:
                continue
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                resources_ = statement["Resource"]
                for resource in resources_ if isinstance(resources_, list) else [resources_]:
                    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
                        found.add(resource["Fn::GetAtt"][0])
        return found

    acme_outbox_free = sync_table_refs(acme)
    assert not [ref for ref in acme_outbox_free if ref.startswith("TablesOutbox")]
    desk_outbox = desk.logical_id(desk.stack.tables.by_id["OutboxTable"])
    assert desk_outbox in sync_table_refs(desk)


@pytest.mark.parametrize(
    ("kinds", "functions", "tables"),
    [
        (["qbo"], {"ingest", "sync", "oauth", "qbo_token", "reconcile"}, 2),
        (["qbd"], {"ingest", "sync", "qbwc", "reconcile"}, 4),
        (["qbo", "qbd"], {spec.name for spec in resources.FUNCTIONS}, 4),
    ],
)
def test_the_selection_is_what_the_ledgers_use(
    kinds: list[str], functions: set[str], tables: int
) -> None:
    selection = resources.select(kinds)
    assert {spec.name for spec in selection.functions} == functions
    assert len(selection.tables) == tables
    kept = {t.logical_id for t in selection.tables}
    for spec in selection.functions:
        assert set(spec.reads_tables) <= kept and set(spec.writes_tables) <= kept, spec.name


def test_cdk_nag_finds_nothing_unacknowledged_for_either_kind(acme: Synth, desk: Synth):
    assert unacknowledged_findings(acme.stack) == []
    assert unacknowledged_findings(desk.stack) == []

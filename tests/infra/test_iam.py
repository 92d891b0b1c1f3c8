"""Least privilege: each role may touch only what its FunctionSpec declares."""

from __future__ import annotations

from typing import Any

from simulators.testbed.synth import Synth


def _statements(acme: Synth, function_name: str) -> list[dict[str, Any]]:
    role = acme.stack.functions.by_name[function_name].role
    assert role is not None
    role_id = acme.logical_id(role)
    statements: list[dict[str, Any]] = []
    for policy in acme.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    role_props = acme.cfn["Resources"][role_id]["Properties"]
    # Only inline policies: no managed policy widens what the role can do.
    assert "ManagedPolicyArns" not in role_props
    return statements


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _allowed(statements: list[dict[str, Any]], action: str, resource: Any) -> bool:
    """Allowed on every item of ``resource`` (no condition narrows it)."""
    return any(
        s["Effect"] == "Allow"
        and "Condition" not in s
        and action in _list(s["Action"])
        and resource in _list(s["Resource"])
        for s in statements
    )


def _allowed_only_under(
    statements: list[dict[str, Any]], action: str, resource: Any
) -> list[str] | None:
    """The partition-key patterns an action is limited to on ``resource`` (None: not allowed)."""
    for s in statements:
        if (
            s["Effect"] == "Allow"
            and action in _list(s["Action"])
            and resource in _list(s["Resource"])
        ):
            leading = s.get("Condition", {}).get("ForAllValues:StringLike", {})
            return sorted(_list(leading.get("dynamodb:LeadingKeys", [])))
    return None


def _arn(acme: Synth, construct: Any) -> dict[str, Any]:
    return {"Fn::GetAtt": [acme.logical_id(construct), "Arn"]}


def test_ingest_can_queue_and_audit_but_not_write_sync_state_or_consume(acme: Synth):
    """It may keep a delivery SQS refused and note the last webhook, and nothing else there."""
    statements = _statements(acme, "ingest")
    state = _arn(acme, acme.stack.tables.by_id["StateTable"])
    audit = _arn(acme, acme.stack.tables.by_id["AuditTable"])
    queue = _arn(acme, acme.stack.queues.by_id["SyncQueue"])
    assert _allowed(statements, "sqs:SendMessage", queue)
    assert _allowed(statements, "dynamodb:PutItem", audit)
    for action in (
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
    ):
        assert not _allowed(statements, action, state), action
    for action in ("dynamodb:PutItem", "dynamodb:UpdateItem"):
        assert _allowed_only_under(statements, action, state) == ["*#health", "*#unqueued"]
    # The one item it reads: the company a connection is connected to (QuickBooks webhooks).
    assert _allowed_only_under(statements, "dynamodb:GetItem", state) == ["*#ledger_realm"]
    for action in ("dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:Query"):
        assert _allowed_only_under(statements, action, state) is None, action
    assert not _allowed(statements, "sqs:ReceiveMessage", queue)
    assert not _allowed(statements, "secretsmanager:PutSecretValue", {"Ref": "any"})
    assert not any("secretsmanager:PutSecretValue" in _list(s["Action"]) for s in statements)


def test_grants_follow_the_function_specs(acme: Synth):
    queue_arns = {q: _arn(acme, acme.stack.queues.by_id[q]) for q in ("SyncQueue",)}
    for spec in acme.stack.selection.functions:
        statements = _statements(acme, spec.name)
        for table in acme.stack.selection.tables:
            arn = _arn(acme, acme.stack.tables.by_id[table.logical_id])
            assert _allowed(statements, "dynamodb:Query", arn) == (
                table.logical_id in spec.reads_tables
            ), (spec.name, table.logical_id)
            assert _allowed(statements, "dynamodb:PutItem", arn) == (
                table.logical_id in spec.writes_tables
            ), (spec.name, table.logical_id)
        for queue_id, arn in queue_arns.items():
            assert _allowed(statements, "sqs:SendMessage", arn) == (
                queue_id in spec.sends_to_queues
            )
            assert _allowed(statements, "sqs:ReceiveMessage", arn) == (
                spec.queue_trigger == queue_id
            )


def test_secret_access_follows_the_function_specs(acme: Synth):
    """Each action only on the secrets its FunctionSpec's parts name (test_secret_reach.py
    spells them out per function and per secret for a tenant of both ledger kinds)."""
    secrets = acme.stack.secrets
    for spec in acme.stack.selection.functions:
        statements = [
            s
            for s in _statements(acme, spec.name)
            if any(a.startswith("secretsmanager:") for a in _list(s["Action"]))
        ]
        granted: dict[str, list[Any]] = {}
        for statement in statements:
            for action in _list(statement["Action"]):
                granted.setdefault(action, []).extend(_list(statement["Resource"]))
        expected = {
            action: [acme.stack.resolve(arn) for arn in secrets.arns(parts)]
            for action, parts in (
                ("secretsmanager:GetSecretValue", spec.secrets_read),
                ("secretsmanager:PutSecretValue", spec.secrets_write),
            )
            if secrets.arns(parts)
        }
        assert {a: sorted(r, key=str) for a, r in granted.items()} == {
            a: sorted(r, key=str) for a, r in expected.items()
        }, spec.name


def test_no_wildcard_resource_except_for_xray(acme: Synth):
    for spec in acme.stack.selection.functions:
        for statement in _statements(acme, spec.name):
            if "*" in _list(statement["Resource"]):
                assert set(_list(statement["Action"])) == {
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                }, spec.name
            assert not any(a.endswith(":*") or a == "*" for a in _list(statement["Action"]))


def test_the_poll_queues_and_records_but_cannot_consume_or_park(acme: Synth):
    statements = _statements(acme, "reconcile")
    state = _arn(acme, acme.stack.tables.by_id["StateTable"])
    audit = _arn(acme, acme.stack.tables.by_id["AuditTable"])
    queue = _arn(acme, acme.stack.queues.by_id["SyncQueue"])
    dlq = _arn(acme, acme.stack.queues.by_id["SyncDeadLetterQueue"])
    # It reads sync states and keeps its watermark and lease in the state table...
    for action in ("dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem"):
        assert _allowed(statements, action, state), action
    assert _allowed(statements, "dynamodb:DeleteItem", state)  # the lease is let go
    # ...queues what changed and writes its summary to the audit trail...
    assert _allowed(statements, "sqs:SendMessage", queue)
    assert _allowed(statements, "dynamodb:BatchWriteItem", audit)
    # ...and never consumes the queue or parks. The only secrets it saves are Online tokens
    # QuickBooks' change feed rotated (connector.ledger_poll; test_secret_reach names them).
    assert not _allowed(statements, "sqs:ReceiveMessage", queue)
    assert not _allowed(statements, "sqs:SendMessage", dlq)

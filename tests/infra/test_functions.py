"""The Lambda functions: runtime, architecture, handlers, sizing, environment, logs, layer."""

from __future__ import annotations

import json

from connector import resources
from connector.config import load_tenant, parse_tenant_json
from infra.naming import function_id
from simulators.testbed.synth import Synth


def _functions(acme: Synth) -> dict[str, dict]:
    by_name = {}
    for spec in acme.stack.selection.functions:
        logical_id = acme.logical_id(acme.stack.functions.by_name[spec.name])
        by_name[spec.name] = acme.cfn["Resources"][logical_id]["Properties"]
    return by_name


def test_every_declared_function_is_python313_on_arm64_with_its_handler_and_sizing(acme: Synth):
    # Given the declarations, When the stack is synthesised, Then each function matches its spec
    functions = _functions(acme)
    assert len(acme.resources("AWS::Lambda::Function")) == len(acme.stack.selection.functions)
    for spec in acme.stack.selection.functions:
        props = functions[spec.name]
        assert props["Runtime"] == "python3.13"
        assert props["Architectures"] == ["arm64"]
        assert props["Handler"] == spec.handler
        assert props["Timeout"] == spec.timeout_s
        assert props["MemorySize"] == spec.memory_mb
        assert props["TracingConfig"] == {"Mode": "Active"}


def test_all_functions_share_one_code_asset_and_the_dependency_layer(acme: Synth):
    functions = _functions(acme).values()
    code = {json.dumps(p["Code"], sort_keys=True) for p in functions}
    assert len(code) == 1
    (layer_id,) = acme.resources("AWS::Lambda::LayerVersion")
    layer = acme.cfn["Resources"][layer_id]["Properties"]
    assert layer["CompatibleRuntimes"] == ["python3.13"]
    assert layer["CompatibleArchitectures"] == ["arm64"]
    for props in functions:
        assert props["Layers"] == [{"Ref": layer_id}]


def test_environment_tells_each_function_its_tenant_resources_and_powertools_settings(acme: Synth):
    tables = {
        s.logical_id: acme.logical_id(acme.stack.tables.by_id[s.logical_id])
        for s in acme.stack.selection.tables
    }
    sync_queue = acme.logical_id(acme.stack.queues.by_id["SyncQueue"])
    dlq = acme.logical_id(acme.stack.queues.by_id["SyncDeadLetterQueue"])
    rest_api = acme.logical_id(acme.stack.api.rest_api)
    for name, props in _functions(acme).items():
        env = props["Environment"]["Variables"]
        assert env[resources.ENV_TENANT] == "acme", name
        assert env[resources.ENV_SECRET_PREFIX] == "ml-connector/acme"
        assert env[resources.ENV_STATE_TABLE] == {"Ref": tables["StateTable"]}
        assert env[resources.ENV_AUDIT_TABLE] == {"Ref": tables["AuditTable"]}
        assert env[resources.ENV_SYNC_QUEUE_URL] == {"Ref": sync_queue}
        assert env[resources.ENV_SYNC_DLQ_URL] == {"Ref": dlq}
        assert env["POWERTOOLS_SERVICE_NAME"] == "ml-connector"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "MlConnector"
        assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
        assert env["PYDANTIC_DISABLE_PLUGINS"] == "__all__"
        assert resources.ENV_AWS_ENDPOINT_URL not in env
        # The public base URL is the stage URL, built from the API id (no cycle via the stage).
        parts = env[resources.ENV_PUBLIC_BASE_URL]["Fn::Join"][1]
        assert parts[0] == "https://"
        assert {"Ref": rest_api} in parts
        assert parts[-1].endswith("/prod/")


def test_tenant_configuration_in_the_environment_is_the_validated_tenant_file(acme: Synth):
    expected = load_tenant(acme.tenant_file)
    for name, props in _functions(acme).items():
        text = props["Environment"]["Variables"][resources.ENV_TENANT_CONFIG]
        # What the function validates at cold start is what the tenant file said.
        assert parse_tenant_json(text, name) == expected
        assert [c.id for c in expected.connections] == ["shop-us", "shop-eu"]


def test_each_function_logs_to_its_own_log_group_kept_three_months(acme: Synth):
    groups = acme.resources("AWS::Logs::LogGroup")
    for spec in acme.stack.selection.functions:
        props = _functions(acme)[spec.name]
        group_id = props["LoggingConfig"]["LogGroup"]["Ref"]
        assert group_id.startswith(f"Functions{function_id(spec.name)}Logs")
        assert groups[group_id]["Properties"]["RetentionInDays"] == 90


def test_sync_worker_is_fed_by_the_fifo_queue_with_partial_batch_failures_and_bounded_concurrency(
    acme: Synth,
):
    (mapping,) = acme.resources("AWS::Lambda::EventSourceMapping").values()
    props = mapping["Properties"]
    sync_fn = acme.logical_id(acme.stack.functions.by_name["sync"])
    assert props["FunctionName"] == {"Ref": sync_fn}
    assert props["EventSourceArn"] == {
        "Fn::GetAtt": [acme.logical_id(acme.stack.queues.by_id["SyncQueue"]), "Arn"]
    }
    assert props["BatchSize"] == resources.SYNC.batch_size
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # QuickBooks Online allows 10 concurrent requests per company.
    assert props["ScalingConfig"]["MaximumConcurrency"] <= 5

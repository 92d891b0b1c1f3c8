"""The REST API's routes, stage settings and the stack outputs a merchant needs."""

from __future__ import annotations

from typing import Any

from simulators.testbed.synth import Synth


def _joined(value: Any) -> list[Any]:
    return value["Fn::Join"][1]


def test_every_declared_route_reaches_its_function_through_a_proxy_integration(acme: Synth):
    paths = acme.api_paths()
    served = {}
    for method in acme.resources("AWS::ApiGateway::Method").values():
        props = method["Properties"]
        uri = _joined(props["Integration"]["Uri"])
        function_id = next(
            p["Fn::GetAtt"][0] for p in uri if isinstance(p, dict) and "Fn::GetAtt" in p
        )
        assert props["Integration"]["Type"] == "AWS_PROXY"
        served[(props["HttpMethod"], paths[props["ResourceId"]["Ref"]])] = function_id
    expected = {
        (route.method, route.path): acme.logical_id(acme.stack.functions.by_name[spec.name])
        for spec in acme.stack.selection.functions
        for route in spec.routes
    }
    assert served == expected
    assert ("POST", "/webhooks/{connection_id}") in served


def test_path_parameters_are_required_by_a_request_validator(acme: Synth):
    paths = acme.api_paths()
    (validator_id,) = acme.resources("AWS::ApiGateway::RequestValidator")
    for method in acme.resources("AWS::ApiGateway::Method").values():
        props = method["Properties"]
        if "{connection_id}" in paths[props["ResourceId"]["Ref"]]:
            assert props["RequestParameters"] == {"method.request.path.connection_id": True}
            assert props["RequestValidatorId"] == {"Ref": validator_id}


def test_stage_has_access_logs_throttling_and_tracing(acme: Synth):
    (stage,) = acme.resources("AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert props["StageName"] == "prod"
    assert props["TracingEnabled"] is True
    assert "DestinationArn" in props["AccessLogSetting"]
    assert '"status":"$context.status"' in props["AccessLogSetting"]["Format"]
    # Every method is throttled: its own budget (test_route_budgets_and_waf) or the default
    assert props["MethodSettings"]
    for settings in props["MethodSettings"]:
        assert settings["ThrottlingRateLimit"] > 0
        assert settings["ThrottlingBurstLimit"] > 0
    (api,) = acme.resources("AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["EndpointConfiguration"] == {"Types": ["REGIONAL"]}


def test_outputs_give_each_connection_its_webhook_and_connect_urls(acme: Synth):
    outputs = acme.cfn["Outputs"]
    for name in (
        "ApiUrl",
        "OAuthRedirectUri",
        "SyncDeadLetterQueueUrl",
        "SyncQueueUrl",
        "StateTableName",
        "AuditTableName",
        "AlarmTopicArn",
    ):
        assert name in outputs, name
    stage_url = _joined(outputs["ApiUrl"]["Value"])
    assert stage_url[-1] == "/"
    assert _joined(outputs["OAuthRedirectUri"]["Value"])[-1] == "/oauth/qbo/callback"
    for suffix, connection_id in (("ShopUs", "shop-us"), ("ShopEu", "shop-eu")):
        webhook = _joined(outputs[f"WebhookUrl{suffix}"]["Value"])
        connect = _joined(outputs[f"ConnectUrl{suffix}"]["Value"])
        assert webhook[:-1] == stage_url[:-1]
        assert webhook[-1] == f"/webhooks/{connection_id}"
        assert connect[-1] == f"/oauth/qbo/connect/{connection_id}"
    dlq = acme.logical_id(acme.stack.queues.by_id["SyncDeadLetterQueue"])
    assert outputs["SyncDeadLetterQueueUrl"]["Value"] == {"Ref": dlq}
    queue = acme.logical_id(acme.stack.queues.by_id["SyncQueue"])
    assert outputs["SyncQueueUrl"]["Value"] == {"Ref": queue}

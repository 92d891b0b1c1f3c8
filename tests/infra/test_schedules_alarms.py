"""The EventBridge schedule, the alarms and the topic they notify."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from connector import resources
from infra.alarms import custom_metric_alarms
from simulators.testbed.synth import MIXED_LEDGERS, TWO_CONNECTIONS, Synth

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mixed(synth) -> Synth:
    """Online and Desktop connections: every alarm has a metric that can exist."""
    return synth(MIXED_LEDGERS, "acme")


def test_scheduled_functions_run_at_their_declared_rate(acme: Synth):
    rules = acme.resources("AWS::Events::Rule").values()
    scheduled = {
        acme.logical_id(acme.stack.functions.by_name[s.name]): s.schedule_minutes
        for s in acme.stack.selection.functions
        if s.schedule_minutes
    }
    seen = {}
    for rule in rules:
        props = rule["Properties"]
        (target,) = props["Targets"]
        seen[target["Arn"]["Fn::GetAtt"][0]] = props["ScheduleExpression"]
        assert props["State"] == "ENABLED"
    assert seen == {fn: _rate(minutes) for fn, minutes in scheduled.items()}
    # The token keep-alive, and the poll: each connection is polled when its period is up.
    assert {"rate(30 minutes)", "rate(1 minute)"} <= set(seen.values())


def test_the_outputs_name_the_function_an_operator_invokes_to_poll_now(acme: Synth):
    output = acme.cfn["Outputs"]["ReconcileFunctionName"]
    function = acme.stack.functions.by_name[resources.RECONCILE.name]
    assert output["Value"] == {"Ref": acme.logical_id(function)}
    assert '"poll": "now"' in output["Description"]


def _rate(minutes: int) -> str:
    return f"rate({minutes} minute{'' if minutes == 1 else 's'})"


def _alarms(acme: Synth) -> list[dict[str, Any]]:
    return [a["Properties"] for a in acme.resources("AWS::CloudWatch::Alarm").values()]


def _alarm_on(acme: Synth, metric_name: str) -> dict[str, Any]:
    (alarm,) = [a for a in _alarms(acme) if a["MetricName"] == metric_name]
    return alarm


def test_every_alarm_notifies_the_topic_ignores_missing_data_and_says_what_to_run(acme: Synth):
    topic = {"Ref": acme.logical_id(acme.stack.alarms.topic)}
    alarms = _alarms(acme)
    assert len(alarms) == len(acme.stack.alarms.alarms)
    for alarm in alarms:
        assert alarm["AlarmActions"] == [topic]
        assert alarm["TreatMissingData"] == "notBreaching"
        assert len(alarm["AlarmDescription"]) <= 1024, "CloudWatch's limit"
        # The first command to run, ready to paste: for this tenant.
        assert re.search(r"`connector [a-z ]+--tenant acme`", alarm["AlarmDescription"]), alarm


def test_alarms_fire_on_parked_messages_and_function_errors(acme: Synth):
    alarms = _alarms(acme)
    dlq = acme.logical_id(acme.stack.queues.by_id["SyncDeadLetterQueue"])
    dlq_alarm = _alarm_on(acme, "ApproximateNumberOfMessagesVisible")
    assert dlq_alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}
    ]
    assert (dlq_alarm["Threshold"], dlq_alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert "`connector replay --tenant acme`" in dlq_alarm["AlarmDescription"]
    error_alarms = [a for a in alarms if a["MetricName"] == "Errors"]
    assert {a["Dimensions"][0]["Value"]["Ref"] for a in error_alarms} == {
        acme.logical_id(acme.stack.functions.by_name[s.name])
        for s in acme.stack.selection.functions
    }
    for alarm in error_alarms:
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
        assert "log group" in alarm["AlarmDescription"]


def test_an_old_message_in_the_sync_queue_alarms_after_an_hour(acme: Synth):
    alarm = _alarm_on(acme, "ApproximateAgeOfOldestMessage")
    queue = acme.logical_id(acme.stack.queues.by_id["SyncQueue"])
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}
    ]
    assert alarm["Statistic"] == "Maximum"
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (3600, "GreaterThanThreshold")
    description = alarm["AlarmDescription"]
    assert "outage" in description and "open circuit" in description
    assert "`connector status --tenant acme`" in description


def test_api_5xx_answers_alarm(acme: Synth):
    alarm = _alarm_on(acme, "5XXError")
    assert alarm["Namespace"] == "AWS/ApiGateway"
    # API Gateway counts by API name: the tenant's own, so another tenant's API is not counted.
    assert alarm["Dimensions"] == [{"Name": "ApiName", "Value": "MlConnector-acme"}]
    (api,) = acme.resources("AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["Name"] == "MlConnector-acme"
    assert alarm["Statistic"] == "Sum"
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert "WooCommerce disables a webhook" in alarm["AlarmDescription"]


# metric -> statistic, threshold, comparison, period (s), periods, datapoints, what to run
CUSTOM_METRIC_ALARMS: dict[str, tuple[str, int, str, int, int, int, str]] = {
    "TokenRefreshFailed": ("Sum", 0, ">", 300, 1, 1, "connector status"),
    "CircuitOpened": ("Sum", 0, ">", 300, 1, 1, "connector status"),
    "DeliveriesNotQueued": ("Sum", 0, ">", 300, 1, 1, "connector status"),
    # Records the poll caught in two of three hours: the webhooks are not arriving.
    "ReconcileCaught": ("Sum", 0, ">", 3600, 3, 2, "connector webhooks check"),
    "WebhookUnhealthy": ("Maximum", 0, ">", 300, 1, 1, "connector webhooks check"),
    "WebConnectorSilent": ("Maximum", 0, ">", 900, 1, 1, "connector status"),
    "RecordsParked": ("Sum", 0, ">", 300, 1, 1, "connector parked"),
    # Wrong Web Connector logins: a guesser, or a stale saved password (more than four an hour).
    "WebConnectorLoginFailed": ("Sum", 4, ">", 3600, 1, 1, "connector qwc <connection> --rotate"),
    # Each hour holds two runs of the 30-minute keep-alive.
    "RefreshTokenDaysLeft": ("Minimum", 30, "<", 3600, 1, 1, "connector status"),
}
COMPARISONS = {">": "GreaterThanThreshold", "<": "LessThanThreshold"}


@pytest.mark.parametrize("metric_name", sorted(CUSTOM_METRIC_ALARMS))
def test_each_metric_the_functions_emit_has_its_alarm(mixed: Synth, metric_name: str):
    statistic, threshold, comparison, period, periods, datapoints, command = CUSTOM_METRIC_ALARMS[
        metric_name
    ]
    alarm = _alarm_on(mixed, metric_name)
    assert alarm["Namespace"] == "MlConnector"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "ml-connector"}]
    assert alarm["Statistic"] == statistic
    assert alarm["Threshold"] == threshold
    assert alarm["ComparisonOperator"] == COMPARISONS[comparison]
    assert alarm["Period"] == period
    assert alarm["EvaluationPeriods"] == periods
    assert alarm.get("DatapointsToAlarm", 1) == datapoints
    assert f"`{command} --tenant acme`" in alarm["AlarmDescription"]


# Metrics only one ledger kind's code emits: QuickBooks Online tokens and circuit breaker,
# the Web Connector's logins and silence. The rest (store side, parking) exist for any tenant.
ONLINE_ONLY_METRICS = {"TokenRefreshFailed", "RefreshTokenDaysLeft", "CircuitOpened"}
DESKTOP_ONLY_METRICS = {"WebConnectorSilent", "WebConnectorLoginFailed"}
EVERY_TENANT_METRICS = set(CUSTOM_METRIC_ALARMS) - ONLINE_ONLY_METRICS - DESKTOP_ONLY_METRICS


def _custom_metrics_alarmed(s: Synth) -> set[str]:
    return {a["MetricName"] for a in _alarms(s) if a["Namespace"] == "MlConnector"}


def test_an_online_only_tenant_gets_no_web_connector_alarms(acme: Synth):
    assert _custom_metrics_alarmed(acme) == EVERY_TENANT_METRICS | ONLINE_ONLY_METRICS


def test_a_desktop_only_tenant_gets_no_token_or_circuit_alarms(synth):
    # The mixed tenant's Desktop connection alone
    desktop = 'tenant = "acme"\n\n[[connections]]' + MIXED_LEDGERS.split("[[connections]]")[-1]
    desk = synth(desktop, "acme")
    assert 'kind = "qbo"' not in desktop
    assert _custom_metrics_alarmed(desk) == EVERY_TENANT_METRICS | DESKTOP_ONLY_METRICS
    assert not [a for a in _alarms(desk) if "QuickBooks Online" in a["AlarmDescription"]]


def test_a_tenant_with_both_ledgers_gets_every_alarm(mixed: Synth):
    assert _custom_metrics_alarmed(mixed) == set(CUSTOM_METRIC_ALARMS)


def test_each_alarm_is_declared_for_the_ledger_whose_code_emits_its_metric():
    kinds = {spec.metric_name: spec.only_for for spec in custom_metric_alarms("acme")}
    assert {m for m, kind in kinds.items() if kind == "qbo"} == ONLINE_ONLY_METRICS
    assert {m for m, kind in kinds.items() if kind == "qbd"} == DESKTOP_ONLY_METRICS


def test_alarm_topic_is_encrypted_and_tls_only(acme: Synth):
    (topic,) = acme.resources("AWS::SNS::Topic").values()
    assert "KmsMasterKeyId" in topic["Properties"]
    (policy,) = acme.resources("AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )
    (key,) = acme.resources("AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True
    # Without an alarm_email there is nobody to subscribe.
    assert acme.resources("AWS::SNS::Subscription") == {}


def test_alarm_email_context_subscribes_that_address(synth):
    result = synth(TWO_CONNECTIONS, "acme", alarm_email="ops@acme.test")
    (subscription,) = result.resources("AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == "ops@acme.test"


def _string_constants(root: Path) -> set[str]:
    return {
        node.value
        for source in root.rglob("*.py")
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def test_every_metric_an_alarm_watches_is_named_by_the_code_that_emits_it():
    # A misspelt name on either side is an alarm that can never fire.
    emitted = _string_constants(ROOT / "shared" / "connector") | _string_constants(
        ROOT / "functions"
    )
    watched = {spec.metric_name for spec in custom_metric_alarms("acme")}
    assert watched - emitted == set()

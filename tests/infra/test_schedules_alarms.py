"""The EventBridge schedule, the alarms and the topic they notify."""

from __future__ import annotations

from typing import Any

from connector import resources
from simulators.testbed.synth import TWO_CONNECTIONS, Synth


def test_scheduled_functions_run_at_their_declared_rate(acme: Synth):
    rules = acme.resources("AWS::Events::Rule").values()
    scheduled = {
        acme.logical_id(acme.stack.functions.by_name[s.name]): s.schedule_minutes
        for s in resources.FUNCTIONS
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


def test_alarms_fire_on_parked_messages_function_errors_and_failed_token_refresh(acme: Synth):
    topic = {"Ref": acme.logical_id(acme.stack.alarms.topic)}
    alarms = _alarms(acme)
    for alarm in alarms:
        assert alarm["Threshold"] == 0
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["AlarmActions"] == [topic]
    dlq = acme.logical_id(acme.stack.queues.by_id["SyncDeadLetterQueue"])
    dlq_alarms = [a for a in alarms if a["MetricName"] == "ApproximateNumberOfMessagesVisible"]
    assert [a["Dimensions"] for a in dlq_alarms] == [
        [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}]
    ]
    error_alarms = {
        a["Dimensions"][0]["Value"]["Ref"] for a in alarms if a["MetricName"] == "Errors"
    }
    assert error_alarms == {
        acme.logical_id(acme.stack.functions.by_name[s.name]) for s in resources.FUNCTIONS
    }
    (token,) = [a for a in alarms if a["MetricName"] == "TokenRefreshFailed"]
    assert token["Namespace"] == "MlConnector"
    assert token["Dimensions"] == [{"Name": "service", "Value": "ml-connector"}]
    assert token["Statistic"] == "Sum"


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

"""cdk-nag 3 (AwsSolutions) passes on the stack, and every exception carries its reason."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_sqs as sqs

from infra.nag import add_aws_solutions_checks, unacknowledged_findings
from simulators.testbed.synth import Synth

# The deliberate exceptions; a new one must be added here on purpose, with its reason in infra/.
EXPECTED_ACKNOWLEDGEMENTS = {
    "AwsSolutions-APIG3",  # WAF, only when waf is off: requests authenticated, routes throttled
    "AwsSolutions-APIG4",  # no authorizer: HMAC-signed webhooks, browser redirects for OAuth
    "AwsSolutions-APIG6",  # execution logging needs an account-wide role; access logs are on
    "AwsSolutions-COG4",  # same reason as APIG4
    "AwsSolutions-IAM5[Resource::*]",  # X-Ray has no resource-level permissions
    "AwsSolutions-L1",  # Python 3.13, the newest the project supports
    "AwsSolutions-SMG4",  # rotation is the OAuth refresh / the store's own key management
}


def test_stack_has_no_unacknowledged_aws_solutions_error_or_warning(acme: Synth):
    assert unacknowledged_findings(acme.stack) == []


def test_every_acknowledgement_is_expected_and_gives_a_reason(acme: Synth):
    acknowledged: dict[str, str] = {}
    for construct in acme.stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for key, reason in entry.data.items():
                    rule = key.removeprefix("Annotation::")
                    acknowledged[rule] = reason
                    assert len(reason.split()) >= 8, f"{construct.node.path}: {rule}: {reason!r}"
    assert set(acknowledged) == EXPECTED_ACKNOWLEDGEMENTS


def test_the_checks_report_a_finding_nobody_acknowledged():
    # Given a stack with a queue that accepts plain HTTP and has no DLQ
    app = App()
    stack = Stack(app, "Careless")
    sqs.Queue(stack, "PlainQueue")
    add_aws_solutions_checks(stack)
    # When checked, Then both findings are reported
    findings = unacknowledged_findings(stack)
    assert any(f.startswith("AwsSolutions-SQS4 ") and "Careless/PlainQueue" in f for f in findings)
    assert any(f.startswith("AwsSolutions-SQS3 ") for f in findings)
    # And synthesis (what `cdk synth` runs) fails on them
    with pytest.raises(RuntimeError, match=r"ValidationFailed(.|\n)*AwsSolutions-SQS4"):
        app.synth()

"""cdk-nag 3: the AwsSolutions pack as a CDK policy-validation plugin.

In cdk-nag 3 the pack runs when the app is synthesised; a finding that is not
acknowledged (``Validations.of(construct).acknowledge(Acknowledgment(id, reason))``,
next to the construct it concerns) fails the synth with the report.
"""

from __future__ import annotations

from aws_cdk import Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def add_aws_solutions_checks(scope: IConstruct) -> None:
    """Run the AwsSolutions rules on every synth of scope."""
    Validations.of(scope).add_plugins(AwsSolutionsChecks(scope, verbose=True))


def unacknowledged_findings(scope: IConstruct) -> list[str]:
    """AwsSolutions findings (errors and warnings) not acknowledged, one line each."""
    report = AwsSolutionsChecks(verbose=True).validate_scope(scope)
    return [
        f"{violation.rule_name} ({violation.severity}) at {resource.construct_path}: "
        f"{violation.description}"
        for violation in report.violations
        for resource in violation.violating_resources
    ]

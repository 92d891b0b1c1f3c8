"""EventBridge schedules for FunctionSpecs with schedule_minutes."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from connector.resources import FunctionSpec
from infra.naming import pascal


class ConnectorSchedules(Construct):
    """One rate rule per scheduled function."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        specs: tuple[FunctionSpec, ...],
        functions: dict[str, lambda_.IFunction],
    ) -> None:
        super().__init__(scope, construct_id)
        self.rules: dict[str, events.Rule] = {}
        for spec in specs:
            if spec.schedule_minutes is None:
                continue
            self.rules[spec.name] = events.Rule(
                self,
                f"{pascal(spec.name)}Schedule",
                description=f"Runs {spec.name} every "
                + ("minute" if spec.schedule_minutes == 1 else f"{spec.schedule_minutes} minutes"),
                schedule=events.Schedule.rate(Duration.minutes(spec.schedule_minutes)),
                targets=[
                    targets.LambdaFunction(
                        functions[spec.name],
                        # The next run comes soon; a stale invocation is not worth keeping.
                        max_event_age=Duration.minutes(spec.schedule_minutes),
                        retry_attempts=2,
                    )
                ],
            )

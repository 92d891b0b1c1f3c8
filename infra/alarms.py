"""CloudWatch alarms and the SNS topic they notify."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from connector.resources import SERVICE_NAME
from infra.naming import METRICS_NAMESPACE, TOKEN_REFRESH_FAILED_METRIC, pascal

PERIOD = Duration.minutes(5)


class ConnectorAlarms(Construct):
    """Alarms that mean a person must look: parked messages, function errors, token refresh."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dead_letter_queues: list[sqs.IQueue],
        functions: dict[str, lambda_.IFunction],
        alarm_email: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        # CloudWatch cannot use the AWS-managed SNS key, so the topic gets its own.
        key = kms.Key(
            self,
            "TopicKey",
            description="ml-connector alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*"
        )
        self.topic = sns.Topic(
            self, "Topic", display_name="ml-connector alarms", master_key=key, enforce_ssl=True
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.alarms: dict[str, cloudwatch.Alarm] = {}

        for dlq in dead_letter_queues:
            self._alarm(
                f"{dlq.node.id}Messages",
                dlq.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic="Maximum"
                ),
                "Messages were parked in the dead-letter queue: see the audit trail, fix, replay",
            )
        for name, function in functions.items():
            self._alarm(
                f"{pascal(name)}Errors",
                function.metric_errors(period=PERIOD, statistic="Sum"),
                f"The {name} function failed (see its log group)",
            )
        self._alarm(
            "TokenRefreshFailed",
            cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=TOKEN_REFRESH_FAILED_METRIC,
                dimensions_map={"service": SERVICE_NAME},
                period=PERIOD,
                statistic="Sum",
            ),
            "A QuickBooks token refresh failed: the company may need to be connected again",
        )

    def _alarm(self, construct_id: str, metric: cloudwatch.IMetric, description: str) -> None:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms[construct_id] = alarm

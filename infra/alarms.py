"""CloudWatch alarms and the SNS topic they notify.

Each alarm's description is what the on-call engineer reads in the notification: what it
means, the first thing to check and the command to run. Missing data never breaches: most
metrics are emitted only when something happens.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from connector.resources import QBO_TOKEN, SERVICE_NAME, LedgerKind
from infra.naming import METRICS_NAMESPACE, TOKEN_REFRESH_FAILED_METRIC, pascal

PERIOD = Duration.minutes(5)
# Transient failures go back to the sync queue with delays of up to hours, so an old
# message alone is normal for a while; older than this means an outage or an open circuit.
OLDEST_MESSAGE_AGE = Duration.hours(1)
# The poll may catch a record a webhook is about to bring; catching records hour after
# hour means the webhooks are not arriving.
WEBHOOKS_MISSED_PERIOD = Duration.hours(1)
WEBHOOKS_MISSED_PERIODS = 3
WEBHOOKS_MISSED_DATAPOINTS = 2
# Intuit's refresh tokens expire for good five years after the merchant connected.
RECONNECT_WARNING_DAYS = 30

GT = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
LT = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD


@dataclass(frozen=True)
class MetricAlarm:
    """An alarm on one of the library's own metrics (Powertools, dimension service)."""

    construct_id: str
    metric_name: str
    statistic: str
    description: str
    period: Duration = PERIOD
    threshold: float = 0
    comparison: cloudwatch.ComparisonOperator = GT
    evaluation_periods: int = 1
    datapoints_to_alarm: int | None = None
    # Its metric exists only where a connection of this ledger kind does (None: any tenant).
    only_for: LedgerKind | None = None


def custom_metric_alarms(tenant: str) -> list[MetricAlarm]:
    """The alarms on metrics the functions emit, each saying what to do for ``tenant``."""
    status = f"connector status --tenant {tenant}"
    return [
        MetricAlarm(
            "TokenRefreshFailed",
            TOKEN_REFRESH_FAILED_METRIC,
            "Sum",
            "A QuickBooks Online token refresh failed (Intuit down, or the merchant revoked the "
            f"app). Run `{status}`: a connection that needs a reconnect gets its ConnectUrl "
            f"output opened by the merchant, then `connector replay --tenant {tenant}`.",
            only_for="qbo",
        ),
        MetricAlarm(
            "CircuitOpen",
            "CircuitOpened",
            "Sum",
            "QuickBooks kept failing for a company, so the connector stopped calling it and "
            "holds its records with a delay; they post when it answers again. First check "
            f"status.developer.intuit.com and the sync function's logs, then run `{status}` "
            "for the circuit state and what is queued.",
            # The breaker guards QuickBooks Online companies (Runtime.circuit); Desktop work
            # waits in the outbox for the Web Connector instead.
            only_for="qbo",
        ),
        MetricAlarm(
            "DeliveriesNotQueued",
            "DeliveriesNotQueued",
            "Sum",
            "SQS refused webhook deliveries; each was written down as received, not queued, "
            "and the next reconcile run queues it, so nothing is lost. If it goes on, check the "
            f"sync queue and the ingest function's logs, then run `{status}`.",
        ),
        MetricAlarm(
            "WebhooksMissed",
            "ReconcileCaught",
            "Sum",
            "Hour after hour the poll (reconcile) finds changed orders no webhook brought: the "
            "store's webhooks are disabled, deleted or point elsewhere. Orders still arrive by "
            f"the poll. Run `connector webhooks check --tenant {tenant}`, then `connector "
            f"webhooks sync --tenant {tenant}` to repair them.",
            period=WEBHOOKS_MISSED_PERIOD,
            evaluation_periods=WEBHOOKS_MISSED_PERIODS,
            datapoints_to_alarm=WEBHOOKS_MISSED_DATAPOINTS,
        ),
        MetricAlarm(
            "WebhookUnhealthy",
            "WebhookUnhealthy",
            "Maximum",
            "The webhook health check found a connection's webhooks missing, disabled by the "
            "store or drifted (URL, secret, topic); the reconcile run repairs what it can and "
            f"polls meanwhile. Run `connector webhooks check --tenant {tenant}`; if still "
            f"unhealthy, `connector webhooks sync --tenant {tenant}` and check the store's "
            "webhook delivery log.",
        ),
        MetricAlarm(
            "WebConnectorSilent",
            "WebConnectorSilent",
            "Maximum",
            "A QuickBooks Desktop connection's Web Connector has not called for more than "
            "three times its schedule: the accounting PC is off, QuickBooks or the Web "
            f"Connector is closed, or its password changed. Run `{status}` for its last "
            "contact, then ask the bookkeeper to open the Web Connector and Update Selected.",
            period=Duration.minutes(15),
            only_for="qbd",
        ),
        MetricAlarm(
            "WebConnectorLoginFailed",
            "WebConnectorLoginFailed",
            "Sum",
            "More than four wrong Web Connector logins (user name or password) in an hour. "
            "Nothing is locked out: wrong logins are only answered slowly, the right password "
            "still gets in. Either someone is guessing at a /qbwc URL (the qbwc function's "
            "logs name the connection, the API access logs the source), or the bookkeeper's "
            f"saved password is stale (`{status}` shows the Web Connector's last contact): run "
            f"`connector qwc <connection> --rotate --tenant {tenant}` and have them type the new "
            "password into the Web Connector.",
            # A stale password on a 5-minute schedule fails 12 times an hour; a typo or two not.
            period=Duration.hours(1),
            threshold=4,
            only_for="qbd",
        ),
        MetricAlarm(
            "RecordsParked",
            "RecordsParked",
            "Sum",
            "Records were parked: they will not post until someone acts (a missing mapping, "
            f"QuickBooks refused them, or retries ran out). Run `connector parked --tenant "
            f"{tenant}` for each record and its reason, fix the cause, then `connector replay "
            f"--tenant {tenant}`.",
        ),
        MetricAlarm(
            "RefreshTokenExpiresSoon",
            "RefreshTokenDaysLeft",
            "Minimum",
            "A QuickBooks Online connection reaches Intuit's five-year limit within "
            f"{RECONNECT_WARNING_DAYS} days; after it nothing posts until the merchant connects "
            f"again. Run `{status}` to see which (token expiry), and send the merchant that "
            "connection's ConnectUrl output before then.",
            # Each period holds at least one run of the qbo_token schedule.
            period=Duration.minutes(2 * (QBO_TOKEN.schedule_minutes or 30)),
            threshold=RECONNECT_WARNING_DAYS,
            comparison=LT,
            only_for="qbo",
        ),
    ]


class ConnectorAlarms(Construct):
    """Alarms that mean a person must look, each on the topic, each saying what to do."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        tenant: str,
        sync_queue: sqs.IQueue,
        dead_letter_queues: list[sqs.IQueue],
        functions: dict[str, lambda_.IFunction],
        rest_api: apigateway.RestApi,
        ledger_kinds: Collection[str],
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
        status = f"connector status --tenant {tenant}"

        for dlq in dead_letter_queues:
            self._alarm(
                f"{dlq.node.id}Messages",
                dlq.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic="Maximum"
                ),
                "Messages were parked in the dead-letter queue. Run `connector parked --tenant "
                f"{tenant}` (or read the audit trail) for why, fix the cause, then `connector "
                f"replay --tenant {tenant}`.",
            )
        self._alarm(
            "SyncQueueOldestMessage",
            sync_queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum"),
            "A record has waited in the sync queue for more than "
            f"{OLDEST_MESSAGE_AGE.to_minutes()} minutes: an outage (QuickBooks or the store) "
            f"or an open circuit. Run `{status}` for each connection's circuit and queue, and "
            "check status.developer.intuit.com; records post by themselves once it is over.",
            threshold=OLDEST_MESSAGE_AGE.to_seconds(),
        )
        for name, function in functions.items():
            self._alarm(
                f"{pascal(name)}Errors",
                function.metric_errors(period=PERIOD, statistic="Sum"),
                f"The {name} function failed: read its log group (errors carry the connection "
                f"and record), then run `{status}`.",
            )
        self._alarm(
            "Api5xx",
            rest_api.metric_server_error(period=PERIOD, statistic="Sum"),
            "The API answered 5xx (a function failed, timed out or was throttled); stores "
            "retry little and WooCommerce disables a webhook after repeated failures. Check "
            "the API access logs and the function error alarms, then run `connector webhooks "
            f"check --tenant {tenant}`.",
        )
        for spec in custom_metric_alarms(tenant):
            if spec.only_for is not None and spec.only_for not in ledger_kinds:
                continue  # an alarm whose metric this tenant never emits only misleads
            self._alarm(
                spec.construct_id,
                cloudwatch.Metric(
                    namespace=METRICS_NAMESPACE,
                    metric_name=spec.metric_name,
                    dimensions_map={"service": SERVICE_NAME},
                    period=spec.period,
                    statistic=spec.statistic,
                ),
                spec.description,
                threshold=spec.threshold,
                comparison=spec.comparison,
                evaluation_periods=spec.evaluation_periods,
                datapoints_to_alarm=spec.datapoints_to_alarm,
            )

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        description: str,
        *,
        threshold: float = 0,
        comparison: cloudwatch.ComparisonOperator = GT,
        evaluation_periods: int = 1,
        datapoints_to_alarm: int | None = None,
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms[construct_id] = alarm

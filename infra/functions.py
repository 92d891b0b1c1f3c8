"""The tenant's Lambda functions (connector.resources.select): one code asset, one layer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from connector.resources import SERVICE_NAME, FunctionSpec
from infra.naming import METRICS_NAMESPACE, function_id
from infra.secrets import ConnectionSecrets
from infra.tables import ConnectorTables

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
LOG_RETENTION = logs.RetentionDays.THREE_MONTHS
# QuickBooks Online allows 10 concurrent requests per company; at most this many
# workers drain the queue at once, leaving room for the OAuth and token functions.
SYNC_MAX_CONCURRENCY = 5


@dataclass(frozen=True)
class LambdaAssets:
    """Directories built by scripts/build_assets.py."""

    code_dir: Path
    layer_dir: Path

    def check(self) -> None:
        for directory in (self.code_dir, self.layer_dir / "python"):
            if not directory.is_dir():
                raise FileNotFoundError(
                    f"{directory} is missing: run `python scripts/build_assets.py` first"
                )


class ConnectorFunctions(Construct):
    """One function per FunctionSpec, each with its own log group, role and grants."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        specs: tuple[FunctionSpec, ...],
        assets: LambdaAssets,
        environment: dict[str, str],
        tables: ConnectorTables,
        queues: dict[str, sqs.Queue],
        secrets: ConnectionSecrets,
    ) -> None:
        super().__init__(scope, construct_id)
        assets.check()
        self._tables = tables
        self._queues = queues
        self._secrets = secrets
        self._environment = {
            **environment,
            "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            # No pydantic plugins are installed: without this, the first model a cold start
            # builds scans every installed package's entry points looking for some.
            "PYDANTIC_DISABLE_PLUGINS": "__all__",
        }
        self.code = lambda_.Code.from_asset(str(assets.code_dir))
        self.layer = lambda_.LayerVersion(
            self,
            "DependencyLayer",
            code=lambda_.Code.from_asset(str(assets.layer_dir)),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="ml-connector run-time dependencies (pyproject [project] dependencies)",
        )
        self.by_name: dict[str, lambda_.Function] = {
            spec.name: self._function(spec) for spec in specs
        }

    def _function(self, spec: FunctionSpec) -> lambda_.Function:
        base_id = function_id(spec.name)
        log_group = logs.LogGroup(
            self,
            f"{base_id}Logs",
            retention=LOG_RETENTION,
            # The audit trail lives in DynamoDB; logs are for diagnosis and expire anyway.
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            self,
            f"{base_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"ml-connector {spec.name} function",
        )
        log_group.grant_write(role)
        function = lambda_.Function(
            self,
            base_id,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=self.code,
            handler=spec.handler,
            layers=[self.layer],
            description=spec.description,
            timeout=Duration.seconds(spec.timeout_s),
            memory_size=spec.memory_mb,
            environment={**self._environment, **spec.env},
            log_group=log_group,
            role=role,
            tracing=lambda_.Tracing.ACTIVE,
        )
        self._grant(spec, role)
        if spec.queue_trigger:
            function.add_event_source(
                event_sources.SqsEventSource(
                    self._queues[spec.queue_trigger],
                    batch_size=spec.batch_size,
                    report_batch_item_failures=True,
                    max_concurrency=SYNC_MAX_CONCURRENCY,
                )
            )
        Validations.of(function).acknowledge(
            Acknowledgment(
                id="AwsSolutions-L1",
                reason=(
                    "The project supports Python 3.11 to 3.13 (pyproject requires-python); the "
                    "runtime moves on when the code and its dependencies are tested on newer."
                ),
            )
        )
        Validations.of(role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason=(
                    "X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level "
                    "permissions; every other statement names its table, queue, secret or log group."
                ),
            )
        )
        return function

    def _grant(self, spec: FunctionSpec, role: iam.Role) -> None:
        for table_id in spec.reads_tables:
            self._tables.by_id[table_id].grant_read_data(role)
        for table_id in spec.writes_tables:
            self._tables.by_id[table_id].grant_write_data(role)
        for writes in spec.writes_items:
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=list(writes.actions),
                    resources=[self._tables.by_id[writes.table].table_arn],
                    conditions={
                        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(writes.pk_like)}
                    },
                )
            )
        for queue_id in spec.sends_to_queues:
            self._queues[queue_id].grant_send_messages(role)
        # Secret by secret (decision 51): each action only on the secrets its parts name.
        for action, parts in (
            ("secretsmanager:GetSecretValue", spec.secrets_read),
            ("secretsmanager:PutSecretValue", spec.secrets_write),
        ):
            arns = self._secrets.arns(parts)
            if arns:
                role.add_to_principal_policy(iam.PolicyStatement(actions=[action], resources=arns))

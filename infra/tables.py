"""DynamoDB tables: the ones connector.resources.select chose for the tenant."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from connector.resources import TableSpec


class ConnectorTables(Construct):
    """One table per TableSpec: on-demand, point-in-time recovery, AWS-managed encryption.

    Tables are retained when the stack is deleted: they hold the audit trail and
    which store records already became QuickBooks documents.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, specs: tuple[TableSpec, ...]
    ) -> None:
        super().__init__(scope, construct_id)
        self.by_id: dict[str, dynamodb.Table] = {
            spec.logical_id: self._table(spec) for spec in specs
        }

    def _table(self, spec: TableSpec) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            spec.logical_id,
            partition_key=dynamodb.Attribute(
                name=spec.partition_key, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name=spec.sort_key, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=spec.ttl_attribute,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN,
        )

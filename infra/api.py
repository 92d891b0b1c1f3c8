"""The REST API (API Gateway v1) serving every FunctionSpec's routes."""

from __future__ import annotations

import re

from aws_cdk import Acknowledgment, Aws, RemovalPolicy, Stack, Validations
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from connector.resources import FunctionSpec, Route
from infra.naming import API_STAGE

# Steady rate and burst per stage: far above a store's webhook traffic, low enough
# that a flood cannot run up the bill or exhaust the functions' concurrency.
THROTTLE_RATE_PER_S = 50
THROTTLE_BURST = 100

_NO_AUTHORIZER_REASONS = {
    "/webhooks/": (
        "Stores cannot send API Gateway credentials; the ingest function verifies each "
        "delivery's HMAC signature with the connection's own webhook secret."
    ),
    "/oauth/": (
        "A merchant's browser arrives here by redirect from the connect link and from Intuit; "
        "the flow is protected by a single-use state bound to the connection."
    ),
    "/qbwc/": (
        "The QuickBooks Web Connector speaks SOAP only; the qbwc function authenticates its "
        "user name and password against the connection's secret."
    ),
}


class ConnectorApi(Construct):
    """A regional REST API with access logs, throttling and path-parameter validation."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.rest_api = apigateway.RestApi(
            self,
            "RestApi",
            # The name is the 5XXError metric's ApiName: one per tenant, not one per account.
            rest_api_name=Stack.of(self).stack_name,
            description="ml-connector: store webhooks and QuickBooks connect flow",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            cloud_watch_role=False,
            deploy_options=apigateway.StageOptions(
                stage_name=API_STAGE,
                access_log_destination=apigateway.LogGroupLogDestination(access_logs),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
                throttling_rate_limit=THROTTLE_RATE_PER_S,
                throttling_burst_limit=THROTTLE_BURST,
                tracing_enabled=True,
            ),
        )
        # Bodies are validated only against a method's request model; the routes declare
        # none (webhook bodies vary by topic, pings are form-encoded), so body checking is
        # on for any model added later and path parameters are required now.
        self.validator = self.rest_api.add_request_validator(
            "RequestValidator", validate_request_parameters=True, validate_request_body=True
        )
        Validations.of(self.rest_api).acknowledge(
            Acknowledgment(
                id="AwsSolutions-APIG3",
                reason=(
                    "Every request is authenticated in the function (HMAC or OAuth state) and the "
                    "stage is throttled; a WAF web ACL can be attached per merchant if wanted."
                ),
            ),
            Acknowledgment(
                id="AwsSolutions-APIG6",
                reason=(
                    "Access logging is on; execution logging needs an account-wide API Gateway "
                    "CloudWatch role, which one tenant's stack should not own."
                ),
            ),
        )

    @property
    def base_url(self) -> str:
        """The stage URL, built without a reference to the stage.

        Functions learn this URL from their environment while the methods depend on the
        functions; referring to the stage here would make a dependency cycle.
        """
        return (
            f"https://{self.rest_api.rest_api_id}.execute-api.{Aws.REGION}.{Aws.URL_SUFFIX}/"
            f"{API_STAGE}/"
        )

    def add_routes(self, spec: FunctionSpec, function: lambda_.IFunction) -> None:
        integration = apigateway.LambdaIntegration(function, proxy=True, allow_test_invoke=False)
        for route in spec.routes:
            self._add_route(route, integration)

    def _add_route(self, route: Route, integration: apigateway.LambdaIntegration) -> None:
        resource = self.rest_api.root.resource_for_path(route.path)
        parameters = {
            f"method.request.path.{name}": True for name in re.findall(r"{(\w+)}", route.path)
        }
        method = resource.add_method(
            route.method,
            integration,
            authorization_type=apigateway.AuthorizationType.NONE,
            request_parameters=parameters or None,
            request_validator=self.validator if parameters else None,
        )
        reason = _no_authorizer_reason(route)
        Validations.of(method).acknowledge(
            Acknowledgment(id="AwsSolutions-APIG4", reason=reason),
            Acknowledgment(id="AwsSolutions-COG4", reason=reason),
        )


def _no_authorizer_reason(route: Route) -> str:
    for prefix, reason in _NO_AUTHORIZER_REASONS.items():
        if route.path.startswith(prefix):
            return reason
    raise ValueError(
        f"route {route.method} {route.path} has no authorizer and no recorded reason why it "
        "needs none: add one to infra/api.py"
    )

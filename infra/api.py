"""The REST API (API Gateway v1) serving every FunctionSpec's routes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Acknowledgment, Aws, RemovalPolicy, Stack, Validations
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from connector.resources import FunctionSpec, Route
from infra.naming import API_STAGE
from infra.waf import ConnectorWaf, PerIpLimit


@dataclass(frozen=True)
class RouteBudget:
    """The method throttle of every route with this method under this path prefix.

    API Gateway keeps one token bucket per method of the stage, so each route has its own:
    a flood on one uses up only its own budget, and the functions it can start at once.
    """

    method: str
    prefix: str
    rate_per_s: float
    burst: int


# No store publishes a delivery rate (the team's store references, stores/FACTS.md), but the
# references say what a refusal costs: WooCommerce never retries a failed delivery and
# disables the webhook after seven failures in a row; BigCommerce blocks the API's domain
# for 3 minutes when under 90% of its deliveries succeed in 2 minutes. The fastest store
# rate they state is BigCommerce's API quota (450 requests per 30 s on Pro, 15/s): an app's
# bulk edits change orders no faster, each change one or two deliveries (updated,
# statusUpdated). 50/s covers a few such stores at once; a burst of 200 takes a bulk admin
# action's deliveries arriving together (WooCommerce coalesces repeats of one order).
WEBHOOKS = RouteBudget("POST", "/webhooks/", rate_per_s=50, burst=200)
# A merchant's browser: one connect and one callback per connection, once in years.
OAUTH = RouteBudget("GET", "/oauth/", rate_per_s=1, burst=5)
# The Web Connector waits for each answer before its next call, so one Desktop connection
# makes a few calls a second at most; 10/s lets several sync at once, and bounds how many
# wrong logins (each held up to 4 s, decision 49) run at the same time.
QBWC_SOAP = RouteBudget("POST", "/qbwc/", rate_per_s=10, burst=20)
# ?wsdl: a person or a tool reading the service description.
QBWC_WSDL = RouteBudget("GET", "/qbwc/", rate_per_s=1, burst=5)
ROUTE_BUDGETS: tuple[RouteBudget, ...] = (WEBHOOKS, OAUTH, QBWC_SOAP, QBWC_WSDL)
# The stage default, for a method given no budget of its own (add_routes refuses one): the
# smallest budget.
DEFAULT_BUDGET = OAUTH

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

    def __init__(
        self, scope: Construct, construct_id: str, *, routes: Sequence[Route], waf: bool = False
    ) -> None:
        super().__init__(scope, construct_id)
        # The throttles are stage settings, fixed when the stage is made: the routes are
        # declared here, and add_routes accepts only those.
        self.budgets = {route: route_budget(route) for route in routes}
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
                throttling_rate_limit=DEFAULT_BUDGET.rate_per_s,
                throttling_burst_limit=DEFAULT_BUDGET.burst,
                method_options={
                    f"{route.path}/{route.method}": apigateway.MethodDeploymentOptions(
                        throttling_rate_limit=budget.rate_per_s,
                        throttling_burst_limit=budget.burst,
                    )
                    for route, budget in self.budgets.items()
                },
                tracing_enabled=True,
            ),
        )
        # Bodies are validated only against a method's request model; the routes declare
        # none (webhook bodies vary by topic, pings are form-encoded), so body checking is
        # on for any model added later and path parameters are required now.
        self.validator = self.rest_api.add_request_validator(
            "RequestValidator", validate_request_parameters=True, validate_request_body=True
        )
        self.waf: ConnectorWaf | None = None
        if waf:
            self.waf = ConnectorWaf(
                self, "Waf", stage=self.rest_api.deployment_stage, per_ip=_per_ip_limits(routes)
            )
        else:
            Validations.of(self.rest_api).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-APIG3",
                    reason=(
                        "This tenant file leaves waf off: every request is authenticated in the "
                        "function (HMAC signature, OAuth state, Web Connector login) and each "
                        "route has its own method throttle; waf = true adds the web ACL."
                    ),
                )
            )
        Validations.of(self.rest_api).acknowledge(
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
        undeclared = [f"{r.method} {r.path}" for r in spec.routes if r not in self.budgets]
        if undeclared:
            raise ValueError(
                f"routes {undeclared} of function {spec.name} were not given to ConnectorApi "
                "(routes=...), so the stage has no throttle for them"
            )
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


def route_budget(route: Route) -> RouteBudget:
    """The method throttle of a route; a route without one is a mistake to fix here."""
    for budget in ROUTE_BUDGETS:
        if route.method == budget.method and route.path.startswith(budget.prefix):
            return budget
    raise ValueError(
        f"route {route.method} {route.path} has no throttle budget: add a RouteBudget for it "
        "to infra/api.py"
    )


def _per_ip_limits(routes: Sequence[Route]) -> list[PerIpLimit]:
    """One per-address WAF rule per deployed route prefix, at its largest method throttle."""
    rates: dict[str, float] = {}
    for route in routes:
        budget = route_budget(route)
        rates[budget.prefix] = max(rates.get(budget.prefix, 0), budget.rate_per_s)
    return [
        PerIpLimit(name=f"PerIp{prefix.strip('/').capitalize()}", path_part=prefix, rate_per_s=rate)
        for prefix, rate in sorted(rates.items())
    ]

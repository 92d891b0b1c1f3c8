"""Routes that cannot starve each other (issue #11 part 7).

Each route has its own method throttle in the stage (webhooks sized for a store's
burst, OAuth and the Web Connector small), and `waf = true` in the tenant file adds
a WAF web ACL on the stage: a per-address rate rule per route prefix and AWS's
common rules, with the rules that would refuse order bodies or SOAP counted.
cdk-nag's WAF rule is acknowledged only when waf is off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_lambda as lambda_

from connector import resources
from connector.resources import Route
from infra.api import ConnectorApi
from infra.nag import unacknowledged_findings
from simulators.testbed.synth import MIXED_LEDGERS, TWO_CONNECTIONS, Synth

MIXED_WITH_WAF = MIXED_LEDGERS.replace('tenant = "acme"', 'tenant = "acme"\nwaf = true', 1)

# (method, resource path) -> (steady rate per second, burst), as the stage must carry them.
EXPECTED_BUDGETS = {
    ("POST", "/webhooks/{connection_id}"): (50, 200),
    ("POST", "/webhooks/qbo/{connection_id}"): (50, 200),
    ("GET", "/oauth/qbo/connect/{connection_id}"): (1, 5),
    ("GET", "/oauth/qbo/callback"): (1, 5),
    ("POST", "/qbwc/{connection_id}"): (10, 20),
    ("GET", "/qbwc/{connection_id}"): (1, 5),
}
# The rules of AWS's common rule set that count instead of blocking, and nothing else.
COUNTED = {
    "SizeRestrictions_BODY",
    "CrossSiteScripting_BODY",
    "GenericLFI_BODY",
    "GenericRFI_BODY",
    "EC2MetaDataSSRF_BODY",
    "NoUserAgent_HEADER",
}


@pytest.fixture(scope="module")
def mixed(synth: Callable[..., Synth]) -> Synth:
    return synth(MIXED_LEDGERS, "acme")


@pytest.fixture(scope="module")
def guarded(synth: Callable[..., Synth]) -> Synth:
    return synth(MIXED_WITH_WAF, "acme")


def _stage(s: Synth) -> tuple[str, dict[str, Any]]:
    ((logical_id, stage),) = s.resources("AWS::ApiGateway::Stage").items()
    return logical_id, stage["Properties"]


def _method_budgets(s: Synth) -> dict[tuple[str, str], tuple[float, int]]:
    """The stage's per-method throttles, by method and path as the routes declare them."""
    return {
        # API Gateway's form: "/" then the path with each "/" written "~1".
        (setting["HttpMethod"], setting["ResourcePath"].removeprefix("/").replace("~1", "/")): (
            setting["ThrottlingRateLimit"],
            setting["ThrottlingBurstLimit"],
        )
        for setting in _stage(s)[1]["MethodSettings"]
        if setting["HttpMethod"] != "*"
    }


def _routes(s: Synth) -> set[tuple[str, str]]:
    paths = s.api_paths()
    return {
        (m["Properties"]["HttpMethod"], paths[m["Properties"]["ResourceId"]["Ref"]])
        for m in s.resources("AWS::ApiGateway::Method").values()
    }


def test_every_route_has_its_own_throttle_sized_for_who_calls_it(mixed: Synth):
    budgets = _method_budgets(mixed)
    assert budgets == EXPECTED_BUDGETS
    # Every method the API serves has a budget of its own, none left to the stage default
    assert set(budgets) == _routes(mixed)
    # The store's deliveries have far more room than anything a stranger can reach cheaply
    webhooks = budgets[("POST", "/webhooks/{connection_id}")]
    others = [budget for route, budget in budgets.items() if not route[1].startswith("/webhooks")]
    assert all(webhooks[0] >= 5 * rate and webhooks[1] >= 10 * burst for rate, burst in others)


def test_the_stage_default_is_the_smallest_budget(mixed: Synth):
    (default,) = [s for s in _stage(mixed)[1]["MethodSettings"] if s["HttpMethod"] == "*"]
    assert (default["ResourcePath"], default["ThrottlingRateLimit"]) == ("/*", 1)
    assert default["ThrottlingBurstLimit"] == 5


def test_an_online_only_tenant_throttles_only_the_routes_it_has(acme: Synth):
    assert _method_budgets(acme) == {
        route: budget for route, budget in EXPECTED_BUDGETS.items() if "/qbwc" not in route[1]
    }


def test_a_route_without_a_budget_is_refused_when_the_api_is_built():
    stack = Stack(App(), "Unbudgeted")
    admin = Route("PUT", "/admin/{id}")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"route PUT /admin/\{id\} has no throttle budget"):
        ConnectorApi(stack, "Api", routes=[Route("POST", "/webhooks/{x}"), admin])


def test_a_function_whose_routes_the_stage_does_not_throttle_is_refused():
    stack = Stack(App(), "Undeclared")
    api = ConnectorApi(stack, "Api", routes=[Route("POST", "/webhooks/{connection_id}")])
    function = lambda_.Function(
        stack,
        "Qbwc",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
    )
    with pytest.raises(ValueError, match=r"routes \['POST /qbwc/\{connection_id\}'.*qbwc"):
        api.add_routes(resources.QBWC, function)


def test_without_waf_there_is_no_web_acl_and_nag_says_why(mixed: Synth):
    assert mixed.resources("AWS::WAFv2::WebACL") == {}
    assert mixed.resources("AWS::WAFv2::WebACLAssociation") == {}
    assert unacknowledged_findings(mixed.stack) == []
    assert "AwsSolutions-APIG3" in _acknowledged(mixed)
    assert "waf = true" in _acknowledged(mixed)["AwsSolutions-APIG3"]


def test_waf_true_associates_a_regional_web_acl_with_the_stage(guarded: Synth):
    ((acl_id, acl),) = guarded.resources("AWS::WAFv2::WebACL").items()
    props = acl["Properties"]
    assert props["Scope"] == "REGIONAL"
    assert props["DefaultAction"] == {"Allow": {}}
    (association,) = guarded.resources("AWS::WAFv2::WebACLAssociation").values()
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    stage_id, _ = _stage(guarded)
    arn = association["Properties"]["ResourceArn"]["Fn::Join"][1]
    rest_api = guarded.logical_id(guarded.stack.api.rest_api)
    assert {"Ref": rest_api} in arn and {"Ref": stage_id} in arn
    assert "/stages/" in "".join(part for part in arn if isinstance(part, str))


def test_waf_limits_each_address_per_route_to_what_its_throttle_allows(guarded: Synth):
    rules = {rule["Name"]: rule for rule in _web_acl_rules(guarded)}
    limits = {}
    for rule in rules.values():
        statement = rule["Statement"].get("RateBasedStatement")
        if statement is None:
            continue
        assert statement["AggregateKeyType"] == "IP"
        assert statement["EvaluationWindowSec"] == 300
        match = statement["ScopeDownStatement"]["ByteMatchStatement"]
        assert match["FieldToMatch"] == {"UriPath": {}}
        assert match["PositionalConstraint"] == "CONTAINS"
        # As sent: an encoded path part cannot borrow another route's larger limit
        assert match["TextTransformations"] == [{"Priority": 0, "Type": "NONE"}]
        assert rule["Action"] == {"Block": {"CustomResponse": {"ResponseCode": 429}}}
        limits[match["SearchString"]] = statement["Limit"]
    # Five minutes at the route's own steady rate: never below what the throttle lets through
    assert limits == {"/webhooks/": 50 * 300, "/oauth/": 1 * 300, "/qbwc/": 10 * 300}


def test_waf_runs_aws_common_rules_counting_those_that_would_refuse_orders_or_soap(
    guarded: Synth,
):
    (common,) = [
        rule for rule in _web_acl_rules(guarded) if "ManagedRuleGroupStatement" in rule["Statement"]
    ]
    group = common["Statement"]["ManagedRuleGroupStatement"]
    assert (group["VendorName"], group["Name"]) == ("AWS", "AWSManagedRulesCommonRuleSet")
    assert common["OverrideAction"] == {"None": {}}
    overrides = {o["Name"]: o["ActionToUse"] for o in group["RuleActionOverrides"]}
    assert overrides == {name: {"Count": {}} for name in COUNTED}
    # The rate rules are evaluated first, so a flood is refused before the common rules run
    rate_priorities = [
        r["Priority"] for r in _web_acl_rules(guarded) if "RateBasedStatement" in r["Statement"]
    ]
    assert max(rate_priorities) < common["Priority"]


def test_waf_rules_report_metrics_and_sampled_requests(guarded: Synth):
    (acl,) = guarded.resources("AWS::WAFv2::WebACL").values()
    configs = [acl["Properties"]["VisibilityConfig"]] + [
        rule["VisibilityConfig"] for rule in _web_acl_rules(guarded)
    ]
    for config in configs:
        assert config["CloudWatchMetricsEnabled"] is True
        assert config["SampledRequestsEnabled"] is True


def test_with_waf_nag_is_clean_without_acknowledging_the_waf_rule(guarded: Synth):
    assert unacknowledged_findings(guarded.stack) == []
    assert "AwsSolutions-APIG3" not in _acknowledged(guarded)


def test_an_online_only_tenant_with_waf_has_no_web_connector_rule(synth: Callable[..., Synth]):
    online = synth(
        TWO_CONNECTIONS.replace('tenant = "acme"', 'tenant = "acme"\nwaf = true'), "acme"
    )
    searched = {
        rule["Statement"]["RateBasedStatement"]["ScopeDownStatement"]["ByteMatchStatement"][
            "SearchString"
        ]
        for rule in _web_acl_rules(online)
        if "RateBasedStatement" in rule["Statement"]
    }
    assert searched == {"/webhooks/", "/oauth/"}
    assert unacknowledged_findings(online.stack) == []


def _web_acl_rules(s: Synth) -> list[dict[str, Any]]:
    (acl,) = s.resources("AWS::WAFv2::WebACL").values()
    return list(acl["Properties"]["Rules"])


def _acknowledged(s: Synth) -> dict[str, str]:
    found: dict[str, str] = {}
    for construct in s.stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for key, reason in entry.data.items():
                    found[key.removeprefix("Annotation::")] = reason
    return found

"""The optional WAF web ACL on the API stage (`waf = true` in the tenant file).

Two kinds of rule. A rate-based rule per route prefix counts requests per source
address and answers 429 once one address sends more than its route's method
throttle allows on average (infra/api.py): no sender the throttle would let
through is ever refused here, and a single-address flood stops using up the
budget the route shares with the store or the Web Connector. Then AWS's common
rule set, with the rules that inspect bodies or require a User-Agent counted
instead of blocking (see COUNTED_COMMON_RULES).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

# WAF counts each address's requests over this window (its default; 60, 120, 300 or 600).
RATE_WINDOW_S = 300
# WAF's smallest allowed rate-based limit.
MIN_RATE_LIMIT = 10
COMMON_RULE_SET = "AWSManagedRulesCommonRuleSet"
COMMON_RULES_PRIORITY = 100

# Rules of the common rule set that would refuse what the routes must accept; each counts
# (visible in the WAF metrics and sampled requests) instead. Bodies are a store's order
# JSON or qbXML inside SOAP, authenticated in the function (HMAC, Web Connector login)
# and parsed with XML entities off; a refused delivery is lost (WooCommerce does not
# retry and disables a webhook after seven failures) and a refused Web Connector call
# stops the merchant's sync.
COUNTED_COMMON_RULES: dict[str, str] = {
    "SizeRestrictions_BODY": (
        "refuses bodies over 8 KB: a WooCommerce order delivery is the whole order and a "
        "receiveResponseXML carries up to 50 qbXML responses"
    ),
    "CrossSiteScripting_BODY": (
        "order bodies carry store text (product names, line meta, customer notes) that may "
        "hold HTML; the connector never renders it"
    ),
    "GenericLFI_BODY": "customer notes and addresses are free text (a '../' in a note)",
    "GenericRFI_BODY": "line meta and notes may hold URLs; the connector never fetches them",
    "EC2MetaDataSSRF_BODY": "free text naming an address is data here, never fetched",
    "NoUserAgent_HEADER": (
        "the references do not say that BigCommerce deliveries or the Web Connector send a "
        "User-Agent; every request is authenticated in the function anyway"
    ),
}


@dataclass(frozen=True)
class PerIpLimit:
    """A rate-based rule for the routes whose path holds ``path_part``."""

    name: str  # the rule's name and metric, e.g. "PerIpWebhooks"
    path_part: str  # e.g. "/webhooks/"
    rate_per_s: float  # the route's method throttle (steady rate)

    @property
    def limit(self) -> int:
        """Requests per address per window: the method throttle's rate, sustained."""
        return max(MIN_RATE_LIMIT, math.ceil(self.rate_per_s * RATE_WINDOW_S))


def _visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


def _per_ip_rule(priority: int, spec: PerIpLimit) -> wafv2.CfnWebACL.RuleProperty:
    # The path part is matched as sent (no URL decoding), so an encoded "%2Fwebhooks%2F"
    # in another route's path cannot borrow the webhooks' larger limit.
    in_routes = wafv2.CfnWebACL.StatementProperty(
        byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
            positional_constraint="CONTAINS",
            search_string=spec.path_part,
            text_transformations=[
                wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")
            ],
        )
    )
    return wafv2.CfnWebACL.RuleProperty(
        name=spec.name,
        priority=priority,
        statement=wafv2.CfnWebACL.StatementProperty(
            rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                aggregate_key_type="IP",
                limit=spec.limit,
                evaluation_window_sec=RATE_WINDOW_S,
                scope_down_statement=in_routes,
            )
        ),
        # 429 like the method throttle, so a client backs off the same way for both.
        action=wafv2.CfnWebACL.RuleActionProperty(
            block=wafv2.CfnWebACL.BlockActionProperty(
                custom_response=wafv2.CfnWebACL.CustomResponseProperty(response_code=429)
            )
        ),
        visibility_config=_visibility(spec.name),
    )


def _common_rules() -> wafv2.CfnWebACL.RuleProperty:
    return wafv2.CfnWebACL.RuleProperty(
        name=COMMON_RULE_SET,
        priority=COMMON_RULES_PRIORITY,
        statement=wafv2.CfnWebACL.StatementProperty(
            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                vendor_name="AWS",
                name=COMMON_RULE_SET,
                rule_action_overrides=[
                    wafv2.CfnWebACL.RuleActionOverrideProperty(
                        name=name,
                        action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={}),
                    )
                    for name in sorted(COUNTED_COMMON_RULES)
                ],
            )
        ),
        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
        visibility_config=_visibility(COMMON_RULE_SET),
    )


class ConnectorWaf(Construct):
    """A regional web ACL, associated with the API's stage."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: apigateway.Stage,
        per_ip: Sequence[PerIpLimit],
    ) -> None:
        super().__init__(scope, construct_id)
        rules = [_per_ip_rule(n, spec) for n, spec in enumerate(per_ip)]
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            description="ml-connector: per-address limits per route, AWS common rules",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            rules=[*rules, _common_rules()],
            visibility_config=_visibility("MlConnectorApi"),
        )
        self.association = wafv2.CfnWebACLAssociation(
            self, "Association", resource_arn=stage.stage_arn, web_acl_arn=self.web_acl.attr_arn
        )

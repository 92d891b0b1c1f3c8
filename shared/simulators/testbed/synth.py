"""What an infra test synthesised: the stack, its template and the tenant file it came from.

Tests only: it needs the checkout's ``infra`` package and aws-cdk-lib (a dev dependency).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Template

from infra.stack import ConnectorStack

ROOT = Path(__file__).resolve().parents[3]  # the checkout, with cdk.json

TWO_CONNECTIONS = """
tenant = "acme"

[[connections]]
id = "shop-us"
[connections.store]
kind = "woocommerce"
url = "https://shop.acme.test"
[connections.ledger]
kind = "qbo"
environment = "sandbox"
[connections.mapping]
fallback_item = "Sales"

[[connections]]
id = "shop-eu"
document = "sales_receipt"
[connections.store]
kind = "woocommerce"
url = "https://eu.acme.test"
[connections.ledger]
kind = "qbo"
environment = "production"
[connections.mapping.tax]
mode = "per_rate"
codes = { "1" = "VAT 20%" }
"""

# The same tenant with a QuickBooks Desktop connection as well: both ledger kinds.
MIXED_LEDGERS = (
    TWO_CONNECTIONS
    + """
[[connections]]
id = "books"
[connections.store]
kind = "woocommerce"
url = "https://books.acme.test"
[connections.ledger]
kind = "qbd"
[connections.mapping]
fallback_item = "Sales"
"""
)


@dataclass(frozen=True)
class Synth:
    stack: ConnectorStack
    template: Template
    tenant_file: Path

    @cached_property
    def cfn(self) -> dict[str, Any]:
        return dict(self.template.to_json())

    def resources(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.cfn["Resources"].items() if v["Type"] == cfn_type}

    def logical_id(self, construct: Any) -> str:
        return self.stack.get_logical_id(construct.node.default_child)

    def api_paths(self) -> dict[str, str]:
        """API resource logical id -> full path, by following ParentId up to the API root."""
        rest_api = self.logical_id(self.stack.api.rest_api)
        api_resources = self.resources("AWS::ApiGateway::Resource")

        def path(logical_id: str) -> str:
            props = api_resources[logical_id]["Properties"]
            parent = props["ParentId"]
            if parent == {"Fn::GetAtt": [rest_api, "RootResourceId"]}:
                return "/" + props["PathPart"]
            return path(parent["Ref"]) + "/" + props["PathPart"]

        return {logical_id: path(logical_id) for logical_id in api_resources}


def cdk_json_context() -> dict[str, Any]:
    return dict(json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"])

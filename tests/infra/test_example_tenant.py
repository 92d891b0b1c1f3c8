"""The shipped example tenant synthesises, as `cdk synth -c tenant=example` does."""

from __future__ import annotations

from aws_cdk import App
from aws_cdk.assertions import Template

from infra.functions import LambdaAssets
from infra.stack import stack_from_context
from simulators.testbed.synth import cdk_json_context


def test_example_tenant_synthesises_with_its_connection_urls(lambda_assets: LambdaAssets, tmp_path):
    app = App(context={**cdk_json_context(), "tenant": "example"}, outdir=str(tmp_path))
    stack = stack_from_context(app, assets=lambda_assets)
    outputs = Template.from_stack(stack).to_json()["Outputs"]
    assert stack.stack_name == "MlConnector-example"
    assert outputs["WebhookUrlShopUs"]["Value"]["Fn::Join"][1][-1] == "/webhooks/shop-us"

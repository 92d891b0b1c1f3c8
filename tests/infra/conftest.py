"""Synthesise ConnectorStack for tenant files written by the tests.

The Lambda assets are built once per session by scripts/build_assets.py (pip
downloads arm64 wheels from PyPI the first time; later runs reuse the layer).
Each synth uses cdk.json's context, so tests see what `cdk synth` produces.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from infra.functions import LambdaAssets
from infra.stack import stack_from_context
from scripts.build_assets import build_assets
from simulators.testbed.synth import TWO_CONNECTIONS, Synth, cdk_json_context

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def lambda_assets() -> LambdaAssets:
    code_dir, layer_dir = build_assets()
    return LambdaAssets(code_dir=code_dir, layer_dir=layer_dir)


SynthFn = Callable[..., Synth]


@pytest.fixture(scope="session")
def synth(lambda_assets: LambdaAssets, tmp_path_factory: pytest.TempPathFactory) -> SynthFn:
    """synth(toml_text, tenant, **context) -> Synth; ConfigError escapes as synth would raise it."""

    def run(toml_text: str, tenant: str, **context: str) -> Synth:
        tenant_dir = tmp_path_factory.mktemp("tenants")
        path = tenant_dir / f"{tenant}.toml"
        path.write_text(toml_text, encoding="utf-8")
        app = App(
            context={
                **cdk_json_context(),
                "tenant": tenant,
                "tenant_dir": str(tenant_dir),
                **context,
            },
            outdir=str(tmp_path_factory.mktemp("cdk.out")),
        )
        stack = stack_from_context(app, assets=lambda_assets)
        return Synth(stack=stack, template=Template.from_stack(stack), tenant_file=path)

    return run


@pytest.fixture(scope="module")
def acme(synth: SynthFn) -> Synth:
    """A tenant with two connections, synthesised once per module."""
    return synth(TWO_CONNECTIONS, "acme")

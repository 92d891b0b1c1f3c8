"""A wrong tenant file stops synth with a message naming the file and the field."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from connector.errors import ConfigError
from simulators.testbed.synth import TWO_CONNECTIONS

ROOT = Path(__file__).resolve().parents[2]


def test_bad_field_fails_synth_naming_the_file_and_field(synth):
    bad = TWO_CONNECTIONS.replace('url = "https://eu.acme.test"', 'url = "eu.acme.test"')
    with pytest.raises(ConfigError) as raised:
        synth(bad, "acme")
    message = str(raised.value)
    assert "acme.toml" in message
    assert "connections.1.store.url" in message


def test_tenant_name_must_match_the_file_name(synth):
    with pytest.raises(ConfigError, match=r"other\.toml: tenant: is 'acme'"):
        synth(TWO_CONNECTIONS, "other")


def test_connection_ids_that_collide_in_logical_ids_are_refused(synth):
    clashing = TWO_CONNECTIONS.replace('id = "shop-eu"', 'id = "shopus"').replace(
        'id = "shop-us"', 'id = "shop-us"'
    )
    with pytest.raises(ConfigError, match=r"'shop-us' and 'shopus'"):
        synth(clashing, "acme")


def test_oversized_tenant_configuration_is_refused(synth):
    items = ", ".join(f'"SKU-{n:04d}" = "QuickBooks item {n}"' for n in range(200))
    big = TWO_CONNECTIONS.replace('fallback_item = "Sales"', f"items = {{ {items} }}")
    with pytest.raises(ConfigError, match=r"acme\.toml: the configuration is \d+ characters"):
        synth(big, "acme")


def _run_app(tmp_path: Path, context: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps(context),
        "CDK_OUTDIR": str(tmp_path / "out"),
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "app.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cdk_app_exits_with_the_message_for_a_bad_tenant_file(tmp_path, lambda_assets):
    # Given a tenant file with a wrong value, When `cdk synth -c tenant=broken` runs app.py
    (tmp_path / "broken.toml").write_text(
        TWO_CONNECTIONS.replace('tenant = "acme"', 'tenant = "broken"').replace(
            'mode = "per_rate"', 'mode = "sometimes"'
        ),
        encoding="utf-8",
    )
    result = _run_app(tmp_path, {"tenant": "broken", "tenant_dir": str(tmp_path)})
    # Then it stops with the file and field, not a traceback
    assert result.returncode == 1
    assert "broken.toml" in result.stderr
    assert "connections.1.mapping.tax.mode" in result.stderr
    assert "Traceback" not in result.stderr


def test_cdk_app_without_a_tenant_says_how_to_give_one(tmp_path, lambda_assets):
    result = _run_app(tmp_path, {})
    assert result.returncode == 1
    assert "cdk synth -c tenant=<name>" in result.stderr
    assert "example" in result.stderr

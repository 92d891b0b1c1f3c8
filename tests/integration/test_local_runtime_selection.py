"""`connector local` runs what the tenant's stack deploys (issue #11 part 11).

LocalRuntime without explicit functions follows connector.resources.select, as
the CDK stack does: an Online-only tenant has no Web Connector route or Desktop
tables, a Desktop-only tenant no OAuth route or token-refresh schedule.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from connector import cli_target, resources
from connector.cli_local import route_lines
from connector.config import TenantConfig, parse_tenant_json
from connector.local import LocalRuntime
from simulators.testbed.tenant_files import publish, run_cli, write_tenant_file


def _tenant(kind: str) -> str:
    ledger = {"kind": "qbd", "user_name": "desk-sync"} if kind == "qbd" else {"kind": "qbo"}
    return TenantConfig.model_validate(
        {
            "tenant": "solo",
            "connections": [
                {
                    "id": "shop",
                    "store": {"kind": "woocommerce", "url": "https://shop.example.com"},
                    "ledger": ledger,
                }
            ],
        }
    ).model_dump_json()


@pytest.fixture
def online() -> Iterator[LocalRuntime]:
    with LocalRuntime(tenant="solo", tenant_config_json=_tenant("qbo")) as running:
        yield running


@pytest.fixture
def desktop() -> Iterator[LocalRuntime]:
    with LocalRuntime(tenant="solo", tenant_config_json=_tenant("qbd")) as running:
        yield running


def test_an_online_only_tenant_runs_no_web_connector(online: LocalRuntime) -> None:
    assert {spec.name for spec in online.functions} == {
        "ingest",
        "sync",
        "oauth",
        "qbo_token",
        "reconcile",
    }
    with httpx.Client(base_url=online.base_url, timeout=30) as http:
        # API Gateway's answer for a route the stage does not have.
        answer = http.post("/qbwc/shop", content=b"<soap/>")
        assert answer.status_code == 403
        assert answer.json() == {"message": "Missing Authentication Token"}
    assert resources.ENV_OUTBOX_TABLE not in online.env
    assert resources.ENV_SESSION_TABLE not in online.env
    names = online.boto3_client("dynamodb").list_tables()["TableNames"]
    assert sorted(names) == sorted(online.table_names.values())
    assert set(online.table_names) == {"StateTable", "AuditTable"}
    online.fire_schedule("qbo_token")  # the token refresher is there, and runs


def test_a_desktop_only_tenant_runs_no_oauth_or_token_refresher(desktop: LocalRuntime) -> None:
    assert {spec.name for spec in desktop.functions} == {"ingest", "sync", "qbwc", "reconcile"}
    with httpx.Client(base_url=desktop.base_url, timeout=30) as http:
        answer = http.get("/oauth/qbo/connect/shop")
        assert answer.status_code == 403
        assert http.get("/qbwc/shop", params={"wsdl": ""}).status_code == 200
    assert set(desktop.table_names) == {"StateTable", "AuditTable", "OutboxTable", "SessionTable"}
    with pytest.raises(KeyError, match="no scheduled function 'qbo_token'"):
        desktop.fire_schedule("qbo_token")


def test_status_and_parked_work_for_a_tenant_without_the_desktop_outbox(
    online: LocalRuntime, tmp_path: Path
) -> None:
    # Given connector local for an Online-only tenant: no OutboxTableName among its outputs
    assert cli_target.table_output(resources.OUTBOX_TABLE) not in online.outputs()
    path = write_tenant_file(parse_tenant_json(online.tenant_config_json), tmp_path)
    publish(online, path)

    # Then on-call's first two commands still answer
    status = run_cli("status", "--config", str(path), "--local", "--json")
    assert status.returncode == 0, status.stderr
    (connection,) = json.loads(status.stdout)["connections"]
    assert connection["connection_id"] == "shop"
    parked = run_cli("parked", "--config", str(path), "--local", "--json")
    assert parked.returncode == 0, parked.stderr
    assert json.loads(parked.stdout) == []


@pytest.mark.parametrize("kind", ["qbo", "qbd"])
def test_every_url_connector_local_prints_is_a_route_it_serves(kind: str) -> None:
    config = _tenant(kind)
    with (
        LocalRuntime(tenant="solo", tenant_config_json=config) as running,
        httpx.Client(timeout=30) as http,
    ):
        (line,) = route_lines(parse_tenant_json(config), running.base_url)
        urls = [word for word in line.split() if word.startswith("http")]
        if kind == "qbo":
            # The connect route takes only a signed link: the line names the verb making one.
            assert "connector connect-url --tenant solo --connection shop --local" in line
            urls.append(f"{running.base_url}/oauth/qbo/connect/shop")
        assert len(urls) == 2
        assert ("/qbwc/shop" in urls[1]) is (kind == "qbd")
        webhook, ledger = urls
        # Not API Gateway's answer for a route the stage lacks: a handler answered.
        for answer in (http.post(webhook, content=b"{}"), http.get(ledger)):
            assert "Missing Authentication Token" not in answer.text, answer.url

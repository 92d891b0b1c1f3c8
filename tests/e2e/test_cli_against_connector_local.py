"""Every CLI verb reaches `connector local` as it reaches AWS (issue 10, part 10).

A newcomer starts `connector local` with a tenant file and a secrets file (which seeds the
Desktop connection's Web Connector password), then, in another shell with no AWS credentials,
runs `connector status`, `connector qwc`, `connector backfill --dry-run`, `connector webhooks
check`, `connector parked` and `connector replay`. Each finds the runtime through the endpoint
file `connector local` writes beside the tenant file, which goes when it stops.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from lxml import etree

from connector import cli_target
from simulators.qbd import QbdCompany
from simulators.qbo import QboSimulator
from simulators.qbwc import WebConnector
from simulators.testbed.tenant_files import operator_env, run_cli
from simulators.woocommerce import LineSpec, OrderSpec, WooSimulator

REPO = Path(__file__).resolve().parents[2]
TENANT = "newcomer"
SEEDED_PASSWORD = "try-the-web-connector-1"


@dataclass
class Local:
    base_url: str
    tenant_file: Path
    endpoint_file: Path
    process: subprocess.Popen[str]
    woo: WooSimulator
    qbo: QboSimulator


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    here = tmp_path_factory.mktemp("newcomer")
    woo = WooSimulator(consumer_key="ck_new", consumer_secret="cs_new", seed=4)
    qbo = QboSimulator(client_id="app", client_secret="app-secret")
    tokens = qbo.issue_tokens()
    with woo.serve() as store, qbo.serve() as ledger:
        tenant_file = here / f"{TENANT}.toml"
        tenant_file.write_text(
            f"""
tenant = "{TENANT}"

[[connections]]
id = "shop"
[connections.store]
kind = "woocommerce"
url = "{store.base_url}"
[connections.ledger]
kind = "qbo"
api_base = "{ledger.base_url}"
token_url = "{ledger.base_url}/oauth2/v1/tokens/bearer"
[connections.mapping]
fallback_item = "Sales"

[[connections]]
id = "desk"
[connections.store]
kind = "woocommerce"
url = "{store.base_url}"
[connections.ledger]
kind = "qbd"
user_name = "desk-sync"
run_every_minutes = 5
[connections.mapping]
fallback_item = "Sales"
""",
            encoding="utf-8",
        )
        store_keys = {
            "consumer_key": "ck_new",
            "consumer_secret": "cs_new",
            "webhook_secret": "NewcomerSecret1",
        }
        secrets_file = here / "secrets.json"
        secrets_file.write_text(
            json.dumps(
                {
                    "shop": {
                        "store": store_keys,
                        "ledger": {
                            "client_id": "app",
                            "client_secret": "app-secret",
                            "realm_id": qbo.realm_id,
                            "refresh_token": tokens["refresh_token"],
                        },
                    },
                    "desk": {
                        "store": store_keys,
                        "ledger": {"web_connector_password": SEEDED_PASSWORD},
                    },
                }
            ),
            encoding="utf-8",
        )
        command = [
            sys.executable, "-m", "connector.cli", "local", "--config", str(tenant_file),
            "--secrets", str(secrets_file), "--port", str(_free_port()),
        ]  # fmt: skip
        env = {**operator_env(), "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'shared'}"}
        process = subprocess.Popen(
            command, cwd=here, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        try:
            assert process.stdout is not None
            base_url = process.stdout.readline().strip()
            endpoint_file = cli_target.local_file(tenant_file, TENANT)
            deadline = time.monotonic() + 30
            while not endpoint_file.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            yield Local(base_url, tenant_file, endpoint_file, process, woo, qbo)
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 0
        # Stopped, it takes its endpoint file away: the CLI no longer finds a dead runtime.
        assert not cli_target.local_file(tenant_file, TENANT).exists()


def test_connector_local_says_where_it_is_and_writes_it_for_the_cli(local: Local) -> None:
    endpoint = cli_target.read_local_file(local.endpoint_file)
    assert endpoint.tenant == TENANT and endpoint.base_url == local.base_url
    assert endpoint.aws_endpoint_url.startswith("http://127.0.0.1:")
    assert endpoint.outputs["ApiUrl"] == f"{local.base_url}/"
    assert {"SyncQueueUrl", "SyncDeadLetterQueueUrl", "StateTableName"} <= set(endpoint.outputs)
    # Readable by this user only: it holds the embedded AWS's key
    assert local.endpoint_file.stat().st_mode & 0o077 == 0


def test_status_finds_the_running_runtime_without_aws_credentials(local: Local) -> None:
    done = run_cli("status", "--config", str(local.tenant_file))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"tenant {TENANT} (connector local at {local.base_url})")
    header = lines[3].split()
    assert header == ["shop", "desk"]
    rows = {line.split("  ")[0]: line for line in lines[4:]}
    assert "woocommerce -> QuickBooks Online" in rows["store / ledger"]
    assert "QuickBooks Desktop" in rows["store / ledger"]
    # The seeded refresh token's expiry is learnt at its first refresh
    assert "connected (expiry not recorded)" in rows["token expiry"]
    assert "n/a (Desktop)" in rows["token expiry"]
    assert "never SILENT" in rows["Web Connector"]


def test_qwc_against_the_local_runtime_keeps_the_seeded_password_which_logs_in(
    local: Local, tmp_path: Path
) -> None:
    out = tmp_path / "desk.qwc"
    done = run_cli("qwc", "desk", "--config", str(local.tenant_file), "--local", "--out", str(out))

    assert done.returncode == 0, done.stderr
    assert "password unchanged" in done.stdout and SEEDED_PASSWORD not in done.stdout
    root = etree.fromstring(out.read_bytes(), etree.XMLParser(resolve_entities=False))
    assert root.findtext("AppURL") == f"{local.base_url}/qbwc/desk"
    # The Web Connector logs in with the password from the secrets file (stored as its hash)
    with WebConnector.from_qwc(
        out.read_text(encoding="utf-8"), SEEDED_PASSWORD, QbdCompany()
    ) as web:
        session = web.run_session()
    assert session.auth_status in ("", "none"), session.errors
    status = json.loads(run_cli("status", "--config", str(local.tenant_file), "--json").stdout)
    desk = next(c for c in status["connections"] if c["connection_id"] == "desk")
    assert desk["web_connector_last_contact_at"] is not None


def test_backfill_dry_run_reads_the_store_through_the_local_runtimes_secrets(
    local: Local,
) -> None:
    order = local.woo.create_order(OrderSpec(lines=[LineSpec(10, 2)], status="completed"))
    done = run_cli(
        "backfill", "--config", str(local.tenant_file), "--connection", "shop",
        "--since", "2000-01-01", "--until", f"{date.today() + timedelta(days=1)}", "--dry-run",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert str(order["id"]) in done.stdout and order["total"] in done.stdout


def test_webhooks_check_reports_against_the_local_api_url(local: Local) -> None:
    done = run_cli("webhooks", "check", "--config", str(local.tenant_file), "--connection", "shop")
    # No webhook registered yet: check reports it missing and exits 1
    assert done.returncode == 1, done.stderr
    assert "shop" in done.stdout and "missing" in done.stdout.lower()
    synced = run_cli("webhooks", "sync", "--config", str(local.tenant_file), "--connection", "shop")
    assert synced.returncode == 0, synced.stderr
    # And the store now delivers to the local API: a second check finds nothing wrong
    again = run_cli("webhooks", "check", "--config", str(local.tenant_file), "--connection", "shop")
    assert again.returncode == 0, again.stdout
    assert f"{local.base_url}/webhooks/shop" in synced.stdout + again.stdout


def test_parked_and_replay_reach_the_local_runtime(local: Local) -> None:
    listed = run_cli("parked", "--config", str(local.tenant_file))
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip() == "nothing parked"
    replayed = run_cli("replay", "--tenant", TENANT, "--config", str(local.tenant_file))
    assert replayed.returncode == 0, replayed.stderr
    report = json.loads(replayed.stdout)
    assert report["replayed"] == [] and report["resent"] == []
    assert report["desktop_requeued"] == []


def test_connect_url_prints_a_single_use_link_and_refuses_a_desktop_connection(
    local: Local,
) -> None:
    done = run_cli("connect-url", "--config", str(local.tenant_file), "--connection", "shop")
    assert done.returncode == 0, done.stderr
    link = done.stdout.strip()
    assert link.startswith(f"{local.base_url}/oauth/qbo/connect/shop?")
    assert "works once, until" in done.stderr
    # The link answers as Intuit's authorisation start: a redirect to Intuit's consent page
    answer = httpx.get(link, follow_redirects=False)
    assert answer.status_code in (302, 303) and "state=" in answer.headers["location"]
    # once: a second visit, and a visit without a link, get a page that says how to get one
    for refused in (httpx.get(link), httpx.get(f"{local.base_url}/oauth/qbo/connect/shop")):
        assert refused.status_code in (403, 410) and "location" not in refused.headers
        assert "connector connect-url" in refused.text
    desk = run_cli("connect-url", "--config", str(local.tenant_file), "--connection", "desk")
    assert desk.returncode == 2 and "connector qwc desk" in desk.stderr

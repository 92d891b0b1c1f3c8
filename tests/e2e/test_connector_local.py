"""`connector local --config FILE --secrets FILE --port N`: the command a merchant runs.

Runs the real command in a subprocess against a simulated store, checks that it
prints the base URL, serves the webhook route with the seeded secrets, posts an
order into a simulated QuickBooks company connected with a seeded refresh token,
and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from simulators.qbo import QboSimulator
from simulators.woocommerce import LineSpec, OrderSpec, WooSimulator
from simulators.woocommerce_webhooks import WebhookSender

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_connector_local_serves_the_stack_and_posts_an_order(tmp_path: Path) -> None:
    woo = WooSimulator(consumer_key="ck_live", consumer_secret="cs_live", seed=2)
    qbo = QboSimulator(client_id="app", client_secret="app-secret")
    tokens = qbo.issue_tokens()
    with woo.serve() as store, qbo.serve() as ledger:
        tenant = tmp_path / "merchant.toml"
        tenant.write_text(
            f"""
tenant = "merchant"
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
""",
            encoding="utf-8",
        )
        secrets = tmp_path / "secrets.json"
        secrets.write_text(
            json.dumps(
                {
                    "shop": {
                        "store": {
                            "consumer_key": "ck_live",
                            "consumer_secret": "cs_live",
                            "webhook_secret": "MerchantSecret1",
                        },
                        "ledger": {
                            "client_id": "app",
                            "client_secret": "app-secret",
                            "realm_id": qbo.realm_id,
                            "refresh_token": tokens["refresh_token"],
                        },
                    }
                }
            ),
            encoding="utf-8",
        )
        port = _free_port()
        command = [
            sys.executable, "-m", "connector.cli", "local",
            "--config", str(tenant), "--secrets", str(secrets), "--port", str(port),
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'shared'}"}
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        try:
            assert process.stdout is not None
            first_line = process.stdout.readline().strip()
            assert first_line == f"http://127.0.0.1:{port}"
            sender = WebhookSender(
                woo,
                target_url=f"{first_line}/webhooks/shop",
                secret="MerchantSecret1",
                webhook_id=9,
            )
            assert sender.ping() == 200
            order = woo.create_order(OrderSpec(lines=[LineSpec(10, 2)], status="processing"))
            assert sender.deliver("order.created", order["id"]) == 200
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not qbo.documents("Invoice"):
                time.sleep(0.2)
            (invoice,) = qbo.documents("Invoice")
            assert str(invoice["TotalAmt"]) == order["total"]
            assert httpx.get(f"{first_line}/nope").status_code == 403  # as API Gateway answers
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 0


def test_connector_local_names_the_field_of_a_bad_tenant_file(tmp_path: Path) -> None:
    tenant = tmp_path / "bad.toml"
    tenant.write_text('tenant = "Bad Name"\n', encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'shared'}"}
    result = subprocess.run(
        [sys.executable, "-m", "connector.cli", "local", "--config", str(tenant)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert str(tenant) in result.stderr
    assert "tenant: String should match pattern" in result.stderr
    assert "connections: Field required" in result.stderr

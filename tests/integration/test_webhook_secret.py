"""The webhook secret is its own secret (issue #11 part 4, decision 51): ingest verifies
deliveries with ``<prefix>/<connection>/webhook``, never with anything in the store secret, and
``connector webhooks sync`` names that secret when it cannot use it. Against a LocalRuntime
(moto's Secrets Manager) and the WooCommerce simulator."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from connector.config import load_tenant
from connector.local import LocalRuntime
from connector.resources import INGEST, secret_name
from simulators.testbed.cli import connector
from simulators.woocommerce import WooSimulator

TENANT = "split"
KEYS = {"consumer_key": "ck_split", "consumer_secret": "cs_split"}
GIVEN_WITH_THE_KEYS = "GivenWithKeys1"
ROTATED = "RotatedInWebhookSecret2"
QBO_APP = {"client_id": "app", "client_secret": "app-secret"}
# What the stack puts in a secret it creates, until someone fills it in (infra/secrets.py).
PLACEHOLDER = {"placeholder": "put the webhook_secret here", "unset": "x"}


def _tenant(woo_url: str) -> str:
    connection = (
        f'store = {{ kind = "woocommerce", url = "{woo_url}" }}\nledger = {{ kind = "qbo" }}'
    )
    return f"""
tenant = "{TENANT}"

[[connections]]
id = "shop"
{connection}

[[connections]]
id = "nohook"
{connection}

[[connections]]
id = "unfilled"
{connection}
"""


@pytest.fixture(scope="module")
def woo() -> Iterator[tuple[WooSimulator, str]]:
    simulator = WooSimulator(
        consumer_key=KEYS["consumer_key"], consumer_secret=KEYS["consumer_secret"]
    )
    with simulator.serve() as server:
        yield simulator, server.base_url


@pytest.fixture(scope="module")
def setup(
    woo: tuple[WooSimulator, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LocalRuntime, Path]]:
    path = tmp_path_factory.mktemp("tenants") / f"{TENANT}.toml"
    path.write_text(_tenant(woo[1]))
    secrets = {
        # The merchant's secrets file gives the webhook secret with the store keys...
        "shop": {"store": {**KEYS, "webhook_secret": GIVEN_WITH_THE_KEYS}, "ledger": QBO_APP},
        # ...or none at all, or the stack's placeholder is still there (put below).
        "nohook": {"store": KEYS, "ledger": QBO_APP},
        "unfilled": {"store": KEYS, "ledger": QBO_APP},
    }
    with LocalRuntime(
        tenant=TENANT,
        tenant_config_json=load_tenant(path).model_dump_json(),
        functions=(INGEST,),
        secrets=secrets,
    ) as runtime:
        client = runtime.boto3_client("secretsmanager")
        prefix = runtime.secret_prefix
        client.create_secret(
            Name=secret_name(prefix, "unfilled", "webhook"), SecretString=json.dumps(PLACEHOLDER)
        )
        # The merchant rotates the webhook secret where the stack keeps it, before any delivery.
        client.put_secret_value(
            SecretId=secret_name(prefix, "shop", "webhook"),
            SecretString=json.dumps({"webhook_secret": ROTATED}),
        )
        yield runtime, path


def _deliver(runtime: LocalRuntime, secret: str) -> httpx.Response:
    body = json.dumps(
        {"id": 7, "status": "processing", "date_modified_gmt": "2026-11-24T09:00:00"}
    ).encode()
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    return httpx.post(
        f"{runtime.base_url}/webhooks/shop",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-WC-Webhook-Topic": "order.updated",
            "X-WC-Webhook-Delivery-ID": "d-split",
            "X-WC-Webhook-Signature": signature.decode(),
        },
    )


def test_the_store_secret_keeps_only_the_store_keys(setup: tuple[LocalRuntime, Path]) -> None:
    runtime, _ = setup
    client = runtime.boto3_client("secretsmanager")
    stored = client.get_secret_value(SecretId=secret_name(runtime.secret_prefix, "shop", "store"))
    assert json.loads(stored["SecretString"]) == KEYS


def test_ingest_verifies_with_the_webhook_secret_only(setup: tuple[LocalRuntime, Path]) -> None:
    runtime, _ = setup
    # A delivery signed with what the webhook secret now holds is queued...
    accepted = _deliver(runtime, ROTATED)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["queued"] == 1
    # ...and one signed with the value once given beside the store keys is refused.
    refused = _deliver(runtime, GIVEN_WITH_THE_KEYS)
    assert refused.status_code == 401
    assert refused.json()["message"] == "signature missing or invalid"


def test_webhooks_sync_names_the_webhook_secret_it_cannot_use(
    setup: tuple[LocalRuntime, Path],
) -> None:
    runtime, path = setup
    prefix = runtime.secret_prefix
    results = {
        connection: connector(
            runtime,
            "webhooks",
            "sync",
            "--config",
            str(path),
            "--url",
            runtime.base_url,
            "--connection",
            connection,
        )
        for connection in ("nohook", "unfilled")
    }

    missing = results["nohook"]
    assert missing.returncode == 1, missing.stderr
    assert (
        f"cannot read the connection's webhook secret ({prefix}/nohook/webhook)" in missing.stdout
    )
    unfilled = results["unfilled"]
    assert unfilled.returncode == 1, unfilled.stderr
    assert (
        "the webhook secret of connection unfilled lacks webhook_secret: put the secret the "
        f"store's webhooks are verified with into Secrets Manager ({prefix}/unfilled/webhook)"
    ) in unfilled.stdout
    for done in results.values():
        assert KEYS["consumer_secret"] not in done.stdout + done.stderr

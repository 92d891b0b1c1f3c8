"""`connector webhooks sync|check` from a shell, against a LocalRuntime and the simulated stores.

What the operator checks: a table per connection; check exits 1 while a webhook is missing
or drifted and 0 once sync has put them right; a dry run changes nothing; a store that
refuses its keys is named with the reason while the other connections are still synced; the
webhooks sync registered really reach the connector's ingest and pass its verification; no
secret is ever printed.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from connector.config import load_tenant
from connector.local import LocalRuntime
from connector.resources import INGEST
from connector.stores.bigcommerce.hooks import REGISTERED_SCOPES
from connector.stores.woocommerce_hooks import TOPICS
from simulators.bigcommerce import BigCommerceSimulator
from simulators.httpserver import LoopbackServer
from simulators.testbed.cli import connector
from simulators.woocommerce import LineSpec, OrderSpec, WooSimulator

TENANT = "hooks"
WOO_SECRET = "WooHookSecret7"
BC_SECRET = "BcHookToken9"
QBO_APP = {"client_id": "app", "client_secret": "app-secret"}


@dataclass
class Setup:
    runtime: LocalRuntime
    tenant_file: Path
    woo: WooSimulator
    bc: BigCommerceSimulator

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return connector(
            self.runtime, "webhooks", *args, "--config", str(self.tenant_file),
            "--url", self.runtime.base_url,
        )  # fmt: skip

    def url(self, connection: str) -> str:
        return f"{self.runtime.base_url}/webhooks/{connection}"


def _tenant_file(woo_url: str, bc_url: str, bc_hash: str) -> str:
    return f"""
tenant = "{TENANT}"

[[connections]]
id = "shop"
store = {{ kind = "woocommerce", url = "{woo_url}" }}
ledger = {{ kind = "qbo" }}

[[connections]]
id = "bcshop"
store = {{ kind = "bigcommerce", store_hash = "{bc_hash}", api_base = "{bc_url}" }}
ledger = {{ kind = "qbo" }}

[[connections]]
id = "mage"
store = {{ kind = "magento", url = "https://mage.example" }}
ledger = {{ kind = "qbo" }}

[[connections]]
id = "revoked"
store = {{ kind = "bigcommerce", store_hash = "{bc_hash}", api_base = "{bc_url}" }}
ledger = {{ kind = "qbo" }}
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    woo = WooSimulator(consumer_key="ck_hooks", consumer_secret="cs_hooks", seed=4)
    bc = BigCommerceSimulator(quota=1000, loopback_destinations=True)
    with woo.serve() as woo_server, LoopbackServer(bc.handle) as bc_server:
        path = tmp_path_factory.mktemp("tenants") / f"{TENANT}.toml"
        path.write_text(_tenant_file(woo_server.base_url, bc_server.base_url, bc.store_hash))
        config = load_tenant(path)
        bc_store = {"access_token": bc.access_token, "client_secret": bc.client_secret,
                    "webhook_secret": BC_SECRET}  # fmt: skip
        secrets = {
            "shop": {"store": {"consumer_key": "ck_hooks", "consumer_secret": "cs_hooks",
                               "webhook_secret": WOO_SECRET}, "ledger": QBO_APP},
            "bcshop": {"store": bc_store, "ledger": QBO_APP},
            "mage": {"store": {"consumer_key": "k", "consumer_secret": "s", "access_token": "t",
                               "access_token_secret": "ts", "webhook_secret": "m"},
                     "ledger": QBO_APP},
            "revoked": {"store": {**bc_store, "access_token": "revoked-token"}, "ledger": QBO_APP},
        }  # fmt: skip
        with LocalRuntime(
            tenant=TENANT,
            tenant_config_json=config.model_dump_json(),
            functions=(INGEST,),
            secrets=secrets,
            poll_interval_s=0.05,
        ) as runtime:
            yield Setup(runtime, path, woo, bc)


def test_check_before_anything_is_registered_names_what_is_missing(setup: Setup) -> None:
    done = setup.run("check")

    assert done.returncode == 1, done.stderr
    out = done.stdout
    assert f"shop (WooCommerce) -> {setup.url('shop')}" in out
    assert f"bcshop (BigCommerce) -> {setup.url('bcshop')}" in out
    assert out.count("missing") == len(TOPICS) + len(REGISTERED_SCOPES)
    assert "mage (Magento)" in out and "polls changed orders and customers every 2 minutes" in out
    assert "revoked (BigCommerce)" in out and "refused the access token" in out


def test_a_dry_run_says_what_it_would_do_and_registers_nothing(setup: Setup) -> None:
    done = setup.run("sync", "--dry-run")

    assert done.returncode == 1  # the revoked connection still cannot be asked
    assert "[dry run: nothing was changed]" in done.stdout
    assert done.stdout.count("would create") == len(TOPICS) + len(REGISTERED_SCOPES)
    assert setup.woo.webhooks.webhooks == {} and setup.bc.hooks == {}


def test_sync_registers_the_webhooks_and_the_connector_accepts_their_deliveries(
    setup: Setup,
) -> None:
    # When the operator syncs every connection
    done = setup.run("sync")

    # Then the connection the store refuses is named, and the others are registered
    assert done.returncode == 1
    assert "revoked (BigCommerce)" in done.stdout and "error: BigCommerce refused" in done.stdout
    assert len(re.findall(r"^  \S+ +created +\d+$", done.stdout, re.M)) == len(TOPICS) + len(
        REGISTERED_SCOPES
    )
    assert WOO_SECRET not in done.stdout + done.stderr
    assert BC_SECRET not in done.stdout + done.stderr
    woo_hooks = setup.woo.webhooks.webhooks.values()
    assert sorted(h.topic for h in woo_hooks) == sorted(TOPICS)
    assert {h.delivery_url for h in woo_hooks} == {setup.url("shop")}
    assert sorted(h.scope for h in setup.bc.hooks.values()) == sorted(REGISTERED_SCOPES)
    # And what the stores send through them passes the connector's verification
    order = setup.woo.create_order(OrderSpec(lines=[LineSpec(10, 1)], customer_id=2))
    assert setup.woo.webhooks.deliver("order.created", order["id"]) == [200]
    assert setup.bc.deliver("store/order/created", 101) == [200]
    # And a check of the synced connections passes
    checked = setup.run("check", "--connection", "shop")
    assert checked.returncode == 0, checked.stdout
    assert checked.stdout.count(" ok ") == len(TOPICS)
    assert "WooCommerce never shows a webhook's secret" in checked.stdout
    assert setup.run("check", "--connection", "bcshop").returncode == 0


def test_check_finds_what_the_stores_switched_off_and_sync_switches_it_back_on(
    setup: Setup,
) -> None:
    # Given WooCommerce disabled a webhook and BigCommerce deactivated a hook
    (woo_updated,) = [h for h in setup.woo.webhooks.webhooks.values() if h.topic == "order.updated"]
    woo_updated.sender.status = "disabled"
    (bc_created,) = [h for h in setup.bc.hooks.values() if h.scope == "store/order/created"]
    bc_created.is_active = False

    # Then check says so, per connection
    woo_check = setup.run("check", "--connection", "shop")
    assert woo_check.returncode == 1
    assert "order.updated" in woo_check.stdout and "drifted" in woo_check.stdout
    assert "switched off by the store (disabled)" in woo_check.stdout

    # When sync runs for one connection
    synced = setup.run("sync", "--connection", "shop")
    assert synced.returncode == 0, synced.stdout
    assert "reactivated" in synced.stdout
    assert woo_updated.status == "active"
    # Then the other connection is left as it was until its turn
    assert setup.run("check", "--connection", "bcshop").returncode == 1
    assert setup.run("sync", "--connection", "bcshop").returncode == 0
    assert bc_created.is_active
    assert setup.run("check", "--connection", "bcshop").returncode == 0


def test_an_unknown_connection_is_refused_naming_the_known_ones(setup: Setup) -> None:
    done = setup.run("check", "--connection", "nope")
    assert done.returncode == 2
    assert "no connection 'nope'" in done.stderr and "shop, bcshop, mage, revoked" in done.stderr

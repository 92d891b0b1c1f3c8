"""`connector qwc` from a shell, against the embedded AWS (moto server) of a LocalRuntime.

What the operator checks: the .qwc file is written, the password is printed
once and works in the Web Connector, only its hash is stored, a second run
leaves it alone, --rotate replaces it, and a wrong setting is refused before
anything changes.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from connector.config import load_tenant
from connector.ledgers.qbd.password import verify_password
from connector.local import LocalRuntime
from connector.resources import QBWC, secret_name
from simulators.qbd import QbdCompany
from simulators.qbwc import WebConnector
from simulators.testbed.cli import connector
from simulators.testbed.desktop import QbwcRig
from simulators.testbed.orders import taxed_order

TENANT = "desk"
CONN = "desk"  # qbwc_rig's connection id, so its helpers queue orders for it
USER = "shop-sync"
PLACEHOLDER = {"placeholder": "put the Intuit app's client_id and client_secret here"}
PASSWORD_LINE = re.compile(r"^Web Connector password \(shown only now\): (\S+)$", re.MULTILINE)

TENANT_FILE = f"""
tenant = "{TENANT}"

[[connections]]
id = "{CONN}"
[connections.store]
kind = "woocommerce"
url = "https://shop.example"
[connections.ledger]
kind = "qbd"
user_name = "{USER}"
app_name = "Desk Shop Sync"
run_every_minutes = 5
sales_tax_item = "Sales Tax"
[connections.mapping]
fallback_item = "Sales"

[[connections]]
id = "fresh"
[connections.store]
kind = "woocommerce"
url = "https://fresh.example"
[connections.ledger]
kind = "qbd"

[[connections]]
id = "online"
[connections.store]
kind = "woocommerce"
url = "https://online.example"
[connections.ledger]
kind = "qbo"
"""


@pytest.fixture(scope="module")
def tenant_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tenants") / f"{TENANT}.toml"
    path.write_text(TENANT_FILE, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runtime(tenant_file: Path) -> Iterator[LocalRuntime]:
    config = load_tenant(tenant_file)
    # As deployed: the stack creates each ledger secret with a placeholder; "fresh" has none at all.
    secrets = {CONN: {"ledger": PLACEHOLDER}, "online": {"ledger": PLACEHOLDER}}
    with LocalRuntime(
        tenant=TENANT,
        tenant_config_json=config.model_dump_json(),
        functions=(QBWC,),
        secrets=secrets,
        poll_interval_s=0.05,
    ) as running:
        yield running


def secret(runtime: LocalRuntime, connection_id: str) -> str:
    name = secret_name(runtime.secret_prefix, connection_id, "ledger")
    value = runtime.boto3_client("secretsmanager").get_secret_value(SecretId=name)
    return str(value["SecretString"])


def qwc(
    runtime: LocalRuntime, tenant_file: Path, out: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return connector(
        runtime,
        "qwc",
        out.stem,
        "--tenant",
        TENANT,
        "--config",
        str(tenant_file),
        "--url",
        runtime.base_url,
        "--out",
        str(out),
        *extra,
    )


def test_the_password_is_shown_once_stored_as_a_hash_and_works_in_the_web_connector(
    runtime: LocalRuntime, tenant_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / f"{CONN}.qwc"

    # When the operator runs `connector qwc` for the first time
    first = qwc(runtime, tenant_file, out)

    # Then the file is written and the password is printed once, on stdout only
    assert first.returncode == 0, first.stderr
    (password,) = PASSWORD_LINE.findall(first.stdout)
    assert first.stdout.count(password) == 1 and password not in first.stderr
    assert "Password column" in first.stdout
    # And only its hash is stored
    stored = json.loads(secret(runtime, CONN))
    assert set(stored) == {"password_hash"}
    assert password not in json.dumps(stored)
    assert verify_password(password, stored["password_hash"])
    # And the file points the Web Connector at this endpoint, with the tenant's settings
    root = etree.fromstring(out.read_bytes(), etree.XMLParser(resolve_entities=False))
    assert root.findtext("AppURL") == f"{runtime.base_url}/qbwc/{CONN}"
    assert root.findtext("UserName") == USER
    assert root.findtext("AppName") == "Desk Shop Sync"
    assert root.findtext("Scheduler/RunEveryNMinutes") == "5"

    # When the merchant adds that file with that password and an order is waiting
    rig = QbwcRig(runtime=runtime, config=load_tenant(tenant_file))
    order = taxed_order(7)
    rig.queue(order)
    company = QbdCompany()
    with WebConnector.from_qwc(out.read_text(encoding="utf-8"), password, company) as web:
        session = web.run_session()
        quiet = web.run_session()
    # Then the order lands in QuickBooks Desktop, and the next run finds nothing waiting
    assert session.auth_status == "" and session.outcome == "done", session.errors
    (invoice,) = company.transactions("Invoice")
    assert invoice.ref_number == "7" and invoice.total == order.total
    assert quiet.outcome == "none"

    # When it is run again without --rotate
    again = qwc(runtime, tenant_file, out)
    # Then the password is neither printed nor changed
    assert again.returncode == 0, again.stderr
    assert "password unchanged; use --rotate to set a new one" in again.stdout
    assert PASSWORD_LINE.search(again.stdout) is None and password not in again.stdout
    assert json.loads(secret(runtime, CONN)) == stored
    root_again = etree.fromstring(out.read_bytes(), etree.XMLParser(resolve_entities=False))
    assert root_again.findtext("OwnerID") == root.findtext("OwnerID")
    assert root_again.findtext("FileID") == root.findtext("FileID")

    # When it is run with --rotate
    rotated = qwc(runtime, tenant_file, out, "--rotate")
    # Then a new password is printed once and the old one no longer matches the stored hash
    assert rotated.returncode == 0, rotated.stderr
    (new_password,) = PASSWORD_LINE.findall(rotated.stdout)
    assert new_password != password
    new_hash = json.loads(secret(runtime, CONN))["password_hash"]
    assert verify_password(new_password, new_hash)
    assert not verify_password(password, new_hash)


def test_a_connection_without_any_ledger_secret_gets_one(
    runtime: LocalRuntime, tenant_file: Path, tmp_path: Path
) -> None:
    done = qwc(runtime, tenant_file, tmp_path / "fresh.qwc")
    assert done.returncode == 0, done.stderr
    (password,) = PASSWORD_LINE.findall(done.stdout)
    assert verify_password(password, json.loads(secret(runtime, "fresh"))["password_hash"])
    root = etree.fromstring((tmp_path / "fresh.qwc").read_bytes())
    assert root.findtext("UserName") == "ml-connector"
    assert root.findtext("Scheduler/RunEveryNMinutes") == "15"


def test_plain_http_to_another_host_is_refused_and_nothing_changes(
    runtime: LocalRuntime, tenant_file: Path, tmp_path: Path
) -> None:
    before = secret(runtime, CONN)
    out = tmp_path / "desk.qwc"
    done = connector(
        runtime, "qwc", CONN, "--config", str(tenant_file), "--url", "http://shop.example/prod",
        "--out", str(out), "--rotate",
    )  # fmt: skip
    assert done.returncode == 2
    assert "QBWC1051" in done.stderr and "https" in done.stderr
    assert not out.exists()
    assert PASSWORD_LINE.search(done.stdout) is None
    assert secret(runtime, CONN) == before


def test_a_quickbooks_online_connection_is_refused(
    runtime: LocalRuntime, tenant_file: Path, tmp_path: Path
) -> None:
    before = secret(runtime, "online")
    done = qwc(runtime, tenant_file, tmp_path / "online.qwc")
    assert done.returncode == 2
    assert "online posts to QuickBooks Online, not Desktop" in done.stderr
    assert not (tmp_path / "online.qwc").exists()
    assert secret(runtime, "online") == before


def test_an_unknown_connection_names_the_known_ones(
    runtime: LocalRuntime, tenant_file: Path, tmp_path: Path
) -> None:
    done = qwc(runtime, tenant_file, tmp_path / "nope.qwc")
    assert done.returncode == 2
    assert "no connection 'nope'" in done.stderr and "desk, fresh, online" in done.stderr


def test_without_url_the_api_url_comes_from_the_tenants_stack(
    runtime: LocalRuntime, tenant_file: Path, tmp_path: Path
) -> None:
    # Given the deployed stack's outputs (the stage URL ends with a slash)
    cloudformation = runtime.boto3_client("cloudformation")
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {
            "ApiUrl": {"Value": "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/"}
        },
    }
    cloudformation.create_stack(
        StackName=f"MlConnector-{TENANT}", TemplateBody=json.dumps(template)
    )
    # When `connector qwc` runs with the tenant's file from tenants/ in the working directory
    (tmp_path / "tenants").mkdir()
    (tmp_path / "tenants" / f"{TENANT}.toml").write_text(TENANT_FILE, encoding="utf-8")
    done = connector(runtime, "qwc", "fresh", "--tenant", TENANT, cwd=tmp_path)
    # Then the file in the working directory points at the deployed API
    assert done.returncode == 0, done.stderr
    root = etree.fromstring((tmp_path / "fresh.qwc").read_bytes())
    assert root.findtext("AppURL") == (
        "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/qbwc/fresh"
    )
    assert root.findtext("AppSupport") == (
        "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/qbwc/fresh?support"
    )

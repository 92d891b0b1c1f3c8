"""Where a verb acts (connector.cli_target) and what `connector local` seeds (connector.cli_local):
the refusals an operator meets, in the words they read."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from connector import cli_target
from connector.cli_local import seeded_secrets
from connector.config import parse_tenant
from connector.errors import ConfigError
from connector.ledgers.qbd.password import verify_password

CONFIG = parse_tenant(
    {
        "tenant": "t1",
        "connections": [
            {
                "id": "desk",
                "store": {"kind": "woocommerce", "url": "https://shop.example"},
                "ledger": {"kind": "qbd"},
            },
            {
                "id": "online",
                "store": {"kind": "woocommerce", "url": "https://shop.example"},
                "ledger": {"kind": "qbo"},
            },
        ],
    },
    "t1.toml",
)


def _endpoint(pid: int, tenant: str = "t1") -> cli_target.LocalEndpoint:
    return cli_target.LocalEndpoint(
        tenant=tenant,
        pid=pid,
        region="us-east-1",
        aws_endpoint_url="http://127.0.0.1:1",
        account_id="123456789012",
        access_key_id="AKIAEXAMPLE",
        secret_access_key=SecretStr("moto-secret"),
        base_url="http://127.0.0.1:8080",
        outputs={"ApiUrl": "http://127.0.0.1:8080/", "StateTableName": "state"},
    )


def test_the_endpoint_file_round_trips_and_keeps_the_key_out_of_reprs(tmp_path: Path) -> None:
    path = cli_target.local_file(tmp_path / "t1.toml", "t1")
    assert path == tmp_path / ".connector-local" / "t1.json"
    cli_target.write_local_file(path, _endpoint(os.getpid()))

    read = cli_target.read_local_file(path)
    assert read.secret_access_key.get_secret_value() == "moto-secret"
    assert "moto-secret" not in repr(read)
    assert path.stat().st_mode & 0o777 == 0o600
    target = cli_target.open_target("t1", tmp_path / "t1.toml", local=True)
    assert target.local and target.where == "connector local at http://127.0.0.1:8080"
    assert target.table(cli_target.resources.STATE_TABLE) == "state"
    with pytest.raises(
        ConfigError, match=re.escape("connector local at http://127.0.0.1:8080 has no SyncQueueUrl")
    ):
        target.output("SyncQueueUrl")


def test_a_file_left_by_a_stopped_runtime_is_refused_by_its_pid(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    cli_target.write_local_file(
        cli_target.local_file(tmp_path / "t1.toml", "t1"), _endpoint(gone.pid)
    )
    with pytest.raises(ConfigError, match=rf"\(pid {gone.pid}\) is no longer running"):
        cli_target.open_target("t1", tmp_path / "t1.toml", local=True)


def test_another_tenants_file_and_a_missing_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no running `connector local` for this tenant"):
        cli_target.open_target("t1", tmp_path / "t1.toml", local=True)
    cli_target.write_local_file(
        cli_target.local_file(tmp_path / "t1.toml", "t1"), _endpoint(os.getpid(), tenant="t2")
    )
    with pytest.raises(ConfigError, match=re.escape("is tenant 't2''s, not 't1''s")):
        cli_target.open_target("t1", tmp_path / "t1.toml", local=True)


def test_a_seeded_web_connector_password_is_stored_as_its_hash_only() -> None:
    seeded = seeded_secrets(
        CONFIG, {"desk": {"ledger": {"web_connector_password": "long-enough-1"}}}, "s.json"
    )
    ledger = seeded["desk"]["ledger"]
    assert set(ledger) == {"password_hash"}
    assert verify_password("long-enough-1", ledger["password_hash"])


@pytest.mark.parametrize(
    ("secrets", "words"),
    [
        ({"desk": {"ledger": {"web_connector_password": "short"}}}, "shorter than 8"),
        ({"online": {"ledger": {"web_connector_password": "long-enough-1"}}}, "QuickBooks Online"),
        ({"nope": {}}, "connections not in the tenant file: ['nope']"),
    ],
)
def test_a_secrets_file_that_cannot_be_seeded_is_refused(
    secrets: dict[str, object], words: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(words)):
        seeded_secrets(CONFIG, secrets, "s.json")  # type: ignore[arg-type]

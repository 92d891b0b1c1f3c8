"""`connector local`: the tenant's deployment on this machine, reachable by every other verb.

It prints its base URL first (scripts read that line), then each connection's
routes and its embedded AWS, and writes the endpoint file the other verbs find
(connector.cli_target); the file goes when the runtime stops.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from pathlib import Path
from typing import Any

from connector import cli_target
from connector.config import TenantConfig, load_tenant
from connector.errors import ConfigError
from connector.ledgers.qbd.password import hash_password
from connector.secrets import QbdSecrets

# A Desktop connection's ledger secret in the secrets file may carry the Web Connector's
# password in plain text (a laptop's test password); only its hash is stored.
PASSWORD_FIELD = "web_connector_password"


def seeded_secrets(config: TenantConfig, raw: dict[str, Any], source: str) -> dict[str, Any]:
    """The secrets file as the runtime stores it: known connections, passwords hashed."""
    unknown = sorted(set(raw) - {c.id for c in config.connections})
    if unknown:
        raise ConfigError(f"{source}: connections not in the tenant file: {unknown}")
    seeded: dict[str, Any] = {}
    for connection_id, parts in raw.items():
        if not isinstance(parts, dict):
            raise ConfigError(f"{source}: {connection_id} must map 'store'/'ledger' to objects")
        parts = dict(parts)
        ledger = parts.get("ledger")
        if isinstance(ledger, dict) and PASSWORD_FIELD in ledger:
            connection = config.connection(connection_id)
            assert connection is not None  # checked above
            _ = connection.qbd  # ConfigError for a QuickBooks Online connection
            password = str(ledger[PASSWORD_FIELD])
            if len(password) < 8:
                raise ConfigError(
                    f"{source}: {connection_id}'s {PASSWORD_FIELD} is shorter than 8 characters"
                )
            parts["ledger"] = QbdSecrets(password_hash=hash_password(password)).model_dump()
        seeded[connection_id] = parts
    return seeded


def route_lines(config: TenantConfig, base_url: str, config_path: Path | None = None) -> list[str]:
    """Per connection, the URLs it is reached at: only its own ledger's routes exist
    (connector.resources.select), so a Desktop connection has no connect link. An Online
    connection's connect route takes only a signed link, so the line names the verb that
    makes one."""
    where = f"--config {config_path}" if config_path else f"--tenant {config.tenant}"
    lines = []
    for connection in config.connections:
        ledger_route = (
            f"connect: connector connect-url {where} --connection {connection.id} --local"
            if connection.ledger.kind == "qbo"
            else f"Web Connector {base_url}/qbwc/{connection.id}"
        )
        lines.append(
            f"  {connection.id}: webhook {base_url}/webhooks/{connection.id}  {ledger_route}"
        )
    return lines


def run_local(config_path: Path, secrets_path: Path | None, port: int) -> int:
    from connector.local import LocalRuntime

    config = load_tenant(config_path)
    secrets: dict[str, Any] = {}
    if secrets_path is not None:
        raw = json.loads(secrets_path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ConfigError(f"{secrets_path}: expected an object of connection ids")
        secrets = seeded_secrets(config, raw, str(secrets_path))
    runtime = LocalRuntime(
        tenant=config.tenant,
        tenant_config_json=config.as_environment(),
        port=port,
        secrets=secrets,
        # The sync worker and moto in processes of their own: a backlog draining does not
        # slow the answers to the stores' webhooks.
        worker_processes=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    endpoint_file = cli_target.local_file(config_path, config.tenant)
    with runtime:
        endpoint = runtime.endpoint()
        cli_target.write_local_file(endpoint_file, endpoint)
        try:
            print(runtime.base_url, flush=True)
            for line in route_lines(config, runtime.base_url, config_path):
                print(line, flush=True)
            print(
                f"  AWS (moto) {endpoint.aws_endpoint_url}, account {endpoint.account_id}, "
                f"region {endpoint.region}; written to {endpoint_file}",
                flush=True,
            )
            print(
                f"  try: connector status --config {config_path} --local",
                flush=True,
            )
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait()
        finally:
            _remove_if_ours(endpoint_file, endpoint.pid)
    return 0


def _remove_if_ours(path: Path, pid: int) -> None:
    """A second `connector local` of the same tenant may have rewritten the file since."""
    with contextlib.suppress(FileNotFoundError, ConfigError):
        if cli_target.read_local_file(path).pid == pid:
            path.unlink()

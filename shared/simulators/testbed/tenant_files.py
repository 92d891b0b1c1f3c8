"""The CLI as an operator runs it against a local runtime: a tenant file on disk, the endpoint
file `connector local` would write beside it, and no AWS credentials in the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from connector import cli_target
from connector.config import TenantConfig, load_tenant
from connector.local import LocalRuntime


def _value(value: Any) -> str:
    """One TOML value (inline): JSON's strings, numbers and booleans are TOML's too."""
    if isinstance(value, dict):
        items = ", ".join(
            f"{json.dumps(str(k))} = {_value(v)}" for k, v in value.items() if v is not None
        )
        return "{" + items + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def write_tenant_file(config: TenantConfig, directory: Path) -> Path:
    """``<directory>/<tenant>.toml`` holding ``config``; read back, it is the same config."""
    plain = config.model_dump(mode="json", exclude_none=True)
    lines = [f"{json.dumps(k)} = {_value(v)}" for k, v in plain.items() if k != "connections"]
    for connection in plain.get("connections", []):
        lines.append("\n[[connections]]")
        lines.extend(f"{json.dumps(k)} = {_value(v)}" for k, v in connection.items())
    path = directory / f"{config.tenant}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if load_tenant(path) != config:
        raise AssertionError(f"{path} does not read back as the tenant's config")
    return path


def publish(runtime: LocalRuntime, tenant_file: Path) -> Path:
    """What `connector local` writes for the CLI, for a runtime started in this process."""
    path = cli_target.local_file(tenant_file, runtime.tenant)
    cli_target.write_local_file(path, runtime.endpoint())
    return path


def operator_env() -> dict[str, str]:
    """This environment without any AWS setting: the CLI must find `connector local` itself."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "PYTHONPATH"}
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_CONFIG_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The installed ``connector`` command, as an operator without AWS credentials runs it."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("connector")), *args],
        env=operator_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

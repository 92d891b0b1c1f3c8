"""Where a CLI verb acts: the tenant's deployed stack, or a running `connector local`.

Every verb that touches a deployment (qwc, replay, parked, status, webhooks,
backfill) asks :func:`open_target` for its AWS clients and the stack's outputs
(queue URLs, table names, ApiUrl, ReconcileFunctionName). Deployed, they come
from CloudFormation under the caller's AWS credentials. Locally, `connector
local` writes a file beside the tenant file (``.connector-local/<tenant>.json``)
with its embedded AWS's endpoint, account key and the same outputs; a verb
given ``--local`` reads it, and so does a verb run where no AWS credentials are
set, so a newcomer's `connector status` just works against their laptop.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from connector import resources
from connector.errors import ConfigError
from connector.resources import TableSpec
from connector.secrets import SecretVault

LOCAL_DIR = ".connector-local"

# Output keys, as the stack names them (infra/naming.py and infra/stack.py).
API_URL = "ApiUrl"
SYNC_QUEUE_URL = "SyncQueueUrl"
SYNC_DLQ_URL = "SyncDeadLetterQueueUrl"
RECONCILE_FUNCTION = "ReconcileFunctionName"


def table_output(spec: TableSpec) -> str:
    """The stack output that names a table: ``StateTableName`` and so on."""
    return f"{spec.logical_id}Name"


class LocalEndpoint(BaseModel):
    """What `connector local` tells the CLI: where its embedded AWS and API are."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    tenant: str
    pid: int
    region: str
    aws_endpoint_url: str
    account_id: str
    # moto's key for the runtime's private account: worthless outside this machine, but kept
    # out of reprs and logs all the same.
    access_key_id: str
    secret_access_key: SecretStr
    base_url: str
    outputs: dict[str, str]

    def to_file_json(self) -> str:
        plain = self.model_dump(mode="json")
        plain["secret_access_key"] = self.secret_access_key.get_secret_value()
        return json.dumps(plain, indent=2)


def tenant_file_path(tenant: str | None, config: str | None) -> Path:
    """``--config`` as given, else ``tenants/<tenant>.toml``."""
    if config:
        return Path(config)
    if tenant:
        return Path("tenants") / f"{tenant}.toml"
    raise ConfigError("give --tenant (and the CLI finds tenants/<tenant>.toml) or --config")


def local_file(tenant_file: Path, tenant: str) -> Path:
    """Where `connector local` for this tenant file writes its endpoint."""
    return tenant_file.parent / LOCAL_DIR / f"{tenant}.json"


def write_local_file(path: Path, endpoint: LocalEndpoint) -> None:
    """Written readable by this user only: it holds the embedded AWS's access key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(endpoint.to_file_json())


def read_local_file(path: Path) -> LocalEndpoint:
    try:
        return LocalEndpoint.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"no running `connector local` for this tenant ({path} does not exist): start "
            "`connector local --config <tenant file>` first"
        ) from None
    except ValidationError as exc:
        raise ConfigError(f"{path} is not a `connector local` endpoint file: {exc}") from None


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def aws_credentials_configured() -> bool:
    return boto3.session.Session().get_credentials() is not None


@dataclass
class Target:
    """A deployment a verb acts on: its AWS clients and its stack outputs.

    A deployed stack's outputs are read on first use, so a verb given everything on its
    command line (``--url``) makes no CloudFormation call.
    """

    tenant: str
    where: str  # for messages: "stack MlConnector-x" or "connector local at http://…"
    local: bool = False
    _outputs: dict[str, str] | None = field(default=None, repr=False)
    _session: Any = field(default=None, repr=False)
    _endpoint_url: str | None = field(default=None, repr=False)

    @property
    def outputs(self) -> dict[str, str]:
        if self._outputs is None:
            self._outputs = stack_outputs(
                self.client("cloudformation"), resources.stack_name(self.tenant)
            )
        return self._outputs

    def client(self, service: str) -> Any:
        session = self._session or boto3.session.Session()
        return session.client(service, endpoint_url=self._endpoint_url)  # type: ignore[call-overload]

    def resource(self, service: str) -> Any:
        session = self._session or boto3.session.Session()
        return session.resource(service, endpoint_url=self._endpoint_url)  # type: ignore[call-overload]

    def output(self, key: str) -> str:
        value = self.outputs.get(key, "")
        if not value:
            raise ConfigError(f"{self.where} has no {key} output")
        return value

    def table(self, spec: TableSpec) -> str:
        return self.output(table_output(spec))

    @property
    def api_url(self) -> str:
        return self.output(API_URL)

    def vault(self) -> SecretVault:
        return SecretVault(
            resources.secret_prefix(self.tenant), client=self.client("secretsmanager")
        )


def from_endpoint(endpoint: LocalEndpoint) -> Target:
    session = boto3.session.Session(
        aws_access_key_id=endpoint.access_key_id,
        aws_secret_access_key=endpoint.secret_access_key.get_secret_value(),
        region_name=endpoint.region,
    )
    return Target(
        tenant=endpoint.tenant,
        where=f"connector local at {endpoint.base_url}",
        local=True,
        _outputs=dict(endpoint.outputs),
        _session=session,
        _endpoint_url=endpoint.aws_endpoint_url,
    )


def from_stack(tenant: str) -> Target:
    return Target(tenant=tenant, where=resources.stack_name(tenant))


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    try:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except cloudformation.exceptions.ClientError as exc:
        raise ConfigError(f"cannot read stack {stack}: {exc}") from None
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def open_target(tenant: str, tenant_file: Path, *, local: bool = False) -> Target:
    """The running `connector local` when asked (or when no AWS credentials are set and one
    runs for this tenant file), else the tenant's deployed stack."""
    path = local_file(tenant_file, tenant)
    if not local and (not path.exists() or aws_credentials_configured()):
        return from_stack(tenant)
    endpoint = read_local_file(path)
    if endpoint.tenant != tenant:
        raise ConfigError(f"{path} is tenant {endpoint.tenant!r}'s, not {tenant!r}'s")
    if not _running(endpoint.pid):
        raise ConfigError(
            f"`connector local` for tenant {tenant} (pid {endpoint.pid}) is no longer running; "
            f"start it again (it rewrites {path})"
        )
    return from_endpoint(endpoint)

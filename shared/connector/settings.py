"""What a function learns from its deployment, read once at cold start.

The CDK stack and the local runtime set these variables (names in
connector.resources); nothing else in the library reads os.environ.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field

from connector import resources
from connector.config import TenantConfig, parse_tenant_json


# A plain model read from os.environ: pydantic-settings would add some 20 ms to every cold
# start (its .env and command-line sources) for variables that are all plain strings.
class Settings(BaseModel):
    # The environment also holds the function's AWS credentials: errors never echo input.
    model_config = ConfigDict(frozen=True, extra="ignore", hide_input_in_errors=True)

    tenant: str = Field(validation_alias=resources.ENV_TENANT)
    tenant_config_json: str = Field(validation_alias=resources.ENV_TENANT_CONFIG)
    state_table: str = Field(validation_alias=resources.ENV_STATE_TABLE)
    audit_table: str = Field(validation_alias=resources.ENV_AUDIT_TABLE)
    outbox_table: str = Field(default="", validation_alias=resources.ENV_OUTBOX_TABLE)
    session_table: str = Field(default="", validation_alias=resources.ENV_SESSION_TABLE)
    sync_queue_url: str = Field(validation_alias=resources.ENV_SYNC_QUEUE_URL)
    sync_dlq_url: str = Field(default="", validation_alias=resources.ENV_SYNC_DLQ_URL)
    secret_prefix: str = Field(validation_alias=resources.ENV_SECRET_PREFIX)
    public_base_url: str = Field(default="", validation_alias=resources.ENV_PUBLIC_BASE_URL)
    aws_endpoint_url: str | None = Field(
        default=None, validation_alias=resources.ENV_AWS_ENDPOINT_URL
    )
    # Every queue-level retry wait and circuit cooldown times this (connector.retry): 1 when
    # deployed; the local runtime plays hours in seconds with a small one.
    retry_scale: float = Field(default=1.0, gt=0, validation_alias=resources.ENV_RETRY_SCALE)
    # A QuickBooks Online company's limits (connector.ledgers.qbo.limiter): Intuit's published
    # ones when deployed; tests and the benchmark scale them down.
    qbo_requests_per_minute: int = Field(
        default=500, ge=1, validation_alias=resources.ENV_QBO_REQUESTS_PER_MINUTE
    )
    qbo_batches_per_minute: int = Field(
        default=40, ge=1, validation_alias=resources.ENV_QBO_BATCHES_PER_MINUTE
    )
    qbo_max_in_flight: int = Field(
        default=10, ge=1, validation_alias=resources.ENV_QBO_MAX_IN_FLIGHT
    )
    qbo_max_wait_s: float = Field(default=2.0, ge=0, validation_alias=resources.ENV_QBO_MAX_WAIT_S)

    @cached_property
    def tenant_config(self) -> TenantConfig:
        return parse_tenant_json(
            self.tenant_config_json, f"{resources.ENV_TENANT_CONFIG} ({self.tenant})"
        )


def load_settings(environ: Mapping[str, str] = os.environ) -> Settings:
    """Validate the environment; a missing variable names itself in the error."""
    names = {field.validation_alias for field in Settings.model_fields.values()}
    return Settings.model_validate(
        {n: environ[n] for n in names if isinstance(n, str) and n in environ}
    )

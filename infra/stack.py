"""ConnectorStack: one tenant's deployment, composed from the constructs in infra/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import App, CfnOutput, Stack, Tags
from constructs import Construct

from connector import resources
from connector.config import TenantConfig, load_tenant
from connector.errors import ConfigError
from connector.resources import secret_prefix, stack_name
from infra.alarms import ConnectorAlarms
from infra.api import ConnectorApi
from infra.functions import ConnectorFunctions, LambdaAssets
from infra.nag import add_aws_solutions_checks
from infra.naming import (
    CONTEXT_ALARM_EMAIL,
    CONTEXT_TENANT,
    CONTEXT_TENANT_DIR,
    OUTPUT_ALARM_TOPIC,
    OUTPUT_API_URL,
    OUTPUT_DLQ_URL,
    OUTPUT_OAUTH_REDIRECT_URI,
    OUTPUT_RECONCILE_FUNCTION,
    OUTPUT_SYNC_QUEUE_URL,
    logical_suffixes,
)
from infra.queues import ConnectorQueues
from infra.schedules import ConnectorSchedules
from infra.secrets import ConnectionSecrets
from infra.tables import ConnectorTables

ROOT = Path(__file__).resolve().parent.parent
TENANT_DIR = ROOT / "tenants"
# Lambda allows 4 KB of environment variables per function; the tenant configuration
# travels in one of them, next to the resource names.
MAX_TENANT_CONFIG_CHARS = 3000


class ConnectorStack(Stack):
    """Tables, queues, secrets, functions, API, schedules and alarms of one tenant."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: TenantConfig,
        source: str,
        assets: LambdaAssets,
        alarm_email: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description=f"ml-connector for tenant {config.tenant}",
            **kwargs,
        )
        Tags.of(self).add("ml-connector:tenant", config.tenant)
        config_json = config.as_environment()
        if len(config_json) > MAX_TENANT_CONFIG_CHARS:
            raise ConfigError(
                f"{source}: the configuration is {len(config_json)} characters as JSON; Lambda's "
                f"environment holds at most {MAX_TENANT_CONFIG_CHARS} of it (shorten mappings)"
            )
        suffixes = logical_suffixes([c.id for c in config.connections])
        prefix = secret_prefix(config.tenant)

        # Only what the tenant's ledgers use: no Web Connector for an Online-only tenant, no
        # OAuth for a Desktop-only one (the local runtime selects the same way).
        self.selection = selection = resources.select(c.ledger.kind for c in config.connections)
        self.tables = tables = ConnectorTables(self, "Tables", specs=selection.tables)
        self.queues = queues = ConnectorQueues(self, "Queues")
        self.secrets = secrets = ConnectionSecrets(
            self, "Secrets", config=config, prefix=prefix, suffixes=suffixes
        )
        self.api = api = ConnectorApi(
            self,
            "Api",
            routes=[route for spec in selection.functions for route in spec.routes],
            waf=config.waf,
        )
        sync_dlq = queues.dead_letter_by_id[resources.SYNC_QUEUE.logical_id]
        environment = {
            resources.ENV_TENANT: config.tenant,
            resources.ENV_TENANT_CONFIG: config_json,
            resources.ENV_SECRET_PREFIX: prefix,
            resources.ENV_PUBLIC_BASE_URL: api.base_url,
            resources.ENV_SYNC_DLQ_URL: sync_dlq.queue_url,
            **{spec.env_var: tables.by_id[spec.logical_id].table_name for spec in selection.tables},
            **{spec.env_var: queues.by_id[spec.logical_id].queue_url for spec in resources.QUEUES},
        }
        self.functions = functions = ConnectorFunctions(
            self,
            "Functions",
            specs=selection.functions,
            assets=assets,
            environment=environment,
            tables=tables,
            queues=queues.by_id,
            secrets=secrets,
        )
        for spec in selection.functions:
            if spec.routes:
                api.add_routes(spec, functions.by_name[spec.name])
        self.schedules = ConnectorSchedules(
            self, "Schedules", specs=selection.functions, functions=dict(functions.by_name)
        )
        self.alarms = alarms = ConnectorAlarms(
            self,
            "Alarms",
            tenant=config.tenant,
            sync_queue=queues.by_id[resources.SYNC_QUEUE.logical_id],
            dead_letter_queues=list(queues.dead_letter_by_id.values()),
            functions=dict(functions.by_name),
            rest_api=api.rest_api,
            ledger_kinds={c.ledger.kind for c in config.connections},
            alarm_email=alarm_email,
        )

        url = api.rest_api.url
        CfnOutput(self, OUTPUT_API_URL, value=url, description="Base URL of the API")
        online = resources.OAUTH.name in functions.by_name
        if online:
            CfnOutput(
                self,
                OUTPUT_OAUTH_REDIRECT_URI,
                value=f"{url}oauth/qbo/callback",
                description="Redirect URI to register with the Intuit app",
            )
        for connection in config.connections:
            suffix = suffixes[connection.id]
            CfnOutput(
                self,
                f"WebhookUrl{suffix}",
                value=f"{url}webhooks/{connection.id}",
                description=f"WooCommerce webhook delivery URL of connection {connection.id}",
            )
            if connection.ledger.kind != "qbo":
                continue
            CfnOutput(
                self,
                f"ConnectUrl{suffix}",
                value=f"{url}oauth/qbo/connect/{connection.id}",
                description=f"QuickBooks connect route of {connection.id}: it opens only a "
                f"signed link from `connector connect-url --connection {connection.id}`",
            )
        CfnOutput(self, OUTPUT_DLQ_URL, value=sync_dlq.queue_url, description="Parked messages")
        CfnOutput(
            self,
            OUTPUT_SYNC_QUEUE_URL,
            value=queues.by_id[resources.SYNC_QUEUE.logical_id].queue_url,
            description="Where `connector replay` sends parked messages back",
        )
        for table in selection.tables:
            CfnOutput(
                self, f"{table.logical_id}Name", value=tables.by_id[table.logical_id].table_name
            )
        CfnOutput(self, OUTPUT_ALARM_TOPIC, value=alarms.topic.topic_arn)
        CfnOutput(
            self,
            OUTPUT_RECONCILE_FUNCTION,
            value=functions.by_name[resources.RECONCILE.name].function_name,
            description='Invoke with {"detail": {"poll": "now"}} to poll the stores at once',
        )
        add_aws_solutions_checks(self)


def tenant_file(tenant: str, tenant_dir: Path = TENANT_DIR) -> Path:
    return tenant_dir / f"{tenant}.toml"


def stack_from_context(app: App, *, assets: LambdaAssets) -> ConnectorStack:
    """The stack that `cdk synth -c tenant=<name>` asks for; ConfigError says what is wrong."""
    tenant = app.node.try_get_context(CONTEXT_TENANT)
    tenant_dir = Path(app.node.try_get_context(CONTEXT_TENANT_DIR) or TENANT_DIR)
    if not tenant:
        known = ", ".join(sorted(p.stem for p in tenant_dir.glob("*.toml"))) or "none yet"
        raise ConfigError(
            f"no tenant given: run `cdk synth -c tenant=<name>` with a file in {tenant_dir} "
            f"(known: {known})"
        )
    path = tenant_file(str(tenant), tenant_dir)
    config = load_tenant(path)
    if config.tenant != tenant:
        raise ConfigError(
            f"{path}: tenant: is {config.tenant!r} but the file is named for {tenant!r}; "
            "make them the same"
        )
    alarm_email = app.node.try_get_context(CONTEXT_ALARM_EMAIL)
    return ConnectorStack(
        app,
        stack_name(config.tenant),
        config=config,
        source=str(path),
        assets=assets,
        alarm_email=str(alarm_email) if alarm_email else None,
    )

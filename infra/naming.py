"""Names the stack derives from the tenant and the resource declarations (the stack and secret
names the CLI needs too live in connector.resources)."""

from __future__ import annotations

import re

from connector.errors import ConfigError

METRICS_NAMESPACE = "MlConnector"
# Emitted by the qbo_token function (Powertools Metrics) when a refresh fails.
TOKEN_REFRESH_FAILED_METRIC = "TokenRefreshFailed"

# Context keys: `cdk deploy -c tenant=<name> [-c alarm_email=ops@example.com]`.
CONTEXT_TENANT = "tenant"
CONTEXT_TENANT_DIR = "tenant_dir"
CONTEXT_ALARM_EMAIL = "alarm_email"

# Outputs with stable logical ids, so scripts and tests find them.
OUTPUT_API_URL = "ApiUrl"
OUTPUT_OAUTH_REDIRECT_URI = "OAuthRedirectUri"
OUTPUT_DLQ_URL = "SyncDeadLetterQueueUrl"
OUTPUT_SYNC_QUEUE_URL = "SyncQueueUrl"
OUTPUT_ALARM_TOPIC = "AlarmTopicArn"
# The function an operator invokes with {"detail": {"poll": "now"}} to poll at once.
OUTPUT_RECONCILE_FUNCTION = "ReconcileFunctionName"
API_STAGE = "prod"


def pascal(identifier: str) -> str:
    """'shop-us' -> 'ShopUs': a connection id as part of a CloudFormation logical id."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", identifier))


def logical_suffixes(connection_ids: list[str]) -> dict[str, str]:
    """Logical-id suffix per connection; two ids that collapse to one suffix are refused."""
    suffixes: dict[str, str] = {}
    for connection_id in connection_ids:
        suffix = pascal(connection_id)
        clash = next((c for c, s in suffixes.items() if s.lower() == suffix.lower()), None)
        if clash is not None:
            raise ConfigError(
                f"connections: ids {clash!r} and {connection_id!r} both become {suffix!r} in "
                "CloudFormation logical ids; rename one of them"
            )
        suffixes[connection_id] = suffix
    return suffixes


def function_id(name: str) -> str:
    """'qbo_token' -> 'QboTokenFunction'."""
    return f"{pascal(name)}Function"

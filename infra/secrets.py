"""Each connection's two secrets: the store's keys and the ledger's app credentials and tokens."""

from __future__ import annotations

import json

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from connector.config import TenantConfig
from connector.resources import secret_name

# What the merchant (store) or the OAuth flow (ledger) replaces the placeholder with.
_PLACEHOLDERS = {
    "store": "put the WooCommerce consumer_key, consumer_secret and webhook_secret here",
    "ledger": "put the Intuit app's client_id and client_secret here, then connect to QuickBooks",
}


class ConnectionSecrets(Construct):
    """Secrets named ``<prefix>/<connection>/store`` and ``.../ledger``.

    They start as a placeholder JSON document (so the secret exists and IAM can
    name it); the connector refuses a placeholder with a message saying what to
    put there. Secret values never pass through the template.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: TenantConfig,
        prefix: str,
        suffixes: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.prefix = prefix
        self.store: dict[str, secretsmanager.Secret] = {}
        self.ledger: dict[str, secretsmanager.Secret] = {}
        for connection in config.connections:
            suffix = suffixes[connection.id]
            self.store[connection.id] = self._secret(
                f"Store{suffix}", prefix, connection.id, "store"
            )
            self.ledger[connection.id] = self._secret(
                f"Ledger{suffix}", prefix, connection.id, "ledger"
            )

    def _secret(
        self, construct_id: str, prefix: str, connection_id: str, part: str
    ) -> secretsmanager.Secret:
        name = secret_name(prefix, connection_id, part)  # type: ignore[arg-type]
        secret = secretsmanager.Secret(
            self,
            construct_id,
            secret_name=name,
            description=f"ml-connector {part} secrets of connection {connection_id}",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"placeholder": _PLACEHOLDERS[part]}),
                generate_string_key="unset",
            ),
        )
        Validations.of(secret).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SMG4",
                reason=(
                    "Rotation is not a Lambda rotation: QuickBooks tokens are rotated by the OAuth "
                    "refresh (qbo_token function) and store keys by the store's own key management."
                ),
            )
        )
        return secret

    def arns(self) -> list[str]:
        """Every secret of this tenant, by its full ARN: what a function may read or write."""
        return [s.secret_arn for s in (*self.store.values(), *self.ledger.values())]

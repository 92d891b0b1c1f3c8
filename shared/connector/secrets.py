"""Each connection's secrets in Secrets Manager, through Powertools' SecretsProvider.

Three per connection (decision 51), so that IAM can grant each function only what it needs:
``store`` (the store's API credentials), ``webhook`` (what webhooks are verified with) and
``ledger`` (QuickBooks Online app keys and tokens, or the Web Connector password hash).
Store keys and the webhook secret are cached briefly (they change rarely);
QuickBooks tokens are always read fresh because another invocation may have
rotated them a moment ago.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from connector.errors import PermanentError
from connector.resources import ConnectionSecretName, secret_name

STORE_CACHE_S = 300

# What the webhook secret holds: the secret stores sign (or tag) deliveries with,
# BigCommerce's app client secret, which only verifies Standard Webhooks signatures, and the
# Intuit app's verifier token, which QuickBooks Online's webhooks are signed with (issue #13).
WEBHOOK_FIELDS = ("webhook_secret", "client_secret", "webhook_verifier")

# Each secret model below is built (defer_build) when first read: a function reads one or two
# kinds of secret, and a cold start should not pay for the others' schemas.


class WebhookSecret(BaseModel):
    """The connection's webhook secret (``<prefix>/<connection>/webhook``)."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    webhook_secret: SecretStr


_Model = TypeVar("_Model", bound=BaseModel)


class StoreSecrets(BaseModel):
    """A WooCommerce store's REST API keys."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    consumer_key: SecretStr
    consumer_secret: SecretStr


class LedgerSecrets(BaseModel):
    """The QuickBooks Online app credentials and the company's current tokens."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    client_id: str
    client_secret: SecretStr
    realm_id: str = ""
    refresh_token: SecretStr | None = None
    access_token: SecretStr | None = None
    access_expires_at: str | None = None
    refresh_expires_at: str | None = None
    refresh_hard_expires_at: str | None = None

    def to_json(self) -> str:
        plain = self.model_dump(exclude_none=True)
        for key, value in plain.items():
            if isinstance(value, SecretStr):
                plain[key] = value.get_secret_value()
        return json.dumps(plain)


class QbdSecrets(BaseModel):
    """The Web Connector's password, as a scrypt hash only (connector.ledgers.qbd.password)."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    password_hash: str


class SecretVault:
    def __init__(self, prefix: str, *, client: Any | None = None) -> None:
        self._prefix = prefix
        self._provider = SecretsProvider(boto3_client=client) if client else SecretsProvider()

    def secret_name(self, connection_id: str, part: ConnectionSecretName) -> str:
        """The Secrets Manager name of one of the connection's secrets (for messages)."""
        return secret_name(self._prefix, connection_id, part)

    def store_as(self, connection_id: str, model: type[_Model], store_name: str) -> _Model:
        """The connection's store secret as the store adapter's own model."""
        name = self.secret_name(connection_id, "store")
        raw = self._provider.get(name, transform="json", max_age=STORE_CACHE_S)
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            fields = ", ".join(str(e["loc"][0]) for e in exc.errors())
            raise PermanentError(
                f"the store secret of connection {connection_id} lacks {fields}: put the "
                f"{store_name} API credentials into Secrets Manager ({name})"
            ) from None

    def webhook_field(self, connection_id: str, field: str) -> str:
        """One field of the connection's webhook secret ("" when it has none)."""
        raw = self._provider.get(
            self.secret_name(connection_id, "webhook"), transform="json", max_age=STORE_CACHE_S
        )
        value = raw.get(field, "") if isinstance(raw, dict) else ""
        return str(value or "")

    def webhook_secret(self, connection_id: str) -> str:
        """The secret the connection's store signs (or authenticates) its webhooks with."""
        name = self.secret_name(connection_id, "webhook")
        raw = self._provider.get(name, transform="json", max_age=STORE_CACHE_S)
        try:
            found = WebhookSecret.model_validate(raw)
        except ValidationError:
            raise PermanentError(
                f"the webhook secret of connection {connection_id} lacks webhook_secret: put "
                f"the secret the store's webhooks are verified with into Secrets Manager ({name})"
            ) from None
        return found.webhook_secret.get_secret_value()

    def store(self, connection_id: str) -> StoreSecrets:
        return self.store_as(connection_id, StoreSecrets, "WooCommerce")

    def ledger(self, connection_id: str) -> LedgerSecrets:
        name = self.secret_name(connection_id, "ledger")
        try:
            raw = self._provider.get(name, transform="json", force_fetch=True)
        except GetParameterError as exc:
            if not secret_missing(exc):
                raise
            raise PermanentError(
                f"connection {connection_id} has no QuickBooks secret ({name}) in Secrets "
                "Manager: put the app's client id and secret there, then connect to QuickBooks"
            ) from None
        try:
            return LedgerSecrets.model_validate(raw)
        except ValidationError:
            raise PermanentError(
                f"the QuickBooks secret of connection {connection_id} lacks the app's client id "
                "and secret: put them into Secrets Manager, then connect to QuickBooks"
            ) from None

    def save_ledger(self, connection_id: str, secrets: LedgerSecrets) -> None:
        self._provider.set(self.secret_name(connection_id, "ledger"), secrets.to_json())

    def qbd(self, connection_id: str, *, fresh: bool = False) -> QbdSecrets:
        raw = self._provider.get(
            self.secret_name(connection_id, "ledger"),
            transform="json",
            max_age=STORE_CACHE_S,
            force_fetch=fresh,
        )
        try:
            return QbdSecrets.model_validate(raw)
        except ValidationError:
            raise PermanentError(
                f"connection {connection_id} has no Web Connector password yet: run "
                f"`connector qwc {connection_id}` to make one"
            ) from None

    def save_qbd(self, connection_id: str, secrets: QbdSecrets) -> None:
        self._provider.set(self.secret_name(connection_id, "ledger"), secrets.model_dump_json())


def secret_missing(exc: GetParameterError) -> bool:
    """Powertools wraps every failure; only a missing secret is the operator's to fix."""
    cause = exc.__cause__ or exc.__context__
    return (
        isinstance(cause, ClientError)
        and cause.response.get("Error", {}).get("Code") == "ResourceNotFoundException"
    )

"""Each connection's secrets in Secrets Manager, through Powertools' SecretsProvider.

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
from connector.resources import secret_name

STORE_CACHE_S = 300


class WebhookSecret(BaseModel):
    """What every store's secret holds: the webhook secret (the rest is the adapter's)."""

    model_config = ConfigDict(extra="ignore")

    webhook_secret: SecretStr


_Model = TypeVar("_Model", bound=BaseModel)


class StoreSecrets(BaseModel):
    model_config = ConfigDict(extra="ignore")

    consumer_key: SecretStr
    consumer_secret: SecretStr
    webhook_secret: SecretStr


class LedgerSecrets(BaseModel):
    """The QuickBooks Online app credentials and the company's current tokens."""

    model_config = ConfigDict(extra="ignore")

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

    model_config = ConfigDict(extra="ignore")

    password_hash: str


class SecretVault:
    def __init__(self, prefix: str, *, client: Any | None = None) -> None:
        self._prefix = prefix
        self._provider = SecretsProvider(boto3_client=client) if client else SecretsProvider()

    def _name(self, connection_id: str, part: str) -> str:
        return secret_name(self._prefix, connection_id, part)  # type: ignore[arg-type]

    def store_as(self, connection_id: str, model: type[_Model], store_name: str) -> _Model:
        """The connection's store secret as the store adapter's own model."""
        raw = self._provider.get(
            self._name(connection_id, "store"), transform="json", max_age=STORE_CACHE_S
        )
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            fields = ", ".join(str(e["loc"][0]) for e in exc.errors())
            raise PermanentError(
                f"the store secret of connection {connection_id} lacks {fields}: put the "
                f"{store_name} credentials and webhook secret into Secrets Manager"
            ) from None

    def store_field(self, connection_id: str, field: str) -> str:
        """One field of the connection's store secret ("" when it has none)."""
        raw = self._provider.get(
            self._name(connection_id, "store"), transform="json", max_age=STORE_CACHE_S
        )
        value = raw.get(field, "") if isinstance(raw, dict) else ""
        return str(value or "")

    def webhook_secret(self, connection_id: str) -> str:
        """The secret the connection's store signs (or authenticates) its webhooks with."""
        return self.store_as(
            connection_id, WebhookSecret, "store"
        ).webhook_secret.get_secret_value()

    def store(self, connection_id: str) -> StoreSecrets:
        raw = self._provider.get(
            self._name(connection_id, "store"), transform="json", max_age=STORE_CACHE_S
        )
        try:
            return StoreSecrets.model_validate(raw)
        except ValidationError as exc:
            fields = ", ".join(str(e["loc"][0]) for e in exc.errors())
            raise PermanentError(
                f"the store secret of connection {connection_id} lacks {fields}: put the WooCommerce "
                "consumer key, consumer secret and webhook secret into Secrets Manager"
            ) from None

    def ledger(self, connection_id: str) -> LedgerSecrets:
        name = self._name(connection_id, "ledger")
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
        self._provider.set(self._name(connection_id, "ledger"), secrets.to_json())

    def qbd(self, connection_id: str, *, fresh: bool = False) -> QbdSecrets:
        raw = self._provider.get(
            self._name(connection_id, "ledger"),
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
        self._provider.set(self._name(connection_id, "ledger"), secrets.model_dump_json())


def secret_missing(exc: GetParameterError) -> bool:
    """Powertools wraps every failure; only a missing secret is the operator's to fix."""
    cause = exc.__cause__ or exc.__context__
    return (
        isinstance(cause, ClientError)
        and cause.response.get("Error", {}).get("Code") == "ResourceNotFoundException"
    )

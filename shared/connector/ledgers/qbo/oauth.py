"""Intuit OAuth 2.0: the authorize URL and the two token-endpoint grants.

Storage, locking and the refresh schedule live elsewhere; this module only speaks the protocol.
The same Intuit OAuth endpoints serve sandbox and production companies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from connector.errors import PermanentError, TransientError
from connector.ledgers.qbo.client import API_BASE_PRODUCTION, API_BASE_SANDBOX

SCOPE = "com.intuit.quickbooks.accounting"
AUTHORIZE_ENDPOINT = "https://appcenter.intuit.com/connect/oauth2"
TOKEN_ENDPOINT = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
REVOKE_ENDPOINT = "https://developer.api.intuit.com/v2/oauth2/tokens/revoke"
DISCOVERY_DOCUMENT = "https://developer.intuit.com/.well-known/openid_configuration/"

# Asks Intuit to tell us the 5-year hard limit of the refresh token (added late 2025).
HARD_EXPIRY_HEADER = "x-include-refresh-token-hard-expires-in"


@dataclass(frozen=True)
class IntuitEndpoints:
    authorize: str
    token: str
    revoke: str
    api_base: str


PRODUCTION = IntuitEndpoints(
    AUTHORIZE_ENDPOINT, TOKEN_ENDPOINT, REVOKE_ENDPOINT, API_BASE_PRODUCTION
)
SANDBOX = IntuitEndpoints(AUTHORIZE_ENDPOINT, TOKEN_ENDPOINT, REVOKE_ENDPOINT, API_BASE_SANDBOX)


class TokenSet(BaseModel):
    model_config = ConfigDict(frozen=True)

    access_token: SecretStr
    refresh_token: SecretStr
    access_expires_at: datetime
    refresh_expires_at: datetime
    refresh_hard_expires_at: datetime | None = None


class InvalidGrant(Exception):
    """Intuit refused the code or refresh token (used, rotated out, expired or revoked)."""


class InvalidClient(PermanentError):
    """Intuit refused our client id/secret: the app's credentials in the tenant setup are wrong."""


class _TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    x_refresh_token_expires_in: int
    x_refresh_token_hard_expires_in: int | None = None


def authorize_url(
    *, authorize_endpoint: str, client_id: str, redirect_uri: str, state: str, scope: str = SCOPE
) -> str:
    """Where to send the merchant's browser to connect a QuickBooks company."""
    query = urlencode(
        {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": scope,
            "state": state,
        }
    )
    separator = "&" if "?" in authorize_endpoint else "?"
    return f"{authorize_endpoint}{separator}{query}"


def exchange_code(
    *,
    token_url: str,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    http: httpx.Client | None = None,
    now: datetime | None = None,
) -> TokenSet:
    """Trade the callback's authorization code for tokens (codes are single use)."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    return _token_call(token_url, client_id, client_secret, form, http, now)


def refresh(
    *,
    token_url: str,
    client_id: str,
    client_secret: str,
    refresh_token: str,
    http: httpx.Client | None = None,
    now: datetime | None = None,
) -> TokenSet:
    """New tokens from a refresh token; store the returned refresh token, it may have rotated."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return _token_call(token_url, client_id, client_secret, form, http, now)


def _token_call(
    token_url: str,
    client_id: str,
    client_secret: str,
    form: dict[str, str],
    http: httpx.Client | None,
    now: datetime | None,
) -> TokenSet:
    client = http or httpx.Client(timeout=30.0)
    try:
        response = client.post(
            token_url,
            data=form,
            auth=httpx.BasicAuth(client_id, client_secret),
            headers={"Accept": "application/json", HARD_EXPIRY_HEADER: "true"},
        )
    except httpx.TransportError as exc:
        raise TransientError(f"Intuit token endpoint unreachable: {type(exc).__name__}") from exc
    finally:
        if http is None:
            client.close()
    issued_at = now or datetime.now(UTC)
    if response.status_code >= 500 or response.status_code == 429:
        raise TransientError(f"Intuit token endpoint answered HTTP {response.status_code}")
    error = _error_code(response)
    if response.status_code >= 400 or error:
        # Never echo the body: it may hold token material.
        if error == "invalid_grant":
            raise InvalidGrant(f"Intuit refused the {form['grant_type']} grant (invalid_grant)")
        if error == "invalid_client" or response.status_code == 401:
            raise InvalidClient(
                "Intuit refused the app's client id/secret (invalid_client): "
                "check the QuickBooks app credentials"
            )
        code = error or "no error code"
        raise PermanentError(f"Intuit token endpoint answered HTTP {response.status_code} ({code})")
    try:
        body = _TokenResponse.model_validate_json(response.content)
    except ValidationError as exc:
        raise TransientError("Intuit token endpoint answered without the expected fields") from exc
    hard = body.x_refresh_token_hard_expires_in
    return TokenSet(
        access_token=SecretStr(body.access_token),
        refresh_token=SecretStr(body.refresh_token),
        access_expires_at=issued_at + timedelta(seconds=body.expires_in),
        refresh_expires_at=issued_at + timedelta(seconds=body.x_refresh_token_expires_in),
        refresh_hard_expires_at=issued_at + timedelta(seconds=hard) if hard is not None else None,
    )


def _error_code(response: httpx.Response) -> str | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    error = payload.get("error") if isinstance(payload, dict) else None
    return error if isinstance(error, str) else None

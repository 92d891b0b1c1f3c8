"""Signed, single-use connect links: only whoever the operator hands one to connects QuickBooks.

`connector connect-url` makes a link for one connection; the connect route checks it
before anything reaches Intuit. The link carries the connection, an expiry, a nonce and
whether it may move the connection to another QuickBooks company, signed with HMAC-SHA256
over a canonical form under the tenant's key (Secrets Manager,
``connector.resources.connect_link_key_name``). The nonce is spent by the connect route
with a conditional write in the state table, so a link works once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Any
from urllib.parse import quote, urlencode

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from connector.errors import PermanentError
from connector.resources import connect_link_key_name
from connector.secrets import secret_missing

LINK_TTL_S = 30 * 60
CONNECT_PATH = "/oauth/qbo/connect/"
# The key is read once per warm function for this long: a rotated key takes effect within it.
KEY_CACHE_S = 300
_VERSION = "v1"


class LinkRefused(Exception):
    """The visit carries no link, or one that is forged, expired or already used."""

    def __init__(self, reason: str, *, status: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class ConnectLink(BaseModel):
    """What a link grants: connecting one connection once, before ``expires_at``."""

    model_config = ConfigDict(frozen=True)

    connection_id: str
    expires_at: int
    nonce: str
    change_company: bool = False


class _LinkQuery(BaseModel):
    """The link's query string, as the browser brings it back."""

    model_config = ConfigDict(extra="ignore")

    expires: int
    nonce: str = Field(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    sig: str = Field(min_length=43, max_length=43, pattern=r"^[A-Za-z0-9_-]+$")
    change_company: bool = False


class _KeySecret(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: SecretStr = Field(min_length=16)


def canonical(link: ConnectLink) -> bytes:
    """One line per field, fixed order: no two different links sign the same bytes."""
    flag = "1" if link.change_company else "0"
    return "\n".join((_VERSION, link.connection_id, str(link.expires_at), link.nonce, flag)).encode(
        "utf-8"
    )


def signature(key: str, link: ConnectLink) -> str:
    digest = hmac.new(key.encode("utf-8"), canonical(link), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_link(
    connection_id: str,
    *,
    change_company: bool = False,
    now: float | None = None,
    ttl_s: int = LINK_TTL_S,
) -> ConnectLink:
    issued = time.time() if now is None else now
    return ConnectLink(
        connection_id=connection_id,
        expires_at=int(issued) + ttl_s,
        nonce=secrets.token_urlsafe(24),
        change_company=change_company,
    )


def link_url(base_url: str, key: str, link: ConnectLink) -> str:
    query: dict[str, str] = {"expires": str(link.expires_at), "nonce": link.nonce}
    if link.change_company:
        query["change_company"] = "1"
    query["sig"] = signature(key, link)
    path = quote(link.connection_id, safe="")
    return f"{base_url.rstrip('/')}{CONNECT_PATH}{path}?{urlencode(query)}"


def verify(
    key: str, connection_id: str, query: dict[str, str], *, now: float | None = None
) -> ConnectLink:
    """The link a visit brings, checked; LinkRefused when it is missing, forged or expired.

    Whether it was used already is the state table's to say (StateStore.spend_connect_nonce).
    """
    if not {"sig", "nonce", "expires"} & query.keys():
        raise LinkRefused("This address needs a connect link, and this one has none.", status=403)
    try:
        parsed = _LinkQuery.model_validate(query)
    except ValidationError:
        raise LinkRefused(
            "This connect link is damaged or was not made here.", status=403
        ) from None
    link = ConnectLink(
        connection_id=connection_id,
        expires_at=parsed.expires,
        nonce=parsed.nonce,
        change_company=parsed.change_company,
    )
    # Constant time: a timing difference must not reveal how much of a guess was right.
    if not hmac.compare_digest(signature(key, link), parsed.sig):
        raise LinkRefused("This connect link is damaged or was not made here.", status=403)
    if link.expires_at < (time.time() if now is None else now):
        raise LinkRefused("This connect link has expired (links last 30 minutes).", status=410)
    return link


class LinkKey:
    """The tenant's signing key, from Secrets Manager (JSON ``{"key": "..."}``)."""

    def __init__(self, prefix: str, *, client: Any | None = None) -> None:
        self.name = connect_link_key_name(prefix)
        self._provider = SecretsProvider(boto3_client=client) if client else SecretsProvider()

    def get(self) -> str:
        try:
            raw = self._provider.get(self.name, transform="json", max_age=KEY_CACHE_S)
        except GetParameterError as exc:
            if not secret_missing(exc):
                raise
            raise PermanentError(
                f"the connect-link signing key ({self.name}) is not in Secrets Manager: deploy "
                "the stack again (it creates the key)"
            ) from None
        try:
            return _KeySecret.model_validate(raw).key.get_secret_value()
        except ValidationError:
            raise PermanentError(
                f"the connect-link signing key ({self.name}) is not JSON with a 'key' of at "
                "least 16 characters"
            ) from None

"""Magento's integration authentication: OAuth 1.0a, HMAC-SHA256, in the Authorization header.

An integration has a consumer key and secret and an access token and token secret. Every
request carries ``oauth_consumer_key``, ``oauth_token``, a nonce and a timestamp, signed
over the request (RFC 5849 section 3.4) with the key ``consumer_secret&token_secret``.
Magento 2.4.4+ refuses the access token used alone as a bearer token unless the merchant
turns that back on, so the connector always signs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, SecretStr

SIGNATURE_METHOD = "HMAC-SHA256"


class OAuthCredentials(BaseModel):
    """An integration's four values (System → Extensions → Integrations → Integration Info)."""

    consumer_key: SecretStr
    consumer_secret: SecretStr
    access_token: SecretStr
    access_token_secret: SecretStr


def percent_encode(text: str) -> str:
    """RFC 3986 unreserved characters kept, everything else %XX (RFC 5849 section 3.6)."""
    return quote(text, safe="-._~")


def base_uri(url: str) -> str:
    """Scheme, host, port (if not the default) and path (RFC 5849 section 3.4.1.2)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    default_port = {"http": 80, "https": 443}.get(scheme)
    netloc = host if parts.port in (None, default_port) else f"{host}:{parts.port}"
    return f"{scheme}://{netloc}{parts.path or '/'}"


def signature_base_string(method: str, url: str, params: Sequence[tuple[str, str]]) -> str:
    """METHOD & encoded base URI & encoded, sorted, encoded parameters (without the signature)."""
    encoded = sorted((percent_encode(k), percent_encode(v)) for k, v in params)
    normalised = "&".join(f"{k}={v}" for k, v in encoded)
    return "&".join((method.upper(), percent_encode(base_uri(url)), percent_encode(normalised)))


def sign(base_string: str, consumer_secret: str, token_secret: str) -> str:
    """base64(HMAC-SHA256(consumer_secret&token_secret, base string))."""
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}".encode()
    digest = hmac.new(key, base_string.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def authorization_header(
    method: str,
    url: str,
    query: Sequence[tuple[str, str]],
    credentials: OAuthCredentials,
    *,
    timestamp: int,
    nonce: str,
) -> str:
    """The ``Authorization: OAuth ...`` value for a request to ``url`` with ``query``."""
    oauth = [
        ("oauth_consumer_key", credentials.consumer_key.get_secret_value()),
        ("oauth_nonce", nonce),
        ("oauth_signature_method", SIGNATURE_METHOD),
        ("oauth_timestamp", str(timestamp)),
        ("oauth_token", credentials.access_token.get_secret_value()),
        ("oauth_version", "1.0"),
    ]
    base = signature_base_string(method, url, [*query, *oauth])
    signature = sign(
        base,
        credentials.consumer_secret.get_secret_value(),
        credentials.access_token_secret.get_secret_value(),
    )
    fields = [*oauth, ("oauth_signature", signature)]
    return "OAuth " + ", ".join(f'{k}="{percent_encode(v)}"' for k, v in fields)

"""How the simulated Magento checks an integration's OAuth 1.0a signature.

As Magento's ``Magento\\Framework\\Oauth\\Oauth`` does: the Authorization header's
``oauth_*`` values plus the query parameters, HMAC-SHA256 with
``consumer_secret&token_secret``; an unknown consumer or token, an unsupported signature
method, a stale timestamp, a reused nonce or a wrong signature is a 401 with Magento's
message. The integration's access token alone as a bearer token is refused (2.4.4+
default) unless ``bearer_allowed``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, unquote

from simulators.httpserver import Request

_PAIR = re.compile(r'([a-z_]+)="([^"]*)"')
TIMESTAMP_WINDOW_S = 600


@dataclass(frozen=True)
class AuthRefusal:
    message: str
    parameters: tuple[str, ...] = ()


def _encode(text: str) -> str:
    return quote(text, safe="-._~")


class IntegrationAuth:
    def __init__(
        self,
        *,
        consumer_key: str,
        consumer_secret: str,
        access_token: str,
        access_token_secret: str,
        clock: Callable[[], float],
        bearer_allowed: bool = False,
    ) -> None:
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.access_token = access_token
        self.access_token_secret = access_token_secret
        self._clock = clock
        self.bearer_allowed = bearer_allowed
        self._nonces: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def authenticate(self, request: Request, url: str) -> AuthRefusal | None:
        """None when the request is signed by the integration; else Magento's refusal."""
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            if self.bearer_allowed and hmac.compare_digest(
                header[7:].strip().encode(), self.access_token.encode()
            ):
                return None
            return AuthRefusal(
                "The consumer isn't authorized to access %1.", ("Magento_Sales::sales",)
            )
        if not header.startswith("OAuth "):
            return AuthRefusal(
                "The consumer isn't authorized to access %1.", ("Magento_Sales::sales",)
            )
        oauth = {k: unquote(v) for k, v in _PAIR.findall(header[6:])}
        if oauth.get("oauth_signature_method") != "HMAC-SHA256":
            return AuthRefusal(
                "Signature method %1 is not supported", (oauth.get("oauth_signature_method", ""),)
            )
        if oauth.get("oauth_consumer_key") != self.consumer_key:
            return AuthRefusal("A consumer having the specified key does not exist")
        if oauth.get("oauth_token") != self.access_token:
            return AuthRefusal("Specified token does not exist")
        try:
            stamp = int(oauth.get("oauth_timestamp", ""))
        except ValueError:
            return AuthRefusal("Invalid timestamp")
        if abs(self._clock() - stamp) > TIMESTAMP_WINDOW_S:
            return AuthRefusal("The timestamp is out of bounds")
        signature = oauth.pop("oauth_signature", "")
        params = [(k, v) for k, values in request.query.items() for v in values]
        params += list(oauth.items())
        encoded = sorted((_encode(k), _encode(v)) for k, v in params)
        base = "&".join(
            ("GET" if request.method == "GET" else request.method, _encode(url),
             _encode("&".join(f"{k}={v}" for k, v in encoded)))
        )  # fmt: skip
        key = f"{_encode(self.consumer_secret)}&{_encode(self.access_token_secret)}".encode()
        expected = base64.b64encode(hmac.new(key, base.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(signature.encode(), expected):
            return AuthRefusal("The signature is invalid. Verify and try again.")
        nonce = (oauth.get("oauth_nonce", ""), self.consumer_key)
        with self._lock:
            if nonce in self._nonces:
                return AuthRefusal(
                    "The nonce is already being used by the consumer with ID %1.", ("1",)
                )
            self._nonces.add(nonce)
        return None

"""How the simulated store decides who is calling, following WC_REST_Authentication.

- https (here: ``X-Forwarded-Proto: https``): HTTP Basic with the API keys, or the
  ``consumer_key``/``consumer_secret`` query parameters.
- http: one-legged OAuth 1.0a in the query string. The string to sign is
  ``METHOD&rawurlencode(home url + path)&`` the parameters sorted by name, each
  ``rawurlencode(name)=rawurlencode(value)`` encoded again and joined with ``%26``;
  the key is the consumer secret plus ``&``; HMAC-SHA1 or HMAC-SHA256; the timestamp
  must be within 15 minutes and a nonce is accepted once.
- Basic credentials sent over plain http are ignored, so the caller is anonymous.
- The key's permissions (read, write, read_write): a GET needs read, a POST, PUT or DELETE
  needs write, else 401 "The API key provided does not have ... permissions."
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from simulators.httpserver import Request

_REQUIRED = (
    "oauth_consumer_key",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
    "oauth_signature_method",
)
_WINDOW_S = 15 * 60


@dataclass(frozen=True)
class AuthError:
    code: str
    message: str
    status: int = 401


def _rawurlencode(text: str) -> str:
    return quote(text, safe="-._~")


class StoreAuth:
    """Checks one API key pair; remembers OAuth nonces like WooCommerce's key table does."""

    def __init__(
        self,
        consumer_key: str,
        consumer_secret: str,
        clock: Callable[[], float],
        permissions: str = "read_write",
    ) -> None:
        self._key = consumer_key
        self.permissions = permissions
        self._secret = consumer_secret
        self._clock = clock
        self._nonces: dict[str, int] = {}
        self._lock = threading.Lock()

    def authenticate(self, request: Request) -> bool | AuthError:
        """True for a valid caller, False for an anonymous one, AuthError for a refused one."""
        if request.headers.get("x-forwarded-proto", "").lower() == "https":
            found = self._basic(request)
        else:
            found = self._oauth(request)
        return self._permitted(request.method) if found is True else found

    def _permitted(self, method: str) -> bool | AuthError:
        needed = "read" if method.upper() in ("GET", "HEAD") else "write"
        if needed in self.permissions.split("_"):
            return True
        return AuthError(
            "woocommerce_rest_authentication_error",
            f"The API key provided does not have {needed} permissions.",
        )

    def _basic(self, request: Request) -> bool | AuthError:
        key = request.arg("consumer_key")
        secret = request.arg("consumer_secret")
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            key, _, secret = decoded.partition(":")
        if not key:
            return False
        if not hmac.compare_digest(key, self._key):
            return AuthError("woocommerce_rest_authentication_error", "Consumer key is invalid.")
        if not hmac.compare_digest(secret or "", self._secret):
            return AuthError("woocommerce_rest_authentication_error", "Consumer secret is invalid.")
        return True

    def _oauth(self, request: Request) -> bool | AuthError:
        params = {name: values[-1] for name, values in request.query.items()}
        missing = [name for name in _REQUIRED if not params.get(name)]
        if len(missing) == len(_REQUIRED):
            return False
        if missing:
            return AuthError(
                "woocommerce_rest_authentication_missing_parameter",
                f"Missing OAuth parameter {', '.join(missing)}",
            )
        if not hmac.compare_digest(params["oauth_consumer_key"], self._key):
            return AuthError("woocommerce_rest_authentication_error", "Consumer key is invalid.")
        method = params["oauth_signature_method"]
        if method not in ("HMAC-SHA1", "HMAC-SHA256"):
            return AuthError(
                "woocommerce_rest_authentication_error",
                "Invalid signature - signature method is invalid.",
            )
        # PHP's $_GET turned an unencoded "+" into a space; WooCommerce turns it back.
        given = params.pop("oauth_signature").replace(" ", "+")
        host = request.headers.get("host", "localhost")
        base_uri = _rawurlencode(f"http://{host}{request.path}")
        pairs = [
            _rawurlencode(f"{_rawurlencode(k)}={_rawurlencode(params[k])}") for k in sorted(params)
        ]
        string_to_sign = f"GET&{base_uri}&{'%26'.join(pairs)}"
        if request.method.upper() != "GET":
            string_to_sign = request.method.upper() + string_to_sign[3:]
        algorithm = hashlib.sha1 if method == "HMAC-SHA1" else hashlib.sha256
        digest = hmac.new(
            (self._secret + "&").encode("utf-8"), string_to_sign.encode("utf-8"), algorithm
        ).digest()
        if not hmac.compare_digest(base64.b64encode(digest).decode("ascii"), given):
            return AuthError(
                "woocommerce_rest_authentication_error",
                "Invalid signature - provided signature does not match.",
            )
        return self._fresh(params["oauth_timestamp"], params["oauth_nonce"])

    def _fresh(self, timestamp: str, nonce: str) -> bool | AuthError:
        now = int(self._clock())
        try:
            stamp = int(timestamp)
        except ValueError:
            stamp = -_WINDOW_S * 2
        if abs(now - stamp) > _WINDOW_S:
            return AuthError("woocommerce_rest_authentication_error", "Invalid timestamp.")
        with self._lock:
            self._nonces = {n: t for n, t in self._nonces.items() if now - t <= _WINDOW_S}
            if nonce in self._nonces:
                return AuthError(
                    "woocommerce_rest_authentication_error",
                    "Invalid nonce - nonce has already been used.",
                )
            self._nonces[nonce] = stamp
        return True

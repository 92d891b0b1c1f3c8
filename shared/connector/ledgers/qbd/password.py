"""The Web Connector password: shown to the merchant once, stored only as a scrypt hash."""

from __future__ import annotations

import base64
import hmac
import secrets

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

# scrypt cost: 2**14 is the interactive-login level; a Lambda does it in tens of milliseconds.
_N, _R, _P, _LENGTH = 2**14, 8, 1, 32


def new_password() -> str:
    """A random password the merchant types into the Web Connector once."""
    return secrets.token_urlsafe(18)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    key = Scrypt(salt=salt, length=_LENGTH, n=_N, r=_R, p=_P).derive(password.encode("utf-8"))
    return "scrypt$" + "$".join([str(_N), str(_R), str(_P), _b64(salt), _b64(key)])


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    kdf = Scrypt(salt=_unb64(salt), length=len(_unb64(key)), n=int(n), r=int(r), p=int(p))
    try:
        kdf.verify(password.encode("utf-8"), _unb64(key))
    except InvalidKey:
        return False
    return True


def same_user(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

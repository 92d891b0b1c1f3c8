"""WooCommerce's webhook deliveries: the HMAC over the raw body, and the unsigned ping."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping

_PING_BODY = re.compile(rb"webhook_id=[0-9]+")
_FORM = "application/x-www-form-urlencoded"


def verify_webhook(body: bytes, signature: str | None, secret: str) -> bool:
    """True when ``signature`` is base64(HMAC-SHA256(secret, body)) over the exact raw body.

    WooCommerce signs the bytes it sends, so the body must not be re-serialised first.
    """
    if not signature or not secret:
        return False
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return hmac.compare_digest(given, expected)


def is_ping(content_type: str | None, body: bytes, headers: Mapping[str, str]) -> bool:
    """True for WooCommerce's unsigned test delivery: form body ``webhook_id=N``, no topic.

    WooCommerce sends it when a webhook is saved and requires HTTP 200 back; it carries no
    signature, so it must be answered without being trusted for anything else.
    """
    if any(name.lower() == "x-wc-webhook-topic" for name in headers):
        return False
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in ("", _FORM):
        return False
    return _PING_BODY.fullmatch(body.strip()) is not None

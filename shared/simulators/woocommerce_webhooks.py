"""WooCommerce's webhook delivery, as WC_Webhook::deliver and deliver_ping do it.

- The body is built at delivery time from the REST GET representation (so a "created"
  delivery can already show a paid order); ``*.deleted`` topics send ``{"id": N}``.
- Serialised like PHP's ``wp_json_encode``: slashes as ``\\/``, non-ASCII as ``\\uXXXX``.
- Signed base64(HMAC-SHA256(secret, body)); headers X-WC-Webhook-*.
- HTTP 200..302 is success; anything else, or no answer, is a failure. After six
  consecutive failures the seventh disables the webhook and nothing more is sent.
  A failed event is never retried.
- The ping is an unsigned form post ``webhook_id=N`` that must get exactly 200.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from simulators.woocommerce import WooSimulator

WC_VERSION = "9.8.5"
WP_VERSION = "6.8.1"
_MAX_FAILURES = 5  # woocommerce_max_webhook_delivery_failures


def php_json(payload: Any) -> bytes:
    """``wp_json_encode``: compact, ``/`` escaped, non-ASCII as lowercase \\u escapes."""
    text = json.dumps(payload, ensure_ascii=True, separators=(",", ":"))
    return text.replace("/", "\\/").encode("ascii")


def webhook_signature(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode(
        "ascii"
    )


@dataclass(frozen=True)
class DeliveryRecord:
    topic: str
    resource_id: int | None
    status: int  # 0 when the request failed without an HTTP answer
    body: bytes
    succeeded: bool


class WebhookSender:
    """One WooCommerce webhook (topic-agnostic here) pointing at ``target_url``."""

    def __init__(
        self,
        sim: WooSimulator,
        *,
        target_url: str,
        secret: str,
        webhook_id: int,
        http: httpx.Client | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        self._sim = sim
        self.target_url = target_url
        self.secret = secret
        self.webhook_id = webhook_id
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client(follow_redirects=False)
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self.failure_count = 0
        self.status = "active"
        self.deliveries: list[DeliveryRecord] = []
        self.last_ping_error: str | None = None

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def reactivate(self) -> None:
        """What ``PUT /wc/v3/webhooks/<id> {"status": "active"}`` does."""
        with self._lock:
            self.status = "active"
            self.failure_count = 0

    def deliver(self, topic: str, resource_id: int) -> int:
        """Send one event; returns the HTTP status, 0 if there was no answer or nothing was sent.

        A disabled webhook sends nothing: the event is lost, as in WooCommerce.
        """
        resource, _, event = topic.partition(".")
        if self.status != "active":
            return 0
        if event == "deleted":
            payload: Any = {"id": resource_id}
        else:
            payload = self._sim.rest_representation(resource, resource_id)
        body = php_json(payload)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"WooCommerce/{WC_VERSION} Hookshot (WordPress/{WP_VERSION})",
            "X-WC-Webhook-Source": self._sim.home_url + "/",
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": resource,
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Signature": webhook_signature(body, self.secret),
            "X-WC-Webhook-ID": str(self.webhook_id),
            "X-WC-Webhook-Delivery-ID": self._sim.wp_hash(
                f"{self.webhook_id}{int(self._sim.now())}"
            ),
        }
        return self._post(topic, resource_id, body, headers)

    def deliver_raw(self, body: bytes, headers: Mapping[str, str]) -> int:
        """Post exactly these bytes and headers (forged signatures, replays) through the same
        success/failure accounting."""
        return self._post(headers.get("X-WC-Webhook-Topic", ""), None, body, dict(headers))

    def ping(self) -> int:
        """The unsigned test delivery sent when a webhook is saved; needs exactly 200."""
        body = f"webhook_id={self.webhook_id}".encode("ascii")
        headers = {
            "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
            "User-Agent": f"WordPress/{WP_VERSION}; {self._sim.home_url}",
        }
        try:
            response = self._http.post(
                self.target_url, content=body, headers=headers, timeout=self._timeout_s
            )
        except httpx.HTTPError as exc:
            self.last_ping_error = f"Error: Delivery URL cannot be reached: {exc}"
            return 0
        if response.status_code != 200:
            self.last_ping_error = (
                f"Error: Delivery URL returned response code: {response.status_code}"
            )
        else:
            self.last_ping_error = None
        return response.status_code

    def _post(
        self, topic: str, resource_id: int | None, body: bytes, headers: dict[str, str]
    ) -> int:
        try:
            response = self._http.post(
                self.target_url, content=body, headers=headers, timeout=self._timeout_s
            )
            status = response.status_code
        except httpx.HTTPError:
            status = 0
        succeeded = 200 <= status < 303
        with self._lock:
            self.deliveries.append(DeliveryRecord(topic, resource_id, status, body, succeeded))
            if succeeded:
                self.failure_count = 0
            elif self.failure_count > _MAX_FAILURES:
                self.status = "disabled"
            else:
                self.failure_count += 1
        return status

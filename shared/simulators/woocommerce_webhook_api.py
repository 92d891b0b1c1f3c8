"""The simulated store's ``/wc/v3/webhooks`` resource, as WC_REST_Webhooks_V1_Controller does it.

- List (``status`` all/active/paused/disabled, paged with X-WP-Total), read, create, update,
  delete (``force=true`` only: webhooks are not trashed, 501 otherwise).
- A webhook is shown without its secret: the schema keeps ``secret`` write-only, so no
  answer ever carries it.
- Create needs a valid ``topic`` (resource coupon/customer/order/product with event
  created/updated/deleted/restored, or ``action.*``) and a ``delivery_url`` starting with
  http:// or https:// (else 400 ``woocommerce_rest_shop_webhook_invalid_topic`` /
  ``..._invalid_delivery_url``); without a secret WooCommerce makes one up. It answers 201
  and pings the delivery URL, ignoring the result. An update checks the same and ``status``.
- The API key's user must manage WooCommerce (an anonymous caller gets 401
  ``woocommerce_rest_cannot_view``/``_create``/``_edit``/``_delete``), and a key without
  write permission is refused any change (WC_REST_Authentication, in ``StoreAuth``).
- Each webhook delivers through a ``WebhookSender``, which disables it after repeated
  failures; ``deliver(topic, id)`` sends an event to every active webhook on that topic.
"""

from __future__ import annotations

import itertools
import re
import secrets
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from simulators.httpserver import Request, Response
from simulators.woocommerce_webhooks import WebhookSender, php_json

if TYPE_CHECKING:
    from simulators.woocommerce import WooSimulator

API = "/wp-json/wc/v3"
_ONE = re.compile(API + r"/webhooks/(\d+)/?$")
_ALL = re.compile(API + r"/webhooks/?$")
_RESOURCES = ("coupon", "customer", "order", "product")
_EVENTS = ("created", "updated", "deleted", "restored")
STATUSES = ("active", "paused", "disabled")
_POST_TYPE = "shop_webhook"


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def valid_topic(topic: str) -> bool:
    """``wc_is_webhook_valid_topic``: an ``action.*`` hook, or a core resource and event."""
    if topic.startswith("action."):
        return len(topic) > len("action.")
    resource, _, event = topic.partition(".")
    return resource in _RESOURCES and event in _EVENTS


def valid_url(url: str) -> bool:
    """``wc_is_valid_url``: http(s) with a host."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


@dataclass
class SimWebhook:
    id: int
    name: str
    topic: str
    sender: WebhookSender
    date_created: tuple[str, str]
    date_modified: tuple[str, str]

    @property
    def status(self) -> str:
        return self.sender.status

    @property
    def delivery_url(self) -> str:
        return self.sender.target_url


class WebhookResource:
    """The store's webhooks, served under ``/wp-json/wc/v3/webhooks``."""

    def __init__(self, sim: WooSimulator, *, http: httpx.Client | None = None) -> None:
        self._sim = sim
        self._http = http
        self._lock = threading.RLock()
        self._ids = itertools.count(40)
        self.webhooks: dict[int, SimWebhook] = {}

    # -- the admin screen and the store's events -------------------------------------------

    def add(
        self, topic: str, delivery_url: str, secret: str, *, name: str = "", status: str = "active"
    ) -> SimWebhook:
        """A webhook saved in WooCommerce > Settings > Advanced > Webhooks (no ping here)."""
        with self._lock:
            hook_id = next(self._ids)
            sender = WebhookSender(
                self._sim, target_url=delivery_url, secret=secret, webhook_id=hook_id,
                http=self._http,
            )  # fmt: skip
            sender.status = status
            stamp = self._sim._stamp()
            hook = SimWebhook(hook_id, name or f"Webhook {hook_id}", topic, sender, stamp, stamp)
            self.webhooks[hook_id] = hook
            return hook

    def deliver(self, topic: str, resource_id: int) -> list[int]:
        """The event to every active webhook on ``topic``: the answers' HTTP statuses."""
        with self._lock:
            senders = [h.sender for h in self.webhooks.values() if h.topic == topic]
        return [s.deliver(topic, resource_id) for s in senders if s.status == "active"]

    # -- REST ------------------------------------------------------------------------------

    def handle(self, request: Request, *, authenticated: bool) -> Response:
        try:
            return self._route(request, authenticated)
        except _Refusal as exc:
            body = {"code": exc.code, "message": exc.message, "data": {"status": exc.status}}
            return _json(body, exc.status)

    def _route(self, request: Request, authenticated: bool) -> Response:
        one = _ONE.match(request.path)
        if _ALL.match(request.path) and request.method in ("GET", "POST"):
            if not authenticated:
                raise _denied("view" if request.method == "GET" else "create")
            return self._list(request) if request.method == "GET" else self._create(request)
        if one and request.method in ("GET", "PUT", "POST", "DELETE"):
            action = {"GET": "view", "DELETE": "delete"}.get(request.method, "edit")
            if not authenticated:
                raise _denied(action)
            hook_id = int(one.group(1))
            if request.method == "GET":
                return _json(self._shown(self._found(hook_id, 404)))
            if request.method == "DELETE":
                return self._delete(request, hook_id)
            return self._update(request, hook_id)
        raise _Refusal(
            404, "rest_no_route", "No route was found matching the URL and request method."
        )

    def _list(self, request: Request) -> Response:
        status = request.arg("status") or "all"
        if status not in ("all", *STATUSES):
            raise _Refusal(400, "rest_invalid_param", "Invalid parameter(s): status")
        per_page = int(request.arg("per_page") or 10)
        page = int(request.arg("page") or 1)
        with self._lock:
            # Newest first (orderby date, order desc), as the controller's defaults say.
            hooks = sorted(self.webhooks.values(), key=lambda h: h.id, reverse=True)
            rows = [self._shown(h) for h in hooks if status in ("all", h.status)]
        total = len(rows)
        chunk = rows[(page - 1) * per_page : page * per_page]
        pages = -(-total // per_page) if per_page > 0 else 0
        return _json(chunk, 200, {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)})

    def _create(self, request: Request) -> Response:
        spec = _body(request)
        if spec.get("id"):
            raise _Refusal(
                400,
                f"woocommerce_rest_{_POST_TYPE}_exists",
                f"Cannot create existing {_POST_TYPE}.",
            )
        topic = str(spec.get("topic") or "")
        if not valid_topic(topic.lower()):
            raise _Refusal(
                400, f"woocommerce_rest_{_POST_TYPE}_invalid_topic",
                "Webhook topic is required and must be valid.",
            )  # fmt: skip
        url = str(spec.get("delivery_url") or "")
        if not valid_url(url):
            raise _invalid_url()
        # wp_generate_password(50, true, true) when the caller gives none.
        secret = str(spec.get("secret") or secrets.token_urlsafe(38)[:50])
        hook = self.add(topic, url, secret, name=str(spec.get("name") or ""))
        answer = _json(self._shown(hook), 201)
        answer.headers["Location"] = f"{self._sim.home_url}{API}/webhooks/{hook.id}"
        hook.sender.ping()  # WooCommerce pings a new webhook and ignores the answer
        return answer

    def _update(self, request: Request, hook_id: int) -> Response:
        spec = _body(request)
        with self._lock:
            hook = self._found(hook_id, 400, "ID is invalid.")
            topic = str(spec.get("topic") or "")
            if topic and not valid_topic(topic.lower()):
                raise _Refusal(
                    400,
                    f"woocommerce_rest_{_POST_TYPE}_invalid_topic",
                    "Webhook topic must be valid.",
                )
            url = str(spec.get("delivery_url") or "")
            if url and not valid_url(url):
                raise _invalid_url()
            status = str(spec.get("status") or "")
            if status and status.lower() not in STATUSES:
                raise _Refusal(
                    400,
                    f"woocommerce_rest_{_POST_TYPE}_invalid_status",
                    "Webhook status must be valid.",
                )
            if topic:
                hook.topic = topic
            if url:
                hook.sender.target_url = url
            if spec.get("secret"):
                hook.sender.secret = str(spec["secret"])
            if status == "active":
                hook.sender.reactivate()
            elif status:
                hook.sender.status = status.lower()
            if spec.get("name"):
                hook.name = str(spec["name"])
            hook.date_modified = self._sim._stamp()
            return _json(self._shown(hook))

    def _delete(self, request: Request, hook_id: int) -> Response:
        if (request.arg("force") or "").lower() not in ("1", "true"):
            raise _Refusal(
                501, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing."
            )
        with self._lock:
            hook = self._found(hook_id, 404)
            del self.webhooks[hook_id]
            return _json(self._shown(hook))

    def _found(self, hook_id: int, status: int, message: str = "Invalid ID.") -> SimWebhook:
        hook = self.webhooks.get(hook_id)
        if hook is None:
            raise _Refusal(status, f"woocommerce_rest_{_POST_TYPE}_invalid_id", message)
        return hook

    def _shown(self, hook: SimWebhook) -> dict[str, Any]:
        """The v3 representation: everything but the secret."""
        resource, _, event = hook.topic.partition(".")
        return {
            "id": hook.id,
            "name": hook.name,
            "status": hook.status,
            "topic": hook.topic,
            "resource": resource,
            "event": event,
            "hooks": [f"woocommerce_{event}_{resource}"] if resource in _RESOURCES else [event],
            "delivery_url": hook.delivery_url,
            "date_created": hook.date_created[0],
            "date_created_gmt": hook.date_created[1],
            "date_modified": hook.date_modified[0],
            "date_modified_gmt": hook.date_modified[1],
            "_links": {
                "self": [{"href": f"{self._sim.home_url}{API}/webhooks/{hook.id}"}],
                "collection": [{"href": f"{self._sim.home_url}{API}/webhooks"}],
            },
        }


def _denied(action: str) -> _Refusal:
    words = {
        "view": "Sorry, you cannot list resources.",
        "create": "Sorry, you are not allowed to create resources.",
        "edit": "Sorry, you are not allowed to edit this resource.",
        "delete": "Sorry, you are not allowed to delete this resource.",
    }
    return _Refusal(401, f"woocommerce_rest_cannot_{action}", words[action])


def _invalid_url() -> _Refusal:
    return _Refusal(
        400,
        f"woocommerce_rest_{_POST_TYPE}_invalid_delivery_url",
        "Webhook delivery URL must be a valid URL starting with http:// or https://.",
    )


def _body(request: Request) -> dict[str, Any]:
    try:
        spec = request.json() if request.body else {}
    except ValueError:
        raise _Refusal(400, "rest_invalid_json", "Invalid JSON body passed.") from None
    if not isinstance(spec, dict):
        raise _Refusal(400, "rest_invalid_json", "Invalid JSON body passed.")
    return spec


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status,
        php_json(payload),
        {"Content-Type": "application/json; charset=UTF-8", **(headers or {})},
    )

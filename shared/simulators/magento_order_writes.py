"""The simulated Magento's order writes through REST V1 (issue #13: QuickBooks invoices → orders).

Routes, as the admin REST reference (2.4.9) defines them:
``POST /V1/orders`` — "Performs persist operations for a specified order": ``{"entity":
sales-data-order-interface}`` is stored with the totals it carries (no entity_id: a new order;
an entity_id: that order, whose fields given replace the stored ones, its items included), and
the saved order is the answer; ``POST /V1/orders/{id}/comments`` (``{"statusHistory": ...}``,
answers ``true``) and ``GET /V1/orders/{id}/comments``.

Refused in Magento's ``{"message", "parameters"}`` shape, as the definitions require: no
``entity``; an order without ``base_grand_total``, ``customer_email``, ``grand_total`` or
``items``; an item without ``sku``; a billing address without ``address_type``, ``city``,
``country_id``, ``firstname``, ``lastname``, ``postcode`` or ``telephone``; a payment without
``account_status``, ``additional_information``, ``cc_last4`` or ``method``; a comment without
``comment``, ``is_customer_notified``, ``is_visible_on_front`` or ``parent_id``; an entity id
the store does not hold (404).

An order saved here is one of the store's orders: ``GET /V1/orders/{id}`` reads it and the
``GET /V1/orders`` search (the connector's poll, by ``updated_at``) lists it. Magento Open
Source sends no order webhooks (FACTS.md); the connector's push is a hint a test signs itself.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from typing import Any

from simulators.httpserver import Request, Response

__all__ = ["OrderWrites"]

REQUIRED = '"%fieldName" is required. Enter and try again.'
NO_ORDER = "The entity that was requested doesn't exist. Verify the entity and try again."
ORDER_FIELDS = ("base_grand_total", "customer_email", "grand_total", "items")
ITEM_FIELDS = ("sku",)
ADDRESS_FIELDS = (
    "address_type", "city", "country_id", "firstname", "lastname", "postcode", "telephone",
)  # fmt: skip
PAYMENT_FIELDS = ("account_status", "additional_information", "cc_last4", "method")
HISTORY_FIELDS = ("comment", "is_customer_notified", "is_visible_on_front", "parent_id")


def _error(status: int, message: str, parameters: Any = None) -> Response:
    body: dict[str, Any] = {"message": message}
    if parameters:
        body["parameters"] = parameters
    return Response.of_json(body, status)


def _missing(record: dict[str, Any], required: tuple[str, ...]) -> str | None:
    for name in required:
        if record.get(name) is None:
            return name
    return None


class OrderWrites:
    """Orders persisted through the API into the store's own order table.

    ``save(oid, doc)`` stores a new order in the simulator's table (it is given the entity id
    the store allots through ``order_id``); ``orders(oid)`` reads one (None when there is none).
    Not thread-safe by itself: the store calls ``route`` under its lock.
    """

    def __init__(
        self,
        *,
        order_id: Callable[[], int],
        item_id: Callable[[], int],
        orders: Callable[[int], dict[str, Any] | None],
        save: Callable[[int, dict[str, Any]], None],
        stamp: Callable[[], str],
        base_currency: str,
    ) -> None:
        self._order_id = order_id
        self._item_id = item_id
        self._orders = orders
        self._save = save
        self._stamp = stamp
        self._base_currency = base_currency
        self._history_ids = itertools.count(1)
        self.writes = 0  # orders saved through the API (tests count them)

    def route(self, request: Request, path: str) -> Response | None:
        parts = path.split("/")
        if path == "orders" and request.method == "POST":
            return self._persist(request)
        if len(parts) == 3 and parts[0] == "orders" and parts[2] == "comments":
            if not parts[1].isdigit() or self._orders(int(parts[1])) is None:
                return _error(404, NO_ORDER)
            if request.method == "POST":
                return self._comment(request, int(parts[1]))
            if request.method == "GET":
                histories = self._orders(int(parts[1])) or {}
                items = copy.deepcopy(histories.get("status_histories") or [])
                return Response.of_json({"items": items, "total_count": len(items)})
        return None

    def _persist(self, request: Request) -> Response:
        body = _json(request)
        entity = body.get("entity") if isinstance(body, dict) else None
        if not isinstance(entity, dict):
            return _error(400, REQUIRED, {"fieldName": "entity"})
        refused = _check(entity)
        if refused is not None:
            return refused
        now = self._stamp()
        given_id = entity.get("entity_id")
        if given_id is not None:
            stored = self._orders(int(given_id)) if str(given_id).isdigit() else None
            if stored is None:
                return _error(404, NO_ORDER)
            stored.update(copy.deepcopy(entity))
            stored["entity_id"] = int(given_id)
            self._number_items(stored)
            stored["updated_at"] = now
            self.writes += 1
            return Response.of_json(copy.deepcopy(stored))
        oid = self._order_id()
        doc: dict[str, Any] = {
            "state": "new", "status": "pending", "order_currency_code": self._base_currency,
            "base_currency_code": self._base_currency,
            "global_currency_code": self._base_currency,
            "store_currency_code": self._base_currency, "base_to_order_rate": 1,
            "base_to_global_rate": 1, "customer_is_guest": 1, "status_histories": [],
            "total_paid": 0, "base_total_paid": 0, "total_refunded": 0, "base_total_refunded": 0,
        }  # fmt: skip
        doc.update(copy.deepcopy(entity))
        doc.update(entity_id=oid, created_at=now, updated_at=now)
        doc.setdefault("increment_id", f"{oid:09d}")
        self._number_items(doc)
        self._save(oid, doc)
        self.writes += 1
        return Response.of_json(copy.deepcopy(doc))

    def _number_items(self, doc: dict[str, Any]) -> None:
        for item in doc.get("items") or []:
            if item.get("item_id") is None:
                item["item_id"] = self._item_id()
            item["order_id"] = doc["entity_id"]

    def _comment(self, request: Request, oid: int) -> Response:
        body = _json(request)
        history = body.get("statusHistory") if isinstance(body, dict) else None
        if not isinstance(history, dict):
            return _error(400, REQUIRED, {"fieldName": "statusHistory"})
        missing = _missing(history, HISTORY_FIELDS)
        if missing is not None:
            return _error(400, REQUIRED, {"fieldName": missing})
        order = self._orders(oid)
        assert order is not None  # checked by the route
        entry = {**history, "entity_id": next(self._history_ids), "parent_id": oid,
                 "created_at": self._stamp(), "entity_name": "order"}  # fmt: skip
        if history.get("status"):
            order["status"] = history["status"]
        # Newest first, as Magento lists an order's history.
        order["status_histories"] = [entry, *(order.get("status_histories") or [])]
        order["updated_at"] = self._stamp()
        return Response.of_json(True)


def _check(entity: dict[str, Any]) -> Response | None:
    missing = _missing(entity, ORDER_FIELDS)
    if missing is not None:
        return _error(400, REQUIRED, {"fieldName": missing})
    items = entity["items"]
    if not isinstance(items, list) or not items:
        return _error(400, REQUIRED, {"fieldName": "items"})
    for item in items:
        if not isinstance(item, dict) or not str(item.get("sku") or "").strip():
            return _error(400, REQUIRED, {"fieldName": "sku"})
    addresses = [entity.get("billing_address")]
    for assignment in (entity.get("extension_attributes") or {}).get("shipping_assignments") or []:
        addresses.append((assignment.get("shipping") or {}).get("address"))
    for address in addresses:
        if address is None:
            continue
        missing = _missing(address, ADDRESS_FIELDS) if isinstance(address, dict) else "address"
        if missing is None and any(not str(address[f]).strip() for f in ADDRESS_FIELDS):
            missing = next(f for f in ADDRESS_FIELDS if not str(address[f]).strip())
        if missing is not None:
            return _error(400, REQUIRED, {"fieldName": missing})
    payment = entity.get("payment")
    if payment is not None:
        missing = _missing(payment, PAYMENT_FIELDS) if isinstance(payment, dict) else "payment"
        if missing is not None:
            return _error(400, REQUIRED, {"fieldName": missing})
    for history in entity.get("status_histories") or []:
        missing = _missing(history, HISTORY_FIELDS) if isinstance(history, dict) else "comment"
        if missing is not None:
            return _error(400, REQUIRED, {"fieldName": missing})
    return None


def _json(request: Request) -> Any:
    try:
        return request.json()
    except ValueError:
        return None

"""``POST /orders``, ``PUT /orders/<id>`` and ``POST /orders/<id>/notes`` of the simulated
WooCommerce store (issue #13: orders a connector makes from QuickBooks invoices).

As ``WC_REST_Orders_V2_Controller`` does: a line item names its product by ``product_id``,
``variation_id`` or ``sku`` (400 ``woocommerce_rest_required_product_reference`` without one,
400 ``woocommerce_rest_invalid_product_id`` for one the store lacks); ``subtotal``/``total``
(strings, ex tax) and ``tax_class`` may be given, else the product's price times the quantity;
the store then calculates taxes itself (``calculate_totals``) from its own rates for the order's
address and each line's tax class (``zero-rate`` has none), and taxable fee lines are taxed at
the standard rate. ``set_paid`` marks the order paid (one awaiting payment becomes
``processing``; a ``completed`` one stays so). An update may
change the status, addresses, note and meta, and the lines: a line item with its ``id`` and
quantity 0, or a fee line with its ``id`` and ``name`` null, is removed; one without an ``id``
is added; the order is totalled again.
``order.created`` / ``order.updated`` fire for each write.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from simulators.woocommerce_catalogue import Product
from simulators.woocommerce_pricing import FeeInput, LineInput, price_order

if TYPE_CHECKING:
    from simulators.woocommerce import WooSimulator

_STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed")


class OrderRefusal(Exception):
    def __init__(self, status: int, code: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.data = status, code, message, data


@dataclass
class _Line:
    item_id: int
    product: Product  # the product or variation sold, priced at what the order says
    name: str
    quantity: int
    tax_class: str


@dataclass
class _Fee:
    item_id: int
    name: str
    amount: Decimal
    taxable: bool


@dataclass
class _ApiOrder:
    lines: list[_Line] = field(default_factory=list)
    fees: list[_Fee] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)


class OrderWrites:
    def __init__(self, sim: WooSimulator) -> None:
        self._sim = sim
        self._orders: dict[int, _ApiOrder] = {}
        self._note_ids = itertools.count(5000)

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        from simulators.woocommerce import LineSpec, OrderSpec, _StoredOrder

        sim = self._sim
        status = _status(body.get("status", "pending"))
        if body.get("set_paid") is True:
            status = _paid(status)
        customer_id = _int(body, "customer_id") or 0
        if customer_id and customer_id not in sim._customers:
            raise OrderRefusal(
                400, "woocommerce_rest_invalid_customer_id", "Customer ID is invalid."
            )
        api = _ApiOrder()
        api.lines = [self._line(raw) for raw in _list(body, "line_items")]
        api.fees = [self._fee(raw) for raw in _list(body, "fee_lines")]
        order_id = next(sim._post_ids)
        local, gmt = sim._stamp()
        billing = {**_blank_billing(), **_address(body, "billing")}
        shipping = {**_blank_billing(), **_address(body, "shipping")}
        del shipping["email"]
        doc: dict[str, Any] = {
            "id": order_id,
            "parent_id": 0,
            "number": str(order_id),
            "order_key": "wc_order_" + sim._token(13),
            "created_via": "rest-api",
            "version": "9.8.5",
            "status": status,
            "currency": str(body.get("currency") or sim.currency),
            "date_created": local,
            "date_created_gmt": gmt,
            "date_modified": local,
            "date_modified_gmt": gmt,
            "customer_id": customer_id,
            "billing": billing,
            "shipping": shipping,
            "customer_ip_address": "",
            "customer_user_agent": "",
            "customer_note": str(body.get("customer_note") or ""),
            "payment_method": str(body.get("payment_method") or ""),
            "payment_method_title": str(body.get("payment_method_title") or ""),
            "transaction_id": "",
            "date_paid": None,
            "date_paid_gmt": None,
            "date_completed": None,
            "date_completed_gmt": None,
            "cart_hash": "",
            "meta_data": [],
        }
        _merge_meta(doc["meta_data"], _list(body, "meta_data"))
        doc.update(self._price(doc, api))
        sim._set_status_dates(doc, status)
        spec = OrderSpec(
            lines=[LineSpec(line.product.id, line.quantity) for line in api.lines],
            customer_id=customer_id,
            shipping=None,
            status=status,
        )
        sim._orders[order_id] = _StoredOrder(doc=doc, spec=spec)
        self._orders[order_id] = api
        return sim._render_order(order_id)

    def update(self, order_id: int, body: dict[str, Any]) -> dict[str, Any]:
        sim = self._sim
        stored = sim._orders.get(order_id)
        if stored is None:
            raise OrderRefusal(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        api = self._orders.setdefault(order_id, _ApiOrder())
        doc = stored.doc
        status = _status(body["status"]) if "status" in body else None
        if body.get("set_paid") is True:
            status = _paid(status or doc["status"])
        lines = [self._line(raw) for raw in _list(body, "line_items") if "id" not in raw]
        fees = [self._fee(raw) for raw in _list(body, "fee_lines") if "id" not in raw]
        gone_lines = _removed(_list(body, "line_items"), "quantity", 0)
        gone_fees = _removed(_list(body, "fee_lines"), "name", None)
        if "line_items" in body or "fee_lines" in body:
            api.lines = [line for line in api.lines if line.item_id not in gone_lines] + lines
            api.fees = [fee for fee in api.fees if fee.item_id not in gone_fees] + fees
            doc.update(self._price(doc, api))
        if status is not None:
            doc["status"] = status
            sim._set_status_dates(doc, status)
        for part in ("billing", "shipping"):
            doc[part].update(_address(body, part))
        if "customer_note" in body:
            doc["customer_note"] = str(body["customer_note"] or "")
        _merge_meta(doc["meta_data"], _list(body, "meta_data"))
        sim._touch(doc)
        return sim._render_order(order_id)

    def add_note(self, order_id: int, body: dict[str, Any]) -> dict[str, Any]:
        if order_id not in self._sim._orders:
            raise OrderRefusal(404, "woocommerce_rest_order_invalid_id", "Invalid order ID.")
        text = body.get("note")
        if not isinstance(text, str) or not text:
            raise OrderRefusal(
                400, "rest_missing_callback_param", "Missing parameter(s): note", params=["note"]
            )
        local, gmt = self._sim._stamp()
        note = {
            "id": next(self._note_ids),
            "author": "WooCommerce",
            "date_created": local,
            "date_created_gmt": gmt,
            "note": text,
            "customer_note": body.get("customer_note") is True,
        }
        self._orders.setdefault(order_id, _ApiOrder()).notes.append(note)
        return copy.deepcopy(note)

    def notes(self, order_id: int) -> list[dict[str, Any]]:
        if order_id not in self._sim._orders:
            raise OrderRefusal(404, "woocommerce_rest_order_invalid_id", "Invalid order ID.")
        found = self._orders.get(order_id)
        return [copy.deepcopy(n) for n in reversed(found.notes)] if found else []

    # -- pricing ----------------------------------------------------------------------

    def _line(self, raw: Any) -> _Line:
        if not isinstance(raw, dict):
            raise _invalid("line_items", "line_items[0] is not of type object.")
        product = self._product_of(raw)
        quantity = raw.get("quantity", 1)
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise _invalid("line_items", "line_items[0][quantity] is not of type integer.")
        total = _money(raw, "total")
        unit = total / quantity if total is not None else product.price
        tax_class = raw.get("tax_class", product.tax_class)
        if not isinstance(tax_class, str):
            raise _invalid("line_items", "line_items[0][tax_class] is not of type string.")
        name = str(raw.get("name") or product.name)
        return _Line(
            next(self._sim._item_ids), replace(product, price=unit), name, quantity, tax_class
        )

    def _product_of(self, raw: dict[str, Any]) -> Product:
        products = self._sim.products
        wanted = raw.get("variation_id") or raw.get("product_id")
        if not wanted and raw.get("sku"):
            sku = str(raw["sku"])
            wanted = next((p.id for p in products.values() if p.sku == sku and not p.deleted), None)
            if wanted is None:
                raise OrderRefusal(
                    400, "woocommerce_rest_invalid_product_id", "Product is invalid."
                )
        if not wanted:
            raise OrderRefusal(
                400, "woocommerce_rest_required_product_reference", "Product ID or SKU is required."
            )
        product = products.get(int(wanted))
        if product is None or product.deleted:
            raise OrderRefusal(400, "woocommerce_rest_invalid_product_id", "Product is invalid.")
        return product

    def _fee(self, raw: Any) -> _Fee:
        if not isinstance(raw, dict):
            raise _invalid("fee_lines", "fee_lines[0] is not of type object.")
        amount = _money(raw, "total")
        if amount is None:
            raise _invalid("fee_lines", "fee_lines[0][total] is required.")
        taxable = raw.get("tax_status", "taxable") != "none"
        return _Fee(next(self._sim._item_ids), str(raw.get("name") or ""), amount, taxable)

    def _price(self, doc: dict[str, Any], api: _ApiOrder) -> dict[str, Any]:
        sim = self._sim
        where = doc["shipping"] if doc["shipping"].get("country") else doc["billing"]
        country, state = where.get("country", ""), where.get("state", "")
        standard = sim._rates(country, state, "")
        lines = [
            LineInput(
                product=replace(line.product, tax_class=line.tax_class),
                name=line.name,
                quantity=line.quantity,
                rates=sim._rates(country, state, line.tax_class),
            )
            for line in api.lines
        ]
        fees = [FeeInput(fee.name, fee.amount, fee.taxable, standard) for fee in api.fees]
        ids = _ids([line.item_id for line in api.lines], [fee.item_id for fee in api.fees], sim)
        priced = price_order(
            lines=lines,
            coupons=[],
            shipping=None,
            shipping_rates=(),
            fees=fees,
            prices_include_tax=sim.prices_include_tax,
            next_item_id=ids,
        )
        return priced


def _ids(lines: list[int], fees: list[int], sim: WooSimulator) -> Callable[[], int]:
    """Item ids for a re-total: the order's own items keep theirs (price_order asks for line
    ids first, then fees', then tax lines')."""
    kept: Iterator[int] = iter([*lines, *fees])

    def next_id() -> int:
        return next(kept, None) or next(sim._item_ids)

    return next_id


def _removed(raws: list[Any], key: str, value: Any) -> set[int]:
    """Items an update deletes: a line item given with quantity 0, a fee line with name null."""
    return {
        int(raw["id"])
        for raw in raws
        if isinstance(raw, dict)
        and isinstance(raw.get("id"), int)
        and key in raw
        and raw[key] == value
    }


def _paid(status: str) -> str:
    """``WC_Order::payment_complete``: an order awaiting payment becomes processing; one
    already completed (or processing) keeps its status."""
    return "processing" if status in ("pending", "on-hold", "failed", "cancelled") else status


def _status(value: Any) -> str:
    if not isinstance(value, str) or value not in _STATUSES:
        raise _invalid("status", f"status is not one of {', '.join(_STATUSES)}.")
    return value


def _money(raw: dict[str, Any], name: str) -> Decimal | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid(name, f"{name} is not of type string.")
    try:
        return Decimal(value)
    except InvalidOperation:
        raise _invalid(name, f"{name} is not a valid amount.") from None


def _int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid(name, f"{name} is not of type integer.")
    return value


def _list(body: dict[str, Any], name: str) -> list[Any]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _invalid(name, f"{name} is not of type array.")
    return value


def _address(body: dict[str, Any], name: str) -> dict[str, str]:
    value = body.get(name) or {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _invalid(name, f"{name} is not of type object.")
    return dict(value)


def _blank_billing() -> dict[str, str]:
    keys = ("first_name", "last_name", "company", "address_1", "address_2", "city", "state",
            "postcode", "country", "email", "phone")  # fmt: skip
    return dict.fromkeys(keys, "")


def _merge_meta(into: list[dict[str, Any]], changes: list[Any]) -> None:
    for entry in changes:
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            raise _invalid("meta_data", "meta_data[0][key] is not of type string.")
        for existing in into:
            if existing["key"] == entry["key"]:
                existing["value"] = entry.get("value")
                break
        else:
            into.append({"id": 8000 + len(into), "key": entry["key"], "value": entry.get("value")})


def _invalid(name: str, reason: str) -> OrderRefusal:
    return OrderRefusal(
        400, "rest_invalid_param", f"Invalid parameter(s): {name}", params={name: reason}
    )

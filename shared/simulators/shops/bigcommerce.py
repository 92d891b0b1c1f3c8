"""The day's orders in the simulated BigCommerce store, and the callbacks its hooks send.

Prices have four decimals and every line is taxed at the store's 8 %. A card is captured at
checkout (Awaiting Fulfillment, 11), a bank deposit waits (Awaiting Payment, 7) until the
merchant captures it, an abandoned checkout stays Incomplete (0). A coupon is a line
discount, the fee is handling, and a foreign currency is what the shopper's screen showed
(BigCommerce's display currency): the order is charged in the store's dollars. Refunds are
order-level amounts (BigCommerce refunds only money it took). The hooks are the ones
``connector webhooks sync`` registered (X-Connector-Token echoed): a status change calls
``store/order/updated``, a refund ``store/order/refund/created``. A callback is a stub whose
``hash`` is the same for the same scope and order, so two updates of one order look alike.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from simulators.bigcommerce import BigCommerceSimulator, Line
from simulators.shops.driver import Delivery, OrderView, Outcome, RefundView, Refused
from simulators.shops.stream import Buyer, PlannedOrder, RefundKind

CATALOGUE: tuple[tuple[str, str, Decimal], ...] = (
    ("Enamel Mug", "MUG-1", Decimal("12.4950")),
    ("Linen Tea Towel", "TOWEL-2", Decimal("8.3350")),
    ("Pour-over Kettle", "KETTLE-3", Decimal("54.9900")),
    ("Coffee Beans 1 kg", "BEANS-4", Decimal("23.1275")),
    ("Ceramic Dripper", "DRIP-5", Decimal("18.0650")),
    ("Paper Filters", "FILTER-6", Decimal("3.3350")),
    ("Gift Card", "GIFT-7", Decimal("25.0000")),
    ("Travel Tumbler", "TUMBLER-8", Decimal("19.9990")),
)
SHIPPING = Decimal("7.9500")
HANDLING = Decimal("2.5000")
COUPON_SHARE = Decimal("0.10")  # of the first line
AWAITING_FULFILLMENT, AWAITING_PAYMENT, INCOMPLETE = 11, 7, 0
COMPLETED, CANCELLED, REFUNDED, PARTIALLY_REFUNDED = 10, 5, 4, 14
POST_STATUSES = (AWAITING_FULFILLMENT, AWAITING_PAYMENT, 9, 2, 10)
PAID = frozenset({"captured", "paid", "partially refunded", "refunded"})


class BigCommerceDriver:
    kind = "bigcommerce"
    display_name = "BigCommerce"
    # Line and shipping refunds are left out until the adapter takes them through the runtime.
    refund_kinds: tuple[RefundKind, ...] = ("amount", "full")

    def __init__(self, *, quota: int = 3_000) -> None:
        # A high plan's quota: the day's few hundred calls are not throttled; the adapter's
        # waiting out of 429s has its own tests.
        self.sim = BigCommerceSimulator(quota=quota, loopback_destinations=True)
        self._customers: dict[str, int] = {}
        self._ids: list[int] = []
        self._messages = itertools.count(1)

    @property
    def calls(self) -> int:
        return sum(1 for r in self.sim.requests if not r.path.endswith("/v3/hooks"))

    @property
    def simulator(self) -> BigCommerceSimulator:
        return self.sim

    def connection(self, base_url: str) -> dict[str, Any]:
        return {
            "store": {
                "kind": "bigcommerce",
                "store_hash": self.sim.store_hash,
                "api_base": base_url,
            },
            "post_statuses": list(POST_STATUSES),
            "cancel_statuses": [CANCELLED, 6],
            "refund_statuses": [REFUNDED, PARTIALLY_REFUNDED],
        }

    def store_secret(self, webhook_secret: str) -> dict[str, str]:
        return {
            "access_token": self.sim.access_token,
            "client_secret": self.sim.client_secret,
            "webhook_secret": webhook_secret,
        }

    def hook_up(self, webhook_secret: str) -> None:
        """The hooks ``connector webhooks sync`` registered, X-Connector-Token and all."""
        scopes = {h.scope for h in self.sim.hooks.values() if h.is_active}
        if not {"store/order/created", "store/order/updated"} <= scopes:
            raise RuntimeError(f"no order hooks in the store: {sorted(scopes)}")

    # -- trading ------------------------------------------------------------------------
    def place(self, plan: PlannedOrder) -> tuple[str, Delivery | None]:
        lines = []
        for n, planned in enumerate(plan.lines):
            name, sku, price = CATALOGUE[planned.product % len(CATALOGUE)]
            discount = Decimal(0)
            if plan.coupon and n == 0:
                discount = (price * planned.quantity * COUPON_SHARE).quantize(Decimal("0.0001"))
            lines.append(Line(name, sku, planned.quantity, price, discount=discount))
        status, payment, method, provider = {
            "card": (AWAITING_FULFILLMENT, "captured", "Credit Card", "stripev3"),
            "transfer": (AWAITING_PAYMENT, "pending", "Bank Deposit", ""),
            "abandoned": (INCOMPLETE, "declined", "Credit Card", "stripev3"),
        }[plan.payment]
        oid = self.sim.place_order(
            lines,
            shipping=SHIPPING if plan.shipping else Decimal(0),
            handling=HANDLING if plan.fee else Decimal(0),
            status_id=status,
            customer_id=self._customer(plan.buyer) if plan.registered else 0,
            guest=(plan.buyer.first_name, plan.buyer.last_name, plan.buyer.email),
            display_currency=plan.currency,
            payment_status=payment,
            payment_method=method,
            payment_provider_id=provider,
        )
        self._ids.append(oid)
        return str(oid), self._callback("store/order/created", oid)

    def _customer(self, buyer: Buyer) -> int:
        if buyer.email not in self._customers:
            self._customers[buyer.email] = self.sim.add_customer(
                buyer.email, buyer.first_name, buyer.last_name
            )
        return self._customers[buyer.email]

    def pay(self, store_id: str) -> Delivery | None:
        self.sim.capture(int(store_id), AWAITING_FULFILLMENT)
        return self._callback("store/order/updated", int(store_id))

    def complete(self, store_id: str) -> Delivery | None:
        self.sim.set_status(int(store_id), COMPLETED)
        return self._callback("store/order/updated", int(store_id))

    def refund(self, store_id: str, kind: RefundKind) -> Delivery | None:
        oid = int(store_id)
        order = self.sim.orders[oid]
        if kind not in self.refund_kinds:
            raise Refused(f"{kind} refunds are not made in this store's stream")
        if order["payment_status"] not in PAID:
            raise Refused("BigCommerce refunds only a payment it took")
        rest = Decimal(order["total_inc_tax"]) - Decimal(order["refunded_amount"])
        amount = min(Decimal("3.00"), rest) if kind == "amount" else rest
        if amount <= 0:
            raise Refused("nothing is left to refund")
        rid = self.sim.refund(oid, amount, Decimal(0), reason="Goodwill")
        return self._callback("store/order/refund/created", oid, refund={"refund_id": rid})

    def cancel(self, store_id: str) -> Delivery | None:
        self.sim.set_status(int(store_id), CANCELLED)
        return self._callback("store/order/updated", int(store_id))

    def _callback(self, scope: str, oid: int, **extras: Any) -> Delivery:
        """What BigCommerce sends every hook registered for ``scope``: the stub, the hook's own
        headers, and the Standard Webhooks signature."""
        [hook] = [h for h in self.sim.hooks.values() if h.scope == scope and h.is_active]
        body = self.sim.callback(scope, oid, **extras)
        stamp = int(self.sim.clock())
        return Delivery(
            body=body,
            headers={
                "Content-Type": "application/json",
                **hook.headers,
                **self.sim.sign(body, f"msg_{next(self._messages)}", stamp),
            },
            what=scope,
        )

    # -- what the store says ------------------------------------------------------------
    def view(self, store_id: str) -> OrderView:
        order = self.sim.orders[int(store_id)]
        status = int(order["status_id"])
        outcome: Outcome = "nothing"
        if order["is_deleted"] or status in (CANCELLED, 6):
            outcome = "withdrawn"
        elif status in (*POST_STATUSES, REFUNDED, PARTIALLY_REFUNDED):
            outcome = "posts"
        return OrderView(
            store_id=store_id,
            number=store_id,
            status=str(status),
            outcome=outcome,
            currency=str(order["default_currency_code"]),
            total=Decimal(order["total_inc_tax"]).quantize(Decimal("0.01")),
            refunds=tuple(
                RefundView(str(r["id"]), Decimal(str(r["total_amount"])).quantize(Decimal("0.01")))
                for r in self.sim.refunds.get(int(store_id), [])
            ),
            paid=order["payment_status"] in PAID,
            payment_key=str(order["payment_provider_id"] or order["payment_method"]),
            buyer_email=str(order["billing_address"]["email"]),
        )

    def order_ids(self) -> Iterator[str]:
        return (str(i) for i in self._ids)

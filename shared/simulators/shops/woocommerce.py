"""The day's orders in the simulated WooCommerce store, and its signed webhooks about them.

A card pays at checkout (``processing``, Stripe), a bank transfer waits ``on-hold`` until it
arrives, an abandoned checkout stays ``pending``. A coupon is ``save10``, the fee is gift
wrapping, a foreign currency is a multi-currency plugin's checkout and a long number a
sequential-numbers plugin's. Every change is followed by the webhook WooCommerce would send
through the webhooks ``connector webhooks sync`` saved (``order.created`` or
``order.updated``), its body built now, as WooCommerce builds it at delivery time: a delivery
held back and sent later is a stale snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from simulators.shops.driver import Delivery, OrderView, Outcome, RefundView, Refused
from simulators.shops.stream import (
    LONG_NUMBER_EVERY,
    REFUND_KINDS,
    Buyer,
    PlannedOrder,
    RefundKind,
)
from simulators.woocommerce import FeeSpec, LineSpec, OrderSpec, WooSimulator
from simulators.woocommerce_catalogue import Person
from simulators.woocommerce_webhooks import (
    WC_VERSION,
    WP_VERSION,
    php_json,
    webhook_signature,
)

KEYS = {"consumer_key": "ck_shop_day", "consumer_secret": "cs_shop_day"}
# Simple products and variations, a reduced-rate book, a tax-free gift card, a SKU-less pack.
CATALOGUE: tuple[int, ...] = (10, 11, 12, 13, 14, 21, 22, 23)
POSTING = ("processing", "completed", "on-hold", "refunded")
WITHDRAWING = ("cancelled", "trash")
CARD = ("stripe", "Credit Card (Stripe)")
TRANSFER = ("bacs", "Direct bank transfer")


def _person(buyer: Buyer) -> Person:
    return Person(
        buyer.first_name, buyer.last_name, buyer.email, buyer.street, buyer.city,
        buyer.region, buyer.postcode, buyer.country, company=buyer.company,
    )  # fmt: skip


class WooCommerceDriver:
    kind = "woocommerce"
    display_name = "WooCommerce"
    refund_kinds: tuple[RefundKind, ...] = REFUND_KINDS

    def __init__(
        self, *, seed: int = 7, retire: int | None = None, prefixed_numbers: str | None = None
    ) -> None:
        """``retire``: a catalogue product deleted right after its first sale (its order's
        lines then show no SKU; later checkouts of it buy the catalogue's first product).
        ``prefixed_numbers``: every twentieth order's number already starts with this
        DocNumber prefix (a numbering plugin's)."""
        self.sim = WooSimulator(
            consumer_key=KEYS["consumer_key"], consumer_secret=KEYS["consumer_secret"], seed=seed
        )
        self._retire = retire
        self._retired = False
        self._prefixed = prefixed_numbers
        self._customers: dict[str, int] = {}  # email -> store customer id
        self._secret = ""
        self._hooks: dict[str, int] = {}  # topic -> webhook id

    @property
    def calls(self) -> int:
        return len(self.sim.requests)

    @property
    def simulator(self) -> WooSimulator:
        return self.sim

    def connection(self, base_url: str) -> dict[str, Any]:
        self.sim.home_url = base_url  # the site's address, in its webhooks' X-WC-Webhook-Source
        return {
            "store": {"kind": "woocommerce", "url": base_url},
            "post_statuses": list(POSTING[:3]),
            "cancel_statuses": list(WITHDRAWING),
            "refund_statuses": ["refunded"],
        }

    def store_secret(self, webhook_secret: str) -> dict[str, str]:
        return {**KEYS, "webhook_secret": webhook_secret}

    def hook_up(self, webhook_secret: str) -> None:
        """The webhooks ``connector webhooks sync`` saved (it set their secret)."""
        self._secret = webhook_secret
        self._hooks = {h.topic: h.id for h in self.sim.webhooks.webhooks.values()}
        if "order.created" not in self._hooks or "order.updated" not in self._hooks:
            raise RuntimeError(f"no order webhooks in the store: {sorted(self._hooks)}")

    # -- trading ------------------------------------------------------------------------
    def place(self, plan: PlannedOrder) -> tuple[str, Delivery | None]:
        customer_id = self._customer(plan.buyer, plan.wholesale) if plan.registered else 0
        payment, status = {
            "card": (CARD, "processing"),
            "transfer": (TRANSFER, "on-hold"),
            "abandoned": (CARD, "pending"),
        }[plan.payment]
        products = [CATALOGUE[p.product % len(CATALOGUE)] for p in plan.lines]
        if self._retired:
            products = [CATALOGUE[0] if p == self._retire else p for p in products]
        number = f"EU-WEBSHOP-2026-{plan.n:010d}" if plan.long_number else None
        if self._prefixed and plan.n % LONG_NUMBER_EVERY == LONG_NUMBER_EVERY - 13:
            number = f"{self._prefixed}{90000 + plan.n}"
        spec = OrderSpec(
            lines=[
                LineSpec(product, p.quantity)
                for product, p in zip(products, plan.lines, strict=True)
            ],
            customer_id=customer_id,
            guest=None if customer_id else _person(plan.buyer),
            coupons=["save10"] if plan.coupon else [],
            shipping="flat_rate" if plan.shipping else None,
            fees=[FeeSpec("Gift wrapping", Decimal("4.50"))] if plan.fee else [],
            status=status,
            payment_method=payment,
            number=number,
            currency=plan.currency,
        )
        order_id = int(self.sim.create_order(spec)["id"])
        if self._retire in products and not self._retired:  # sold, then removed for good
            self.sim.delete_product(self._retire)
            self._retired = True
        return str(order_id), self._delivery("order.created", order_id)

    def _customer(self, buyer: Buyer, wholesale: bool) -> int:
        """The buyer's account: the one the store has for their e-mail (WooCommerce registers
        an e-mail once), else a new one."""
        if buyer.email not in self._customers:
            known = {
                str(self.sim.rest_representation("customer", i)["email"]): i
                for i in self.sim.customer_ids()
            }
            self._customers[buyer.email] = known.get(buyer.email) or int(
                self.sim.create_customer(
                    _person(buyer), role="wholesale_customer" if wholesale else "customer"
                )["id"]
            )
        return self._customers[buyer.email]

    def _role(self, customer_id: int) -> str:
        """The buyer's WordPress role (its customer group); "" for a guest."""
        if not customer_id:
            return ""
        return str(self.sim.rest_representation("customer", customer_id).get("role") or "")

    def pay(self, store_id: str) -> Delivery | None:
        self.sim.update_order(int(store_id), status="processing")
        return self._delivery("order.updated", int(store_id))

    def complete(self, store_id: str) -> Delivery | None:
        self.sim.update_order(int(store_id), status="completed")
        return self._delivery("order.updated", int(store_id))

    def refund(self, store_id: str, kind: RefundKind) -> Delivery | None:
        order_id = int(store_id)
        order = self.sim.get_order(order_id)
        rest = Decimal(order["total"]) + sum(Decimal(r["total"]) for r in order["refunds"])
        try:
            if kind == "line":
                line = order["line_items"][0]
                self.sim.add_refund(order_id, items={line["id"]: 1}, reason="Damaged")
            elif kind == "shipping":
                if Decimal(order["shipping_total"]) <= 0:
                    raise Refused("the order has no shipping to refund")
                self.sim.add_refund(order_id, shipping=True, reason="Late delivery")
            elif kind == "amount":
                self.sim.add_refund(order_id, amount=min(Decimal("3.00"), rest), reason="Goodwill")
            else:
                self.sim.add_refund(order_id, amount=rest, reason="Returned")
        except ValueError as exc:  # WooCommerce's "Invalid refund amount."
            raise Refused(str(exc)) from None
        return self._delivery("order.updated", order_id)

    def cancel(self, store_id: str) -> Delivery | None:
        self.sim.update_order(int(store_id), status="cancelled")
        return self._delivery("order.updated", int(store_id))

    def _delivery(self, topic: str, order_id: int) -> Delivery:
        """What WC_Webhook::deliver sends: the REST representation now, signed."""
        body = php_json(self.sim.rest_representation("order", order_id))
        resource, _, event = topic.partition(".")
        hook = self._hooks[topic]
        return Delivery(
            body=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": f"WooCommerce/{WC_VERSION} Hookshot (WordPress/{WP_VERSION})",
                "X-WC-Webhook-Source": self.sim.home_url + "/",
                "X-WC-Webhook-Topic": topic,
                "X-WC-Webhook-Resource": resource,
                "X-WC-Webhook-Event": event,
                "X-WC-Webhook-Signature": webhook_signature(body, self._secret),
                "X-WC-Webhook-ID": str(hook),
                "X-WC-Webhook-Delivery-ID": self.sim.wp_hash(f"{hook}{int(self.sim.now())}"),
            },
            what=topic,
        )

    # -- what the store says ------------------------------------------------------------
    def view(self, store_id: str) -> OrderView:
        order = self.sim.get_order(int(store_id))
        status = str(order["status"])
        outcome: Outcome = (
            "posts" if status in POSTING else "withdrawn" if status in WITHDRAWING else "nothing"
        )
        return OrderView(
            store_id=store_id,
            number=str(order["number"]),
            status=status,
            outcome=outcome,
            currency=str(order["currency"]),
            total=Decimal(str(order["total"])),
            refunds=tuple(
                RefundView(str(r["id"]), -Decimal(str(r["total"]))) for r in order["refunds"]
            ),
            paid=order["date_paid_gmt"] is not None,
            payment_key=str(order["payment_method"]),
            buyer_email=str(order["billing"]["email"]),
            line_skus=tuple(str(line.get("sku") or "") for line in order["line_items"]),
            customer_group=self._role(int(order.get("customer_id") or 0)),
        )

    def order_ids(self) -> Iterator[str]:
        return (str(i) for i in self.sim.order_ids())

"""The day's orders in the simulated Magento store, and the connector's signed push about them.

Magento sells from the Luma catalogue: simple products, a configurable hoodie (a parent row
carrying the option's SKU) and a bundle. A card order is invoiced at checkout (Braintree,
``processing``), a check / money order waits ``pending`` until the merchant invoices it, an
abandoned one stays ``pending_payment``. Shipping is a flat rate, US buyers pay 8.25 % tax,
and a foreign currency is the order currency at Magento's ``base_to_order_rate``. Refunds are
credit memos of a line, the shipping, an amount (an adjustment refund) or all of it, for
invoiced orders only; only an order not yet invoiced can be cancelled. A long number is a
store view's increment prefix. Magento sends no webhooks: each change hands back the
optional signed hint, which a scenario may send or leave to the poll. The simulated store
has no coupons or fees, so those parts of a plan are left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from simulators.magento import LineSpec, MagentoSimulator, OrderSpec, signed_hint
from simulators.shops.driver import Delivery, OrderView, Outcome, RefundView, Refused
from simulators.shops.stream import REFUND_KINDS, Buyer, PlannedOrder, RefundKind

CREDENTIALS = {
    "consumer_key": "mg-day-consumer-7c1d",
    "consumer_secret": "mg-day-consumer-secret-52ab",
    "access_token": "mg-day-token-9e03",
    "access_token_secret": "mg-day-token-secret-41f6",
}
CATALOGUE: tuple[LineSpec, ...] = (
    LineSpec("WS12-M-Orange"),
    LineSpec("24-WG084"),
    LineSpec("24-WG086"),
    LineSpec("MH01-S-Gray", parent="MH01"),
    LineSpec("MH01-M-Black", parent="MH01"),
    LineSpec("24-WG080"),
    LineSpec("WS12-M-Orange"),
    LineSpec("24-WG086"),
)
# Order-currency units per base (USD) unit.
RATES = {"CAD": Decimal("1.37"), "EUR": Decimal("0.92"), "GBP": Decimal("0.79")}
US_TAX = Decimal("8.25")
SHIPPING = Decimal("5.00")
POST_STATUSES = ("pending", "processing", "complete")


class MagentoDriver:
    kind = "magento"
    display_name = "Magento"
    refund_kinds: tuple[RefundKind, ...] = REFUND_KINDS

    def __init__(self) -> None:
        self.sim = MagentoSimulator(
            consumer_key=CREDENTIALS["consumer_key"],
            consumer_secret=CREDENTIALS["consumer_secret"],
            access_token=CREDENTIALS["access_token"],
            access_token_secret=CREDENTIALS["access_token_secret"],
        )
        self._customers: dict[str, int] = {}
        self._ids: list[int] = []
        self._secret = ""
        self._memos: dict[int, list[RefundView]] = {}

    @property
    def calls(self) -> int:
        return len(self.sim.requests)

    @property
    def simulator(self) -> MagentoSimulator:
        return self.sim

    def connection(self, base_url: str) -> dict[str, Any]:
        return {
            "store": {"kind": "magento", "url": base_url},
            "post_statuses": list(POST_STATUSES),
            "cancel_statuses": ["canceled"],
            "refund_statuses": ["closed"],
        }

    def store_secret(self, webhook_secret: str) -> dict[str, str]:
        return {**CREDENTIALS, "webhook_secret": webhook_secret}

    def hook_up(self, webhook_secret: str) -> None:
        """Nothing is registered (Magento is polled): the merchant's module signs its hints."""
        self._secret = webhook_secret

    # -- trading ------------------------------------------------------------------------
    def place(self, plan: PlannedOrder) -> tuple[str, Delivery | None]:
        lines: dict[tuple[str, str | None], int] = {}
        for planned in plan.lines:  # one row per product, as a cart merges them
            line = CATALOGUE[planned.product % len(CATALOGUE)]
            key = (line.sku, line.parent)
            lines[key] = lines.get(key, 0) + planned.quantity
        buyer = plan.buyer
        spec = OrderSpec(
            [LineSpec(sku, qty, parent=parent) for (sku, parent), qty in lines.items()],
            currency=plan.currency,
            base_to_order_rate=RATES[plan.currency] if plan.currency else Decimal(1),
            tax_percent=US_TAX if buyer.country == "US" else Decimal(0),
            shipping=SHIPPING if plan.shipping else Decimal(0),
            customer_id=self._customer(buyer) if plan.registered else None,
            email=buyer.email,
            firstname=buyer.first_name,
            lastname=buyer.last_name,
            status="pending_payment" if plan.payment == "abandoned" else "pending",
            payment_method="checkmo" if plan.payment == "transfer" else "braintree",
        )
        oid = self.sim.create_order(spec)
        if plan.long_number:
            self.sim.update_order(oid, increment_id=f"EU-WEBSHOP-2026-{oid:010d}")
        if plan.payment == "card":
            self.sim.invoice(oid)
        self._ids.append(oid)
        return str(oid), self._hint(oid)

    def _customer(self, buyer: Buyer) -> int:
        if buyer.email not in self._customers:
            self._customers[buyer.email] = self.sim.create_customer(
                buyer.email, buyer.first_name, buyer.last_name
            )
        return self._customers[buyer.email]

    def pay(self, store_id: str) -> Delivery | None:
        self.sim.invoice(int(store_id))
        return self._hint(int(store_id))

    def complete(self, store_id: str) -> Delivery | None:
        self.sim.update_order(int(store_id), state="complete", status="complete")
        return self._hint(int(store_id))

    def refund(self, store_id: str, kind: RefundKind) -> Delivery | None:
        oid = int(store_id)
        order = self.sim.order(oid)
        paid, refunded = Decimal(str(order["total_paid"])), Decimal(str(order["total_refunded"]))
        if paid <= 0:
            raise Refused("Magento refunds only an invoiced order (a credit memo)")
        rest = paid - refunded
        try:
            if kind == "line":
                first = next(r for r in order["items"] if "parent_item_id" not in r)
                memo = self.sim.refund(oid, {first["sku"]: 1}, shipping=False, comment="Damaged")
            elif kind == "shipping":
                if Decimal(str(order["shipping_amount"])) <= 0 or refunded > 0:
                    raise Refused("no shipping left to refund")
                memo = self.sim.refund(oid, {}, shipping=True, comment="Late delivery")
            elif kind == "amount":
                amount = min(Decimal("3.00"), rest)
                memo = self.sim.refund(oid, {}, shipping=False, adjustment_positive=amount)
            elif refunded == 0:
                memo = self.sim.refund(oid, comment="Returned")  # every row and the shipping
            else:
                memo = self.sim.refund(oid, {}, shipping=False, adjustment_positive=rest)
        except ValueError as exc:  # "The most money available to refund is ..."
            raise Refused(str(exc)) from None
        # The credit memo's grand total is what the order's total_refunded grew by.
        after = Decimal(str(self.sim.order(oid)["total_refunded"]))
        self._memos.setdefault(oid, []).append(RefundView(str(memo), after - refunded))
        return self._hint(oid)

    def cancel(self, store_id: str) -> Delivery | None:
        oid = int(store_id)
        if Decimal(str(self.sim.order(oid)["total_paid"])) > 0:
            raise Refused("Magento cancels only an order it has not invoiced")
        self.sim.cancel(oid)
        return self._hint(oid)

    def _hint(self, oid: int) -> Delivery:
        body, headers = signed_hint(oid, self._secret)
        return Delivery(body=body, headers=headers, what="order hint")

    # -- what the store says ------------------------------------------------------------
    def view(self, store_id: str) -> OrderView:
        order = self.sim.order(int(store_id))
        status = str(order["status"])
        outcome: Outcome = (
            "posts"
            if status in (*POST_STATUSES, "closed")
            else "withdrawn"
            if status == "canceled"
            else "nothing"
        )
        total = Decimal(str(order["grand_total"])).quantize(Decimal("0.01"))
        paid = total > 0 and Decimal(str(order["total_paid"])) >= total
        return OrderView(
            store_id=store_id,
            number=str(order["increment_id"]),
            status=status,
            outcome=outcome,
            currency=str(order["order_currency_code"]),
            total=total,
            refunds=tuple(self._memos.get(int(store_id), [])),
            paid=paid,
            payment_key=str(order["payment"]["method"]),
            buyer_email=str(order["customer_email"]),
        )

    def order_ids(self) -> Iterator[str]:
        return (str(i) for i in self._ids)

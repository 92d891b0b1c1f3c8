"""One protocol for driving a simulated store: put this order in, change it, and say what the
store would send the connector about it.

A scenario plans a day of trading once (``simulators.shops.stream``) and plays it into any
store through a driver: the driver places, pays, refunds, completes and cancels orders in its
simulator the way that store does them, and hands back the delivery the store would push (a
signed WooCommerce webhook, a BigCommerce callback, a Magento hint) or None when it pushes
nothing. The scenario decides when, how often and whether each delivery reaches the
connector, so duplicates, reordering and silence (orders found only by polling) are the
scenario's, not the store's. ``view`` is the store's own account of an order, which the books
are checked against.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, Protocol

from simulators.httpserver import Request, Response
from simulators.shops.stream import PlannedOrder, RefundKind

# What the books must hold for an order in its final state.
#   posts:     one document for the store total, netted by its refunds
#   withdrawn: cancelled after it may have posted: no document, or one voided to zero
#   nothing:   a status that does not post (pending, incomplete)
Outcome = Literal["posts", "withdrawn", "nothing"]


class Refused(Exception):
    """The store cannot make this change to this order (Magento cancels only what it has not
    invoiced; BigCommerce refunds only money it took)."""


@dataclass(frozen=True)
class Delivery:
    """One push to the connector's webhook URL, exactly as the store would send it."""

    body: bytes
    headers: Mapping[str, str]
    what: str  # "order.created", "store/order/statusUpdated", "order hint" ...


@dataclass(frozen=True)
class RefundView:
    refund_id: str
    amount: Decimal  # positive, in the order currency


@dataclass(frozen=True)
class OrderView:
    """An order as the store states it, reduced to what the books are checked against."""

    store_id: str
    number: str  # what the merchant sees
    status: str  # the store's own word or number
    outcome: Outcome
    currency: str  # the currency the store charged in (the document's)
    total: Decimal  # to the cent
    refunds: tuple[RefundView, ...]
    paid: bool
    payment_key: str  # the mapping.payments key the payment is deposited by
    buyer_email: str
    line_skus: tuple[str, ...] = ()  # the product lines' SKUs ("" for none), in order
    customer_group: str = ""  # the buyer's group (mapping.rules' customer_group)

    @property
    def net(self) -> Decimal:
        return self.total - sum((r.amount for r in self.refunds), Decimal(0))


class StoreSimulator(Protocol):
    def handle(self, request: Request) -> Response: ...


class StoreDriver(Protocol):
    """A simulated store the scenario trades through. Store ids are strings, as the port's."""

    @property
    def kind(self) -> str:
        """The tenant file's ``store.kind``."""
        ...

    @property
    def display_name(self) -> str: ...

    @property
    def refund_kinds(self) -> tuple[RefundKind, ...]:
        """The kinds of refund this store makes (the rest are left out of its stream)."""
        ...

    @property
    def calls(self) -> int:
        """API requests the store has answered (the connector's, retries included)."""
        ...

    @property
    def simulator(self) -> StoreSimulator:
        """The simulated store, for a loopback server to serve."""
        ...

    def connection(self, base_url: str) -> dict[str, Any]:
        """The connection's ``store`` table and statuses, in the tenant file's shape, for the
        store served at ``base_url``."""
        ...

    def store_secret(self, webhook_secret: str) -> dict[str, str]:
        """The connection's store secret, as the README tells the merchant to write it."""
        ...

    def hook_up(self, webhook_secret: str) -> None:
        """Once ``connector webhooks sync`` has registered the connector's webhooks: find them
        (the store signs or tags its pushes with ``webhook_secret``)."""
        ...

    def place(self, plan: PlannedOrder) -> tuple[str, Delivery | None]:
        """Check the planned order out; its store id and the store's push about it."""
        ...

    def pay(self, store_id: str) -> Delivery | None:
        """The money for an unpaid order arrives."""
        ...

    def complete(self, store_id: str) -> Delivery | None:
        """The order ships (a status change that posts nothing new)."""
        ...

    def refund(self, store_id: str, kind: RefundKind) -> Delivery | None:
        """Give money back; raises Refused when the store cannot."""
        ...

    def cancel(self, store_id: str) -> Delivery | None:
        """Cancel the order; raises Refused when the store cannot."""
        ...

    def view(self, store_id: str) -> OrderView: ...

    def order_ids(self) -> Iterator[str]:
        """Every order the store holds, oldest first."""
        ...

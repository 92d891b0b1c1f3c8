"""A QuickBooks invoice into a store order, once (issue #13 part 5).

Only invoices a person made in QuickBooks: one the connector posted for a store order is
recognised by its own record of it (the ``OWN_DOCUMENTS`` mapping the sync worker keeps while
``qbo_invoices_to_orders`` is on), never by its text; invoices dated before the connection
first carried invoices (``<conn>#both_ways`` / ``INVOICES_FROM``) are left, since the
connector's documents from before that have no such record.

The order: lines by SKU at the invoice's amounts (tax class ``zero-rate``), QuickBooks' tax as
an untaxed fee line "Tax" (WooCommerce would otherwise tax the lines with its own rates), and
any difference to the invoice's total (discounts, shipping) as a fee "Adjustment
(QuickBooks)", so the order's total equals the invoice's to the cent. Status from the balance:
voided → cancelled, paid and shipped → completed, paid → processing, part paid → on-hold,
open → pending. The DocNumber and Id go into meta and a note; ship date, method and tracking
number into a note. Later changes update what changed since the connector's last write.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from connector.both_ways.port import FROM_LEDGER, OWN_DOCUMENTS
from connector.both_ways.result import Applied
from connector.both_ways.written import Written, WrittenStore
from connector.config import Connection
from connector.errors import PermanentError
from connector.ledger_records import LedgerInvoice
from connector.model import ORIGIN_META, Address, Order
from connector.state import ConcurrentUpdate, StateStore, SyncState, now_utc
from connector.stores.writes import OrderFields, OrderLine, OrderShipment, StoreOrderWrites

INVOICE_META = ORIGIN_META  # on the store order, written with its create
# On the invoice's WRITTEN entry while its order is being sent (the answer may be lost).
CREATING = "_creating_since"
TAX_FEE = "Tax"
ADJUSTMENT_FEE = "Adjustment (QuickBooks)"
CENT = Decimal("0.01")


class InvoiceToOrder:
    def __init__(
        self,
        *,
        connection: Connection,
        writes: StoreOrderWrites,
        written: WrittenStore,
        state: StateStore,
    ) -> None:
        self._connection = connection
        self._store = writes
        self._written = written
        self._state = state

    def apply(self, key: str, invoice: LedgerInvoice | None, ledger_id: str) -> Applied:
        if not self._connection.sync.qbo_invoices_to_orders:
            return Applied("skipped", "QuickBooks invoices do not become store orders here")
        conn = self._connection.id
        own = self._state.get_mapping(conn, OWN_DOCUMENTS, ledger_id)
        if own is not None:
            return Applied("skipped", f"the connector's own document for {own}; not an order")
        before = self._written.get(key)
        if invoice is None:
            if before is None or not before.store_id:
                return Applied("skipped", "no longer in QuickBooks")
            return self._cancel(before, "deleted in QuickBooks")
        if before is None or not before.store_id:
            return self._create(key, invoice, before)
        return self._update(key, invoice, before)

    # -- first sight -------------------------------------------------------------------

    def _create(self, key: str, invoice: LedgerInvoice, before: Written | None) -> Applied:
        since = self._written.invoices_from(self._connection.id)
        if invoice.txn_date is not None and invoice.txn_date.date() < since:
            return Applied(
                "skipped",
                f"dated {invoice.txn_date.date()}, before this connection first carried "
                f"invoices ({since}): older invoices are not made into orders",
            )
        if invoice.voided:
            return Applied("skipped", "voided before it reached the store")
        if before is not None and before.fields.get(CREATING):
            # An earlier attempt sent the order and its answer was lost: find it, don't repeat.
            since = datetime.fromisoformat(before.fields[CREATING]) - timedelta(minutes=1)
            found = self._store.find_order_made_for(INVOICE_META, invoice.ledger_id, since)
            if found is not None:
                self._claim(found.store_id, invoice.ledger_id)
                number = invoice.doc_number or "(no number)"
                self._store.add_order_note(
                    found.store_id,
                    f"Made from QuickBooks invoice {number} (Id {invoice.ledger_id}).",
                )
                adopted = Written(store_id=found.store_id)
                self._written.put(key, adopted)
                return self._update(key, invoice, adopted)
        wanted, fields = self._wanted(invoice)
        self._written.put(
            key, Written(store_id="", fields={CREATING: datetime.now(UTC).isoformat()})
        )
        customer_id = "0"
        if invoice.customer_email:
            buyer = self._store.find_customer(invoice.customer_email)
            customer_id = buyer.store_id if buyer is not None else "0"
        made = self._store.create_order(
            OrderFields(
                status=wanted["status"],
                paid=wanted["status"] in ("processing", "completed"),
                currency=invoice.currency,
                customer_id=customer_id,
                email=invoice.customer_email or None,
                billing=_named(invoice.billing, invoice.customer_name),
                shipping=_named(invoice.shipping, invoice.customer_name)
                if not invoice.shipping.is_empty()
                else None,
                lines=fields.lines,
                fees=fields.fees,
                meta=(
                    (INVOICE_META, invoice.ledger_id),
                    ("_qbo_doc_number", invoice.doc_number or ""),
                ),
                shipment=order_shipment(invoice),
            )
        )
        self._claim(made.store_id, invoice.ledger_id)
        self._written.put(key, Written(store_id=made.store_id, fields=wanted))
        number = invoice.doc_number or "(no number)"
        self._store.add_order_note(
            made.store_id, f"Made from QuickBooks invoice {number} (Id {invoice.ledger_id})."
        )
        if wanted.get("shipment"):
            self._store.add_order_note(made.store_id, wanted["shipment"])
        if made.total != invoice.total.quantize(CENT):
            raise PermanentError(
                f"store order {made.number} made from QuickBooks invoice {number} totals "
                f"{made.total}, not the invoice's {invoice.total}: the store added something "
                "(its own tax?); check the order"
            )
        return Applied(
            "posted",
            f"store order {made.number} made from QuickBooks invoice {number}, "
            f"{made.total} {made.currency}, {made.status}",
            made.store_id,
            wanted,
        )

    def _claim(self, store_id: str, invoice_id: str) -> None:
        """The store order's sync state says the connector made it: the store → QuickBooks
        path skips it (its order.created webhook is the connector's own echo)."""
        key = f"{self._connection.id}#order#{store_id}"
        try:
            self._state.put_sync_state(
                SyncState(
                    record_key=key,
                    status="skipped",
                    ledger_id=invoice_id,
                    ledger_type=FROM_LEDGER,
                    updated_at=now_utc().isoformat(),
                )
            )
        except ConcurrentUpdate:
            found = self._state.get_sync_state(key)
            if found is not None and found.ledger_type == FROM_LEDGER:
                return  # claimed by an earlier attempt for this invoice
            raise PermanentError(
                f"store order {store_id}, made from QuickBooks invoice {invoice_id}, was picked "
                "up as a store order before the connector recorded it: check QuickBooks for a "
                "second invoice of it and delete that one"
            ) from None

    # -- later changes -----------------------------------------------------------------

    def _update(self, key: str, invoice: LedgerInvoice, before: Written) -> Applied:
        order = self._store.get_order(before.store_id)
        if order is None:
            raise PermanentError(
                f"store order {before.store_id}, made from QuickBooks invoice "
                f"{invoice.doc_number or invoice.ledger_id}, was deleted in the store; the "
                "invoice's change was not carried. Restore the order (or leave it), then replay"
            )
        wanted, fields = self._wanted(invoice)
        changed = {k: v for k, v in wanted.items() if v != before.fields.get(k)}
        if not changed:
            return Applied("skipped", f"store order {order.number} already matches", order.store_id)
        amounts = "lines" in changed or "fees" in changed
        self._store.update_order(
            order,
            OrderFields(
                status=wanted["status"] if "status" in changed else None,
                paid=True if changed.get("status") in ("processing", "completed") else None,
                lines=fields.lines if amounts else None,
                fees=fields.fees if amounts else None,
                billing=_named(invoice.billing, invoice.customer_name)
                if "billing" in changed
                else None,
                shipment=order_shipment(invoice) if "shipment" in changed else None,
            ),
        )
        if "shipment" in changed and wanted.get("shipment"):
            self._store.add_order_note(order.store_id, wanted["shipment"])
        self._written.put(key, Written(store_id=order.store_id, fields=wanted))
        return Applied(
            "updated",
            f"store order {order.number}: {', '.join(sorted(changed))} from QuickBooks",
            order.store_id,
            changed,
        )

    def _cancel(self, before: Written, why: str) -> Applied:
        order = self._store.get_order(before.store_id)
        if order is None or order.status == "cancelled":
            return Applied("skipped", f"{why}; its store order is gone or cancelled already")
        self._store.update_order(order, OrderFields(status="cancelled"))
        self._store.add_order_note(order.store_id, f"Cancelled: the invoice was {why}.")
        return Applied("updated", f"{why}: store order {order.number} cancelled", order.store_id)

    # -- what the order should be ------------------------------------------------------

    def _wanted(self, invoice: LedgerInvoice) -> tuple[dict[str, str], OrderFields]:
        store_currency = self._store.currency()
        if store_currency and invoice.currency.upper() != store_currency:
            raise PermanentError(
                f"QuickBooks invoice {invoice.doc_number or invoice.ledger_id} is in "
                f"{invoice.currency} and the store sells in {store_currency}: not made into an "
                "order (the connector does not convert)"
            )
        lines = tuple(self._line(invoice, line_no) for line_no in range(len(invoice.lines)))
        fees: list[tuple[str, Decimal]] = []
        if invoice.tax_total:
            fees.append((TAX_FEE, invoice.tax_total.quantize(CENT)))
        rest = (
            invoice.total.quantize(CENT)
            - sum((x.total for x in lines), Decimal(0))
            - sum((amount for _, amount in fees), Decimal(0))
        )
        if rest:
            fees.append((ADJUSTMENT_FEE, rest))
        wanted = {
            "status": order_status(invoice),
            "lines": json.dumps([[x.product_id, x.quantity, str(x.total)] for x in lines]),
            "fees": json.dumps([[name, str(amount)] for name, amount in fees]),
            "billing": "|".join(invoice.billing.model_dump().values()),
            "shipment": shipment_note(invoice),
        }
        return wanted, OrderFields(lines=lines, fees=tuple(fees))

    def _line(self, invoice: LedgerInvoice, index: int) -> OrderLine:
        line = invoice.lines[index]
        number = invoice.doc_number or invoice.ledger_id
        where = f"line {index + 1} of QuickBooks invoice {number} ({line.item_name!r})"
        if not line.sku:
            raise PermanentError(
                f"{where} has no SKU, and store orders take their lines by SKU: give the "
                "QuickBooks item a SKU that a store product has, then replay"
            )
        found = self._store.find_products(line.sku)
        if len(found) != 1:
            said = "no store product has" if not found else f"{len(found)} store products have"
            raise PermanentError(f"{where}: {said} SKU {line.sku!r}; fix the store, then replay")
        if line.quantity != line.quantity.to_integral_value() or line.quantity <= 0:
            raise PermanentError(
                f"{where} has quantity {line.quantity}; a store order line needs a whole "
                "number above zero"
            )
        return OrderLine(
            product_id=found[0].store_id,
            name=line.item_name,
            quantity=int(line.quantity),
            total=line.amount.quantize(CENT),
        )


def order_status(invoice: LedgerInvoice) -> str:
    if invoice.voided:
        return "cancelled"
    if invoice.balance <= 0:
        shipped = invoice.ship_date is not None or bool(invoice.tracking_number)
        return "completed" if shipped else "processing"
    if invoice.balance < invoice.total:
        return "on-hold"
    return "pending"


def order_shipment(invoice: LedgerInvoice) -> OrderShipment | None:
    """The invoice's shipment for a store that records shipments; None when it has none."""
    if not shipment_note(invoice):
        return None
    return OrderShipment(
        ship_date=invoice.ship_date.date() if invoice.ship_date is not None else None,
        method=invoice.ship_method or "",
        tracking_number=invoice.tracking_number or "",
    )


def shipment_note(invoice: LedgerInvoice) -> str:
    parts = []
    if invoice.ship_date is not None:
        parts.append(f"shipped {invoice.ship_date.date().isoformat()}")
    if invoice.ship_method:
        parts.append(f"via {invoice.ship_method}")
    if invoice.tracking_number:
        parts.append(f"tracking number {invoice.tracking_number}")
    return ("Shipment from QuickBooks: " + ", ".join(parts) + ".") if parts else ""


def _named(address: Address, customer_name: str) -> Address:
    """QuickBooks addresses carry no person's name: the invoice's customer name is used."""
    if address.first_name or address.last_name or not customer_name:
        return address
    first, _, last = customer_name.partition(" ")
    return address.model_copy(update={"first_name": first, "last_name": last})


def order_made_from(written: WrittenStore, connection_id: str, order: Order) -> str | None:
    """The invoice the connector made ``order`` from: the order's marker names it, and the
    connector's record of that invoice is this order or an order being created (the store's
    ``order.created`` may be worked before the create's answer is recorded). A marker copied
    onto another order (a duplicated order) names an invoice whose order is another: None."""
    invoice_id = order.origin_ledger_id
    if not invoice_id:
        return None
    entry = written.get(f"{connection_id}#ledger_invoice#{invoice_id}")
    if entry is None:
        return None
    if entry.store_id == order.store_id or (not entry.store_id and entry.fields.get(CREATING)):
        return invoice_id
    return None

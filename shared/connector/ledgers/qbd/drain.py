"""What to send QuickBooks Desktop next, and what its answers mean. Pure: no I/O.

A session drains the outbox in rounds. Each round is one qbXML message built by
:func:`plan` from the waiting entries and what is known so far:

* lookups for what is not known yet: CustomerQuery by name, one ItemQuery for
  every unknown item name, and a RefNumber query (the pre-check) for an entry
  whose last write may or may not have reached QuickBooks;
* writes for entries whose references are all known: CustomerAdd/CustomerMod,
  ItemNonInventoryAdd (where auto_create_items allows, and for the item a revenue rule's
  income_account posts through, qbxml_lists.account_item_name), then the transaction
  (InvoiceAdd/SalesReceiptAdd, *Mod with TxnID + EditSequence, TxnVoid/TxnDel) with the
  rules' classes (ClassRef per line and on the header) and the buyer's group's terms
  (TermsRef, invoices);
* money after the sale (drain_money.py): a paid invoice's ReceivePaymentAdd; a
  refund's CreditMemoAdd, then (a second round, same entry) its ARRefundCreditCardAdd
  or the ReceivePaymentAdd that applies its credit to the unpaid invoice; a deleted
  refund's TxnVoid/TxnDel. A payment or refund waits while an earlier entry of its
  order is in the window (the invoice's TxnID comes from the order's sync state);
* a PreferencesQuery when an order is in another currency than the edition's and the
  company's Multiple Currencies preference is not known yet (the Web Connector's
  first call usually tells it), or when the rules give an order a class and class
  tracking was not read this session (a cached "off" is asked again before parking:
  with it off the order parks naming the setting, and no ClassRef is ever sent).

Classes, terms and income accounts are not looked up: QuickBooks' 3140 for one the entry
named ("invalid reference to QuickBooks Class ...") parks it at once naming it, where any
other 3140 has its references looked up again once.

A transaction found by the RefNumber pre-check is adopted only when its Memo's first
line is this record's tag (qbxml.order_tag, qbxml.refund_tag, qbxml_money.payment_tag);
RefNumbers are fitted to 11 characters, so another record may hold the same one.

:func:`read` turns QuickBooks' answer into facts (kept in the session) and one
:class:`Decision` per entry that reached an outcome. Facts are JSON so the
session item in DynamoDB can carry them between Lambda invocations, and a bounded
cache (drain_facts): a fact let go is asked for again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from connector.config import Connection
from connector.errors import PermanentError
from connector.ledgers.qbd import drain_money, qbxml, qbxml_txns
from connector.ledgers.qbd.currencies import MULTICURRENCY_SETTING, currency_name, in_currency
from connector.ledgers.qbd.customer_names import customer_name, disambiguated_name
from connector.ledgers.qbd.drain_facts import learn
from connector.ledgers.qbd.drain_parts import Decision, Needs, Park, Work, Writes
from connector.ledgers.qbd.outbox import (
    OutboxEntry,
    PaymentPayload,
    RefundPayload,
    RefundWithdrawalPayload,
    WithdrawalPayload,
    order_of,
    order_record_key,
)
from connector.ledgers.qbd.preferences import (
    CLASS_TRACKING_SETTING,
    CompanyPreferences,
    company_preferences,
)
from connector.ledgers.qbd.qbxml_queries import AnyTxnKind
from connector.mapping import item_name_for_sku
from connector.model import ZERO, Customer, Order, rate_into
from connector.revenue_rules import decide

RETRY_LATER = range(3170, 3181)  # record in use, locked, modified by another user
STALE = 3200
INVALID_REFERENCE = 3140
FEATURE_OFF = 3250  # a preference the request needs is off (class tracking, currencies)
# 'There is an invalid reference to QuickBooks Class "Retail" in the Invoice line.'
_REFERENCE = re.compile(r'QuickBooks (?P<label>[A-Za-z ]+?) "(?P<name>[^"]*)"')
NAME_IN_USE = 3100
DOCUMENT_KINDS: dict[str, Literal["Invoice", "SalesReceipt"]] = {
    "invoice": "Invoice",
    "sales_receipt": "SalesReceipt",
}


@dataclass
class Plan:
    requests: list[qbxml.QbRequest] = field(default_factory=list)
    purposes: dict[str, dict[str, Any]] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)  # reached without asking QuickBooks
    written: list[int] = field(default_factory=list)  # seqs whose write is in this message
    looked_up: list[int] = field(default_factory=list)

    @property
    def has_writes(self) -> bool:
        return bool(self.written)


def new_facts() -> dict[str, Any]:
    return {"customers": {}, "items": {}, "txns": {}, "taken": []}


def company_of(facts: Mapping[str, Any]) -> CompanyPreferences | None:
    """The company's preferences (currency, class tracking), once known this session."""
    known = facts.get("company")
    return CompanyPreferences.from_json(known) if known else None


def country_home(facts: Mapping[str, Any]) -> str:
    """The home currency of the QuickBooks edition (qbXMLCountry), known before preferences."""
    return company_preferences(None, str(facts.get("country") or "US")).home


def customer_key(customer: Customer, currency: str, facts: Mapping[str, Any]) -> str | None:
    """The customer mapping key: one QuickBooks customer per buyer and currency (None while the
    company's preferences are not known and the buyer pays in another currency than the
    edition's)."""
    company = company_of(facts)
    if company is None:
        return customer.match_key if currency.upper() == country_home(facts) else None
    return customer.match_key + (f"#{currency.upper()}" if company.is_foreign(currency) else "")


def _complete(facts: dict[str, Any]) -> None:
    for key, empty in new_facts().items():
        facts.setdefault(key, empty)


# --- names -----------------------------------------------------------------------------------
def _same_person(fact: Mapping[str, Any], customer: Customer) -> bool:
    email = str(fact.get("email") or "").strip().lower()
    return not email or not customer.email or email == customer.email.strip().lower()


def txn_key(kind: str, ref: str) -> str:
    return f"{kind}:{ref}"


def document_kind(connection: Connection) -> Literal["Invoice", "SalesReceipt"]:
    return DOCUMENT_KINDS[connection.document]


# --- planning ---------------------------------------------------------------------------------
class _Planner:
    def __init__(self, connection: Connection, facts: dict[str, Any], prefix: str) -> None:
        self.connection = connection
        self.rules = connection.mapping
        self.settings = connection.qbd
        self.facts = facts
        self.prefix = prefix
        self.counter = 0
        self.added_customers: set[str] = set()
        self.added_items: set[str] = set()

    def rid(self) -> str:
        self.counter += 1
        return f"{self.prefix}.{self.counter}"

    # -- customers
    def resolve_customer(
        self, customer: Customer, mapped: str | None, needs: Needs, currency: str | None = None
    ) -> tuple[str, bool] | None:
        """(FullName, needs a CustomerAdd) or None while a lookup is outstanding.

        ``currency`` (a foreign one) names the buyer's customer in it: ``<name> (<CUR>)``.
        """
        taken = set(self.facts["taken"])
        if mapped and mapped.lower() not in taken:
            return mapped, False
        names = (customer_name(customer), disambiguated_name(customer))
        if currency:
            names = (in_currency(names[0], currency), in_currency(names[1], currency))
        for name in names:
            lower = name.lower()
            fact = self.facts["customers"].get(lower)
            if lower in taken:
                # QuickBooks refused to add the name (3100). It is this buyer's only if a
                # customer of that name is them (added meanwhile): asked again, once.
                if fact is None:
                    needs.customer_queries.append(name)
                    return None
                if fact.get("missing") or not _same_person(fact, customer):
                    continue
                return str(fact.get("name") or name), False
            if fact is None:
                needs.customer_queries.append(name)
                return None
            if fact.get("missing"):
                return name, lower not in self.added_customers
            if _same_person(fact, customer):
                return str(fact.get("name") or name), False
        raise Park(
            f"QuickBooks already has a customer, vendor or employee named "
            f"{names[0]!r} and {names[1]!r} for someone else: "
            "rename one of them in QuickBooks, then replay"
        )

    # -- currencies
    def store_rate(self, rate: Decimal | None, rate_currency: str | None) -> Decimal | None:
        """The store's exchange rate for a foreign-currency transaction when it converts into
        the company's home currency; else none, and QuickBooks uses its own for the currency."""
        company = company_of(self.facts)
        return rate_into(rate, rate_currency, company.home) if company is not None else None

    def foreign_currency(self, currency: str, what: str, needs: Needs) -> str | None:
        """The ISO code of a foreign currency the company can hold, None for the home one
        (or while the company's preferences are being asked for); Park when it cannot."""
        company = company_of(self.facts)
        if company is None:
            if currency.upper() == country_home(self.facts):
                return None  # the edition's own currency: home, whatever the preference says
            needs.preferences = True
            return None
        if not company.is_foreign(currency):
            return None
        if not company.multicurrency:
            raise Park(
                f"{what} is in {currency.upper()}, but this QuickBooks Desktop company file keeps "
                f"its books in {company.home} with Multiple Currencies off: "
                f"{MULTICURRENCY_SETTING}, then replay"
            )
        if currency_name(currency) is None:
            raise Park(
                f"{what} is in {currency.upper()}, a currency the connector cannot name in "
                "QuickBooks Desktop's Currency list: post it by hand"
            )
        return currency.upper()

    # -- items
    def _auto_created(self, skus: Mapping[str, str]) -> dict[str, str]:
        """Items auto_create_items may add for these SKUs: name -> income account."""
        if not self.rules.auto_create_items:
            return {}
        account = self.rules.income_account or ""
        return {
            item_name_for_sku(sku): account for sku in skus if sku and sku not in self.rules.items
        }

    def item_names(self, order: Order) -> tuple[dict[str, str], dict[str, str]]:
        """Every item name the document uses (name -> FullName) and the ones we may create
        (name -> the income account it posts to): auto-created SKU items and the items a
        revenue rule's income_account posts through (qbxml_lists.account_item_name)."""
        refs = qbxml.refs_for_order(order, self.connection, customer="-")
        names = {name: name for name in refs.skus.values()}
        names.update({name: name for name in refs.line_items.values()})
        creatable = {**self._auto_created(refs.skus), **refs.item_accounts}
        if order.shipping_lines:
            names[self.rules.shipping_item] = self.rules.shipping_item
        if order.fee_lines:
            names[self.rules.fee_item] = self.rules.fee_item
        discount = sum((order.q(line.subtotal) - order.q(line.total) for line in order.lines), ZERO)
        if self.rules.discounts == "discount_line" and discount > ZERO:
            names[self.settings.discount_item] = self.settings.discount_item
        if self.settings.sales_tax_item and order.q(order.total_tax) != ZERO:
            names[self.settings.sales_tax_item] = self.settings.sales_tax_item
        return names, creatable

    def refund_item_names(self, payload: RefundPayload) -> tuple[dict[str, str], dict[str, str]]:
        """The item names the refund's credit memo uses (exactly its lines) and those we may
        create (name -> income account); Park when a line has no item."""
        refund = payload.refund
        refs = qbxml.refs_for_refund(refund, self.connection, customer="-", order=payload.order)
        try:
            lines = qbxml_txns.refund_lines(refund, refs)
        except PermanentError as exc:
            raise Park(exc.reason) from None
        names = {line.item: line.item for line in lines}
        skus = {line.sku: line.sku for line in refund.lines if line.kind == "item" and line.sku}
        return names, {**self._auto_created(skus), **refs.item_accounts}

    # -- classes
    def check_classes(self, classes: set[str], what: str, needs: Needs) -> None:
        """Classes need the company file's class tracking: asked for when not read this session
        (facts remembered from an earlier one may be out of date); Park when it is off."""
        if not classes:
            return
        company = company_of(self.facts)
        if company is not None and company.class_tracking:
            return
        if company is None or not self.facts.get("company_read"):
            needs.preferences = True
            return
        named = ", ".join(repr(c) for c in sorted(classes))
        raise Park(
            f"{what} posts under class {named} (mapping.rules), but this QuickBooks Desktop "
            f"company file does not track classes: {CLASS_TRACKING_SETTING}, or remove the "
            "class from the rules in the tenant file, then replay"
        )

    def check_items(
        self,
        names: Mapping[str, str],
        creatable: Mapping[str, str],
        known: frozenset[str],
        needs: Needs,
    ) -> dict[str, str] | None:
        """Items to create now (name -> income account), or None while a lookup is outstanding."""
        to_create: dict[str, str] = {}
        pending = False
        for name in names:
            lower = name.lower()
            if lower in known:
                continue
            fact = self.facts["items"].get(lower)
            if fact is None:
                needs.item_names.append(name)
                pending = True
            elif fact == "":
                if name in creatable:
                    if lower not in self.added_items:
                        to_create[name] = creatable[name]
                else:
                    raise Park(
                        f"QuickBooks has no item named {name!r}: create it in QuickBooks "
                        "(or map the SKU to an existing item in the tenant file), then replay"
                    )
        return None if pending else to_create

    def txn_fact(self, kind: AnyTxnKind, ref: str, needs: Needs) -> dict[str, Any] | None:
        """What the RefNumber pre-check found ({} for nothing), or None while it is outstanding."""
        fact = self.facts["txns"].get(txn_key(kind, ref))
        if fact is None:
            needs.txn_queries.append((kind, ref))
        return fact

    # -- one entry
    def work(self, work: Work, needs: Needs) -> Writes | None:
        payload = work.entry.payload()
        if isinstance(payload, Order):
            return self._order(work, payload, needs)
        if isinstance(payload, WithdrawalPayload):
            return self._withdraw(work, payload, needs)
        if isinstance(payload, Customer):
            return self._customer(work, payload, needs)
        if isinstance(payload, PaymentPayload):
            return drain_money.plan_payment(self, work, payload, needs)
        if isinstance(payload, RefundWithdrawalPayload):
            return drain_money.plan_refund_withdrawal(self, work, payload, needs)
        return drain_money.plan_refund(self, work, payload, needs)

    def _order(self, work: Work, order: Order, needs: Needs) -> Writes | None:
        seq = work.entry.seq
        kind: Literal["Invoice", "SalesReceipt"] = (
            work.entry.ledger_type  # type: ignore[assignment]
            if work.entry.ledger_type in ("Invoice", "SalesReceipt")
            else document_kind(self.connection)
        )
        ref = qbxml.order_ref_number(order, self.rules)
        currency = self.foreign_currency(order.currency, f"order {order.number}", needs)
        key = order.customer.match_key + (f"#{currency}" if currency else "")
        names, creatable = self.item_names(order)
        self.check_classes(decide(order, self.rules).class_names, f"order {order.number}", needs)
        resolved = self.resolve_customer(order.customer, work.customer_name, needs, currency)
        creations = self.check_items(names, creatable, work.known_items, needs)
        txn_id, edit_sequence = work.txn_id, work.edit_sequence
        if work.refresh_txn or (txn_id is None and work.uncertain):
            fact = self.txn_fact(kind, ref, needs)
            found = (
                drain_money.ours(
                    fact, qbxml.order_tag(order, self.connection.store.display_name), kind, ref
                )
                if fact
                else None
            )
            if found is not None:
                txn_id, edit_sequence = str(found["txn_id"]), str(found["edit_sequence"])
                if txn_id and work.txn_id is None and work.uncertain:
                    # Our earlier Add reached QuickBooks; its answer did not reach us.
                    return Writes(
                        decision=Decision(
                            seq,
                            "posted",
                            "found by RefNumber after an unknown outcome",
                            operation="adopted",
                            ledger_type=kind,
                            txn_id=txn_id,
                            edit_sequence=edit_sequence,
                            total=_decimal(found.get("total")),
                            ref_number=ref,
                            customer_key=key,
                            customer_name=resolved[0] if resolved else None,
                        )
                    )
            elif fact is not None and work.refresh_txn:
                raise Park(
                    f"{kind} {ref} is no longer in QuickBooks (deleted there?): replay to add it again"
                )
        if resolved is None or creations is None or not needs.empty():
            return None
        name, add_customer = resolved
        common = {"seq": seq, "customer_key": key, "customer": name}
        writes = self.prerequisites(order.customer, name, add_customer, creations, common, currency)
        rate = self.store_rate(order.exchange_rate, order.rate_currency) if currency else None
        refs = qbxml.refs_for_order(order, self.connection, customer=name, exchange_rate=rate)
        purpose = {
            **common,
            "kind": kind,
            "ref": ref,
            "total": str(order.q(order.total)),
            **list_names(refs, kind),
        }
        if txn_id and edit_sequence:
            writes.requests.append(
                (
                    "txn_mod",
                    purpose,
                    qbxml.sales_txn_mod(
                        kind, order, refs, txn_id, edit_sequence, request_id=self.rid()
                    ),
                )
            )
        else:
            writes.requests.append(
                ("txn_add", purpose, qbxml.sales_txn_add(kind, order, refs, request_id=self.rid()))
            )
        return writes

    def prerequisites(
        self,
        customer: Customer,
        name: str,
        add_customer: bool,
        creations: Mapping[str, str],
        common: dict[str, Any],
        currency: str | None = None,
    ) -> Writes:
        """The customer (in ``currency``, a foreign one) and items a transaction needs,
        added in the same message before it."""
        writes = Writes()
        if add_customer:
            self.added_customers.add(name.lower())
            writes.requests.append(
                (
                    "customer_add",
                    {**common, "name": name, "email": customer.email},
                    qbxml.customer_add(
                        customer,
                        name,
                        request_id=self.rid(),
                        currency=currency_name(currency) if currency else None,
                    ),
                )
            )
        for item, account in creations.items():
            self.added_items.add(item.lower())
            writes.requests.append(
                (
                    "item_add",
                    {**common, "name": item, "account": account},
                    qbxml.item_non_inventory_add(item, account, request_id=self.rid()),
                )
            )
        return writes

    def _withdraw(self, work: Work, payload: WithdrawalPayload, needs: Needs) -> Writes | None:
        seq = work.entry.seq
        operation = "voided" if work.entry.action == "void_order" else "deleted"
        txn_id = work.txn_id
        if txn_id is None or work.refresh_txn:
            if not payload.ref_number:
                return Writes(
                    decision=Decision(
                        seq,
                        "withdrawn",
                        "nothing in QuickBooks to withdraw",
                        operation=operation,
                        ledger_type=payload.kind,
                    )
                )
            fact = self.txn_fact(payload.kind, payload.ref_number, needs)
            if fact is None:
                return None
            if not fact.get("txn_id"):
                return Writes(
                    decision=Decision(
                        seq,
                        "withdrawn",
                        f"{payload.kind} {payload.ref_number} is not in QuickBooks",
                        operation=operation,
                        ledger_type=payload.kind,
                        ref_number=payload.ref_number,
                    )
                )
            txn_id = str(fact["txn_id"])
        purpose = {
            "seq": seq,
            "kind": payload.kind,
            "ref": payload.ref_number,
            "operation": operation,
        }
        found = txn_id
        if operation == "voided":
            return Writes(
                [("txn_void", purpose, qbxml.txn_void(payload.kind, found, request_id=self.rid()))]
            )
        return Writes(
            [("txn_del", purpose, qbxml.txn_del(payload.kind, found, request_id=self.rid()))]
        )

    def _customer(self, work: Work, customer: Customer, needs: Needs) -> Writes | None:
        seq = work.entry.seq
        if work.customer_name:
            # Ours already: its current EditSequence is needed for CustomerMod.
            name = work.customer_name
            fact = self.facts["customers"].get(name.lower())
            if fact is None:
                needs.customer_queries.append(name)
                return None
            add = bool(fact.get("missing"))
        else:
            resolved = self.resolve_customer(customer, None, needs)
            if resolved is None:
                return None
            name, add = resolved
            if not add and name.lower() in self.added_customers:
                # An order of this buyer adds the customer in this message: a second
                # CustomerAdd would be refused (3100) and the name taken for someone else.
                # Its ListID and EditSequence come with that answer; the CustomerMod follows.
                return None
            fact = self.facts["customers"].get(name.lower(), {})
        common = {
            "seq": seq,
            "customer_key": customer.match_key,
            "customer": name,
            "name": name,
            "email": customer.email,
        }
        if add or not fact.get("list_id"):
            self.added_customers.add(name.lower())
            return Writes(
                [
                    (
                        "customer_add",
                        {**common, "decides": True},
                        qbxml.customer_add(customer, name, request_id=self.rid()),
                    )
                ]
            )
        list_id, edit_sequence = str(fact["list_id"]), str(fact["edit_sequence"])
        return Writes(
            [
                (
                    "customer_mod",
                    common,
                    qbxml.customer_mod(
                        customer, name, list_id, edit_sequence, request_id=self.rid()
                    ),
                )
            ]
        )


def list_names(refs: qbxml_txns.QbdRefs, kind: str) -> dict[str, Any]:
    """The classes and terms a transaction names, kept with its purpose so that QuickBooks'
    3140 for one of them parks the entry saying which (read_txn_write)."""
    out: dict[str, Any] = {}
    if refs.class_names:
        out["classes"] = sorted(refs.class_names)
    if refs.terms and kind == "Invoice":
        out["terms"] = refs.terms
    return out


def item_names_for(entry: OutboxEntry, connection: Connection) -> list[str]:
    """Every item name an outbox entry's transaction uses, as the planner will look them up.

    The service loads which of these are already known from the state table; it must
    ask exactly what the planner asks, or a name known only to one of them is looked up
    again and again.
    """
    planner = _Planner(connection, new_facts(), "")
    payload = entry.payload()
    try:
        if isinstance(payload, Order):
            names = planner.item_names(payload)[0]
        elif isinstance(payload, RefundPayload):
            names = planner.refund_item_names(payload)[0]
        else:
            return []
    except (Park, PermanentError):
        return []  # the planner parks the entry with the reason
    return list(names)


def plan(
    works: Sequence[Work],
    facts: dict[str, Any],
    connection: Connection,
    *,
    prefix: str,
    max_requests: int | None = None,
) -> Plan:
    """The next message: lookups for entries still missing facts, writes for the ready ones.

    At most one entry per store record goes into a message (a later change of the
    same order must see the earlier one's TxnID). ``prefix`` makes request ids
    unique across sessions, so a recovered answer can be told from a fresh one.
    """
    _complete(facts)
    budget = max_requests or connection.qbd.max_requests_per_message
    planner = _Planner(connection, facts, prefix)
    result = Plan()
    customer_queries: dict[str, list[int]] = {}
    item_names: dict[str, list[int]] = {}
    txn_queries: dict[tuple[AnyTxnKind, str], list[int]] = {}
    write_requests: list[tuple[str, dict[str, Any], qbxml.QbRequest]] = []
    records: set[str] = set()
    preferences: list[int] = []

    def used() -> int:
        return (
            len(customer_queries)
            + (1 if item_names else 0)
            + len(txn_queries)
            + len(write_requests)
            + (1 if preferences else 0)
        )

    for work in works:
        if work.entry.record_key in records:
            continue
        records.add(work.entry.record_key)
        order_id = order_of(work.entry.payload())
        if order_id is not None and order_record_key(connection.id, order_id) in records:
            continue  # its order goes first: the invoice's TxnID is not known yet
        needs = Needs()
        try:
            writes = planner.work(work, needs)
        except (Park, PermanentError) as exc:
            reason = exc.reason if isinstance(exc, Park | PermanentError) else str(exc)
            result.decisions.append(Decision(work.entry.seq, "park", reason))
            continue
        if writes is not None and writes.decision is not None:
            result.decisions.append(writes.decision)
            continue
        if writes is None:
            extra = (
                len([n for n in dict.fromkeys(needs.customer_queries) if n not in customer_queries])
                + (1 if needs.item_names and not item_names else 0)
                + len([k for k in needs.txn_queries if k not in txn_queries])
                + (1 if needs.preferences and not preferences else 0)
            )
            if used() + extra > budget:
                break
            if needs.preferences:
                preferences.append(work.entry.seq)
            for name in needs.customer_queries:
                customer_queries.setdefault(name, []).append(work.entry.seq)
            for item in needs.item_names:
                item_names.setdefault(item, []).append(work.entry.seq)
            for key in needs.txn_queries:
                txn_queries.setdefault(key, []).append(work.entry.seq)
            result.looked_up.append(work.entry.seq)
            continue
        if used() + len(writes.requests) > budget:
            break
        write_requests.extend(writes.requests)
        result.written.append(work.entry.seq)

    if preferences:
        rid = planner.rid()
        result.requests.append(qbxml.preferences_query(request_id=rid))
        result.purposes[rid] = {"op": "preferences_query", "seqs": preferences}
    for name, seqs in customer_queries.items():
        rid = planner.rid()
        result.requests.append(qbxml.customer_query(name, request_id=rid))
        result.purposes[rid] = {"op": "customer_query", "name": name, "seqs": seqs}
    if item_names:
        rid = planner.rid()
        names = list(item_names)
        result.requests.append(qbxml.item_query(names, request_id=rid))
        result.purposes[rid] = {
            "op": "item_query",
            "names": names,
            "seqs": sorted({s for v in item_names.values() for s in v}),
        }
    for (kind, ref), seqs in txn_queries.items():
        rid = planner.rid()
        result.requests.append(qbxml.txn_query_by_ref(kind, ref, request_id=rid))
        result.purposes[rid] = {"op": "txn_query", "kind": kind, "ref": ref, "seqs": seqs}
    for op, purpose, request in write_requests:
        result.requests.append(request)
        result.purposes[request.request_id] = {"op": op, **purpose}
    return result


# --- reading answers --------------------------------------------------------------------------
def _decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _text(ret: Mapping[str, Any] | None, name: str) -> str:
    if not ret:
        return ""
    value = ret.get(name)
    return "" if value is None or isinstance(value, dict | list) else str(value)


def txn_total(ret: Mapping[str, Any] | None) -> Decimal | None:
    """The document's total as QuickBooks computed it."""
    total = _decimal(_text(ret, "TotalAmount"))
    if total is not None:
        return total
    subtotal = _decimal(_text(ret, "Subtotal"))
    if subtotal is None:
        return None
    return subtotal + (_decimal(_text(ret, "SalesTaxTotal")) or ZERO)


def _qb_error(response: qbxml.QbResponse) -> str:
    return f"QuickBooks said {response.status_message.strip()} (status {response.status_code})"


def _is_error(response: qbxml.QbResponse) -> bool:
    return response.status_severity.lower() == "error" or response.status_code >= 1000


def read(
    purposes: Mapping[str, Mapping[str, Any]],
    responses: Sequence[qbxml.QbResponse],
    facts: dict[str, Any],
    *,
    attempts_3140: Mapping[int, int] | None = None,
) -> list[Decision]:
    """Learn from QuickBooks' answers; one decision per entry that reached an outcome.

    The first decision for an entry wins: a failed CustomerAdd parks its order,
    and the order's own InvoiceAdd (refused for the missing customer) adds nothing.
    """
    _complete(facts)
    decided: dict[int, Decision] = {}
    tried = attempts_3140 or {}

    def decide(decision: Decision) -> None:
        decided.setdefault(decision.seq, decision)

    for response in responses:
        purpose = purposes.get(response.request_id)
        if purpose is None:
            continue
        op = purpose["op"]
        code = response.status_code
        # A lookup's "not there" is 1 (a filter matched nothing) or 500 Warn (the FullName
        # asked for is not in the file): both mean add it, neither is a failure.
        if op == "customer_query":
            name = str(purpose["name"])
            if _is_error(response):
                for seq in purpose["seqs"]:
                    decide(_failure(seq, response, f"looking up customer {name!r}"))
                continue
            ret = response.named(name)
            if ret is None and code == qbxml.STATUS_OK:
                ret = response.ret  # the one record asked for, however QuickBooks spells it
            if ret is None:
                learn(facts["customers"], name.lower(), {"missing": True})
            else:
                learn(
                    facts["customers"],
                    name.lower(),
                    {
                        "name": _text(ret, "FullName") or name,
                        "list_id": _text(ret, "ListID"),
                        "edit_sequence": _text(ret, "EditSequence"),
                        "email": _text(ret, "Email"),
                    },
                )
        elif op == "item_query":
            if _is_error(response):
                for seq in purpose["seqs"]:
                    decide(_failure(seq, response, "looking up items"))
                continue
            for name in purpose["names"]:
                ret = response.named(str(name))
                learn(facts["items"], str(name).lower(), _text(ret, "ListID") if ret else "")
        elif op == "txn_query":
            key = txn_key(str(purpose["kind"]), str(purpose["ref"]))
            if not _is_error(response) and not response.rets:
                learn(facts["txns"], key, {})
            elif not _is_error(response):
                candidates = [
                    {
                        "txn_id": _text(ret, "TxnID"),
                        "edit_sequence": _text(ret, "EditSequence"),
                        "total": str(txn_total(ret) or ""),
                        "memo": _text(ret, "Memo"),
                    }
                    for ret in response.rets
                ]
                # RefNumber is no key: every transaction holding it, ours told by its Memo.
                learn(facts["txns"], key, {**candidates[0], "candidates": candidates})
            else:
                for seq in purpose["seqs"]:
                    decide(
                        _failure(seq, response, f"looking up {purpose['kind']} {purpose['ref']}")
                    )
        elif op == "preferences_query":
            if _is_error(response):
                for seq in purpose["seqs"]:
                    decide(_failure(seq, response, "asking for the company's preferences"))
                continue
            country = str(facts.get("country") or "US")
            facts["company"] = company_preferences(response.ret, country).to_json()
            facts["company_read"] = True
        elif op in ("customer_add", "customer_mod"):
            _read_customer_write(purpose, response, facts, decide)
        elif op == "item_add":
            name = str(purpose["name"])
            if not _is_error(response):
                learn(facts["items"], name.lower(), _text(response.ret, "ListID") or "?")
            elif code == NAME_IN_USE:
                learn(facts["items"], name.lower(), "?")  # it appeared since the lookup: use it
            elif code == INVALID_REFERENCE and _names(response, "account", purpose.get("account")):
                decide(
                    Decision(
                        int(purpose["seq"]),
                        "park",
                        f"QuickBooks has no account named {purpose['account']!r} (the income "
                        f"account item {name!r} would post to, from the tenant file's mapping): "
                        "create it in QuickBooks or correct the tenant file, then replay",
                    )
                )
            else:
                decide(
                    Decision(
                        int(purpose["seq"]),
                        "park",
                        f"creating item {name!r} failed: {_qb_error(response)}",
                    )
                )
        else:
            _read_txn_write(purpose, response, facts, decide, tried)
    return list(decided.values())


def _names(response: qbxml.QbResponse, label: str, name: object) -> bool:
    """Whether QuickBooks' 3140 message says the ``label`` list element ``name`` is missing."""
    if not name:
        return False
    wanted = str(name).casefold()
    return any(
        label in found["label"].casefold() and found["name"].casefold() == wanted
        for found in _REFERENCE.finditer(response.status_message)
    )


def _missing_list_element(response: qbxml.QbResponse, purpose: Mapping[str, Any]) -> str | None:
    """What to fix when QuickBooks' 3140 names a class or terms the tenant file gave (looking
    the references up again cannot help), None for any other reference."""
    for name in purpose.get("classes") or ():
        if _names(response, "class", name):
            return (
                f"QuickBooks has no class named {name!r} (from mapping.rules): create it in "
                "QuickBooks (Lists → Class List) or correct the rule in the tenant file, "
                "then replay"
            )
    terms = purpose.get("terms")
    if _names(response, "terms", terms):
        return (
            f"QuickBooks has no payment terms named {terms!r} (mapping.terms): create them in "
            "QuickBooks (Lists → Customer & Vendor Profile Lists → Terms List) or fix the "
            "tenant file, then replay"
        )
    return None


def _failure(seq: int, response: qbxml.QbResponse, what: str) -> Decision:
    if response.status_code in RETRY_LATER:
        return Decision(seq, "retry", f"{what}: {_qb_error(response)}; trying again next session")
    return Decision(seq, "park", f"{what}: {_qb_error(response)}")


def _read_customer_write(
    purpose: Mapping[str, Any], response: qbxml.QbResponse, facts: dict[str, Any], decide: Any
) -> None:
    seq, name = int(purpose["seq"]), str(purpose["name"])
    decides = purpose["op"] == "customer_mod" or bool(purpose.get("decides"))
    code = response.status_code
    if not _is_error(response):
        ret = response.ret
        learn(
            facts["customers"],
            name.lower(),
            {
                "name": _text(ret, "FullName") or name,
                "list_id": _text(ret, "ListID"),
                "edit_sequence": _text(ret, "EditSequence"),
                "email": _text(ret, "Email") or str(purpose.get("email") or ""),
            },
        )
        if decides:
            decide(
                Decision(
                    seq,
                    "customer",
                    f"customer {name}",
                    operation="updated" if purpose["op"] == "customer_mod" else "created",
                    ledger_type="Customer",
                    txn_id=_text(ret, "ListID"),
                    edit_sequence=_text(ret, "EditSequence"),
                    customer_key=str(purpose["customer_key"]),
                    customer_name=name,
                )
            )
    elif code == NAME_IN_USE:
        # A vendor, employee or other name has it (names are unique across lists).
        # Newest last, as drain_facts lets the oldest go.
        facts["taken"] = [*(t for t in facts["taken"] if t != name.lower()), name.lower()]
        facts["customers"].pop(name.lower(), None)
        decide(Decision(seq, "again", f"the name {name!r} is in use in QuickBooks", why="3100"))
    elif code in (STALE, INVALID_REFERENCE):
        facts["customers"].pop(name.lower(), None)
        decide(Decision(seq, "again", _qb_error(response), why=str(code)))
    else:
        decide(_failure(seq, response, f"saving customer {name!r}"))


def _read_txn_write(
    purpose: Mapping[str, Any],
    response: qbxml.QbResponse,
    facts: dict[str, Any],
    decide: Any,
    tried: Mapping[int, int],
) -> None:
    op, seq = str(purpose["op"]), int(purpose["seq"])
    kind, ref = str(purpose.get("kind", "")), purpose.get("ref")
    code = response.status_code
    if not _is_error(response):
        ret = response.ret
        if op in ("txn_void", "txn_del") and purpose.get("final") is False:
            return  # the refund or application before its credit memo's void: that one decides
        if op == "refund_second":
            decide(drain_money.second_write_decision(purpose))
            return
        if op == "credit_memo_add" and purpose.get("then"):
            # The credit memo is in; its refund (or application) is the entry's next write.
            decide(
                Decision(
                    seq,
                    "step",
                    f"CreditMemo {ref}; its {purpose['then']} follows",
                    operation="created",
                    ledger_type="CreditMemo",
                    txn_id=_text(ret, "TxnID"),
                    edit_sequence=_text(ret, "EditSequence"),
                    total=txn_total(ret),
                    ref_number=str(ref),
                    customer_key=purpose.get("customer_key"),
                    customer_name=purpose.get("customer"),
                )
            )
            return
        if op in ("txn_void", "txn_del"):
            decide(
                Decision(
                    seq,
                    "withdrawn",
                    f"{kind} {ref or ''}".strip(),
                    operation=str(purpose["operation"]),
                    ledger_type=kind,
                    txn_id=_text(ret, "TxnID") or None,
                    ref_number=ref,
                )
            )
            return
        decide(
            Decision(
                seq,
                "posted",
                f"{kind} {ref}",
                operation="updated" if op == "txn_mod" else "created",
                ledger_type=kind,
                txn_id=_text(ret, "TxnID"),
                edit_sequence=_text(ret, "EditSequence"),
                total=txn_total(ret),
                ref_number=str(ref),
                customer_key=purpose.get("customer_key"),
                customer_name=purpose.get("customer"),
            )
        )
        return
    if ref is not None:
        facts["txns"].pop(txn_key(kind, str(ref)), None)
    missing = _missing_list_element(response, purpose) if code == INVALID_REFERENCE else None
    if missing is not None:
        decide(Decision(seq, "park", f"{kind} {ref}: {missing}"))
    elif code == FEATURE_OFF and purpose.get("classes"):
        decide(
            Decision(
                seq,
                "park",
                f"{kind} {ref} names classes and QuickBooks said {response.status_message.strip()}"
                f" (status {code}): {CLASS_TRACKING_SETTING}, then replay",
            )
        )
    elif code == INVALID_REFERENCE and tried.get(seq, 0) < 1:
        # Something it names is gone or renamed: look the references up again, once.
        customer = purpose.get("customer")
        if customer:
            facts["customers"].pop(str(customer).lower(), None)
        decide(
            Decision(
                seq,
                "again",
                _qb_error(response),
                why="3140",
                customer_key=purpose.get("customer_key"),
            )
        )
    elif code == STALE:
        decide(Decision(seq, "again", _qb_error(response), why="3200"))
    elif code in RETRY_LATER:
        decide(Decision(seq, "retry", f"{_qb_error(response)}; trying again next session"))
    else:
        what = {
            "txn_add": "adding",
            "txn_mod": "updating",
            "txn_void": "voiding",
            "txn_del": "deleting",
            "credit_memo_add": "adding",
            "refund_second": "adding",
        }.get(op, "saving")
        decide(
            Decision(
                seq,
                "park",
                f"{what} {kind} {ref or ''} failed: {_qb_error(response)}".replace("  ", " "),
            )
        )

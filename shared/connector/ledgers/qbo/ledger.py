"""The QuickBooks Online ledger adapter: resolve references, then create, update or void documents.

No path creates a second document for one store order: the id of a posted
document is kept in the sync state; every write carries a deterministic
requestid; after an unknown outcome the document is looked up by DocNumber
before a create; and a 6140 duplicate DocNumber adopts the existing document.
Customer, item and tax-code ids (and a tax code's rates) are cached in DynamoDB so
that, once known, posting an order costs one write and no reads.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from connector.config import Connection
from connector.errors import PermanentError, TransientError
from connector.ledgers.posting import Operation, Posted
from connector.ledgers.qbo import documents, lookups, payments
from connector.ledgers.qbo.client import QboClient
from connector.ledgers.qbo.company import CompanyFacts
from connector.ledgers.qbo.currency import rate_from_answer
from connector.ledgers.qbo.customers import QboCustomers
from connector.ledgers.qbo.faults import (
    QboDuplicateDocNumber,
    QboDuplicateName,
    QboNotFound,
    QboStaleObject,
)
from connector.ledgers.qbo.tax_codes import QboTaxCodes
from connector.mapping import (
    DOC_NUMBER_MAX,
    content_hash,
    doc_number,
    fitted_doc_number,
    request_id,
    tax_code_names_needed,
)
from connector.model import ZERO, Customer, Order, Refund
from connector.observability import logger
from connector.revenue_rules import decide, line_items
from connector.state import StateStore, SyncState

SHIPPING_ITEM_ID = "SHIPPING_ITEM_ID"
_DOC_ENTITY = {"invoice": "Invoice", "sales_receipt": "SalesReceipt"}


class QboLedger:
    def __init__(self, *, connection: Connection, client: QboClient, state: StateStore) -> None:
        self._connection = connection
        self._client = client
        self._state = state
        self._facts = CompanyFacts(connection_id=connection.id, client=client, state=state)
        self.customers = QboCustomers(
            connection=connection, client=client, state=state, facts=self._facts
        )
        self.tax_codes = QboTaxCodes(connection_id=connection.id, client=client, state=state)

    @property
    def calls(self) -> int:
        return self._client.calls

    @property
    def document_entity(self) -> str:
        return _DOC_ENTITY[self._connection.document]

    # --- customers --------------------------------------------------------------------
    def upsert_customer(self, customer: Customer, previous: SyncState | None = None) -> Posted:
        """Create or update the QuickBooks customer for a store customer record."""
        return self.customers.upsert(customer, previous)

    def customer_id(self, customer: Customer, currency: str | None = None) -> str:
        """The buyer's QuickBooks customer in a currency: cached, else found, else created."""
        return self.customers.customer_id(customer, currency)

    # --- currencies -------------------------------------------------------------------
    def _with_rate(
        self, body: dict[str, Any], currency: str, day: date, order: Order, what: str
    ) -> dict[str, Any]:
        """A foreign-currency body gets its ExchangeRate: the store's when it converts into the
        home currency, else QuickBooks' own for the day (cached: one read per currency and
        day)."""
        company = self.customers.company_for(currency, what)
        if not company.is_foreign(currency):
            return body
        rate = order.rate_for(company.home)
        if rate is None:
            key = f"{currency.upper()}#{day.isoformat()}"
            cached = self._state.get_mapping(self._connection.id, "fxrate", key)
            if cached:
                rate = Decimal(cached)
            else:
                rate = rate_from_answer(self._client.exchange_rate(currency, day))
                if rate is None:
                    raise PermanentError(
                        f"{what} is in {currency.upper()}, and QuickBooks has no exchange rate "
                        f"from {currency.upper()} to {company.home} for {day.isoformat()}: enter "
                        "one in QuickBooks (Settings → Currencies), then replay"
                    )
                self._state.put_mapping(self._connection.id, "fxrate", key, str(rate))
        return {**body, "ExchangeRate": rate}

    # --- references -------------------------------------------------------------------
    def _ref_id(self, kind: str, entity: str, name: str) -> str | None:
        with lookups.one_at_a_time((self._connection.id, kind, name)):
            return self._find_ref_id(kind, entity, name)

    def _find_ref_id(self, kind: str, entity: str, name: str) -> str | None:
        conn = self._connection.id
        known = self._state.get_mapping(conn, kind, name)
        if known:
            return known
        # QuickBooks hides inactive names unless asked; an inactive one must be reported, not recreated.
        found = self._client.find_one(entity, "Name", name, include_inactive=True)
        if found is None:
            return None
        if found.get("Active") is False:
            raise PermanentError(
                f"QuickBooks {entity.lower()} {name!r} is inactive: make it active in QuickBooks, "
                "then replay"
            )
        self._state.put_mapping(conn, kind, name, str(found["Id"]))
        return str(found["Id"])

    def item_id(self, name: str) -> str:
        if name == SHIPPING_ITEM_ID:
            return name
        found = self._ref_id("item", "Item", name)
        if found:
            return found
        rules = self._connection.mapping
        if not rules.auto_create_items or not rules.income_account:
            raise PermanentError(
                f"QuickBooks has no item named {name!r}: create it in QuickBooks or change the "
                "tenant file's mapping, then replay"
            )
        account = self._ref_id("account", "Account", rules.income_account)
        if account is None:
            raise PermanentError(
                f"QuickBooks has no account named {rules.income_account!r} (income_account for "
                "auto-created items): fix the tenant file, then replay"
            )
        created = self._create_item(name, account)
        self._state.put_mapping(self._connection.id, "item", name, created)
        return created

    def _create_item(self, name: str, account_id: str) -> str:
        """A NonInventory item posting to ``account_id``. One made under the same name since
        the lookup (another record's worker at the same moment, as when records are worked
        side by side) is used when it is active and posts to that account."""
        try:
            created = self._client.create(
                "Item",
                {"Name": name, "Type": "NonInventory", "IncomeAccountRef": {"value": account_id}},
                request_id=request_id(self._connection.id, "item", name, account_id, "create"),
            )
        except QboDuplicateName:
            found = self._client.find_one("Item", "Name", name, include_inactive=True)
            posts_to = str(((found or {}).get("IncomeAccountRef") or {}).get("value") or "")
            if found is None or found.get("Active") is False or posts_to != account_id:
                raise
            return str(found["Id"])
        return str(created["Id"])

    def account_item_id(self, name: str, account: str) -> str:
        """The item a revenue rule's income_account posts through: found by name (and checked
        to post to ``account``), else created as a NonInventory item with that account."""
        conn = self._connection.id
        known = self._state.get_mapping(conn, "item", name)
        if known:
            return known
        account_id = self._ref_id("account", "Account", account)
        if account_id is None:
            raise PermanentError(
                f"QuickBooks has no account named {account!r} (income_account in "
                "mapping.rules): create it in QuickBooks or correct the rule in the tenant "
                "file, then replay"
            )
        found = self._client.find_one("Item", "Name", name, include_inactive=True)
        if found is not None:
            if found.get("Active") is False:
                raise PermanentError(
                    f"QuickBooks item {name!r} is inactive: make it active in QuickBooks, "
                    "then replay"
                )
            posts_to = str((found.get("IncomeAccountRef") or {}).get("value") or "")
            if posts_to != account_id:
                raise PermanentError(
                    f"QuickBooks item {name!r} posts to another income account than "
                    f"{account!r}, which mapping.rules send these sales to: set its income "
                    "account to that one in QuickBooks (or rename the item so the connector "
                    "creates its own), then replay"
                )
            item_id = str(found["Id"])
        else:
            item_id = self._create_item(name, account_id)
        self._state.put_mapping(conn, "item", name, item_id)
        return item_id

    def _items(self, wanted: dict[str, str | None]) -> dict[str, str]:
        """Item name -> Id; a name with an income account is a revenue rule's account item."""
        return {
            name: self.account_item_id(name, account) if account else self.item_id(name)
            for name, account in wanted.items()
        }

    def rule_refs(self, order: Order, what: str) -> dict[str, Any]:
        """Classes, class placement and location for an order's documents (ResolvedRefs fields).

        A class or location the rules name but the company does not track parks the order
        naming the setting (asked again once, in case it was turned on since it was cached);
        an unknown one parks naming it.
        """
        decided = decide(order, self._connection.mapping)
        classes = decided.class_names
        if not classes and decided.location is None:
            return {}
        needs = {"classes": bool(classes), "location": decided.location is not None}
        tracking = self._facts.tracking()
        if tracking.lacks(**needs):
            tracking = self._facts.tracking(fresh=True)
            if tracking.lacks(**needs):
                raise tracking.refuse(
                    what,
                    classes=", ".join(repr(c) for c in sorted(classes)) or None,
                    location=decided.location,
                )
        if tracking.classes == "transaction":
            classes = {decided.class_name} if decided.class_name else set()
        return {
            "classes": {name: self._list_id("Class", name) for name in sorted(classes)},
            "class_placement": tracking.classes if classes else None,
            "department_id": (
                self._list_id("Department", decided.location) if decided.location else None
            ),
        }

    def _list_id(self, entity: str, name: str) -> str:
        noun = {"Class": "class", "Department": "location"}[entity]
        found = self._ref_id(entity.lower(), entity, name)
        if found is None:
            raise PermanentError(
                f"QuickBooks has no {noun} named {name!r} (from mapping.rules): create it in "
                "QuickBooks or correct the rule in the tenant file, then replay"
            )
        return found

    def resolve(self, order: Order) -> documents.ResolvedRefs:
        rules = self._connection.mapping
        wanted = {
            item.name: item.income_account
            for item in line_items(order, rules, decide(order, rules)).values()
        }
        items = self._items(wanted)
        shipping = self.item_id(rules.shipping_item) if order.shipping_lines else None
        fees = self.item_id(rules.fee_item) if order.fee_lines else None
        discount_account = (
            self._ref_id("account", "Account", rules.discount_account)
            if rules.discount_account
            else None
        )
        tax_codes, tax_rates = self.tax_codes.resolve(tax_code_names_needed(order, rules))
        customer_id = self.customer_id(order.customer, order.currency)
        money = (
            self.money_refs(order, customer_id)
            if self._connection.document == "sales_receipt"
            else None
        )
        terms = rules.terms_for(order.customer.group) if self.document_entity == "Invoice" else None
        term_id = self._ref_id("term", "Term", terms) if terms else None
        if terms and term_id is None:
            raise PermanentError(
                f"QuickBooks has no payment terms named {terms!r} (mapping.terms for customer "
                f"group {order.customer.group or 'guest'!r}): create them in QuickBooks or fix "
                "the tenant file, then replay"
            )
        return documents.ResolvedRefs(
            customer_id=customer_id,
            items=items,
            shipping_item_id=shipping,
            fee_item_id=fees,
            discount_account_id=discount_account,
            tax_codes=tax_codes,
            tax_rates=tax_rates,
            payment_method_id=money.payment_method_id if money else None,
            deposit_account_id=money.deposit_account_id if money else None,
            term_id=term_id,
            **self.rule_refs(order, f"order {order.number}"),
        )

    def money_refs(self, order: Order, customer_id: str) -> payments.MoneyRefs:
        """The deposit account and payment method the order's store payment method maps to."""
        route, _ = self._connection.mapping.payment_route(order.payment.method)
        account = self._ref_id("account", "Account", route.deposit_account)
        if account is None:
            raise PermanentError(
                f"QuickBooks has no account named {route.deposit_account!r} (deposit account for "
                f"payments by {order.payment.method or 'an unnamed method'!r}): create it in "
                "QuickBooks or fix mapping.payments in the tenant file, then replay"
            )
        method = None
        if route.method:
            method = self._ref_id("paymentmethod", "PaymentMethod", route.method)
            if method is None:
                raise PermanentError(
                    f"QuickBooks has no payment method named {route.method!r} (for payments by "
                    f"{order.payment.method!r}): create it in QuickBooks or fix mapping.payments "
                    "in the tenant file, then replay"
                )
        return payments.MoneyRefs(
            customer_id=customer_id, deposit_account_id=account, payment_method_id=method
        )

    # --- payments and refunds -------------------------------------------------------
    def post_payment(
        self,
        order: Order,
        document: SyncState,
        previous: SyncState | None,
        credited: Decimal = ZERO,
    ) -> Posted:
        """Record the store's payment of the order's invoice: one Payment linked to it."""
        assert document.ledger_id
        invoice_id = document.ledger_id
        if previous and previous.attempts > 0:
            # An earlier attempt may have reached QuickBooks: the invoice links its payments.
            invoice = self._client.read("Invoice", invoice_id)
            for link in invoice.get("LinkedTxn") or []:
                if link.get("TxnType") == "Payment":
                    found = self._client.read("Payment", str(link["TxnId"]))
                    return _posted("adopted", "Payment", found)
        money = self.money_refs(order, self.customer_id(order.customer, order.currency))
        total = order.q(order.total)
        invoice_total = Decimal(document.ledger_total) if document.ledger_total else total
        # Refunds of the unpaid invoice were credited to it: the buyer pays what is left.
        body = payments.build_payment(
            order,
            self._connection,
            money,
            invoice_id=invoice_id,
            applied=order.q(min(total, invoice_total) - credited),
        )
        body = self._with_rate(
            body, order.currency, date.fromisoformat(body["TxnDate"]), order,
            f"the payment of order {order.number}",
        )  # fmt: skip
        rid = request_id(self._connection.id, "Payment", order.store_id, invoice_id, "create")
        created = self._client.create("Payment", body, request_id=rid)
        return _posted("created", "Payment", created)

    def post_refund(
        self, refund: Refund, order: Order, document: SyncState | None, previous: SyncState | None
    ) -> Posted:
        """A refund of money taken is a RefundReceipt; of an unpaid invoice, a CreditMemo that
        is then applied to the invoice."""
        paid = order.payment.is_paid or (
            document is not None and document.ledger_type == "SalesReceipt"
        )
        entity: payments.RefundEntity = "RefundReceipt" if paid else "CreditMemo"
        number = refund_doc_number(refund, self._connection)
        if previous and previous.attempts > 0:
            existing = self._client.find_one(entity, "DocNumber", number)
            if existing is not None:
                tag = payments.refund_tag(refund, self._connection)
                if tag not in str(existing.get("PrivateNote", "")):
                    raise PermanentError(
                        f"QuickBooks {entity} {number} (Id {existing.get('Id')}) has this "
                        f"refund's number but is not {tag}: renumber one of them, then replay"
                    )
                if _credits_invoice(entity, document):
                    # The memo was created but its application may have failed (or succeeded
                    # unheard): apply what credit it still holds.
                    assert document is not None and document.ledger_id
                    self._apply_credit(order, document.ledger_id, existing)
                return _posted("adopted", entity, existing)
        customer_id = self.customer_id(order.customer, order.currency)
        money = self.money_refs(order, customer_id)
        rules = self._connection.mapping
        items = self._items(payments.refund_items(refund, order, self._connection))
        codes = set(tax_code_names_needed(order, rules))
        if rules.tax.mode == "per_rate" and rules.tax.exempt_code:
            codes.add(rules.tax.exempt_code)
        tax_codes, tax_rates = self.tax_codes.resolve(codes)
        refs = documents.ResolvedRefs(
            customer_id=customer_id,
            items=items,
            tax_codes=tax_codes,
            tax_rates=tax_rates,
            **self.rule_refs(order, f"refund {refund.store_id} of order {order.number}"),
        )
        body = payments.build_refund_document(
            refund, order, self._connection, refs, money, entity=entity, doc_number=number
        )
        body = self._with_rate(
            body, refund.currency, date.fromisoformat(body["TxnDate"]), order,
            f"refund {refund.store_id} of order {order.number}",
        )  # fmt: skip
        rid = request_id(
            self._connection.id, entity, refund.store_id, documents.body_digest(body), "create"
        )
        created = self._client.create(entity, body, request_id=rid)
        posted = replace(
            _posted("created", entity, created),
            adjustments=documents.tax_adjustments(body, refs, refund.currency),
        )
        if _credits_invoice(entity, document):
            assert document is not None and document.ledger_id
            self._apply_credit(order, document.ledger_id, created)
        return posted

    def _apply_credit(self, order: Order, invoice_id: str, memo: dict[str, Any]) -> None:
        """Apply a credit memo (QuickBooks' copy, as created or as found) to its order's
        invoice, as far as the invoice is open and the memo still holds credit: an application
        whose answer was lost, or one a bookkeeper made, is not made again (QuickBooks would
        refuse it, 6000, more than the memo's remaining credit)."""
        invoice = self._client.read("Invoice", invoice_id)
        balance = Decimal(str(invoice.get("Balance", "0")))
        credit = Decimal(str(memo.get("RemainingCredit", memo.get("TotalAmt", "0"))))
        amount = min(balance, credit)
        if amount <= 0:
            return
        body = payments.build_credit_application(
            str(memo["CustomerRef"]["value"]),
            order.currency,
            invoice_id,
            str(memo["Id"]),
            order.q(amount),
        )
        body["TxnDate"] = memo["TxnDate"]
        if Decimal(str(memo.get("ExchangeRate", "1"))) != 1:
            body["ExchangeRate"] = memo["ExchangeRate"]
        rid = request_id(self._connection.id, "Payment", str(memo["Id"]), invoice_id, "apply")
        self._client.create("Payment", body, request_id=rid)

    def withdraw_refund(self, previous: SyncState, refund_store_id: str) -> Posted:
        """A refund deleted in the store: delete its document (QuickBooks cannot void these)."""
        assert previous.ledger_id and previous.ledger_type
        entity, ledger_id = previous.ledger_type, previous.ledger_id
        token = previous.sync_token or str(self._client.read(entity, ledger_id)["SyncToken"])
        try:
            _, token = self._remove(entity, ledger_id, token, refund_store_id, "delete")
        except QboNotFound:
            logger.info("refund document already gone from QuickBooks", ledger_id=ledger_id)
        return Posted("deleted", entity, ledger_id, token)

    # --- sales documents -------------------------------------------------------------
    def post_order(self, order: Order, previous: SyncState | None) -> Posted:
        """Create the order's document, or bring the existing one up to date; the result
        names every tax rate where the store's amount was kept over QuickBooks' own."""
        refs = self.resolve(order)
        body = documents.build_sales_document(order, self._connection, refs)
        body = self._with_rate(
            body, order.currency, date.fromisoformat(body["TxnDate"]), order,
            f"order {order.number}",
        )  # fmt: skip
        posted = self._write_order(order, previous, body)
        return replace(posted, adjustments=documents.tax_adjustments(body, refs, order.currency))

    def _write_order(
        self, order: Order, previous: SyncState | None, body: dict[str, Any]
    ) -> Posted:
        entity = self.document_entity
        number = doc_number(order, self._connection.mapping)
        digest = content_hash(order)
        operation = "create"
        if previous and previous.status == "deleted":
            # Deleted on cancellation and now back: a new document, under a new requestid
            # (the old one would make QuickBooks replay the deleted document's creation).
            operation = f"recreate-{previous.ledger_id}"
            previous = None
        if previous and previous.ledger_id and previous.ledger_type == entity:
            return self._update(
                entity, body, previous.ledger_id, previous.sync_token, order, digest
            )
        if previous and previous.attempts > 0:
            # An earlier attempt may have reached QuickBooks without us learning the outcome.
            existing = self._client.find_one(entity, "DocNumber", number)
            if existing is not None:
                return self._adopt(entity, existing, body, order, digest)
        rid = request_id(self._connection.id, entity, order.store_id, digest, operation)
        try:
            created = self._client.create(entity, body, request_id=rid)
        except QboDuplicateDocNumber as exc:
            existing = (
                self._client.read(entity, exc.existing_txn_id) if exc.existing_txn_id else None
            )
            if existing is None:
                existing = self._client.find_one(entity, "DocNumber", number)
            if existing is None:
                raise PermanentError(
                    f"QuickBooks says DocNumber {number} is taken by a "
                    f"{getattr(exc, 'detail', '') or 'another document'}; it is not this order's "
                    "document: change doc_prefix in the tenant file, then replay"
                ) from None
            return self._adopt(entity, existing, body, order, digest)
        return _posted("created", entity, created)

    def _adopt(
        self, entity: str, existing: dict[str, Any], body: dict[str, Any], order: Order, digest: str
    ) -> Posted:
        if not _belongs_to(existing, order):
            raise PermanentError(
                f"QuickBooks {entity} {existing.get('DocNumber')} (Id {existing.get('Id')}) has this "
                f"order's DocNumber but is not {self._connection.store.display_name} order {order.number}: renumber one of "
                "them, then replay"
            )
        logger.info("adopting existing document", ledger_id=existing["Id"], entity=entity)
        posted = self._update(
            entity, body, str(existing["Id"]), str(existing["SyncToken"]), order, digest
        )
        return Posted(
            "adopted", entity, posted.ledger_id, posted.sync_token, posted.doc_number, posted.total
        )

    def _update(
        self,
        entity: str,
        body: dict[str, Any],
        ledger_id: str,
        sync_token: str | None,
        order: Order,
        digest: str,
    ) -> Posted:
        rid = request_id(self._connection.id, entity, order.store_id, digest, "update")
        token = sync_token or str(self._client.read(entity, ledger_id)["SyncToken"])
        try:
            updated = self._client.update(
                entity, documents.sparse_update(body, ledger_id, token), request_id=rid
            )
        except QboStaleObject:
            # Someone edited the document in QuickBooks: take its current SyncToken once.
            token = str(self._client.read(entity, ledger_id)["SyncToken"])
            try:
                updated = self._client.update(
                    entity,
                    documents.sparse_update(body, ledger_id, token),
                    request_id=f"{rid[:44]}-{token}"[:50],
                )
            except QboStaleObject as exc:
                raise TransientError(
                    f"{entity} {ledger_id} keeps changing in QuickBooks: {exc}"
                ) from exc
        except QboNotFound:
            raise PermanentError(
                f"QuickBooks {entity} {ledger_id}, posted earlier for order {order.number}, is gone "
                "(deleted in QuickBooks?): clear its sync state to post it again, then replay"
            ) from None
        return _posted("updated", entity, updated)

    def withdraw(self, previous: SyncState, order_store_id: str) -> Posted:
        """Void or delete the document of a cancelled or trashed order."""
        assert previous.ledger_id and previous.ledger_type
        entity, ledger_id = previous.ledger_type, previous.ledger_id
        operation = self._connection.on_cancel
        token = previous.sync_token or str(self._client.read(entity, ledger_id)["SyncToken"])
        result, token = self._remove(entity, ledger_id, token, order_store_id, operation)
        if operation == "delete":
            return Posted("deleted", entity, ledger_id, token)
        return _posted("voided", entity, result)

    def _remove(
        self,
        entity: str,
        ledger_id: str,
        token: str,
        store_id: str,
        operation: Literal["void", "delete"],
    ) -> tuple[dict[str, Any], str]:
        """Void or delete a document; a stale SyncToken is read again once. Returns QuickBooks'
        answer and the token the write went with."""
        rid = request_id(self._connection.id, entity, store_id, token, operation)
        call = self._client.void if operation == "void" else self._client.delete
        try:
            return call(entity, ledger_id, token, request_id=rid), token
        except QboStaleObject:
            token = str(self._client.read(entity, ledger_id)["SyncToken"])
            return call(entity, ledger_id, token, request_id=f"{rid[:44]}-{token}"[:50]), token


def refund_doc_number(refund: Refund, connection: Connection) -> str:
    """A refund document's DocNumber: the tenant's template with "R<refund id>" as the number."""
    number = f"R{refund.store_id}"
    return fitted_doc_number(number, number, connection.mapping, limit=DOC_NUMBER_MAX)


def _posted(operation: Operation, entity: str, doc: dict[str, Any]) -> Posted:
    total = doc.get("TotalAmt")
    return Posted(
        operation=operation,
        ledger_type=entity,
        ledger_id=str(doc["Id"]),
        sync_token=str(doc.get("SyncToken", "0")),
        doc_number=doc.get("DocNumber"),
        total=Decimal(str(total)) if total is not None else None,
    )


def _belongs_to(existing: dict[str, Any], order: Order) -> bool:
    """Our documents name their store order in PrivateNote (documents.build_sales_document)."""
    return f"order #{order.number} (id {order.store_id})" in str(existing.get("PrivateNote", ""))


def _credits_invoice(entity: str, document: SyncState | None) -> bool:
    """A credit memo for an order posted as an invoice is applied to that invoice."""
    return (
        entity == "CreditMemo"
        and document is not None
        and bool(document.ledger_id)
        and document.ledger_type == "Invoice"
    )

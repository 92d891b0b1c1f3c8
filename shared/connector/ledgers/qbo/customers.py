"""QuickBooks Online customers: one per buyer and currency, found before one is ever created.

A buyer is looked up by primary e-mail first (the store's identity for a
person), then by DisplayName; a customer found must be in the transaction's
currency, since QuickBooks fixes a customer's currency when it is created. The
ids are cached in DynamoDB, so a known buyer costs no QuickBooks call.
"""

from __future__ import annotations

from typing import Any

from connector.config import Connection
from connector.errors import PermanentError
from connector.ledgers.posting import Operation, Posted
from connector.ledgers.qbo import documents, lookups
from connector.ledgers.qbo.client import QboClient, escape_query_value
from connector.ledgers.qbo.company import CompanyFacts
from connector.ledgers.qbo.currency import (
    CompanyCurrency,
    customer_currency,
    customer_key_for,
    customer_name_for,
)
from connector.ledgers.qbo.faults import QboDuplicateName
from connector.mapping import display_name, request_id
from connector.model import Customer
from connector.state import StateStore, SyncState

DISPLAY_NAME_MAX = 500


class QboCustomers:
    def __init__(
        self,
        *,
        connection: Connection,
        client: QboClient,
        state: StateStore,
        facts: CompanyFacts,
    ) -> None:
        self._connection = connection
        self._client = client
        self._state = state
        self._facts = facts

    # --- the company's currencies -------------------------------------------------------
    def company(self) -> CompanyCurrency:
        """Home currency and multicurrency (cached company preferences)."""
        return self._facts.currency()

    def company_for(self, currency: str, what: str) -> CompanyCurrency:
        """The company's currencies, refusing a record it cannot hold (naming the setting)."""
        company = self.company()
        if company.is_foreign(currency) and not company.multicurrency:
            # The merchant may have turned multicurrency on since it was cached: ask once more.
            company = self._facts.currency(fresh=True)
            if not company.multicurrency:
                raise company.refuse(currency, what)
        return company

    # --- customers ------------------------------------------------------------------------
    def customer_id(self, customer: Customer, currency: str | None = None) -> str:
        """The buyer's QuickBooks customer in ``currency`` (the home one when None)."""
        return self._customer(customer, currency)[0]

    def upsert(self, customer: Customer, previous: SyncState | None = None) -> Posted:
        """Create or update the (home-currency) QuickBooks customer of a store customer record."""
        body = documents.build_customer(customer)
        known = self._state.get_mapping(self._connection.id, "customer", customer.match_key)
        if known:
            current = self._client.read("Customer", known)
            token = str(current["SyncToken"])
            if current.get("DisplayName") == disambiguate(body["DisplayName"], customer):
                # Created under a disambiguated name (another person has this one): keep it.
                body["DisplayName"] = current["DisplayName"]
            updated = self._client.update(
                "Customer",
                documents.sparse_update(body, known, token),
                request_id=request_id(
                    self._connection.id,
                    "customer",
                    customer.match_key,
                    documents.body_digest(body),
                    "update",
                ),
            )
            return Posted("updated", "Customer", known, str(updated["SyncToken"]))
        customer_id, created = self._customer(customer, None)
        current = self._client.read("Customer", customer_id)
        operation: Operation = "created" if created else "adopted"
        return Posted(operation, "Customer", customer_id, str(current["SyncToken"]))

    def _customer(self, customer: Customer, currency: str | None) -> tuple[str, bool]:
        """The buyer's QuickBooks customer id, and whether it was created just now."""
        conn = self._connection.id
        company = self.company() if currency is None else self.company_for(currency, "the order")
        currency = (currency or company.home).upper()
        key = customer_key_for(customer.match_key, currency, company)
        # Two orders of a new buyer on two threads: the second waits and finds the first's.
        with lookups.one_at_a_time((conn, "customer", key)):
            known = self._state.get_mapping(conn, "customer", key)
            if known:
                return known, False
            name = customer_name_for(display_name(customer), currency, company)
            found, name_taken = self._find(customer, name, currency, company)
            if found is not None:
                customer_id, created = str(found["Id"]), False
            else:
                if name_taken:
                    # A different person (or the buyer in another currency) has this name.
                    name = disambiguate(name, customer)
                customer_id, created = self._create(customer, name, currency, company, key), True
            self._state.put_mapping(conn, "customer", key, customer_id)
            return customer_id, created

    def _find(
        self, customer: Customer, name: str, currency: str, company: CompanyCurrency
    ) -> tuple[dict[str, Any] | None, bool]:
        """The buyer's existing customer in this currency (by e-mail first, then by name), and
        whether the name is taken by someone else."""
        email = customer.email.strip()
        if email:
            for row in self._client.query(
                "SELECT * FROM Customer WHERE PrimaryEmailAddr = "
                f"'{escape_query_value(email)}' ORDERBY Id"
            ):
                if customer_currency(row, company) == currency and _same_email(row, customer):
                    return row, False
        found = self._client.find_one("Customer", "DisplayName", name)
        if found is None:
            return None, False
        if same_person(found, customer) and customer_currency(found, company) == currency:
            return found, False
        return None, True

    def _create(
        self,
        customer: Customer,
        name: str,
        currency: str,
        company: CompanyCurrency,
        key: str,
    ) -> str:
        body = {**documents.build_customer(customer), "DisplayName": name}
        if company.is_foreign(currency):
            body["CurrencyRef"] = {"value": currency}
        rid = request_id(self._connection.id, "customer", key, name, "create")
        try:
            return str(self._client.create("Customer", body, request_id=rid)["Id"])
        except QboDuplicateName:
            # The name belongs to a vendor or employee (or appeared since the lookup).
            found = self._client.find_one("Customer", "DisplayName", name)
            if (
                found is not None
                and same_person(found, customer)
                and customer_currency(found, company) == currency
            ):
                return str(found["Id"])
            alternative = disambiguate(name, customer)
            if alternative == name:
                raise PermanentError(
                    f"QuickBooks already has a customer, vendor or employee named {name!r}; "
                    "rename one of them, then replay this order"
                ) from None
            body["DisplayName"] = alternative
            rid = request_id(self._connection.id, "customer", key, alternative, "create")
            return str(self._client.create("Customer", body, request_id=rid)["Id"])


def same_person(found: dict[str, Any], customer: Customer) -> bool:
    """A QuickBooks customer with the buyer's name is the buyer when the emails do not disagree."""
    email = (found.get("PrimaryEmailAddr") or {}).get("Address", "")
    return not email or not customer.email or _same_email(found, customer)


def _same_email(found: dict[str, Any], customer: Customer) -> bool:
    email = str((found.get("PrimaryEmailAddr") or {}).get("Address", ""))
    return email.strip().lower() == customer.email.strip().lower()


def disambiguate(name: str, customer: Customer) -> str:
    suffix = customer.email or customer.store_id or ""
    if not suffix or name.endswith(f"({suffix})"):
        return name
    return f"{name} ({suffix})"[:DISPLAY_NAME_MAX]

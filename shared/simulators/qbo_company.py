"""The books of one simulated QuickBooks Online company: entities, validation and totals.

Validation follows what QBO enforces and the connector must cope with: required references
that exist and are active, unique names, DocNumber length and uniqueness, SyncToken
concurrency, and totals computed by QBO (tax per rate for non-US companies, where only a
TxnTaxDetail.TaxLine overrides a rate's amount (``qbo_tax``); the sent TotalTax for US
automated sales tax). Currencies (``qbo_currency``), payments and what they apply to
(``qbo_payments``) and the name lists (``qbo_lists``) follow QBO's rules too; after every
write the balances of the invoices, credit memos, customers and accounts it touched are
brought up to date. Not thread-safe by itself; the simulator holds a lock.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from simulators import qbo_query, qbo_tax
from simulators.qbo_changes import ChangeLog, Operation
from simulators.qbo_currency import Currencies, cents, currency_mismatch, money, ref_code
from simulators.qbo_faults import (
    ApiFault,
    business,
    duplicate_name,
    inactive_reference,
    invalid_enumeration,
    invalid_reference,
    object_not_found,
    required,
    stale_object,
    too_long,
    unsupported_operation,
    unsupported_property,
)
from simulators.qbo_fields import ALLOWED_FIELDS, DERIVED, LINE_FIELDS
from simulators.qbo_lists import (
    DEPOSIT_TYPES,
    NAME_LISTS,
    SEED_ACCOUNTS,
    SEED_PAYMENT_METHODS,
    SEED_TERMS,
    active_ref,
    build_account,
    build_name_entry,
)
from simulators.qbo_payments import (
    LINKABLE,
    PAYMENT_REF_MAX,
    Applications,
    Target,
    applied_amounts,
    build_payment,
    unlink,
)
from simulators.qbo_wire import local_date, timestamp

SALES_FORMS = ("Invoice", "SalesReceipt", "CreditMemo", "RefundReceipt")
TRANSACTIONS = (*SALES_FORMS, "Payment")
WRITABLE = ("Customer", "Item", "Account", *NAME_LISTS, *TRANSACTIONS)
QUERYABLE = (*WRITABLE, "TaxCode", "TaxRate")
TXN_TYPE_LABEL = {
    "Invoice": "Invoice",
    "SalesReceipt": "Sales Receipt",
    "CreditMemo": "Credit Memo",
    "RefundReceipt": "Refund Receipt",
}
# Money that moves through a deposit account: + received, - paid out.
DEPOSIT_SIGN = {"SalesReceipt": 1, "Payment": 1, "RefundReceipt": -1}
DOC_NUMBER_MAX = 21
PRIVATE_NOTE_MAX = 4000
DISPLAY_NAME_MAX = 500
ITEM_TYPES = ("Service", "NonInventory", "Inventory", "Category")
CATEGORY_REFUSES = (
    "UnitPrice",
    "IncomeAccountRef",
    "ExpenseAccountRef",
    "AssetAccountRef",
    "QtyOnHand",
    "TrackQtyOnHand",
)


@dataclass(frozen=True)
class CountrySetup:
    currency: str
    currency_name: str
    partner_tax: bool  # US automated sales tax
    rates: tuple[tuple[str, str, str], ...]  # (Id, Name, RateValue)
    codes: tuple[tuple[str, str, tuple[str, ...]], ...]  # (Id, Name, rate ids)


COUNTRIES: dict[str, CountrySetup] = {
    "US": CountrySetup(
        "USD", "United States Dollar", True, (), (("TAX", "TAX", ()), ("NON", "NON", ()))
    ),
    "GB": CountrySetup(
        "GBP",
        "British Pound Sterling",
        False,
        (("1", "20.0% S", "20"), ("2", "5.0% R", "5"), ("3", "0.0% Z", "0"), ("4", "Exempt", "0")),
        (
            ("2", "20.0% S", ("1",)),
            ("3", "5.0% R", ("2",)),
            ("4", "0.0% Z", ("3",)),
            ("5", "Exempt", ("4",)),
            ("6", "No VAT", ()),
        ),
    ),
    "CA": CountrySetup(
        "CAD",
        "Canadian Dollar",
        False,
        (("1", "GST", "5"), ("2", "HST ON", "13"), ("3", "Exempt", "0"), ("4", "QST", "9.975")),
        (
            ("2", "GST", ("1",)),
            ("3", "HST ON", ("2",)),
            ("4", "Exempt", ("3",)),
            ("5", "GST/QST QC", ("1", "4")),  # two rates, each on the net amount
        ),
    ),
    "AU": CountrySetup(
        "AUD",
        "Australian Dollar",
        False,
        (("1", "GST (sales)", "10"), ("2", "GST free (sales)", "0")),
        (("2", "GST", ("1",)), ("3", "GST free", ("2",))),
    ),
}

_ITEMS = (
    ("1", "Services", "Service", "2", True),
    ("2", "Sales", "NonInventory", "1", True),
    ("3", "Shipping", "Service", "3", True),
    ("4", "Discontinued Widget", "NonInventory", "1", False),
)


class Company:
    """Documents by entity and Id, plus the raw fields each was written with.

    ``home_currency`` defaults to the country's; ``multicurrency`` lets customers, accounts and
    transactions use other currencies. Class tracking is per transaction or per line (QBO
    offers one or the other); ``track_departments`` turns on DepartmentRef, whose list QBO
    calls ``department_terminology`` ("Location" by default).
    """

    def __init__(
        self,
        *,
        realm_id: str,
        country: str,
        clock: Callable[[], float],
        allow_shipping: bool = False,
        custom_txn_numbers: bool = True,
        home_currency: str | None = None,
        multicurrency: bool = False,
        class_tracking_per_txn: bool = False,
        class_tracking_per_line: bool = False,
        track_departments: bool = False,
        department_terminology: str = "Location",
    ) -> None:
        if country not in COUNTRIES:
            raise ValueError(f"no simulated setup for country {country!r}: {sorted(COUNTRIES)}")
        if class_tracking_per_txn and class_tracking_per_line:
            raise ValueError("QBO assigns classes per transaction or per line, not both")
        self.realm_id = realm_id
        self.country = country
        self.setup = COUNTRIES[country]
        self.currencies = Currencies(home_currency or self.setup.currency, multicurrency)
        self.applications = Applications()
        self._clock = clock
        self.docs: dict[str, dict[str, dict[str, Any]]] = {e: {} for e in QUERYABLE}
        # What the caller sent (merged over sparse updates): documents are rebuilt from it.
        self._sources: dict[str, dict[str, dict[str, Any]]] = {e: {} for e in WRITABLE}
        self._voided: set[tuple[str, str]] = set()
        # Every write after seeding, for CDC and webhooks (simulators.qbo_changes).
        self.changes = ChangeLog()
        self._next_id: dict[str, int] = {}
        self._next_doc_number = 1001
        self._next_address_id = 1
        self.preferences = self._preferences(
            allow_shipping,
            custom_txn_numbers,
            {
                "TrackDepartments": track_departments,
                "DepartmentTerminology": department_terminology,
                "ClassTrackingPerTxn": class_tracking_per_txn,
                "ClassTrackingPerTxnLine": class_tracking_per_line,
            },
        )
        self._seed()

    # -- seeding -------------------------------------------------------------------------

    def _meta(self) -> dict[str, str]:
        now = timestamp(self._clock())
        return {"CreateTime": now, "LastUpdatedTime": now}

    def _seed(self) -> None:
        for acc_id, name, acc_type, sub_type in SEED_ACCOUNTS:
            self._seed_record(
                "Account",
                acc_id,
                {"Name": name, "AccountType": acc_type, "AccountSubType": sub_type},
            )
        for number, (name, kind) in enumerate(SEED_PAYMENT_METHODS, start=1):
            self._seed_record("PaymentMethod", str(number), {"Name": name, "Type": kind})
        for term_id, name, days in SEED_TERMS:
            self._seed_record("Term", term_id, {"Name": name, "Type": "STANDARD", "DueDays": days})
        for rate_id, name, value in self.setup.rates:
            self.docs["TaxRate"][rate_id] = {
                "Id": rate_id,
                "SyncToken": "0",
                "MetaData": self._meta(),
                "Name": name,
                "Description": name,
                "Active": True,
                "RateValue": Decimal(value),
                "domain": "QBO",
                "sparse": False,
            }
        for code_id, name, rate_ids in self.setup.codes:
            self.docs["TaxCode"][code_id] = {
                "Id": code_id,
                "SyncToken": "0",
                "MetaData": self._meta(),
                "Name": name,
                "Description": name,
                "Active": True,
                "Taxable": code_id != "NON" and bool(rate_ids or code_id == "TAX"),
                "TaxGroup": False,
                "SalesTaxRateList": {
                    "TaxRateDetail": [
                        {
                            "TaxRateRef": {"value": r, "name": self.docs["TaxRate"][r]["Name"]},
                            "TaxTypeApplicable": "TaxOnAmount",
                            "TaxOrder": 0,
                        }
                        for r in rate_ids
                    ]
                },
                "domain": "QBO",
                "sparse": False,
            }
        for item_id, name, item_type, account_id, active in _ITEMS:
            self._seed_record(
                "Item",
                item_id,
                {
                    "Name": name,
                    "Type": item_type,
                    "IncomeAccountRef": {"value": account_id},
                    "Active": active,
                },
            )

    def _seed_record(self, entity: str, entity_id: str, source: dict[str, Any]) -> None:
        self._sources[entity][entity_id] = source
        self.docs[entity][entity_id] = self._build(entity, source, entity_id, "0", self._meta())
        self._next_id[entity] = max(self._next_id.get(entity, 1), int(entity_id) + 1)

    def _preferences(
        self, allow_shipping: bool, custom_txn_numbers: bool, tracking: dict[str, Any]
    ) -> dict[str, Any]:
        tax_prefs: dict[str, Any] = {"UsingSalesTax": True}
        if self.setup.partner_tax:
            tax_prefs["PartnerTaxEnabled"] = True
        else:
            tax_prefs["PartnerTaxEnabled"] = False
        return {
            "Id": "1",
            "SyncToken": "0",
            "MetaData": self._meta(),
            "AccountingInfoPrefs": {**tracking, "CustomerTerminology": "Customers"},
            "SalesFormsPrefs": {
                "CustomTxnNumbers": custom_txn_numbers,
                "AllowShipping": allow_shipping,
                "AllowDiscount": True,
                "AllowDeposit": False,
                "DefaultTerms": {"value": "3"},
            },
            "TaxPrefs": tax_prefs,
            "CurrencyPrefs": {
                "MultiCurrencyEnabled": self.currencies.multicurrency,
                "HomeCurrency": {"value": self.currencies.home},
            },
            "domain": "QBO",
            "sparse": False,
        }

    def _new_id(self, entity: str) -> str:
        # Transactions share one sequence, as QBO's TxnIds do; each name list has its own.
        key = "Txn" if entity in TRANSACTIONS else entity
        number = self._next_id.get(key, 1)
        self._next_id[key] = number + 1
        return str(number)

    # -- reading -------------------------------------------------------------------------

    def read(self, entity: str, entity_id: str) -> dict[str, Any]:
        doc = self.docs.get(entity, {}).get(entity_id)
        if doc is None:
            raise object_not_found(entity, entity_id)
        return copy.deepcopy(doc)

    def query(self, statement: str) -> dict[str, Any]:
        known = {e.lower(): e for e in (*QUERYABLE, "Preferences")}
        query = qbo_query.parse(statement, known)
        pool = (
            [self.preferences]
            if query.entity == "Preferences"
            else list(self.docs[query.entity].values())
        )
        page, total = qbo_query.select(query, pool)
        if query.count:
            return {"QueryResponse": {"totalCount": total}}
        if not page:
            return {"QueryResponse": {}}
        return {
            "QueryResponse": {
                query.entity: copy.deepcopy(page),
                "startPosition": query.start,
                "maxResults": len(page),
            }
        }

    # -- writing -------------------------------------------------------------------------

    def create(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        source = self._clean(entity, body)
        entity_id = self._new_id(entity)
        try:
            doc = self._build(entity, source, entity_id, "0", self._meta())
        except ApiFault:
            self._give_back_id(entity)
            raise
        self._store(entity, entity_id, doc, source, before=None)
        return copy.deepcopy(self.docs[entity][entity_id])

    def _give_back_id(self, entity: str) -> None:
        key = "Txn" if entity in TRANSACTIONS else entity
        self._next_id[key] -= 1

    def update(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        entity_id, current = self._current(entity, body)
        if (entity, entity_id) in self._voided:
            raise business("You can't edit a voided transaction.")
        incoming = self._clean(entity, body)
        sparse = body.get("sparse") is True
        source = {**self._sources[entity][entity_id], **incoming} if sparse else incoming
        meta = {**current["MetaData"], "LastUpdatedTime": timestamp(self._clock())}
        doc = self._build(entity, source, entity_id, str(int(current["SyncToken"]) + 1), meta)
        self._store(entity, entity_id, doc, source, before=current)
        if entity == "Item":
            self.refresh_item_paths(entity_id)
        return copy.deepcopy(self.docs[entity][entity_id])

    def void(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        """Amounts become zero, the document stays; what it linked or was linked to unlinks."""
        if entity not in TRANSACTIONS:
            raise unsupported_operation(f"Operation void is not supported for {entity}.")
        entity_id, current = self._current(entity, body)
        self._unlink(entity, entity_id)
        doc = copy.deepcopy(current)
        for line in doc["Line"]:
            if "Amount" in line:
                line["Amount"] = Decimal("0.00")
            detail = line.get("SalesItemLineDetail")
            if isinstance(detail, dict) and "Qty" in detail:
                detail["Qty"] = Decimal("0")
        doc["TotalAmt"] = Decimal("0.00")
        for name in ("HomeTotalAmt", "HomeBalance", "RemainingCredit", "UnappliedAmt"):
            if name in doc:
                doc[name] = Decimal("0.00")
        if entity != "Payment":
            doc["Balance"] = Decimal("0.00")
            doc["TxnTaxDetail"] = {**doc.get("TxnTaxDetail", {}), "TotalTax": Decimal("0.00")}
            doc["TxnTaxDetail"].pop("TaxLine", None)
        note = current.get("PrivateNote")
        doc["PrivateNote"] = f"Voided - {note}" if note else "Voided"
        doc["SyncToken"] = str(int(current["SyncToken"]) + 1)
        doc["MetaData"] = {**current["MetaData"], "LastUpdatedTime": timestamp(self._clock())}
        self._voided.add((entity, entity_id))
        self._store(entity, entity_id, doc, None, before=current, operation="Void")
        return copy.deepcopy(doc)

    def delete(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        if entity not in TRANSACTIONS:
            raise unsupported_operation(
                f"Operation Delete is not supported for {entity}; make it inactive instead."
            )
        entity_id, current = self._current(entity, body)
        self._unlink(entity, entity_id)
        del self.docs[entity][entity_id]
        del self._sources[entity][entity_id]
        self._voided.discard((entity, entity_id))
        self._after_write(entity, entity_id, current, None)
        self.changes.record(entity, entity_id, "Delete", self._clock())
        return {"status": "Deleted", "domain": "QBO", "Id": entity_id}

    def set_active(self, entity: str, entity_id: str, active: bool) -> dict[str, Any]:
        """A bookkeeper (de)activating a customer, item, account or list entry in QBO's screens."""
        current = self.read(entity, entity_id)
        return self.update(
            entity,
            {"Id": entity_id, "SyncToken": current["SyncToken"], "sparse": True, "Active": active},
        )

    def _current(self, entity: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        entity_id = ref_code(body.get("Id"))
        if entity_id is None:
            raise required("Id", "Id")
        current = self.docs[entity].get(entity_id)
        if current is None:
            raise object_not_found(entity, entity_id)
        if "SyncToken" not in body:
            raise required("SyncToken", "SyncToken")
        if str(body["SyncToken"]) != current["SyncToken"]:
            raise stale_object()
        return entity_id, current

    def _clean(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        allowed = ALLOWED_FIELDS[entity]
        for name in body:
            if name not in allowed:
                raise unsupported_property(name, entity)
        derived = DERIVED - {"TotalAmt"} if entity == "Payment" else DERIVED
        return {k: copy.deepcopy(v) for k, v in body.items() if k not in derived}

    # -- balances ------------------------------------------------------------------------

    def _store(
        self,
        entity: str,
        entity_id: str,
        doc: dict[str, Any],
        source: dict[str, Any] | None,
        *,
        before: dict[str, Any] | None,
        operation: Operation | None = None,
    ) -> None:
        if source is not None:
            self._sources[entity][entity_id] = source
        self.docs[entity][entity_id] = doc
        self._after_write(entity, entity_id, before, doc)
        kind: Operation = operation or ("Create" if before is None else "Update")
        self.changes.record(entity, entity_id, kind, self._clock())

    def _after_write(
        self,
        entity: str,
        entity_id: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        """Bring up to date the balances a transaction's write touched."""
        if entity not in TRANSACTIONS:
            return
        if entity == "Payment":
            amounts = applied_amounts(after) if after is not None else {}
            for target in self.applications.record(entity_id, amounts):
                self._settle(target)
        versions = [d for d in (before, after) if d is not None]
        for customer_id in {ref_code(d.get("CustomerRef")) for d in versions} - {None}:
            self._refresh_customer(str(customer_id))
        for account_id in {ref_code(d.get("DepositToAccountRef")) for d in versions} - {None}:
            self._refresh_account(str(account_id))

    def _unlink(self, entity: str, entity_id: str) -> None:
        if entity in LINKABLE:
            for target in unlink(self, (entity, entity_id)):
                self._settle(target)

    def relink_payment(self, payment_id: str, lines: list[dict[str, Any]]) -> None:
        """What a payment applies shrank to ``lines`` (a document it paid went away)."""
        current = self.docs["Payment"][payment_id]
        doc = copy.deepcopy(current)
        doc["Line"] = copy.deepcopy(lines)
        applied = sum(
            (a if kind == "Invoice" else -a for (kind, _), a in applied_amounts(doc).items()),
            Decimal("0.00"),
        )
        doc["UnappliedAmt"] = doc["TotalAmt"] - applied
        doc["SyncToken"] = str(int(current["SyncToken"]) + 1)
        doc["MetaData"] = {**current["MetaData"], "LastUpdatedTime": timestamp(self._clock())}
        self._sources["Payment"][payment_id]["Line"] = copy.deepcopy(lines)
        self.docs["Payment"][payment_id] = doc
        self._refresh_customer(doc["CustomerRef"]["value"])

    def _settle(self, target: Target) -> None:
        """An invoice or credit memo whose applied payments changed: new Balance, LinkedTxn."""
        kind, txn_id = target
        current = self.docs[kind].get(txn_id)
        if current is None:
            return
        doc = copy.deepcopy(current)
        self._balance_fields(kind, txn_id, doc)
        if doc != current:
            doc["SyncToken"] = str(int(current["SyncToken"]) + 1)
            doc["MetaData"] = {**current["MetaData"], "LastUpdatedTime": timestamp(self._clock())}
            self.docs[kind][txn_id] = doc

    def _balance_fields(self, entity: str, entity_id: str, doc: dict[str, Any]) -> None:
        if entity not in LINKABLE:
            doc["Balance"] = Decimal("0.00")
            return
        target = (entity, entity_id)
        payments = self.applications.payments(target)
        applied = self.applications.applied(target)
        for payment_id in payments:
            payer = self.docs["Payment"][payment_id]["CustomerRef"]["value"]
            if doc.get("CustomerRef", {}).get("value") != payer:
                raise business(
                    f"You can't change the customer of a {TXN_TYPE_LABEL[entity].lower()} "
                    f"that payments or credits are applied to (Payment Id={payment_id}).",
                    "CustomerRef",
                )
        if applied > doc["TotalAmt"]:
            raise business(
                f"The {TXN_TYPE_LABEL[entity].lower()} total ({doc['TotalAmt']}) can't be less "
                f"than the payments and credits applied to it ({applied}).",
                "TotalAmt",
            )
        doc["Balance"] = doc["TotalAmt"] - applied
        if entity == "CreditMemo":
            doc["RemainingCredit"] = doc["Balance"]
        links = [link for link in doc.get("LinkedTxn") or [] if link.get("TxnType") != "Payment"]
        links += [{"TxnId": p, "TxnType": "Payment"} for p in payments]
        if links:
            doc["LinkedTxn"] = links
        else:
            doc.pop("LinkedTxn", None)
        if "ExchangeRate" in doc:
            doc["HomeBalance"] = self.currencies.home_amount(doc["Balance"], doc["ExchangeRate"])

    def _refresh_customer(self, customer_id: str) -> None:
        doc = self.docs["Customer"].get(customer_id)
        if doc is not None:
            doc["Balance"] = doc["BalanceWithJobs"] = self.customer_balance(customer_id)

    def customer_balance(self, customer_id: str) -> Decimal:
        """What the customer owes: open invoices less unused credit memos and payments."""
        total = Decimal("0.00")
        for entity, field, sign in (
            ("Invoice", "Balance", 1),
            ("CreditMemo", "Balance", -1),
            ("Payment", "UnappliedAmt", -1),
        ):
            for doc in self.docs[entity].values():
                if doc.get("CustomerRef", {}).get("value") == customer_id:
                    total += sign * doc[field]
        return total

    def _refresh_account(self, account_id: str) -> None:
        doc = self.docs["Account"].get(account_id)
        if doc is not None:
            doc["CurrentBalance"] = sum(
                (amount for _, _, amount in self.deposits(account_id)), Decimal("0.00")
            )
            doc["CurrentBalanceWithSubAccounts"] = doc["CurrentBalance"]

    def deposits(self, account_id: str) -> list[tuple[str, str, Decimal]]:
        """(entity, Id, amount in the account's currency) of the money through an account:
        sales receipts and payments in, refund receipts out; voided ones left out."""
        account = self.docs["Account"][account_id]
        moves: list[tuple[str, str, Decimal]] = []
        for entity, sign in DEPOSIT_SIGN.items():
            for txn_id, doc in self.docs[entity].items():
                if ref_code(doc.get("DepositToAccountRef")) != account_id:
                    continue
                if (entity, txn_id) in self._voided:
                    continue
                amount = doc["TotalAmt"]
                if doc["CurrencyRef"]["value"] != account["CurrencyRef"]["value"]:
                    amount = self.currencies.home_amount(amount, doc["ExchangeRate"])
                moves.append((entity, txn_id, sign * amount))
        return moves

    # -- building documents --------------------------------------------------------------

    def _build(
        self, entity: str, source: dict[str, Any], entity_id: str, sync: str, meta: dict[str, str]
    ) -> dict[str, Any]:
        if entity == "Customer":
            return self._build_customer(source, entity_id, sync, meta)
        if entity == "Item":
            return self._build_item(source, entity_id, sync, meta)
        if entity == "Account":
            return build_account(
                source, entity_id, sync, meta, self.docs["Account"], self.currencies
            )
        if entity in NAME_LISTS:
            return build_name_entry(entity, source, entity_id, sync, meta, self.docs[entity])
        if entity == "Payment":
            return build_payment(self, source, entity_id, sync, meta)
        return self._build_txn(entity, source, entity_id, sync, meta)

    def _address(self, address: Any, element: str) -> dict[str, Any]:
        if not isinstance(address, dict):
            raise ApiFault.validation(
                400, "2010", "Request has invalid or unsupported property", element, element
            )
        result = dict(address)
        if "Id" not in result:
            result["Id"] = str(self._next_address_id)
            self._next_address_id += 1
        return result

    def _build_customer(
        self, source: dict[str, Any], entity_id: str, sync: str, meta: dict[str, str]
    ) -> dict[str, Any]:
        parts = [source.get(k) for k in ("Title", "GivenName", "MiddleName", "FamilyName")]
        derived = " ".join(str(p).strip() for p in parts if p) or source.get("CompanyName")
        display = str(source.get("DisplayName") or derived or "").strip()
        if not display:
            raise required("DisplayName (or GivenName, FamilyName or CompanyName)")
        if len(display) > DISPLAY_NAME_MAX:
            raise too_long("DisplayName", DISPLAY_NAME_MAX, len(display))
        if ":" in display:
            raise business("Names can't contain a colon (:).", "DisplayName")
        for other_id, other in self.docs["Customer"].items():
            if other_id != entity_id and other["DisplayName"].casefold() == display.casefold():
                raise duplicate_name("customer, vendor or employee", other_id)
        current = self.docs["Customer"].get(entity_id)
        fixed = current["CurrencyRef"]["value"] if current else self.currencies.home
        currency = self.currencies.usable(source.get("CurrencyRef"), fixed)
        if current is not None and currency != fixed:
            raise business(
                f"You can't change the currency of a customer ({fixed}) once it is set; "
                "create a new customer in the other currency.",
                "CurrencyRef",
            )
        doc: dict[str, Any] = {"Id": entity_id, "SyncToken": sync, "MetaData": meta}
        doc.update(source)
        for key in ("BillAddr", "ShipAddr"):
            if key in source:
                doc[key] = self._address(source[key], key)
        doc.update(
            {
                "DisplayName": display,
                "FullyQualifiedName": display,
                "PrintOnCheckName": source.get("PrintOnCheckName", display),
                "Active": source.get("Active", True) is not False,
                "Taxable": source.get("Taxable", self.setup.partner_tax),
                "Job": False,
                "BillWithParent": False,
                "Balance": current["Balance"] if current else Decimal("0.00"),
                "BalanceWithJobs": current["Balance"] if current else Decimal("0.00"),
                "CurrencyRef": self.currencies.ref(currency),
                "PreferredDeliveryMethod": source.get("PreferredDeliveryMethod", "Print"),
                "domain": "QBO",
                "sparse": False,
            }
        )
        return doc

    def _account_ref(self, source: dict[str, Any], element: str) -> dict[str, str]:
        account = active_ref(self.docs["Account"], source.get(element), element)
        return {"value": account["Id"], "name": account["Name"]}

    def _build_item(
        self, source: dict[str, Any], entity_id: str, sync: str, meta: dict[str, str]
    ) -> dict[str, Any]:
        name = str(source.get("Name") or "").strip()
        if not name:
            raise required("Name", "Name")
        if len(name) > 100:
            raise too_long("Name", 100, len(name))
        if ":" in name:
            raise business("Names can't contain a colon (:).", "Name")
        for other_id, other in self.docs["Item"].items():
            if other_id != entity_id and other["Name"].casefold() == name.casefold():
                raise duplicate_name("product or service", other_id)
        item_type = source.get("Type", "NonInventory")
        if item_type not in ITEM_TYPES:
            raise invalid_enumeration(str(item_type), "Type")
        doc: dict[str, Any] = {"Id": entity_id, "SyncToken": sync, "MetaData": meta}
        doc.update(source)
        parent = self._item_parent(source, entity_id, item_type)
        qualified = f"{parent['FullyQualifiedName']}:{name}" if parent else name
        doc["SubItem"] = parent is not None
        doc["Level"] = parent["Level"] + 1 if parent else 0
        if parent is not None:
            doc["ParentRef"] = {"value": parent["Id"], "name": parent["Name"]}
        if item_type == "Category":
            # A category only groups items: QBO refuses what would make it sellable.
            for refused in CATEGORY_REFUSES:
                if source.get(refused) not in (None, 0, "0", False):
                    raise business(
                        f"A category can't have {refused}: only products and services have "
                        "prices, accounts and quantities.",
                        refused,
                    )
            doc.update(
                {
                    "Name": name,
                    "FullyQualifiedName": qualified,
                    "Type": item_type,
                    "Active": source.get("Active", True) is not False,
                    "domain": "QBO",
                    "sparse": False,
                }
            )
            return doc
        doc["IncomeAccountRef"] = self._account_ref(source, "IncomeAccountRef")
        if item_type == "Inventory":
            doc["ExpenseAccountRef"] = self._account_ref(source, "ExpenseAccountRef")
            doc["AssetAccountRef"] = self._account_ref(source, "AssetAccountRef")
            for needed in ("QtyOnHand", "InvStartDate"):
                if needed not in source:
                    raise required(needed, needed)
            doc["QtyOnHand"] = money(source["QtyOnHand"], "QtyOnHand")
            doc["TrackQtyOnHand"] = True
        else:
            doc["TrackQtyOnHand"] = False
        doc.update(
            {
                "Name": name,
                "FullyQualifiedName": qualified,
                "Type": item_type,
                "Active": source.get("Active", True) is not False,
                "Taxable": source.get("Taxable", self.setup.partner_tax),
                "UnitPrice": money(source.get("UnitPrice", 0), "UnitPrice"),
                "domain": "QBO",
                "sparse": False,
            }
        )
        return doc

    def _item_parent(
        self, source: dict[str, Any], entity_id: str, item_type: str
    ) -> dict[str, Any] | None:
        """The category or item ``ParentRef`` names (a category's parent is a category)."""
        if source.get("ParentRef") is None:
            return None
        parent = active_ref(self.docs["Item"], source["ParentRef"], "ParentRef")
        if item_type == "Category" and parent["Type"] != "Category":
            raise business("A category's parent must be a category.", "ParentRef")
        ancestor: dict[str, Any] | None = parent
        while ancestor is not None:  # no item may sit under itself
            if ancestor["Id"] == entity_id:
                raise business("An item can't be its own parent.", "ParentRef")
            up = ref_code(ancestor.get("ParentRef"))
            ancestor = self.docs["Item"].get(up) if up else None
        return parent

    def refresh_item_paths(self, parent_id: str) -> None:
        """After a rename or move, QBO shows the new path in every item under it."""
        parent = self.docs["Item"][parent_id]
        for child in self.docs["Item"].values():
            if ref_code(child.get("ParentRef")) == parent_id:
                child["ParentRef"] = {"value": parent_id, "name": parent["Name"]}
                child["FullyQualifiedName"] = f"{parent['FullyQualifiedName']}:{child['Name']}"
                child["Level"] = parent["Level"] + 1
                self.refresh_item_paths(child["Id"])

    def _item_ref(self, ref: Any) -> dict[str, str]:
        ref_id = ref_code(ref)
        if ref_id is None:
            raise required("Line.SalesItemLineDetail.ItemRef", "ItemRef")
        if ref_id == "SHIPPING_ITEM_ID" and self.preferences["SalesFormsPrefs"]["AllowShipping"]:
            return {"value": ref_id}
        item = self.docs["Item"].get(ref_id)
        if item is None:
            raise invalid_reference("ItemRef", ref_id)
        if not item["Active"]:
            raise inactive_reference("ItemRef")
        if item["Type"] == "Category":
            raise business(f"{item['Name']} is a category; a sales line needs an item.", "ItemRef")
        return {"value": ref_id, "name": item["Name"]}

    def _tax_code(self, ref: Any) -> dict[str, Any] | None:
        ref_id = ref_code(ref)
        if ref_id is None:
            return None
        code = self.docs["TaxCode"].get(ref_id)
        if code is None:
            raise invalid_reference("TaxCodeRef", ref_id)
        if not code["Active"]:
            raise inactive_reference("TaxCodeRef")
        return code

    def _build_txn(
        self, entity: str, source: dict[str, Any], entity_id: str, sync: str, meta: dict[str, str]
    ) -> dict[str, Any]:
        """An Invoice, SalesReceipt, CreditMemo or RefundReceipt."""
        doc: dict[str, Any] = {"Id": entity_id, "SyncToken": sync, "MetaData": meta}
        doc.update(source)
        doc["domain"] = "QBO"
        doc["sparse"] = False
        customer_ref = source.get("CustomerRef")
        if customer_ref is None and entity in ("Invoice", "CreditMemo"):
            raise required("CustomerRef", "CustomerRef")
        customer_id = None
        if customer_ref is not None:
            doc["CustomerRef"] = self.customer_ref(customer_ref)
            customer_id = doc["CustomerRef"]["value"]
        self._check_doc_number(entity, source, entity_id, doc)
        self.check_common_text(source)
        parsed_date = self.txn_date(source, doc)
        if entity == "Invoice":
            # Due by the invoice's terms, else the company's default terms (Net 30).
            term = self.term(source.get("SalesTermRef") or {"value": "3"})
            doc["SalesTermRef"] = {"value": term["Id"], "name": term["Name"]}
            due = parsed_date + timedelta(days=int(term["DueDays"]))
            doc.setdefault("DueDate", due.isoformat())
            doc.setdefault("Deposit", Decimal("0"))
        currency, rate = self.txn_currency(source, customer_id, parsed_date)
        for key in ("BillAddr", "ShipAddr"):
            if key in source:
                doc[key] = self._address(source[key], key)
        if source.get("ClassRef") is not None:
            doc["ClassRef"] = self._class_ref(source["ClassRef"], per_line=False)
        self.check_department(source, doc)
        if source.get("PaymentMethodRef") is not None:
            doc["PaymentMethodRef"] = self.payment_method_ref(source["PaymentMethodRef"])
        ref_num = source.get("PaymentRefNum")
        if ref_num is not None and len(str(ref_num)) > PAYMENT_REF_MAX:
            raise too_long("PaymentRefNum", PAYMENT_REF_MAX, len(str(ref_num)))
        if entity in ("SalesReceipt", "RefundReceipt") or "DepositToAccountRef" in source:
            doc["DepositToAccountRef"] = self.deposit_account_ref(
                source, currency, needed=entity == "RefundReceipt"
            )
        self._lines_and_totals(entity, source, doc)
        self.currencies.stamp(doc, currency, rate, ("TotalAmt",))
        self._balance_fields(entity, entity_id, doc)
        doc.setdefault("PrintStatus", "NotSet")
        doc.setdefault("EmailStatus", "NotSet")
        doc.setdefault("ApplyTaxAfterDiscount", False)
        return doc

    def customer_ref(self, ref: Any) -> dict[str, str]:
        customer = active_ref(self.docs["Customer"], ref, "CustomerRef")
        return {"value": customer["Id"], "name": customer["DisplayName"]}

    def term(self, ref: Any) -> dict[str, Any]:
        return active_ref(self.docs["Term"], ref, "SalesTermRef")

    def payment_method_ref(self, ref: Any) -> dict[str, str]:
        method = active_ref(self.docs["PaymentMethod"], ref, "PaymentMethodRef")
        return {"value": method["Id"], "name": method["Name"]}

    def check_common_text(self, source: dict[str, Any]) -> None:
        note = source.get("PrivateNote")
        if isinstance(note, str) and len(note) > PRIVATE_NOTE_MAX:
            raise too_long("PrivateNote", PRIVATE_NOTE_MAX, len(note))

    def txn_date(self, source: dict[str, Any], doc: dict[str, Any]) -> date:
        """TxnDate as sent (else today in the company's time zone), written into ``doc``."""
        text = str(source.get("TxnDate") or local_date(self._clock()))
        try:
            parsed = date.fromisoformat(text)
        except ValueError:
            raise ApiFault.validation(
                400, "2040", "Invalid Date", f"Invalid date : {text}", "TxnDate"
            ) from None
        doc["TxnDate"] = text
        return parsed

    def txn_currency(
        self, source: dict[str, Any], customer_id: str | None, day: date
    ) -> tuple[str, Decimal]:
        """A transaction's currency (its customer's unless sent) and its ExchangeRate."""
        customer_currency = (
            self.docs["Customer"][customer_id]["CurrencyRef"]["value"]
            if customer_id is not None
            else self.currencies.home
        )
        currency = self.currencies.usable(source.get("CurrencyRef"), customer_currency)
        if customer_id is not None and currency != customer_currency:
            raise currency_mismatch(currency, customer_currency)
        return currency, self.currencies.txn_rate(currency, source.get("ExchangeRate"), day)

    def deposit_account_ref(
        self, source: dict[str, Any], currency: str, *, needed: bool
    ) -> dict[str, str]:
        """The Bank or Other Current Asset account money goes to (default Undeposited Funds)."""
        ref = source.get("DepositToAccountRef")
        if ref is None and needed:
            raise required("DepositToAccountRef", "DepositToAccountRef")
        if ref is None:
            account = next(
                a
                for a in self.docs["Account"].values()
                if a["AccountSubType"] == "UndepositedFunds"
            )
        else:
            account = active_ref(self.docs["Account"], ref, "DepositToAccountRef")
        if account["AccountType"] not in DEPOSIT_TYPES:
            raise business(
                f"Money can only be deposited to a Bank or Other Current Asset account, not to "
                f"{account['Name']} ({account['AccountType']}).",
                "DepositToAccountRef",
            )
        wrong_currency = self.currencies.deposit_allowed(account["CurrencyRef"]["value"], currency)
        if wrong_currency is not None:
            raise wrong_currency
        return {"value": account["Id"], "name": account["Name"]}

    def _tracking_on(self, preference: str, what: str, element: str) -> None:
        if not self.preferences["AccountingInfoPrefs"][preference]:
            raise business(
                f"{what} isn't turned on in this company's settings "
                f"(AccountingInfoPrefs.{preference} is false), so {element} can't be used.",
                element,
            )

    def _class_ref(self, ref: Any, *, per_line: bool) -> dict[str, str]:
        if per_line:
            self._tracking_on(
                "ClassTrackingPerTxnLine", "Assigning a class to each line", "ClassRef"
            )
        else:
            self._tracking_on(
                "ClassTrackingPerTxn", "Assigning a class to the transaction", "ClassRef"
            )
        entry = active_ref(self.docs["Class"], ref, "ClassRef")
        return {"value": entry["Id"], "name": entry["FullyQualifiedName"]}

    def check_department(self, source: dict[str, Any], doc: dict[str, Any]) -> None:
        if source.get("DepartmentRef") is None:
            return
        terminology = self.preferences["AccountingInfoPrefs"]["DepartmentTerminology"]
        self._tracking_on("TrackDepartments", f"{terminology} tracking", "DepartmentRef")
        entry = active_ref(self.docs["Department"], source["DepartmentRef"], "DepartmentRef")
        doc["DepartmentRef"] = {"value": entry["Id"], "name": entry["FullyQualifiedName"]}

    def _check_doc_number(
        self, entity: str, source: dict[str, Any], entity_id: str, doc: dict[str, Any]
    ) -> None:
        number = source.get("DocNumber")
        if number in (None, ""):
            if not self.preferences["SalesFormsPrefs"]["CustomTxnNumbers"]:
                doc["DocNumber"] = self._auto_number(entity)
            return
        number = str(number)
        if len(number) > DOC_NUMBER_MAX:
            raise too_long("DocNumber", DOC_NUMBER_MAX, len(number))
        for other_id, other in self.docs[entity].items():
            if other_id != entity_id and other.get("DocNumber") == number:
                raise ApiFault.validation(
                    400,
                    "6140",
                    "Duplicate Document Number Error",
                    "Duplicate Document Number Error : You must specify a different number. "
                    f"This number has already been used. DocNumber={number} is assigned to "
                    f"TxnType={TXN_TYPE_LABEL[entity]} with TxnId={other_id}",
                )
        doc["DocNumber"] = number

    def _auto_number(self, entity: str) -> str:
        taken = {d.get("DocNumber") for d in self.docs[entity].values()}
        while str(self._next_doc_number) in taken:
            self._next_doc_number += 1
        number = str(self._next_doc_number)
        self._next_doc_number += 1
        return number

    def _lines_and_totals(self, entity: str, source: dict[str, Any], doc: dict[str, Any]) -> None:
        raw_lines = source.get("Line")
        if not isinstance(raw_lines, list) or not raw_lines:
            raise required("Line", "Line")
        lines: list[dict[str, Any]] = []
        taxable: list[tuple[Decimal, dict[str, Any] | None]] = []
        discounts: list[dict[str, Any]] = []
        subtotal = Decimal("0")
        for raw in raw_lines:
            if not isinstance(raw, dict):
                raise required("Line.DetailType", "Line")
            for name in raw:
                if name not in LINE_FIELDS:
                    raise unsupported_property(name, "Line")
            kind = raw.get("DetailType")
            line = copy.deepcopy(raw)
            if kind == "SalesItemLineDetail":
                amount, code = self._sales_line(line)
                subtotal += amount
                taxable.append((amount, code))
            elif kind == "DiscountLineDetail":
                discounts.append(line)
            elif kind == "SubTotalLineDetail":
                continue  # QBO recomputes the subtotal line itself
            elif kind == "DescriptionOnly":
                line.setdefault("DescriptionLineDetail", {})
            elif kind is None:
                raise required("Line.DetailType", "DetailType")
            else:
                raise ApiFault.validation(
                    400,
                    "2170",
                    "Invalid Enumeration",
                    f"Invalid Enumeration : {kind} is not supported on {entity} in this company",
                    "DetailType",
                )
            lines.append(line)
        discount_total = Decimal("0")
        for line in discounts:
            detail = line.setdefault("DiscountLineDetail", {})
            if detail.get("PercentBased"):
                percent = money(detail.get("DiscountPercent"), "DiscountPercent")
                line["Amount"] = cents(subtotal * percent / 100)
            elif "Amount" not in line:
                raise required("Line.Amount", "Amount")
            else:
                line["Amount"] = cents(money(line["Amount"], "Amount"))
            discount_total += line["Amount"]
        if discounts and discount_total > subtotal:
            raise business("The discount can't be more than the subtotal.", "DiscountLineDetail")
        for index, line in enumerate(lines, start=1):
            line["Id"] = str(index)
            line["LineNum"] = index
        lines.append(
            {
                "Amount": cents(subtotal),
                "DetailType": "SubTotalLineDetail",
                "SubTotalLineDetail": {},
            }
        )
        doc["Line"] = lines
        total_tax, tax_lines = self._tax(source, taxable, subtotal, discount_total, doc)
        # Line Amounts are net of tax under TaxInclusive too: tax is always added.
        total = subtotal - discount_total + total_tax
        tax_detail = {k: v for k, v in (source.get("TxnTaxDetail") or {}).items() if k != "TaxLine"}
        tax_detail["TotalTax"] = cents(total_tax)
        if tax_lines:
            tax_detail["TaxLine"] = tax_lines
        doc["TxnTaxDetail"] = tax_detail
        if total < 0:
            # A line may be negative on a sales form (a discount, a fee kept back from a
            # refund); the form's total may not.
            raise business(
                f"The {TXN_TYPE_LABEL.get(entity, entity).lower()} total can't be negative.",
                "TotalAmt",
            )
        doc["TotalAmt"] = cents(total)

    def _sales_line(self, line: dict[str, Any]) -> tuple[Decimal, dict[str, Any] | None]:
        detail = line.get("SalesItemLineDetail")
        if not isinstance(detail, dict):
            raise required("Line.SalesItemLineDetail", "SalesItemLineDetail")
        if "Amount" not in line:
            raise required("Line.Amount", "Amount")
        amount = money(line["Amount"], "Amount")
        detail["ItemRef"] = self._item_ref(detail.get("ItemRef"))
        qty = money(detail["Qty"], "Qty") if "Qty" in detail else None
        price = money(detail["UnitPrice"], "UnitPrice") if "UnitPrice" in detail else None
        if qty is not None and price is not None and cents(qty * price) != cents(amount):
            raise ApiFault.validation(
                400,
                "6070",
                "Amount is not equal to UnitPrice * Qty",
                f"Amount is not equal to UnitPrice * Qty. Supplied value:{amount}",
                "Amount",
            )
        line["Amount"] = cents(amount)
        if detail.get("ClassRef") is not None:
            detail["ClassRef"] = self._class_ref(detail["ClassRef"], per_line=True)
        code = self._tax_code(detail.get("TaxCodeRef"))
        if code is not None:
            detail["TaxCodeRef"] = {"value": code["Id"]}
        return cents(amount), code

    def _tax(
        self,
        source: dict[str, Any],
        taxable: list[tuple[Decimal, dict[str, Any] | None]],
        subtotal: Decimal,
        discount: Decimal,
        doc: dict[str, Any],
    ) -> tuple[Decimal, list[dict[str, Any]]]:
        detail = source.get("TxnTaxDetail") or {}
        if not isinstance(detail, dict):
            raise unsupported_property("TxnTaxDetail", "Transaction")
        if not self.setup.partner_tax:
            doc["GlobalTaxCalculation"] = source.get("GlobalTaxCalculation", "TaxExcluded")
            if doc["GlobalTaxCalculation"] not in ("TaxExcluded", "TaxInclusive", "NotApplicable"):
                raise ApiFault.validation(
                    400,
                    "2170",
                    "Invalid Enumeration",
                    f"Invalid Enumeration : {doc['GlobalTaxCalculation']}",
                    "GlobalTaxCalculation",
                )
        if self.setup.partner_tax:
            # US automated sales tax: QBO keeps the TotalTax sent (the connector's override).
            if "TotalTax" in detail:
                return money(detail["TotalTax"], "TotalTax"), list(detail.get("TaxLine") or [])
            return Decimal("0"), []
        if doc["GlobalTaxCalculation"] == "NotApplicable":
            return Decimal("0"), []
        if any(code is None for _, code in taxable):
            raise business(
                "Make sure all your transactions have a GST/VAT rate before you save.",
                "TaxCodeRef",
            )
        # QBO computes the tax itself (a bare TotalTax is not kept); TaxLine sets it per rate.
        return qbo_tax.tax_lines(
            self.docs["TaxRate"],
            taxable,
            subtotal,
            discount,
            inclusive=doc["GlobalTaxCalculation"] == "TaxInclusive",
            sent=detail.get("TaxLine"),
        )

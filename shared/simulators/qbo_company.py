"""The books of one simulated QuickBooks Online company: entities, validation and totals.

Validation follows what QBO enforces and the connector must cope with: required references
that exist and are active, unique names, DocNumber length and uniqueness, SyncToken
concurrency, and totals computed by QBO (tax per code for non-US companies, the sent
TotalTax for US automated sales tax). Not thread-safe by itself; the simulator holds a lock.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from simulators import qbo_query
from simulators.qbo_faults import ApiFault, SimError, stale_object
from simulators.qbo_wire import local_date, timestamp

CENT = Decimal("0.01")
TRANSACTIONS = ("Invoice", "SalesReceipt")
WRITABLE = ("Customer", "Item", *TRANSACTIONS)
QUERYABLE = ("Customer", "Item", "Invoice", "SalesReceipt", "Account", "TaxCode", "TaxRate")
TXN_TYPE_LABEL = {"Invoice": "Invoice", "SalesReceipt": "Sales Receipt"}
DOC_NUMBER_MAX = 21
PRIVATE_NOTE_MAX = 4000
DISPLAY_NAME_MAX = 500

_COMMON = "Id SyncToken MetaData CustomField AttachableRef domain sparse"
_TXN_FIELDS = (
    f"{_COMMON} DocNumber TxnDate DepartmentRef CurrencyRef ExchangeRate PrivateNote TxnStatus "
    "LinkedTxn Line TxnTaxDetail TxnSource TransactionLocationType ProjectRef AutoDocNumber "
    "CustomerRef CustomerMemo BillAddr ShipAddr FreeFormAddress ShipFromAddr ClassRef "
    "SalesTermRef DueDate SalesRepRef PONumber FOB ShipMethodRef ShipDate TrackingNum "
    "GlobalTaxCalculation TotalAmt HomeTotalAmt ApplyTaxAfterDiscount "
    "ShippingTaxIncludedInTotalTax TemplateRef PrintStatus EmailStatus BillEmail BillEmailCc "
    "BillEmailBcc ARAccountRef Balance HomeBalance PaymentMethodRef PaymentRefNum PaymentType "
    "CreditCardPayment DepositToAccountRef DeliveryInfo DiscountRate DiscountAmt "
    "TaxExemptionRef"
)
ALLOWED_FIELDS: dict[str, frozenset[str]] = {
    "Invoice": frozenset(
        (
            f"{_TXN_FIELDS} Deposit AllowIPNPayment AllowOnlinePayment "
            "AllowOnlineCreditCardPayment AllowOnlineACHPayment"
        ).split()
    ),
    "SalesReceipt": frozenset(_TXN_FIELDS.split()),
    "Customer": frozenset(
        (
            f"{_COMMON} Title GivenName MiddleName FamilyName Suffix FullyQualifiedName "
            "CompanyName DisplayName PrintOnCheckName Active PrimaryPhone AlternatePhone Mobile "
            "Fax PrimaryEmailAddr WebAddr DefaultTaxCodeRef Taxable BillAddr ShipAddr Notes Job "
            "BillWithParent ParentRef Level SalesTermRef PaymentMethodRef Balance "
            "OpenBalanceDate BalanceWithJobs CurrencyRef PreferredDeliveryMethod ResaleNum "
            "TaxExemptionReasonId PrimaryTaxIdentifier"
        ).split()
    ),
    "Item": frozenset(
        (
            f"{_COMMON} Name Sku Description Active SubItem ParentRef Level FullyQualifiedName "
            "Taxable SalesTaxIncluded UnitPrice Type IncomeAccountRef PurchaseDesc "
            "PurchaseTaxIncluded PurchaseCost ExpenseAccountRef AssetAccountRef TrackQtyOnHand "
            "QtyOnHand SalesTaxCodeRef PurchaseTaxCodeRef InvStartDate ClassRef"
        ).split()
    ),
}
LINE_FIELDS = frozenset(
    [
        "Id",
        "LineNum",
        "Description",
        "Amount",
        "DetailType",
        "SalesItemLineDetail",
        "DiscountLineDetail",
        "SubTotalLineDetail",
        "DescriptionLineDetail",
        "GroupLineDetail",
        "LinkedTxn",
        "CustomField",
    ]
)
# Output-only fields QBO computes; a full (non-sparse) update may echo them back.
_DERIVED = {"Id", "SyncToken", "MetaData", "domain", "sparse", "TotalAmt", "Balance", "HomeBalance"}


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
        (("1", "GST", "5"), ("2", "HST ON", "13"), ("3", "Exempt", "0")),
        (("2", "GST", ("1",)), ("3", "HST ON", ("2",)), ("4", "Exempt", ("3",))),
    ),
    "AU": CountrySetup(
        "AUD",
        "Australian Dollar",
        False,
        (("1", "GST (sales)", "10"), ("2", "GST free (sales)", "0")),
        (("2", "GST", ("1",)), ("3", "GST free", ("2",))),
    ),
}

_ACCOUNTS = (
    ("1", "Sales of Product Income", "Income", "SalesOfProductIncome"),
    ("2", "Services", "Income", "ServiceFeeIncome"),
    ("3", "Shipping Income", "Income", "OtherPrimaryIncome"),
    ("4", "Discounts given", "Income", "DiscountsRefundsGiven"),
    ("5", "Undeposited Funds", "Other Current Asset", "UndepositedFunds"),
    ("6", "Inventory Asset", "Other Current Asset", "Inventory"),
    ("7", "Cost of Goods Sold", "Cost of Goods Sold", "SuppliesMaterialsCogs"),
)
_ITEMS = (
    ("1", "Services", "Service", "2", True),
    ("2", "Sales", "NonInventory", "1", True),
    ("3", "Shipping", "Service", "3", True),
    ("4", "Discontinued Widget", "NonInventory", "1", False),
)


def _required(name: str, element: str = "") -> ApiFault:
    return ApiFault.validation(
        400,
        "2020",
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {name} is missing in the request",
        element,
    )


def _business(detail: str, element: str = "") -> ApiFault:
    return ApiFault.validation(
        400,
        "6000",
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {detail}",
        element,
    )


def _too_long(element: str, limit: int, supplied: int) -> ApiFault:
    return ApiFault.validation(
        400,
        "2050",
        "String length is either shorter or longer than supported by specification",
        f"String length specified does not match the supported length. "
        f"Min:0 Max:{limit} supplied length:{supplied}",
        element,
    )


def _unsupported_property(name: str, entity: str) -> ApiFault:
    return ApiFault.validation(
        400,
        "2010",
        "Request has invalid or unsupported property",
        f'Property Name:Unrecognized field "{name}" (class com.intuit.schema.finance.v3.{entity}), '
        "not marked as ignorable specified is unsupported or invalid",
    )


def _invalid_reference(element: str, ref_id: str) -> ApiFault:
    return ApiFault.validation(
        400,
        "2500",
        "Invalid Reference Id",
        f"Invalid Reference Id : {element} id {ref_id} does not exist",
        element,
    )


def _inactive_reference(element: str) -> ApiFault:
    return ApiFault.validation(
        400,
        "610",
        "Object Not Found",
        "Object Not Found : Something you're trying to use has been made inactive. "
        "Check the fields with accounts, customers, items, vendors or employees.",
        element,
    )


def object_not_found(entity: str, entity_id: str) -> ApiFault:
    return ApiFault.validation(
        400,
        "610",
        "Object Not Found",
        f"Object Not Found : Something you're trying to use has been made inactive. "
        f"Check the fields with accounts, customers, items, vendors or employees. "
        f"({entity} Id {entity_id})",
    )


def unsupported_operation(detail: str) -> ApiFault:
    return ApiFault.validation(400, "500", "Unsupported Operation", detail)


def money(value: Any, element: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ApiFault.validation(
            400, "2090", "Invalid Number", f"Invalid number: {value!r}", element
        )
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ApiFault.validation(
            400, "2090", "Invalid Number", f"Invalid number: {value!r}", element
        ) from None
    if not amount.is_finite():
        raise ApiFault.validation(
            400, "2090", "Invalid Number", f"Invalid number: {value}", element
        )
    return amount


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _ref_id(ref: Any) -> str | None:
    if isinstance(ref, dict):
        value = ref.get("value")
        return None if value in (None, "") else str(value)
    if isinstance(ref, str | int) and not isinstance(ref, bool):
        return str(ref)
    return None


class Company:
    """Documents by entity and Id, plus the raw fields each was written with."""

    def __init__(
        self,
        *,
        realm_id: str,
        country: str,
        clock: Callable[[], float],
        allow_shipping: bool = False,
        custom_txn_numbers: bool = True,
    ) -> None:
        if country not in COUNTRIES:
            raise ValueError(f"no simulated setup for country {country!r}: {sorted(COUNTRIES)}")
        self.realm_id = realm_id
        self.country = country
        self.setup = COUNTRIES[country]
        self._clock = clock
        self.docs: dict[str, dict[str, dict[str, Any]]] = {e: {} for e in QUERYABLE}
        # What the caller sent (merged over sparse updates): documents are rebuilt from it.
        self._sources: dict[str, dict[str, dict[str, Any]]] = {e: {} for e in WRITABLE}
        self._voided: set[tuple[str, str]] = set()
        self._next_id: dict[str, int] = {}
        self._next_doc_number = 1001
        self._next_address_id = 1
        self._seed()
        self.preferences = self._preferences(allow_shipping, custom_txn_numbers)

    # -- seeding -------------------------------------------------------------------------

    def _meta(self) -> dict[str, str]:
        now = timestamp(self._clock())
        return {"CreateTime": now, "LastUpdatedTime": now}

    def _seed(self) -> None:
        for acc_id, name, acc_type, sub_type in _ACCOUNTS:
            self.docs["Account"][acc_id] = {
                "Id": acc_id,
                "SyncToken": "0",
                "MetaData": self._meta(),
                "Name": name,
                "FullyQualifiedName": name,
                "Active": True,
                "Classification": "Revenue" if acc_type == "Income" else "Asset",
                "AccountType": acc_type,
                "AccountSubType": sub_type,
                "CurrentBalance": Decimal("0"),
                "CurrencyRef": self._currency_ref(),
                "domain": "QBO",
                "sparse": False,
            }
        self._next_id["Account"] = len(_ACCOUNTS) + 1
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
        self._next_id["Item"] = 1
        for item_id, name, item_type, account_id, active in _ITEMS:
            self._sources["Item"][item_id] = {
                "Name": name,
                "Type": item_type,
                "IncomeAccountRef": {"value": account_id},
                "Active": active,
            }
            self.docs["Item"][item_id] = self._build_item(
                self._sources["Item"][item_id], item_id, "0", self._meta()
            )
        self._next_id["Item"] = len(_ITEMS) + 1

    def _preferences(self, allow_shipping: bool, custom_txn_numbers: bool) -> dict[str, Any]:
        tax_prefs: dict[str, Any] = {"UsingSalesTax": True}
        if self.setup.partner_tax:
            tax_prefs["PartnerTaxEnabled"] = True
        else:
            tax_prefs["PartnerTaxEnabled"] = False
        return {
            "Id": "1",
            "SyncToken": "0",
            "MetaData": self._meta(),
            "AccountingInfoPrefs": {
                "TrackDepartments": False,
                "ClassTrackingPerTxn": False,
                "ClassTrackingPerTxnLine": False,
                "CustomerTerminology": "Customers",
            },
            "SalesFormsPrefs": {
                "CustomTxnNumbers": custom_txn_numbers,
                "AllowShipping": allow_shipping,
                "AllowDiscount": True,
                "AllowDeposit": False,
                "DefaultTerms": {"value": "3"},
            },
            "TaxPrefs": tax_prefs,
            "CurrencyPrefs": {
                "MultiCurrencyEnabled": False,
                "HomeCurrency": {"value": self.setup.currency},
            },
            "domain": "QBO",
            "sparse": False,
        }

    def _currency_ref(self) -> dict[str, str]:
        return {"value": self.setup.currency, "name": self.setup.currency_name}

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
        self._sources[entity][entity_id] = source
        self.docs[entity][entity_id] = doc
        return copy.deepcopy(doc)

    def _give_back_id(self, entity: str) -> None:
        key = "Txn" if entity in TRANSACTIONS else entity
        self._next_id[key] -= 1

    def update(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        entity_id, current = self._current(entity, body)
        if (entity, entity_id) in self._voided:
            raise _business("You can't edit a voided transaction.")
        incoming = self._clean(entity, body)
        sparse = body.get("sparse") is True
        source = {**self._sources[entity][entity_id], **incoming} if sparse else incoming
        meta = {**current["MetaData"], "LastUpdatedTime": timestamp(self._clock())}
        doc = self._build(entity, source, entity_id, str(int(current["SyncToken"]) + 1), meta)
        self._sources[entity][entity_id] = source
        self.docs[entity][entity_id] = doc
        return copy.deepcopy(doc)

    def void(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        if entity not in TRANSACTIONS:
            raise unsupported_operation(f"Operation void is not supported for {entity}.")
        entity_id, current = self._current(entity, body)
        doc = copy.deepcopy(current)
        for line in doc["Line"]:
            if "Amount" in line:
                line["Amount"] = Decimal("0.00")
            detail = line.get("SalesItemLineDetail")
            if isinstance(detail, dict) and "Qty" in detail:
                detail["Qty"] = Decimal("0")
        doc["TotalAmt"] = Decimal("0.00")
        doc["Balance"] = Decimal("0.00")
        doc["TxnTaxDetail"] = {**doc.get("TxnTaxDetail", {}), "TotalTax": Decimal("0.00")}
        doc["TxnTaxDetail"].pop("TaxLine", None)
        note = current.get("PrivateNote")
        doc["PrivateNote"] = f"Voided - {note}" if note else "Voided"
        doc["SyncToken"] = str(int(current["SyncToken"]) + 1)
        doc["MetaData"] = {**current["MetaData"], "LastUpdatedTime": timestamp(self._clock())}
        self._voided.add((entity, entity_id))
        self.docs[entity][entity_id] = doc
        return copy.deepcopy(doc)

    def delete(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        if entity not in TRANSACTIONS:
            raise unsupported_operation(
                f"Operation Delete is not supported for {entity}; make it inactive instead."
            )
        entity_id, _ = self._current(entity, body)
        del self.docs[entity][entity_id]
        del self._sources[entity][entity_id]
        self._voided.discard((entity, entity_id))
        return {"status": "Deleted", "domain": "QBO", "Id": entity_id}

    def set_active(self, entity: str, entity_id: str, active: bool) -> dict[str, Any]:
        """A bookkeeper (de)activating a customer or item in the QBO screens."""
        current = self.read(entity, entity_id)
        return self.update(
            entity,
            {"Id": entity_id, "SyncToken": current["SyncToken"], "sparse": True, "Active": active},
        )

    def _current(self, entity: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        entity_id = _ref_id(body.get("Id"))
        if entity_id is None:
            raise _required("Id", "Id")
        current = self.docs[entity].get(entity_id)
        if current is None:
            raise object_not_found(entity, entity_id)
        if "SyncToken" not in body:
            raise _required("SyncToken", "SyncToken")
        if str(body["SyncToken"]) != current["SyncToken"]:
            raise stale_object()
        return entity_id, current

    def _clean(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        allowed = ALLOWED_FIELDS[entity]
        for name in body:
            if name not in allowed:
                raise _unsupported_property(name, entity)
        return {k: copy.deepcopy(v) for k, v in body.items() if k not in _DERIVED}

    # -- building documents --------------------------------------------------------------

    def _build(
        self, entity: str, source: dict[str, Any], entity_id: str, sync: str, meta: dict[str, str]
    ) -> dict[str, Any]:
        if entity == "Customer":
            return self._build_customer(source, entity_id, sync, meta)
        if entity == "Item":
            return self._build_item(source, entity_id, sync, meta)
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
            raise _required("DisplayName (or GivenName, FamilyName or CompanyName)")
        if len(display) > DISPLAY_NAME_MAX:
            raise _too_long("DisplayName", DISPLAY_NAME_MAX, len(display))
        if ":" in display:
            raise _business("Names can't contain a colon (:).", "DisplayName")
        for other_id, other in self.docs["Customer"].items():
            if other_id != entity_id and other["DisplayName"].casefold() == display.casefold():
                raise ApiFault(
                    400,
                    "ValidationFault",
                    [
                        SimError(
                            "6240",
                            "Duplicate Name Exists Error",
                            "The name supplied already exists. : Another customer, vendor or "
                            f"employee is already using this name (Id={other_id}). "
                            "Please use a different name.",
                        )
                    ],
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
                "Balance": Decimal("0.00") + self._customer_balance(entity_id),
                "CurrencyRef": self._currency_ref(),
                "PreferredDeliveryMethod": source.get("PreferredDeliveryMethod", "Print"),
                "domain": "QBO",
                "sparse": False,
            }
        )
        return doc

    def _customer_balance(self, customer_id: str) -> Decimal:
        return sum(
            (
                d["Balance"]
                for d in self.docs["Invoice"].values()
                if d.get("CustomerRef", {}).get("value") == customer_id
            ),
            Decimal("0.00"),
        )

    def _account_ref(self, source: dict[str, Any], element: str) -> dict[str, str]:
        ref = _ref_id(source.get(element))
        if ref is None:
            raise _required(element, element)
        account = self.docs["Account"].get(ref)
        if account is None:
            raise _invalid_reference(element, ref)
        if not account["Active"]:
            raise _inactive_reference(element)
        return {"value": ref, "name": account["Name"]}

    def _build_item(
        self, source: dict[str, Any], entity_id: str, sync: str, meta: dict[str, str]
    ) -> dict[str, Any]:
        name = str(source.get("Name") or "").strip()
        if not name:
            raise _required("Name", "Name")
        if len(name) > 100:
            raise _too_long("Name", 100, len(name))
        if ":" in name:
            raise _business("Names can't contain a colon (:).", "Name")
        for other_id, other in self.docs["Item"].items():
            if other_id != entity_id and other["Name"].casefold() == name.casefold():
                raise ApiFault(
                    400,
                    "ValidationFault",
                    [
                        SimError(
                            "6240",
                            "Duplicate Name Exists Error",
                            "The name supplied already exists. : Another product or service is "
                            f"already using this name (Id={other_id}). Please use a different name.",
                        )
                    ],
                )
        item_type = source.get("Type", "NonInventory")
        if item_type not in ("Service", "NonInventory", "Inventory"):
            raise ApiFault.validation(
                400,
                "2170",
                "Invalid Enumeration",
                f"Invalid Enumeration : {item_type}",
                "Type",
            )
        doc: dict[str, Any] = {"Id": entity_id, "SyncToken": sync, "MetaData": meta}
        doc.update(source)
        doc["IncomeAccountRef"] = self._account_ref(source, "IncomeAccountRef")
        if item_type == "Inventory":
            doc["ExpenseAccountRef"] = self._account_ref(source, "ExpenseAccountRef")
            doc["AssetAccountRef"] = self._account_ref(source, "AssetAccountRef")
            for required in ("QtyOnHand", "InvStartDate"):
                if required not in source:
                    raise _required(required, required)
            doc["TrackQtyOnHand"] = True
        else:
            doc["TrackQtyOnHand"] = False
        doc.update(
            {
                "Name": name,
                "FullyQualifiedName": name,
                "Type": item_type,
                "Active": source.get("Active", True) is not False,
                "Taxable": source.get("Taxable", self.setup.partner_tax),
                "UnitPrice": money(source.get("UnitPrice", 0), "UnitPrice"),
                "domain": "QBO",
                "sparse": False,
            }
        )
        return doc

    def _item_ref(self, ref: Any) -> dict[str, str]:
        ref_id = _ref_id(ref)
        if ref_id is None:
            raise _required("Line.SalesItemLineDetail.ItemRef", "ItemRef")
        if ref_id == "SHIPPING_ITEM_ID" and self.preferences["SalesFormsPrefs"]["AllowShipping"]:
            return {"value": ref_id}
        item = self.docs["Item"].get(ref_id)
        if item is None:
            raise _invalid_reference("ItemRef", ref_id)
        if not item["Active"]:
            raise _inactive_reference("ItemRef")
        return {"value": ref_id, "name": item["Name"]}

    def _tax_code(self, ref: Any) -> dict[str, Any] | None:
        ref_id = _ref_id(ref)
        if ref_id is None:
            return None
        code = self.docs["TaxCode"].get(ref_id)
        if code is None:
            raise _invalid_reference("TaxCodeRef", ref_id)
        if not code["Active"]:
            raise _inactive_reference("TaxCodeRef")
        return code

    def _build_txn(
        self, entity: str, source: dict[str, Any], entity_id: str, sync: str, meta: dict[str, str]
    ) -> dict[str, Any]:
        doc: dict[str, Any] = {"Id": entity_id, "SyncToken": sync, "MetaData": meta}
        doc.update(source)
        doc["domain"] = "QBO"
        doc["sparse"] = False
        customer_ref = source.get("CustomerRef")
        if customer_ref is None and entity == "Invoice":
            raise _required("CustomerRef", "CustomerRef")
        if customer_ref is not None:
            doc["CustomerRef"] = self._customer_ref(customer_ref)
        self._check_doc_number(entity, source, entity_id, doc)
        note = source.get("PrivateNote")
        if isinstance(note, str) and len(note) > PRIVATE_NOTE_MAX:
            raise _too_long("PrivateNote", PRIVATE_NOTE_MAX, len(note))
        txn_date = str(source.get("TxnDate") or local_date(self._clock()))
        try:
            parsed_date = date.fromisoformat(txn_date)
        except ValueError:
            raise ApiFault.validation(
                400, "2040", "Invalid Date", f"Invalid date : {txn_date}", "TxnDate"
            ) from None
        doc["TxnDate"] = txn_date
        if entity == "Invoice":
            doc.setdefault("DueDate", (parsed_date + timedelta(days=30)).isoformat())
            doc.setdefault("Deposit", Decimal("0"))
        doc["CurrencyRef"] = self._currency_ref()
        for key in ("BillAddr", "ShipAddr"):
            if key in source:
                doc[key] = self._address(source[key], key)
        self._lines_and_totals(entity, source, doc)
        doc.setdefault("PrintStatus", "NotSet")
        doc.setdefault("EmailStatus", "NotSet")
        doc.setdefault("ApplyTaxAfterDiscount", False)
        return doc

    def _customer_ref(self, ref: Any) -> dict[str, str]:
        ref_id = _ref_id(ref)
        if ref_id is None:
            raise _required("CustomerRef", "CustomerRef")
        customer = self.docs["Customer"].get(ref_id)
        if customer is None:
            raise _invalid_reference("CustomerRef", ref_id)
        if not customer["Active"]:
            raise _inactive_reference("CustomerRef")
        return {"value": ref_id, "name": customer["DisplayName"]}

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
            raise _too_long("DocNumber", DOC_NUMBER_MAX, len(number))
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
            raise _required("Line", "Line")
        lines: list[dict[str, Any]] = []
        taxable: list[tuple[Decimal, dict[str, Any] | None]] = []
        discounts: list[dict[str, Any]] = []
        subtotal = Decimal("0")
        for raw in raw_lines:
            if not isinstance(raw, dict):
                raise _required("Line.DetailType", "Line")
            for name in raw:
                if name not in LINE_FIELDS:
                    raise _unsupported_property(name, "Line")
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
                raise _required("Line.DetailType", "DetailType")
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
                raise _required("Line.Amount", "Amount")
            else:
                line["Amount"] = cents(money(line["Amount"], "Amount"))
            discount_total += line["Amount"]
        if discount_total > subtotal:
            raise _business("The discount can't be more than the subtotal.", "DiscountLineDetail")
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
        inclusive = doc.get("GlobalTaxCalculation") == "TaxInclusive"
        total = subtotal - discount_total + (Decimal("0") if inclusive else total_tax)
        tax_detail = {k: v for k, v in (source.get("TxnTaxDetail") or {}).items() if k != "TaxLine"}
        tax_detail["TotalTax"] = cents(total_tax)
        if tax_lines:
            tax_detail["TaxLine"] = tax_lines
        doc["TxnTaxDetail"] = tax_detail
        doc["TotalAmt"] = cents(total)
        doc["Balance"] = cents(total) if entity == "Invoice" else Decimal("0.00")

    def _sales_line(self, line: dict[str, Any]) -> tuple[Decimal, dict[str, Any] | None]:
        detail = line.get("SalesItemLineDetail")
        if not isinstance(detail, dict):
            raise _required("Line.SalesItemLineDetail", "SalesItemLineDetail")
        if "Amount" not in line:
            raise _required("Line.Amount", "Amount")
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
            raise _unsupported_property("TxnTaxDetail", "Transaction")
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
        if "TotalTax" in detail:
            # US automated sales tax (and overrides elsewhere): QBO keeps the amount sent.
            return money(detail["TotalTax"], "TotalTax"), list(detail.get("TaxLine") or [])
        if self.setup.partner_tax or doc["GlobalTaxCalculation"] == "NotApplicable":
            return Decimal("0"), []
        if any(code is None for _, code in taxable):
            raise _business(
                "Make sure all your transactions have a GST/VAT rate before you save.",
                "TaxCodeRef",
            )
        # A discount lowers every line's taxable amount in proportion.
        ratio = (subtotal - discount) / subtotal if subtotal else Decimal("0")
        bases: dict[str, Decimal] = {}
        for amount, code in taxable:
            assert code is not None
            for rate_detail in code["SalesTaxRateList"]["TaxRateDetail"]:
                rate_id = rate_detail["TaxRateRef"]["value"]
                bases[rate_id] = bases.get(rate_id, Decimal("0")) + amount * ratio
        inclusive = doc["GlobalTaxCalculation"] == "TaxInclusive"
        total = Decimal("0")
        tax_lines: list[dict[str, Any]] = []
        for rate_id, base in bases.items():
            percent = self.docs["TaxRate"][rate_id]["RateValue"]
            if inclusive:
                tax = cents(base - base / (1 + percent / 100))
                net = cents(base) - tax
            else:
                tax = cents(base * percent / 100)
                net = cents(base)
            total += tax
            tax_lines.append(
                {
                    "Amount": tax,
                    "DetailType": "TaxLineDetail",
                    "TaxLineDetail": {
                        "TaxRateRef": {"value": rate_id},
                        "PercentBased": True,
                        "TaxPercent": percent,
                        "NetAmountTaxable": net,
                    },
                }
            )
        return total, tax_lines

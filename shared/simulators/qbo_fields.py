"""Which fields the simulated QBO accepts on each entity it writes (after Finance.xsd).

A field not listed is refused with 2010, as QBO refuses an unrecognised property; DERIVED
fields are computed by QBO, so a full update that echoes them back has them ignored.
"""

from __future__ import annotations

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
    "CreditMemo": frozenset(f"{_TXN_FIELDS} RemainingCredit InvoiceRef".split()),
    "RefundReceipt": frozenset(f"{_TXN_FIELDS} RemainingCredit".split()),
    "Payment": frozenset(
        (
            f"{_COMMON} DocNumber TxnDate DepartmentRef CurrencyRef ExchangeRate PrivateNote "
            "TxnStatus LinkedTxn Line TxnSource TransactionLocationType ProjectRef CustomerRef "
            "ARAccountRef DepositToAccountRef PaymentMethodRef PaymentRefNum PaymentType "
            "CheckPayment CreditCardPayment TotalAmt UnappliedAmt ProcessPayment"
        ).split()
    ),
    "Account": frozenset(
        (
            f"{_COMMON} Name SubAccount ParentRef Description FullyQualifiedName AccountAlias "
            "TxnLocationType Active Classification AccountType AccountSubType AcctNum BankNum "
            "OpeningBalance OpeningBalanceDate CurrentBalance CurrentBalanceWithSubAccounts "
            "CurrencyRef TaxAccount TaxCodeRef OnlineBankingEnabled"
        ).split()
    ),
    "Class": frozenset(f"{_COMMON} Name SubClass ParentRef FullyQualifiedName Active".split()),
    "Department": frozenset(
        f"{_COMMON} Name SubDepartment ParentRef FullyQualifiedName Active Address".split()
    ),
    "PaymentMethod": frozenset(f"{_COMMON} Name Active Type".split()),
    "Term": frozenset(
        f"{_COMMON} Name Active Type DueDays DiscountPercent DiscountDays DayOfMonthDue "
        "DueNextMonthDays DiscountDayOfMonth".split()
    ),
    "Customer": frozenset(
        (
            f"{_COMMON} Title GivenName MiddleName FamilyName Suffix FullyQualifiedName "
            "CompanyName DisplayName PrintOnCheckName Active PrimaryPhone AlternatePhone Mobile "
            "Fax PrimaryEmailAddr WebAddr DefaultTaxCodeRef Taxable BillAddr ShipAddr Notes Job "
            "BillWithParent ParentRef Level SalesTermRef PaymentMethodRef CustomerTypeRef Balance "
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
DERIVED = {
    "Id",
    "SyncToken",
    "MetaData",
    "domain",
    "sparse",
    "TotalAmt",
    "HomeTotalAmt",
    "Balance",
    "HomeBalance",
    "RemainingCredit",
    "UnappliedAmt",
    "CurrentBalance",
    "CurrentBalanceWithSubAccounts",
}

PAYMENT_LINE_FIELDS = frozenset(
    ["Id", "LineNum", "Description", "Amount", "LinkedTxn", "LineEx", "CustomField"]
)

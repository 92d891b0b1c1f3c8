"""The simulated company file's money after the sale: payments, credit applied, refunds paid out,
voids and deletes, and the Multiple Currencies preference, refusals first."""

from __future__ import annotations

from decimal import Decimal

import pytest
from lxml import etree

from simulators.qbd import QbdCompany, QbXmlParseError
from simulators.testbed.qbxml_messages import customer_add, invoice_add, line, message, responses

pytestmark = pytest.mark.reference


def run(company: QbdCompany, body: str) -> etree._Element:
    return responses(company.process(message(body)))[-1]


def status(rs: etree._Element) -> tuple[int, str]:
    return int(rs.get("statusCode", "-1")), rs.get("statusMessage", "")


def ref(tag: str, name: str) -> str:
    return f"<{tag}><FullName>{name}</FullName></{tag}>"


def payment(
    customer: str,
    applied: list[tuple[str, str]],
    *,
    total: str | None = None,
    ref_number: str = "ch_1",
    method: str | None = "Visa",
    account: str | None = "Undeposited Funds",
    credits: list[tuple[str, str]] = (),  # type: ignore[assignment]
) -> str:
    head = ref("CustomerRef", customer) + f"<RefNumber>{ref_number}</RefNumber>"
    if total is not None:
        head += f"<TotalAmount>{total}</TotalAmount>"
    if method:
        head += ref("PaymentMethodRef", method)
    head += "<Memo>Payment of WooCommerce order #1 (id 1)</Memo>"
    if account:
        head += ref("DepositToAccountRef", account)
    apps = ""
    for txn_id, amount in applied:
        sets = "".join(
            f"<SetCredit><CreditTxnID>{c}</CreditTxnID><AppliedAmount>{a}</AppliedAmount></SetCredit>"
            for c, a in credits
        )
        apps += (
            f"<AppliedToTxnAdd><TxnID>{txn_id}</TxnID><PaymentAmount>{amount}</PaymentAmount>"
            f"{sets}</AppliedToTxnAdd>"
        )
    return f'<ReceivePaymentAddRq requestID="9"><ReceivePaymentAdd>{head}{apps}</ReceivePaymentAdd></ReceivePaymentAddRq>'


def payout(customer: str, credit_memo: str, amount: str, account: str = "Checking") -> str:
    return (
        '<ARRefundCreditCardAddRq requestID="8"><ARRefundCreditCardAdd>'
        + ref("CustomerRef", customer)
        + ref("RefundFromAccountRef", account)
        + "<RefNumber>R7</RefNumber>"
        + ref("PaymentMethodRef", "Visa")
        + f"<RefundAppliedToTxnAdd><TxnID>{credit_memo}</TxnID><RefundAmount>{amount}</RefundAmount>"
        "</RefundAppliedToTxnAdd></ARRefundCreditCardAdd></ARRefundCreditCardAddRq>"
    )


def credit_memo(customer: str, amount: str, ref_number: str = "R7") -> str:
    return invoice_add(
        customer, ref_number, line("Sales", amount=amount, kind="CreditMemo"), kind="CreditMemo"
    )


@pytest.fixture
def company() -> QbdCompany:
    books = QbdCompany()
    for name in ("Ada", "Bob"):
        assert status(run(books, customer_add(name)))[0] == 0
    return books


def _invoice(company: QbdCompany, customer: str = "Ada", amount: str = "30.00") -> str:
    rs = run(company, invoice_add(customer, "1001", line("Sales", amount=amount)))
    assert status(rs)[0] == 0
    return str(rs.findtext("InvoiceRet/TxnID"))


def _credit_memo(company: QbdCompany, customer: str = "Ada", amount: str = "10.00") -> str:
    rs = run(company, credit_memo(customer, amount))
    assert status(rs)[0] == 0
    return str(rs.findtext("CreditMemoRet/TxnID"))


def test_a_payment_naming_a_method_or_account_the_file_lacks_is_3140(company: QbdCompany) -> None:
    invoice = _invoice(company)
    no_method = run(company, payment("Ada", [(invoice, "30.00")], total="30.00", method="Stripe"))
    no_account = run(company, payment("Ada", [(invoice, "30.00")], total="30.00", account="Bank X"))
    assert status(no_method)[0] == 3140 and 'Payment Method "Stripe"' in status(no_method)[1]
    assert status(no_account)[0] == 3140 and 'Account "Bank X"' in status(no_account)[1]
    assert company.money_txns() == []


def test_a_payment_may_not_apply_more_than_the_open_balance_nor_to_someone_elses_invoice(
    company: QbdCompany,
) -> None:
    invoice = _invoice(company)
    too_much = run(company, payment("Ada", [(invoice, "30.01")], total="30.01"))
    not_hers = run(company, payment("Bob", [(invoice, "30.00")], total="30.00"))
    unknown = run(company, payment("Ada", [("FFFF-1", "1.00")], total="1.00"))
    over_total = run(company, payment("Ada", [(invoice, "30.00")], total="20.00"))
    assert status(too_much)[0] == 3210 and "30.00 open" in status(too_much)[1]
    assert status(not_hers)[0] == 3210 and '"Ada"' in status(not_hers)[1]
    assert status(unknown)[0] == 3120
    assert status(over_total)[0] == 3210
    assert company.transactions("Invoice")[0].balance == Decimal("30.00")


def test_a_payment_pays_the_invoice_into_its_account(company: QbdCompany) -> None:
    invoice = _invoice(company)
    rs = run(company, payment("Ada", [(invoice, "30.00")], total="30.00"))
    assert status(rs)[0] == 0
    ret = rs.find("ReceivePaymentRet")
    assert ret is not None and ret.findtext("TotalAmount") == "30.00"
    assert ret.findtext("DepositToAccountRef/FullName") == "Undeposited Funds"
    assert ret.findtext("AppliedToTxnRet/BalanceRemaining") == "0.00"
    query = run(company, f'<InvoiceQueryRq requestID="2"><TxnID>{invoice}</TxnID></InvoiceQueryRq>')
    assert query.findtext("InvoiceRet/BalanceRemaining") == "0.00"
    assert query.findtext("InvoiceRet/IsPaid") == "true"
    [paid] = company.money_txns("ReceivePayment")
    assert paid.account == "Undeposited Funds" and paid.payment_method == "Visa"
    assert paid.applied == ((invoice, Decimal("30.00")),)


def test_credit_is_applied_to_an_unpaid_invoice_by_a_zero_payment_and_not_beyond_what_is_left(
    company: QbdCompany,
) -> None:
    invoice, memo = _invoice(company), _credit_memo(company)
    too_much = run(company, payment("Ada", [(invoice, "0.00")], total="0.00",
                                    credits=[(memo, "10.01")]))  # fmt: skip
    applied = run(company, payment("Ada", [(invoice, "0.00")], total="0.00",
                                   credits=[(memo, "10.00")], method=None, account=None))  # fmt: skip
    assert status(too_much)[0] == 3210 and "10.00 of credit left" in status(too_much)[1]
    assert status(applied)[0] == 0
    books = {t.kind: t for t in company.transactions()}
    assert books["Invoice"].balance == Decimal("20.00")
    assert books["CreditMemo"].balance == Decimal("0.00")
    assert company.money_txns()[0].credits == ((memo, Decimal("10.00")),)


def test_a_refund_pays_a_credit_memos_credit_out_of_an_account_once(company: QbdCompany) -> None:
    memo = _credit_memo(company)
    refunded = run(company, payout("Ada", memo, "10.00"))
    again = run(company, payout("Ada", memo, "0.01"))
    assert status(refunded)[0] == 0
    ret = refunded.find("ARRefundCreditCardRet")
    assert ret is not None and ret.findtext("RefundFromAccountRef/FullName") == "Checking"
    assert ret.findtext("RefundAppliedToTxnRet/CreditRemaining") == "0.00"
    assert status(again)[0] == 3210 and "0.00 of credit left" in status(again)[1]
    assert status(run(company, payout("Bob", memo, "1.00")))[0] == 3210


def test_a_voided_refund_and_a_deleted_payment_give_the_balances_back(company: QbdCompany) -> None:
    invoice, memo = _invoice(company), _credit_memo(company)
    refund_id = run(company, payout("Ada", memo, "10.00")).findtext("ARRefundCreditCardRet/TxnID")
    pay_id = run(company, payment("Ada", [(invoice, "30.00")], total="30.00")).findtext(
        "ReceivePaymentRet/TxnID"
    )
    void = run(
        company,
        '<TxnVoidRq requestID="3"><TxnVoidType>ARRefundCreditCard</TxnVoidType>'
        f"<TxnID>{refund_id}</TxnID></TxnVoidRq>",
    )
    delete = run(
        company,
        '<TxnDelRq requestID="4"><TxnDelType>ReceivePayment</TxnDelType>'
        f"<TxnID>{pay_id}</TxnID></TxnDelRq>",
    )
    assert status(void)[0] == 0 and status(delete)[0] == 0
    books = {t.kind: t for t in company.transactions()}
    assert books["Invoice"].balance == Decimal("30.00")
    assert books["CreditMemo"].balance == Decimal("10.00")
    [voided] = company.money_txns()
    assert voided.voided and voided.total == Decimal("0")
    # QuickBooks cannot void a payment (TxnVoidType has no ReceivePayment): a parse error.
    with pytest.raises(QbXmlParseError):
        company.process(
            message(
                "<TxnVoidRq><TxnVoidType>ReceivePayment</TxnVoidType><TxnID>1-1</TxnID></TxnVoidRq>"
            )
        )


def test_payments_and_refunds_are_found_by_ref_number_and_a_missing_txn_id_is_500(
    company: QbdCompany,
) -> None:
    invoice = _invoice(company)
    run(company, payment("Ada", [(invoice, "30.00")], total="30.00", ref_number="ch_3AbC"))
    found = run(company, '<ReceivePaymentQueryRq requestID="5"><RefNumber>ch_3AbC</RefNumber></ReceivePaymentQueryRq>')  # fmt: skip
    none = run(company, '<ARRefundCreditCardQueryRq requestID="6"><RefNumber>R9</RefNumber></ARRefundCreditCardQueryRq>')  # fmt: skip
    missing = run(company, '<ReceivePaymentQueryRq requestID="7"><TxnID>FFFF-9</TxnID></ReceivePaymentQueryRq>')  # fmt: skip
    assert status(found)[0] == 0
    assert found.findtext("ReceivePaymentRet/Memo") == "Payment of WooCommerce order #1 (id 1)"
    assert status(none)[0] == 1
    assert status(missing)[0] == 500 and missing.get("statusSeverity") == "Warn"


def test_with_multicurrency_off_a_foreign_customer_or_an_exchange_rate_is_3250(
    company: QbdCompany,
) -> None:
    prefs = run(company, '<PreferencesQueryRq requestID="1"/>')
    foreign = run(
        company,
        '<CustomerAddRq requestID="2"><CustomerAdd><Name>Ada (CAD)</Name>'
        + ref("CurrencyRef", "Canadian Dollar")
        + "</CustomerAdd></CustomerAddRq>",
    )
    rated = run(
        company,
        '<InvoiceAddRq requestID="3"><InvoiceAdd>'
        + ref("CustomerRef", "Ada")
        + "<ExchangeRate>1.1</ExchangeRate>"
        + line("Sales", amount="5.00")
        + "</InvoiceAdd></InvoiceAddRq>",
    )
    assert prefs.findtext(".//MultiCurrencyPreferences/IsMultiCurrencyOn") == "false"
    assert status(foreign) == (
        3250, "This feature is not enabled or not available in this version of QuickBooks."
    )  # fmt: skip
    assert status(rated)[0] == 3250
    assert company.transactions() == []


def test_with_multicurrency_on_a_customers_currency_is_fixed_and_its_documents_carry_it() -> None:
    company = QbdCompany(multicurrency=True)
    prefs = run(company, '<PreferencesQueryRq requestID="1"/>')
    added = run(
        company,
        '<CustomerAddRq requestID="2"><CustomerAdd><Name>Ada (CAD)</Name>'
        + ref("CurrencyRef", "Canadian Dollar")
        + "</CustomerAdd></CustomerAddRq>",
    )
    unknown = run(
        company,
        '<CustomerAddRq requestID="3"><CustomerAdd><Name>Zed</Name>'
        + ref("CurrencyRef", "Zorkmid")
        + "</CustomerAdd></CustomerAddRq>",
    )
    invoice = run(
        company,
        '<InvoiceAddRq requestID="4"><InvoiceAdd>'
        + ref("CustomerRef", "Ada (CAD)")
        + "<ExchangeRate>0.73</ExchangeRate>"
        + line("Sales", amount="5.00")
        + "</InvoiceAdd></InvoiceAddRq>",
    )
    assert prefs.findtext(".//IsMultiCurrencyOn") == "true"
    assert prefs.findtext(".//HomeCurrencyRef/FullName") == "US Dollar"
    assert status(added)[0] == 0 and status(unknown)[0] == 3140
    assert company.customer_currency("Ada (CAD)") == "Canadian Dollar"
    assert invoice.findtext("InvoiceRet/CurrencyRef/FullName") == "Canadian Dollar"
    assert invoice.findtext("InvoiceRet/ExchangeRate") == "0.73"
    [txn] = company.transactions()
    assert txn.currency == "Canadian Dollar" and txn.exchange_rate == Decimal("0.73")

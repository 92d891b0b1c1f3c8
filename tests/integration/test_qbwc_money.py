"""Books that tie out on QuickBooks Desktop: payments, refunds and currencies through
POST /qbwc/{connection}, the simulated Web Connector and the simulated company file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest

from simulators.qbd import QbdCompany
from simulators.qbwc import WebConnector
from simulators.testbed.desktop import PASSWORD, USER, QbwcRig, QbwcRigs
from simulators.testbed.orders import paid, refund_of, taxed_order

pytestmark = pytest.mark.reference
ROUTES: dict[str, Any] = {"payments": {"stripe": {"method": "Visa", "deposit_account": "Checking"}}}


@contextmanager
def books(
    qbwc_rig: QbwcRigs, *, multicurrency: bool = False, **settings: Any
) -> Iterator[tuple[QbwcRig, QbdCompany, WebConnector]]:
    company = QbdCompany(multicurrency=multicurrency)
    with (
        qbwc_rig(**settings) as rig,
        WebConnector(rig.url, USER, PASSWORD, company, noop_pause_s=0.01) as wc,
    ):
        yield rig, company, wc


def drain(rig: QbwcRig, wc: WebConnector) -> None:
    for _ in range(6):
        if wc.run_session().outcome == "none":
            return
        rig.let_sessions_lapse()
    raise AssertionError(f"the outbox did not drain: {[s.outcome for s in wc.sessions]}")


def test_a_paid_invoice_gets_one_payment_in_the_account_its_gateway_maps_to(
    qbwc_rig: QbwcRigs,
) -> None:
    with books(qbwc_rig, **ROUTES) as (rig, company, wc):
        # Given a paid order queued with its payment behind its invoice
        order = paid(taxed_order(1))
        rig.queue(order)
        rig.queue_payment(order)
        # When the Web Connector runs
        drain(rig, wc)
        # Then the invoice is paid by one ReceivePayment into Checking by Visa
        [invoice] = company.transactions("Invoice")
        [payment] = company.money_txns("ReceivePayment")
        assert invoice.total == Decimal("26.60") and invoice.balance == Decimal("0.00")
        assert (payment.account, payment.payment_method) == ("Checking", "Visa")
        assert payment.applied == ((invoice.txn_id, Decimal("26.60")),)
        assert payment.ref_number == "ch_00000000000000000"[:20] and len(payment.ref_number) == 20
        assert (payment.memo or "").startswith("Payment of WooCommerce order #1 (id 1)")
        state = rig.record("payment#1")
        assert (state.status, state.ledger_id) == ("posted", payment.txn_id)


def test_an_invoice_credited_before_it_was_paid_is_paid_for_the_rest(qbwc_rig: QbwcRigs) -> None:
    with books(qbwc_rig, **ROUTES) as (rig, company, wc):
        # Given an unpaid invoice of 26.60 credited 6.60 by a refund
        order = taxed_order(8)
        rig.queue(order)
        rig.queue_refund(refund_of(order, 81, "6.60"), order)
        drain(rig, wc)
        # When the buyer pays the rest
        rig.queue_payment(paid(order), credited=Decimal("6.60"))
        drain(rig, wc)
        # Then one ReceivePayment of 20.00 closes the invoice; nothing parks
        [invoice] = company.transactions("Invoice")
        payments = [p for p in company.money_txns("ReceivePayment") if p.total > 0]
        assert [(p.total, p.applied) for p in payments] == [
            (Decimal("20.00"), ((invoice.txn_id, Decimal("20.00")),))
        ]
        assert invoice.balance == Decimal("0.00")
        assert rig.record("payment#8").status == "posted"


def test_a_payment_whose_answer_was_lost_is_found_by_ref_number_not_made_twice(
    qbwc_rig: QbwcRigs,
) -> None:
    with books(qbwc_rig) as (rig, company, wc):
        order = paid(taxed_order(2))
        rig.queue(order)
        drain(rig, wc)
        rig.queue_payment(order)
        # Given QuickBooks records the payment but its answer never comes back
        wc.lose_response_once()
        assert wc.run_session().outcome == "response_lost"
        rig.let_sessions_lapse()
        # When the Web Connector runs again
        drain(rig, wc)
        # Then there is still one payment, adopted
        assert len(company.money_txns("ReceivePayment")) == 1
        assert rig.record("payment#2").status == "posted"
        assert company.transactions("Invoice")[0].balance == Decimal("0.00")


def test_a_refund_of_a_paid_order_is_a_credit_memo_refunded_from_the_deposit_account(
    qbwc_rig: QbwcRigs,
) -> None:
    with books(qbwc_rig, **ROUTES) as (rig, company, wc):
        order = paid(taxed_order(3))
        rig.queue(order)
        rig.queue_payment(order)
        rig.queue_refund(refund_of(order, 71, "5.00", shipping=True), order)
        drain(rig, wc)
        [memo] = company.transactions("CreditMemo")
        [refund] = company.money_txns("ARRefundCreditCard")
        assert memo.total == Decimal("5.00") and memo.balance == Decimal("0.00")
        assert [line.item for line in memo.lines] == ["Shipping"]
        assert (refund.account, refund.payment_method) == ("Checking", "Visa")
        assert refund.applied == ((memo.txn_id, Decimal("5.00")),)
        state = rig.record("refund#71")
        assert (state.status, state.ledger_type, state.ledger_id) == (
            "posted", "CreditMemo", memo.txn_id,
        )  # fmt: skip
        # The store's net, to the cent: the invoice less its credit memo
        invoice = company.transactions("Invoice")[0]
        assert invoice.total - memo.total == Decimal("21.60")


def test_a_refund_of_an_unpaid_invoice_is_its_credit_memo_applied_to_it(qbwc_rig: QbwcRigs) -> None:
    with books(qbwc_rig) as (rig, company, wc):
        order = taxed_order(4)  # bank transfer, not paid yet
        rig.queue(order)
        rig.queue_refund(refund_of(order, 72, "6.60"), order)
        drain(rig, wc)
        [invoice] = company.transactions("Invoice")
        [memo] = company.transactions("CreditMemo")
        [applied] = company.money_txns("ReceivePayment")
        assert invoice.balance == Decimal("20.00") and memo.balance == Decimal("0.00")
        assert applied.total == Decimal("0") and applied.credits == (
            (memo.txn_id, Decimal("6.60")),
        )
        assert company.money_txns("ARRefundCreditCard") == []


def test_a_refund_deleted_in_the_store_voids_its_refund_and_credit_memo(qbwc_rig: QbwcRigs) -> None:
    with books(qbwc_rig) as (rig, company, wc):
        order = paid(taxed_order(5))
        rig.queue(order)
        rig.queue_payment(order)
        rig.queue_refund(refund_of(order, 73, "4.00"), order)
        drain(rig, wc)
        # When the refund is deleted in the store
        rig.withdraw_refund(73)
        drain(rig, wc)
        # Then both its documents are void and nothing is left owing or credited
        [memo] = company.transactions("CreditMemo")
        [refund] = company.money_txns("ARRefundCreditCard")
        assert memo.voided and refund.voided and memo.total == Decimal("0")
        assert rig.record("refund#73").status == "voided"


def test_a_foreign_order_parks_naming_the_setting_while_multiple_currencies_is_off(
    qbwc_rig: QbwcRigs,
) -> None:
    with books(qbwc_rig) as (rig, company, wc):
        rig.queue(taxed_order(6).model_copy(update={"currency": "CAD"}))
        drain(rig, wc)
        state = rig.sync_state(6)
        assert state.status == "parked"
        assert "Edit → Preferences → Multiple Currencies" in (state.last_error or "")
        assert company.transactions() == []


def test_a_foreign_order_is_a_document_for_the_buyers_customer_in_that_currency(
    qbwc_rig: QbwcRigs,
) -> None:
    with books(qbwc_rig, multicurrency=True) as (rig, company, wc):
        home = taxed_order(7)
        foreign = taxed_order(8).model_copy(
            update={
                "currency": "CAD",
                "exchange_rate": Decimal("0.7312"),
                "customer": home.customer,
            }
        )
        rig.queue(home)
        rig.queue(foreign)
        drain(rig, wc)
        by_ref = {t.ref_number: t for t in company.transactions("Invoice")}
        assert by_ref["7"].customer == "Ada Buyer7"
        assert by_ref["8"].customer == "Ada Buyer7 (CAD)"
        assert by_ref["8"].currency == "Canadian Dollar"
        assert by_ref["8"].exchange_rate == Decimal("0.7312")
        assert company.customer_currency("Ada Buyer7 (CAD)") == "Canadian Dollar"
        assert company.customer_currency("Ada Buyer7") == "US Dollar"


@pytest.mark.parametrize("method", ["stripe", "cheque"])
def test_a_sales_receipt_carries_its_payment_method_and_deposit_account(
    method: str, qbwc_rig: QbwcRigs
) -> None:
    routes: dict[str, Any] = {
        "payments": {**ROUTES["payments"], "default": {"deposit_account": "Undeposited Funds"}}
    }
    with books(qbwc_rig, document="sales_receipt", **routes) as (rig, company, wc):
        rig.queue(paid(taxed_order(9), method=method))
        drain(rig, wc)
        [receipt] = company.transactions("SalesReceipt")
        ret = company.process(
            '<?xml version="1.0"?><?qbxml version="13.0"?><QBXML><QBXMLMsgsRq onError="stopOnError">'
            f"<SalesReceiptQueryRq><TxnID>{receipt.txn_id}</TxnID></SalesReceiptQueryRq>"
            "</QBXMLMsgsRq></QBXML>"
        )
        expected = ("Visa", "Checking") if method == "stripe" else (None, "Undeposited Funds")
        assert ("<PaymentMethodRef>" in ret) == (expected[0] is not None)
        assert f"<FullName>{expected[1]}</FullName></DepositToAccountRef>" in ret

"""The drain's decisions, pure: given waiting entries, what QuickBooks already told us and its answers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from connector.config import Connection
from connector.ledgers.qbd import drain
from connector.ledgers.qbd.outbox import OutboxEntry, PaymentPayload, RefundPayload
from connector.ledgers.qbd.qbxml import parse_response
from connector.model import RefundLine, TaxAmount
from simulators.testbed.desktop import CONN, connection_settings
from simulators.testbed.orders import paid, refund_of, taxed_order


def _connection(**mapping: Any) -> Connection:
    return Connection.model_validate(connection_settings(**mapping))


def _work(order_id: int = 1, status: str = "pending", **extra: Any) -> drain.Work:
    order = taxed_order(order_id)
    entry = OutboxEntry(
        connection_id=CONN, seq=order_id, record_key=f"{CONN}#order#{order_id}",
        action="upsert_order", payload_json=order.model_dump_json(), content_hash="h",
        status=status, ledger_type="Invoice",
    )  # fmt: skip
    return drain.Work(entry=entry, **extra)


def _kinds(plan: drain.Plan) -> list[str]:
    return [r.kind for r in plan.requests]


def _answer(*responses: str) -> list[Any]:
    return parse_response(
        '<?xml version="1.0"?><QBXML><QBXMLMsgsRs>' + "".join(responses) + "</QBXMLMsgsRs></QBXML>"
    ).responses


def _rs(kind: str, rid: str, code: int = 0, body: str = "", message: str = "Status OK") -> str:
    severity = "Error" if code >= 1000 else "Warn" if code >= 500 else "Info"
    return (
        f'<{kind}Rs requestID="{rid}" statusCode="{code}" statusSeverity="{severity}" '
        f'statusMessage="{message}">{body}</{kind}Rs>'
    )


def _rid(plan: drain.Plan, op: str) -> str:
    return next(rid for rid, p in plan.purposes.items() if p["op"] == op)


KNOWN = frozenset({"sales", "shipping", "sales tax"})


def test_unknown_customer_and_items_are_looked_up_first() -> None:
    # Given a new order and nothing known
    facts = drain.new_facts()
    # When the next message is planned
    plan = drain.plan([_work()], facts, _connection(), prefix="m1")
    # Then it only asks: who is the customer, which items exist
    assert _kinds(plan) == ["CustomerQuery", "ItemQuery"]
    assert plan.written == [] and plan.looked_up == [1]


def test_once_known_a_missing_customer_is_added_before_the_invoice() -> None:
    facts = drain.new_facts()
    facts["customers"]["ada buyer1"] = {"missing": True}
    plan = drain.plan([_work(known_items=KNOWN)], facts, _connection(), prefix="m2")
    assert _kinds(plan) == ["CustomerAdd", "InvoiceAdd"]
    assert plan.written == [1] and plan.has_writes


def test_a_mapped_customer_and_known_items_need_one_request() -> None:
    work = _work(customer_name="Ada Buyer1", known_items=KNOWN)
    plan = drain.plan([work], drain.new_facts(), _connection(), prefix="m3")
    assert _kinds(plan) == ["InvoiceAdd"]


def test_a_known_transaction_is_modified_with_its_edit_sequence() -> None:
    work = _work(customer_name="Ada Buyer1", known_items=KNOWN, txn_id="T-1", edit_sequence="9")
    plan = drain.plan([work], drain.new_facts(), _connection(), prefix="m4")
    assert _kinds(plan) == ["InvoiceMod"]
    xml = plan.requests[0].to_xml()
    assert "<TxnID>T-1</TxnID>" in xml and "<EditSequence>9</EditSequence>" in xml


def _invoice_ret(txn_id: str, memo: str) -> str:
    return (
        f"<InvoiceRet><TxnID>{txn_id}</TxnID><EditSequence>3</EditSequence>"
        f"<RefNumber>1</RefNumber><Subtotal>26.60</Subtotal><Memo>{memo}</Memo></InvoiceRet>"
    )


def test_an_unknown_outcome_is_pre_checked_by_ref_number_and_adopted() -> None:
    # Given an order whose InvoiceAdd was sent and never answered
    work = _work(status="sent", customer_name="Ada Buyer1", known_items=KNOWN)
    facts = drain.new_facts()
    plan = drain.plan([work], facts, _connection(), prefix="m5")
    assert _kinds(plan) == ["InvoiceQuery"]
    # When QuickBooks has two invoices with its RefNumber, one of them tagged with this order
    rid = _rid(plan, "txn_query")
    drain.read(plan.purposes, _answer(_rs("InvoiceQuery", rid, body=(
        _invoice_ret("T-6", "Entered by hand") + _invoice_ret(
            "T-7", "WooCommerce order #1 (id 1)&#10;Customer note: fragile")))), facts)  # fmt: skip
    again = drain.plan([work], facts, _connection(), prefix="m6")
    # Then the tagged one is adopted, nothing is added
    assert again.requests == []
    (decision,) = again.decisions
    assert (decision.outcome, decision.operation, decision.txn_id) == ("posted", "adopted", "T-7")


def test_a_ref_number_held_by_another_records_transaction_is_not_adopted() -> None:
    # Given an order whose InvoiceAdd was sent and never answered
    work = _work(status="sent", customer_name="Ada Buyer1", known_items=KNOWN)
    facts = drain.new_facts()
    plan = drain.plan([work], facts, _connection(), prefix="m5")
    # When the only invoice with its RefNumber is another order's (fitted RefNumbers can meet)
    drain.read(plan.purposes, _answer(_rs("InvoiceQuery", _rid(plan, "txn_query"), body=(
        _invoice_ret("T-9", "WooCommerce order #1-long-number (id 901)")))), facts)  # fmt: skip
    again = drain.plan([work], facts, _connection(), prefix="m6")
    # Then the order parks with a reason instead of adopting (or duplicating) it
    assert again.requests == []
    (decision,) = again.decisions
    assert decision.outcome == "park"
    assert "T-9" in decision.reason and "WooCommerce order #1 (id 1)" in decision.reason


def test_an_unknown_outcome_with_nothing_found_is_added() -> None:
    work = _work(status="sent", customer_name="Ada Buyer1", known_items=KNOWN)
    facts = drain.new_facts()
    plan = drain.plan([work], facts, _connection(), prefix="m7")
    drain.read(plan.purposes, _answer(_rs("InvoiceQuery", _rid(plan, "txn_query"), 1)), facts)
    assert _kinds(drain.plan([work], facts, _connection(), prefix="m8")) == ["InvoiceAdd"]


def _missing(value: str) -> str:
    """QuickBooks Desktop's words for a FullName, ListID or TxnID it does not have (500)."""
    return (
        "The query request has not been fully completed. There was a required element "
        f"(&quot;{value}&quot;) that could not be found in QuickBooks."
    )


def test_a_customer_name_quickbooks_lacks_500_is_added_before_the_invoice() -> None:
    # Given a new buyer's order, looked up by name
    facts = drain.new_facts()
    work = _work(known_items=KNOWN)
    plan = drain.plan([work], facts, _connection(), prefix="n1")
    rid = _rid(plan, "customer_query")
    # When QuickBooks answers as Desktop does for a FullName it lacks: 500 Warn
    decisions = drain.read(
        plan.purposes,
        _answer(_rs("CustomerQuery", rid, 500, message=_missing("Ada Buyer1"))),
        facts,
    )
    # Then nothing failed, the customer is known to be missing and is added first
    assert decisions == []
    assert facts["customers"]["ada buyer1"] == {"missing": True}
    assert _kinds(drain.plan([work], facts, _connection(), prefix="n2")) == [
        "CustomerAdd", "InvoiceAdd"
    ]  # fmt: skip


def test_a_customer_query_with_no_match_1_is_also_missing() -> None:
    facts = drain.new_facts()
    plan = drain.plan([_work(known_items=KNOWN)], facts, _connection(), prefix="n3")
    drain.read(plan.purposes, _answer(_rs("CustomerQuery", _rid(plan, "customer_query"), 1)), facts)
    assert facts["customers"]["ada buyer1"] == {"missing": True}


def test_item_names_quickbooks_lacks_500_are_created_and_found_ones_kept() -> None:
    # Given an order whose items are looked up, SKUs allowed to become items
    auto = _connection(fallback_item=None, auto_create_items=True, income_account="Sales")
    facts = drain.new_facts()
    work = _work(customer_name="Ada Buyer1")
    plan = drain.plan([work], facts, auto, prefix="n4")
    asked = plan.purposes[_rid(plan, "item_query")]["names"]
    assert {n.lower() for n in asked} == {"mug", "shipping", "sales tax"}
    # When QuickBooks warns 500 for "MUG" and returns the two it has
    found = "".join(
        f"<ItemOtherChargeRet><ListID>L-{n}</ListID><FullName>{n}</FullName></ItemOtherChargeRet>"
        for n in ("Shipping", "Sales Tax")
    )
    drain.read(
        plan.purposes,
        _answer(_rs("ItemQuery", _rid(plan, "item_query"), 500, found, _missing("MUG"))),
        facts,
    )
    # Then the found ones are known, the missing one is created before the invoice
    assert facts["items"] == {"mug": "", "shipping": "L-Shipping", "sales tax": "L-Sales Tax"}
    assert _kinds(drain.plan([work], facts, auto, prefix="n5")) == [
        "ItemNonInventoryAdd", "InvoiceAdd"
    ]  # fmt: skip


def test_a_txn_id_quickbooks_lacks_500_means_nothing_there() -> None:
    # Given an order whose earlier add may or may not have reached QuickBooks
    work = _work(status="sent", customer_name="Ada Buyer1", known_items=KNOWN)
    facts = drain.new_facts()
    plan = drain.plan([work], facts, _connection(), prefix="n6")
    rid = _rid(plan, "txn_query")
    # When the pre-check is answered 500 (not there) rather than 1
    drain.read(plan.purposes, _answer(_rs("InvoiceQuery", rid, 500, message=_missing("1"))), facts)
    # Then it is added, not taken for found
    assert facts["txns"]["Invoice:1"] == {}
    assert _kinds(drain.plan([work], facts, _connection(), prefix="n7")) == ["InvoiceAdd"]


def test_answers_become_decisions() -> None:
    facts = drain.new_facts()
    facts["customers"]["ada buyer1"] = {"missing": True}
    plan = drain.plan([_work(known_items=KNOWN)], facts, _connection(), prefix="m9")
    customer, invoice = _rid(plan, "customer_add"), _rid(plan, "txn_add")
    decisions = drain.read(plan.purposes, _answer(
        _rs("CustomerAdd", customer, body="<CustomerRet><ListID>C-1</ListID><EditSequence>1"
            "</EditSequence><FullName>Ada Buyer1</FullName></CustomerRet>"),
        _rs("InvoiceAdd", invoice, body="<InvoiceRet><TxnID>T-1</TxnID><EditSequence>2"
            "</EditSequence><Subtotal>26.60</Subtotal><SalesTaxTotal>0.00</SalesTaxTotal>"
            "</InvoiceRet>"),
    ), facts)  # fmt: skip
    (decision,) = decisions
    assert decision.outcome == "posted" and decision.txn_id == "T-1"
    assert str(decision.total) == "26.60" and decision.customer_name == "Ada Buyer1"
    assert facts["customers"]["ada buyer1"]["list_id"] == "C-1"


def test_status_codes_map_to_what_happens_next() -> None:
    work = _work(customer_name="Ada Buyer1", known_items=KNOWN, txn_id="T-1", edit_sequence="1")
    cases = {
        3200: ("again", "3200"),
        3175: ("retry", ""),
        3180: ("retry", ""),
        3140: ("again", "3140"),
        3210: ("park", ""),
    }
    for code, (outcome, why) in cases.items():
        plan = drain.plan([work], drain.new_facts(), _connection(), prefix="s")
        (decision,) = drain.read(
            plan.purposes,
            _answer(_rs("InvoiceMod", _rid(plan, "txn_mod"), code, message=f"code {code}")),
            drain.new_facts(),
        )
        assert (decision.outcome, decision.why) == (outcome, why), code
        assert f"status {code}" in decision.reason


def test_a_second_invalid_reference_parks() -> None:
    work = _work(customer_name="Ada Buyer1", known_items=KNOWN)
    plan = drain.plan([work], drain.new_facts(), _connection(), prefix="p")
    (decision,) = drain.read(
        plan.purposes,
        _answer(_rs("InvoiceAdd", _rid(plan, "txn_add"), 3140, message="bad ref")),
        drain.new_facts(),
        attempts_3140={1: 1},
    )
    assert decision.outcome == "park" and "bad ref" in decision.reason


def test_a_name_held_by_someone_else_is_disambiguated() -> None:
    facts = drain.new_facts()
    facts["customers"]["ada buyer1"] = {"name": "Ada Buyer1", "list_id": "X", "email": "x@y.z"}
    facts["customers"]["ada buyer1 (buyer1@example.com)"] = {"missing": True}
    plan = drain.plan([_work(known_items=KNOWN)], facts, _connection(), prefix="d")
    assert "<Name>Ada Buyer1 (buyer1@example.com)</Name>" in plan.requests[0].to_xml()


def _buyer_work(order_id: int, first: str, last: str, email: str, **extra: Any) -> drain.Work:
    order = taxed_order(order_id, first=first, last=last, email=email)
    entry = OutboxEntry(
        connection_id=CONN, seq=order_id, record_key=f"{CONN}#order#{order_id}",
        action="upsert_order", payload_json=order.model_dump_json(), content_hash="h",
        ledger_type="Invoice",
    )  # fmt: skip
    return drain.Work(entry=entry, known_items=KNOWN, **extra)


def test_two_buyers_whose_names_lose_their_letters_become_two_customers() -> None:
    # Given orders from 山田 太郎 and 佐藤 花子 (both "?? ??" in Latin-1) and nothing known
    works = [
        _buyer_work(1, "太郎", "山田", "taro@example.jp"),
        _buyer_work(2, "花子", "佐藤", "hanako@example.jp"),
    ]
    facts = drain.new_facts()
    # When the lookups are planned and QuickBooks has neither (500)
    plan = drain.plan(works, facts, _connection(), prefix="j1")
    asked = [p["name"] for p in plan.purposes.values() if p["op"] == "customer_query"]
    drain.read(plan.purposes, _answer(*(
        _rs("CustomerQuery", rid, 500, message=_missing(p["name"]))
        for rid, p in plan.purposes.items() if p["op"] == "customer_query"
    )), facts)  # fmt: skip
    writes = drain.plan(works, facts, _connection(), prefix="j2")
    # Then each buyer is looked up and added under a name of their own
    assert asked == ["Customer (taro@example.jp)", "Customer (hanako@example.jp)"]
    added = [p["name"] for p in writes.purposes.values() if p["op"] == "customer_add"]
    assert added == asked
    assert _kinds(writes) == ["CustomerAdd", "InvoiceAdd", "CustomerAdd", "InvoiceAdd"]


def test_the_same_buyer_with_a_lost_name_stays_one_customer() -> None:
    # Given 山田 太郎 is already a customer, added by an earlier order
    facts = drain.new_facts()
    facts["customers"]["customer (taro@example.jp)"] = {
        "name": "Customer (taro@example.jp)", "list_id": "C-9", "edit_sequence": "1",
        "email": "taro@example.jp",
    }  # fmt: skip
    # When the buyer orders again
    plan = drain.plan(
        [_buyer_work(3, "太郎", "山田", "taro@example.jp")], facts, _connection(), prefix="j3"
    )
    # Then the invoice goes to that customer, no second one is added
    assert _kinds(plan) == ["InvoiceAdd"]
    assert plan.purposes[_rid(plan, "txn_add")]["customer"] == "Customer (taro@example.jp)"


def test_a_missing_item_parks_unless_it_may_be_created() -> None:
    facts = drain.new_facts()
    facts["items"].update({"mugs": "", "shipping": "S", "sales tax": "T"})
    plan = drain.plan(
        [_work(customer_name="Ada Buyer1")], facts, _connection(fallback_item="Mugs"), prefix="i"
    )
    (decision,) = plan.decisions
    assert decision.outcome == "park" and "'Mugs'" in decision.reason

    auto = _connection(fallback_item=None, auto_create_items=True, income_account="Sales")
    facts["items"]["mug"] = ""
    created = drain.plan([_work(customer_name="Ada Buyer1")], facts, auto, prefix="j")
    assert _kinds(created) == ["ItemNonInventoryAdd", "InvoiceAdd"]


def test_messages_stay_within_the_request_budget_and_one_entry_per_record() -> None:
    works = [_work(i, customer_name=f"Ada Buyer{i}", known_items=KNOWN) for i in range(1, 30)]
    plan = drain.plan(works, drain.new_facts(), _connection(), prefix="b", max_requests=7)
    assert len(plan.requests) == 7 and plan.written == list(range(1, 8))
    twice = [works[0], drain.Work(entry=works[0].entry.model_copy(update={"seq": 99}))]
    assert drain.plan(twice, drain.new_facts(), _connection(), prefix="c").written == [1]


# --- money after the sale ---------------------------------------------------------------------
def _money_work(action: str, payload: Any, seq: int, key: str, **extra: Any) -> drain.Work:
    entry = OutboxEntry(
        connection_id=CONN, seq=seq, record_key=f"{CONN}#{key}", action=action,
        payload_json=payload.model_dump_json(), content_hash="h", ledger_type="",
    )  # fmt: skip
    return drain.Work(entry=entry, **extra)


ROUTED = {"payments": {"stripe": {"method": "Visa", "deposit_account": "Checking"}}}


def test_a_payment_waits_for_its_invoice_then_is_applied_to_it() -> None:
    # Given a paid order's invoice and its payment waiting in one window
    order = paid(taxed_order(1))
    payment = PaymentPayload(order=order)
    invoice = _work(customer_name="Ada Buyer1", known_items=KNOWN)
    pay = _money_work("receive_payment", payment, 2, "payment#1", customer_name="Ada Buyer1")
    # When the message is planned, only the invoice goes
    first = drain.plan([invoice, pay], drain.new_facts(), _connection(**ROUTED), prefix="p1")
    assert _kinds(first) == ["InvoiceAdd"] and first.written == [1]
    # Then, with the invoice in QuickBooks, the payment is applied to it from the mapped route
    known = _money_work("receive_payment", payment, 2, "payment#1", customer_name="Ada Buyer1",
                        order_txn_id="T-1", order_total=order.total)  # fmt: skip
    second = drain.plan([known], drain.new_facts(), _connection(**ROUTED), prefix="p2")
    assert _kinds(second) == ["ReceivePaymentAdd"]
    xml = second.requests[0].to_xml()
    assert "<TxnID>T-1</TxnID><PaymentAmount>26.60</PaymentAmount>" in xml
    assert "<PaymentMethodRef><FullName>Visa</FullName>" in xml
    assert "<DepositToAccountRef><FullName>Checking</FullName>" in xml


def test_a_refund_is_a_credit_memo_then_its_refund_from_the_deposit_account() -> None:
    # Given a refund of a paid order, nothing of it in QuickBooks yet
    order = paid(taxed_order(1))
    payload = RefundPayload(refund=refund_of(order, 7, "5.00"), customer=order.customer,
                            paid=True, payment_method="stripe")  # fmt: skip
    work = _money_work("credit_memo", payload, 3, "refund#7", customer_name="Ada Buyer1",
                       known_items=frozenset({"sales"}))  # fmt: skip
    facts = drain.new_facts()
    plan = drain.plan([work], facts, _connection(**ROUTED), prefix="r1")
    assert _kinds(plan) == ["CreditMemoAdd"]
    # When QuickBooks adds the credit memo
    rid = _rid(plan, "credit_memo_add")
    (step,) = drain.read(plan.purposes, _answer(_rs("CreditMemoAdd", rid, body=(
        "<CreditMemoRet><TxnID>CM-1</TxnID><EditSequence>4</EditSequence>"
        "<TotalAmount>5.00</TotalAmount></CreditMemoRet>"))), facts)  # fmt: skip
    # Then the entry is not done: its credit is refunded next, out of the order's account
    assert (step.outcome, step.txn_id) == ("step", "CM-1")
    after = _money_work("credit_memo", payload, 3, "refund#7", customer_name="Ada Buyer1",
                        known_items=frozenset({"sales"}), txn_id="CM-1")  # fmt: skip
    second = drain.plan([after], facts, _connection(**ROUTED), prefix="r2")
    assert _kinds(second) == ["ARRefundCreditCardAdd"]
    assert "<RefundFromAccountRef><FullName>Checking</FullName>" in second.requests[0].to_xml()
    rid = _rid(second, "refund_second")
    (done,) = drain.read(second.purposes, _answer(_rs("ARRefundCreditCardAdd", rid, body=(
        "<ARRefundCreditCardRet><TxnID>RF-1</TxnID></ARRefundCreditCardRet>"))), facts)  # fmt: skip
    assert (done.outcome, done.ledger_type, done.txn_id) == ("posted", "CreditMemo", "CM-1")


def test_a_foreign_order_parks_naming_the_setting_while_multiple_currencies_is_off() -> None:
    # Given a company file in USD with Multiple Currencies off
    facts = drain.new_facts()
    facts["company"] = {"home": "USD", "multicurrency": False}
    cad = taxed_order(1).model_copy(update={"currency": "CAD"})
    entry = OutboxEntry(connection_id=CONN, seq=1, record_key=f"{CONN}#order#1",
                        action="upsert_order", payload_json=cad.model_dump_json(),
                        content_hash="h", ledger_type="Invoice")  # fmt: skip
    # When the order is planned
    plan = drain.plan([drain.Work(entry=entry)], facts, _connection(), prefix="c1")
    # Then nothing is sent and it parks naming the preference to turn on
    assert plan.requests == []
    (decision,) = plan.decisions
    assert (
        decision.outcome == "park" and "Edit → Preferences → Multiple Currencies" in decision.reason
    )


# -- revenue rules and payment terms

CLASS_RULES: dict[str, Any] = {
    "rules": [
        {"when": {"sku": "MUG"}, "class": "Retail", "income_account": "Gift income"},
        {"class": "Online"},
    ],
    "terms": {"default": "Net 15"},
}
MUG_ITEM = "sales (gift income)"  # account_item_name("Sales", "Gift income"), lowered


def _preferences(rid: str, *, classes: bool) -> str:
    return _rs("PreferencesQuery", rid, body=(
        "<PreferencesRet><AccountingPreferences><IsUsingClassTracking>"
        f"{'true' if classes else 'false'}</IsUsingClassTracking></AccountingPreferences>"
        "</PreferencesRet>"))  # fmt: skip


def _ruled_work(**extra: Any) -> drain.Work:
    known = frozenset({MUG_ITEM, "shipping", "sales tax"})
    return _work(customer_name="Ada Buyer1", known_items=known, **extra)


def test_classes_wait_for_the_preferences_and_park_naming_the_setting_when_off() -> None:
    # Given an order the rules put under classes, and the company's preferences not known
    facts = drain.new_facts()
    connection = _connection(**CLASS_RULES)
    plan = drain.plan([_ruled_work()], facts, connection, prefix="k1")
    # Then QuickBooks is asked for its preferences first
    assert _kinds(plan) == ["PreferencesQuery"]
    # When it says class tracking is off
    rid = _rid(plan, "preferences_query")
    assert drain.read(plan.purposes, _answer(_preferences(rid, classes=False)), facts) == []
    again = drain.plan([_ruled_work()], facts, connection, prefix="k2")
    # Then nothing is sent and the order parks naming the preference and the classes
    assert again.requests == []
    (decision,) = again.decisions
    assert decision.outcome == "park"
    assert '"Use class tracking"' in decision.reason and "class 'Retail'" in decision.reason


def test_class_tracking_remembered_as_off_is_asked_again_before_parking() -> None:
    # Given preferences cached from an earlier session that said class tracking was off
    facts = drain.new_facts()
    facts["company"] = {"home": "USD", "multicurrency": False, "class_tracking": False}
    # When an order with classes is planned, then QuickBooks is asked again (it may be on now)
    plan = drain.plan([_ruled_work()], facts, _connection(**CLASS_RULES), prefix="k3")
    assert _kinds(plan) == ["PreferencesQuery"]
    drain.read(plan.purposes, _answer(_preferences(_rid(plan, "preferences_query"), classes=True)),
               facts)  # fmt: skip
    # And once it is on, the invoice goes with its classes and terms
    again = drain.plan([_ruled_work()], facts, _connection(**CLASS_RULES), prefix="k4")
    assert _kinds(again) == ["InvoiceAdd"]
    xml = again.requests[0].to_xml()
    # (an order of mugs only is a Retail order as a whole: first match wins)
    assert "<ClassRef><FullName>Retail</FullName></ClassRef><TxnDate>" in xml
    assert "<ItemRef><FullName>Sales (Gift income)</FullName></ItemRef>" in xml
    assert "<ClassRef><FullName>Retail</FullName></ClassRef><Amount>20.00</Amount>" in xml
    assert "<TermsRef><FullName>Net 15</FullName></TermsRef>" in xml


def _tracking_on() -> dict[str, Any]:
    facts = drain.new_facts()
    facts["company"] = {"home": "USD", "multicurrency": False, "class_tracking": True}
    facts["company_read"] = True
    return facts


def test_an_income_account_item_quickbooks_lacks_is_added_posting_to_the_account() -> None:
    # Given class tracking on, and the account item not known yet
    facts = _tracking_on()
    work = _work(customer_name="Ada Buyer1", known_items=frozenset({"shipping", "sales tax"}))
    plan = drain.plan([work], facts, _connection(**CLASS_RULES), prefix="a1")
    assert _kinds(plan) == ["ItemQuery"]
    # When QuickBooks does not have it
    rid = _rid(plan, "item_query")
    drain.read(plan.purposes, _answer(_rs("ItemQuery", rid, 500, message=_missing("x"))), facts)
    again = drain.plan([work], facts, _connection(**CLASS_RULES), prefix="a2")
    # Then it is added as a non-inventory item posting to the rule's account, before the invoice
    assert _kinds(again) == ["ItemNonInventoryAdd", "InvoiceAdd"]
    add = again.requests[0].to_xml()
    assert "<Name>Sales (Gift income)</Name>" in add
    assert "<AccountRef><FullName>Gift income</FullName></AccountRef>" in add
    # And an account QuickBooks lacks parks the order naming the account
    message = (
        "There is an invalid reference to QuickBooks Account &quot;Gift income&quot; in the "
        "Item.  QuickBooks error message: Invalid argument."
    )
    answer = _answer(_rs("ItemNonInventoryAdd", _rid(again, "item_add"), 3140, message=message))
    (parked,) = drain.read(again.purposes, answer, facts)
    assert parked.outcome == "park"
    assert "no account named 'Gift income'" in parked.reason


@pytest.mark.parametrize(
    ("label", "name", "expected"),
    [
        ("Class", "Retail", "no class named 'Retail'"),
        ("Terms", "Net 15", "no payment terms named 'Net 15'"),
    ],
)
def test_a_class_or_terms_quickbooks_lacks_parks_at_once_naming_it(
    label: str, name: str, expected: str
) -> None:
    # Given the invoice was sent with its classes and terms
    facts = _tracking_on()
    plan = drain.plan([_ruled_work()], facts, _connection(**CLASS_RULES), prefix="x1")
    assert plan.purposes[_rid(plan, "txn_add")]["classes"] == ["Retail"]
    # When QuickBooks answers 3140 for one of them
    message = (
        f"There is an invalid reference to QuickBooks {label} &quot;{name}&quot; in the Invoice."
        "  QuickBooks error message: Invalid argument."
    )
    answer = _answer(_rs("InvoiceAdd", _rid(plan, "txn_add"), 3140, message=message))
    (decision,) = drain.read(plan.purposes, answer, facts)
    # Then it parks at once (looking the references up again would not help), naming it
    assert decision.outcome == "park" and expected in decision.reason


def test_classes_refused_as_a_feature_that_is_off_park_naming_the_setting() -> None:
    facts = _tracking_on()
    plan = drain.plan([_ruled_work()], facts, _connection(**CLASS_RULES), prefix="x2")
    message = "This feature is not enabled or not available in this version of QuickBooks."
    answer = _answer(_rs("InvoiceAdd", _rid(plan, "txn_add"), 3250, message=message))
    (decision,) = drain.read(plan.purposes, answer, facts)
    assert decision.outcome == "park" and '"Use class tracking"' in decision.reason


def test_a_refunds_credit_memo_goes_back_under_the_classes_its_lines_were_sold_under() -> None:
    # Given a refund of the mug line of an order the rules classed
    order = paid(taxed_order(1))
    refund = refund_of(order, 7, "21.60").model_copy(update={"lines": (RefundLine(
        line_id="1", sku="MUG", name="Mug", quantity=Decimal(2), total=Decimal("20.00"),
        taxes=(TaxAmount(rate_id="1", amount=Decimal("1.60")),)),)})  # fmt: skip
    payload = RefundPayload(refund=refund, customer=order.customer, paid=True, order=order)
    work = _money_work("credit_memo", payload, 3, "refund#7", customer_name="Ada Buyer1",
                       known_items=frozenset({MUG_ITEM, "sales tax"}))  # fmt: skip
    # When it is planned with class tracking on
    plan = drain.plan([work], _tracking_on(), _connection(**CLASS_RULES), prefix="r9")
    # Then the credit memo carries the order's class and the mug's, on the mug's account item
    # (an order of mugs only is a Retail order as a whole)
    assert _kinds(plan) == ["CreditMemoAdd"]
    xml = plan.requests[0].to_xml()
    assert (
        "<CustomerRef><FullName>Ada Buyer1</FullName></CustomerRef><ClassRef><FullName>Retail"
        in xml
    )
    assert "<ItemRef><FullName>Sales (Gift income)</FullName></ItemRef>" in xml
    assert "<ClassRef><FullName>Retail</FullName></ClassRef><Amount>20.00</Amount>" in xml

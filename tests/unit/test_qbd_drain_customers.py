"""One buyer, one Desktop customer: an order, the buyer's own customer record and the payment
of the order's invoice all name the same customer, whichever reaches the drain first."""

from __future__ import annotations

from typing import Any

from connector.config import Connection
from connector.ledgers.qbd import drain
from connector.ledgers.qbd.outbox import OutboxEntry, PaymentPayload
from connector.ledgers.qbd.qbxml import parse_response
from connector.model import Order
from simulators.testbed.desktop import CONN, connection_settings
from simulators.testbed.orders import paid, taxed_order

KNOWN = frozenset({"sales", "shipping", "sales tax"})
ROUTED = {"payments": {"stripe": {"method": "Visa", "deposit_account": "Checking"}}}


def _connection() -> Connection:
    return Connection.model_validate(connection_settings(**ROUTED))


def _entry(seq: int, key: str, action: str, payload: Any, ledger_type: str) -> OutboxEntry:
    return OutboxEntry(
        connection_id=CONN, seq=seq, record_key=f"{CONN}#{key}", action=action,
        payload_json=payload.model_dump_json(), content_hash="h", ledger_type=ledger_type,
    )  # fmt: skip


def _order_work(order: Order) -> drain.Work:
    entry = _entry(1, f"order#{order.store_id}", "upsert_order", order, "Invoice")
    return drain.Work(entry=entry, known_items=KNOWN)


def _customer_work(order: Order) -> drain.Work:
    customer = order.customer
    entry = _entry(2, f"customer#{customer.store_id}", "upsert_customer", customer, "Customer")
    return drain.Work(entry=entry)


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


def _customer_ret(name: str, email: str, list_id: str = "C-1", edit: str = "7") -> str:
    return (
        f"<CustomerRet><ListID>{list_id}</ListID><EditSequence>{edit}</EditSequence>"
        f"<Name>{name}</Name><FullName>{name}</FullName><Email>{email}</Email></CustomerRet>"
    )


def _ops(plan: drain.Plan) -> list[tuple[str, str]]:
    return [
        (p["op"], str(p.get("name") or p.get("customer") or "")) for p in plan.purposes.values()
    ]


def test_an_order_and_its_buyers_customer_record_in_one_message_add_one_customer() -> None:
    # Given an order of Jean-François Côté and his customer record, waiting in one window,
    # and QuickBooks without him
    order = taxed_order(7, first="Jean-François", last="Côté", email="jf.cote@example.ca")
    works = [_order_work(order), _customer_work(order)]
    facts = drain.new_facts()
    facts["customers"]["jean-françois côté"] = {"missing": True}
    # When the message is planned
    first = drain.plan(works, facts, _connection(), prefix="c1")
    # Then the customer is added once, before the invoice; the record waits for its answer
    assert _ops(first) == [
        ("customer_add", "Jean-François Côté"),
        ("txn_add", "Jean-François Côté"),
    ]
    assert first.written == [1] and first.looked_up == [2]
    # And once QuickBooks has added him, the record updates that customer, under his name
    rid = {p["op"]: r for r, p in first.purposes.items()}
    drain.read(
        first.purposes,
        _answer(
            _rs("CustomerAdd", rid["customer_add"],
                body=_customer_ret("Jean-François Côté", "jf.cote@example.ca")),
            _rs("InvoiceAdd", rid["txn_add"], body="<InvoiceRet><TxnID>T-1</TxnID></InvoiceRet>"),
        ),
        facts,
    )  # fmt: skip
    second = drain.plan([works[1]], facts, _connection(), prefix="c2")
    assert _ops(second) == [("customer_mod", "Jean-François Côté")]
    assert "<ListID>C-1</ListID><EditSequence>7</EditSequence>" in second.requests[0].to_xml()


def test_a_name_refused_as_in_use_is_the_buyers_own_when_quickbooks_has_him_under_it() -> None:
    # Given QuickBooks refused to add Jean-François Côté (3100): the name is in use
    order = taxed_order(7, first="Jean-François", last="Côté", email="jf.cote@example.ca")
    facts = drain.new_facts()
    facts["customers"]["jean-françois côté"] = {"missing": True}
    first = drain.plan([_order_work(order)], facts, _connection(), prefix="n1")
    rid = {p["op"]: r for r, p in first.purposes.items()}
    in_use = "The name &quot;Jean-François Côté&quot; of the list element is already in use."
    drain.read(
        first.purposes,
        _answer(
            _rs("CustomerAdd", rid["customer_add"], 3100, message=in_use),
            _rs("InvoiceAdd", rid["txn_add"], 3140, message="Invalid reference"),
        ),
        facts,
    )
    # When the order is planned again, the name is asked for, not given up
    again = drain.plan([_order_work(order)], facts, _connection(), prefix="n2")
    assert _ops(again) == [("customer_query", "Jean-François Côté")]
    # Then QuickBooks has him (added meanwhile): his invoice goes to that customer, no other
    drain.read(
        again.purposes,
        _answer(
            _rs("CustomerQuery", next(iter(again.purposes)),
                body=_customer_ret("Jean-François Côté", "jf.cote@example.ca")),
        ),
        facts,
    )  # fmt: skip
    last = drain.plan([_order_work(order)], facts, _connection(), prefix="n3")
    assert _ops(last) == [("txn_add", "Jean-François Côté")]


def test_a_name_refused_as_in_use_by_someone_else_is_disambiguated() -> None:
    order = taxed_order(7, first="Jean-François", last="Côté", email="jf.cote@example.ca")
    facts = drain.new_facts()
    facts["taken"] = ["jean-françois côté"]
    facts["customers"]["jean-françois côté"] = {"missing": True}  # a vendor holds it
    facts["customers"]["jean-françois côté (jf.cote@example.ca)"] = {"missing": True}
    plan = drain.plan([_order_work(order)], facts, _connection(), prefix="o1")
    assert _ops(plan) == [
        ("customer_add", "Jean-François Côté (jf.cote@example.ca)"),
        ("txn_add", "Jean-François Côté (jf.cote@example.ca)"),
    ]


def test_a_payment_names_the_customer_its_invoice_was_posted_under() -> None:
    # Given the invoice was posted to "Jean-François Côté" (the mapping), and this session
    # learnt the name is in use (the buyer's own record tried to add it again)
    order = paid(taxed_order(7, first="Jean-François", last="Côté", email="jf.cote@example.ca"))
    facts = drain.new_facts()
    facts["taken"] = ["jean-françois côté"]
    entry = _entry(3, "payment#7", "receive_payment", PaymentPayload(order=order), "")
    work = drain.Work(
        entry=entry,
        customer_name="Jean-François Côté",
        order_txn_id="T-1",
        order_total=order.total,
    )
    # When the payment is planned
    plan = drain.plan([work], facts, _connection(), prefix="p1")
    # Then it is received from the invoice's customer, and no customer is added
    assert _ops(plan) == [("txn_add", "Jean-François Côté")]
    assert "<CustomerRef><FullName>Jean-François Côté</FullName>" in plan.requests[0].to_xml()

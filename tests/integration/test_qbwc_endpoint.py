"""POST /qbwc/{connection}: the Web Connector's SOAP conversation through the local gateway.

QuickBooks' side is the simulated company file (simulators.qbd.QbdCompany): the
test hands each qbXML message to it and carries its answer back, as the Web
Connector does, or lets the simulated Web Connector run whole sessions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from simulators.qbd import QbdCompany
from simulators.qbwc import WebConnector
from simulators.testbed.desktop import CONN, PASSWORD, USER, QbwcRig, QbwcRigs
from simulators.testbed.orders import taxed_order


@pytest.fixture()
def rig(qbwc_rig: QbwcRigs) -> Iterator[QbwcRig]:
    with qbwc_rig() as running:
        yield running


def _drain_by_hand(rig: QbwcRig, ticket: str, company: QbdCompany) -> list[int]:
    percents: list[int] = []
    first = True
    while True:
        request = rig.send(ticket, first=first)
        first = False
        if not request:
            break
        percent = rig.receive(ticket, company.process(request))
        percents.append(percent)
        if percent >= 100 or percent < 0:
            break
    return percents


def test_a_full_session_posts_each_queued_order_once(rig: QbwcRig) -> None:
    # Given three orders queued for the Web Connector
    for order_id in (1, 2, 3):
        rig.queue(taxed_order(order_id))
    company = QbdCompany()

    # When the Web Connector runs a session
    version = rig.call("serverVersion")
    client = rig.call("clientVersion", strVersion="2.3.0.36")
    ticket, status = rig.login()[:2]
    percents = _drain_by_hand(rig, ticket, company)
    closed = rig.call("closeConnection", ticket=ticket).value()

    # Then QuickBooks holds one invoice per order, to the cent, and the records say posted
    assert version.status == 200 and version.content_type.startswith("text/xml; charset=utf-8")
    assert version.value()
    assert client.value() == ""
    assert status == "" and len(ticket) >= 32
    assert percents[-1] == 100 and all(0 < p <= 100 for p in percents)
    invoices = company.transactions("Invoice")
    assert sorted(t.ref_number for t in invoices) == ["1", "2", "3"]
    assert {str(t.total) for t in invoices} == {"26.60"}
    assert [c.name for c in company.customers() if c.name.startswith("Ada")] == [
        "Ada Buyer1", "Ada Buyer2", "Ada Buyer3",
    ]  # fmt: skip
    state = rig.sync_state(2)
    assert state.status == "posted" and state.ledger_type == "Invoice"
    assert state.ledger_id == next(t.txn_id for t in invoices if t.ref_number == "2")
    assert state.ledger_total == "26.60" and state.doc_number == "2"
    assert rig.events(2)[-1] == "posted"
    assert closed.startswith("OK: 3 sent to QuickBooks")


def test_the_authenticate_result_always_has_the_second_string(rig: QbwcRig) -> None:
    rig.queue(taxed_order(1))
    answer = rig.call("authenticate", strUserName=USER, strPassword=PASSWORD)
    strings = answer.root.findall(".//{http://developer.intuit.com/}string")
    assert len(strings) == 2 and not strings[1].text


def test_nothing_waiting_answers_none(rig: QbwcRig) -> None:
    assert rig.login()[1] == "none"


def _metric_count(out: str, name: str) -> int:
    """How many ``name`` the EMF documents the handlers printed count."""
    documents = [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]
    # EMF writes a value, or a list of them when one invocation added the metric again.
    values = [d[name] for d in documents if name in d]
    return sum(sum(v) if isinstance(v, list) else v for v in values)


def _delays(caplog: pytest.LogCaptureFixture) -> list[float]:
    """The delay the service decided for each wrong login, from its log lines."""
    return [float(r.__dict__["delay_s"]) for r in caplog.records if "delay_s" in r.__dict__]


def test_after_fifty_wrong_passwords_the_right_one_still_logs_in_at_once(
    rig: QbwcRig, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given a guesser (or a stale saved password) failing fifty times in a row
    rig.queue(taxed_order(1))
    capfd.readouterr()
    caplog.clear()
    assert rig.login(user="someone-else")[1] == "nvu"
    for _ in range(49):
        assert rig.login(password="wrong")[1] == "nvu"
    failed, delays = capfd.readouterr().out, _delays(caplog)
    caplog.clear()

    # When the merchant's Web Connector comes with the right password
    ticket, status = rig.login()[:2]

    # Then it gets a session at once; each wrong answer waited longer, up to the cap; each
    # counted in the metric the alarm watches
    assert status == "" and len(ticket) >= 32
    assert delays == [1.0, 2.0] + [4.0] * 48
    assert _metric_count(failed, "WebConnectorLoginFailed") == 50
    assert _delays(caplog) == []
    assert _metric_count(capfd.readouterr().out, "WebConnectorLoginFailed") == 0
    # And the session drains as any other does
    company = QbdCompany()
    assert _drain_by_hand(rig, ticket, company)[-1] == 100
    assert [t.ref_number for t in company.transactions("Invoice")] == ["1"]


def test_a_rotated_password_works_at_once_despite_the_cached_hash(rig: QbwcRig) -> None:
    from connector.ledgers.qbd.password import hash_password
    from connector.secrets import QbdSecrets, SecretVault

    # Given a login that warms the endpoint's cache of the password hash
    assert rig.login()[1] == "none"
    # When the merchant rotates the password (what `connector qwc --rotate` stores)
    vault = SecretVault(
        rig.runtime.secret_prefix, client=rig.runtime.boto3_client("secretsmanager")
    )
    vault.save_qbd(CONN, QbdSecrets(password_hash=hash_password("a brand new one")))
    # Then the new password is accepted at once
    assert rig.login(password="a brand new one")[1] == "none"


def test_a_second_session_while_one_is_alive_is_busy(rig: QbwcRig) -> None:
    rig.queue(taxed_order(1))
    ticket, status = rig.login()[:2]
    assert status == ""
    busy = rig.login()
    assert busy[1] == "busy" and busy[0] != ticket and int(busy[2]) > 0
    rig.call("closeConnection", ticket=ticket)
    assert rig.login()[1] == ""


def test_a_ticket_from_nowhere_gets_nothing(rig: QbwcRig) -> None:
    rig.queue(taxed_order(1))
    assert rig.send("not-a-ticket") == ""
    assert "expired" in rig.call("getLastError", ticket="not-a-ticket").value()
    assert rig.receive("not-a-ticket", "<QBXML/>") < 0


def test_a_malformed_envelope_is_a_soap_client_fault(rig: QbwcRig) -> None:
    raw = httpx.post(rig.url, content=b"<soap:Envelope", headers={"Content-Type": "text/xml"})
    answer = rig.answer(raw)
    assert raw.status_code == 400 and answer.content_type.startswith("text/xml")
    fault = answer.fault()
    assert fault is not None and fault[0] == "soap:Client"
    assert "Traceback" not in raw.text


def test_an_unknown_method_and_an_entity_bomb_are_faults(rig: QbwcRig) -> None:
    unknown = httpx.post(
        rig.url,
        content=b'<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/'
        b'soap/envelope/"><soap:Body><dropTables xmlns="http://developer.intuit.com/"/>'
        b"</soap:Body></soap:Envelope>",
    )
    assert unknown.status_code == 400 and "dropTables" in rig.answer(unknown).fault()[1]  # type: ignore[index]
    bomb = httpx.post(
        rig.url,
        content=b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><soap:Envelope '
        b'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        b'<clientVersion xmlns="http://developer.intuit.com/"><strVersion>&a;</strVersion>'
        b"</clientVersion></soap:Body></soap:Envelope>",
    )
    assert bomb.status_code == 400 and rig.answer(bomb).fault()[0] == "soap:Client"  # type: ignore[index]


def test_the_wsdl_is_served_with_this_endpoint_as_its_address(rig: QbwcRig) -> None:
    raw = httpx.get(f"{rig.url}?wsdl")
    assert raw.status_code == 200 and raw.headers["content-type"].startswith("text/xml")
    root = rig.answer(raw).root
    address = root.find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address")
    assert address is not None and address.get("location") == rig.url
    operations = {o.get("name") for o in root.iter("{http://schemas.xmlsoap.org/wsdl/}operation")}
    assert operations == {
        "serverVersion", "clientVersion", "authenticate", "sendRequestXML",
        "receiveResponseXML", "connectionError", "getLastError", "closeConnection",
    }  # fmt: skip
    assert httpx.get(f"{rig.runtime.base_url}/qbwc/nope?wsdl").status_code == 404


def test_old_web_connectors_are_refused_and_older_ones_warned(rig: QbwcRig) -> None:
    assert rig.call("clientVersion", strVersion="1.5.0.0").value().startswith("E:")
    assert rig.call("clientVersion", strVersion="2.1.0.30").value().startswith("W:")
    assert rig.call("clientVersion", strVersion="2.3.0.36").value() == ""


def test_a_lost_response_is_resumed_next_session_without_duplicates(rig: QbwcRig) -> None:
    # Given orders whose InvoiceAdd message reaches QuickBooks but whose answer is lost
    for order_id in (1, 2):
        rig.queue(taxed_order(order_id))
    company = QbdCompany()
    ticket = rig.login()[0]
    lookups = rig.send(ticket, first=True)
    assert "CustomerQueryRq" in lookups
    rig.receive(ticket, company.process(lookups))
    writes = rig.send(ticket)
    assert "InvoiceAddRq" in writes and "newMessageSetID" in writes
    company.process(writes)  # QuickBooks adds both; the PC dies before the answer is read

    # When the next session runs (after the dead session's lease has run out)
    rig.let_sessions_lapse()
    ticket = rig.login()[0]
    resumed = rig.send(ticket, first=True)
    percents = [rig.receive(ticket, company.process(resumed))]
    percents += _drain_by_hand(rig, ticket, company)

    # Then it asked for the lost answer and nothing was added twice
    assert "oldMessageSetID" in resumed
    assert sorted(t.ref_number for t in company.transactions("Invoice")) == ["1", "2"]
    assert len([c for c in company.customers() if c.name.startswith("Ada")]) == 2
    assert rig.sync_state(1).status == "posted" and rig.sync_state(2).status == "posted"
    assert 100 in percents


def test_the_simulated_web_connector_survives_a_lost_response_and_a_dropped_connection(
    rig: QbwcRig,
) -> None:
    for order_id in range(1, 8):
        rig.queue(taxed_order(order_id, email="same@example.com" if order_id % 2 else None))
    company = QbdCompany()
    with WebConnector(rig.url, USER, PASSWORD, company, noop_pause_s=0) as connector:
        connector.lose_response_once()
        first = connector.run_session()
        # A dead session keeps the connection "busy" until its lease lapses.
        assert connector.run_session().outcome == "busy"
        rig.let_sessions_lapse()
        connector.drop_connection_after(5)
        reports = [first, connector.run_session()]
        for _ in range(6):
            if rig.outbox.count_waiting(CONN) == 0:
                break
            rig.let_sessions_lapse()
            reports.append(connector.run_session())
    assert first.outcome in ("response_lost", "error")
    assert rig.outbox.count_waiting(CONN) == 0, [r.outcome for r in reports]
    refs = sorted(t.ref_number for t in company.transactions("Invoice"))
    assert refs == [str(i) for i in range(1, 8)]
    assert all(rig.sync_state(i).status == "posted" for i in range(1, 8))
    # What QuickBooks has left the waiting entries, so later sessions do not read it again
    assert list(rig.outbox.entries(CONN)) == []
    done = [e for e in rig.outbox.finished(CONN) if e.record_id in {str(i) for i in range(1, 8)}]
    assert len(done) == 7 and {e.status for e in done} == {"done"}


def test_an_hresult_means_not_processed_and_is_sent_again_next_session(rig: QbwcRig) -> None:
    rig.queue(taxed_order(1))
    company = QbdCompany()
    ticket = rig.login()[0]
    rig.receive(ticket, company.process(rig.send(ticket, first=True)))
    rig.send(ticket)  # QuickBooks throws on it: nothing was processed
    percent = rig.receive(
        ticket,
        hresult="0x80040400",
        message="QuickBooks found an error when parsing the provided XML text stream.",
    )
    assert percent < 0
    assert "0x80040400" in rig.call("getLastError", ticket=ticket).value()
    rig.call("closeConnection", ticket=ticket)

    ticket = rig.login()[0]
    assert _drain_by_hand(rig, ticket, company)[-1] == 100
    assert [t.ref_number for t in company.transactions("Invoice")] == ["1"]


def test_a_locked_record_waits_for_the_next_session(rig: QbwcRig) -> None:
    rig.queue(taxed_order(1))
    company = QbdCompany()
    company.inject(3175, request="InvoiceAdd")
    ticket = rig.login()[0]
    assert _drain_by_hand(rig, ticket, company)[-1] == 100
    assert company.transactions("Invoice") == []
    assert rig.events(1)[-1] == "failed"
    rig.call("closeConnection", ticket=ticket)

    ticket = rig.login()[0]
    assert _drain_by_hand(rig, ticket, company)[-1] == 100
    assert [t.ref_number for t in company.transactions("Invoice")] == ["1"]


def test_a_name_owned_by_someone_else_gets_a_disambiguated_customer(rig: QbwcRig) -> None:
    company = QbdCompany()
    company.add_list_record("Customer", "Ada Buyer1", Email="other.ada@example.com")
    rig.queue(taxed_order(1))
    ticket = rig.login()[0]
    assert _drain_by_hand(rig, ticket, company)[-1] == 100
    (invoice,) = company.transactions("Invoice")
    assert invoice.customer == "Ada Buyer1 (buyer1@example.com)"


def test_an_order_update_modifies_the_invoice_with_its_edit_sequence(rig: QbwcRig) -> None:
    company = QbdCompany()
    rig.queue(taxed_order(1))
    ticket = rig.login()[0]
    _drain_by_hand(rig, ticket, company)
    rig.call("closeConnection", ticket=ticket)
    txn_id = rig.sync_state(1).ledger_id

    rig.queue(taxed_order(1, price="30.00"))
    ticket = rig.login()[0]
    _drain_by_hand(rig, ticket, company)
    (invoice,) = company.transactions("Invoice")
    assert invoice.txn_id == txn_id and str(invoice.total) == "36.60"
    assert rig.sync_state(1).ledger_total == "36.60"
    assert rig.events(1)[-1] == "updated"


def test_a_missing_item_parks_the_order_and_requeue_sends_it_again(
    rig: QbwcRig, qbwc_rig: QbwcRigs
) -> None:
    from connector.ledgers.qbd.outbox import requeue_parked

    company = QbdCompany()
    with qbwc_rig(fallback_item="Mugs") as other:
        other.queue(taxed_order(1))
        ticket = other.login()[0]
        assert _drain_by_hand(other, ticket, company)[-1] == 100
        other.call("closeConnection", ticket=ticket)
        state = other.sync_state(1)
        assert state.status == "parked" and "Mugs" in (state.last_error or "")
        assert other.events(1)[-1] == "parked"

        company.add_list_record("ItemNonInventory", "Mugs")
        requeue_parked(CONN, "1", outbox=other.outbox, state=other.state, audit=other.trail)
        assert other.events(1)[-1] == "replayed"
        ticket = other.login()[0]
        assert _drain_by_hand(other, ticket, company)[-1] == 100
        assert other.sync_state(1).status == "posted"
    assert [t.ref_number for t in company.transactions("Invoice")] == ["1"]


def test_refunds_become_one_credit_memo_each_amount_only_ones_included(rig: QbwcRig) -> None:
    from connector.model import Refund, RefundLine

    # Given an order in QuickBooks and two refunds on it: one amount-only, one for its line
    order = taxed_order(41)
    rig.queue(order)
    company = QbdCompany()
    with WebConnector(rig.url, USER, PASSWORD, company, noop_pause_s=0) as connector:
        assert connector.run_session().outcome == "done"
        rig.let_sessions_lapse()
        refunds = [
            Refund(
                connection_id=CONN, store_id="900", order_store_id="41", order_number="41",
                currency="USD", created_at=order.modified_at, amount=Decimal("5.00"),
                reason="Late delivery",
            ),
            Refund(
                connection_id=CONN, store_id="901", order_store_id="41", order_number="41",
                currency="USD", created_at=order.modified_at, amount=Decimal("21.60"),
                lines=(
                    RefundLine(
                        line_id=order.lines[0].line_id, sku=order.lines[0].sku,
                        name=order.lines[0].name, quantity=Decimal(1), total=Decimal("20.00"),
                        taxes=order.lines[0].taxes,
                    ),
                ),
            ),
        ]  # fmt: skip
        for refund in refunds:
            rig.ledger().post_refund(refund, order, None, None)
        # When the Web Connector runs again
        session = connector.run_session()
    # Then each refund is one credit memo of its amount, and nothing is left waiting
    assert session.outcome == "done"
    memos = sorted((t.ref_number, t.total) for t in company.transactions("CreditMemo"))
    assert memos == [("R900", Decimal("5.00")), ("R901", Decimal("21.60"))]
    assert rig.outbox.count_waiting(CONN) == 0

"""A Web Connector ticket is good only while its session holds the connection's lease.

The lease (qbwc_sessions, active#<connection>/LEASE) lasts ACTIVE_TIMEOUT_S after the
session's last call; every call with a ticket renews it first. A ticket whose lease lapsed
is told the session ended, the way QBWC ends a run (sendRequestXML "", receiveResponseXML
negative, getLastError a message), and what it had sent is asked for again next session.
Time passes on the lease the service keeps (``rig.time_passes``), or on the store's clock.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connector.ledgers.qbd.qbwc_sessions import ACTIVE_TIMEOUT_S, SessionStore
from connector.resources import ENV_SESSION_TABLE
from simulators.qbd import QbdCompany
from simulators.testbed.clocks import Clock
from simulators.testbed.desktop import CONN, QbwcRig, QbwcRigs
from simulators.testbed.orders import taxed_order


@pytest.fixture()
def rig(qbwc_rig: QbwcRigs) -> Iterator[QbwcRig]:
    with qbwc_rig() as running:
        yield running


def test_a_ticket_used_after_its_lease_lapsed_is_refused_and_its_work_is_asked_for_again(
    rig: QbwcRig,
) -> None:
    # Given a session whose InvoiceAdd message QuickBooks ran, answered only after the
    # session went quiet for longer than its lease
    for order_id in (1, 2):
        rig.queue(taxed_order(order_id))
    company = QbdCompany()
    ticket = rig.login()[0]
    rig.receive(ticket, company.process(rig.send(ticket, first=True)))
    writes = rig.send(ticket)
    assert "InvoiceAddRq" in writes
    late_answer = company.process(writes)
    rig.time_passes(CONN, ACTIVE_TIMEOUT_S)

    # When the Web Connector comes back with that ticket
    percent = rig.receive(ticket, late_answer)
    last_error = rig.call("getLastError", ticket=ticket).value()
    more = rig.send(ticket)
    closed = rig.call("closeConnection", ticket=ticket).value()

    # Then the session is over: the answers that end a QBWC run, and a message saying why
    assert percent < 0 and more == ""
    assert "expired" in last_error and "Nothing is lost" in last_error
    assert "expired" in closed
    # And nothing was recorded from the refused call
    assert rig.sync_state(1).status != "posted" and rig.sync_state(2).status != "posted"

    # When the next scheduled run logs in
    ticket = rig.login()[0]
    assert rig.send("x" + ticket[1:]) == ""
    resumed = rig.send(ticket, first=True)
    percents = [rig.receive(ticket, company.process(resumed))]
    while 0 < percents[-1] < 100:
        percents.append(rig.receive(ticket, company.process(rig.send(ticket))))

    # Then it asks QuickBooks for the lost answer: each order posted once, nothing added twice
    assert "oldMessageSetID" in resumed
    assert percents[-1] == 100
    assert sorted(t.ref_number for t in company.transactions("Invoice")) == ["1", "2"]
    assert [rig.sync_state(i).status for i in (1, 2)] == ["posted", "posted"]


def test_a_session_that_another_took_over_gets_nothing_more(rig: QbwcRig) -> None:
    # Given a session that went quiet, and the next run's session that took the lease
    rig.queue(taxed_order(1))
    company = QbdCompany()
    stale = rig.login()[0]
    rig.receive(stale, company.process(rig.send(stale, first=True)))
    rig.time_passes(CONN, ACTIVE_TIMEOUT_S)
    fresh = rig.login()[0]
    assert fresh != stale

    # When the quiet one comes back
    # Then it is handed no message and its close does not end the live session
    assert rig.send(stale) == ""
    assert "expired" in rig.call("closeConnection", ticket=stale).value()
    percents = [rig.receive(fresh, company.process(rig.send(fresh, first=True)))]
    while 0 < percents[-1] < 100:
        percents.append(rig.receive(fresh, company.process(rig.send(fresh))))
    assert percents[-1] == 100
    assert [t.ref_number for t in company.transactions("Invoice")] == ["1"]


def test_a_live_session_keeps_its_ticket_across_renewals(rig: QbwcRig) -> None:
    # Given a session of several messages, each call coming four minutes after the last
    # (longer in all than one lease)
    for order_id in range(1, 5):
        rig.queue(taxed_order(order_id))
    company = QbdCompany()
    ticket = rig.login()[0]
    gap = ACTIVE_TIMEOUT_S - 60
    calls = 0

    def wait() -> None:
        nonlocal calls
        calls += 1
        rig.time_passes(CONN, gap)

    # When the Web Connector drains it
    request = rig.send(ticket, first=True)
    percents: list[int] = []
    while request:
        wait()
        percents.append(rig.receive(ticket, company.process(request)))
        if not 0 < percents[-1] < 100:
            break
        wait()
        request = rig.send(ticket)

    # Then the ticket worked throughout and every order posted
    assert calls * gap > 2 * ACTIVE_TIMEOUT_S
    assert percents[-1] == 100
    assert sorted(t.ref_number for t in company.transactions("Invoice")) == ["1", "2", "3", "4"]
    assert rig.call("closeConnection", ticket=ticket).value().startswith("OK: 4 sent")


def test_the_lease_is_renewed_by_each_call_and_never_revived(rig: QbwcRig) -> None:
    clock = Clock()
    table = rig.runtime.env[ENV_SESSION_TABLE]
    sessions = SessionStore(table, resource=rig.runtime.boto3_resource("dynamodb"), clock=clock)
    session = sessions.open(CONN, total=1)
    assert session is not None
    # Renewed within its lease, again and again: held far past the first lease's end
    for _ in range(5):
        clock.advance(ACTIVE_TIMEOUT_S - 1)
        assert sessions.renew(session)
    # Quiet for longer than a lease: lapsed, and a renewal does not bring it back
    clock.advance(ACTIVE_TIMEOUT_S + 1)
    assert not sessions.renew(session)
    assert sessions.active_until(CONN) is None
    # Another session takes the lease; the old one stays out
    other = sessions.open(CONN, total=1)
    assert other is not None and other.ticket != session.ticket
    assert not sessions.renew(session) and sessions.renew(other)

"""qbXML error recovery through POST /qbwc/{connection}: which lost answer the next session asks for.

QuickBooks keeps the answer of the last message set sent with a newMessageSetID only;
asking about an older one is answered 600 ("not found") and recovers nothing. The test
hands each qbXML message to the simulated company by hand, so it can lose answers.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from lxml import etree

from connector.model import Order
from simulators.qbd import QbdCompany
from simulators.testbed.desktop import QbwcRig, QbwcRigs
from simulators.testbed.orders import taxed_order


@pytest.fixture()
def rig(qbwc_rig: QbwcRigs) -> Iterator[QbwcRig]:
    with qbwc_rig() as running:
        yield running


def _msgs(qbxml_text: str) -> etree._Element:
    root = etree.fromstring(qbxml_text.split("?>", 2)[-1].encode("utf-8"))
    msgs = root.find("QBXMLMsgsRq")
    if msgs is None:
        msgs = root.find("QBXMLMsgsRs")
    assert msgs is not None
    return msgs


def _same_buyer(order_id: int, first: Order) -> Order:
    return taxed_order(order_id).model_copy(update={"customer": first.customer})


def test_after_a_second_lost_answer_the_latest_message_set_is_asked_for(rig: QbwcRig) -> None:
    company = QbdCompany()
    first = taxed_order(1)
    rig.queue(first)
    rig.queue(_same_buyer(2, first))
    # Given a session where QuickBooks locks order 1's invoice (3175: tried again next
    # session), posts order 2, and adds order 3 (queued meanwhile), whose answer is lost
    company.inject(3175, request="InvoiceAdd")
    ticket = rig.login()[0]
    rig.receive(ticket, company.process(rig.send(ticket, first=True)))
    assert rig.receive(ticket, company.process(rig.send(ticket))) == 100
    rig.queue(_same_buyer(3, first))
    lost_first = rig.send(ticket)
    assert "InvoiceAddRq" in lost_first
    company.process(lost_first)
    # And a next session whose first message (order 1 again) loses its answer too
    rig.let_sessions_lapse()
    ticket = rig.login()[0]
    lost_second = rig.send(ticket, first=True)
    assert _msgs(lost_second).get("oldMessageSetID") == _msgs(lost_first).get("newMessageSetID")
    company.process(lost_second)

    # When the Web Connector runs again
    rig.let_sessions_lapse()
    ticket = rig.login()[0]
    resumed = rig.send(ticket, first=True)
    answer = company.process(resumed)
    percents = [rig.receive(ticket, answer)]
    while 0 < percents[-1] < 100:
        percents.append(rig.receive(ticket, company.process(rig.send(ticket))))

    # Then it asked about the latest lost message set, which QuickBooks still had
    assert _msgs(resumed).get("oldMessageSetID") == _msgs(lost_second).get("newMessageSetID")
    assert _msgs(answer).get("messageSetStatusCode") == "0"
    # And every order is one invoice, posted
    assert sorted(t.ref_number for t in company.transactions("Invoice")) == ["1", "2", "3"]
    assert [rig.sync_state(i).status for i in (1, 2, 3)] == ["posted"] * 3
    assert percents[-1] == 100


def test_a_message_left_unanswered_within_a_session_is_asked_for_next(rig: QbwcRig) -> None:
    # Given a session whose writes reached QuickBooks but whose answer was never delivered
    company = QbdCompany()
    for order_id in (1, 2):
        rig.queue(taxed_order(order_id))
    ticket = rig.login()[0]
    rig.receive(ticket, company.process(rig.send(ticket, first=True)))
    unanswered = rig.send(ticket)
    company.process(unanswered)
    # When the Web Connector asks for the next message instead
    following = rig.send(ticket)
    answer = company.process(following)
    percents = [rig.receive(ticket, answer)]
    while 0 < percents[-1] < 100:
        percents.append(rig.receive(ticket, company.process(rig.send(ticket))))
    # Then that message asks QuickBooks for the unanswered one, and nothing is added twice
    assert _msgs(following).get("oldMessageSetID") == _msgs(unanswered).get("newMessageSetID")
    assert _msgs(answer).get("messageSetStatusCode") == "0"
    assert sorted(t.ref_number for t in company.transactions("Invoice")) == ["1", "2"]
    assert [rig.sync_state(i).status for i in (1, 2)] == ["posted"] * 2

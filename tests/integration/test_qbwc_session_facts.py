"""A Web Connector session's facts stay bounded: the session item never nears DynamoDB's 400 KB.

What a session learns from QuickBooks (customers by name, RefNumber pre-checks, missing
items) rides in its session item; it used to grow with every customer until DynamoDB
refused the item (moto server refuses items over 400 KB too). Facts are now a cache
(drain_facts): the oldest let go, asked for again when an entry still needs them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connector.ledgers.qbd import drain, drain_facts, qbxml
from connector.ledgers.qbd.qbwc_sessions import SessionStore
from connector.resources import ENV_SESSION_TABLE
from simulators.qbd import QbdCompany
from simulators.qbwc import WebConnector
from simulators.testbed.desktop import CONN, PASSWORD, USER, QbwcRig, QbwcRigs
from simulators.testbed.orders import taxed_order

CUSTOMERS = 10_000
PER_MESSAGE = 100  # the most a connection may carry (max_requests_per_message)


@pytest.fixture()
def rig(qbwc_rig: QbwcRigs) -> Iterator[QbwcRig]:
    with qbwc_rig() as running:
        yield running


def _item_bytes(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it: names and values, UTF-8."""
    return sum(len(name.encode()) + len(str(value).encode()) for name, value in item.items())


def _learn_customers(
    sessions: SessionStore, ticket: str, company: QbdCompany, names: list[str]
) -> None:
    """One round of a session: QuickBooks answers a message of customer lookups, the session
    reads the answers (drain.read, as receiveResponseXML does) and is saved."""
    session = sessions.get(ticket)
    assert session is not None
    rids = [f"learn{n}.{i}" for i, n in enumerate(names)]
    message = qbxml.render_message(
        [qbxml.customer_query(name, request_id=rid) for rid, name in zip(rids, names, strict=True)],
        version="13.0",
    )
    purposes = {
        rid: {"op": "customer_query", "name": name, "seqs": []}
        for rid, name in zip(rids, names, strict=True)
    }
    answer = qbxml.parse_response(company.process(message))
    assert drain.read(purposes, answer.responses, session.facts) == []
    sessions.save(session)


def test_a_session_that_learns_ten_thousand_customers_keeps_a_small_item_and_drains(
    rig: QbwcRig,
) -> None:
    # Given a company file with half of 10,000 buyers in it, and orders waiting
    company = QbdCompany()
    names = [f"Buyer {i:05d}" for i in range(CUSTOMERS)]
    for i, name in enumerate(names[::2]):
        company.add_list_record("Customer", name, Email=f"buyer{i}@example.com")
    for order_id in (1, 2, 3):
        rig.queue(taxed_order(order_id))
    table = rig.runtime.boto3_resource("dynamodb").Table(rig.runtime.env[ENV_SESSION_TABLE])
    sessions = SessionStore(table.name, resource=rig.runtime.boto3_resource("dynamodb"))

    # When one Web Connector session learns about all 10,000 (a full message of lookups a
    # round) between its first message and the rest of its work
    ticket = rig.login()[0]
    first = rig.send(ticket, first=True)
    percent = rig.receive(ticket, company.process(first))
    sizes: list[int] = []
    for start in range(0, CUSTOMERS, PER_MESSAGE):
        _learn_customers(sessions, ticket, company, names[start : start + PER_MESSAGE])
        item = table.get_item(Key={"pk": f"ticket#{ticket}", "sk": "SESSION"})["Item"]
        sizes.append(_item_bytes(item))
    percents = [percent]
    while 0 < percents[-1] < 100:
        percents.append(rig.receive(ticket, company.process(rig.send(ticket))))

    # Then every save went through and the item stayed far below 400 KB, keeping the newest
    session = sessions.get(ticket)
    assert session is not None
    known = session.facts["customers"]
    assert max(sizes) < 200_000, max(sizes)
    assert names[-1].lower() in known and names[0].lower() not in known
    assert known[names[-2].lower()]["list_id"] and known[names[-1].lower()] == {"missing": True}
    # And the session drained: each order one invoice, each buyer one customer
    assert percents[-1] == 100
    assert sorted(t.ref_number for t in company.transactions("Invoice")) == ["1", "2", "3"]
    ada = sorted(c.name for c in company.customers() if c.name.startswith("Ada"))
    assert ada == ["Ada Buyer1", "Ada Buyer2", "Ada Buyer3"]
    assert [rig.sync_state(i).status for i in (1, 2, 3)] == ["posted"] * 3


def test_facts_let_go_are_asked_for_again_and_nothing_is_added_twice(
    rig: QbwcRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a session that remembers no customer from one call to the next (the extreme of
    # a full cache), and orders of twenty buyers, ten of them buying twice
    monkeypatch.setitem(drain_facts.FACT_SHARES, "customers", 0)
    for order_id in range(1, 31):
        buyer = taxed_order(order_id if order_id <= 20 else order_id - 20)
        order = taxed_order(order_id).model_copy(update={"customer": buyer.customer})
        rig.queue(order)
    company = QbdCompany()

    # When the Web Connector drains them
    with WebConnector(rig.url, USER, PASSWORD, company, noop_pause_s=0) as connector:
        report = connector.run_session()

    # Then every order posted once, every buyer is one customer
    assert report.outcome == "done" and report.percents[-1] == 100
    # (buyers whose facts were let go before their orders fit a message were asked again)
    lookups = sum(r.count("<CustomerQueryRq") for r in report.requests)
    assert lookups > 20
    refs = sorted(int(t.ref_number) for t in company.transactions("Invoice"))
    assert refs == list(range(1, 31))
    ada = [c.name for c in company.customers() if c.name.startswith("Ada")]
    assert sorted(ada) == sorted(f"Ada Buyer{i}" for i in range(1, 21))
    assert all(rig.sync_state(i).status == "posted" for i in range(1, 31))
    assert rig.outbox.count_waiting(CONN) == 0

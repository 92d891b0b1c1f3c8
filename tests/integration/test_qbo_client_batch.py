"""QboClient.batch against the simulated QuickBooks Online company over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from connector.ledgers.qbo.client import BatchOperation, QboClient
from connector.ledgers.qbo.faults import (
    QboBusinessRetryable,
    QboDuplicateDocNumber,
    QboNotFound,
    QboServerError,
    QboThrottled,
    QboUnknownOutcome,
)
from simulators.testbed.qbo_http import Api, invoice_body, new_customer


class FixedTokens:
    def __init__(self, token: str) -> None:
        self.token = token

    def access_token(self) -> str:
        return self.token

    def refresh_after_unauthorized(self, rejected: str) -> str:
        raise AssertionError("no refresh expected")


def client_for(api: Api) -> QboClient:
    return QboClient(
        api_base=api.base,
        realm_id=api.sim.realm_id,
        tokens=FixedTokens(api.token),
        throttle_backoff_s=(0.01,),
    )


def invoice(bid: str, customer_id: str, number: str) -> BatchOperation:
    body = invoice_body(customer_id, number)
    for line in body["Line"]:  # money as Decimal, as the ledger builds it
        line["Amount"] = Decimal(str(line["Amount"]))
    return BatchOperation(bid, "create", "Invoice", body)


def test_one_request_answers_each_operation_by_bid(api: Api) -> None:
    ada = new_customer(api)["Id"]
    client = client_for(api)
    got = client.batch(
        [
            invoice("1", ada, "WC-1"),
            BatchOperation("2", "create", "Customer", {"DisplayName": "Grace Hopper"}),
            BatchOperation("3", "query", statement="SELECT * FROM Customer WHERE Id = '1'"),
        ],
        request_id="b-1",
    )
    assert client.calls == 1
    first = got["1"]
    assert isinstance(first, dict) and first["DocNumber"] == "WC-1"
    assert first["TotalAmt"] == Decimal("24.99")
    second = got["2"]
    assert isinstance(second, dict) and second["DisplayName"] == "Grace Hopper"
    third = got["3"]
    assert isinstance(third, dict) and third["Customer"][0]["Id"] == ada


def test_each_item_fault_is_classified_as_a_single_call_s_and_spares_its_neighbours(
    api: Api,
) -> None:
    ada = new_customer(api)["Id"]
    client = client_for(api)
    existing = client.create("Invoice", invoice_body(ada, "WC-9"), request_id="single-9")
    with pytest.raises(QboDuplicateDocNumber) as single:
        client.create("Invoice", invoice_body(ada, "WC-9"), request_id="single-9b")
    api.sim.inject(500, entity="SalesReceipt")
    api.sim.inject(6000, entity="Customer")
    got = client.batch(
        [
            invoice("dup", ada, "WC-9"),
            invoice("ghost", "999999", "WC-10"),
            BatchOperation("srv", "create", "SalesReceipt", invoice_body(ada, "SR-1")),
            BatchOperation("try", "create", "Customer", {"DisplayName": "Grace Hopper"}),
            invoice("ok", ada, "WC-11"),
        ]
    )
    duplicate = got["dup"]
    assert isinstance(duplicate, QboDuplicateDocNumber)
    assert duplicate.existing_txn_id == existing["Id"] == single.value.existing_txn_id
    assert (duplicate.code, duplicate.detail) == (single.value.code, single.value.detail)
    assert isinstance(got["ghost"], QboNotFound)
    assert isinstance(got["srv"], QboServerError)
    assert isinstance(got["try"], QboBusinessRetryable)
    ok = got["ok"]
    assert isinstance(ok, dict) and ok["DocNumber"] == "WC-11"
    numbers = sorted(d["DocNumber"] for d in api.sim.documents("Invoice"))
    assert numbers == ["WC-11", "WC-9"]


def test_a_lost_answer_raises_and_the_resend_adopts_what_was_applied(api: Api) -> None:
    ada = new_customer(api)["Id"]
    client = client_for(api)
    operations = [invoice(str(n), ada, f"WC-{n}") for n in range(30)]
    api.sim.inject("lost", entity="Invoice")
    with pytest.raises(QboUnknownOutcome):
        client.batch(operations, request_id="batch-lost-1")
    assert len(api.sim.documents("Invoice")) == 30
    again = client.batch(operations, request_id="batch-lost-1")
    assert all(isinstance(v, dict) for v in again.values())
    assert len(api.sim.documents("Invoice")) == 30
    assert {v["DocNumber"] for v in again.values() if isinstance(v, dict)} == {
        f"WC-{n}" for n in range(30)
    }


def test_a_503_injected_for_invoice_creates_meets_the_batch_carrying_one(api: Api) -> None:
    # The fault is the gateway's: the batch is the one request carrying the invoice create,
    # so it is met whether the create goes alone or batched (not by how many calls happen).
    ada = new_customer(api)["Id"]
    client = client_for(api)
    api.sim.inject(503, entity="Invoice", operation="create")
    customers = [BatchOperation("c", "create", "Customer", {"DisplayName": "Grace Hopper"})]
    assert isinstance(client.batch(customers)["c"], dict)  # carries no invoice: not met
    with pytest.raises(QboServerError):
        client.batch([invoice("1", ada, "WC-1"), invoice("2", ada, "WC-2")])
    assert api.sim.documents("Invoice") == []  # refused at the gateway: nothing applied
    assert [e.status for e in api.sim.request_log if e.path.endswith("/batch")] == [200, 503]
    again = client.batch([invoice("1", ada, "WC-1"), invoice("2", ada, "WC-2")])
    assert all(isinstance(v, dict) for v in again.values())  # met once
    assert sorted(d["DocNumber"] for d in api.sim.documents("Invoice")) == ["WC-1", "WC-2"]


def test_batches_over_the_company_s_limit_raise_throttled(make_api: Callable[..., Api]) -> None:
    api = make_api(batch_per_minute_limit=2)
    client = client_for(api)
    query = [BatchOperation("q", "query", statement="SELECT * FROM Customer")]
    client.batch(query)
    client.batch(query)
    with pytest.raises(QboThrottled):
        client.batch(query)


@pytest.mark.parametrize(
    ("operations", "request_id"),
    [
        (
            [BatchOperation(str(n), "query", statement="SELECT * FROM Item") for n in range(31)],
            None,
        ),
        (
            [
                BatchOperation("a", "query", statement="x"),
                BatchOperation("a", "query", statement="y"),
            ],
            None,
        ),
        ([BatchOperation("b" * 11, "query", statement="x")], None),
        ([BatchOperation("a", "query", statement="x")], "r" * 37),
        ([BatchOperation("a", "create", "Invoice")], None),
        ([], None),
    ],
)
def test_a_batch_qbo_would_refuse_is_not_sent(
    api: Api, operations: list[BatchOperation], request_id: Any
) -> None:
    client = client_for(api)
    with pytest.raises(ValueError):
        client.batch(operations, request_id=request_id)
    assert client.calls == 0

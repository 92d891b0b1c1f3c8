"""The simulated QuickBooks Online company's batch endpoint, spoken to over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from lxml import etree

from simulators.testbed.clocks import Clock
from simulators.testbed.qbo_http import Api, fault_of, invoice_body, new_customer


def batch(api: Api, items: list[dict[str, Any]], **params: str) -> httpx.Response:
    return api.post("batch", {"BatchItemRequest": items}, **params)


def answers(response: httpx.Response) -> dict[str, dict[str, Any]]:
    assert response.status_code == 200, response.text
    return {a["bId"]: a for a in response.json()["BatchItemResponse"]}


def create(bid: str, entity: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"bId": bid, "operation": "create", entity: body}


def test_items_answer_by_bid_and_a_failing_item_leaves_its_neighbours(api: Api) -> None:
    ada = new_customer(api)["Id"]
    response = batch(
        api,
        [
            create("1", "Invoice", invoice_body(ada, "WC-1")),
            create("2", "Invoice", invoice_body("999999", "WC-2")),
            create("3", "Customer", {"DisplayName": "Grace Hopper"}),
            {"bId": "4", "Query": "SELECT * FROM Customer WHERE DisplayName = 'Ada Lovelace'"},
        ],
    )
    got = answers(response)
    assert [a["bId"] for a in response.json()["BatchItemResponse"]] == ["1", "2", "3", "4"]
    assert got["1"]["Invoice"]["DocNumber"] == "WC-1"
    assert got["2"]["Fault"]["Error"][0]["code"] == "2500"
    assert got["2"]["Fault"]["type"] == "ValidationFault"
    assert got["3"]["Customer"]["DisplayName"] == "Grace Hopper"
    assert got["4"]["QueryResponse"]["Customer"][0]["Id"] == ada
    assert [d["DocNumber"] for d in api.sim.documents("Invoice")] == ["WC-1"]


def test_an_item_gets_the_fault_a_single_request_would(api: Api) -> None:
    ada = new_customer(api)["Id"]
    assert api.post("invoice", invoice_body(ada, "WC-7")).status_code == 200
    single = api.post("invoice", invoice_body(ada, "WC-7"))
    got = answers(batch(api, [create("a", "Invoice", invoice_body(ada, "WC-7"))]))
    assert got["a"]["Fault"]["Error"][0] == fault_of(single)
    assert got["a"]["Fault"]["Error"][0]["code"] == "6140"


def test_injected_item_faults_fail_only_their_item(api: Api) -> None:
    ada = new_customer(api)["Id"]
    api.sim.inject(500, entity="Invoice", operation="create")
    api.sim.inject(6000, entity="Customer")
    got = answers(
        batch(
            api,
            [
                create("1", "Invoice", invoice_body(ada, "WC-1")),
                create("2", "Customer", {"DisplayName": "Grace Hopper"}),
                create("3", "Invoice", invoice_body(ada, "WC-3")),
            ],
        )
    )
    assert got["1"]["Fault"]["type"] == "SystemFault"
    assert got["2"]["Fault"]["Error"][0]["code"] == "6000"
    assert got["3"]["Invoice"]["DocNumber"] == "WC-3"
    assert [d["DocNumber"] for d in api.sim.documents("Invoice")] == ["WC-3"]


def test_an_item_does_not_see_what_an_earlier_item_created(api: Api) -> None:
    got = answers(
        batch(
            api,
            [
                create("c", "Customer", {"DisplayName": "Grace Hopper"}),
                create("i", "Invoice", invoice_body("PLACEHOLDER", "WC-1")),
            ],
        )
    )
    grace = got["c"]["Customer"]["Id"]
    got = answers(
        batch(
            api,
            [
                create("c", "Customer", {"DisplayName": "Alan Turing"}),
                create("i", "Invoice", invoice_body(str(int(grace) + 1), "WC-2")),
            ],
        )
    )
    turing = got["c"]["Customer"]["Id"]
    assert turing == str(int(grace) + 1)
    assert got["i"]["Fault"]["Error"][0]["code"] == "2500"
    # In the next batch the customer exists.
    got = answers(batch(api, [create("i", "Invoice", invoice_body(turing, "WC-2"))]))
    assert got["i"]["Invoice"]["CustomerRef"]["value"] == turing


def refused(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    return str(fault_of(response)["Detail"])


def test_more_than_30_items_are_refused_and_nothing_runs(api: Api) -> None:
    items = [create(str(n), "Customer", {"DisplayName": f"Buyer {n}"}) for n in range(31)]
    assert "at most 30" in refused(batch(api, items))
    assert api.sim.documents("Customer") == []
    assert len(answers(batch(api, items[:30]))) == 30
    assert len(api.sim.documents("Customer")) == 30


def test_bad_bids_are_refused_and_nothing_runs(api: Api) -> None:
    one = {"operation": "create", "Customer": {"DisplayName": "Grace Hopper"}}
    assert "bId" in refused(batch(api, [one]))
    assert "more than one item" in refused(batch(api, [{"bId": "1", **one}, {"bId": "1", **one}]))
    assert "Max:10 supplied length:11" in refused(batch(api, [{"bId": "x" * 11, **one}]))
    assert api.sim.documents("Customer") == []


def test_requestid_over_36_characters_is_refused(api: Api) -> None:
    item = create("1", "Customer", {"DisplayName": "Grace Hopper"})
    assert "Max:36 supplied length:37" in refused(batch(api, [item], requestid="r" * 37))
    assert answers(batch(api, [item], requestid="r" * 36))["1"]["Customer"]
    assert len(api.sim.documents("Customer")) == 1


def test_a_batch_sent_again_with_its_requestid_is_applied_once(api: Api) -> None:
    ada = new_customer(api)["Id"]
    items = [create(str(n), "Invoice", invoice_body(ada, f"WC-{n}")) for n in range(3)]
    api.sim.inject("lost", entity="Invoice")
    lost = batch(api, items, requestid="batch-0001")
    assert lost.status_code == 504
    assert len(api.sim.documents("Invoice")) == 3  # applied, the answer thrown away
    again = answers(batch(api, items, requestid="batch-0001"))
    assert sorted(a["Invoice"]["DocNumber"] for a in again.values()) == ["WC-0", "WC-1", "WC-2"]
    assert len(api.sim.documents("Invoice")) == 3


def test_the_41st_batch_in_a_minute_is_throttled(
    make_api: Callable[..., Api], qbo_clock: Clock
) -> None:
    api = make_api(batch_per_minute_limit=40)
    query = [{"bId": "q", "Query": "SELECT * FROM Customer"}]
    for _ in range(40):
        assert batch(api, query).status_code == 200
    throttled = batch(api, query)
    assert throttled.status_code == 429
    root = etree.fromstring(throttled.content)
    assert root.find(".//{*}Error").get("code") == "3001"
    assert api.get("preferences").status_code == 200  # single requests still go through
    qbo_clock.advance(61)
    assert batch(api, query).status_code == 200


def test_a_batch_counts_once_against_the_per_minute_limit(
    make_api: Callable[..., Api],
) -> None:
    api = make_api(per_minute_limit=3)
    items = [create(str(n), "Customer", {"DisplayName": f"Buyer {n}"}) for n in range(30)]
    assert len(answers(batch(api, items))) == 30
    assert api.get("preferences").status_code == 200
    assert api.get("preferences").status_code == 200
    assert batch(api, items[:1]).status_code == 429


def test_a_bad_token_refuses_the_whole_batch(api: Api) -> None:
    api.token = "not-a-token"
    response = batch(api, [create("1", "Customer", {"DisplayName": "Grace Hopper"})])
    assert response.status_code == 401
    assert api.sim.documents("Customer") == []


def test_an_unknown_operation_or_entity_is_the_item_s_own_fault(api: Api) -> None:
    got = answers(
        batch(
            api,
            [
                {"bId": "1", "operation": "merge", "Customer": {"DisplayName": "X"}},
                {"bId": "2", "operation": "create", "Spaceship": {"Name": "X"}},
                {"bId": "3", "Customer": {"DisplayName": "Y"}},
                create("4", "Customer", {"DisplayName": "Grace Hopper"}),
            ],
        )
    )
    assert got["1"]["Fault"]["Error"][0]["Message"] == "Unsupported Operation"
    assert got["2"]["Fault"]["Error"][0]["Message"] == "Unsupported Operation"
    assert got["3"]["Fault"]["Error"][0]["code"] == "2020"
    assert got["4"]["Customer"]["DisplayName"] == "Grace Hopper"

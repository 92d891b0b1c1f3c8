"""Replaying parked records: from the dead-letter queue back through the worker, once the cause is fixed.

The bookkeeper's view: what stays parked stays visible with its reason; what is
replayed is marked so in the audit trail and posts exactly once. The on-call
engineer's view: `connector replay` does the same from a shell.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from connector.replay import replay_parked
from simulators.testbed.cli import connector
from simulators.testbed.online import QboRig, QboRigs, connection_settings
from simulators.woocommerce import LineSpec, OrderSpec

A, B = "shop-a", "shop-b"
POSTER = 30  # mapped to "Discontinued Widget", inactive in the simulated company


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    mapping = {"items": {"POSTER-LTD": "Discontinued Widget"}, "doc_number": "{prefix}{number}"}
    return [
        connection_settings(A, woo_url=woo_url, qbo_url=qbo_url, mapping={**mapping, "doc_prefix": "A-"}),
        connection_settings(B, woo_url=woo_url, qbo_url=qbo_url, mapping={**mapping, "doc_prefix": "B-"}),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def rig(qbo_rig: QboRigs) -> Iterator[QboRig]:
    with qbo_rig(_connections) as running:
        yield running


@pytest.fixture(scope="module")
def parked(rig: QboRig) -> dict[str, int]:
    """Three orders parked on the inactive item: two on shop A, one on shop B."""
    orders = {}
    for name, connection in (("x", A), ("y", A), ("z", B)):
        order = rig.woo.create_order(OrderSpec(lines=[LineSpec(POSTER, 1)], customer_id=2))
        rig.deliver(connection, "order.created", order["id"])
        orders[name] = order["id"]
    rig.drain()
    return orders


def _dlq(rig: QboRig) -> dict[str, str]:
    """record key -> parked reason, for everything in the dead-letter queue."""
    found: dict[str, str] = {}
    for message, attributes in rig.dead_letters():
        assert message.record_key not in found, f"{message.record_key} parked twice"
        found[message.record_key] = attributes["reason"]
    return found


def _key(connection: str, order_id: int) -> str:
    return f"{connection}#order#{order_id}"


def _replay(rig: QboRig, connection_id: str, record_id: str | None = None) -> list[str]:
    report = replay_parked(
        rig.sqs,
        dlq_url=rig.dlq_url,
        queue=rig.sync_queue(),
        connection_id=connection_id,
        record_id=record_id,
    )
    rig.drain()
    return report.replayed


def test_parked_orders_wait_in_the_dead_letter_queue_with_their_reason(
    rig: QboRig, parked: dict[str, int]
) -> None:
    expected = {_key(A, parked["x"]), _key(A, parked["y"]), _key(B, parked["z"])}
    dlq = _dlq(rig)
    assert set(dlq) == expected
    assert all("Discontinued Widget" in why and "inactive" in why for why in dlq.values())
    assert all(
        rig.sync_state(k.split("#")[0], int(k.split("#")[2])).status == "parked" for k in expected
    )


def test_a_replay_before_the_fix_parks_the_record_again_and_loses_nothing(
    rig: QboRig, parked: dict[str, int]
) -> None:
    assert _replay(rig, connection_id=A, record_id=str(parked["x"])) == [_key(A, parked["x"])]

    assert _key(A, parked["x"]) in _dlq(rig)
    assert rig.events(A, parked["x"])[-3:] == ["replayed", "fetched", "parked"]
    assert rig.documents("Invoice", parked["x"]) == []


def test_replay_moves_only_the_chosen_record_once_fixed(
    rig: QboRig, parked: dict[str, int]
) -> None:
    (widget,) = [i for i in rig.qbo.documents("Item") if i["Name"] == "Discontinued Widget"]
    rig.qbo.set_active("Item", widget["Id"], True)  # the bookkeeper's fix

    assert _replay(rig, connection_id=A, record_id=str(parked["x"])) == [_key(A, parked["x"])]

    (invoice,) = rig.documents("Invoice", parked["x"])
    assert Decimal(str(invoice["TotalAmt"])) == Decimal(rig.woo.get_order(parked["x"])["total"])
    events = rig.events(A, parked["x"])
    assert events[-3:] == ["replayed", "fetched", "posted"]
    assert set(_dlq(rig)) == {_key(A, parked["y"]), _key(B, parked["z"])}
    assert rig.sync_state(A, parked["y"]).status == "parked"
    assert rig.documents("Invoice", parked["y"]) == []


def test_replay_by_connection_leaves_other_connections_parked(
    rig: QboRig, parked: dict[str, int]
) -> None:
    assert _replay(rig, connection_id=B) == [_key(B, parked["z"])]

    assert len(rig.documents("Invoice", parked["z"])) == 1
    assert "replayed" in rig.events(B, parked["z"])
    assert set(_dlq(rig)) == {_key(A, parked["y"])}


def test_the_replay_command_works_against_the_local_runtime(
    rig: QboRig, parked: dict[str, int]
) -> None:
    done = connector(rig.runtime, "replay", "--queue-url", rig.queue_url, "--dlq-url", rig.dlq_url)

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["replayed"] == [_key(A, parked["y"])]
    assert report["kept"] == 0 and report["unreadable"] == []
    rig.drain()
    assert len(rig.documents("Invoice", parked["y"])) == 1
    assert "replayed" in rig.events(A, parked["y"])
    assert _dlq(rig) == {}
    # Each parked order ended with exactly one invoice.
    for order_id in parked.values():
        assert len(rig.documents("Invoice", order_id)) == 1

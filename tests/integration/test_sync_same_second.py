"""A change within the same second as the last one is a new version, not a repeat.

A payment gateway can change an order within the second it was created; WooCommerce's
date_modified is then the same, and only the content tells the versions apart. This
module runs its own runtime with a store clock that never moves (others share one).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from simulators.testbed.online import QboRigs, connection_settings
from simulators.woocommerce import LineSpec, OrderSpec

INV = "inv"
MUG, JANE = 10, 2  # a product and a registered customer of the simulated store


def _connections(woo_url: str, qbo_url: str) -> list[dict[str, Any]]:
    mapping = {"items": {"MUG-01": "Sales"}, "doc_number": "{prefix}{number}", "doc_prefix": "INV-"}
    return [connection_settings(INV, woo_url=woo_url, qbo_url=qbo_url, mapping=mapping)]


def test_a_cancellation_in_the_same_second_as_the_order_still_voids_it(qbo_rig: QboRigs) -> None:
    same_second = 1_795_500_000.0
    with qbo_rig(_connections, store_clock=lambda: same_second) as rig:
        order = rig.woo.create_order(OrderSpec(lines=[LineSpec(MUG, 1)], customer_id=JANE))
        rig.sync(INV, "order.created", order["id"])
        rig.woo.update_order(order["id"], status="cancelled")
        assert rig.woo.get_order(order["id"])["date_modified_gmt"] == order["date_modified_gmt"]
        rig.sync(INV, "order.updated", order["id"])

        (invoice,) = rig.documents("Invoice", order["id"])
        assert Decimal(str(invoice["TotalAmt"])) == 0
        assert rig.sync_state(INV, order["id"]).status == "voided"

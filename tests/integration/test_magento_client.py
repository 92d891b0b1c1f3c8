"""The Magento adapter against the simulated store over real HTTP on loopback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from connector.errors import PermanentError, TransientError
from connector.stores.magento.client import Filter, search_params
from connector.stores.magento.payloads import parse_time
from connector.stores.magento.store import MagentoShop
from connector.stores.port import StoreAuthFailed, StoreRecordMissing, StoreUnavailable
from simulators.httpserver import Request
from simulators.magento import LineSpec, MagentoSimulator, OrderSpec
from simulators.testbed.clocks import T0, Clock
from simulators.testbed.magento import client

START = datetime.fromtimestamp(T0, UTC)


def _shop(url: str, **options: object) -> MagentoShop:
    return MagentoShop(client=client(url, **options), connection_id="mage")  # type: ignore[arg-type]


def test_an_order_in_euros_posts_in_euros_with_the_rate_to_the_base_currency(
    store: MagentoSimulator, url: str
) -> None:
    # Given a EUR order on a USD store (1 USD = 0.9 EUR) with a configurable hoodie
    oid = store.create_order(
        OrderSpec(
            [LineSpec("MH01-S-Gray", 2, parent="MH01"), LineSpec("24-WG080")],
            currency="EUR",
            base_to_order_rate=Decimal("0.9"),
            tax_percent=Decimal("8.25"),
        )
    )
    raw = store.order(oid)
    # When the adapter fetches it
    order = _shop(url).get_order(str(oid))
    # Then it is the order currency, entity_id and increment_id, each sold unit once
    assert (order.store_id, order.number, order.currency) == (str(oid), raw["increment_id"], "EUR")
    assert [(line.sku, line.quantity, line.total) for line in order.lines] == [
        ("MH01-S-Gray", 2, Decimal("93.60")),
        ("24-WG080-24-WG084-24-WG086", 1, Decimal("19.80")),
    ]
    assert order.total == Decimal(str(raw["grand_total"]))
    # And the rate converts the order's total into the base total (home units per EUR)
    assert order.exchange_rate is not None and order.exchange_rate > 1
    base_total = Decimal(str(raw["base_grand_total"]))
    assert abs(order.total * order.exchange_rate - base_total) <= Decimal("0.02")


def test_an_invoiced_order_is_paid_when_magento_invoiced_it(
    store: MagentoSimulator, url: str, clock: Clock
) -> None:
    oid = store.create_order(OrderSpec([LineSpec("WS12-M-Orange")]))
    shop = _shop(url)
    assert not shop.get_order(str(oid)).payment.is_paid
    clock.now += 3600
    store.invoice(oid)
    clock.now += 60
    store.touch(oid)
    paid = shop.get_order(str(oid))
    assert paid.status == "processing"
    assert paid.payment.paid_at == START + timedelta(hours=1)


def test_guests_have_no_store_id_and_customers_do(store: MagentoSimulator, url: str) -> None:
    cid = store.create_customer("ann@example.com", "Ann", "Lee")
    guest = store.create_order(OrderSpec([LineSpec("24-WG084")]))
    member = store.create_order(OrderSpec([LineSpec("24-WG084")], customer_id=cid))
    shop = _shop(url)
    assert shop.get_order(str(guest)).customer.store_id is None
    assert shop.get_order(str(guest)).customer.match_key == "email:guest@example.com"
    assert shop.get_order(str(member)).customer.store_id == str(cid)
    assert shop.get_customer(str(cid)).email == "ann@example.com"


def test_a_credit_memo_refunds_its_lines_and_leaves_the_adjustments_to_the_refund_item(
    store: MagentoSimulator, url: str
) -> None:
    oid = store.create_order(
        OrderSpec([LineSpec("MH01-S-Gray", 2, parent="MH01")], tax_percent=Decimal("10"))
    )
    store.invoice(oid)
    memo = store.refund(
        oid,
        {"MH01-S-Gray": 1},
        shipping=False,
        adjustment_positive=Decimal("3.00"),
        adjustment_negative=Decimal("1.00"),
    )
    shop = _shop(url)
    order = shop.get_order(str(oid))
    assert order.refund_ids == (str(memo),)
    [refund] = shop.get_refunds(order)
    # The configurable's child row is refunded with its parent: one line, once
    [line] = refund.lines
    assert (line.sku, line.quantity, line.total) == ("MH01-S-Gray", 1, Decimal("52.00"))
    assert sum(t.amount for t in line.taxes) == Decimal("5.20")
    # The memo's grand total is the refund; the net adjustment is what is not on a line
    assert refund.amount == Decimal("59.20")
    assert refund.amount - line.total - sum(t.amount for t in line.taxes) == Decimal("2.00")


def test_a_wrong_signature_is_refused_with_magentos_message_and_is_permanent(
    store: MagentoSimulator, url: str
) -> None:
    oid = store.create_order(OrderSpec([LineSpec("24-WG084")]))
    with pytest.raises(StoreAuthFailed) as refused:
        _shop(url, consumer_secret="not-the-secret").get_order(str(oid))
    assert "The signature is invalid. Verify and try again." in str(refused.value)
    assert isinstance(refused.value, PermanentError)


def test_an_order_the_store_no_longer_has_is_missing_not_deleted(
    store: MagentoSimulator, url: str
) -> None:
    oid = store.create_order(OrderSpec([LineSpec("24-WG084")]))
    store.delete_order(oid)
    with pytest.raises(StoreRecordMissing, match="doesn't exist"):
        _shop(url).get_order(str(oid))


def test_5xx_is_retried_then_unavailable(store: MagentoSimulator, url: str) -> None:
    oid = store.create_order(OrderSpec([LineSpec("24-WG084")]))
    store.inject(503, times=2)
    assert _shop(url).get_order(str(oid)).store_id == str(oid)
    store.inject(503, times=3)
    with pytest.raises(StoreUnavailable) as down:
        _shop(url, max_retries=2).get_order(str(oid))
    assert isinstance(down.value, TransientError) and "HTTP 503" in str(down.value)


def _orders(store: MagentoSimulator, clock: Clock, per_second: list[int]) -> list[int]:
    ids = []
    for count in per_second:
        for _ in range(count):
            ids.append(store.create_order(OrderSpec([LineSpec("24-WG084")])))
        clock.now += 1
    return ids


def test_polling_while_pages_shift_skips_nothing_and_doubles_nothing(
    store: MagentoSimulator, url: str, clock: Clock
) -> None:
    # Given seven orders over four seconds, and an admin who edits the first one (it moves
    # to the end of the updated_at order) as soon as the second page is asked for
    ids = _orders(store, clock, [2, 2, 2, 1])
    edited: list[int] = []
    searches: list[str] = []

    def edit_once(request: Request) -> None:
        if request.path.endswith("/V1/orders"):
            searches.append(request.path)
        if len(searches) == 2 and not edited:
            edited.append(ids[0])
            store.touch(ids[0])

    store.before_answer = edit_once
    # When the adapter polls in pages of two
    found = [c.record_id for c in _shop(url, page_size=2).list_changed("order", START)]
    # Then every order is listed once
    assert edited == [ids[0]]
    assert sorted(found) == sorted(str(i) for i in ids)
    assert len(found) == len(set(found))


def test_offset_paging_would_skip_a_record_when_pages_shift(
    store: MagentoSimulator, url: str, clock: Clock
) -> None:
    # The failure the keyset paging avoids: currentPage 2 after the first record moved
    ids = _orders(store, clock, [2, 2, 2, 1])
    sort = [("updated_at", "ASC"), ("entity_id", "ASC")]
    raw = client(url, page_size=2)
    since = [Filter("updated_at", "2026-01-01 00:00:00", "gteq")]
    seen = [
        o["entity_id"]
        for o in raw._get("orders", search_params(since, sort, page_size=2), "o")["items"]
    ]
    store.touch(ids[0])
    page2 = search_params(since, sort, page_size=2, page=2)
    seen += [o["entity_id"] for o in raw._get("orders", page2, "o")["items"]]
    assert ids[2] not in seen  # shifted onto page 1, already read


def test_more_changes_in_one_second_than_a_page_holds_are_all_listed(
    store: MagentoSimulator, url: str, clock: Clock
) -> None:
    ids = _orders(store, clock, [5, 3])
    found = [c.record_id for c in _shop(url, page_size=2).list_changed("order", START)]
    assert found == [str(i) for i in ids]


def test_the_poll_overlaps_its_watermark_so_a_late_commit_is_found(
    store: MagentoSimulator, url: str, clock: Clock
) -> None:
    # An order stamped a second before the watermark, committed after the last poll
    clock.now = T0 + 59
    oid = store.create_order(OrderSpec([LineSpec("24-WG084")]))
    found = list(_shop(url).list_changed("order", START + timedelta(seconds=60)))
    assert [(c.record_id, c.modified_at) for c in found] == [
        (str(oid), parse_time("2026-01-01 00:00:59"))
    ]


def test_customers_are_polled_by_updated_at(
    store: MagentoSimulator, url: str, clock: Clock
) -> None:
    old = store.create_customer("old@example.com", "Old", "One")
    clock.now += 3600
    new = store.create_customer("new@example.com", "New", "One")
    clock.now += 1
    store.update_customer(old, lastname="Two")
    found = [c.record_id for c in _shop(url).list_changed("customer", START + timedelta(hours=1))]
    assert found == [str(new), str(old)]

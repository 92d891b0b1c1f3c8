"""A small run of the QuickBooks → store benchmark (scripts/bench_both_ways.py, ``make bench``):
its figures are what the simulated QuickBooks, store and AWS received, and the store shows
what QuickBooks holds after each pass. Speed is never asserted."""

from __future__ import annotations

import pytest

from scripts.bench_both_ways import BothWaysFigures, Pass, run

ITEMS = 5


@pytest.fixture(scope="module")
def figures() -> BothWaysFigures:
    return run(ITEMS)


def _pass(passes: list[Pass], name: str) -> Pass:
    (found,) = [p for p in passes if p.name == name]
    return found


def _writes(p: Pass) -> int:
    return p.store["product write"] + p.store["category write"]


def test_each_online_pass_leaves_the_store_as_quickbooks_has_it(figures: BothWaysFigures) -> None:
    assert [p.name for p in figures.online] == [
        "by webhook",
        "by webhook, saved unchanged",
        "by the CDC poll",
        "by the CDC poll, nothing new",
    ]
    assert figures.moves == 1  # one item in ten moves to another category
    for p in figures.online:
        assert p.matching == ITEMS, p.name
        # the store's own count of its writes is the write requests it received
        assert p.store_writes == _writes(p) == p.store_side("write"), p.name


def test_a_changed_item_is_read_once_from_quickbooks_and_written_once(
    figures: BothWaysFigures,
) -> None:
    hook = _pass(figures.online, "by webhook")
    assert hook.qbo["item"] == ITEMS
    assert hook.qbo["cdc"] == 0
    assert hook.store["product write"] == ITEMS
    # a category is read to place the product, made only when the store lacks it
    assert hook.store["category write"] <= figures.moves
    # each change goes through the queue, and the sync function keeps what it wrote
    assert hook.aws["sqs:SendMessage"] + hook.aws["sqs:SendMessageBatch"] > 0
    assert hook.aws_of("dynamodb") > 0

    poll = _pass(figures.online, "by the CDC poll")
    assert poll.qbo["cdc"] == 1
    assert poll.qbo["item"] == ITEMS
    assert poll.store["product write"] == ITEMS


def test_passes_with_nothing_new_write_nothing(figures: BothWaysFigures) -> None:
    saved = _pass(figures.online, "by webhook, saved unchanged")
    assert saved.qbo["item"] == ITEMS  # each webhook is read back ...
    assert saved.store_writes == 0  # ... and found already in the store
    quiet = _pass(figures.online, "by the CDC poll, nothing new")
    assert quiet.qbo["cdc"] == 1
    assert quiet.qbo["item"] == 0
    assert quiet.store_writes == 0 and quiet.store_side("read") == 0


def test_desktop_brings_each_change_once_and_nothing_when_nothing_changed(
    figures: BothWaysFigures,
) -> None:
    changed, quiet = figures.desktop
    assert changed.matching == quiet.matching == ITEMS
    assert changed.store["product write"] == changed.store_writes == ITEMS
    assert quiet.store_writes == 0
    # items are asked for by type (inventory, non-inventory, service) in each session, in
    # message sets the Web Connector carried (and QuickBooks answered) one round trip each
    for p in (changed, quiet):
        assert set(p.qbxml) >= {"ItemInventoryQuery"}, p.qbxml
        assert 1 <= p.messages <= p.qbxml.total()
        assert p.round_trips >= 2 * p.messages + 2  # authenticate and close around them


def test_the_lines_print_per_changed_item(figures: BothWaysFigures) -> None:
    text = "\n".join(figures.lines())
    assert f"{ITEMS} items' price and stock changed" in text
    for p in figures.online + figures.desktop:
        assert p.name in text
    hook = _pass(figures.online, "by webhook")
    assert f"product write {hook.store['product write']}" in text

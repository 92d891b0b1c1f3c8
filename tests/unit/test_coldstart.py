"""connector.coldstart: the collector paused while a handler loads, as it was afterwards."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from connector.coldstart import collector_paused


@pytest.fixture
def collector_on() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.enable()
    yield
    if not was_enabled:
        gc.disable()


@pytest.mark.usefixtures("collector_on")
def test_the_collector_is_off_inside_and_on_again_after() -> None:
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


@pytest.mark.usefixtures("collector_on")
def test_a_failed_load_still_turns_the_collector_back_on() -> None:
    with pytest.raises(ImportError), collector_paused():
        raise ImportError("No module named 'missing'")
    assert gc.isenabled()


@pytest.mark.usefixtures("collector_on")
def test_a_collector_someone_else_turned_off_stays_off() -> None:
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()

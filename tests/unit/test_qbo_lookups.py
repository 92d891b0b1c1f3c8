"""One lookup of a name at a time in a process; different names never wait for each other."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from connector.ledgers.qbo import lookups


def test_threads_looking_up_one_name_take_turns() -> None:
    inside, most = [0], [0]
    guard = threading.Lock()

    def look_up(_: int) -> None:
        with lookups.one_at_a_time(("shop", "item", "MUG-01")):
            with guard:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep(0.005)  # the query to QuickBooks
            with guard:
                inside[0] -= 1

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(look_up, range(16)))

    assert most == [1]
    assert lookups._held == {}, "no lock is kept once nobody holds or waits for it"


def test_a_lookup_of_another_name_does_not_wait_for_one_in_progress() -> None:
    book_looked_up = threading.Event()

    def look_up_mug() -> bool:
        with lookups.one_at_a_time(("shop", "item", "MUG-01")):
            return book_looked_up.wait(timeout=5)  # the mug's lookup is still in progress

    def look_up_book() -> None:
        with lookups.one_at_a_time(("shop", "item", "BOOK-KIDS")):
            book_looked_up.set()

    with ThreadPoolExecutor(max_workers=2) as pool:
        mug = pool.submit(look_up_mug)
        pool.submit(look_up_book).result(timeout=5)
        assert mug.result(timeout=5)

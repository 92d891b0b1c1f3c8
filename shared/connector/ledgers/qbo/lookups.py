"""One lookup of a name at a time in this process.

With batching on, a function works up to sixty records on as many threads; when they need
the same item, account or buyer that no mapping names yet, each would query QuickBooks for
it (a 120-order day made 182 item queries instead of 57) and, for a new buyer, two threads
could each create the customer. ``one_at_a_time(key)`` lets the first look it up and record
the mapping; the others wait, then find the mapping it wrote. Locks are per key, so threads
looking up different names never wait for each other (a create inside may wait for its
batch).
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterator
from contextlib import contextmanager

_guard = threading.Lock()
_held: dict[Hashable, tuple[threading.Lock, list[int]]] = {}  # key -> (lock, [users])


@contextmanager
def one_at_a_time(key: Hashable) -> Iterator[None]:
    with _guard:
        lock, users = _held.setdefault(key, (threading.Lock(), [0]))
        users[0] += 1
    try:
        with lock:
            yield
    finally:
        with _guard:
            users[0] -= 1
            if users[0] == 0:
                del _held[key]  # nobody holds or waits: the next lookup makes a new lock

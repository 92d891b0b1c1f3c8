"""What a store adapter looked up beside an order for revenue rules and terms (product
categories, the buyer's group), kept per connection so that orders a warm function syncs in a
row share it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["StoreLookups"]


class StoreLookups:
    """Product categories and customer roles already fetched, kept for ``ttl_s`` seconds.

    The runtime keeps one per connection, so the orders a warm function syncs in a row
    share what they looked up; ``ttl_s`` bounds how stale a category or role can be.
    """

    def __init__(self, ttl_s: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._found: dict[str, tuple[float, Any]] = {}

    def get(self, key: str) -> tuple[bool, Any]:
        hit = self._found.get(key)
        if hit is None or self._clock() - hit[0] > self._ttl_s:
            return False, None
        return True, hit[1]

    def put(self, key: str, value: Any) -> None:
        self._found[key] = (self._clock(), value)

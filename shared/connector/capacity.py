"""Whether the record being synced has already called QuickBooks (decision 59).

The company's limiter hands a record back when the wait for a slot is long, but only before
the record's first call: once it has called, handing it back would throw that call away (a
lookup done again on the next receive), and under a steady backlog every record would make its
first call and go back, none finishing. So a record that has started waits its turn in the
function instead, up to the limiter's longer ``started_wait_s``.

The sync worker marks each record with ``one_record()``; the limiter asks ``started()`` and
counts its grants with ``called()``. A context variable, so threads of one invocation (the
batch path's message groups) each count their own record; a thread started without the
worker's context counts as not started, the cautious side.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# None outside a record (a CLI command, a test driving the client): never "started".
_calls: ContextVar[int | None] = ContextVar("calls_of_this_record", default=None)


@contextmanager
def one_record() -> Iterator[None]:
    """The calls made inside belong to one record."""
    token = _calls.set(0)
    try:
        yield
    finally:
        _calls.reset(token)


def started() -> bool:
    """Whether the current record has had a slot already."""
    return bool(_calls.get())


def called() -> None:
    calls = _calls.get()
    if calls is not None:
        _calls.set(calls + 1)

"""A function's cold start: the garbage collector paused while its handler module loads.

Loading a handler makes a few hundred thousand objects that live as long as the process
(modules, classes, pydantic validators) and next to no garbage, so the collections that run
while they are made walk them again and again and free nothing: about 10 ms of CPU in a
~200 ms cold import, measured by ``scripts/bench_imports.py``. The collector runs again as
soon as the module has loaded, so requests are collected as before.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection inside; the collector as it was afterwards, even on an error."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()

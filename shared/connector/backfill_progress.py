"""A backfill's progress line: redrawn in place on a terminal, one line every so often in a log.

    [##########----------]  50%  found 1000  queued 512  posted 498  parked 2  waiting 12  58.9/min  ETA 8m30s

"found" is every order the store lists in the window; "queued" what this backfill sent to
the sync queue; "posted", "parked" (and "skipped", "in outbox", "already in step",
"parked before" when there are any) what became of them; "waiting" what the worker has not
settled yet. The percentage is the orders the backfill is done with out of those found.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from connector.backfill_checkpoint import Checkpoint
from connector.backfill_pace import duration

BAR = 20
# Seconds between lines when the output is not a terminal (CI logs, a file).
LOG_EVERY_S = 10.0
# A terminal is redrawn at most this often.
REDRAW_EVERY_S = 0.2


def line(checkpoint: Checkpoint, *, rate: float | None, eta: float | None) -> str:
    found = checkpoint.found
    done = checkpoint.handled
    # Whole numbers: a float share rounds 570 of 1,000 down to 56% (0.57 * 100 < 57).
    percent = done * 100 // found if found else 100
    filled = done * BAR // found if found else BAR
    parts = [
        f"[{'#' * filled}{'-' * (BAR - filled)}] {percent:3d}%",
        f"found {found}",
        f"queued {checkpoint.queued}",
        f"posted {checkpoint.posted}",
        f"parked {checkpoint.parked}",
    ]
    optional = (
        ("in outbox", checkpoint.outbox),
        ("skipped", checkpoint.skipped),
        ("already in step", checkpoint.current),
        ("parked before", checkpoint.held),
    )
    parts += [f"{name} {count}" for name, count in optional if count]
    parts.append(f"waiting {len(checkpoint.waiting)}")
    parts.append(f"{rate:.1f}/min" if rate is not None else "--/min")
    parts.append(f"ETA {duration(eta)}")
    return "  ".join(parts)


class ProgressOutput:
    """Writes progress lines to ``out``: ``tty`` redraws one line with a carriage return;
    otherwise a line every ``every_s`` seconds (``clock`` is monotonic seconds)."""

    def __init__(
        self,
        out: TextIO,
        *,
        tty: bool,
        clock: Callable[[], float],
        every_s: float = LOG_EVERY_S,
    ) -> None:
        self._out = out
        self._tty = tty
        self._clock = clock
        self._every_s = REDRAW_EVERY_S if tty else every_s
        self._last_at: float | None = None
        self._width = 0
        self._open = False  # a redrawn line waits for its newline

    def show(self, text: str, *, force: bool = False) -> None:
        now = self._clock()
        if not force and self._last_at is not None and now - self._last_at < self._every_s:
            return
        self._last_at = now
        if self._tty:
            self._out.write("\r" + text.ljust(self._width))
            self._width = len(text)
            self._open = True
        else:
            self._out.write(text + "\n")
        self._out.flush()

    def say(self, text: str) -> None:
        """A line of its own (a phase, the summary), after the progress line if one is open."""
        self.end()
        self._out.write(text + "\n")
        self._out.flush()

    def end(self) -> None:
        if self._open:
            self._out.write("\n")
            self._open = False
            self._width = 0

"""Where the team's public references are: ``../shared/reference`` beside the checkout.

They are never copied into the project; a test that reads them is marked ``reference`` and
skips where they are absent (tests/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

REFERENCE = (Path(__file__).resolve().parents[3] / ".." / "shared" / "reference").resolve()


def reference_path(*parts: str) -> Path:
    """A file or folder of the references (it may not exist)."""
    return REFERENCE.joinpath(*parts)

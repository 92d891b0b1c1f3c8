"""What applying one ledger record to the store came to (the sync worker records it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Applied:
    outcome: Literal["posted", "updated", "skipped"]
    detail: str
    store_id: str | None = None
    # The fields written, by name, as written (the audit entry lists them).
    fields: dict[str, str] = field(default_factory=dict)

"""What every store's payload models are made of: money as exact Decimal, text that may arrive
as null, times as aware UTC, and models that read only the fields they declare (a plugin
adding fields never breaks a sync)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

from connector.model import to_decimal


def as_text(value: Any) -> str:
    return "" if value is None else str(value)


def as_utc(moment: datetime) -> datetime:
    """An aware UTC time; a store's time without an offset is UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


Money = Annotated[Decimal, BeforeValidator(to_decimal)]
Text = Annotated[str, BeforeValidator(as_text)]


class RawPayload(BaseModel):
    """A store payload as it arrives: undeclared fields ignored, never changed after reading."""

    model_config = ConfigDict(extra="ignore", frozen=True)

"""How long the connector keeps what it writes: audit events and Desktop outbox entries expire.

The tenant file's ``retention_days`` says how long; each item carries its expiry as epoch
seconds in ``expires_at``, the attribute the audit and outbox tables' TTL watches. DynamoDB
deletes an expired item within days of its expiry, not at the second.
"""

from __future__ import annotations

import time

# Seven years: what tax authorities commonly ask a business to keep its books for.
DEFAULT_RETENTION_DAYS = 2557
# A hundred years: anything longer is a typo (milliseconds, an extra digit), not a policy.
MAX_RETENTION_DAYS = 36525
TTL_ATTRIBUTE = "expires_at"
_DAY_S = 86_400


def expires_at(retention_days: int, now: float | None = None) -> int:
    """The expiry, in epoch seconds, of an item written ``now`` (default: this moment)."""
    return int(time.time() if now is None else now) + retention_days * _DAY_S


def check_days(value: object) -> int:
    """``retention_days`` as the tenant file gives it, or a ValueError that says what is wanted."""
    wanted = (
        f"retention_days must be a whole number of days from 1 to {MAX_RETENTION_DAYS} "
        f"(leave it out for the default, {DEFAULT_RETENTION_DAYS} days: seven years)"
    )
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{wanted}; got {value!r}")
    if not 1 <= value <= MAX_RETENTION_DAYS:
        raise ValueError(f"{wanted}; got {value}")
    return value

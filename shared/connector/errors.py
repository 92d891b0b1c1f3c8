"""How failures are classified: retry it, or park it with a reason a bookkeeper can act on.

Adapters raise subclasses of these; the sync worker only looks at the class.
"""

from __future__ import annotations


class SyncError(Exception):
    """Base of every classified failure."""


class TransientError(SyncError):
    """Worth retrying as is: timeouts, 5xx, throttling, a token being refreshed elsewhere.

    ``retry_after_s`` is a hint for the queue's visibility timeout when the service gave one.
    """

    def __init__(self, message: str, *, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ServicePaused(TransientError):
    """The service is not being called until ``retry_after_s`` has passed (a circuit breaker
    opened after repeated failures): hold the record that long, not the backoff schedule."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message, retry_after_s=retry_after_s)


class NoCapacityYet(TransientError):
    """A shared limit (a QuickBooks company's requests a minute, calls at once, or a pause after
    a throttle answer) has no room for this call for ``retry_after_s`` seconds. Not a failure:
    the record goes back to the queue for exactly that long, spends no retry budget, counts
    toward no circuit and never parks."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message, retry_after_s=retry_after_s)


class PermanentError(SyncError):
    """Retrying will not help until someone fixes the cause.

    ``reason`` is written for a bookkeeper ("SKU BLUE-M has no QuickBooks item and
    auto-create is off: map it in the tenant file, then replay").
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConfigError(ValueError):
    """The tenant file is wrong; the message names the file, the field and the problem."""


class NeedsReconnect(PermanentError):
    """QuickBooks refused our refresh token for good: the merchant must connect again."""

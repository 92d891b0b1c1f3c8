"""One DynamoDB request at a time in moto's server, so a conditional write is atomic as
DynamoDB's own is.

moto's server answers each request on a thread of its own, and its DynamoDB reads the item,
checks the ConditionExpression and writes without a lock: two UpdateItems expecting the same
version both succeed when their threads interleave. Ten threads bumping one item's version on
a busy machine (two CPU-bound processes beside them) had one version won twice. The connector
relies on such writes (the QuickBooks limiter's bookings and leases, idempotency records,
checkpoints); under pytest-xdist the limiter test saw four calls in flight where it booked at
most three. ``install()`` runs each DynamoDB request under one lock: stricter than DynamoDB
(which serialises per item), and no slower in a server that the interpreter lock already runs
one thread at a time.
"""

from __future__ import annotations

import threading
from typing import Any

_LOCK = threading.RLock()
_MARK = "_connector_one_at_a_time"


def install() -> None:
    """Wraps moto's DynamoDB request handler; a second call changes nothing."""
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action
    if getattr(original, _MARK, False):
        return

    def call_action(self: Any) -> Any:
        with _LOCK:
            return original(self)

    setattr(call_action, _MARK, True)
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]

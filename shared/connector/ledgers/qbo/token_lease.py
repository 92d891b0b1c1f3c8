"""The lease under which a QuickBooks Online connection's tokens are refreshed or replaced.

Intuit rotates the refresh token, so two writers racing on one connection lose a
rotation. The lease is fenced: each taking gets a fence one higher than the last,
a background renewer keeps it alive for as long as the Intuit call runs, and a
save goes ahead only while the lease is still ours with time left for the put
(Secrets Manager has no conditional put, so it is check-then-put under the lease).
"""

from __future__ import annotations

import threading
import time
import uuid
from types import TracebackType

from botocore.exceptions import BotoCoreError, ClientError

from connector.errors import TransientError
from connector.observability import logger
from connector.retry import jittered
from connector.state import StateStore


class LeaseLost(TransientError):
    """The lease lapsed (a stall longer than it) before the save: nothing was saved."""


class TokenLease:
    """``with TokenLease(...) as lease:`` holds connection's token lease; ``lease.check()``
    before each save."""

    def __init__(
        self, state: StateStore, connection_id: str, *, lease_s: int, wait_s: float
    ) -> None:
        self._state = state
        self._connection_id = connection_id
        self._name = f"qbo-refresh#{connection_id}"
        self._owner = uuid.uuid4().hex
        self._lease_s = lease_s
        self._wait_s = wait_s
        self._fence = 0
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def __enter__(self) -> TokenLease:
        deadline = time.monotonic() + self._wait_s
        while (fence := self._state.take_lease(self._name, self._owner, self._lease_s)) is None:
            if time.monotonic() > deadline:
                raise TransientError("another refresh of this QuickBooks connection is running")
            # Jittered: callers that queued behind the same refresh do not retry in step.
            time.sleep(jittered(0.2))
        self._fence = fence
        self._renewer = threading.Thread(target=self._renew, daemon=True)
        self._renewer.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        self._state.end_lease(self._name, self._owner, self._fence)

    def check(self) -> None:
        """Raise LeaseLost unless the lease is ours for long enough to finish a save."""
        left = self._state.lease_left(self._name, self._owner, self._fence)
        if left < self._margin():
            logger.warning(
                "token lease lost before the save",
                connection_id=self._connection_id,
                fence=self._fence,
            )
            raise LeaseLost(
                f"the token lease of connection {self._connection_id} lapsed before the save; "
                "another caller holds it now, so these tokens were not saved"
            )

    def _margin(self) -> float:
        # Renewed every quarter lease, so a held lease always has more than this left.
        return self._lease_s / 4

    def _renew(self) -> None:
        while not self._stop.wait(self._lease_s / 4):
            try:
                renewed = self._state.renew_lease(
                    self._name, self._owner, self._fence, self._lease_s
                )
            except (BotoCoreError, ClientError) as exc:
                # DynamoDB unreachable: try again next quarter; check() refuses a lapsed save.
                logger.warning(
                    "token lease not renewed", connection_id=self._connection_id, error=str(exc)
                )
                continue
            if not renewed:
                return  # lapsed and maybe taken: check() refuses the save

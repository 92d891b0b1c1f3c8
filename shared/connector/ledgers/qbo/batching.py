"""Creates of concurrent records gathered into QuickBooks Online batch requests.

The sync core stays as it is: each record runs on its own thread (``run_groups``, one thread
per FIFO message group) and calls ``QboClient.create`` as always. While a ``BatchRoute`` is
the thread's route (``client.route_creates``), a create waits briefly for the creates of the
other threads of the same company and goes out with them as one ``POST batch`` of at most
30 operations. The batch is sent when it is full, when every active thread is waiting (nobody
else can add to it), or when the oldest create has waited ``window_s``. Each thread gets its
own answer or raises its own fault, classified as a single call's, so its record takes the
path it would have taken (adopt on 6140, retry on a throttle, park on a validation fault)
and a failed item never fails its neighbours.

Dependencies hold by construction: a record's thread asks for its customer and waits for the
answer before it builds the invoice, so the customer goes out in an earlier batch request
(QuickBooks does not let an item see what an earlier item of the same batch created).

Idempotency: the batch's requestid is a digest of its items' own requestids, so a batch whose
answer was lost is sent again once, identically, and QuickBooks answers each item as the
first time. If that fails too, each thread gets the unknown outcome, and its record's retry
pre-checks by DocNumber (or customer lookup) as after a lost single create. A batch of one
create is sent as the single create, with its own requestid.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from connector.ledgers.qbo.client import (
    MAX_BATCH_ITEMS,
    BatchOperation,
    QboClient,
    route_creates,
)
from connector.ledgers.qbo.faults import FaultError, FaultInfo, QboFault, QboUnknownOutcome
from connector.observability import logger

ENV_BATCH_FROM = "CONNECTOR_QBO_BATCH_FROM"
ENV_BATCH_WINDOW_MS = "CONNECTOR_QBO_BATCH_WINDOW_MS"
ENV_BATCH_PULL_TO = "CONNECTOR_QBO_BATCH_PULL_TO"


class BatchSettings(BaseModel):
    """``CONNECTOR_QBO_BATCH_FROM``: batch a company's creates when one invocation holds at
    least this many of its records (0, the default, turns batching off);
    ``CONNECTOR_QBO_BATCH_WINDOW_MS``: how long a create waits for others (default 200);
    ``CONNECTOR_QBO_BATCH_PULL_TO``: with batching on, the invocation pulls more records from
    the queue until it holds this many (default 30; Lambda hands a FIFO queue's function 10)."""

    batch_from: int = Field(default=0, ge=0, validation_alias=ENV_BATCH_FROM)
    window_ms: int = Field(default=200, ge=1, le=5000, validation_alias=ENV_BATCH_WINDOW_MS)
    pull_to: int = Field(default=30, ge=0, le=100, validation_alias=ENV_BATCH_PULL_TO)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> BatchSettings:
        try:
            return cls.model_validate({k: v for k, v in environ.items() if v != ""})
        except ValidationError as exc:
            raise ValueError(f"bad batching settings: {exc}") from None

    def applies(self, records_per_company: Mapping[str, int]) -> bool:
        return self.batch_from > 0 and max(records_per_company.values(), default=0) >= (
            self.batch_from
        )


@dataclass(eq=False)  # a slot is itself only: pending lists are searched by identity
class _Slot:
    entity: str
    body: dict[str, Any]
    request_id: str
    done: bool = False
    result: dict[str, Any] | None = None
    error: BaseException | None = None


@dataclass
class _Company:
    pending: list[_Slot] = field(default_factory=list)


class BatchRoute:
    """One invocation's create route (``client.CreateRoute``): pending creates per company."""

    def __init__(self, *, window_s: float = 0.2, max_items: int = MAX_BATCH_ITEMS) -> None:
        self._window_s = window_s
        self._max_items = max_items
        self._cond = threading.Condition()
        self._companies: dict[str, _Company] = {}
        self._active = 0
        self._waiting = 0
        self.batches = 0  # batch requests sent (each resend included)
        self.singles = 0  # creates sent on their own (a batch of one)

    @contextmanager
    def working(self) -> Iterator[None]:
        """The calling thread works records through this route until the block ends."""
        with self._cond:
            self._active += 1
        route_creates(self)
        try:
            yield
        finally:
            route_creates(None)
            with self._cond:
                self._active -= 1
                self._cond.notify_all()  # those waiting may now be all that is left

    def create(
        self, client: QboClient, entity: str, body: dict[str, Any], *, request_id: str
    ) -> dict[str, Any]:
        slot = _Slot(entity, body, request_id)
        with self._cond:
            company = self._companies.setdefault(client.realm_id, _Company())
            company.pending.append(slot)
            self._waiting += 1
            deadline = time.monotonic() + self._window_s
            try:
                while not slot.done:
                    now = time.monotonic()
                    if company.pending and (
                        len(company.pending) >= self._max_items
                        or self._waiting >= self._active
                        or (slot in company.pending and now >= deadline)
                    ):
                        taken = company.pending[: self._max_items]
                        del company.pending[: self._max_items]
                        self._cond.release()
                        try:
                            self._send(client, taken)
                        finally:
                            self._cond.acquire()
                            self._cond.notify_all()
                        continue
                    self._cond.wait(timeout=max(deadline - now, 0.005))
            finally:
                self._waiting -= 1
        if slot.error is not None:
            raise slot.error
        assert slot.result is not None
        return slot.result

    def _send(self, client: QboClient, slots: Sequence[_Slot]) -> None:
        """Send ``slots`` (one company's) and hand each its answer; never raises, and never
        leaves a slot without an answer (its thread would wait for ever)."""
        failure: BaseException | None = None
        try:
            self._deliver(client, slots)
        except BaseException as exc:  # the whole request failed: each create fails with it
            failure = exc
        for slot in slots:
            if not slot.done:
                self._settle(slot, _own_copy(failure) if failure else _no_answer())

    def _deliver(self, client: QboClient, slots: Sequence[_Slot]) -> None:
        if len(slots) == 1:
            self.singles += 1
            only = slots[0]
            self._settle(
                only, client.create_now(only.entity, only.body, request_id=only.request_id)
            )
            return
        operations = [
            BatchOperation(str(n), "create", s.entity, s.body) for n, s in enumerate(slots, start=1)
        ]
        request_id = batch_request_id([s.request_id for s in slots])
        try:
            self.batches += 1
            answers = client.batch(operations, request_id=request_id)
        except QboUnknownOutcome:
            # The items may have been applied: the same batch under the same requestid is
            # answered item by item as the first time, nothing applied twice.
            logger.warning("batch answer lost; sending the same batch again", items=len(slots))
            self.batches += 1
            answers = client.batch(operations, request_id=request_id)
        for operation, slot in zip(operations, slots, strict=True):
            self._settle(slot, answers[operation.bid])

    def _settle(self, slot: _Slot, answer: dict[str, Any] | BaseException) -> None:
        with self._cond:
            if isinstance(answer, BaseException):
                slot.error = answer
            else:
                slot.result = answer
            slot.done = True
            self._cond.notify_all()


def _own_copy(exc: BaseException) -> BaseException:
    """Each thread raises its own exception object (tracebacks are per raise). A fault is
    made again from what QuickBooks said (``copy`` would call its constructor wrongly)."""
    if isinstance(exc, QboFault):
        try:
            made = type(exc)(exc.info, str(exc))
        except Exception:  # a subclass made otherwise: the threads share the one object
            return exc
        made.retry_after_s = exc.retry_after_s
        return made
    return exc


def _no_answer() -> QboUnknownOutcome:
    return QboUnknownOutcome(
        FaultInfo("", (FaultError("", "No answer for this create", "", ""),), None)
    )


def batch_request_id(item_request_ids: Sequence[str]) -> str:
    """The batch's requestid (36 characters at most): the same items give the same one."""
    digest = hashlib.sha256("\n".join(item_request_ids).encode("utf-8")).hexdigest()
    return f"b{digest[:35]}"


def run_groups(
    records: Sequence[Mapping[str, Any]],
    handle: Callable[[Mapping[str, Any]], object],
    *,
    route: BatchRoute,
    max_threads: int = MAX_BATCH_ITEMS,
) -> list[str]:
    """Run each FIFO message group's records in order on its own thread, groups side by side,
    creates through ``route``. A record whose ``handle`` raises fails, and so do the records
    of its group behind it (as the FIFO batch processor skips them). Returns the message ids
    that failed, in the order of ``records``."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        group = str(record.get("attributes", {}).get("MessageGroupId") or record["messageId"])
        groups.setdefault(group, []).append(record)
    failed: set[str] = set()
    lock = threading.Lock()

    def run(group: list[Mapping[str, Any]]) -> None:
        with route.working():
            for position, record in enumerate(group):
                try:
                    handle(record)
                except Exception:
                    with lock:
                        failed.update(str(r["messageId"]) for r in group[position:])
                    return

    with ThreadPoolExecutor(max_workers=max(1, min(max_threads, len(groups)))) as pool:
        for future in [pool.submit(run, group) for group in groups.values()]:
            future.result()
    return [str(r["messageId"]) for r in records if str(r["messageId"]) in failed]

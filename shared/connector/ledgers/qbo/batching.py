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
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field, ValidationError

from connector.errors import NoCapacityYet
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
ENV_BATCH_HOLD_S = "CONNECTOR_QBO_BATCH_HOLD_S"


class BatchSettings(BaseModel):
    """``CONNECTOR_QBO_BATCH_FROM``: batch a company's creates when one invocation holds at
    least this many of its records (default 10, a full FIFO event: a trickle keeps the
    one-by-one path, a backlog streams into batches; 0 turns batching off; decision 82);
    ``CONNECTOR_QBO_BATCH_WINDOW_MS``: how long a create waits for others (default 1000: batch requests are the scarce ones);
    ``CONNECTOR_QBO_BATCH_PULL_TO``: with batching on, the invocation pulls more records from
    the queue, while it has time, to keep this many in hand (default 60: a batch of 30 and
    the creates that go alone meanwhile; Lambda hands a FIFO queue's function 10);
    ``CONNECTOR_QBO_BATCH_HOLD_S``: how long a create may wait in the function for a batch
    slot before it goes alone (default 30)."""

    batch_from: int = Field(default=10, ge=0, validation_alias=ENV_BATCH_FROM)
    window_ms: int = Field(default=1000, ge=1, le=5000, validation_alias=ENV_BATCH_WINDOW_MS)
    pull_to: int = Field(default=60, ge=0, le=100, validation_alias=ENV_BATCH_PULL_TO)
    hold_s: float = Field(default=30.0, ge=0, le=300, validation_alias=ENV_BATCH_HOLD_S)

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


# A request is planned when its slot is this close; the limiter sleeps the rest.
_DUE_S = 0.05
# A wait for the batch slot this short is not worth spending single requests on.
_SHORT_WAIT_S = 2.0
# Singles of one company being booked and sent at once by one route.
_SINGLES_AT_ONCE = 2


@runtime_checkable
class SlotForecast(Protocol):
    """What the company's limiter (``RealmLimiter``) tells a route planning its requests."""

    @property
    def interval_s(self) -> float: ...

    def ahead_s(self, kind: Literal["single", "batch"] = "single") -> float: ...


@dataclass(eq=False)  # a slot is itself only: pending lists are searched by identity
class _Slot:
    entity: str
    body: dict[str, Any]
    request_id: str
    since: float = field(default_factory=time.monotonic)
    done: bool = False
    result: dict[str, Any] | None = None
    error: BaseException | None = None


@dataclass
class _Company:
    pending: list[_Slot] = field(default_factory=list)
    batch_sending: bool = False
    singles_sending: int = 0


class _NotSent(Exception):
    """The company had no capacity before anything was sent: the creates may wait again."""

    def __init__(self, waiting: NoCapacityYet) -> None:
        super().__init__(str(waiting))
        self.waiting = waiting


_Plan = tuple[Literal["batch", "single"], list[_Slot]]


class BatchRoute:
    """One invocation's create route (``client.CreateRoute``): pending creates per company.

    With the company's limiter to plan by (``SlotForecast``), the route spends both budgets:
    a batch request goes when the batch slot is due, carrying up to 30 pending creates, and
    a create goes alone on a free request slot when the next batch cannot take it (more than
    30 pending), when nobody else can join and the creates would all be done alone before
    the batch slot, or when waiting for the batch would hold it longer than ``hold_s``.
    Creates wait in the route, not in the limiter: a booking is never made far ahead (it
    would push every other call of the company behind it)."""

    def __init__(
        self, *, window_s: float = 0.2, max_items: int = MAX_BATCH_ITEMS, hold_s: float = 30.0
    ) -> None:
        self._window_s = window_s
        self._max_items = max_items
        self._hold_s = hold_s
        self._cond = threading.Condition()
        self._companies: dict[str, _Company] = {}
        self._active = 0
        self._waiting = 0
        self.batches = 0  # batch requests sent (each resend included)
        self.singles = 0  # creates sent on their own
        self.batched = 0  # creates sent as items of batch requests
        self.waited_again = 0  # creates put back to wait after the company had no capacity

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
        limiter = client.limiter
        forecast = limiter if isinstance(limiter, SlotForecast) else None
        with self._cond:
            company = self._companies.setdefault(client.realm_id, _Company())
            company.pending.append(slot)
            self._waiting += 1
            try:
                while not slot.done:
                    plan = self._plan(company, forecast)
                    if not isinstance(plan, tuple):
                        self._cond.wait(timeout=plan)
                        continue
                    kind, taken = plan
                    if kind == "batch":
                        company.batch_sending = True
                    else:
                        company.singles_sending += 1
                    self._cond.release()
                    try:
                        self._send(client, company, taken)
                    finally:
                        self._cond.acquire()
                        if kind == "batch":
                            company.batch_sending = False
                        else:
                            company.singles_sending -= 1
                        self._cond.notify_all()
            finally:
                self._waiting -= 1
        if slot.error is not None:
            raise slot.error
        assert slot.result is not None
        return slot.result

    def _plan(self, company: _Company, forecast: SlotForecast | None) -> _Plan | float:
        """What to send now (under the lock), or how long to wait before deciding again."""
        pending = company.pending
        if not pending:
            return 1.0  # this thread's create is being sent by another; its answer notifies
        now = time.monotonic()
        age = now - pending[0].since
        alone = self._waiting >= self._active  # nobody else can add a create now
        ready = len(pending) >= self._max_items or alone or age >= self._window_s
        waits = [1.0] if ready else [self._window_s - age]
        if forecast is None:
            if ready:
                return "batch", self._take(company, self._max_items)
            return max(min(waits), 0.005)
        try:
            batch_ahead = forecast.ahead_s("batch")
            single_ahead = forecast.ahead_s("single")
        except Exception as exc:  # the limiter unreadable: plan as if both slots were free
            # (raising here would leave this create in line for another thread to send, and
            # its record's retry would create it again); acquire still decides.
            logger.warning("could not read the QuickBooks limiter to plan", error=str(exc))
            batch_ahead = single_ahead = 0.0
        interval = forecast.interval_s
        if ready and not company.batch_sending and batch_ahead <= _DUE_S:
            return "batch", self._take(company, self._max_items)
        if company.singles_sending < _SINGLES_AT_ONCE and single_ahead <= _DUE_S:
            spare = batch_ahead > interval  # a single now leaves the batch its slot
            beyond_next_batch = len(pending) > self._max_items
            sooner_alone = (
                alone and batch_ahead > _SHORT_WAIT_S and len(pending) * interval <= batch_ahead
            )
            overdue = age + batch_ahead > self._hold_s
            if spare and (beyond_next_batch or sooner_alone or overdue):
                return "single", self._take(company, 1)
        if batch_ahead > _DUE_S:
            waits.append(batch_ahead)
            waits.append(self._hold_s - age - batch_ahead)
        if single_ahead > _DUE_S:
            waits.append(single_ahead)
        return max(min((w for w in waits if w > 0), default=0.01), 0.01)

    def _take(self, company: _Company, count: int) -> list[_Slot]:
        taken = company.pending[:count]
        del company.pending[:count]
        return taken

    def _send(self, client: QboClient, company: _Company, slots: Sequence[_Slot]) -> None:
        """Send ``slots`` (one company's) and hand each its answer; never raises, and never
        leaves a slot without an answer or back in line (its thread would wait for ever)."""
        failure: BaseException | None = None
        try:
            self._deliver(client, slots)
        except _NotSent as not_sent:
            # Nothing went out: the creates wait in line again while their hold allows
            # (the limiter has just seen when the company is free, and the plan follows it).
            later = time.monotonic() + (not_sent.waiting.retry_after_s or 1)
            again = [s for s in slots if not s.done and later <= s.since + self._hold_s]
            if again:
                with self._cond:
                    company.pending[0:0] = again
                    self.waited_again += len(again)
                    self._cond.notify_all()
            failure = not_sent.waiting
            slots = [s for s in slots if s not in again]
        except BaseException as exc:  # the whole request failed: each create fails with it
            failure = exc
        for slot in slots:
            if not slot.done:
                self._settle(slot, _own_copy(failure) if failure else _no_answer())

    def _deliver(self, client: QboClient, slots: Sequence[_Slot]) -> None:
        if len(slots) == 1:
            only = slots[0]
            try:
                answer = client.create_now(only.entity, only.body, request_id=only.request_id)
            except NoCapacityYet as waiting:  # refused before sending, or a 429: not applied
                raise _NotSent(waiting) from None
            self.singles += 1
            self._settle(only, answer)
            return
        operations = [
            BatchOperation(str(n), "create", s.entity, s.body) for n, s in enumerate(slots, start=1)
        ]
        request_id = batch_request_id([s.request_id for s in slots])
        try:
            self.batches += 1
            answers = client.batch(operations, request_id=request_id)
        except NoCapacityYet as waiting:
            self.batches -= 1
            raise _NotSent(waiting) from None
        except QboUnknownOutcome:
            # The items may have been applied: the same batch under the same requestid is
            # answered item by item as the first time, nothing applied twice.
            logger.warning("batch answer lost; sending the same batch again", items=len(slots))
            self.batches += 1
            try:
                answers = client.batch(operations, request_id=request_id)
            except NoCapacityYet:
                # Never put back in line: sent with others, the same items would carry
                # another requestid. Each record looks its document up before posting.
                raise _no_answer() from None
        self.batched += len(slots)
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
    more: Callable[[int], Sequence[Mapping[str, Any]]] | None = None,
    finished: Callable[[Sequence[Mapping[str, Any]], set[str]], None] | None = None,
) -> list[str]:
    """Run each FIFO message group's records in order on its own thread, groups side by side,
    creates through ``route``. A record whose ``handle`` raises fails, and so do the records
    of its group behind it (as the FIFO batch processor skips them).

    ``more(n)`` gives up to ``n`` more records (the function pulling from its queue while it
    has time; empty when it has none): asked as groups end, so that up to ``max_threads``
    records are in hand and the route always has creates to fill its requests with.
    ``finished(group, failed)`` is told as each group ends (to settle what was pulled).
    A record is known by its receipt (``receipt_of``): one handed back and pulled again is the
    same message under a new receipt, and may succeed the second time. Returns the receipts
    that failed, in the order the records came."""
    failed: set[str] = set()
    seen: list[Mapping[str, Any]] = list(records)
    lock = threading.Lock()

    def run(group: list[Mapping[str, Any]]) -> None:
        with route.working():
            for position, record in enumerate(group):
                try:
                    handle(record)
                except Exception:
                    with lock:
                        failed.update(receipt_of(r) for r in group[position:])
                    return

    threads = max(1, max_threads, len(records))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        running = {pool.submit(run, g): g for g in _grouped(records)}
        held = len(records)
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                group = running.pop(future)
                future.result()
                held -= len(group)
                if finished is not None:
                    with lock:
                        failed_now = set(failed)
                    finished(group, failed_now)
            free = threads - held
            # A pull of a few is a receive for a few: wait until ten are free (or none run).
            if more is not None and free > 0 and (free >= min(10, threads) or not running):
                fresh = list(more(free))
                seen.extend(fresh)
                held += len(fresh)
                for group in _grouped(fresh):
                    running[pool.submit(run, group)] = group
    return [receipt_of(r) for r in seen if receipt_of(r) in failed]


def receipt_of(record: Mapping[str, Any]) -> str:
    """A record's receipt handle (its message id when it has none, as in tests)."""
    return str(record.get("receiptHandle") or record["messageId"])


def _grouped(records: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        group = str(record.get("attributes", {}).get("MessageGroupId") or record["messageId"])
        groups.setdefault(group, []).append(record)
    return list(groups.values())

"""What a simulated QuickBooks Online company says about its changes: CDC and webhooks out.

Every write to the company (through the API, or by a person in QuickBooks' screens: the
simulator's ``edit``/``seed``/``void_as_person``) is kept in a ``ChangeLog``. From it:

- ``GET /v3/company/<realm>/cdc?entities=A,B&changedSince=<ISO 8601>`` answers
  ``CDCResponse[0].QueryResponse[]``, one per entity asked for, with each changed record as
  it is now (a deleted one as ``{"Id", "status": "Deleted", MetaData}``). As Intuit's: at most
  30 days back ("Operation cdc with changedSince date ... older than fixed days is not
  supported"), at most 1,000 objects (the oldest changes first), an unknown entity refused.
- ``WebhookSender`` posts the changes to a URL, signed as Intuit signs them
  (``intuit-signature``: base64 HMAC-SHA256 of the raw body keyed with the verifier token),
  in the legacy ``eventNotifications`` shape or as CloudEvents (``qbo.<entity>.<op>.v1``),
  several changes per delivery; a non-200 answer is retried on Intuit's schedule (10 s, 20 s,
  30 s, 5 m, 20 m, 2 h, 4 h, 6 h, then every 6 h), scaled down, and later changes wait until
  the first delivery is acknowledged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx

from simulators.qbo_faults import ApiFault, unsupported_operation
from simulators.qbo_wire import timestamp

CDC_MAX_DAYS = 30
CDC_MAX_OBJECTS = 1000
# Intuit's redelivery delays after a failed delivery (FACTS.md "Webhooks and CDC"); the last
# repeats.
RETRY_SCHEDULE_S = (10, 20, 30, 300, 1200, 7200, 14400, 21600)
MAX_EVENTS_PER_DELIVERY = 100
Operation = Literal["Create", "Update", "Delete", "Void", "Merge", "Emailed"]
# CloudEvents' past-tense verbs for the legacy operations.
_CLOUD_VERBS = {
    "Create": "created",
    "Update": "updated",
    "Delete": "deleted",
    "Void": "voided",
    "Merge": "merged",
    "Emailed": "emailed",
}


@dataclass(frozen=True)
class Change:
    entity: str
    entity_id: str
    operation: Operation
    at: float  # epoch seconds by the company's clock

    def last_updated(self) -> str:
        """As a legacy webhook stamps it: UTC with milliseconds."""
        moment = datetime.fromtimestamp(self.at, UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ChangeLog:
    """Every change of the company in order; ``listeners`` hear each one as it is kept."""

    def __init__(self) -> None:
        self.entries: list[Change] = []
        self.listeners: list[Callable[[Change], None]] = []

    def record(self, entity: str, entity_id: str, operation: Operation, at: float) -> None:
        change = Change(entity, entity_id, operation, at)
        self.entries.append(change)
        for listener in self.listeners:
            listener(change)


def _since(text: str | None) -> datetime:
    if not text:
        raise ApiFault.validation(
            400,
            "2020",
            "Required param missing, need to supply the required value for the API",
            "Required parameter changedSince is missing in the request",
            "changedSince",
        )
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiFault.validation(
            400,
            "2030",
            "Invalid ID",
            f"Invalid date/time format for changedSince: {text}",
            "changedSince",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cdc(
    log: ChangeLog,
    docs: dict[str, dict[str, dict[str, Any]]],
    *,
    entities: str | None,
    changed_since: str | None,
    now: float,
) -> dict[str, Any]:
    """The CDC answer for ``entities`` (comma-separated) changed after ``changed_since``."""
    names = [n.strip() for n in (entities or "").split(",") if n.strip()]
    if not names:
        raise ApiFault.validation(
            400,
            "2020",
            "Required param missing, need to supply the required value for the API",
            "Required parameter entities is missing in the request",
            "entities",
        )
    known = {e.lower(): e for e in docs}
    wanted: list[str] = []
    for name in names:
        entity = known.get(name.lower())
        if entity is None:
            raise unsupported_operation(f"Operation cdc is not supported for entity {name}.")
        wanted.append(entity)
    since = _since(changed_since)
    if since < datetime.fromtimestamp(now, UTC) - timedelta(days=CDC_MAX_DAYS):
        raise unsupported_operation(
            f"Operation cdc with changedSince date {changed_since} which is older than fixed "
            "days is not supported."
        )
    cutoff = since.timestamp()
    # Each record once, at its latest change; the oldest changes first, 1,000 at most.
    latest: dict[tuple[str, str], Change] = {}
    for change in log.entries:
        if change.entity in wanted and change.at > cutoff:
            latest.pop((change.entity, change.entity_id), None)
            latest[(change.entity, change.entity_id)] = change
    kept = sorted(latest.values(), key=lambda c: c.at)[:CDC_MAX_OBJECTS]
    responses: list[dict[str, Any]] = []
    for entity in wanted:
        found: list[dict[str, Any]] = []
        for change in kept:
            if change.entity != entity:
                continue
            doc = docs[entity].get(change.entity_id)
            if doc is None:
                found.append(
                    {
                        "domain": "QBO",
                        "status": "Deleted",
                        "Id": change.entity_id,
                        "MetaData": {"LastUpdatedTime": timestamp(change.at)},
                    }
                )
            else:
                found.append(doc)
        if found:
            responses.append(
                {
                    entity: found,
                    "startPosition": 1,
                    "maxResults": len(found),
                    "totalCount": len(found),
                }
            )
        else:
            responses.append({})
    return {"CDCResponse": [{"QueryResponse": responses}]}


def sign(body: bytes, verifier_token: str) -> str:
    """``intuit-signature``: base64 of the HMAC-SHA256 of the raw body."""
    digest = hmac.new(verifier_token.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def legacy_payload(realm_id: str, changes: Iterable[Change]) -> dict[str, Any]:
    return {
        "eventNotifications": [
            {
                "realmId": realm_id,
                "dataChangeEvent": {
                    "entities": [
                        {
                            "id": c.entity_id,
                            "operation": c.operation,
                            "name": c.entity,
                            "lastUpdated": c.last_updated(),
                        }
                        for c in changes
                    ]
                },
            }
        ]
    }


def cloud_events(realm_id: str, changes: Iterable[Change]) -> list[dict[str, Any]]:
    return [
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "intuit.simulated",
            "type": f"qbo.{c.entity.lower()}.{_CLOUD_VERBS[c.operation]}.v1",
            "datacontenttype": "application/json",
            "time": c.last_updated(),
            "intuitentityid": c.entity_id,
            "intuitaccountid": realm_id,
            "data": {},
        }
        for c in changes
    ]


@dataclass
class Delivery:
    """One POST the sender made: what it sent and what it was answered."""

    body: bytes
    status: int
    changes: tuple[Change, ...]


class WebhookSender:
    """Posts the company's changes to ``url`` from a thread of its own, in order.

    ``entities``: the entity names the Intuit app subscribed to. ``retry_scale`` multiplies
    Intuit's redelivery delays (1 is real time). ``batch_window_s``: how long changes gather
    before a delivery, so several travel together.
    """

    def __init__(
        self,
        *,
        realm_id: str,
        url: str,
        verifier_token: str,
        style: Literal["legacy", "cloudevents"] = "legacy",
        entities: Iterable[str] = ("Item", "Customer", "Invoice"),
        retry_scale: float = 0.001,
        batch_window_s: float = 0.05,
        http: httpx.Client | None = None,
    ) -> None:
        self.realm_id = realm_id
        self.url = url
        self._verifier = verifier_token
        self.style = style
        self.entities = frozenset(entities)
        self._retry_scale = retry_scale
        self._window = batch_window_s
        self._http = http or httpx.Client(timeout=10.0)
        self._pending: list[Change] = []
        self._cond = threading.Condition()
        self._busy = False
        self._stopped = False
        self.deliveries: list[Delivery] = []
        self._thread = threading.Thread(target=self._run, name="qbo-webhooks", daemon=True)
        self._thread.start()

    def hear(self, change: Change) -> None:
        if change.entity not in self.entities:
            return
        with self._cond:
            self._pending.append(change)
            self._cond.notify_all()

    def body_of(self, changes: tuple[Change, ...]) -> bytes:
        payload: Any = (
            legacy_payload(self.realm_id, changes)
            if self.style == "legacy"
            else cloud_events(self.realm_id, changes)
        )
        return json.dumps(payload).encode("utf-8")

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every change heard so far was acknowledged; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._pending or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                self._busy = True
            time.sleep(self._window)  # let the changes of one edit session travel together
            with self._cond:
                batch = tuple(self._pending[:MAX_EVENTS_PER_DELIVERY])
                del self._pending[: len(batch)]
            self._deliver(batch)
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _deliver(self, batch: tuple[Change, ...]) -> None:
        body = self.body_of(batch)
        headers = {
            "Content-Type": "application/json",
            "intuit-signature": sign(body, self._verifier),
        }
        attempt = 0
        while not self._stopped:
            try:
                status = self._http.post(self.url, content=body, headers=headers).status_code
            except httpx.HTTPError:
                status = 0
            self.deliveries.append(Delivery(body, status, batch))
            if status == 200:
                return
            delay = RETRY_SCHEDULE_S[min(attempt, len(RETRY_SCHEDULE_S) - 1)]
            attempt += 1
            with self._cond:
                self._cond.wait(delay * self._retry_scale)

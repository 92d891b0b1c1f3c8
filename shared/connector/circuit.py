"""A circuit breaker per QuickBooks Online company (realm), its state in DynamoDB.

Key (state table): circuit#<realm> / CIRCUIT. Closed: calls go through; each transient
failure (5xx, timeout, lost connection) adds to a run of consecutive failures, a success ends
it. ``threshold`` failures in a run (none further than ``window_s`` from the previous) open
it: no call is made, the caller gets ServicePaused until ``retry_at``. Then one caller takes
the probe under a conditional write (half open); its call succeeding closes the circuit, its
failure opens it again for twice the cooldown (up to ``max_cooldown_s``).

Reads are cached in process for ``cache_s`` and writes happen only on failures and state
changes, so a healthy company costs no DynamoDB call per QuickBooks call.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import boto3
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from connector.errors import ServicePaused
from connector.observability import logger, metrics
from connector.state import _plain

CircuitState = Literal["closed", "open", "half_open"]
_NAMES = {"#state": "state"}  # "state" is a DynamoDB reserved word


@dataclass(frozen=True)
class CircuitRules:
    threshold: int = 8  # consecutive transient failures that open the circuit
    window_s: float = 120.0  # a failure later than this after the previous starts a new run
    cooldown_s: float = 60.0  # first wait before a probe
    max_cooldown_s: float = 900.0  # the cooldown doubles on each failed probe, up to this
    probe_lease_s: float = 60.0  # a probe whose caller vanished is taken over after this
    cache_s: float = 5.0  # how long a read of the state is trusted in process

    def scaled(self, factor: float) -> CircuitRules:
        """The waits (cooldowns) times ``factor``; the rest are about calls and stay."""
        return replace(
            self, cooldown_s=self.cooldown_s * factor, max_cooldown_s=self.max_cooldown_s * factor
        )


class CircuitView(BaseModel):
    """What ``connector status`` shows of one company's circuit."""

    # Built when first read, not by the cold start of every function importing this module.
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    state: CircuitState = "closed"
    failures: int = 0
    opened_at: datetime | None = None
    retry_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class CircuitChange:
    """A change worth telling people about (audit, log)."""

    realm_id: str
    change: Literal["opened", "reopened", "closed"]
    view: CircuitView
    detail: str


def _key(realm_id: str) -> dict[str, str]:
    return {"pk": f"circuit#{realm_id}", "sk": "CIRCUIT"}


def _view(item: dict[str, Any] | None) -> CircuitView:
    if not item:
        return CircuitView()
    plain = _plain(item)
    return CircuitView.model_validate(
        {
            **plain,
            "opened_at": _moment(plain.get("opened_at")),
            "retry_at": _moment(plain.get("retry_at")),
        }
    )


def _moment(epoch: Any) -> datetime | None:
    return datetime.fromtimestamp(float(epoch), UTC) if epoch is not None else None


def circuit_view(state_table: str, realm_id: str, *, resource: Any | None = None) -> CircuitView:
    """The circuit of one QuickBooks Online company as DynamoDB holds it (closed if never
    opened)."""
    table = (resource or boto3.resource("dynamodb")).Table(state_table)
    return _view(table.get_item(Key=_key(realm_id), ConsistentRead=True).get("Item"))


class CircuitBreaker:
    """One realm's breaker; QboClient calls ``before_call``, then ``succeeded`` or ``failed``."""

    def __init__(
        self,
        table_name: str,
        realm_id: str,
        *,
        rules: CircuitRules | None = None,
        resource: Any | None = None,
        notify: Callable[[CircuitChange], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = (resource or boto3.resource("dynamodb")).Table(table_name)
        self.realm_id = realm_id
        self.rules = rules or CircuitRules()
        self._notify = notify or (lambda _change: None)
        self._clock = clock
        self._lock = threading.Lock()
        self._item: dict[str, Any] | None = None
        self._read_at = -float("inf")
        self._probe: str | None = None  # our probe's lease owner, while we hold it

    # --- the caller's side ------------------------------------------------------------------
    def before_call(self) -> None:
        """Return if the call may go ahead; raise ServicePaused while the circuit is open."""
        item = self._cached()
        state = item.get("state", "closed")
        if state == "closed" or self._probe is not None:
            return
        now = self._clock()
        due = float(item.get("retry_at", 0)) <= now
        lapsed = state == "half_open" and float(item.get("probe_expires_at", 0)) <= now
        if (state == "open" and due) or lapsed:
            if self._take_probe(now):
                return
            item = self._cached(refresh=True)
        raise self._paused(item, now)

    def succeeded(self) -> None:
        if self._probe is not None:
            self._close()
        elif int(self._cached().get("failures", 0)) > 0:
            self._update("SET failures = :zero", {":zero": 0})

    def failed(self, error: str) -> None:
        if self._probe is not None:
            self._reopen(error)
            return
        if self._cached().get("state", "closed") != "closed":
            return  # a call that started before it opened: the circuit already knows
        item = self._count_failure(error)
        if int(item.get("failures", 0)) >= self.rules.threshold:
            self._open(item, error)

    def view(self) -> CircuitView:
        return _view(self._cached(refresh=True))

    # --- DynamoDB ---------------------------------------------------------------------------
    def _cached(self, *, refresh: bool = False) -> dict[str, Any]:
        with self._lock:
            if refresh or time.monotonic() - self._read_at > self.rules.cache_s:
                found = self._table.get_item(Key=_key(self.realm_id), ConsistentRead=True)
                self._remember(found.get("Item") or {})
            return dict(self._item or {})

    def _remember(self, item: dict[str, Any]) -> None:
        self._item = item
        self._read_at = time.monotonic()

    def _update(
        self,
        expression: str,
        values: dict[str, Any],
        *,
        condition: str | None = None,
    ) -> dict[str, Any] | None:
        """One UpdateItem returning the new item (cached); None when ``condition`` failed."""
        kwargs: dict[str, Any] = {
            "Key": _key(self.realm_id),
            "UpdateExpression": expression,
            "ExpressionAttributeValues": values,
            "ReturnValues": "ALL_NEW",
        }
        if "#state" in expression or (condition and "#state" in condition):
            kwargs["ExpressionAttributeNames"] = _NAMES
        if condition:
            kwargs["ConditionExpression"] = condition
        try:
            item = self._table.update_item(**kwargs)["Attributes"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                with self._lock:
                    self._read_at = -float("inf")  # someone else moved it: read again
                return None
            raise
        with self._lock:
            self._remember(item)
        return dict(item)

    def _count_failure(self, error: str) -> dict[str, Any]:
        now = self._clock()
        values = {":one": 1, ":now": _stored(now), ":error": error[:500]}
        counted = self._update(
            "SET failures = if_not_exists(failures, :zero) + :one, last_failure_at = :now, "
            "last_error = :error",
            {**values, ":zero": 0, ":cutoff": _stored(now - self.rules.window_s)},
            condition="attribute_not_exists(last_failure_at) OR last_failure_at >= :cutoff",
        )
        if counted is not None:
            return counted
        # The previous failure is too old: this one starts a new run.
        started = self._update(
            "SET failures = :one, last_failure_at = :now, last_error = :error", values
        )
        assert started is not None
        return started

    def _open(self, item: dict[str, Any], error: str) -> None:
        now = self._clock()
        cooldown = self.rules.cooldown_s
        opened = self._update(
            "SET #state = :open, opened_at = :now, retry_at = :retry, cooldown_s = :cooldown",
            {
                ":open": "open",
                ":closed": "closed",
                ":now": _stored(now),
                ":retry": _stored(now + cooldown),
                ":cooldown": _stored(cooldown),
            },
            condition="attribute_not_exists(#state) OR #state = :closed",
        )
        if opened is None:
            return  # another caller opened it first
        failures = int(item.get("failures", 0))
        metrics.add_metric(name="CircuitOpened", unit="Count", value=1)
        self._tell(
            "opened",
            opened,
            f"QuickBooks company {self.realm_id} failed {failures} times in a row (last: "
            f"{error}): no calls until {_hhmmss(now + cooldown)}, then one probe",
        )

    def _take_probe(self, now: float) -> bool:
        owner = uuid.uuid4().hex
        taken = self._update(
            "SET #state = :half, probe_owner = :owner, probe_expires_at = :lease",
            {
                ":half": "half_open",
                ":open": "open",
                ":owner": owner,
                ":now": _stored(now),
                ":lease": _stored(now + self.rules.probe_lease_s),
            },
            condition="(#state = :open AND retry_at <= :now) "
            "OR (#state = :half AND probe_expires_at <= :now)",
        )
        if taken is None:
            return False
        self._probe = owner
        logger.info("circuit half open: one probe call", realm_id=self.realm_id)
        return True

    def _close(self) -> None:
        owner, self._probe = self._probe, None
        before = _view(self._item)
        closed = self._update(
            "SET #state = :closed, failures = :zero "
            "REMOVE probe_owner, probe_expires_at, retry_at, opened_at, cooldown_s",
            {":closed": "closed", ":zero": 0, ":owner": owner},
            condition="probe_owner = :owner",
        )
        if closed is None:
            return
        since = f" (open since {before.opened_at:%H:%M:%S} UTC)" if before.opened_at else ""
        self._tell(
            "closed", closed, f"QuickBooks company {self.realm_id} answers again{since}: closed"
        )

    def _reopen(self, error: str) -> None:
        owner, self._probe = self._probe, None
        now = self._clock()
        previous = float(self._item.get("cooldown_s", 0)) if self._item else 0.0
        cooldown = min(self.rules.max_cooldown_s, max(self.rules.cooldown_s, previous * 2 or 0.0))
        reopened = self._update(
            "SET #state = :open, retry_at = :retry, cooldown_s = :cooldown, last_error = :error, "
            "last_failure_at = :now REMOVE probe_owner, probe_expires_at",
            {
                ":open": "open",
                ":owner": owner,
                ":now": _stored(now),
                ":retry": _stored(now + cooldown),
                ":cooldown": _stored(cooldown),
                ":error": error[:500],
            },
            condition="probe_owner = :owner",
        )
        if reopened is not None:
            self._tell(
                "reopened",
                reopened,
                f"the probe of QuickBooks company {self.realm_id} failed ({error}): "
                f"no calls until {_hhmmss(now + cooldown)}",
            )

    def _paused(self, item: dict[str, Any], now: float) -> ServicePaused:
        view = _view(item)
        retry_at = float(item.get("retry_at") or item.get("probe_expires_at") or now)
        wait = max(1, round(retry_at - now))
        since = f" since {view.opened_at:%H:%M:%S} UTC" if view.opened_at else ""
        return ServicePaused(
            f"QuickBooks company {self.realm_id} is not being called (circuit {view.state}"
            f"{since} after repeated failures; last: {view.last_error or 'unknown'})",
            retry_after_s=wait,
        )

    def _tell(self, change: Literal["opened", "reopened", "closed"], item: Any, text: str) -> None:
        view = _view(item)
        log = logger.info if change == "closed" else logger.warning
        log(f"circuit {change}", realm_id=self.realm_id, detail=text)
        self._notify(CircuitChange(self.realm_id, change, view, text))


def _stored(epoch: float) -> Decimal:
    # DynamoDB numbers: a Decimal from text keeps milliseconds without float noise.
    return Decimal(f"{epoch:.3f}")


def _hhmmss(epoch: float) -> str:
    return f"{datetime.fromtimestamp(epoch, UTC):%H:%M:%S} UTC"

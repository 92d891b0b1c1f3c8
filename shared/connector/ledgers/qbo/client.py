"""HTTP client for the QuickBooks Online Accounting API (v3, JSON, minorversion 75).

One call per method, no retry loops: the sync worker owns retry policy. The only retries
here are the ones QBO asks for: on 401 refresh the access token once and resend; on a throttled
answer wait (jittered) and resend. An optional ``CallGuard`` (connector.circuit's breaker)
sees every request's outcome and may refuse to make one. An optional ``CallLimit`` (the
company's limiter, connector.ledgers.qbo.limiter) gives each request a slot first, and is told
of a throttle answer instead of the client waiting it out.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

import httpx

from connector.errors import NoCapacityYet
from connector.ledgers.qbo.faults import (
    FaultError,
    FaultInfo,
    QboAuthFailed,
    QboFault,
    QboServerError,
    QboThrottled,
    QboTimeout,
    QboTransientFault,
    QboUnknownOutcome,
    QboValidation,
    classify,
    fault_from_response,
    parse_fault,
)
from connector.retry import jittered

API_BASE_PRODUCTION = "https://quickbooks.api.intuit.com"
API_BASE_SANDBOX = "https://sandbox-quickbooks.api.intuit.com"
MINOR_VERSION = 75
MAX_REQUEST_ID_LENGTH = 50
MAX_BATCH_REQUEST_ID_LENGTH = 36  # requestid on a batch: its items' bIds are added to it
MAX_BATCH_ITEMS = 30
MAX_BID_LENGTH = 10
QUERY_PAGE_SIZE = 1000  # the largest MAXRESULTS QBO accepts

_TYPOGRAPHIC_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u2032": "'"})
_PAGING_CLAUSE = re.compile(r"\b(STARTPOSITION|MAXRESULTS)\b", re.IGNORECASE)
_COUNT_SELECT = re.compile(r"^\s*SELECT\s+COUNT\s*\(\s*\*\s*\)", re.IGNORECASE)
_QUERY_META = {"startPosition", "maxResults", "totalCount"}


class CallGuard(Protocol):
    """Told of each request's outcome; ``before_call`` raises instead of letting one through."""

    def before_call(self) -> None: ...

    def succeeded(self) -> None: ...

    def failed(self, error: str) -> None: ...


class CallSlot(Protocol):
    def release(self) -> None: ...


class CallLimit(Protocol):
    """The company's shared limiter: ``acquire`` a slot before a request (it may sleep, or raise
    NoCapacityYet); ``throttled`` when QuickBooks refused one anyway, returning the pause."""

    def acquire(self, kind: Literal["single", "batch"] = "single") -> CallSlot: ...

    def throttled(self) -> float: ...


class CreateRoute(Protocol):
    """Where a thread's creates go instead of a request each (connector.ledgers.qbo.batching)."""

    def create(
        self, client: QboClient, entity: str, body: dict[str, Any], *, request_id: str
    ) -> dict[str, Any]: ...


_routes = threading.local()


def route_creates(route: CreateRoute | None) -> None:
    """Send this thread's ``QboClient.create`` calls through ``route`` (None: one request each)."""
    _routes.route = route


class TokenProvider(Protocol):
    def access_token(self) -> str: ...

    def refresh_after_unauthorized(self, rejected: str) -> str: ...


def escape_query_value(value: str) -> str:
    r"""Make ``value`` safe inside '...' in a QBO query.

    Typographic apostrophes (U+2018/U+2019) break QBO's lexer, so they become plain ones:
    create names with the same normalisation so a lookup finds what we created.
    Backslashes and apostrophes are escaped with a backslash, as the query language requires.
    """
    normalised = value.translate(_TYPOGRAPHIC_QUOTES)
    return normalised.replace("\\", "\\\\").replace("'", "\\'")


def _encode(value: Any, out: list[str]) -> None:
    # A tiny JSON writer so Decimal money goes out as the exact digits, never via float.
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send non-finite amount {value} to QuickBooks")
        out.append(format(value, "f"))
    elif value is None or isinstance(value, bool | str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("cannot send a non-finite number to QuickBooks")
        out.append(repr(value))
    elif isinstance(value, dict):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            if i:
                out.append(",")
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def encode_json(value: Any) -> bytes:
    """JSON bytes for a request body; Decimal values are written as exact JSON numbers."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out).encode("utf-8")


def _check_request_id(request_id: str) -> str:
    if not request_id or len(request_id) > MAX_REQUEST_ID_LENGTH:
        raise ValueError(f"requestid must be 1-{MAX_REQUEST_ID_LENGTH} characters: {request_id!r}")
    return request_id


@dataclass(frozen=True)
class BatchOperation:
    """One item of a batch request: a write of ``body`` to ``entity``, or a query."""

    bid: str
    operation: Literal["create", "update", "delete", "void", "query"]
    entity: str = ""
    body: dict[str, Any] | None = None
    statement: str = ""

    def item(self) -> dict[str, Any]:
        if self.operation == "query":
            return {"bId": self.bid, "Query": self.statement}
        body = dict(self.body or {})
        if self.operation == "update":
            body["sparse"] = True  # as ``QboClient.update``: only the fields sent change
        return {"bId": self.bid, "operation": self.operation, self.entity: body}


def _check_batch(operations: Sequence[BatchOperation], request_id: str | None) -> None:
    if not operations or len(operations) > MAX_BATCH_ITEMS:
        raise ValueError(f"a batch takes 1-{MAX_BATCH_ITEMS} operations, not {len(operations)}")
    bids = [op.bid for op in operations]
    if len(set(bids)) != len(bids) or any(not b or len(b) > MAX_BID_LENGTH for b in bids):
        raise ValueError(f"bIds must be unique and 1-{MAX_BID_LENGTH} characters: {bids!r}")
    for op in operations:
        if op.operation == "query" and not op.statement:
            raise ValueError(f"batch item {op.bid}: a query needs its statement")
        if op.operation != "query" and not (op.entity and op.body is not None):
            raise ValueError(f"batch item {op.bid}: {op.operation} needs an entity and a body")
    if request_id is not None and not 0 < len(request_id) <= MAX_BATCH_REQUEST_ID_LENGTH:
        raise ValueError(
            f"a batch's requestid must be 1-{MAX_BATCH_REQUEST_ID_LENGTH} characters: "
            f"{request_id!r}"
        )


def _batch_answer(op: BatchOperation, answer: dict[str, Any] | None) -> dict[str, Any] | QboFault:
    if answer is None:
        info = FaultInfo(
            "", (FaultError("", "No answer for this batch item", f"bId {op.bid}", ""),), None
        )
        return QboUnknownOutcome(info)
    fault = answer.get("Fault") or answer.get("fault")
    if fault is not None:
        # The item's Fault is classified by its codes, as a single call's would be; it came
        # inside an HTTP 200, so no status speaks for it.
        parsed = parse_fault(encode_json({"Fault": fault}))
        if parsed is not None:
            return classify(parsed)
    key = "QueryResponse" if op.operation == "query" else op.entity
    value = answer.get(key)
    if not isinstance(value, dict):
        keys = ", ".join(sorted(answer)) or "nothing"
        info = FaultInfo(
            "", (FaultError("", f'Expected "{key}" in batch item {op.bid}', keys, ""),), None
        )
        return QboValidation(info)
    return value


class QboClient:
    """One realm's Accounting API.

    ``calls`` counts HTTP requests sent, the resend after a token refresh included.
    """

    def __init__(
        self,
        *,
        api_base: str,
        realm_id: str,
        tokens: TokenProvider,
        http: httpx.Client | None = None,
        minorversion: int = MINOR_VERSION,
        timeout_s: float = 15.0,
        throttle_backoff_s: tuple[float, ...] = (1.0, 2.0, 4.0),
        guard: CallGuard | None = None,
        limiter: CallLimit | None = None,
    ) -> None:
        self._base = f"{api_base.rstrip('/')}/v3/company/{realm_id}"
        # Waits before each resend of a throttled request; after the last, the worker's queue retries.
        self._throttle_backoff_s = throttle_backoff_s
        self._tokens = tokens
        self._http = http or httpx.Client(timeout=timeout_s)
        self._timeout = httpx.Timeout(timeout_s)
        self._minorversion = minorversion
        self._guard = guard
        self._limiter = limiter
        self.realm_id = realm_id
        self.calls = 0

    @property
    def limiter(self) -> CallLimit | None:
        """The company's limiter, if calls go through one (a batch route plans by it)."""
        return self._limiter

    # -- reads ---------------------------------------------------------------------------

    def query(self, statement: str) -> list[dict[str, Any]]:
        """Entities matching ``statement``; pages through STARTPOSITION unless the caller paged."""
        if _PAGING_CLAUSE.search(statement):
            return self._query_page(statement)[0]
        results: list[dict[str, Any]] = []
        start = 1
        while True:
            page, _ = self._query_page(
                f"{statement} STARTPOSITION {start} MAXRESULTS {QUERY_PAGE_SIZE}"
            )
            results.extend(page)
            if len(page) < QUERY_PAGE_SIZE:
                return results
            start += QUERY_PAGE_SIZE

    def count(self, statement: str) -> int:
        """``totalCount`` of a ``SELECT COUNT(*) FROM ...`` statement."""
        if not _COUNT_SELECT.match(statement):
            raise ValueError("count() needs a SELECT COUNT(*) statement")
        _, response = self._query_page(statement)
        return int(response.get("totalCount", 0))

    def _query_page(self, statement: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        payload = self._send("GET", "query", params={"query": statement})
        response = payload.get("QueryResponse")
        if not isinstance(response, dict):
            raise self._unexpected(payload, "a QueryResponse")
        for key, value in response.items():
            if key not in _QUERY_META and isinstance(value, list):
                return value, response
        return [], response

    def find_one(
        self, entity: str, field: str, value: str, *, include_inactive: bool = False
    ) -> dict[str, Any] | None:
        """The first record whose ``field`` equals ``value`` (inactive ones only when asked)."""
        active = " AND Active IN (true, false)" if include_inactive else ""
        rows = self.query(
            f"SELECT * FROM {entity} WHERE {field} = '{escape_query_value(value)}'{active}"
        )
        return rows[0] if rows else None

    def read(self, entity: str, entity_id: str) -> dict[str, Any]:
        payload = self._send("GET", f"{entity.lower()}/{entity_id}")
        return self._entity(payload, entity)

    def cdc(self, entities: Sequence[str], changed_since: datetime) -> dict[str, Any]:
        """The change feed (GET cdc): the ``entities`` changed after ``changed_since``, one
        ``QueryResponse`` each (QuickBooks looks back 30 days and answers 1,000 objects at most)."""
        moment = changed_since.astimezone(UTC).isoformat(timespec="seconds")
        payload = self._send(
            "GET", "cdc", params={"entities": ",".join(entities), "changedSince": moment}
        )
        if not isinstance(payload.get("CDCResponse"), list):
            raise self._unexpected(payload, "a CDCResponse list")
        return payload

    # -- writes --------------------------------------------------------------------------

    def create(self, entity: str, body: dict[str, Any], *, request_id: str) -> dict[str, Any]:
        route = getattr(_routes, "route", None)
        if route is not None:  # this thread's creates are gathered into batch requests
            return route.create(self, entity, body, request_id=request_id)
        return self.create_now(entity, body, request_id=request_id)

    def create_now(self, entity: str, body: dict[str, Any], *, request_id: str) -> dict[str, Any]:
        """A create sent at once as its own request, whatever route this thread has."""
        payload = self._send("POST", entity.lower(), body=body, request_id=request_id)
        return self._entity(payload, entity)

    def update(self, entity: str, body: dict[str, Any], *, request_id: str) -> dict[str, Any]:
        """Sparse update: only the fields in ``body`` change; it must carry Id and SyncToken."""
        if "Id" not in body or "SyncToken" not in body:
            raise ValueError("an update needs the Id and SyncToken of the record")
        payload = self._send(
            "POST", entity.lower(), body={**body, "sparse": True}, request_id=request_id
        )
        return self._entity(payload, entity)

    def void(
        self, entity: str, entity_id: str, sync_token: str, *, request_id: str
    ) -> dict[str, Any]:
        # Invoices have their own void operation; other transactions (SalesReceipt, Payment)
        # are voided by a sparse update with include=void.
        if entity.lower() == "invoice":
            params = {"operation": "void"}
            body: dict[str, Any] = {"Id": entity_id, "SyncToken": sync_token}
        else:
            params = {"operation": "update", "include": "void"}
            body = {"Id": entity_id, "SyncToken": sync_token, "sparse": True}
        payload = self._send(
            "POST", entity.lower(), body=body, params=params, request_id=request_id
        )
        return self._entity(payload, entity)

    def delete(
        self, entity: str, entity_id: str, sync_token: str, *, request_id: str
    ) -> dict[str, Any]:
        """Deletes a transaction; QBO answers ``{"status": "Deleted", "Id": ...}``."""
        payload = self._send(
            "POST",
            entity.lower(),
            body={"Id": entity_id, "SyncToken": sync_token},
            params={"operation": "delete"},
            request_id=request_id,
        )
        return self._entity(payload, entity)

    def batch(
        self, operations: Sequence[BatchOperation], *, request_id: str | None = None
    ) -> dict[str, dict[str, Any] | QboFault]:
        """One ``POST batch`` of up to 30 operations; each bId's answer: the entity object
        (``QueryResponse`` for a query) or its own fault, classified as a single call's would
        be. A failure of the whole request (401 after a refresh, throttled past the waits, a
        lost answer) raises as a single call does. An operation missing from the answer is
        a QboUnknownOutcome (it may have been applied). ``request_id`` (36 characters at most)
        makes a resend of the same batch answer each write as the first time."""
        _check_batch(operations, request_id)
        items = [op.item() for op in operations]
        payload = self._send(
            "POST", "batch", body={"BatchItemRequest": items}, request_id=request_id
        )
        answers = payload.get("BatchItemResponse")
        if not isinstance(answers, list):
            raise self._unexpected(payload, "a BatchItemResponse list")
        by_bid = {str(a.get("bId")): a for a in answers if isinstance(a, dict)}
        return {op.bid: _batch_answer(op, by_bid.get(op.bid)) for op in operations}

    def preferences(self) -> dict[str, Any]:
        return self._entity(self._send("GET", "preferences"), "Preferences")

    def exchange_rate(self, currency: str, as_of: date) -> dict[str, Any]:
        """QuickBooks' rate for ``currency`` into the home currency on a day (GET exchangerate)."""
        payload = self._send(
            "GET",
            "exchangerate",
            params={"sourcecurrencycode": currency.upper(), "asofdate": as_of.isoformat()},
        )
        return payload

    # -- plumbing ------------------------------------------------------------------------

    def _entity(self, payload: dict[str, Any], entity: str) -> dict[str, Any]:
        value = payload.get(entity)
        if not isinstance(value, dict):
            raise self._unexpected(payload, f'an "{entity}" object')
        return value

    def _unexpected(self, payload: dict[str, Any], wanted: str) -> QboValidation:
        keys = ", ".join(sorted(payload)) or "nothing"
        info = FaultInfo(
            "", (FaultError("", f"Expected {wanted} in the answer", f"got {keys}", ""),), 200
        )
        return QboValidation(info)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        query = dict(params or {})
        if request_id is not None:
            query["requestid"] = _check_request_id(request_id)
        query["minorversion"] = str(self._minorversion)
        content = encode_json(body) if body is not None else None
        url = f"{self._base}/{path}"
        token = self._tokens.access_token()
        kind: Literal["single", "batch"] = "batch" if path == "batch" else "single"
        response = self._exchange(method, url, query, content, token, kind)
        refreshed = False
        waits = iter(self._throttle_backoff_s)
        while True:
            if response.status_code == 401 and not refreshed:
                # Same requestid on the resend, so a write that did land is not repeated.
                token = self._tokens.refresh_after_unauthorized(token)
                refreshed = True
            elif self._limiter is not None and _throttled(response):
                # Another app may share the company's quota: every function of the company
                # waits the pause, this record included (not a failure of the record).
                pause = self._limiter.throttled()
                raise NoCapacityYet(
                    f"QuickBooks Online throttled a request to company {self.realm_id} "
                    f"(its quota may be shared with another app): no calls to it for "
                    f"{pause:.0f} s",
                    retry_after_s=max(1, math.ceil(pause)),
                )
            elif _throttled(response) and (delay := next(waits, None)) is not None:
                # A throttled request was refused, not run: waiting and resending is safe,
                # and Intuit's per-second limit clears within a second or two. Jittered, so
                # workers throttled together do not all come back in the same second.
                time.sleep(jittered(delay))
            else:
                break
            response = self._exchange(method, url, query, content, token, kind)
        if response.status_code == 401:
            fault = fault_from_response(401, response.content)
            raise fault if isinstance(fault, QboAuthFailed) else QboAuthFailed(fault.info)
        if response.status_code >= 400:
            raise fault_from_response(response.status_code, response.content)
        info = parse_fault(response.content, response.status_code)
        if info is not None:  # QBO can put a Fault in a 200
            raise classify(info)
        try:
            payload = json.loads(response.content.decode("utf-8"), parse_float=Decimal)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise fault_from_response(502, response.content) from exc
        if not isinstance(payload, dict):
            raise self._unexpected({}, "a JSON object")
        return payload

    def _exchange(
        self,
        method: str,
        url: str,
        query: dict[str, str],
        content: bytes | None,
        token: str,
        kind: Literal["single", "batch"] = "single",
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if content is not None:
            headers["Content-Type"] = "application/json"
        if self._guard is not None:
            self._guard.before_call()  # an open circuit raises here: no request is made
        # A slot of the company's limits (it may sleep a moment, or raise NoCapacityYet).
        slot = self._limiter.acquire(kind) if self._limiter is not None else None
        self.calls += 1
        try:
            response = self._http.request(
                method, url, params=query, content=content, headers=headers, timeout=self._timeout
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing reached QBO: a plain transient failure.
            raise self._failed(QboServerError(_transport_info(exc, "could not connect"))) from exc
        except httpx.TimeoutException as exc:
            raise self._failed(QboTimeout(_transport_info(exc, "timed out"))) from exc
        except httpx.TransportError as exc:
            raise self._failed(QboUnknownOutcome(_transport_info(exc, "connection lost"))) from exc
        finally:
            if slot is not None:
                slot.release()
        if self._guard is not None:
            # QuickBooks answered: 5xx is its failure, anything else (a refusal included)
            # shows it is up.
            if response.status_code >= 500:
                self._guard.failed(f"HTTP {response.status_code} {method} {url.rsplit('/', 1)[-1]}")
            else:
                self._guard.succeeded()
        return response

    def _failed(self, fault: QboTransientFault) -> QboTransientFault:
        if self._guard is not None:
            self._guard.failed(str(fault))
        return fault


def _transport_info(exc: Exception, what: str) -> FaultInfo:
    return FaultInfo("", (FaultError("", what, f"{type(exc).__name__}: {exc}", ""),), None)


def _throttled(response: httpx.Response) -> bool:
    if response.status_code == 429:
        return True
    return response.status_code >= 400 and isinstance(
        fault_from_response(response.status_code, response.content), QboThrottled
    )

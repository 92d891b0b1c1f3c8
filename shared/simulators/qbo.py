"""A simulated QuickBooks Online company: Intuit OAuth 2.0 plus the v3 Accounting API (JSON).

Serves the demo, the integration tests and the benchmarks. It answers like the real service:
single-use authorization codes, rotating refresh tokens, 401 AuthenticationFailed faults,
429 ThrottleExceeded (XML) at the published limits, ``requestid`` replay, and Fault bodies
for the validation rules in ``simulators.qbo_company``; ``POST batch`` is
``simulators.qbo_batch``. ``inject`` makes the next matching
requests fail the way QBO sometimes does, including a write whose answer is lost.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode

from simulators import qbo_batch, qbo_changes, qbo_faults
from simulators.httpserver import LoopbackServer, Request, Response
from simulators.qbo_company import WRITABLE, Company
from simulators.qbo_faults import ApiFault, unsupported_operation
from simulators.qbo_wire import json_response, local_date, response_time

SCOPE_ACCOUNTING = "com.intuit.quickbooks.accounting"
ACCESS_TOKEN_TTL_S = 3600
REFRESH_TOKEN_TTL_S = 8_726_400  # rolling ~101 days
REFRESH_HARD_TTL_S = 5 * 365 * 86_400  # the 5-year maximum since late 2025
ROTATED_GRACE_S = 86_400  # a replaced refresh token keeps working for 24 h
AUTH_CODE_TTL_S = 300
INJECTABLE = {"401", "429", "500", "503", "5010", "6000", "lost"}
# Faults a batch item can meet on its own; the rest are the batch request's (its gateway's).
_ITEM_KINDS = frozenset({"500", "5010", "6000", "lost"})

_API_PATH = re.compile(r"^/v3/company/(?P<realm>[^/]+)/(?P<rest>.+)$")
_ENTITY_NAMES = {e.lower(): e for e in WRITABLE}


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: dict[str, str]
    status: int


@dataclass
class _Injection:
    kind: str
    remaining: int
    entity: str | None
    operation: str | None

    def matches(self, entity: str | None, operation: str) -> bool:
        return (self.entity is None or self.entity == (entity or "").lower()) and (
            self.operation is None or self.operation == operation
        )


@dataclass
class _Outage:
    start: float
    end: float
    clock: Callable[[], float]

    def covers(self) -> bool:
        return self.start <= self.clock() < self.end


@dataclass
class _Family:
    """One authorization (connection): its tokens share the hard expiry and revocation."""

    hard_expires_at: float
    revoked: bool = False


@dataclass
class _RefreshToken:
    family: int
    expires_at: float
    superseded_at: float | None = None


@dataclass
class _AccessToken:
    family: int
    expires_at: float


@dataclass
class _AuthCode:
    redirect_uri: str
    issued_at: float
    used: bool = False
    families: list[int] = field(default_factory=list)


class QboSimulator:
    """Handles requests for one realm; thread-safe (one lock around all state)."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        realm_id: str = "9341450000000001",
        country: str = "US",
        clock: Callable[[], float] = time.time,
        per_minute_limit: int = 500,
        per_second_limit: int = 10,
        max_concurrent: int = 10,
        batch_per_minute_limit: int = 40,
        max_batch_items: int = 30,
        latency_s: float = 0.0,
        token_delay_s: float = 0.0,
        allow_shipping: bool = False,
        custom_txn_numbers: bool = True,
        home_currency: str | None = None,
        multicurrency: bool = False,
        class_tracking_per_txn: bool = False,
        class_tracking_per_line: bool = False,
        track_departments: bool = False,
        department_terminology: str = "Location",
    ) -> None:
        """The company's settings are ``Company``'s (see its docstring); the rest are limits."""
        self.client_id = client_id
        self._client_secret = client_secret
        self.realm_id = realm_id
        self._clock = clock
        self._per_minute = per_minute_limit
        self._per_second = per_second_limit
        self._max_concurrent = max_concurrent
        self._latency_s = latency_s
        # How long the token endpoint takes to answer (Intuit's can take tens of seconds).
        self.token_delay_s = token_delay_s
        self._lock = threading.RLock()
        self.company = Company(
            realm_id=realm_id,
            country=country,
            clock=clock,
            allow_shipping=allow_shipping,
            custom_txn_numbers=custom_txn_numbers,
            home_currency=home_currency,
            multicurrency=multicurrency,
            class_tracking_per_txn=class_tracking_per_txn,
            class_tracking_per_line=class_tracking_per_line,
            track_departments=track_departments,
            department_terminology=department_terminology,
        )
        self._families: list[_Family] = []
        self._refresh: dict[str, _RefreshToken] = {}
        self._access: dict[str, _AccessToken] = {}
        self._codes: dict[str, _AuthCode] = {}
        self._serial = 0
        self._recent: deque[float] = deque()
        self._in_flight = 0
        # What the limits saw: most API requests in flight at once (refused ones included, as
        # QBO counts them), most taken within a minute by the simulator's clock, 429s answered.
        self.peak_in_flight = 0
        self.busiest_minute = 0
        self.throttled = 0
        self._injections: list[_Injection] = []
        # Faults drawn at random per API request (kind -> share), and outages by a clock.
        self._shares: dict[str, float] = {}
        self._draw = random.Random(0)
        self._outages: list[_Outage] = []
        self.outage_requests = 0  # API requests answered 503 because of an outage
        self._replies: dict[str, dict[str, Any]] = {}  # requestid -> the answer's payload
        self._recent_batches: deque[float] = deque()
        self.batch_per_minute = batch_per_minute_limit
        self.max_batch_items = max_batch_items
        self.request_log: list[LoggedRequest] = []
        self.writes = 0
        self.reads = 0

    # -- public helpers for tests and the demo -------------------------------------------

    def serve(self) -> LoopbackServer:
        """A LoopbackServer for this simulator, not yet started (use ``with`` or ``.start()``)."""
        return LoopbackServer(self.handle)

    def issue_tokens(self) -> dict[str, Any]:
        """Tokens for a freshly connected company, as the token endpoint would return them."""
        with self._lock:
            family = self._new_family()
            return self._token_payload(family, include_hard=True)

    def expire_access_tokens(self) -> None:
        with self._lock:
            now = self._clock()
            for token in self._access.values():
                token.expires_at = min(token.expires_at, now - 1)

    def revoke_connection(self) -> None:
        """The merchant disconnected the app in QuickBooks: every token stops working."""
        with self._lock:
            for family in self._families:
                family.revoked = True

    def inject(
        self,
        code_or_status: int | str,
        times: int = 1,
        entity: str | None = None,
        operation: str | None = None,
    ) -> None:
        """Fail the next ``times`` matching API requests with a real fault.

        ``code_or_status``: 401, 429 (or 3001), 500, 503, 5010, 6000, or "lost" (the write is
        applied, the answer is a 504). ``operation``: create, update, void, delete, read, query.
        """
        kind = "429" if str(code_or_status) == "3001" else str(code_or_status)
        if kind not in INJECTABLE:
            raise ValueError(f"cannot inject {code_or_status!r}; choose from {sorted(INJECTABLE)}")
        with self._lock:
            self._injections.append(
                _Injection(kind, times, entity.lower() if entity else None, operation)
            )

    def inject_share(self, shares: dict[int | str, float], *, seed: int = 0) -> None:
        """Fail a share of every API request from now on, drawn per request (seeded):
        ``{500: 0.3, 429: 0.1, "lost": 0.1}``. Kinds as ``inject``'s; shares add up to <= 1."""
        kinds = {("429" if str(k) == "3001" else str(k)): share for k, share in shares.items()}
        unknown = set(kinds) - INJECTABLE
        if unknown or sum(kinds.values()) > 1 or min(kinds.values(), default=0) < 0:
            raise ValueError(f"bad shares {shares!r}; kinds from {sorted(INJECTABLE)}")
        with self._lock:
            self._shares = kinds
            self._draw = random.Random(seed)

    def outage(self, duration_s: float, *, clock: Callable[[], float] | None = None) -> None:
        """QuickBooks is down from now for ``duration_s`` seconds of ``clock`` (the
        simulator's own by default; a scaled one plays hours in seconds): every API request
        is answered 503 by the gateway, before any token check, and changes nothing."""
        timer = clock or self._clock
        with self._lock:
            start = timer()
            self._outages.append(_Outage(start, start + duration_s, timer))

    def in_outage(self) -> bool:
        with self._lock:
            return any(o.covers() for o in self._outages)

    def clear_faults(self) -> None:
        """No more injected, random or outage faults."""
        with self._lock:
            self._injections.clear()
            self._shares = {}
            self._outages.clear()

    def documents(self, entity: str, *, note: str | None = None) -> list[dict[str, Any]]:
        """Copies of the company's ``entity`` records; with ``note``, only those whose
        PrivateNote contains it (a test reading one order's documents of a thousand copies
        those alone, not all of them per order)."""
        with self._lock:
            found: Iterable[dict[str, Any]] = self.company.docs[entity].values()
            if note is not None:
                found = [d for d in found if note in str(d.get("PrivateNote", ""))]
            return [copy.deepcopy(d) for d in found]

    def seed(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create a record as if a bookkeeper had typed it into QuickBooks."""
        with self._lock:
            return self.company.create(entity, body)

    def set_active(self, entity: str, entity_id: str, active: bool) -> dict[str, Any]:
        with self._lock:
            return self.company.set_active(entity, entity_id, active)

    def edit(self, entity: str, entity_id: str, **fields: Any) -> dict[str, Any]:
        """A person changing a record in QuickBooks' screens (a sparse update of ``fields``):
        SyncToken and LastUpdatedTime move on, CDC and the webhooks hear of it."""
        with self._lock:
            current = self.company.read(entity, entity_id)
            body = {"Id": entity_id, "SyncToken": current["SyncToken"], "sparse": True, **fields}
            return self.company.update(entity, body)

    def void_as_person(self, entity: str, entity_id: str) -> dict[str, Any]:
        """A person voiding a transaction in QuickBooks."""
        with self._lock:
            current = self.company.read(entity, entity_id)
            return self.company.void(entity, {"Id": entity_id, "SyncToken": current["SyncToken"]})

    def delete_as_person(self, entity: str, entity_id: str) -> dict[str, Any]:
        with self._lock:
            current = self.company.read(entity, entity_id)
            return self.company.delete(entity, {"Id": entity_id, "SyncToken": current["SyncToken"]})

    def changes(self) -> list[qbo_changes.Change]:
        """Every change since seeding, in order."""
        with self._lock:
            return list(self.company.changes.entries)

    def send_webhooks(
        self,
        url: str,
        verifier_token: str,
        *,
        style: Literal["legacy", "cloudevents"] = "legacy",
        entities: tuple[str, ...] = ("Item", "Customer", "Invoice"),
        retry_scale: float = 0.001,
        batch_window_s: float = 0.05,
    ) -> qbo_changes.WebhookSender:
        """Send signed webhooks to ``url`` for every change from now on (as the Intuit app's
        webhook settings do); the sender's ``flush()`` waits for their acknowledgement."""
        sender = qbo_changes.WebhookSender(
            realm_id=self.realm_id,
            url=url,
            verifier_token=verifier_token,
            style=style,
            entities=entities,
            retry_scale=retry_scale,
            batch_window_s=batch_window_s,
        )
        with self._lock:
            self.company.changes.listeners.append(sender.hear)
        return sender

    def stop_webhooks(self, sender: qbo_changes.WebhookSender) -> None:
        with self._lock:
            self.company.changes.listeners.remove(sender.hear)
        sender.stop()

    def turn_on_multicurrency(self) -> None:
        """What the merchant does in Settings → Advanced → Currency (QuickBooks never turns it
        off again): foreign customers, accounts and transactions are allowed from now on."""
        with self._lock:
            self.company.currencies.multicurrency = True
            self.company.preferences["CurrencyPrefs"]["MultiCurrencyEnabled"] = True

    def set_exchange_rate(self, currency: str, rate: Decimal | str, as_of: date | str) -> None:
        """The company's rate for ``currency`` (home units per unit) from ``as_of`` on."""
        day = as_of if isinstance(as_of, date) else date.fromisoformat(as_of)
        with self._lock:
            self.company.currencies.set_rate(currency, Decimal(rate), day)

    def customer_balance(self, customer_id: str) -> Decimal:
        """Open invoices less unused credit memos and unapplied payments, as QBO shows it."""
        with self._lock:
            return self.company.customer_balance(customer_id)

    def account_balance(self, account_id: str) -> Decimal:
        """Money received into the account less money paid out of it, in its currency."""
        with self._lock:
            return sum((amount for *_, amount in self.company.deposits(account_id)), Decimal(0))

    def deposits(self, account_id: str) -> list[tuple[str, str, Decimal]]:
        """(entity, Id, signed amount in the account's currency) of each transaction through
        the account: sales receipts and payments in, refund receipts out (voided ones left out)."""
        with self._lock:
            return self.company.deposits(account_id)

    # -- dispatch ------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.method == "GET" and request.path == "/connect/oauth2":
            response = self._authorize(request)
        elif request.method == "POST" and request.path == "/oauth2/v1/tokens/bearer":
            response = self._token(request)
        elif request.method == "POST" and request.path == "/oauth2/v1/tokens/revoke":
            response = self._revoke(request)
        elif _API_PATH.match(request.path):
            response = self._api(request)
        else:
            response = Response.of_text("Not Found", 404)
        with self._lock:
            self.request_log.append(
                LoggedRequest(
                    request.method,
                    request.path,
                    {k: v[0] for k, v in request.query.items() if v},
                    response.status,
                )
            )
        return response

    # -- OAuth ---------------------------------------------------------------------------

    def _next_serial(self) -> int:
        self._serial += 1
        return self._serial

    def _opaque(self, prefix: str) -> str:
        serial = self._next_serial()
        digest = hashlib.sha256(f"{self._client_secret}:{prefix}:{serial}".encode()).hexdigest()
        return f"{prefix}{serial:06d}{digest[:30]}"

    def _new_family(self) -> int:
        self._families.append(_Family(self._clock() + REFRESH_HARD_TTL_S))
        return len(self._families) - 1

    def _token_payload(self, family: int, *, include_hard: bool) -> dict[str, Any]:
        now = self._clock()
        access = self._opaque("eyJsim.")
        refresh = self._opaque("AB11")
        self._access[access] = _AccessToken(family, now + ACCESS_TOKEN_TTL_S)
        self._refresh[refresh] = _RefreshToken(family, now + REFRESH_TOKEN_TTL_S)
        payload: dict[str, Any] = {
            "token_type": "bearer",
            "expires_in": ACCESS_TOKEN_TTL_S,
            "refresh_token": refresh,
            "x_refresh_token_expires_in": REFRESH_TOKEN_TTL_S,
            "access_token": access,
        }
        if include_hard:
            remaining = int(self._families[family].hard_expires_at - now)
            payload["x_refresh_token_hard_expires_in"] = remaining
        return payload

    def _authorize(self, request: Request) -> Response:
        redirect_uri = request.arg("redirect_uri")
        if request.arg("client_id") != self.client_id or not redirect_uri:
            return Response.of_text("invalid_client: unknown client_id or redirect_uri", 400)
        if request.arg("response_type") != "code":
            return Response.of_text("unsupported_response_type", 400)
        if SCOPE_ACCOUNTING not in (request.arg("scope") or "").split():
            return Response.of_text("invalid_scope", 400)
        with self._lock:
            code = self._opaque("AB11code")
            self._codes[code] = _AuthCode(redirect_uri, self._clock())
        query = {"code": code, "state": request.arg("state") or "", "realmId": self.realm_id}
        separator = "&" if "?" in redirect_uri else "?"
        return Response(302, b"", {"Location": f"{redirect_uri}{separator}{urlencode(query)}"})

    def _client_ok(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return False
        client_id, _, secret = decoded.partition(":")
        return client_id == self.client_id and secret == self._client_secret

    def _token(self, request: Request) -> Response:
        if not self._client_ok(request):
            return Response.of_json({"error": "invalid_client"}, 401)
        if self.token_delay_s:
            # Outside the lock, so concurrent token calls overlap as they would at Intuit.
            time.sleep(self.token_delay_s)
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items()}
        include_hard = (
            request.headers.get("x-include-refresh-token-hard-expires-in", "").lower() == "true"
        )
        grant = form.get("grant_type")
        with self._lock:
            if grant == "authorization_code":
                family = self._redeem_code(form.get("code", ""), form.get("redirect_uri", ""))
            elif grant == "refresh_token":
                family = self._redeem_refresh(form.get("refresh_token", ""))
            else:
                return Response.of_json({"error": "unsupported_grant_type"}, 400)
            if family is None:
                return Response.of_json({"error": "invalid_grant"}, 400)
            payload = self._token_payload(family, include_hard=include_hard)
        return Response.of_json(payload, 200, **{"Cache-Control": "no-store"})

    def _redeem_code(self, code: str, redirect_uri: str) -> int | None:
        record = self._codes.get(code)
        if record is None or self._clock() > record.issued_at + AUTH_CODE_TTL_S:
            return None
        if record.used:
            # Reusing a code is treated as theft: what it issued stops working.
            for family in record.families:
                self._families[family].revoked = True
            return None
        if redirect_uri != record.redirect_uri:
            return None
        record.used = True
        family = self._new_family()
        record.families.append(family)
        return family

    def _redeem_refresh(self, token: str) -> int | None:
        record = self._refresh.get(token)
        now = self._clock()
        if record is None or now > record.expires_at:
            return None
        family = self._families[record.family]
        if family.revoked or now > family.hard_expires_at:
            return None
        if record.superseded_at is not None and now > record.superseded_at + ROTATED_GRACE_S:
            return None
        if record.superseded_at is None:
            record.superseded_at = now
        return record.family

    def _revoke(self, request: Request) -> Response:
        if not self._client_ok(request):
            return Response.of_json({"error": "invalid_client"}, 401)
        try:
            token = str(request.json().get("token", ""))
        except (ValueError, AttributeError):
            token = ""
        with self._lock:
            record = self._refresh.get(token) or self._access.get(token)
            if record is not None:
                self._families[record.family].revoked = True
        return Response(200, b"", {})

    # -- Accounting API ------------------------------------------------------------------

    def _now_text(self) -> str:
        return response_time(self._clock())

    # What simulators.qbo_batch runs a batch's items with.
    now_text = _now_text
    sleep = staticmethod(time.sleep)

    @property
    def latency_s(self) -> float:
        return self._latency_s

    @staticmethod
    def writable(entity: str) -> bool:
        return entity in WRITABLE

    def parse_body(self, request: Request) -> dict[str, Any]:
        return self._body(request)

    def _api(self, request: Request) -> Response:
        match = _API_PATH.match(request.path)
        assert match is not None
        rest = match.group("rest")
        batch = rest == "batch" and request.method == "POST"
        entity, operation = (
            (None, "batch") if batch else self._classify(request.method, rest, request)
        )
        with self._lock:
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        try:
            if batch:
                return qbo_batch.run(self, request, match.group("realm"))
            return self._api_guarded(request, match.group("realm"), rest, entity, operation)
        finally:
            with self._lock:
                self._in_flight -= 1

    @staticmethod
    def _classify(method: str, rest: str, request: Request) -> tuple[str | None, str]:
        parts = rest.split("/")
        if parts[0] == "query":
            return None, "query"
        if method == "GET":
            return parts[0], "read"
        op = request.arg("operation")
        if op == "update" and request.arg("include") == "void":
            return parts[0], "void"
        if op in ("void", "delete"):
            return parts[0], op
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            body = None  # _body() reports it
        has_id = isinstance(body, dict) and "Id" in body
        return parts[0], "update" if has_id else "create"

    def _api_guarded(
        self, request: Request, realm: str, rest: str, entity: str | None, operation: str
    ) -> Response:
        refused, injected = self.admit(request, realm, entity, operation)
        if refused is not None:
            return refused
        if self._latency_s:
            time.sleep(self._latency_s)  # outside the lock, so concurrent calls overlap
        request_id = request.arg("requestid")
        is_write = operation in ("create", "update", "void", "delete")
        replay_key = f"{realm}:{request_id}" if request_id and is_write else None
        try:
            payload = self.perform_one(request, rest, entity, operation, injected, replay_key)
        except ApiFault as fault:
            return fault.json_response(self._now_text())
        if injected == "lost":
            return qbo_faults.gateway_timeout()
        return json_response(payload)

    def admit(
        self,
        request: Request,
        realm: str,
        entity: str | None,
        operation: str,
        *,
        kinds: frozenset[str] | None = None,
        carries: frozenset[tuple[str, str]] = frozenset(),
    ) -> tuple[Response | None, str | None]:
        """The gateway's part of a request: outages, injected 401/429/503, the bearer token
        and the limits. Returns the refusal (or None) and the fault still to come, if any;
        ``kinds`` limits which injected faults this request can take (a batch's own);
        ``carries``: a batch's items as (entity, operation), which a gateway fault injected
        for one of them meets (the batch is the request that carries it)."""
        with self._lock:
            if any(o.covers() for o in self._outages):
                self.outage_requests += 1
                return qbo_faults.service_unavailable(), None
            taken = self._take_injection(entity, operation, kinds=kinds, carries=carries)
            injected = taken.kind if taken is not None else self._drawn()
            if kinds is not None and injected not in kinds:
                injected = None
            if injected == "401":
                return qbo_faults.authentication_failed(
                    "Token expired: access token no longer valid", int(self._clock() * 1000)
                ), None
            refused = self._check_bearer(request, realm)
            if refused is None and (injected == "429" or self._over_limits(operation)):
                refused = qbo_faults.throttled().xml_response(self._now_text())
                self.throttled += 1
            if refused is not None:
                if taken is not None and injected != "429":
                    taken.remaining += 1  # refused at the door: the fault is still to come
                return refused, None
            self._recent.append(self._clock())
            self.busiest_minute = max(self.busiest_minute, len(self._recent))
            if operation == "batch":
                self._recent_batches.append(self._clock())
            if injected == "503":
                return qbo_faults.service_unavailable(), None
            return None, injected

    def perform_one(
        self,
        request: Request,
        rest: str,
        entity: str | None,
        operation: str,
        injected: str | None,
        replay_key: str | None,
    ) -> dict[str, Any]:
        """One admitted operation: its injected fault, ``requestid`` replay, then the company's
        rules. Raises ApiFault; a batch item runs through here as a single request does."""
        is_write = operation in ("create", "update", "void", "delete")
        with self._lock:
            if injected == "500":
                raise qbo_faults.server_error()
            if injected == "5010":
                raise qbo_faults.stale_object()
            if injected == "6000":
                raise qbo_faults.business_validation_retryable()
            if replay_key and replay_key in self._replies:
                return copy.deepcopy(self._replies[replay_key])
            payload = {**self._perform(request, rest, entity, operation), "time": self._now_text()}
            if is_write:
                self.writes += 1
                if replay_key:
                    self._replies[replay_key] = copy.deepcopy(payload)
            else:
                self.reads += 1
            return payload

    def take_item_injection(self, entity: str | None, operation: str) -> str | None:
        """The injected or drawn fault for one item of a batch (the door took its own)."""
        with self._lock:
            taken = self._take_injection(entity, operation, kinds=_ITEM_KINDS)
            if taken is not None:
                return taken.kind
            drawn = self._drawn()
            return drawn if drawn in _ITEM_KINDS else None

    def _drawn(self) -> str | None:
        """A random fault for this request, per the shares given to ``inject_share``."""
        if not self._shares:
            return None
        roll = self._draw.random()
        for kind, share in self._shares.items():
            if roll < share:
                return kind
            roll -= share
        return None

    def _take_injection(
        self,
        entity: str | None,
        operation: str,
        *,
        kinds: frozenset[str] | None = None,
        carries: frozenset[tuple[str, str]] = frozenset(),
    ) -> _Injection | None:
        """The first injection this request meets. A gateway fault (401, 429, 503) injected
        for an entity and operation also meets a batch request carrying such an item, so the
        fault is met by the same operation whether it goes alone or batched (how many
        requests are made must not decide whether it happens)."""
        for injection in self._injections:
            if injection.remaining <= 0:
                continue
            if kinds is not None and injection.kind not in kinds:
                continue
            if not injection.matches(entity, operation) and (
                injection.kind in _ITEM_KINDS
                or not any(injection.matches(e, o) for e, o in carries)
            ):
                continue
            injection.remaining -= 1
            return injection
        return None

    def _check_bearer(self, request: Request, realm: str) -> Response | None:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        record = self._access.get(token)
        epoch_ms = int(self._clock() * 1000)
        if record is None:
            return qbo_faults.authentication_failed("Token invalid", epoch_ms)
        if self._families[record.family].revoked:
            return qbo_faults.authentication_failed("Token revoked", epoch_ms)
        if self._clock() >= record.expires_at:
            return qbo_faults.authentication_failed("Token expired", epoch_ms)
        if realm != self.realm_id:
            return qbo_faults.authorization_failed().json_response(self._now_text())
        return None

    def _over_limits(self, operation: str) -> bool:
        now = self._clock()
        while self._recent and self._recent[0] <= now - 60:
            self._recent.popleft()
        while self._recent_batches and self._recent_batches[0] <= now - 60:
            self._recent_batches.popleft()
        last_second = sum(1 for t in self._recent if t > now - 1)
        return (
            self._in_flight > self._max_concurrent
            or last_second >= self._per_second
            or len(self._recent) >= self._per_minute
            # A batch request counts as one request, and against its own 40 a minute.
            or (operation == "batch" and len(self._recent_batches) >= self.batch_per_minute)
        )

    def _perform(
        self, request: Request, rest: str, entity_path: str | None, operation: str
    ) -> dict[str, Any]:
        company = self.company
        if operation == "query":
            statement = request.arg("query")
            if statement is None and request.method == "POST":
                statement = request.body.decode("utf-8", "replace")
            return company.query(statement or "")
        parts = rest.split("/")
        if request.method == "GET" and parts == ["cdc"]:
            return qbo_changes.cdc(
                company.changes,
                company.docs,
                entities=request.arg("entities"),
                changed_since=request.arg("changedSince"),
                now=self._clock(),
            )
        if request.method == "GET" and parts == ["preferences"]:
            return {"Preferences": copy.deepcopy(company.preferences)}
        if request.method == "GET" and parts == ["exchangerate"]:
            return company.currencies.resource(
                request.arg("sourcecurrencycode"),
                request.arg("asofdate"),
                date.fromisoformat(local_date(self._clock())),
            )
        entity = _ENTITY_NAMES.get((entity_path or "").lower())
        if entity is None or len(parts) > 2 or (request.method == "POST" and len(parts) != 1):
            raise unsupported_operation(
                f"Operation Could not find resource for relative : {request.path} is not supported."
            )
        if request.method == "GET":
            if len(parts) != 2:
                raise unsupported_operation(f"Operation GET {request.path} is not supported.")
            return {entity: company.read(entity, parts[1])}
        body = self._body(request)
        if operation == "create":
            return {entity: company.create(entity, body)}
        if operation == "update":
            return {entity: company.update(entity, body)}
        if operation == "void":
            return {entity: company.void(entity, body)}
        return {entity: company.delete(entity, body)}

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise unsupported_operation(
                "Unsupported Operation: the request is not valid UTF-8"
            ) from None
        try:
            body = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise ApiFault.validation(
                400,
                "2010",
                "Request has invalid or unsupported property",
                f"Property Name:{exc.msg} specified is unsupported or invalid",
            ) from None
        if not isinstance(body, dict):
            raise ApiFault.validation(
                400, "2010", "Request has invalid or unsupported property", "Expected an object"
            )
        return body

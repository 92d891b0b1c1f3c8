"""Reads orders, refunds and customers from a BigCommerce store's REST API (V2 and V3).

Every request carries ``X-Auth-Token`` (a store-level API account's access token, which
never expires and is never refreshed). The store's quota is shared by every app on it, so
the client honours its rate-limit headers. In a deployed function the store's limiter
(connector.stores.limiter, shared through the state table by every function calling the
store) books each request and hears each answer's headers: requests are spaced to the quota,
and none left or a 429 pauses every caller until the reset. Without a limiter (a CLI, a unit
test) the client paces itself alone: when ``X-Rate-Limit-Requests-Left`` reaches zero it waits
``X-Rate-Limit-Time-Reset-Ms`` before the next request, and a 429 is waited out the same way.
A 429 without those headers is platform load: backoff. A 401 or 403 means the API account was
revoked or lacks the scope the request needs; the error names the scope.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from connector.stores.bigcommerce.payloads import BcError, Moment
from connector.stores.limiter import PublishedLimits
from connector.stores.port import (
    StoreRecordNotFound,
    StoreRequestRejected,
    StoreUnavailable,
)
from connector.stores.responses import StoreAnswers

V2_PAGE = 250  # V2 lists cap limit at 250
V3_PAGE = 250
MAX_WAIT_S = 30.0
# A 429 storm is waited out over this many answers before the record is given back to SQS.
MAX_THROTTLED = 10

# What each family of requests needs from the API account (Settings > API > Store-level API accounts).
SCOPE_ORDERS = "Orders (read-only)"
SCOPE_TRANSACTIONS = "Order Transactions (read-only)"
SCOPE_CUSTOMERS = "Customers (read-only)"
ORDER_PARTS = ("products", "shipping_addresses", "coupons", "taxes", "fees")


class StoreLimit(Protocol):
    """The store's shared limiter: ``acquire`` before a request (it may sleep, returning how
    long, or raise NoCapacityYet); ``answered`` with what each answer said of the quota."""

    def acquire(self) -> float: ...

    def answered(self, said: PublishedLimits) -> None: ...


class BcCredentials(BaseModel):
    access_token: SecretStr


class _Created(BaseModel):
    date_created: Moment = None


def created_at(raw: dict[str, Any]) -> datetime:
    """When a V2 order was created, as aware UTC."""
    moment = _Created.model_validate({"date_created": raw.get("date_created")}).date_created
    if moment is None:
        raise ValueError(f"BigCommerce order {raw.get('id')} has no date_created")
    return moment


class BigCommerceClient:
    """A BigCommerce reader with rate-limit pacing, bounded retries and classified failures."""

    def __init__(
        self,
        *,
        api_base: str,
        store_hash: str,
        credentials: BcCredentials,
        http: httpx.Client | None = None,
        timeout_s: float = 20.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        connection_id: str = "",
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        limiter: StoreLimit | None = None,
    ) -> None:
        self._root = f"{api_base.rstrip('/')}/stores/{store_hash}"
        self._credentials = credentials
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client(timeout=timeout_s)
        self._timeout_s = timeout_s
        self._max_retries = max(0, max_retries)
        self._backoff_s = backoff_s
        self._label = connection_id or store_hash
        self._answers = StoreAnswers(
            store="BigCommerce",
            site=self._root,
            connection=self._label,
            credential="the access token",
            explain=_bc_words,
            not_json="check the connection's api_base and store_hash",
        )
        self._sleep = sleep
        self._clock = clock
        self._not_before = 0.0
        self._limiter = limiter
        self.calls = 0
        self.waited_s = 0.0

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> BigCommerceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- records --------------------------------------------------------------------------

    def get_order(self, order_id: str) -> dict[str, Any]:
        """``/v2/orders/{id}`` with its sub-resources in place of their links, and its V3
        refunds under ``refunds`` when BigCommerce says money was refunded."""
        oid = _segment(order_id)
        what = f"order {oid}"
        body = self._get(f"/v2/orders/{oid}", [], what, SCOPE_ORDERS)
        if not isinstance(body, dict):
            raise StoreRecordNotFound(f"BigCommerce has no {what} on connection {self._label}")
        order = dict(body)
        for part in ORDER_PARTS:
            params = [("details", "true")] if part == "taxes" else []
            order[part] = list(
                self._v2_pages(f"/v2/orders/{oid}/{part}", params, f"{part} of {what}")
            )
        refunded = str(order.get("refunded_amount") or "0").strip()
        order["refunds"] = self.list_refunds(oid) if refunded not in ("", "0", "0.0000") else []
        return order

    def list_refunds(self, order_id: str) -> list[dict[str, Any]]:
        oid = _segment(order_id)
        return list(
            self._v3_pages(
                f"/v3/orders/{oid}/payment_actions/refunds",
                [],
                f"refunds of order {oid}",
                SCOPE_TRANSACTIONS,
            )
        )

    def get_customer(self, customer_id: str) -> dict[str, Any]:
        cid = _segment(customer_id)
        found = list(
            self._v3_pages(
                "/v3/customers",
                [("id:in", cid), ("include", "addresses")],
                f"customer {cid}",
                SCOPE_CUSTOMERS,
            )
        )
        if not found:
            raise StoreRecordNotFound(
                f"BigCommerce has no customer {cid} on connection {self._label}"
            )
        return found[0]

    def list_modified(
        self, entity: Literal["order", "customer"], modified_after: datetime
    ) -> Iterator[dict[str, Any]]:
        """Records changed at or after ``modified_after`` (the caller drops the boundary)."""
        moment = modified_after.astimezone(UTC).replace(microsecond=0).isoformat()
        if entity == "order":
            params = [("min_date_modified", moment), ("sort", "date_modified:asc")]
            yield from self._v2_pages("/v2/orders", params, "changed orders")
        elif entity == "customer":
            params = [("date_modified:min", moment), ("sort", "date_modified:asc")]
            yield from self._v3_pages("/v3/customers", params, "customers", SCOPE_CUSTOMERS)
        else:
            raise ValueError(f"unknown entity {entity!r}")

    def list_created(self, since: datetime, until: datetime) -> Iterator[dict[str, Any]]:
        """Orders created at or after ``since`` and before ``until``, oldest first.

        V2's date bounds are inclusive and to the second: the last second is kept out here.
        Archived (deleted) orders are not listed by V2 unless asked, so none are backfilled.
        """
        start, end = since.astimezone(UTC), until.astimezone(UTC)
        params = [
            ("min_date_created", start.replace(microsecond=0).isoformat()),
            ("max_date_created", end.replace(microsecond=0).isoformat()),
            ("sort", "date_created:asc"),
        ]
        for raw in self._v2_pages("/v2/orders", params, "orders created in the backfill's window"):
            if start <= created_at(raw) < end:
                yield raw

    # -- reading and writing for the write adapter (connector.stores.bigcommerce.writes) --

    def get_json(self, path: str, params: list[tuple[str, str]], what: str, scope: str) -> Any:
        """One GET under the store's root (``/v2/...``, ``/v3/...``); None for 204."""
        return self._get(path, params, what, scope)

    def v3_pages(
        self, path: str, params: list[tuple[str, str]], what: str, scope: str
    ) -> Iterator[dict[str, Any]]:
        return self._v3_pages(path, params, what, scope)

    def v2_pages(
        self, path: str, params: list[tuple[str, str]], what: str
    ) -> Iterator[dict[str, Any]]:
        return self._v2_pages(path, params, what)

    def write(
        self, method: Literal["POST", "PUT", "DELETE"], path: str, body: Any, what: str
    ) -> httpx.Response:
        """One JSON write, paced by the same quota; the caller reads the answer. 429s are
        waited out (BigCommerce did nothing); a PUT or DELETE is tried again after a 5xx or a
        lost connection, a POST is not (it could make the record twice)."""
        return self._request(method, path, [], what, body=body, retry=method != "POST")

    # -- paging ---------------------------------------------------------------------------

    def _v2_pages(
        self, path: str, params: list[tuple[str, str]], what: str
    ) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            paged = [*params, ("limit", str(V2_PAGE)), ("page", str(page))]
            body = self._get(path, paged, what, SCOPE_ORDERS)
            if body is None:  # V2 answers an empty list with 204 No Content
                return
            body = self._answers.items(body, what)
            yield from (item for item in body if isinstance(item, dict))
            if len(body) < V2_PAGE:
                return
            page += 1

    def _v3_pages(
        self, path: str, params: list[tuple[str, str]], what: str, scope: str
    ) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            paged = [*params, ("limit", str(V3_PAGE)), ("page", str(page))]
            body = self._get(path, paged, what, scope)
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                raise StoreRequestRejected(
                    f"BigCommerce answered {what} on connection {self._label} without a data list"
                )
            yield from (item for item in data if isinstance(item, dict))
            pagination = (body.get("meta") or {}).get("pagination") or {}
            if not data or page >= int(pagination.get("total_pages") or 1):
                return
            page += 1

    # -- transport ------------------------------------------------------------------------

    def _get(self, path: str, params: list[tuple[str, str]], what: str, scope: str) -> Any:
        response = self._request("GET", path, params, what)
        return self._answers.read(
            response,
            what,
            auth_advice=(
                f"The API account was revoked or lacks a scope: this needs {scope}. Create a "
                "store-level API account with that scope under Settings > API > Store-level "
                "API accounts and put its access token into the connection's store secret"
            ),
        )

    def _request(
        self,
        method: Literal["GET", "POST", "PUT", "DELETE"],
        path: str,
        params: list[tuple[str, str]],
        what: str,
        *,
        body: Any = None,
        retry: bool = True,
    ) -> httpx.Response:
        url = self._root + path
        max_failures = self._max_retries if retry else 0
        failures = throttled = 0
        last_problem = "no attempt made"
        wait_s: float | None = None
        while failures <= max_failures and throttled <= MAX_THROTTLED:
            self._pace()
            try:
                response = self._send(url, params, method, body)
            except httpx.TimeoutException:
                last_problem = f"no answer within {self._timeout_s:g} s"
                failures += 1
                if retry:  # a POST is not sent again: nothing to wait for
                    self._wait(self._backoff(failures))
                continue
            except httpx.TransportError as exc:
                last_problem = f"could not connect ({type(exc).__name__})"
                failures += 1
                if retry:  # a POST is not sent again: nothing to wait for
                    self._wait(self._backoff(failures))
                continue
            self._note_quota(response)
            status = response.status_code
            if status == 429:
                throttled += 1
                wait_s = _reset_s(response)
                last_problem = "HTTP 429 (rate limited)"
                if wait_s is not None and self._limiter is not None:
                    continue  # the limiter paused every caller until the reset: _pace waits
                # Without the rate-limit headers a 429 is platform load: back off instead.
                self._wait(wait_s if wait_s is not None else self._backoff(throttled))
                self._not_before = 0.0  # the wait just made was the reset
                continue
            if status >= 500:
                failures += 1
                last_problem = f"HTTP {status}{self._answers.said(response)}"
                if retry:
                    self._wait(self._backoff(failures))
                continue
            return response
        raise StoreUnavailable(
            f"BigCommerce store for connection {self._label} is unavailable fetching {what}: "
            f"{last_problem} after {failures + throttled} attempts",
            retry_after_s=int(wait_s) + 1 if wait_s is not None else None,
        )

    def _backoff(self, attempt: int) -> float:
        return float(self._backoff_s * (2 ** max(0, attempt - 1)))

    def _wait(self, seconds: float) -> None:
        seconds = min(max(0.0, seconds), MAX_WAIT_S)
        if seconds:
            self.waited_s += seconds
            self._sleep(seconds)

    def _pace(self) -> None:
        """A booking from the store's limiter; without one, hold the next request until the
        quota resets when the last answer said it ran out."""
        if self._limiter is not None:
            self.waited_s += self._limiter.acquire()
            return
        ahead = self._not_before - self._clock()
        if ahead > 0:
            self._wait(ahead)

    def _note_quota(self, response: httpx.Response) -> None:
        left = _int_header(response, "x-rate-limit-requests-left")
        reset = _reset_s(response)
        if self._limiter is not None:
            self._limiter.answered(
                PublishedLimits(
                    quota=_int_header(response, "x-rate-limit-requests-quota"),
                    window_ms=_int_header(response, "x-rate-limit-time-window-ms"),
                    left=left,
                    reset_ms=_int_header(response, "x-rate-limit-time-reset-ms"),
                    refused=response.status_code == 429 and reset is not None,
                )
            )
            return
        if left is not None and left <= 0 and reset is not None:
            self._not_before = self._clock() + reset

    def _send(
        self, url: str, params: list[tuple[str, str]], method: str = "GET", body: Any = None
    ) -> httpx.Response:
        self.calls += 1
        headers = {
            "X-Auth-Token": self._credentials.access_token.get_secret_value(),
            "Accept": "application/json",
        }
        if method == "GET":
            return self._http.get(
                url, params=tuple(params), headers=headers, timeout=self._timeout_s
            )
        return self._http.request(method, url, json=body, headers=headers, timeout=self._timeout_s)


def _segment(record_id: str) -> str:
    text = str(record_id).strip()
    if not text.isdigit():
        raise StoreRecordNotFound(f"{text!r} is not a BigCommerce record id")
    return text


def _int_header(response: httpx.Response, name: str) -> int | None:
    value = response.headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _reset_s(response: httpx.Response) -> float | None:
    millis = _int_header(response, "x-rate-limit-time-reset-ms")
    return max(0, millis) / 1000 if millis is not None else None


def _bc_words(response: httpx.Response) -> str:
    """BigCommerce's own explanation (V3 ``title``, V2 ``[{status, message}]``)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, list) and body:
        body = body[0]
    try:
        error = BcError.model_validate(body)
    except ValidationError:
        return ""
    return error.title or error.message

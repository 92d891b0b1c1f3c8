"""Reads orders, credit memos, invoices and customers from Magento 2's REST API (V1).

Every request is signed with the integration's OAuth 1.0a credentials (connector.stores.
magento.oauth). Failures are classified as the store port says: 5xx, 429 and network
trouble retry with backoff then raise StoreUnavailable; 401 raises StoreAuthFailed with
Magento's own message (an invalid signature, a revoked integration, a missing API
resource); 404 is StoreRecordMissing (recorded, never a deletion); other refusals StoreRequestRejected.

Polling (``list_changed``) pages by keyset, not by ``currentPage``: records are sorted by
``updated_at`` then ``entity_id`` and each request asks for what comes after the last one
seen, so a record edited while we page (it moves to the end) shifts nothing under us.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import httpx
from pydantic import ValidationError

from connector.stores.lookups import StoreLookups
from connector.stores.magento.lookups import order_facts
from connector.stores.magento.normalise import FACTS_KEY, modified_at
from connector.stores.magento.oauth import OAuthCredentials, authorization_header
from connector.stores.magento.payloads import MageError, MageInvoice, MageTotals, format_time
from connector.stores.port import (
    StoreRecordMissing,
    StoreRecordNotFound,
    StoreRequestRejected,
)
from connector.stores.responses import StoreAnswers
from connector.stores.retries import get_with_retries

PAGE_SIZE = 100
# The poll asks again for this much before its watermark: a transaction that commits late
# in a second already polled is still found (the ingest deduplicates what repeats).
POLL_OVERLAP = timedelta(minutes=2)


@dataclass(frozen=True)
class Filter:
    field: str
    value: str
    condition: str = "eq"


def search_params(
    filters: Sequence[Filter],
    sort: Sequence[tuple[str, str]] = (),
    *,
    page_size: int = PAGE_SIZE,
    page: int = 1,
) -> list[tuple[str, str]]:
    """searchCriteria query parameters: each filter its own group (groups are ANDed)."""
    params: list[tuple[str, str]] = []
    for g, f in enumerate(filters):
        head = f"searchCriteria[filter_groups][{g}][filters][0]"
        params += [
            (f"{head}[field]", f.field),
            (f"{head}[value]", f.value),
            (f"{head}[condition_type]", f.condition),
        ]
    for n, (field, direction) in enumerate(sort):
        params += [
            (f"searchCriteria[sortOrders][{n}][field]", field),
            (f"searchCriteria[sortOrders][{n}][direction]", direction),
        ]
    params += [
        ("searchCriteria[pageSize]", str(page_size)),
        ("searchCriteria[currentPage]", str(page)),
    ]
    return params


@dataclass(frozen=True)
class _Listing:
    path: str
    id_field: str  # what searchCriteria filters and sorts on
    id_key: str  # what each item calls its id


_LISTINGS: dict[str, _Listing] = {
    "order": _Listing("orders", "entity_id", "entity_id"),
    "customer": _Listing("customers/search", "entity_id", "id"),
}


class MagentoClient:
    """A Magento 2 REST reader with bounded retries and classified failures."""

    def __init__(
        self,
        *,
        base_url: str,
        credentials: OAuthCredentials,
        store_code: str = "default",
        http: httpx.Client | None = None,
        timeout_s: float = 20.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        connection_id: str = "",
        page_size: int = PAGE_SIZE,
        categories: bool = False,
        customer_group: bool = False,
        lookups: StoreLookups | None = None,
    ) -> None:
        self._site = base_url.rstrip("/")
        self._api = f"{self._site}/rest/{store_code}/V1/"
        self._credentials = credentials
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client(timeout=timeout_s)
        self._timeout_s = timeout_s
        self._max_retries = max(0, max_retries)
        self._backoff_s = backoff_s
        self._label = connection_id or (urlsplit(self._site).hostname or self._site)
        # Magento deletes orders only through extensions and says nothing of it: a 404 is
        # recorded, never taken as a deletion that would void a document.
        self._answers = StoreAnswers(
            store="Magento",
            site=self._site,
            connection=self._label,
            credential="the integration's credentials",
            explain=_mage_words,
            not_json="check the store URL and store code",
            missing=StoreRecordMissing,
        )
        self._page_size = page_size
        # What get_order looks up for revenue rules (each costs store calls, so only when asked).
        self._categories = categories
        self._customer_group = customer_group
        self._lookups = lookups if lookups is not None else StoreLookups()
        self.calls = 0

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> MagentoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- records --------------------------------------------------------------------------

    def get_order(self, entity_id: str) -> dict[str, Any]:
        """The order, and under FACTS_KEY: when Magento invoiced it (paid in full), its credit
        memos, and what the rules asked for (the buyer's group, the products' categories)."""
        raw = self.record(f"orders/{_segment(entity_id)}", f"order {entity_id}")
        order = MageTotals.model_validate(raw)
        facts = order_facts(
            raw,
            self,
            self._lookups,
            categories=self._categories,
            customer_group=self._customer_group,
        )
        if order.grand_total > 0 and order.total_paid >= order.grand_total:
            invoices = [
                MageInvoice.model_validate(i)
                for i in self._search(
                    "invoices", [Filter("order_id", str(order.entity_id))], "invoices"
                )
            ]
            stamps = [i.created_at for i in invoices if i.created_at is not None]
            if stamps:
                facts["invoiced_at"] = max(stamps).isoformat()
        if order.total_refunded > 0:
            # The order does not list its credit memos: they are the refunds the port lists.
            facts["credit_memos"] = self.list_credit_memos(str(order.entity_id))
        if facts:
            raw[FACTS_KEY] = facts
        return raw

    def list_credit_memos(self, order_id: str) -> list[dict[str, Any]]:
        return list(
            self._search(
                "creditmemos",
                [Filter("order_id", _segment(order_id))],
                f"credit memos of order {order_id}",
            )
        )

    def get_customer(self, customer_id: str) -> dict[str, Any]:
        return self.record(f"customers/{_segment(customer_id)}", f"customer {customer_id}")

    def list_changed(
        self, entity: Literal["order", "customer"], since: datetime
    ) -> Iterator[dict[str, Any]]:
        """Records with ``updated_at`` at or after ``since`` minus POLL_OVERLAP, oldest change
        first, each once.

        Keyset paging: ask for ``updated_at >= t`` sorted by (updated_at, id); when a page is
        full, finish the last second on the page by id (``updated_at = t`` and ``id > last``),
        then go on with ``updated_at > t``. A record edited while we page moves to the end
        and is met there; nothing shifts into a page already read.
        """
        listing = _LISTINGS.get(entity)
        if listing is None:
            raise ValueError(f"unknown entity {entity!r}")
        what = f"changed {entity}s"
        sort = [("updated_at", "ASC"), (listing.id_field, "ASC")]
        seen: set[str] = set()

        def fresh(items: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
            for item in items:
                key = str(item.get(listing.id_key))
                if key not in seen:
                    seen.add(key)
                    yield item

        bound = Filter("updated_at", format_time(since - POLL_OVERLAP), "gteq")
        while True:
            page = self._page(listing.path, [bound], sort, what)
            yield from fresh(page)
            if len(page) < self._page_size:
                return
            last = format_time(modified_at(page[-1]))
            last_id = max(
                int(i[listing.id_key]) for i in page if format_time(modified_at(i)) == last
            )
            while True:  # the rest of the last second on the page, by id
                tie = self._page(
                    listing.path,
                    [
                        Filter("updated_at", last, "eq"),
                        Filter(listing.id_field, str(last_id), "gt"),
                    ],
                    [(listing.id_field, "ASC")],
                    what,
                )
                yield from fresh(tie)
                if len(tie) < self._page_size:
                    break
                last_id = int(tie[-1][listing.id_key])
            bound = Filter("updated_at", last, "gt")

    def list_created(self, since: datetime, until: datetime) -> Iterator[dict[str, Any]]:
        """Orders created at or after ``since`` and before ``until``, by id.

        Keyset paging by ``entity_id`` (a creation time never changes, but an order placed or
        deleted while we page would shift ``currentPage``).
        """
        window = [
            Filter("created_at", format_time(since), "gteq"),
            Filter("created_at", format_time(until), "lt"),
        ]
        last = 0
        while True:
            page = self._page(
                "orders",
                [*window, Filter("entity_id", str(last), "gt")],
                [("entity_id", "ASC")],
                "orders created in the backfill's window",
            )
            yield from page
            if len(page) < self._page_size:
                return
            last = max(int(item["entity_id"]) for item in page)

    # -- transport ------------------------------------------------------------------------

    def record(self, path: str, what: str) -> dict[str, Any]:
        """One record under ``/V1/`` (an order, a customer group, a category)."""
        return self._answers.record(self._get(path, [], what), what)

    def search_in(
        self, path: str, field: str, values: Sequence[str], what: str
    ) -> Iterator[dict[str, Any]]:
        """Every record of a search whose ``field`` is one of ``values``."""
        return self._search(path, [Filter(field, ",".join(values), "in")], what)

    def search(self, path: str, filters: Sequence[Filter], what: str) -> Iterator[dict[str, Any]]:
        """Every record of a search whose ``filters`` all match (a product by SKU, say)."""
        return self._search(path, filters, what)

    def write(
        self,
        method: Literal["POST", "PUT", "DELETE"],
        path: str,
        body: Mapping[str, Any] | None,
        what: str,
    ) -> httpx.Response:
        """One signed JSON write under ``/V1/``; the caller reads the answer. A PUT or DELETE
        is tried again on transient failures (idempotent); a POST is sent once, since a retry
        after an unknown outcome could create the record twice."""
        url = self._api + path
        return get_with_retries(
            lambda: self._send(url, [], method, body),
            max_retries=self._max_retries if method != "POST" else 0,
            backoff_s=self._backoff_s,
            timeout_s=self._timeout_s,
            message=self._answers.said,
            unavailable=f"Magento store for connection {self._label} is unavailable {what}",
        )

    def _page(
        self, path: str, filters: Sequence[Filter], sort: Sequence[tuple[str, str]], what: str
    ) -> list[dict[str, Any]]:
        body = self._get(path, search_params(filters, sort, page_size=self._page_size), what)
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise StoreRequestRejected(
                f"Magento answered the search for {what} on connection {self._label} with "
                "something that is not a search result"
            )
        return [item for item in items if isinstance(item, dict)]

    def _search(self, path: str, filters: Sequence[Filter], what: str) -> Iterator[dict[str, Any]]:
        """Every match, paged by ``currentPage`` (for small sets that do not move: an order's
        credit memos or invoices). Magento answers a page past the end with the last page
        again, so the total count says when to stop."""
        page = 1
        while True:
            params = search_params(
                filters, [("entity_id", "ASC")], page_size=self._page_size, page=page
            )
            body = self._get(path, params, what)
            items = body.get("items") if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise StoreRequestRejected(
                    f"Magento answered the search for {what} on connection {self._label} with "
                    "something that is not a search result"
                )
            yield from (item for item in items if isinstance(item, dict))
            total = body.get("total_count")
            if not items or not isinstance(total, int) or page * self._page_size >= total:
                return
            page += 1

    def _get(self, path: str, params: list[tuple[str, str]], what: str) -> Any:
        url = self._api + path
        response = get_with_retries(
            lambda: self._send(url, params),
            max_retries=self._max_retries,
            backoff_s=self._backoff_s,
            timeout_s=self._timeout_s,
            message=self._answers.said,
            unavailable=f"Magento store for connection {self._label} is unavailable fetching {what}",
        )
        return self._answers.read(
            response,
            what,
            auth_advice=(
                "Check the integration under System → Extensions → Integrations (active, with "
                "the API resources the README lists), put its four OAuth values into the "
                "connection's store secret, then replay"
            ),
        )

    def _send(
        self,
        url: str,
        params: list[tuple[str, str]],
        method: str = "GET",
        body: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        self.calls += 1
        header = authorization_header(
            method,
            url,
            params,
            self._credentials,
            timestamp=int(time.time()),
            nonce=secrets.token_hex(16),
        )
        query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params)
        # A JSON body is not signed (OAuth 1.0a signs form bodies only).
        return self._http.request(
            method,
            f"{url}?{query}" if query else url,
            headers={"Authorization": header, "Accept": "application/json"},
            json=body,
            timeout=self._timeout_s,
        )


def _segment(record_id: str) -> str:
    text = str(record_id).strip()
    if not text.isdigit():
        raise StoreRecordNotFound(f"{text!r} is not a Magento entity id")
    return text


def _mage_words(response: httpx.Response) -> str:
    """Magento's own explanation ("The signature is invalid. Verify and try again.")."""
    try:
        error = MageError.model_validate(response.json())
    except (ValueError, ValidationError):
        return ""
    return error.text()

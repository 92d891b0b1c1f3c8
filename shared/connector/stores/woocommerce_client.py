"""Reads orders, customers and refunds from a WooCommerce store's REST API (v3).

Authentication follows WooCommerce: over https the API keys go as HTTP Basic; over
plain http they never leave the client, each request carries a one-legged OAuth 1.0a
signature in its query string instead.

Money precision: we do not send ``dp``. The store computed its order total from
amounts rounded to its own price decimals, and those are the amounts the merchant
sees and the books must match; asking for more decimals would give line amounts whose
rounded sum can differ from the total. Per-rate line taxes are unrounded whatever
``dp`` says, and the normaliser reconciles them to the (rounded) tax lines.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from connector.stores.lookups import StoreLookups
from connector.stores.port import StoreRecordMissing, StoreRecordNotFound, StoreUnavailable
from connector.stores.responses import StoreAnswers
from connector.stores.retries import get_with_retries
from connector.stores.woocommerce_normalise import modified_at
from connector.stores.woocommerce_payloads import WooError, WooTimestamps

REST_PREFIX = "/wp-json/wc/v3/"
PAGE_SIZE = 100  # WordPress caps per_page at 100
# WooCommerce's own words for "no such record" on a 404, by what was asked for. Only these
# say a record is gone: a 404 without them (a proxy, a plugin, a wrong store address) is
# not the store's word, and deleting on it would void live orders.
GONE_ORDER = "woocommerce_rest_shop_order_invalid_id"
GONE_CUSTOMER = "woocommerce_rest_invalid_id"
GONE_PRODUCT = "woocommerce_rest_product_invalid_id"
GONE_REFUNDS_ORDER = "woocommerce_rest_order_invalid_id"


class WooCredentials(BaseModel):
    consumer_key: SecretStr
    consumer_secret: SecretStr


def _rfc3986(text: str) -> str:
    return quote(text, safe="-._~")


def _base_uri(url: str) -> str:
    """Scheme, host, port (if not the default) and path, as RFC 5849 section 3.4.1.2 says."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    default_port = {"http": 80, "https": 443}.get(scheme)
    netloc = host if parts.port in (None, default_port) else f"{host}:{parts.port}"
    return f"{scheme}://{netloc}{parts.path}"


def oauth1_signed_query(
    method: str,
    url: str,
    params: Sequence[tuple[str, str]],
    credentials: WooCredentials,
    *,
    timestamp: int,
    nonce: str,
) -> str:
    """The query string for ``url`` with ``params`` plus WooCommerce's one-legged OAuth 1.0a.

    The signature key is the consumer secret and an ampersand (no token secret), and
    the base string is METHOD & uri & sorted, percent-encoded parameters.
    """
    all_params = [
        *params,
        ("oauth_consumer_key", credentials.consumer_key.get_secret_value()),
        ("oauth_nonce", nonce),
        ("oauth_signature_method", "HMAC-SHA256"),
        ("oauth_timestamp", str(timestamp)),
    ]
    encoded = sorted((_rfc3986(k), _rfc3986(v)) for k, v in all_params)
    normalised = "&".join(f"{k}={v}" for k, v in encoded)
    base_string = "&".join((method.upper(), _rfc3986(_base_uri(url)), _rfc3986(normalised)))
    key = (credentials.consumer_secret.get_secret_value() + "&").encode("utf-8")
    digest = hmac.new(key, base_string.encode("utf-8"), hashlib.sha256).digest()
    signature = base64.b64encode(digest).decode("ascii")
    return normalised + "&oauth_signature=" + _rfc3986(signature)


# Facts a REST order lacks, looked up for revenue rules, ride in the order payload under this
# key (WooCommerce's own keys never start with "_" but "_links"); woocommerce_normalise reads them.
FACTS_KEY = "_connector"
GUEST_GROUP = "guest"


def created_at(raw: Mapping[str, Any]) -> datetime:
    """When the order was created, as aware UTC."""
    moment = WooTimestamps.model_validate(raw).date_created_gmt
    if moment is None:
        raise ValueError(f"WooCommerce order {raw.get('id')} has no date_created_gmt")
    return moment


def _gmt_param(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("modified_after must be timezone-aware")
    return moment.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat()


class WooClient:
    """A WooCommerce REST v3 reader with bounded retries and classified failures."""

    def __init__(
        self,
        *,
        base_url: str,
        credentials: WooCredentials,
        http: httpx.Client | None = None,
        timeout_s: float = 20.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        connection_id: str = "",
        categories: bool = False,
        customer_group: bool = False,
        lookups: StoreLookups | None = None,
    ) -> None:
        self._site = base_url.rstrip("/")
        self._api = self._site + REST_PREFIX
        self._credentials = credentials
        self._use_oauth = urlsplit(self._site).scheme.lower() != "https"
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client(timeout=timeout_s)
        self._timeout_s = timeout_s
        self._max_retries = max(0, max_retries)
        self._backoff_s = backoff_s
        self._label = connection_id or (urlsplit(self._site).hostname or self._site)
        self._answers = StoreAnswers(
            store="WooCommerce",
            site=self._site,
            connection=self._label,
            credential="the API keys",
            explain=_woo_words,
            not_json="check the store URL and that pretty permalinks are on",
        )
        # What get_order adds for revenue rules (each costs store calls, so only when asked).
        self._categories = categories
        self._customer_group = customer_group
        self._lookups = lookups if lookups is not None else StoreLookups()
        self.calls = 0

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> WooClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- records --------------------------------------------------------------------------

    def get_order(self, order_id: str) -> dict[str, Any]:
        """The REST order; with ``categories``/``customer_group`` asked for, also its
        products' categories and the buyer's role, under FACTS_KEY."""
        raw = self._object(f"orders/{_segment(order_id)}", f"order {order_id}", GONE_ORDER)
        facts: dict[str, Any] = {}
        if self._categories:
            facts["product_categories"] = {
                str(product_id): self.product_categories(product_id)
                for product_id in sorted(
                    {int(item.get("product_id") or 0) for item in raw.get("line_items") or []}
                )
                if product_id
            }
        if self._customer_group:
            facts["customer_group"] = self.customer_group(int(raw.get("customer_id") or 0))
        if facts:
            raw[FACTS_KEY] = facts
        return raw

    def product_categories(self, product_id: int) -> list[dict[str, str]]:
        """A product's categories ({name, slug}); none for a product deleted since the sale."""
        key = f"product:{product_id}"
        known, found = self._lookups.get(key)
        if not known:
            try:
                product = self._object(
                    f"products/{product_id}", f"product {product_id}", GONE_PRODUCT
                )
            except StoreRecordNotFound:
                product = {}
            found = [
                {"name": str(c.get("name") or ""), "slug": str(c.get("slug") or "")}
                for c in product.get("categories") or []
                if isinstance(c, dict)
            ]
            self._lookups.put(key, found)
        return list(found)

    def customer_group(self, customer_id: int) -> str | None:
        """The buyer's role ("customer", "wholesale_customer"); "guest" for a guest checkout,
        None for an account deleted since."""
        if not customer_id:
            return GUEST_GROUP
        key = f"customer:{customer_id}"
        known, found = self._lookups.get(key)
        if not known:
            try:
                found = str(self.get_customer(str(customer_id)).get("role") or "") or None
            except StoreRecordNotFound:
                found = None
            self._lookups.put(key, found)
        return found if isinstance(found, str) else None

    def get_customer(self, customer_id: str) -> dict[str, Any]:
        return self._object(
            f"customers/{_segment(customer_id)}", f"customer {customer_id}", GONE_CUSTOMER
        )

    def list_refunds(self, order_id: str) -> list[dict[str, Any]]:
        return list(
            self._pages(
                f"orders/{_segment(order_id)}/refunds",
                [],
                f"refunds of order {order_id}",
                GONE_REFUNDS_ORDER,
            )
        )

    def list_modified(
        self, entity: Literal["order", "customer"], modified_after: datetime
    ) -> Iterator[dict[str, Any]]:
        """Records changed strictly after ``modified_after``, oldest change first for orders.

        Orders are filtered by the store (``modified_after`` in GMT, ordered by modification
        so a record edited while we page moves to the end rather than being skipped). The
        customers endpoint has no such filter (woocommerce#41371), so customers are paged
        in id order and filtered here.
        """
        if entity == "order":
            params = [
                ("modified_after", _gmt_param(modified_after)),
                ("dates_are_gmt", "true"),
                ("orderby", "modified"),
                ("order", "asc"),
            ]
            yield from self._pages("orders", params, "changed orders")
        elif entity == "customer":
            cutoff = modified_after.astimezone(UTC)
            for raw in self._pages("customers", [("orderby", "id"), ("order", "asc")], "customers"):
                if modified_at(raw) > cutoff:
                    yield raw
        else:
            raise ValueError(f"unknown entity {entity!r}")

    def list_created(self, since: datetime, until: datetime) -> Iterator[dict[str, Any]]:
        """Orders created at or after ``since`` and before ``until`` (GMT), oldest first.

        ``after`` and ``before`` are exclusive and to the second, so the listing starts a
        second early and the boundary is kept here.
        """
        start, end = since.astimezone(UTC), until.astimezone(UTC)
        params = [
            ("after", _gmt_param(start - timedelta(seconds=1))),
            ("before", _gmt_param(end)),
            ("dates_are_gmt", "true"),
            ("orderby", "date"),
            ("order", "asc"),
        ]
        for raw in self._pages("orders", params, "orders created in the backfill's window"):
            if start <= created_at(raw) < end:
                yield raw

    # -- transport ------------------------------------------------------------------------

    def _object(self, path: str, what: str, gone: str) -> dict[str, Any]:
        body, _ = self._get(path, [], what, gone)
        return self._answers.record(body, what)

    def get_record(self, path: str, what: str, gone: str) -> dict[str, Any]:
        """One record under ``/wp-json/wc/v3/``; StoreRecordNotFound when the store's 404
        carries ``gone`` (its word that the record does not exist)."""
        return self._object(path, what, gone)

    def pages(
        self, path: str, params: list[tuple[str, str]], what: str
    ) -> Iterator[dict[str, Any]]:
        """Every record of a collection under ``/wp-json/wc/v3/``, a page at a time."""
        return self._pages(path, params, what)

    def _pages(
        self, path: str, params: list[tuple[str, str]], what: str, gone: str = ""
    ) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            paged = [*params, ("per_page", str(PAGE_SIZE)), ("page", str(page))]
            body, headers = self._get(path, paged, what, gone)
            body = self._answers.items(body, what)
            yield from (item for item in body if isinstance(item, dict))
            total_pages = _int_header(headers, "x-wp-totalpages")
            if not body or total_pages is None or page >= total_pages:
                return
            page += 1

    def _get(
        self, path: str, params: list[tuple[str, str]], what: str, gone: str = ""
    ) -> tuple[Any, httpx.Headers]:
        """The answer's JSON body and headers. A 404 is StoreRecordNotFound only when it
        carries ``gone``, WooCommerce's own code for the record asked for; any other 404 is
        StoreUnavailable (tried again later, parked when the retry budget is spent)."""
        url = self._api + path
        response = get_with_retries(
            lambda: self._send(url, params),
            max_retries=self._max_retries,
            backoff_s=self._backoff_s,
            timeout_s=self._timeout_s,
            message=self._answers.said,
            unavailable=(
                f"WooCommerce store for connection {self._label} is unavailable fetching {what}"
            ),
        )
        if response.status_code == 404 and (not gone or _error_code(response) != gone):
            said = _woo_words(response) or "no WooCommerce error code (not the store's answer)"
            raise StoreUnavailable(
                f"WooCommerce at {self._site} answered 404 for {what} on connection "
                f"{self._label} without saying the record does not exist ({said}): a proxy, a "
                "plugin or a wrong store address; nothing is withdrawn on it. Check the "
                "connection's store URL and that pretty permalinks are on"
            )
        advice = (
            "Create a new read key under WooCommerce > Settings > Advanced > REST API and update "
            "the connection."
        )
        return self._answers.read(response, what, auth_advice=advice), response.headers

    def _send(
        self,
        url: str,
        params: list[tuple[str, str]],
        method: str = "GET",
        body: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        self.calls += 1
        if self._use_oauth:
            # A JSON body is not part of the OAuth 1.0a signature (only form bodies are).
            query = oauth1_signed_query(
                method,
                url,
                params,
                self._credentials,
                timestamp=int(time.time()),
                nonce=secrets.token_hex(16),
            )
            return self._http.request(method, f"{url}?{query}", json=body, timeout=self._timeout_s)
        return self._http.request(
            method,
            url,
            params=tuple(params),
            json=body,
            auth=(
                self._credentials.consumer_key.get_secret_value(),
                self._credentials.consumer_secret.get_secret_value(),
            ),
            timeout=self._timeout_s,
        )

    def write(
        self, method: Literal["POST", "PUT"], path: str, body: Mapping[str, Any], what: str
    ) -> httpx.Response:
        """One JSON write under ``/wp-json/wc/v3/``; the caller reads the answer. A PUT is
        tried again on transient failures (it is idempotent); a POST is sent once, since a
        retry after an unknown outcome could create the record twice."""
        url = self._api + path
        return get_with_retries(
            lambda: self._send(url, [], method, body),
            max_retries=self._max_retries if method == "PUT" else 0,
            backoff_s=self._backoff_s,
            timeout_s=self._timeout_s,
            message=self._answers.said,
            unavailable=f"WooCommerce store for connection {self._label} is unavailable {what}",
        )


def _segment(record_id: str) -> str:
    text = str(record_id).strip()
    if not text.isdigit():
        # Not the store's word that anything was deleted: recorded, nothing withdrawn.
        raise StoreRecordMissing(f"{text!r} is not a WooCommerce record id")
    return text


def _int_header(headers: httpx.Headers, name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _error_code(response: httpx.Response) -> str:
    """The ``code`` of WooCommerce's JSON error body ("" for anything else, e.g. HTML)."""
    try:
        return WooError.model_validate(response.json()).code
    except (ValueError, ValidationError):
        return ""


def _woo_words(response: httpx.Response) -> str:
    """WooCommerce's own explanation ("Invalid signature ..."), which never holds the keys."""
    try:
        error = WooError.model_validate(response.json())
    except (ValueError, ValidationError):
        return ""
    if not error.message:
        return ""
    return f"{error.message} ({error.code})" if error.code else error.message

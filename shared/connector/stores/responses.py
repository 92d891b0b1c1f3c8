"""What a store's answer means once its retries are over, told the same way for every store.

A 2xx is the JSON body (None for 204 or an empty body); a refused credential is
StoreAuthFailed with the store's own words and what the merchant does about it; a 404 is the
store's "not found" (each store says whether that means deleted); a redirect names where it
goes; any other refusal, or a body that is not JSON, is StoreRequestRejected. The store's
words come from its error body and never hold the credentials.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from connector.errors import PermanentError
from connector.stores.port import StoreAuthFailed, StoreRecordNotFound, StoreRequestRejected

REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class StoreAnswers:
    """How one store connection's answers are read and its refusals worded."""

    store: str  # "WooCommerce"
    site: str  # where the connection reaches the store
    connection: str
    credential: str  # "the API keys": what a 401 or 403 refuses
    # The store's own explanation in an error body ("" when it gives none).
    explain: Callable[[httpx.Response], str]
    not_json: str  # what to check when the store answers a page that is not JSON
    # What a 404 raises: a deletion (StoreRecordNotFound) or only a record not found.
    missing: type[PermanentError] = StoreRecordNotFound

    def said(self, response: httpx.Response, lead: str = ": ") -> str:
        text = self.explain(response).strip()
        return f"{lead}{text}" if text else ""

    def read(self, response: httpx.Response, what: str, *, auth_advice: str) -> Any:
        """The answer's JSON body, or the failure it stands for. ``auth_advice`` tells the
        merchant what to do about a refused credential for this request."""
        status = response.status_code
        on = f"on connection {self.connection}"
        if status in (401, 403):
            reason = self.said(response, lead="") or f"HTTP {status}"
            raise StoreAuthFailed(
                f"{self.store} refused {self.credential} for connection {self.connection}: "
                f"{reason}, reading {what}. {auth_advice}"
            )
        if status == 404:
            raise self.missing(f"{self.store} has no {what} {on}{self.said(response)}")
        if status in REDIRECTS:
            raise StoreRequestRejected(
                f"{self.store} at {self.site} redirects to "
                f"{response.headers.get('location', '?')} for {what} {on}; set the "
                "connection's store address to where it redirects"
            )
        if status >= 300:
            raise StoreRequestRejected(
                f"{self.store} rejected the request for {what} {on}: "
                f"HTTP {status}{self.said(response)}"
            )
        if status == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise StoreRequestRejected(
                f"{self.store} answered {what} {on} with a page that is not JSON; {self.not_json}"
            ) from exc

    def record(self, body: Any, what: str) -> dict[str, Any]:
        """``body`` as one record, or why it is not one."""
        if not isinstance(body, dict):
            raise StoreRequestRejected(
                f"{self.store} answered {what} on connection {self.connection} with a "
                f"{type(body).__name__}, not a record"
            )
        return body

    def items(self, body: Any, what: str) -> list[Any]:
        """``body`` as a list, or why it is not one."""
        if not isinstance(body, list):
            raise StoreRequestRejected(
                f"{self.store} answered the list of {what} on connection {self.connection} "
                "with something that is not a list"
            )
        return body

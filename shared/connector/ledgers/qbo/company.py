"""The company preferences the connector acts on, read from QuickBooks once and cached.

Currencies (home currency, Multicurrency) and tracking (classes, locations) come
from one GET /preferences, kept in DynamoDB so a known company costs no read. A
caller about to park a record for a setting that is off asks again (``fresh``):
the merchant may have turned it on since it was cached.
"""

from __future__ import annotations

import json

from connector.ledgers.qbo.client import QboClient
from connector.ledgers.qbo.currency import CompanyCurrency
from connector.ledgers.qbo.tracking import CompanyTracking
from connector.state import StateStore

_MAPPING = ("company", "preferences")


class CompanyFacts:
    def __init__(self, *, connection_id: str, client: QboClient, state: StateStore) -> None:
        self._connection_id = connection_id
        self._client = client
        self._state = state
        self._facts: tuple[CompanyCurrency, CompanyTracking] | None = None

    def currency(self, *, fresh: bool = False) -> CompanyCurrency:
        return self._read(fresh)[0]

    def tracking(self, *, fresh: bool = False) -> CompanyTracking:
        return self._read(fresh)[1]

    def _read(self, fresh: bool) -> tuple[CompanyCurrency, CompanyTracking]:
        kind, key = _MAPPING
        if not fresh:
            if self._facts is not None:
                return self._facts
            cached = self._state.get_mapping(self._connection_id, kind, key)
            if cached:
                text = json.loads(cached)
                self._facts = (
                    CompanyCurrency.from_text(text["currency"]),
                    CompanyTracking.from_text(text["tracking"]),
                )
                return self._facts
        preferences = self._client.preferences()
        self._facts = (
            CompanyCurrency.from_preferences(preferences),
            CompanyTracking.from_preferences(preferences),
        )
        text = {"currency": self._facts[0].to_text(), "tracking": self._facts[1].to_text()}
        self._state.put_mapping(self._connection_id, kind, key, json.dumps(text, sort_keys=True))
        return self._facts

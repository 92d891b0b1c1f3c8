"""A non-US company's tax codes: their Ids, and the sales rates each holds with its percentage.

Read from QuickBooks once (TaxCode by Name, answering its SalesTaxRateList; TaxRate by Id,
answering its RateValue) and kept in the state table's mappings: kind "taxcode" (name → Id)
and "taxcode-rates" (code Id → its rates as JSON). A company whose codes are known costs no
QuickBooks reads per order. QuickBooks does not let a rate's percentage be edited (a new rate
is made instead), so the cached facts stay true; a code given other rates in QuickBooks needs
its "taxcode-rates" mapping cleared.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from connector.errors import PermanentError
from connector.ledgers.qbo.client import QboClient
from connector.ledgers.qbo.tax_lines import QboTaxRate
from connector.state import StateStore


def _in_list(ids: Iterable[str]) -> str:
    return ", ".join(f"'{i}'" for i in sorted(set(ids)))


def _rate_ids(code: dict[str, Any]) -> list[str]:
    details = (code.get("SalesTaxRateList") or {}).get("TaxRateDetail") or []
    return [str(d["TaxRateRef"]["value"]) for d in details]


class QboTaxCodes:
    def __init__(self, *, connection_id: str, client: QboClient, state: StateStore) -> None:
        self._connection_id = connection_id
        self._client = client
        self._state = state

    def resolve(
        self, names: Iterable[str]
    ) -> tuple[dict[str, str], dict[str, tuple[QboTaxRate, ...]]]:
        """Tax code name → Id, and code Id → its sales rates, for every name given.

        Raises PermanentError naming a code QuickBooks lacks, or has made inactive.
        """
        wanted = sorted(set(names))
        if not wanted:
            return {}, {}
        conn = self._connection_id
        ids = self._state.get_mappings(conn, "taxcode", wanted)
        rate_ids: dict[str, list[str]] = {}
        for name in wanted:
            if name not in ids:
                code = self._find(name)
                ids[name] = str(code["Id"])
                rate_ids[ids[name]] = _rate_ids(code)
                self._state.put_mapping(conn, "taxcode", name, ids[name])
        known = self._state.get_mappings(conn, "taxcode-rates", set(ids.values()))
        rates = {code_id: _load(text) for code_id, text in known.items()}
        unknown = [code_id for code_id in ids.values() if code_id not in rates]
        if unknown:
            missing = [c for c in unknown if c not in rate_ids]
            if missing:
                statement = f"SELECT * FROM TaxCode WHERE Id IN ({_in_list(missing)})"
                for code in self._client.query(statement):
                    rate_ids[str(code["Id"])] = _rate_ids(code)
            facts = self._rates({r for c in unknown for r in rate_ids.get(c, [])})
            for code_id in unknown:
                if code_id not in rate_ids:
                    name = next(n for n, i in ids.items() if i == code_id)
                    raise PermanentError(
                        f"QuickBooks tax code {name!r} (Id {code_id}) is gone: fix the tenant "
                        "file's tax codes, then replay"
                    )
                rates[code_id] = tuple(facts[r] for r in rate_ids[code_id])
                self._state.put_mapping(conn, "taxcode-rates", code_id, _dump(rates[code_id]))
        return ids, {ids[name]: rates[ids[name]] for name in wanted}

    def _find(self, name: str) -> dict[str, Any]:
        found = self._client.find_one("TaxCode", "Name", name, include_inactive=True)
        if found is None:
            raise PermanentError(
                f"QuickBooks has no tax code named {name!r}: fix the tenant file's tax codes, "
                "then replay"
            )
        if found.get("Active") is False:
            raise PermanentError(
                f"QuickBooks tax code {name!r} is inactive: make it active in QuickBooks, "
                "then replay"
            )
        return found

    def _rates(self, rate_ids: set[str]) -> dict[str, QboTaxRate]:
        if not rate_ids:
            return {}
        statement = f"SELECT * FROM TaxRate WHERE Id IN ({_in_list(rate_ids)})"
        found = {
            str(r["Id"]): QboTaxRate(
                id=str(r["Id"]), name=str(r.get("Name", r["Id"])), percent=_percent(r)
            )
            for r in self._client.query(statement)
        }
        lost = rate_ids - set(found)
        if lost:
            raise PermanentError(
                f"QuickBooks tax rate Id {', '.join(sorted(lost))} (in a tax code the tenant "
                "file maps to) was not found: check the code's rates in QuickBooks, then replay"
            )
        return found


def _percent(rate: dict[str, Any]) -> Decimal:
    return Decimal(str(rate.get("RateValue", "0")))


def _dump(rates: tuple[QboTaxRate, ...]) -> str:
    return json.dumps([{"id": r.id, "name": r.name, "percent": str(r.percent)} for r in rates])


def _load(text: str) -> tuple[QboTaxRate, ...]:
    return tuple(
        QboTaxRate(id=r["id"], name=r["name"], percent=Decimal(r["percent"]))
        for r in json.loads(text)
    )

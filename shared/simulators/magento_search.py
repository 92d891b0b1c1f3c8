"""Magento's searchCriteria as the simulated store reads it from a query string.

``searchCriteria[filter_groups][g][filters][f][field|value|condition_type]``: filters in one
group are ORed, groups are ANDed. ``sortOrders[n][field|direction]``, ``pageSize``,
``currentPage`` (a page past the end answers the last page again). Values compare as
numbers when both sides are numbers, else as text (Magento's dates sort as text).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

_KEY = re.compile(r"^searchCriteria\[(.+?)\](.*)$")
_PART = re.compile(r"\[([^\]]*)\]")
CONDITIONS = ("eq", "neq", "gt", "gteq", "lt", "lteq", "in", "nin", "like", "null", "notnull")


class SearchError(ValueError):
    """A searchCriteria Magento would refuse (HTTP 400)."""


@dataclass(frozen=True)
class Criterion:
    field: str
    value: str
    condition: str


@dataclass
class Search:
    groups: list[list[Criterion]] = field(default_factory=list)
    sort: list[tuple[str, str]] = field(default_factory=list)
    page_size: int | None = None
    current_page: int = 1

    def echo(self) -> dict[str, Any]:
        return {
            "filter_groups": [
                {"filters": [
                    {"field": c.field, "value": c.value, "condition_type": c.condition} for c in g
                ]}
                for g in self.groups
            ],
            "sort_orders": [{"field": f, "direction": d} for f, d in self.sort],
            "page_size": self.page_size,
            "current_page": self.current_page,
        }  # fmt: skip


def parse(query: Mapping[str, Sequence[str]]) -> Search:
    groups: dict[int, dict[int, dict[str, str]]] = {}
    sorts: dict[int, dict[str, str]] = {}
    search = Search()
    for key, values in query.items():
        match = _KEY.match(key)
        if match is None:
            continue
        head, rest = match.group(1), _PART.findall(match.group(2))
        value = values[0] if values else ""
        try:
            if head == "filter_groups" and len(rest) == 4 and rest[1] == "filters":
                groups.setdefault(int(rest[0]), {}).setdefault(int(rest[2]), {})[rest[3]] = value
            elif head == "sortOrders" and len(rest) == 2:
                sorts.setdefault(int(rest[0]), {})[rest[1]] = value
            elif head == "pageSize" and not rest:
                search.page_size = int(value)
            elif head == "currentPage" and not rest:
                search.current_page = int(value)
        except ValueError as exc:
            raise SearchError(f'"{key}" is not a valid value') from exc
    for g in sorted(groups):
        criteria = []
        for f in sorted(groups[g]):
            spec = groups[g][f]
            condition = spec.get("condition_type", "eq") or "eq"
            if condition not in CONDITIONS:
                raise SearchError(f'Invalid condition type "{condition}"')
            if "field" not in spec:
                raise SearchError("%fieldName is a required field.")
            criteria.append(Criterion(spec["field"], spec.get("value", ""), condition))
        search.groups.append(criteria)
    for n in sorted(sorts):
        direction = sorts[n].get("direction", "ASC").upper()
        search.sort.append((sorts[n].get("field", ""), "DESC" if direction == "DESC" else "ASC"))
    if search.page_size is not None and search.page_size < 1:
        raise SearchError("pageSize must be positive")
    return search


def _comparable(value: Any) -> tuple[int, Any]:
    text = "" if value is None else str(value)
    try:
        return (0, float(text))
    except ValueError:
        return (1, text)


def _matches(record: Mapping[str, Any], c: Criterion) -> bool:
    value = record.get(c.field)
    if c.condition == "null":
        return value is None
    if c.condition == "notnull":
        return value is not None
    if c.condition in ("in", "nin"):
        found = str(value) in [v.strip() for v in c.value.split(",")]
        return found if c.condition == "in" else not found
    if c.condition == "like":
        pattern = re.escape(c.value).replace("%", ".*")
        return re.fullmatch(pattern, str(value or ""), re.IGNORECASE) is not None
    if value is None:
        return False
    left, right = _comparable(value), _comparable(c.value)
    if left[0] != right[0]:
        left, right = (1, str(value)), (1, c.value)
    return {
        "eq": left == right, "neq": left != right, "gt": left > right,
        "gteq": left >= right, "lt": left < right, "lteq": left <= right,
    }[c.condition]  # fmt: skip


def apply(
    search: Search, records: Sequence[Mapping[str, Any]], default_sort: str
) -> tuple[list[Mapping[str, Any]], int]:
    """The page of matching records, and how many match in all."""
    found = [r for r in records if all(any(_matches(r, c) for c in g) for g in search.groups)]
    found.sort(key=lambda r: _comparable(r.get(default_sort)))
    for field_name, direction in reversed(search.sort):
        found.sort(key=lambda r: _comparable(r.get(field_name)), reverse=direction == "DESC")
    total = len(found)
    if search.page_size is None:
        return found, total
    pages = max(1, -(-total // search.page_size))
    page = min(max(1, search.current_page), pages)
    start = (page - 1) * search.page_size
    return found[start : start + search.page_size], total

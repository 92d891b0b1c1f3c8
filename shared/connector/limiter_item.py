"""The one DynamoDB item a shared limiter keeps its budget in, and this process's copy of it.

Both limiters (QuickBooks' per company, connector.ledgers.qbo.limiter; a store's,
connector.stores.limiter) decide on the item as they last saw it and book with one write
conditional on its ``version``: a write that loses the race gets the current item back
(ReturnValuesOnConditionCheckFailure) and the limiter decides again, so a contended booking
costs no extra read. Every other write moves ``version`` too, so no booking decided on an
older item can land.

Key: ``limiter#<key>`` / ``LIMITER`` in the state table.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import BotoCoreError, ClientError

from connector.errors import TransientError

_DESERIALIZE = TypeDeserializer()
_BUMP = "version = if_not_exists(version, :zero) + :one"
# A pause never shortens a longer one another function wrote meanwhile.
_LONGER_PAUSE = "attribute_not_exists(paused_until) OR paused_until < :until"


def number(item: Mapping[str, Any], name: str) -> float:
    """A number of the item (0 when absent)."""
    return float(item.get(name, 0))


class LimiterItem:
    """One limiter's item and the copy of it last seen; thread-safe within a process.

    ``reading`` and ``booking`` start the limiter's own error texts for a failed read and a
    failed booking; ``places`` is how many decimals an epoch is stored with.
    """

    def __init__(
        self, table: Any, key: str, *, reading: str, booking: str, places: int = 6
    ) -> None:
        self._table = table
        self.key = {"pk": f"limiter#{key}", "sk": "LIMITER"}
        self._reading = reading
        self._booking = booking
        self._places = places
        self._lock = threading.Lock()
        self._seen: dict[str, Any] | None = None

    def stored(self, epoch: float) -> Decimal:
        """An epoch (or seconds) as the item stores it."""
        return Decimal(f"{epoch:.{self._places}f}")

    def current(self) -> dict[str, Any]:
        """The item as last seen, read (consistently) only when not seen yet or forgotten."""
        with self._lock:
            if self._seen is not None:
                return dict(self._seen)
        try:
            found = self._table.get_item(Key=self.key, ConsistentRead=True)
        except (BotoCoreError, ClientError) as exc:
            raise TransientError(f"{self._reading}: {exc}") from exc
        item = dict(found.get("Item") or {})
        self.remember(item)
        return item

    def write(self, expression: str, values: dict[str, Any], seen: Mapping[str, Any]) -> bool:
        """One booking over the item as ``seen`` (``expression`` sets ``version``); False, and
        the current item remembered, when another writer got there first."""
        if "version" in seen:
            condition = "version = :seen"
            values = {**values, ":seen": seen["version"]}
        else:
            condition = "attribute_not_exists(version)"
        won, item = self._update(
            {
                "UpdateExpression": expression,
                "ConditionExpression": condition,
                "ExpressionAttributeValues": values,
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            },
            self._booking,
        )
        if item is None:
            self.forget()
        else:
            self.remember(item)
        return won

    def update(
        self,
        sets: Sequence[str] = (),
        values: Mapping[str, Any] | None = None,
        *,
        failing: str,
        remove: str | None = None,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
    ) -> bool:
        """``SET sets`` (after ``REMOVE remove``) and a new ``version``, remembered; False when
        ``condition`` failed (the copy is left as it was). Other failures raise TransientError
        starting with ``failing``."""
        expression = "SET " + ", ".join([*sets, _BUMP])
        if remove:
            expression = f"REMOVE {remove} {expression}"
        request: dict[str, Any] = {
            "UpdateExpression": expression,
            "ExpressionAttributeValues": {**(values or {}), ":zero": 0, ":one": 1},
        }
        if condition:
            request["ConditionExpression"] = condition
        if names:
            request["ExpressionAttributeNames"] = dict(names)
        won, item = self._update(request, failing)
        if won and item is not None:
            self.remember(item)
        return won

    def record(
        self,
        sets: Sequence[str],
        values: Mapping[str, Any],
        *,
        pause_until: float | None,
        failing: str,
    ) -> None:
        """``SET sets``, and with ``pause_until`` a pause of every caller until then unless a
        pause as long is stored already (then the copy is forgotten: read again before the
        next booking)."""
        if pause_until is None:
            self.update(sets, values, failing=failing)
            return
        paused = self.update(
            [*sets, "paused_until = :until"],
            {**values, ":until": self.stored(pause_until)},
            condition=_LONGER_PAUSE,
            failing=failing,
        )
        if not paused:
            self.forget()

    def remember(self, item: Mapping[str, Any]) -> None:
        with self._lock:
            self._seen = dict(item)

    def forget(self) -> None:
        with self._lock:
            self._seen = None

    def _update(self, request: dict[str, Any], failing: str) -> tuple[bool, dict[str, Any] | None]:
        """One UpdateItem: (True, the new item), or (False, the current item if the refusal
        carried it) when its condition failed; other failures raise TransientError."""
        try:
            found = self._table.update_item(Key=self.key, ReturnValues="ALL_NEW", **request)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise TransientError(f"{failing}: {exc}") from exc
            current = exc.response.get("Item")
            if not isinstance(current, dict):
                return False, None
            # The low-level shape of ALL_OLD, as the resource API gives items.
            return False, {k: _DESERIALIZE.deserialize(v) for k, v in current.items()}
        except BotoCoreError as exc:
            raise TransientError(f"{failing}: {exc}") from exc
        return True, dict(found["Attributes"])

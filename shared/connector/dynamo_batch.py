"""DynamoDB in batches: many items read at once, writes described once and made alone or together.

:func:`get_many` reads up to a hundred keys per BatchGetItem call. A
:data:`Write` is ``{"Put": {...}}`` or ``{"Delete": {...}}`` with the parameters
of PutItem or DeleteItem; the stores build them (they own the key layouts).
:func:`write_one` makes one; :func:`write_all` makes many in BatchWriteItem
calls of 25 (which has no conditions, so none is built). The Web Connector service
records QuickBooks' answer for fifty entries with a handful of calls that way
instead of a few hundred.

Not TransactWriteItems: moto copies every table a transaction touches once per
action, which makes a transaction over a grown table take seconds locally.

Values are plain Python (str, int, Decimal, dict): the client must be a boto3
DynamoDB *resource's* client (``resource.meta.client``), which converts them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

Write = dict[str, Any]

BATCH_GET_MAX = 100  # BatchGetItem's limit on keys per call
BATCH_WRITE_MAX = 25  # BatchWriteItem's limit on requests per call
_RETRIES = 4
_OPERATIONS = {"Put": "put_item", "Delete": "delete_item"}


def get_many(
    client: Any, table: str, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The items under ``(pk, sk)`` keys that exist, strongly consistent, by their key."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for start in range(0, len(keys), BATCH_GET_MAX):
        chunk = keys[start : start + BATCH_GET_MAX]
        request: dict[str, Any] = {
            table: {"Keys": [{"pk": pk, "sk": sk} for pk, sk in chunk], "ConsistentRead": True}
        }
        while request:
            answer = client.batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(table, []):
                found[(str(item["pk"]), str(item["sk"]))] = item
            # DynamoDB may hand back part of the batch under load; ask again for the rest.
            request = {k: v for k, v in (answer.get("UnprocessedKeys") or {}).items() if v}
    return found


def put(table: str, item: dict[str, Any]) -> Write:
    return {"Put": {"TableName": table, "Item": item}}


def delete(table: str, key: dict[str, Any]) -> Write:
    return {"Delete": {"TableName": table, "Key": key}}


def write_one(client: Any, write: Write) -> None:
    """One write on its own, as PutItem or DeleteItem."""
    ((kind, params),) = write.items()
    getattr(client, _OPERATIONS[kind])(**params)


def write_all(client: Any, writes: Sequence[Write]) -> None:
    """Make unconditional puts and deletes in BatchWriteItem calls of 25; the last to an item wins."""
    batched: dict[tuple[str, str, str], Write] = {}
    for write in writes:
        ((kind, params),) = write.items()
        if kind not in ("Put", "Delete") or "ConditionExpression" in params:
            raise ValueError("only unconditional puts and deletes go into BatchWriteItem")
        item = _item(write)
        batched.pop(item, None)  # re-inserted last: order of effect is kept
        batched[item] = write
    requests = list(batched.values())
    for start in range(0, len(requests), BATCH_WRITE_MAX):
        _batch_write(client, requests[start : start + BATCH_WRITE_MAX])


def _batch_write(client: Any, writes: Sequence[Write]) -> None:
    request: dict[str, list[dict[str, Any]]] = {}
    for write in writes:
        ((kind, params),) = write.items()
        body = {"Item": params["Item"]} if kind == "Put" else {"Key": params["Key"]}
        request.setdefault(params["TableName"], []).append({f"{kind}Request": body})
    for attempt in range(_RETRIES + 1):
        answer = client.batch_write_item(RequestItems=request)
        # Under load DynamoDB may leave part of the batch for a second call.
        request = {k: v for k, v in (answer.get("UnprocessedItems") or {}).items() if v}
        if not request:
            return
        if attempt == _RETRIES:
            raise RuntimeError("DynamoDB kept leaving writes unprocessed")
        time.sleep(0.05 * 2**attempt)


def _item(write: Write) -> tuple[str, str, str]:
    ((_, params),) = write.items()
    key = params.get("Key") or params["Item"]
    return str(params["TableName"]), str(key["pk"]), str(key["sk"])

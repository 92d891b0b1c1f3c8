"""The QuickBooks → store half of a Web Connector session (issue #13 part 7).

When a Desktop connection's ``sync`` directions ask for products, prices or stock, the
session, once its outbox work is done, asks QuickBooks for the inventory, non-inventory and
service items modified since the connection's watermark (and, with ``customers`` on, the
customers): ``<Kind>QueryRq iterator="Start"`` with MaxReturned (``max_returned``),
ActiveStatus All and FromModifiedDate, then ``iterator="Continue"`` page by page, every
query's page in one message, at most ``max_requests_per_message`` requests a message.

Each record returned becomes a snapshot (connector.ledgers.qbd.snapshots) and one sync
message (entity ledger_item / ledger_customer, record_id = ListID, version = EditSequence,
source "qbwc"); the worker writes the store from the snapshot as it does for QuickBooks
Online. A query's watermark becomes the latest TimeModified it returned, and only once its
last page came back and every record of it was kept and queued: a session that ends early,
a query QuickBooks refused, a record that could not be read or a queue that refused leave it
where it was, and the next session asks again from there (FromModifiedDate is inclusive, so
a record at the watermark's second comes again; its EditSequence makes the repeat harmless).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from connector.config import Connection
from connector.ledger_records import LedgerItem
from connector.ledgers.qbd.ledger_records import (
    UnreadableRecord,
    customer_from_ret,
    is_job,
    item_from_ret,
)
from connector.ledgers.qbd.qbxml_messages import QbRequest
from connector.ledgers.qbd.qbxml_queries import ChangesKind, changes_page
from connector.ledgers.qbd.qbxml_responses import STATUS_NO_MATCH, STATUS_OK, QbResponse
from connector.ledgers.qbd.snapshots import Snapshot, entity_of
from connector.messages import SyncMessage
from connector.sync_queue import QueueUnavailable, deduplication_id

ITEM_QUERIES: tuple[ChangesKind, ...] = ("ItemInventory", "ItemNonInventory", "ItemService")
_SQS_BATCH = 10


def wanted(connection: Connection) -> tuple[ChangesKind, ...]:
    """The queries a session makes for this connection's directions (none when all are off)."""
    sync = connection.sync
    kinds: list[ChangesKind] = []
    if "qbo_to_store" in (sync.products, sync.prices, sync.inventory):
        kinds += ITEM_QUERIES
    if sync.customers != "off":
        kinds.append("Customer")
    return tuple(kinds)


def start(connection: Connection, watermarks: dict[str, str]) -> dict[str, Any]:
    """A session's progress through the queries (kept in the session item, JSON)."""
    kinds = {
        kind: {
            "since": watermarks.get(kind),
            "iterator": None,
            "latest": None,
            "status": "todo",
            "unreadable": 0,
            "held": None,
        }
        for kind in wanted(connection)
    }
    return {"read": 0, "kinds": kinds}


def plan(
    progress: dict[str, Any], connection: Connection, *, prefix: str
) -> tuple[list[QbRequest], dict[str, str]]:
    """The next page of each query still being read, within the message budget."""
    requests: list[QbRequest] = []
    purposes: dict[str, str] = {}
    for kind, state in progress.get("kinds", {}).items():
        if state["status"] not in ("todo", "paging"):
            continue
        if len(requests) >= connection.qbd.max_requests_per_message:
            break
        request_id = f"{prefix}c{len(requests)}"
        requests.append(
            changes_page(
                kind,
                request_id=request_id,
                max_returned=connection.qbd.max_returned,
                iterator_id=state["iterator"],
                modified_since=state["since"],
            )
        )
        purposes[request_id] = kind
    return requests, purposes


def restart(progress: dict[str, Any], purposes: dict[str, str]) -> None:
    """The answer to a page never came: its iterator moved on without us, so those queries
    start again from their watermark (what was already kept is kept again, harmlessly)."""
    for kind in purposes.values():
        state = progress.get("kinds", {}).get(kind)
        if state is not None and state["status"] in ("todo", "paging"):
            state.update(iterator=None, status="todo", held=None)


@dataclass
class PageRead:
    kept: list[Snapshot] = field(default_factory=list)  # snapshots (and parent marks) to write
    queued: list[Snapshot] = field(default_factory=list)  # one sync message each
    complete: list[str] = field(default_factory=list)  # queries whose last page came back
    problems: list[str] = field(default_factory=list)


def _later(a: str | None, b: str) -> str:
    """The later of two TimeModified texts, compared as moments (kept as QuickBooks wrote them)."""
    if not a:
        return b
    return b if datetime.fromisoformat(b) > datetime.fromisoformat(a) else a


def read(
    progress: dict[str, Any],
    purposes: dict[str, str],
    responses: Sequence[QbResponse],
    *,
    currency: str | None,
) -> PageRead:
    """QuickBooks' answers to one message of pages: the records, and which queries are done."""
    by_id = {r.request_id: r for r in responses}
    out = PageRead()
    for request_id, kind in purposes.items():
        state = progress["kinds"][kind]
        response = by_id.get(request_id)
        if response is None:
            state.update(status="failed", held=None)
            out.problems.append(f"{kind}Query was not answered")
            continue
        if response.status_code not in (STATUS_OK, STATUS_NO_MATCH):
            state.update(status="failed", held=None)
            out.problems.append(
                f"{kind}Query refused ({response.status_code}): {response.status_message}"
            )
            continue
        page: list[Snapshot] = []
        for tag, ret in zip(response.ret_kinds, response.rets, strict=True):
            try:
                if kind == "Customer":
                    if not is_job(ret):
                        page.append(customer_from_ret(ret))
                else:
                    page.append(item_from_ret(tag, ret, currency=currency))
            except UnreadableRecord as exc:
                state["unreadable"] += 1
                out.problems.append(f"{kind}Query returned a record that cannot be read: {exc}")
                continue
            if ret.get("TimeModified"):
                state["latest"] = _later(state["latest"], str(ret["TimeModified"]))
        out.kept += page
        held = state.get("held")
        sendable = [LedgerItem.model_validate_json(held), *page] if held else page
        state["held"] = None
        if response.iterator_remaining and kind != "Customer" and sendable:
            # QuickBooks lists a parent item right before its sub-items (a sub-item is of its
            # parent's type): the page's last item waits for the next page, which shows
            # whether sub-items follow, so the store never takes a category for a product.
            last = sendable[-1]
            state["held"] = last.model_dump_json()
            sendable = sendable[:-1]
        out.queued += sendable
        if response.iterator_remaining:
            state.update(iterator=response.iterator_id, status="paging")
        else:
            state.update(iterator=None, status="done")
            if not state["unreadable"]:
                out.complete.append(kind)
    progress["read"] = int(progress.get("read", 0)) + len(out.queued)
    return out


def message_for(connection_id: str, record: Snapshot, now: datetime) -> SyncMessage:
    entity = entity_of(record)
    return SyncMessage(
        connection_id=connection_id,
        entity=entity,
        record_id=record.ledger_id,
        topic=f"qbd.{'item' if isinstance(record, LedgerItem) else 'customer'}.modified",
        modified_at=record.updated_at,
        version=record.version,
        received_at=now,
        source="qbwc",
    )


def watermark_of(progress: dict[str, Any], kind: str) -> str | None:
    """What a completed query's watermark becomes: its latest TimeModified (None: it returned
    nothing, the watermark stays)."""
    latest = progress["kinds"][kind]["latest"]
    return str(latest) if latest else None


class ChangeQueue:
    """Sends a session's ledger messages to the sync queue, ten to a request."""

    def __init__(self, queue_url: str, *, client: Any | None = None) -> None:
        self._url = queue_url
        self._client: Any = client or boto3.client("sqs")

    def send_all(self, messages: Sequence[SyncMessage]) -> None:
        """QueueUnavailable when SQS took not all of them (the caller keeps its watermark)."""
        for start_at in range(0, len(messages), _SQS_BATCH):
            batch = messages[start_at : start_at + _SQS_BATCH]
            entries = [
                {
                    "Id": str(n),
                    "MessageBody": m.model_dump_json(),
                    "MessageGroupId": m.group_id,
                    "MessageDeduplicationId": deduplication_id(m, m.version or ""),
                }
                for n, m in enumerate(batch)
            ]
            try:
                answer = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
            except (BotoCoreError, ClientError) as exc:
                raise QueueUnavailable(str(exc)) from exc
            failed = answer.get("Failed") or []
            if failed:
                raise QueueUnavailable(f"SQS refused {len(failed)} messages: {failed[0]}")


def now_utc() -> datetime:
    return datetime.now(UTC)

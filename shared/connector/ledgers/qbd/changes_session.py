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

Two more reads ride along, each with its own watermark: ``ListDeletedQuery`` for the items
deleted in QuickBooks (connector.ledgers.qbd.deleted_items), and, every
``stock_recount_hours``, a full read of inventory items' QuantityOnHand for stock moved by
transactions (connector.ledgers.qbd.stock_recount), planned once the modified-since
inventory query is done so both never compare against each other's half-written snapshots.
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
from connector.ledgers.qbd import deleted_items, stock_recount
from connector.ledgers.qbd.deleted_items import DeletedItem
from connector.ledgers.qbd.ledger_records import (
    UnreadableRecord,
    customer_from_ret,
    is_job,
    item_from_ret,
)
from connector.ledgers.qbd.qbxml_messages import QbRequest
from connector.ledgers.qbd.qbxml_queries import ChangesKind, changes_page, deleted_items_query
from connector.ledgers.qbd.qbxml_responses import STATUS_NO_MATCH, STATUS_OK, QbResponse
from connector.ledgers.qbd.snapshots import Snapshot, entity_of
from connector.ledgers.qbd.stock_recount import RECOUNT, Count
from connector.messages import SyncMessage
from connector.sync_queue import QueueUnavailable, deduplication_id

ITEM_QUERIES: tuple[ChangesKind, ...] = ("ItemInventory", "ItemNonInventory", "ItemService")
DELETED = "ListDeleted"  # the deleted-items query, and its watermark (latest TimeDeleted)
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


def _fresh(since: str | None) -> dict[str, Any]:
    return {
        "since": since,
        "iterator": None,
        "latest": None,
        "status": "todo",
        "unreadable": 0,
        "held": None,
    }


def start(
    connection: Connection, watermarks: dict[str, str], now: datetime | None = None
) -> dict[str, Any]:
    """A session's progress through the queries (kept in the session item, JSON)."""
    kinds: dict[str, dict[str, Any]] = {
        kind: _fresh(watermarks.get(kind)) for kind in wanted(connection)
    }
    if any(kind in kinds for kind in ITEM_QUERIES):
        kinds[DELETED] = _fresh(watermarks.get(DELETED))
    if stock_recount.due(connection, watermarks, now or now_utc()):
        kinds[RECOUNT] = _fresh(watermarks.get(RECOUNT))
    return {"read": 0, "kinds": kinds}


def plan(
    progress: dict[str, Any], connection: Connection, *, prefix: str
) -> tuple[list[QbRequest], dict[str, str]]:
    """The next page of each query still being read, within the message budget."""
    requests: list[QbRequest] = []
    purposes: dict[str, str] = {}
    kinds = progress.get("kinds", {})
    for kind, state in kinds.items():
        if state["status"] not in ("todo", "paging"):
            continue
        if kind == RECOUNT and kinds.get("ItemInventory", {}).get("status") in ("todo", "paging"):
            continue  # after the modified-since inventory query: one snapshot to compare with
        if len(requests) >= connection.qbd.max_requests_per_message:
            break
        request_id = f"{prefix}c{len(requests)}"
        if kind == DELETED:
            requests.append(
                deleted_items_query(request_id=request_id, deleted_since=state["since"])
            )
        else:
            requests.append(
                changes_page(
                    "ItemInventory" if kind == RECOUNT else kind,
                    request_id=request_id,
                    max_returned=connection.qbd.max_returned,
                    iterator_id=state["iterator"],
                    modified_since=None if kind == RECOUNT else state["since"],
                    include=stock_recount.FIELDS if kind == RECOUNT else (),
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
    deleted: list[DeletedItem] = field(default_factory=list)  # ListDeletedQuery's records
    counts: list[Count] = field(default_factory=list)  # the stock recount's records


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
        if kind == DELETED:
            _read_deleted(state, response, out)
            continue
        if kind == RECOUNT:
            _read_counts(state, response, out)
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


def _read_deleted(state: dict[str, Any], response: QbResponse, out: PageRead) -> None:
    """One answer, no iterator: the deleted items and the latest TimeDeleted."""
    for ret in response.rets:
        found = deleted_items.from_ret(ret)
        if found is None:
            state["unreadable"] += 1
            out.problems.append(f"ListDeletedQuery returned a record that cannot be read: {ret}")
            continue
        out.deleted.append(found)
        state["latest"] = _later(state["latest"], found.time_deleted)
    state.update(iterator=None, status="done")
    if not state["unreadable"]:
        out.complete.append(DELETED)


def _read_counts(state: dict[str, Any], response: QbResponse, out: PageRead) -> None:
    for ret in response.rets:
        found = stock_recount.count_of(ret)
        if found is None:
            state["unreadable"] += 1
            out.problems.append(f"the stock recount read a record that cannot be read: {ret}")
            continue
        out.counts.append(found)
    if response.iterator_remaining:
        state.update(iterator=response.iterator_id, status="paging")
    else:
        state.update(iterator=None, status="done")
        if not state["unreadable"]:
            out.complete.append(RECOUNT)


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


def watermarks_of(progress: dict[str, Any], kind: str, now: datetime) -> dict[str, str]:
    """What a completed query's watermarks become: its latest TimeModified (TimeDeleted for
    the deleted items; none when it returned nothing: the watermark stays); the recount's
    is when it ended, by the connector's clock. A whole read of the inventory items (no
    watermark yet) is a recount too."""
    state = progress["kinds"][kind]
    if kind == RECOUNT:
        return {RECOUNT: stock_recount.now_iso(now)}
    marks = {kind: str(state["latest"])} if state["latest"] else {}
    if kind == "ItemInventory" and not state["since"]:
        marks[RECOUNT] = stock_recount.now_iso(now)
    return marks


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

"""DynamoDB: each record's sync state, the append-only audit trail, id mappings, locks, OAuth states.

Keys (state table, pk / sk); the modules named keep their own items, every other one is here:
  <conn>#<entity>#<id>        / STATE        sync state of one store record
  <conn>#map#<kind>           / <key>        store key -> QuickBooks id (Desktop; refunds of an order)
  <conn>#<realm>#map#<kind>   / <key>        the same for one QuickBooks Online company (for_company)
  lock#<name>                 / LOCK         short leases; fenced ones (token refresh) keep a fence
  oauth#<state>               / STATE        single-use OAuth state, 10 minutes
  connect-link#<nonce>        / USED         a spent connect link (connector.ledgers.qbo.connect_links)
  <conn>#connection           / STATUS       connection health (needs reconnect)
  <conn>#reconcile            / POLL         the poll's watermarks and last run (connector.reconcile)
  <conn>#health               / HEALTH       what the functions last saw (connector.health)
  <conn>#unqueued             / <at>#<entity>#<id>  deliveries SQS refused (connector.unqueued)
  <conn>#backfill             / <since>..<until>    a backfill's checkpoint (connector.backfill)
  circuit#<realm>             / CIRCUIT      a QuickBooks company's circuit breaker (connector.circuit)
Audit table: <conn>#<entity>#<id> / <timestamp>#<random>: events in order, never updated,
each deleted by DynamoDB's TTL retention_days after it was written (expires_at).
"""

from __future__ import annotations

import copy
import secrets
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import boto3
from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from connector import dynamo_batch
from connector.dynamo_batch import Write
from connector.retention import DEFAULT_RETENTION_DAYS, expires_at

SyncStatus = Literal[
    "received", "queued", "posted", "skipped", "failed", "parked", "voided", "deleted"
]
AuditEventType = Literal[
    "received",
    "ignored",
    "queued",
    "fetched",
    "posted",
    "updated",
    "skipped",
    "voided",
    "deleted",
    "failed",
    "parked",
    "replayed",
    "total_mismatch",
    "tax_adjusted",
    "connected",
    # The callback refused a QuickBooks company other than the connection's (no tokens saved).
    "connect_refused",
    "token_refreshed",
    "needs_reconnect",
    "polled",
    "poll_failed",
    # The reconcile schedule's look at a connection's webhooks (connector.webhook_health).
    "webhooks_repaired",
    "webhooks_unhealthy",
]

# Statuses that wait for a person and a replay (connector.parked lists them).
PARKED_STATUSES: tuple[SyncStatus, ...] = ("parked", "failed")


def now_utc() -> datetime:
    return datetime.now(UTC)


class SyncState(BaseModel):
    """Where one store record stands with QuickBooks."""

    model_config = ConfigDict(extra="ignore")

    record_key: str
    status: SyncStatus
    content_hash: str | None = None
    store_modified_at: str | None = None
    ledger_id: str | None = None
    ledger_type: str | None = None
    sync_token: str | None = None
    doc_number: str | None = None
    ledger_total: str | None = None
    attempts: int = 0
    last_error: str | None = None
    # When the record last became parked (kept while it stays parked): `connector parked`.
    parked_at: str | None = None
    updated_at: str
    version: int = 0


class AuditEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    record_key: str
    at: str
    event: AuditEventType
    outcome: str
    ledger_id: str | None = None
    detail: dict[str, Any] = {}
    # When DynamoDB may delete the event (epoch seconds; connector.retention).
    expires_at: int | None = None


class PollMark(BaseModel):
    """Where a connection's poll of its store stands (connector.reconcile)."""

    # Built when first used (only the reconcile function does), not by every cold start.
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    # When the poll last ran, by our clock (decides when it is due again).
    last_run_at: datetime | None = None
    # Per entity, the latest modification time the store listed (the store's clock).
    watermarks: dict[str, datetime] = {}


class OAuthGrant(BaseModel):
    """What a consumed OAuth state was issued for."""

    # Built when first used (only the oauth function does), not by every cold start.
    model_config = ConfigDict(frozen=True, defer_build=True)

    connection_id: str
    # The connect link allowed moving the connection to another QuickBooks company.
    change_company: bool = False


class ConcurrentUpdate(Exception):
    """Another worker changed the sync state first; re-read and decide again."""


def _table(name: str, resource: Any | None) -> Any:
    return (resource or boto3.resource("dynamodb")).Table(name)


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB numbers come back as Decimal; integers become int again."""
    out: dict[str, Any] = {}
    for key, value in item.items():
        if isinstance(value, Decimal) and value == value.to_integral_value():
            out[key] = int(value)
        elif isinstance(value, Mapping):
            out[key] = _plain(value)
        else:
            out[key] = value
    return out


class StateStore:
    def __init__(self, table_name: str, *, resource: Any | None = None) -> None:
        self._table = _table(table_name, resource)
        self._company: str | None = None

    def for_company(self, realm_id: str) -> StateStore:
        """This store, with id mappings kept apart per QuickBooks company (realm id).

        A QuickBooks Online connection moved to another company must not use the old
        company's customer, item or tax-code ids; going back finds them again.
        """
        scoped = copy.copy(self)
        scoped._company = realm_id
        return scoped

    def _mapping_pk(self, connection_id: str, kind: str) -> str:
        if self._company:
            return f"{connection_id}#{self._company}#map#{kind}"
        return f"{connection_id}#map#{kind}"

    # --- sync state -------------------------------------------------------------
    def get_sync_state(self, record_key: str) -> SyncState | None:
        item = self._table.get_item(Key={"pk": record_key, "sk": "STATE"}, ConsistentRead=True)
        found = item.get("Item")
        return SyncState.model_validate(_plain(found)) if found else None

    def put_sync_state(self, state: SyncState) -> SyncState:
        """Write ``state`` if nobody wrote since it was read (optimistic, by version)."""
        now = _iso()
        parked_at = (state.parked_at or now) if state.status in PARKED_STATUSES else None
        new = state.model_copy(
            update={"version": state.version + 1, "updated_at": now, "parked_at": parked_at}
        )
        item = {"pk": state.record_key, "sk": "STATE", **new.model_dump(exclude_none=True)}
        condition = (
            Attr("pk").not_exists() if state.version == 0 else Attr("version").eq(state.version)
        )
        try:
            self._table.put_item(Item=item, ConditionExpression=condition)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ConcurrentUpdate(state.record_key) from None
            raise
        return new

    def change_sync_states(self, changes: Mapping[str, Mapping[str, Any]]) -> None:
        """Set some fields of several records' states (by record key), a record missing one
        getting a new state: one batched read, then one conditional put each, re-read and
        tried again when a worker wrote in between.
        """
        current = self.get_sync_states(changes)
        for key, fields in changes.items():
            state = current.get(key) or SyncState(
                record_key=key, status=fields.get("status", "received"), updated_at=_iso()
            )
            for _ in range(5):
                try:
                    self.put_sync_state(state.model_copy(update=dict(fields)))
                    break
                except ConcurrentUpdate:
                    state = self.get_sync_state(key) or state.model_copy(update={"version": 0})
            else:
                raise ConcurrentUpdate(key)

    def write_all(self, writes: Sequence[Write]) -> None:
        """Make writes built by any of the stores (they share one DynamoDB endpoint)."""
        dynamo_batch.write_all(self._table.meta.client, writes)

    def count_failure(self, record_key: str, delivery: str, *, keep_s: int) -> int:
        """How many times this delivery of the record has failed, this one included.

        The retry delay doubles per failure, not per receive: a record handed back while it
        waited for QuickBooks capacity was received without failing, and counting those
        receives stretched a later failure's delay far past the budget's intent. One atomic
        counter per delivery (``FAILURES#<delivery>``), gone ``keep_s`` after its last failure.
        """
        answer = self._table.update_item(
            Key={"pk": record_key, "sk": f"FAILURES#{delivery}"},
            UpdateExpression="ADD failures :one SET expires_at = :expires",
            ExpressionAttributeValues={":one": 1, ":expires": int(time.time()) + keep_s},
            ReturnValues="UPDATED_NEW",
        )
        return int(answer["Attributes"]["failures"])

    def get_sync_states(self, record_keys: Iterable[str]) -> dict[str, SyncState]:
        """Many records' states in a few round trips (BatchGetItem, 100 keys a call)."""
        items = self._batch_get([(key, "STATE") for key in dict.fromkeys(record_keys)])
        return {str(item["pk"]): SyncState.model_validate(_plain(item)) for item in items.values()}

    def get_mappings(self, connection_id: str, kind: str, keys: Iterable[str]) -> dict[str, str]:
        """Many mappings of one kind at once; keys without a mapping are left out."""
        pk = self._mapping_pk(connection_id, kind)
        items = self._batch_get([(pk, key) for key in dict.fromkeys(keys)])
        return {sk: str(item["ledger_id"]) for (_, sk), item in items.items()}

    def _batch_get(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        return dynamo_batch.get_many(self._table.meta.client, self._table.name, keys)

    def sync_states(self, connection_id: str, entity: str) -> Iterator[SyncState]:
        """Every record's state for a connection and entity (a scan: reports and tests only)."""
        prefix = f"{connection_id}#{entity}#"
        yield from self._scan_states(Attr("pk").begins_with(prefix) & Attr("sk").eq("STATE"))

    def parked_states(self, connection_id: str | None = None) -> Iterator[SyncState]:
        """Every parked record's state, of one connection or all (connector.parked).

        A scan with a filter: an operator's command, read far less often than the table is
        written, so no index is maintained on every write for it (decision log 43).
        """
        condition = Attr("sk").eq("STATE") & Attr("status").is_in(list(PARKED_STATUSES))
        if connection_id:
            condition = condition & Attr("pk").begins_with(f"{connection_id}#")
        yield from self._scan_states(condition, consistent=True)

    def _scan_states(self, condition: Any, *, consistent: bool = False) -> Iterator[SyncState]:
        """The sync states a filtered scan finds, page by page."""
        kwargs: dict[str, Any] = {"FilterExpression": condition}
        if consistent:
            kwargs["ConsistentRead"] = True
        while True:
            page = self._table.scan(**kwargs)
            for item in page.get("Items", []):
                yield SyncState.model_validate(_plain(item))
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # --- mappings (store key -> QuickBooks id) ----------------------------------------
    def get_mapping(self, connection_id: str, kind: str, key: str) -> str | None:
        item = self._table.get_item(
            Key={"pk": self._mapping_pk(connection_id, kind), "sk": key}
        ).get("Item")
        return str(item["ledger_id"]) if item else None

    def mappings(self, connection_id: str, kind: str) -> dict[str, str]:
        """Every mapping of one kind (one partition: a query, not a scan)."""
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(self._mapping_pk(connection_id, kind)),
            "ConsistentRead": True,
        }
        found: dict[str, str] = {}
        while True:
            page = self._table.query(**kwargs)
            found.update({str(i["sk"]): str(i["ledger_id"]) for i in page.get("Items", [])})
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def mapping_put(self, connection_id: str, kind: str, key: str, ledger_id: str) -> Write:
        item = {
            "pk": self._mapping_pk(connection_id, kind),
            "sk": key,
            "ledger_id": ledger_id,
            "updated_at": _iso(),
        }
        return dynamo_batch.put(self._table.name, item)

    def mapping_delete(self, connection_id: str, kind: str, key: str) -> Write:
        return dynamo_batch.delete(
            self._table.name, {"pk": self._mapping_pk(connection_id, kind), "sk": key}
        )

    def put_mapping(self, connection_id: str, kind: str, key: str, ledger_id: str) -> None:
        dynamo_batch.write_one(
            self._table.meta.client, self.mapping_put(connection_id, kind, key, ledger_id)
        )

    def delete_mapping(self, connection_id: str, kind: str, key: str) -> None:
        dynamo_batch.write_one(
            self._table.meta.client, self.mapping_delete(connection_id, kind, key)
        )

    # --- leases -----------------------------------------------------------------------
    def acquire_lock(self, name: str, owner: str, lease_s: int) -> bool:
        """Take the lease unless someone else holds an unexpired one."""
        now = int(time.time())
        try:
            self._table.put_item(
                Item={
                    "pk": f"lock#{name}",
                    "sk": "LOCK",
                    "owner": owner,
                    "expires_at": now + lease_s,
                },
                ConditionExpression=Attr("pk").not_exists()
                | Attr("expires_at").lt(now)
                | Attr("owner").eq(owner),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release_lock(self, name: str, owner: str) -> None:
        try:
            self._table.delete_item(
                Key={"pk": f"lock#{name}", "sk": "LOCK"},
                ConditionExpression=Attr("owner").eq(owner),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    # --- fenced leases (token refresh: connector.ledgers.qbo.tokens) -------------------
    def take_lease(self, name: str, owner: str, lease_s: int) -> int | None:
        """Take the lease unless someone else holds an unexpired one; return its fence.

        The fence grows by one with every taking and the item is never deleted, so a
        holder whose lease lapsed can tell (its fence or owner is no longer the item's).
        """
        now = int(time.time())
        try:
            item = self._table.update_item(
                Key={"pk": f"lock#{name}", "sk": "LOCK"},
                UpdateExpression="SET #owner = :owner, expires_at = :until ADD fence :one",
                ConditionExpression=Attr("pk").not_exists() | Attr("expires_at").lt(now),
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": owner, ":until": now + lease_s, ":one": 1},
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return int(item["fence"])

    def renew_lease(self, name: str, owner: str, fence: int, lease_s: int) -> bool:
        """Extend our unexpired lease; False when it lapsed or someone else took it."""
        now = int(time.time())
        try:
            self._table.update_item(
                Key={"pk": f"lock#{name}", "sk": "LOCK"},
                UpdateExpression="SET expires_at = :until",
                ConditionExpression=Attr("owner").eq(owner)
                & Attr("fence").eq(fence)
                & Attr("expires_at").gte(now),
                ExpressionAttributeValues={":until": now + lease_s},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def lease_left(self, name: str, owner: str, fence: int) -> float:
        """Seconds our lease still runs (strongly consistent); 0 when it is not ours."""
        item = self._table.get_item(
            Key={"pk": f"lock#{name}", "sk": "LOCK"}, ConsistentRead=True
        ).get("Item")
        if not item or item.get("owner") != owner or int(item.get("fence", 0)) != fence:
            return 0.0
        return max(0.0, float(int(item["expires_at"])) - time.time())

    def end_lease(self, name: str, owner: str, fence: int) -> None:
        """Give the lease up early; the item (and its fence) stays."""
        try:
            self._table.update_item(
                Key={"pk": f"lock#{name}", "sk": "LOCK"},
                UpdateExpression="SET expires_at = :gone",
                ConditionExpression=Attr("owner").eq(owner) & Attr("fence").eq(fence),
                ExpressionAttributeValues={":gone": 0},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    # --- the poll's watermarks (connector.reconcile) ----------------------------------------
    def poll_mark(self, connection_id: str) -> PollMark | None:
        item = self._table.get_item(
            Key={"pk": f"{connection_id}#reconcile", "sk": "POLL"}, ConsistentRead=True
        ).get("Item")
        return PollMark.model_validate(_plain(item)) if item else None

    def put_poll_mark(self, connection_id: str, mark: PollMark) -> None:
        self._table.put_item(
            Item={
                "pk": f"{connection_id}#reconcile",
                "sk": "POLL",
                **mark.model_dump(mode="json", exclude_none=True),
            }
        )

    # --- OAuth states -----------------------------------------------------------------
    def spend_connect_nonce(self, nonce: str, expires_at: int) -> bool:
        """Mark a connect link's nonce used; False when it was used before (a conditional
        put, so of two visits at once only one goes on to Intuit)."""
        try:
            self._table.put_item(
                Item={
                    "pk": f"connect-link#{nonce}",
                    "sk": "USED",
                    "used_at": _iso(),
                    # Kept a day past the link's expiry (the signature refuses it after that).
                    "expires_at": expires_at + 24 * 3600,
                },
                ConditionExpression=Attr("pk").not_exists(),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def create_oauth_state(
        self, connection_id: str, ttl_s: int = 600, *, change_company: bool = False
    ) -> str:
        state = secrets.token_urlsafe(32)
        self._table.put_item(
            Item={
                "pk": f"oauth#{state}",
                "sk": "STATE",
                "connection_id": connection_id,
                "change_company": change_company,
                "expires_at": int(time.time()) + ttl_s,
            }
        )
        return state

    def consume_oauth_state(self, state: str) -> OAuthGrant | None:
        """What a state was issued for, once; None when unknown, used or expired."""
        try:
            old = self._table.delete_item(
                Key={"pk": f"oauth#{state}", "sk": "STATE"},
                ConditionExpression=Attr("pk").exists(),
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        item = old.get("Attributes") or {}
        # TTL deletion lags by up to days, so expiry is checked here, not trusted to DynamoDB.
        if int(item.get("expires_at", 0)) < time.time():
            return None
        return OAuthGrant(
            connection_id=str(item["connection_id"]),
            change_company=bool(item.get("change_company", False)),
        )

    # --- connection health -------------------------------------------------------------
    def set_connection_status(self, connection_id: str, status: str, message: str) -> None:
        self._table.put_item(
            Item={
                "pk": f"{connection_id}#connection",
                "sk": "STATUS",
                "status": status,
                "message": message,
                "updated_at": _iso(),
            }
        )

    def connection_status(self, connection_id: str) -> tuple[str, str] | None:
        item = self._table.get_item(Key={"pk": f"{connection_id}#connection", "sk": "STATUS"})
        found = item.get("Item")
        return (str(found["status"]), str(found["message"])) if found else None


class AuditTrail:
    """Append-only: events are put with a fresh sort key and never updated; each expires
    ``retention_days`` (the tenant file's) after it was written."""

    def __init__(
        self,
        table_name: str,
        *,
        resource: Any | None = None,
        retention_days: int = DEFAULT_RETENTION_DAYS,
    ) -> None:
        self._table = _table(table_name, resource)
        self._retention_days = retention_days

    def append(
        self,
        record_key: str,
        event: AuditEventType,
        outcome: str,
        *,
        ledger_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        write = self.event_put(record_key, event, outcome, ledger_id=ledger_id, detail=detail)
        dynamo_batch.write_one(self._table.meta.client, write)

    def event_put(
        self,
        record_key: str,
        event: AuditEventType,
        outcome: str,
        *,
        ledger_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> Write:
        """The write that appends an event (batchable: it needs no condition)."""
        entry = AuditEvent(
            record_key=record_key,
            at=_iso(),
            event=event,
            outcome=outcome,
            ledger_id=ledger_id,
            detail=dict(detail or {}),
            expires_at=expires_at(self._retention_days),
        )
        # Never over an earlier event: the sort key is the time plus 64 random bits.
        item = {
            "pk": record_key,
            "sk": f"{entry.at}#{secrets.token_hex(8)}",
            **entry.model_dump(exclude_none=True),
        }
        return dynamo_batch.put(self._table.name, item)

    def events(self, record_key: str) -> list[AuditEvent]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(record_key)}
        while True:
            page = self._table.query(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return [AuditEvent.model_validate(_plain(i)) for i in items]


def _iso() -> str:
    return now_utc().isoformat(timespec="microseconds")

"""Web Connector sessions and failed-login counts in DynamoDB (SESSION_TABLE).

Every SOAP call is a new Lambda invocation, so everything a session knows lives
here. Keys (pk / sk):
  ticket#<ticket>        / SESSION   one session: its connection, drain progress, last error
  active#<connection>    / LEASE     which ticket may drain the connection now
  logins#<connection>    / FAILURES  bad logins in the current window (they slow the next
                                     answer, qbwc_logins; nothing is ever locked out)
  msgset#<connection>    / <set id>  what a qbXML message asked for, until its answer is read
  msgset#<connection>    / LATEST    the last message set sent with a newMessageSetID
Items carry ``expires_at`` (TTL); expiry is also checked on read because TTL
deletion lags.

One session per connection: a second authenticate while another session is alive
answers "busy" (with a postpone hint). A session counts as alive until
ACTIVE_TIMEOUT_S after its last call, long enough for QuickBooks to start and
answer one message, short enough that a PC that crashed mid-session does not keep
the next scheduled run out for long (consolibyte blocks for 60 s; QuickBooks can
take tens of seconds to open a company file). A ticket is good exactly as long:
every call with one renews the lease first (``renew``) and is refused once it has
lapsed, so a session that went quiet can never write beside the one that took over.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import boto3
from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from connector import dynamo_batch
from connector.dynamo_batch import Write
from connector.ledgers.qbd.drain_facts import bound_facts

SESSION_TTL_S = 4 * 3600
ACTIVE_TIMEOUT_S = 300
LOGIN_WINDOW_S = 15 * 60
MESSAGE_SET_TTL_S = 30 * 24 * 3600
_LATEST = "LATEST"  # set ids are lower-case hex and digits, so this sort key is free


class Session(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ticket: str
    connection_id: str
    created_at: float
    last_seen: float
    # Drain progress, all JSON: see connector.ledgers.qbd.drain.
    in_flight: dict[str, Any] | None = None  # the message QuickBooks is working on
    prepared: dict[str, Any] | None = None  # the next message, planned with the last answer
    facts: dict[str, Any] = Field(default_factory=dict)  # bounded: drain_facts
    deferred: list[int] = Field(default_factory=list)  # outbox seqs left for the next session
    retries: dict[str, int] = Field(default_factory=dict)  # "<seq>:<why>" -> times re-planned
    recovered: bool = False  # a lost answer (last session's, or this one's) was asked for
    total: int = 0  # entries waiting when the session began
    finished: int = 0  # entries done, parked or deferred since
    posted: int = 0
    parked: int = 0
    messages: int = 0
    # The QuickBooks → store queries' progress (connector.ledgers.qbd.changes_session).
    changes: dict[str, Any] = Field(default_factory=dict)
    last_error: str = ""
    closed: bool = False
    version: int = 0


def _table(name: str, resource: Any | None) -> Any:
    return (resource or boto3.resource("dynamodb")).Table(name)


def _conditional(exc: ClientError) -> bool:
    return bool(exc.response["Error"]["Code"] == "ConditionalCheckFailedException")


class SessionStore:
    def __init__(
        self,
        table_name: str,
        *,
        resource: Any | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = _table(table_name, resource)
        self._clock = clock

    # --- failed logins -----------------------------------------------------------------
    def record_failure(self, connection_id: str) -> int:
        """Count a bad login; a new window starts when the last one has passed."""
        now = self._clock()
        key = {"pk": f"logins#{connection_id}", "sk": "FAILURES"}
        try:
            answer = self._table.update_item(
                Key=key,
                UpdateExpression="ADD #c :one",
                ConditionExpression=Attr("window_start").gte(int(now - LOGIN_WINDOW_S)),
                ExpressionAttributeNames={"#c": "count"},
                ExpressionAttributeValues={":one": 1},
                ReturnValues="ALL_NEW",
            )
            return int(answer["Attributes"]["count"])
        except ClientError as exc:
            if not _conditional(exc):
                raise
        self._table.put_item(
            Item={
                **key,
                "count": 1,
                "window_start": int(now),
                "expires_at": int(now) + LOGIN_WINDOW_S * 2,
            }
        )
        return 1

    # --- sessions --------------------------------------------------------------------
    def active_until(self, connection_id: str) -> float | None:
        """When the connection's live session stops counting as alive (None: there is none)."""
        item = self._table.get_item(
            Key={"pk": f"active#{connection_id}", "sk": "LEASE"}, ConsistentRead=True
        ).get("Item")
        if not item or float(item["alive_until"]) < self._clock():
            return None
        return float(item["alive_until"])

    def open(self, connection_id: str, *, total: int) -> Session | None:
        """A new session holding the connection's lease; None when another one is alive."""
        now = self._clock()
        ticket = secrets.token_urlsafe(32)
        try:
            self._table.put_item(
                Item={
                    "pk": f"active#{connection_id}",
                    "sk": "LEASE",
                    "ticket": ticket,
                    "alive_until": int(now) + ACTIVE_TIMEOUT_S,
                    "expires_at": int(now) + SESSION_TTL_S,
                },
                ConditionExpression=Attr("pk").not_exists() | Attr("alive_until").lt(int(now)),
            )
        except ClientError as exc:
            if _conditional(exc):
                return None
            raise
        session = Session(
            ticket=ticket, connection_id=connection_id, created_at=now, last_seen=now, total=total
        )
        return self._write(session, new=True)

    def get(self, ticket: str) -> Session | None:
        """The session for a ticket, if it exists, is open and has not expired."""
        if not ticket:
            return None
        item = self._table.get_item(
            Key={"pk": f"ticket#{ticket}", "sk": "SESSION"}, ConsistentRead=True
        ).get("Item")
        if not item or int(item["expires_at"]) < self._clock():
            return None
        session = Session.model_validate(json.loads(str(item["body"])))
        return session.model_copy(update={"version": int(item["version"])})

    def save(self, session: Session) -> Session:
        """Write the session back (it was read at ``session.version``). Its lease was renewed
        when the call began (QbwcService), ACTIVE_TIMEOUT_S ahead of a call of seconds."""
        return self._write(session, new=False)

    def renew(self, session: Session) -> bool:
        """Hold the connection's lease for another ACTIVE_TIMEOUT_S, if this session still
        holds it; False when it lapsed or another session took it, and then the ticket is
        good for nothing more. A lapsed lease is never revived, even when nobody took it:
        the Web Connector may already have given up on the session."""
        now = int(self._clock())
        try:
            self._table.update_item(
                Key={"pk": f"active#{session.connection_id}", "sk": "LEASE"},
                UpdateExpression="SET alive_until = :until, expires_at = :expires",
                ConditionExpression=Attr("ticket").eq(session.ticket)
                & Attr("alive_until").gte(now),
                ExpressionAttributeValues={
                    ":until": now + ACTIVE_TIMEOUT_S,
                    # A session longer than SESSION_TTL_S must not lose its lease item to TTL.
                    ":expires": now + SESSION_TTL_S,
                },
            )
        except ClientError as exc:
            if _conditional(exc):
                return False
            raise
        return True

    def close(self, session: Session) -> Session:
        closed = self._write(session.model_copy(update={"closed": True}), new=False)
        try:
            self._table.delete_item(
                Key={"pk": f"active#{session.connection_id}", "sk": "LEASE"},
                ConditionExpression=Attr("ticket").eq(session.ticket),
            )
        except ClientError as exc:
            if not _conditional(exc):
                raise
        return closed

    def _write(self, session: Session, *, new: bool) -> Session:
        # An item holds 400 KB: the facts are a cache, their oldest let go (drain_facts).
        bound_facts(session.facts)
        now = self._clock()
        stored = session.model_copy(update={"last_seen": now, "version": session.version + 1})
        condition = Attr("pk").not_exists() if new else Attr("version").eq(session.version)
        self._table.put_item(
            Item={
                "pk": f"ticket#{session.ticket}",
                "sk": "SESSION",
                "connection_id": session.connection_id,
                "version": stored.version,
                "body": stored.model_dump_json(exclude={"version"}),
                "expires_at": int(now) + SESSION_TTL_S,
            },
            ConditionExpression=condition,
        )
        return stored

    # --- message sets ---------------------------------------------------------------------
    def message_set_writes(
        self, connection_id: str, message_set_id: str, purposes: dict[str, Any]
    ) -> list[Write]:
        """What a message asked for, so a later session can read its recovered answer, and
        that it is now the latest: QuickBooks keeps the answer of that one only."""
        expires_at = int(self._clock()) + MESSAGE_SET_TTL_S
        pk = f"msgset#{connection_id}"
        return [
            dynamo_batch.put(
                self._table.name,
                {
                    "pk": pk,
                    "sk": message_set_id,
                    "purposes": json.dumps(purposes),
                    "expires_at": expires_at,
                },
            ),
            dynamo_batch.put(
                self._table.name,
                {
                    "pk": pk,
                    "sk": _LATEST,
                    "message_set_id": message_set_id,
                    "expires_at": expires_at,
                },
            ),
        ]

    def unanswered_message_set(self, connection_id: str) -> str | None:
        """The message set to ask QuickBooks about: the latest one, while its answer is unread.

        Not the one of the newest waiting entry: after two lost answers that may be the
        first set, which QuickBooks has forgotten (it answers 600 and recovers nothing).
        When the latest answer was read, an older lost one cannot be recovered any more;
        its entries are found by their RefNumber instead.
        """
        latest = self._table.get_item(
            Key={"pk": f"msgset#{connection_id}", "sk": _LATEST}, ConsistentRead=True
        ).get("Item")
        if not latest:
            return None
        message_set_id = str(latest["message_set_id"])
        return message_set_id if self.message_set(connection_id, message_set_id) else None

    def message_set(self, connection_id: str, message_set_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(
            Key={"pk": f"msgset#{connection_id}", "sk": message_set_id}, ConsistentRead=True
        ).get("Item")
        return json.loads(str(item["purposes"])) if item else None

    def forget_message_set(self, connection_id: str, message_set_id: str) -> None:
        self._table.delete_item(Key={"pk": f"msgset#{connection_id}", "sk": message_set_id})

"""The QuickBooks Web Connector service: POST /qbwc/{connection_id}, SOAP 1.1 (Intuit's QBWC WSDL).

The Web Connector calls serverVersion, clientVersion, authenticate, then
sendRequestXML / receiveResponseXML until we answer 100 (or an error), then
closeConnection; getLastError and connectionError when something went wrong.
Each call is its own Lambda invocation, so the session (ticket, what was sent,
what QuickBooks has told us) lives in DynamoDB (qbwc_sessions), the work in the
outbox, and the outcome in the sync state and audit trail like any other post.

Web Connector versions: below MIN_CLIENT_VERSION (2.1.0.30, the oldest still
offered by Intuit with TLS 1.2) we refuse ("E:"); below WARN_CLIENT_VERSION we
warn ("W:") and carry on.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from connector.config import Connection, QbdLedger, TenantConfig
from connector.dynamo_batch import Write
from connector.errors import PermanentError
from connector.health import HealthMarks, now_moment
from connector.ledger_records import LedgerItem
from connector.ledgers.qbd import changes_session, deleted_items, drain, qbxml, stock_recount
from connector.ledgers.qbd.changes_session import ChangeQueue
from connector.ledgers.qbd.outbox import (
    WAITING,
    OutboxEntry,
    OutboxStore,
    PaymentPayload,
    RefundPayload,
    marked,
    order_of,
    order_record_key,
)
from connector.ledgers.qbd.password import same_user, verify_password
from connector.ledgers.qbd.preferences import company_preferences
from connector.ledgers.qbd.qbwc_logins import login_delay
from connector.ledgers.qbd.qbwc_sessions import ACTIVE_TIMEOUT_S, Session, SessionStore
from connector.ledgers.qbd.qbwc_soap import (
    SoapCall,
    SoapFault,
    parse_call,
    render_fault,
    render_result,
)
from connector.ledgers.qbd.settlement import COMPANY_MAPPING, Settler
from connector.ledgers.qbd.snapshots import SnapshotStore
from connector.model import Customer, Order
from connector.observability import logger, metrics
from connector.secrets import SecretVault
from connector.state import AuditTrail, StateStore
from connector.sync_queue import QueueUnavailable

if TYPE_CHECKING:
    from connector.runtime import Runtime

SERVER_VERSION = "ml-connector QBWC service 1.0"
MIN_CLIENT_VERSION = (2, 1, 0, 30)
WARN_CLIENT_VERSION = (2, 2, 0, 0)
# What the audit trail says of a record the session queued for these reasons.
GONE = "deleted in QuickBooks Desktop (ListDeletedQuery): the store product is taken out of sale"
RECOUNTED = (
    "stock changed in QuickBooks Desktop by a transaction (the full stock read; the item "
    "itself was not edited)"
)
MAX_UNPROCESSED = 3  # messages QuickBooks failed to process (hresult) before an entry parks
NVU, NONE, BUSY = "nvu", "none", "busy"
# What a ticket whose session lease lapsed is told (getLastError, closeConnection): its
# sendRequestXML got "" and its receiveResponseXML -1, which end the Web Connector's run.
ENDED = (
    f"This session expired: no call for {ACTIVE_TIMEOUT_S // 60} minutes. Nothing is lost; "
    "the next scheduled run starts a new session and picks up what was left."
)


@dataclass(frozen=True)
class SoapAnswer:
    status: int
    body: str


def _version(text: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(p) for p in text.strip().split("."))
    except ValueError:
        return None


class QbwcService:
    def __init__(
        self,
        *,
        config: TenantConfig,
        vault: SecretVault,
        sessions: SessionStore,
        outbox: OutboxStore,
        state: StateStore,
        audit: AuditTrail,
        clock: Callable[[], float] = time.time,
        health: HealthMarks | None = None,
        sleep: Callable[[float], None] = time.sleep,
        delay_scale: float = 1.0,
        snapshots: SnapshotStore | None = None,
        change_queue: ChangeQueue | None = None,
    ) -> None:
        self._config = config
        # The QuickBooks → store direction (issue #13): without both, sessions ask nothing new.
        self._snapshots = snapshots
        self._change_queue = change_queue
        self._health = health
        self._vault = vault
        self._sessions = sessions
        self._outbox = outbox
        self._state = state
        self._audit = audit
        self._settler = Settler(outbox=outbox, state=state, audit=audit)
        self._clock = clock
        self._sleep = sleep
        # The local runtime's retry scale: a wrong login there waits milliseconds, not seconds.
        self._delay_scale = delay_scale

    @classmethod
    def from_runtime(cls, runtime: Runtime) -> QbwcService:
        return cls(
            config=runtime.config,
            vault=runtime.vault,
            sessions=SessionStore(runtime.settings.session_table, resource=runtime.dynamodb),
            outbox=runtime.require_outbox(),
            state=runtime.state,
            audit=runtime.audit,
            health=HealthMarks(runtime.settings.state_table, resource=runtime.dynamodb),
            delay_scale=runtime.settings.retry_scale,
            snapshots=SnapshotStore(
                runtime.settings.state_table,
                resource=runtime.dynamodb,
                retention_days=runtime.config.retention_days,
            ),
            change_queue=ChangeQueue(runtime.settings.sync_queue_url, client=runtime.sqs),
        )

    # --- the door -----------------------------------------------------------------------
    def handle(self, connection_id: str, body: bytes) -> SoapAnswer:
        """One SOAP call; faults for what is not a call we serve, never a stack trace."""
        try:
            call = parse_call(body)
        except SoapFault as fault:
            logger.warning("QBWC request refused", fault=fault.message)
            return SoapAnswer(fault.status, render_fault(fault.code, fault.message))
        logger.append_keys(connection_id=connection_id, qbwc_method=call.method)
        try:
            value = self._dispatch(connection_id, call)
        except SoapFault as fault:
            return SoapAnswer(fault.status, render_fault(fault.code, fault.message))
        except Exception:
            logger.exception("QBWC call failed")
            return SoapAnswer(500, render_fault("Server", "the service failed; it will be retried"))
        self._note_contact(connection_id)
        return SoapAnswer(200, render_result(call.method, value))

    def _note_contact(self, connection_id: str) -> None:
        """The Web Connector was here (connector status; silence past 3 runs alarms)."""
        if self._qbd(connection_id) is not None:
            self._note(connection_id, qbwc_last_contact_at=now_moment())

    def _note(self, connection_id: str, **moments: datetime) -> None:
        if self._health is None:
            return
        try:
            self._health.note(connection_id, **moments)
        except (BotoCoreError, ClientError) as exc:
            # The exchange is done; a missed note must not fail the Web Connector's call.
            logger.warning("could not note the Web Connector's visit", error=str(exc))

    def _dispatch(self, connection_id: str, call: SoapCall) -> str | int | list[str]:
        method = call.method
        if method == "serverVersion":
            return SERVER_VERSION
        if method == "clientVersion":
            return self.client_version(call.text("strVersion"))
        if method == "authenticate":
            return self.authenticate(
                connection_id, call.text("strUserName"), call.text("strPassword")
            )
        if method == "sendRequestXML":
            return self.send_request_xml(
                connection_id,
                call.text("ticket"),
                call.number("qbXMLMajorVers"),
                call.number("qbXMLMinorVers"),
                hcp=call.text("strHCPResponse"),
                country=call.text("qbXMLCountry"),
            )
        if method == "receiveResponseXML":
            return self.receive_response_xml(
                connection_id,
                call.text("ticket"),
                call.text("response"),
                call.text("hresult"),
                call.text("message"),
            )
        if method == "getLastError":
            return self.get_last_error(connection_id, call.text("ticket"))
        if method == "connectionError":
            return self.connection_error(
                connection_id, call.text("ticket"), call.text("hresult"), call.text("message")
            )
        return self.close_connection(connection_id, call.text("ticket"))

    # --- version handshake ------------------------------------------------------------------
    @staticmethod
    def client_version(text: str) -> str:
        version = _version(text)
        if version is None:
            return ""  # an unusual version string is no reason to stop the merchant's sync
        shown = ".".join(str(p) for p in MIN_CLIENT_VERSION)
        if version < MIN_CLIENT_VERSION:
            return f"E:This Web Connector ({text}) is too old; install version {shown} or later from Intuit."
        if version < WARN_CLIENT_VERSION:
            return f"W:Web Connector {text} works, but an update from Intuit is recommended."
        return ""

    # --- login ---------------------------------------------------------------------------
    def _qbd(self, connection_id: str) -> Connection | None:
        connection = self._config.connection(connection_id)
        if connection is None or not isinstance(connection.ledger, QbdLedger):
            return None
        return connection

    def authenticate(self, connection_id: str, user: str, password: str) -> list[str]:
        decoy = secrets.token_urlsafe(32)  # the Web Connector wants a ticket even when refused
        connection = self._qbd(connection_id)
        if connection is None:
            logger.warning("QBWC login for a connection that is not a Desktop connection")
            return [decoy, NVU]
        try:
            stored = self._vault.qbd(connection_id).password_hash
        except PermanentError as exc:
            logger.warning("QBWC login refused", reason=exc.reason)
            return [decoy, NVU]
        # Both checks run every time, so a wrong user name costs as long as a wrong password.
        user_ok = same_user(user, connection.qbd.user_name)
        password_ok = verify_password(password, stored)
        if user_ok and not password_ok:
            # The hash is cached for minutes; a password rotated since must work at once.
            fresh = self._vault.qbd(connection_id, fresh=True).password_hash
            password_ok = fresh != stored and verify_password(password, fresh)
        if not (user_ok and password_ok):
            self._slow_down(connection_id)
            return [decoy, NVU]
        # The right password never waits and never resets the count: the merchant's own
        # scheduled logins must not give a guesser back his short delays.
        waiting = self._outbox.count_waiting(connection_id)
        if waiting == 0 and not self._reads_changes(connection):
            return [decoy, NONE]
        session = self._sessions.open(connection_id, total=waiting)
        if session is None:
            until = self._sessions.active_until(connection_id) or self._clock()
            postpone = max(1, int(until - self._clock()))
            logger.info("QBWC login while another session is alive", postpone_s=postpone)
            return [decoy, BUSY, str(postpone)]
        logger.info("QBWC session opened", waiting=waiting)
        return [session.ticket, ""]

    def _reads_changes(self, connection: Connection) -> bool:
        """Whether sessions ask QuickBooks for changed items or customers (``sync``)."""
        return bool(
            self._snapshots is not None
            and self._change_queue is not None
            and changes_session.wanted(connection)
        )

    def _slow_down(self, connection_id: str) -> None:
        """A wrong login: count it, then hold the answer (qbwc_logins), never lock out."""
        failures = self._sessions.record_failure(connection_id)
        delay_s = login_delay(failures)
        logger.warning(
            "QBWC login refused: bad user name or password; answer delayed",
            failures=failures,
            delay_s=delay_s,
        )
        metrics.add_metric(name="WebConnectorLoginFailed", unit="Count", value=1)
        self._sleep(delay_s * self._delay_scale)

    def _known(self, connection_id: str, ticket: str) -> Session | None:
        """The open session a ticket names, whether or not its lease still holds."""
        session = self._sessions.get(ticket)
        if session is None or session.connection_id != connection_id or session.closed:
            return None
        return session

    def _session(self, connection_id: str, ticket: str) -> Session | None:
        """The ticket's session, its lease renewed for this call; None when the ticket is
        unknown or its lease lapsed (the Web Connector is then told the session ended)."""
        session = self._known(connection_id, ticket)
        if session is None:
            return None
        if not self._sessions.renew(session):
            logger.warning(
                "QBWC ticket refused: its session's lease lapsed",
                idle_s=int(self._clock() - session.last_seen),
            )
            return None
        return session

    # --- the exchange ----------------------------------------------------------------------
    # Each round plans once: receiveResponseXML records QuickBooks' answer and prepares
    # the next message (its percentage says whether there is one), and the following
    # sendRequestXML hands that message out. Only the first call of a session, or one
    # after a lost answer, plans in sendRequestXML itself.
    def send_request_xml(
        self,
        connection_id: str,
        ticket: str,
        major: int | None,
        minor: int | None,
        *,
        hcp: str = "",
        country: str = "",
    ) -> str:
        session = self._session(connection_id, ticket)
        connection = self._qbd(connection_id)
        if session is None or connection is None:
            return ""
        if country:
            session.facts["country"] = country
        if "company" not in session.facts:
            self._learn_company(session, connection, hcp)
        wanted = connection.qbd.qbxml_version
        if major is not None and major > 0 and (major, minor or 0) < _qbxml_tuple(wanted):
            session.last_error = (
                f"This QuickBooks supports qbXML {major}.{minor or 0}; the connection is set to "
                f"{wanted}. Set qbxml_version in the tenant file to a version it supports."
            )
            self._sessions.save(session)
            return ""
        if session.in_flight is not None:
            # The answer to the previous message never came: its entries stay "sent"
            # (outcome unknown) and are pre-checked by RefNumber before any new Add; if it
            # wrote, the next message asks QuickBooks for its answer.
            session.recovered = session.recovered and not session.in_flight.get("written")
            if session.in_flight.get("changes"):
                changes_session.restart(session.changes, session.in_flight["purposes"])
            session.in_flight = None
            session.prepared = None
        message = session.prepared or self._plan_message(session, connection)
        session.prepared = None
        xml = self._hand_out(session, connection, message) if message else ""
        self._sessions.save(session)
        return xml

    def _learn_company(self, session: Session, connection: Connection, hcp: str) -> None:
        """The company's preferences (currency, class tracking): from the first call's
        strHCPResponse (its PreferencesQueryRs), else as cached for the connection; else the
        planner asks."""
        country = str(session.facts.get("country") or "US")
        if hcp.strip():
            try:
                answer = qbxml.parse_response(hcp)
            except Exception as exc:  # an unreadable HCP answer only costs a PreferencesQuery
                logger.info("strHCPResponse not readable", error=str(exc))
            else:
                for response in answer.responses:
                    if response.kind == "PreferencesQueryRs" and response.ret:
                        company = company_preferences(response.ret, country)
                        session.facts["company"] = company.to_json()
                        session.facts["company_read"] = True
                        return
        kind, key = COMPANY_MAPPING
        cached = self._state.get_mappings(connection.id, kind, [key]).get(key)
        if cached:
            session.facts["company"] = json.loads(cached)
            session.facts["company_cached"] = cached

    def _plan_message(self, session: Session, connection: Connection) -> dict[str, Any] | None:
        """The next qbXML message, or None when nothing more needs QuickBooks this session."""
        old_id: str | None = None
        if not session.recovered:
            session.recovered = True
            old_id = self._sessions.unanswered_message_set(connection.id)
        for _ in range(50):
            works = self._works(session, connection)
            if not works:
                return self._plan_changes(session, connection)
            message_id = f"{secrets.token_hex(4)}{session.messages + 1:04d}"
            plan = drain.plan(works, session.facts, connection, prefix=message_id)
            self._settler.settle(session, connection, plan.decisions)
            if not plan.requests:
                if plan.decisions:
                    continue  # decided without QuickBooks: plan the rest
                return self._plan_changes(session, connection)
            xml = qbxml.render_message(
                plan.requests,
                version=connection.qbd.qbxml_version,
                on_error="continueOnError",
                new_message_set_id=message_id if plan.has_writes else None,
                old_message_set_id=old_id,
            )
            return {
                "id": message_id,
                "xml": _pack_text(xml),
                "purposes": plan.purposes,
                "written": plan.written,
                "old": old_id,
            }
        return None

    def _plan_changes(self, session: Session, connection: Connection) -> dict[str, Any] | None:
        """After the outbox work: the next page of each QuickBooks → store query, if any."""
        if self._snapshots is None or not self._reads_changes(connection):
            return None
        if not session.changes:
            session.changes = changes_session.start(
                connection, self._snapshots.watermarks(connection.id)
            )
        message_id = f"{secrets.token_hex(4)}{session.messages + 1:04d}"
        requests, purposes = changes_session.plan(session.changes, connection, prefix=message_id)
        if not requests:
            return None
        # Queries only: nothing to recover if the answer is lost (restart asks again).
        xml = qbxml.render_message(
            requests, version=connection.qbd.qbxml_version, on_error="continueOnError"
        )
        return {
            "id": message_id,
            "xml": _pack_text(xml),
            "purposes": purposes,
            "written": [],
            "old": None,
            "changes": True,
        }

    def _read_changes(
        self, session: Session, connection: Connection, purposes: dict[str, str], answer: Any
    ) -> None:
        """Keep what QuickBooks returned: snapshots, then sync messages, then watermarks."""
        if self._snapshots is None or self._change_queue is None:
            return
        home = (session.facts.get("company") or {}).get("home")
        page = changes_session.read(
            session.changes, purposes, answer.responses, currency=home or None
        )
        now = changes_session.now_utc()
        complete = list(page.complete)
        held = self._held(connection.id, page)
        gone = deleted_items.gone(page.deleted, held)
        recounted = stock_recount.changed(page.counts, held, now)
        session.changes["read"] = int(session.changes.get("read", 0)) + len(gone) + len(recounted)
        if page.kept or page.queued or gone or recounted:
            # Parents first: the worker must find an item's sub-items' mark when it reads it.
            writes = self._snapshots.parent_puts(connection.id, page.kept)
            writes += self._snapshots.snapshot_puts(connection.id, page.kept)
            writes += self._snapshots.snapshot_puts(connection.id, recounted)
            writes += self._snapshots.snapshot_puts(connection.id, gone, deleted=True)
            why = {r.ledger_id: RECOUNTED for r in recounted} | {r.ledger_id: GONE for r in gone}
            queued = [*page.queued, *recounted, *gone]
            messages = [changes_session.message_for(connection.id, r, now) for r in queued]
            writes += [
                self._audit.event_put(
                    m.record_key,
                    "received",
                    why.get(m.record_id, "brought back by the Web Connector session"),
                    ledger_id=m.record_id,
                    detail={"edit_sequence": m.version or ""},
                )
                for m in messages
            ]
            self._snapshots.write_all(writes)
            try:
                self._change_queue.send_all(messages)
            except QueueUnavailable as exc:
                # The snapshots stay; the watermarks do not move, so the next session sends again.
                page.problems.append(f"the sync queue refused QuickBooks changes: {exc}")
                if recounted:
                    # The counts are compared with the snapshots: put the old ones back so
                    # the next recount finds the same difference and queues it again.
                    before = [held[r.ledger_id][0] for r in recounted]
                    self._snapshots.write_all(self._snapshots.snapshot_puts(connection.id, before))
                for state in session.changes["kinds"].values():
                    if state["status"] != "done":
                        state.update(status="failed", held=None)
                complete = []
        for kind in complete:
            for query, mark in changes_session.watermarks_of(session.changes, kind, now).items():
                self._snapshots.set_watermark(connection.id, query, mark)
        if page.problems:
            session.last_error = "; ".join(page.problems)[:2000]
            session.changes["problem"] = page.problems[0][:300]
            logger.warning("QuickBooks changes not all kept", problems=page.problems[:5])
        if page.queued or gone or recounted:
            logger.info(
                "QuickBooks changes queued for the store",
                records=len(page.queued),
                deleted=len(gone),
                recounted=len(recounted),
            )

    def _held(
        self, connection_id: str, page: changes_session.PageRead
    ) -> dict[str, tuple[LedgerItem, bool]]:
        """The snapshots the deleted items and the stock counts are compared with."""
        if self._snapshots is None or not (page.deleted or page.counts):
            return {}
        ids = [d.list_id for d in page.deleted] + [c.list_id for c in page.counts]
        return self._snapshots.items_held(connection_id, ids)

    def _hand_out(self, session: Session, connection: Connection, message: dict[str, Any]) -> str:
        """Send a planned message: its writes become "sent" (outcome unknown until answered)."""
        message_id, written = str(message["id"]), [int(seq) for seq in message["written"]]
        writes: list[Write] = []
        if written:
            writes += self._sessions.message_set_writes(
                connection.id, message_id, message["purposes"]
            )
        for entry in self._outbox.get_many(connection.id, written).values():
            if entry.status in WAITING:
                sent = marked(entry, "sent", message_set_id=message_id)
                writes.append(self._outbox.entry_put(sent))
        self._state.write_all(writes)
        session.messages += 1
        session.in_flight = {
            "id": message_id,
            "purposes": message["purposes"],
            "written": written,
            "old": message["old"],
            "changes": bool(message.get("changes")),
        }
        return _unpack_text(str(message["xml"]))

    def _works(self, session: Session, connection: Connection) -> list[drain.Work]:
        conn = connection.id
        deferred = set(session.deferred)
        # A message's worth of entries (each needs at least one request) and a few more:
        # every entry read costs time in each round, so the window stays near the budget.
        limit = connection.qbd.max_requests_per_message + len(deferred) + 10
        entries = _sendable(self._outbox.pending(conn, limit), deferred, conn)
        customers = {e.seq: _customer_of(e) for e in entries}
        names = {e.seq: drain.item_names_for(e, connection) for e in entries}
        orders = {e.seq: order_of(e.payload()) for e in entries}
        # Three batched reads for the whole window instead of several reads per entry.
        states = self._state.get_sync_states(
            [
                *(e.record_key for e in entries),
                *(order_record_key(conn, o) for o in orders.values() if o),
            ]
        )
        known_items = set(
            self._state.get_mappings(
                conn, "qbd-item", {n.lower() for found in names.values() for n in found if n}
            )
        )
        keys = {e.seq: _customer_key(e, customers[e.seq], session.facts) for e in entries}
        mapped_customers = self._state.get_mappings(
            conn, "qbd-customer", {k for k in keys.values() if k is not None}
        )
        works: list[drain.Work] = []
        for entry in entries:
            customer = customers[entry.seq]
            state = states.get(entry.record_key)
            txn_id = edit_sequence = None
            if state is not None and state.ledger_id:
                txn_id, edit_sequence = state.ledger_id, state.sync_token
                if entry.action == "upsert_customer" or state.ledger_type not in (
                    "Invoice",
                    "SalesReceipt",
                    "CreditMemo",
                ):
                    txn_id = edit_sequence = None
            order_id = orders[entry.seq]
            document = states.get(order_record_key(conn, order_id)) if order_id else None
            if document is not None and (
                not document.ledger_id
                or document.status in ("voided", "deleted")
                or document.ledger_type not in ("Invoice", "SalesReceipt")
            ):
                document = None
            key = keys[entry.seq]
            works.append(
                drain.Work(
                    entry=entry,
                    txn_id=txn_id,
                    edit_sequence=edit_sequence,
                    customer_name=mapped_customers.get(key) if key and customer else None,
                    order_txn_id=document.ledger_id if document else None,
                    order_total=_money(document.ledger_total) if document else None,
                    known_items=frozenset(
                        n.lower() for n in names[entry.seq] if n and n.lower() in known_items
                    ),
                    refresh_txn=session.retries.get(f"{entry.seq}:3200", 0) > 0,
                    attempts_3140=session.retries.get(f"{entry.seq}:3140", 0),
                )
            )
        return works

    def receive_response_xml(
        self, connection_id: str, ticket: str, response: str, hresult: str, message: str
    ) -> int:
        session = self._session(connection_id, ticket)
        connection = self._qbd(connection_id)
        if session is None or connection is None:
            return -1
        in_flight = session.in_flight
        if in_flight is None:
            session.last_error = "An answer arrived for no request; the next run starts afresh."
            self._sessions.save(session)
            return -1
        session.in_flight = None
        if hresult.strip() or not response.strip():
            return self._unprocessed(session, connection, in_flight, hresult, message)
        try:
            answer = qbxml.parse_response(response)
        except Exception as exc:  # any unreadable answer is handled alike
            logger.warning("unreadable qbXML answer", error=str(exc))
            return self._unprocessed(
                session, connection, in_flight, "", f"unreadable answer: {exc}"
            )
        if in_flight.get("changes"):
            self._read_changes(session, connection, in_flight["purposes"], answer)
            session.prepared = self._plan_message(session, connection)
            percent = self._percent(session)
            self._sessions.save(session)
            return percent
        responses = answer.responses
        decisions: list[drain.Decision] = []
        old_id = in_flight.get("old")
        if old_id:
            old_purposes = self._sessions.message_set(connection.id, str(old_id)) or {}
            recovered = [r for r in responses if r.request_id in old_purposes]
            if recovered:
                logger.info("QuickBooks answered a lost message set again", message_set=old_id)
                decisions.extend(drain.read(old_purposes, recovered, session.facts))
            self._sessions.forget_message_set(connection.id, str(old_id))
        tried = {
            int(key.split(":")[0]): count
            for key, count in session.retries.items()
            if key.endswith(":3140")
        }
        decisions.extend(
            drain.read(in_flight["purposes"], responses, session.facts, attempts_3140=tried)
        )
        posted_before = session.posted
        self._settler.settle(session, connection, decisions)
        if session.posted > posted_before:
            self._note(connection.id, last_post_at=now_moment())
        if in_flight.get("written"):
            self._sessions.forget_message_set(connection.id, str(in_flight["id"]))
        session.prepared = self._plan_message(session, connection)
        percent = self._percent(session)
        self._sessions.save(session)
        return percent

    def _unprocessed(
        self,
        session: Session,
        connection: Connection,
        in_flight: dict[str, Any],
        hresult: str,
        message: str,
    ) -> int:
        """QuickBooks did not process the message: send it again next session, up to a limit."""
        reason = f"QuickBooks could not process the request ({hresult or 'no answer'}): {message}"
        session.last_error = reason
        written = [int(seq) for seq in in_flight.get("written", [])]
        parks: list[drain.Decision] = []
        writes: list[Write] = []
        for entry in self._outbox.get_many(connection.id, written).values():
            if entry.status not in WAITING:
                continue
            if entry.attempts + 1 >= MAX_UNPROCESSED:
                why = f"{reason} ({MAX_UNPROCESSED} times)"
                parks.append(drain.Decision(entry.seq, "park", why))
                continue
            # Still "sent": the next session pre-checks by RefNumber before adding again.
            again = marked(entry, "sent", last_error=reason, count_attempt=True)
            writes.append(self._outbox.entry_put(again))
        self._state.write_all(writes)
        self._settler.settle(session, connection, parks)
        logger.warning("QuickBooks did not process a message", hresult=hresult)
        self._sessions.save(session)
        return -1

    @staticmethod
    def _percent(session: Session) -> int:
        if session.prepared is None:
            return 100
        return min(99, max(1, session.finished * 100 // max(session.total, 1)))

    # --- the end of a session ----------------------------------------------------------
    def get_last_error(self, connection_id: str, ticket: str) -> str:
        session = self._session(connection_id, ticket)
        if session is None:
            if self._known(connection_id, ticket) is not None:
                return ENDED
            return "The session is unknown or has expired; the next scheduled run starts a new one."
        return session.last_error or "Nothing more to send."

    def connection_error(self, connection_id: str, ticket: str, hresult: str, message: str) -> str:
        session = self._session(connection_id, ticket)
        reason = f"The Web Connector could not open QuickBooks ({hresult}): {message}"
        if session is not None:
            session.last_error = reason
            self._sessions.close(session)
        if self._qbd(connection_id) is not None:
            self._state.set_connection_status(connection_id, "qbwc_error", reason)
        logger.warning("QBWC could not reach QuickBooks", hresult=hresult)
        return "done"

    def close_connection(self, connection_id: str, ticket: str) -> str:
        session = self._session(connection_id, ticket)
        if session is None:
            return ENDED if self._known(connection_id, ticket) is not None else "OK"
        self._sessions.close(session)
        left = self._outbox.count_waiting(connection_id)
        self._state.set_connection_status(
            connection_id, "connected", f"last Web Connector session {_iso()}"
        )
        brought = ""
        if session.changes:
            brought = f", {session.changes.get('read', 0)} QuickBooks changes for the store"
            if session.changes.get("problem"):
                brought += f" (not all kept, asked again next run: {session.changes['problem']})"
        return (
            f"OK: {session.posted} sent to QuickBooks, {session.parked} need attention, "
            f"{left} waiting{brought}"
        )


def _qbxml_tuple(version: str) -> tuple[int, int]:
    major, _, minor = version.partition(".")
    return int(major), int(minor or 0)


def _sendable(
    entries: list[OutboxEntry], deferred: set[int], connection_id: str
) -> list[OutboxEntry]:
    """Entries this session may still send: not deferred, nor behind a deferred one of their
    record or (a payment or refund) of their order."""
    held = {e.record_key for e in entries if e.seq in deferred}

    def waits(entry: OutboxEntry) -> bool:
        order_id = order_of(entry.payload())
        return order_id is not None and order_record_key(connection_id, order_id) in held

    return [
        e for e in entries if e.seq not in deferred and e.record_key not in held and not waits(e)
    ]


def _money(text: str | None) -> Decimal | None:
    try:
        return Decimal(text) if text else None
    except InvalidOperation:
        return None


def _customer_key(
    entry: OutboxEntry, customer: Customer | None, facts: dict[str, Any]
) -> str | None:
    """The buyer's customer mapping key for this entry's currency (see drain.customer_key)."""
    payload = entry.payload()
    if customer is None or isinstance(payload, Customer):
        return customer.match_key if customer else None  # a store customer: home currency
    currency = (
        payload.currency
        if isinstance(payload, Order)
        else payload.order.currency
        if isinstance(payload, PaymentPayload)
        else payload.refund.currency
        if isinstance(payload, RefundPayload)
        else "USD"
    )
    return drain.customer_key(customer, currency, facts)


def _pack_text(text: str) -> str:
    """A prepared message waits in the session item: compressed, it stays far below 400 KB."""
    return base64.b64encode(zlib.compress(text.encode("utf-8"), 6)).decode("ascii")


def _unpack_text(packed: str) -> str:
    return zlib.decompress(base64.b64decode(packed)).decode("utf-8")


def _iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _customer_of(entry: OutboxEntry) -> Customer | None:
    payload = entry.payload()
    if isinstance(payload, PaymentPayload):
        return payload.order.customer
    if isinstance(payload, Order | RefundPayload):
        return payload.customer
    return payload if isinstance(payload, Customer) else None

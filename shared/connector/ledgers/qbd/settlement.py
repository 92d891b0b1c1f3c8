"""What a Web Connector answer leaves behind: each outbox entry's outcome, written in a few calls.

The drain decides (connector.ledgers.qbd.drain); this module records: the entries
move on in the outbox, their records' sync states and audit events are described
by connector.outcomes (as the sync worker's are) and written with batched calls,
and the names QuickBooks answered are cached as mappings. A decision to re-plan,
retry on the next run or park is kept on the session's counters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from connector import outcomes
from connector.config import Connection
from connector.dynamo_batch import Write
from connector.ledgers.posting import Posted
from connector.ledgers.qbd import drain
from connector.ledgers.qbd.outbox import (
    WAITING,
    OutboxEntry,
    OutboxStore,
    PaymentPayload,
    RefundPayload,
    marked,
)
from connector.ledgers.qbd.qbwc_sessions import Session
from connector.model import Order
from connector.outcomes import OutcomeRecorder
from connector.state import AuditTrail, StateStore

MAX_REPLANS = 3  # re-plans of one entry for one reason within a session
COMPANY_MAPPING = ("qbd-company", "currency")  # the company's currency facts, cached


@dataclass(frozen=True)
class _Outcome:
    entry: OutboxEntry  # as the writes leave it
    state: dict[str, Any] | None  # the record's sync state fields to set, written first
    writes: list[Write]  # outbox and audit trail


class Settler:
    def __init__(self, *, outbox: OutboxStore, state: StateStore, audit: AuditTrail) -> None:
        self._outbox = outbox
        self._state = state
        self._audit = audit
        self._recorder = OutcomeRecorder(state, audit)

    def settle(
        self, session: Session, connection: Connection, decisions: list[drain.Decision]
    ) -> None:
        """Record outcomes in the outbox, sync states and audit trail with a few calls.

        Sync states are written first, so a function that dies half way leaves
        entries still "sent" behind states that already say where they are; the next
        session's RefNumber pre-check then finds them in QuickBooks, never twice.
        Mappings (customer names, item list ids) cache what QuickBooks has.
        """
        conn = connection.id
        entries = self._outbox.get_many(conn, [d.seq for d in decisions]) if decisions else {}
        states: dict[str, dict[str, Any]] = {}
        others: list[Write] = []
        mappings: dict[tuple[str, str], Write] = {}
        for decision in decisions:
            entry = entries.get(decision.seq)
            if entry is None or entry.status not in WAITING:
                continue  # settled already, or parked meanwhile
            outcome = self._outcome(session, connection, entry, decision, mappings)
            entries[entry.seq] = outcome.entry
            if outcome.state is not None:
                states.setdefault(entry.record_key, {}).update(outcome.state)
            others.extend(outcome.writes)
        # Items QuickBooks has are kept in the state table; later sessions need not ask.
        items = session.facts.get("items", {})
        for name, list_id in list(items.items()):
            if list_id:
                mappings[("qbd-item", name)] = self._state.mapping_put(
                    conn, "qbd-item", name, list_id
                )
                del items[name]
        company = session.facts.get("company")
        if company and session.facts.get("company_cached") != json.dumps(company, sort_keys=True):
            text = json.dumps(company, sort_keys=True)
            session.facts["company_cached"] = text
            kind, key = COMPANY_MAPPING
            mappings[COMPANY_MAPPING] = self._state.mapping_put(conn, kind, key, text)
        self._state.change_sync_states(states)
        self._state.write_all([*others, *mappings.values()])

    def _outcome(
        self,
        session: Session,
        connection: Connection,
        entry: OutboxEntry,
        decision: drain.Decision,
        mappings: dict[tuple[str, str], Write],
    ) -> _Outcome:
        """The writes for one entry's outcome, and the entry as they leave it."""
        conn, seq, key = connection.id, entry.seq, entry.record_key
        audit = self._audit.event_put
        if decision.outcome == "again":
            retry_key = f"{seq}:{decision.why}"
            session.retries[retry_key] = session.retries.get(retry_key, 0) + 1
            if session.retries[retry_key] > MAX_REPLANS:
                reason = f"{decision.reason}; still failing after {MAX_REPLANS} tries"
                park = drain.Decision(seq, "park", reason)
                return self._outcome(session, connection, entry, park, mappings)
            if decision.why == "3140" and decision.customer_key:
                mappings[("qbd-customer", decision.customer_key)] = self._state.mapping_delete(
                    conn, "qbd-customer", decision.customer_key
                )
            return self._entry_outcome(marked(entry, "pending", last_error=decision.reason))
        if decision.outcome == "step":
            # The first of two writes is in QuickBooks: its id is kept, the entry waits.
            if decision.customer_key and decision.customer_name:
                mappings[("qbd-customer", decision.customer_key)] = self._state.mapping_put(
                    conn, "qbd-customer", decision.customer_key, decision.customer_name
                )
            step = {
                "ledger_id": decision.txn_id,
                "ledger_type": decision.ledger_type,
                "sync_token": decision.edit_sequence,
                "doc_number": decision.ref_number,
                "ledger_total": str(decision.total) if decision.total is not None else None,
            }
            event = audit(
                key,
                "queued",
                f"{decision.operation} {decision.reason} in QuickBooks Desktop",
                ledger_id=decision.txn_id,
            )
            return self._entry_outcome(marked(entry, "pending"), event, state=step)
        if decision.outcome == "retry":
            session.deferred.append(seq)
            session.finished += 1
            later = marked(entry, "pending", last_error=decision.reason, count_attempt=True)
            event = audit(
                key, "failed", decision.reason, detail={"retry": "next Web Connector run"}
            )
            return self._entry_outcome(later, event)
        if decision.outcome == "park":
            session.finished += 1
            session.parked += 1
            outcome = outcomes.parked(decision.reason)
            outcomes.count(outcome)
            parked = marked(entry, "parked", last_error=decision.reason)
            events = self._recorder.event_writes(key, outcome)
            return self._entry_outcome(parked, *events, state=dict(outcome.state))
        session.finished += 1
        session.posted += 1
        writes = self._outbox.finish_writes(entry)
        done = entry.model_copy(update={"status": "done"})
        if decision.customer_key and decision.customer_name:
            mappings[("qbd-customer", decision.customer_key)] = self._state.mapping_put(
                conn, "qbd-customer", decision.customer_key, decision.customer_name
            )
        if decision.outcome == "withdrawn":
            outcome = outcomes.withdrawn(
                "voided" if decision.operation == "voided" else "deleted",
                f"{decision.operation} {decision.reason}",
                decision.txn_id,
            )
        else:
            posted = Posted(
                operation="updated"
                if decision.operation == "updated"
                else "adopted"
                if decision.operation == "adopted"
                else "created",
                ledger_type=decision.ledger_type or entry.ledger_type,
                ledger_id=decision.txn_id,
                sync_token=decision.edit_sequence,
                doc_number=decision.ref_number,
                total=decision.total,
            )
            outcome = outcomes.carried(
                posted,
                summary=f"{decision.operation} {decision.ledger_type} "
                f"{decision.ref_number or decision.reason} in QuickBooks Desktop",
                store_total=_store_total(entry),
                detail={"operation": decision.operation, "doc_number": decision.ref_number or ""},
            )
        outcomes.count(outcome)
        writes.extend(self._recorder.event_writes(key, outcome))
        return _Outcome(done, dict(outcome.state), writes)

    def _entry_outcome(
        self, entry: OutboxEntry, *events: Write, state: dict[str, Any] | None = None
    ) -> _Outcome:
        """An outcome that leaves the entry in the connection's partition, changed."""
        return _Outcome(entry, state, [self._outbox.entry_put(entry), *events])


def _store_total(entry: OutboxEntry) -> Any:
    payload = entry.payload()
    if isinstance(payload, PaymentPayload):
        payload = payload.order
    if isinstance(payload, Order):
        return payload.q(payload.total)
    if isinstance(payload, RefundPayload):
        return payload.refund.amount
    return None

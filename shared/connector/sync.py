"""The sync worker: fetch the current record, normalise it, bring QuickBooks into step, record it all.

Deliveries repeat and arrive out of order, so the worker never trusts the
message's content: it fetches the record as it is now and compares its content
hash with what was last posted. Failures are classified: transient ones are
tried again in process a couple of times, then handed back to the queue with a
growing delay (connector.retry) until the retry budget is spent; permanent ones
are parked (DLQ plus audit) with a reason a bookkeeper can act on, never dropped.
An unexpected exception (a bug) is handed back on the same budget, then parked
with a reason that says to report it.
A record is started only while the function has time to finish it.
A record a limiter has no room for yet (NoCapacityYet: the QuickBooks company's, or a store's
that publishes its limits) goes back for exactly the limiter's delay: not a failure, no retry
budget spent, never parked.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
)
from aws_lambda_powertools.utilities.idempotency.serialization.dataclass import (
    DataclassSerializer,
)
from botocore.exceptions import BotoCoreError, ClientError

from connector import capacity, outcomes
from connector.both_ways.port import FROM_LEDGER, OWN_DOCUMENTS, BothWays
from connector.config import Connection
from connector.errors import NoCapacityYet, PermanentError, ServicePaused, TransientError
from connector.health import HealthMarks
from connector.ledgers.posting import Ledger, PaymentLedger
from connector.mapping import content_hash
from connector.messages import SyncMessage
from connector.model import ZERO, Order, Refund, TotalsMismatch
from connector.observability import logger, metrics
from connector.outcomes import OutcomeRecorder
from connector.retry import RetryPolicy, visibility_s
from connector.state import (
    AuditTrail,
    ConcurrentUpdate,
    StateStore,
    SyncState,
    now_utc,
)
from connector.stores.port import (
    Store,
    StoreRecordMissing,
    StoreRecordNotFound,
    StoreUnavailable,
)

Outcome = Literal[
    "posted",
    "updated",
    "adopted",
    "skipped",
    "voided",
    "deleted",
    "parked",
    "queued",
    "requeued",
]


# Outcomes that changed the books (or queued a change for the Web Connector).
_POSTS = frozenset({"posted", "updated", "adopted", "voided", "deleted", "queued"})


@dataclass(frozen=True)
class SyncResult:
    outcome: Outcome
    detail: str
    ledger_id: str | None = None


def _forever() -> float:
    return float("inf")


@dataclass(frozen=True)
class Delivery:
    """This receive of the record: the queue's counters and the function's clock."""

    receives: int = 1
    queued_at: datetime | None = None  # when the message was sent to the queue
    last_receive: bool = False  # the queue moves it to the dead-letter queue after this one
    time_left_s: Callable[[], float] = field(default=_forever)

    def age_s(self) -> float:
        if self.queued_at is None:
            return 0.0
        return max(0.0, (datetime.now(UTC) - self.queued_at).total_seconds())


class HandedBack(Exception):
    """The record goes back to the queue, to be handed out again in ``delay_s`` seconds (the
    handler sets its visibility); why is in the audit trail."""

    def __init__(self, reason: str, delay_s: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay_s = delay_s


class SyncWorker:
    def __init__(
        self,
        *,
        connection_for: Callable[[str], Connection],
        store_for: Callable[[Connection], Store],
        ledger_for: Callable[[Connection], Ledger],
        state: StateStore,
        audit: AuditTrail,
        park: Callable[[SyncMessage, str], None],
        remember: BasePersistenceLayer | None = None,
        remember_config: IdempotencyConfig | None = None,
        policy: RetryPolicy | None = None,
        health: HealthMarks | None = None,
        sleep: Callable[[float], None] = time.sleep,
        requeue: Callable[[SyncMessage], object] | None = None,
        both_ways: BothWays | None = None,
    ) -> None:
        self._connection_for = connection_for
        self._store_for = store_for
        self._ledger_for = ledger_for
        self._state = state
        self._audit = audit
        self._outcomes = OutcomeRecorder(state, audit)
        self._park = park
        self._policy = policy or RetryPolicy()
        self._health = health
        self._sleep = sleep
        # Sends a fresh copy of a message to the sync queue (its receive count starts again).
        self._requeue = requeue
        # QuickBooks → store (issue #13): ledger records, and store echoes of its writes.
        self._both_ways = both_ways
        self._sync_once: Callable[..., SyncResult] = self._sync_version
        if remember is not None:
            # A version of a record already brought into step is answered from DynamoDB
            # without fetching the store again (repeats beyond SQS's 5-minute dedup window).
            # Only successes are remembered: failures raise, and parking happens outside.
            self._sync_once = idempotent_function(
                data_keyword_argument="version_key",
                persistence_store=remember,
                config=remember_config,
                output_serializer=DataclassSerializer(model=SyncResult),
            )(self._sync_version)

    def process(self, message: SyncMessage, delivery: Delivery | None = None) -> SyncResult:
        """Sync one record; parks permanent failures. Raises HandedBack when the record must
        go back to the queue: a transient failure outlasting the in-process tries, or too
        little of the function's time left to start it."""
        delivery = delivery or Delivery()
        key = message.record_key
        logger.append_keys(
            connection_id=message.connection_id, entity=message.entity, record_id=message.record_id
        )
        left = delivery.time_left_s()
        if left < self._policy.record_time_s:
            raise self._hand_back_unstarted(message, left)
        if message.source == "replay":
            self._audit.append(key, "replayed", "sent again from the dead-letter queue")
        attempt = 1
        while True:
            try:
                with capacity.one_record():
                    result = self._sync_once(version_key=_version_key(message), message=message)
            except IdempotencyAlreadyInProgressError:
                failure = TransientError(f"{key} is being synced by another worker")
            except NoCapacityYet as waiting:
                return self._wait_for_capacity(message, waiting, delivery)
            except PermanentError as exc:
                return self._give_up(message, exc.reason)
            except TransientError as exc:
                failure = exc
            except Exception as exc:  # a bug: the same retry budget, then parked
                return self._unexpected(message, exc, delivery)
            else:
                self._note_post(message, result)
                return result
            # An open circuit already says when to come back, and the store's client has
            # already retried with backoff: no point trying those again in process.
            pause = (
                None
                if isinstance(failure, ServicePaused | StoreUnavailable)
                else self._policy.pause(attempt, failure.retry_after_s)
            )
            if pause is None or delivery.time_left_s() - pause < self._policy.record_time_s:
                return self._defer(message, failure, delivery)
            self._record_failure(message, str(failure), f"tried again in {pause:.1f} s")
            self._sleep(pause)
            attempt += 1

    def _unexpected(self, message: SyncMessage, exc: Exception, delivery: Delivery) -> SyncResult:
        """A failure nobody classified (a bug, or a store answer no rule expected): tried
        again like a transient one, since the next version or release may not hit it, then
        parked for a person. The traceback goes to the log; the audit gets type and message."""
        logger.exception("unexpected error while syncing the record")
        failure = TransientError(f"unexpected error {_described(exc)}")
        return self._defer(message, failure, delivery, bug=True)

    def _defer(
        self,
        message: SyncMessage,
        failure: TransientError,
        delivery: Delivery,
        *,
        bug: bool = False,
    ) -> SyncResult:
        """Hand the record back with a delay, or park it once its retry budget is spent."""
        age = delivery.age_s()
        if delivery.last_receive or age >= self._policy.budget_s:
            self._record_failure(message, str(failure), "the retry budget is spent")
            since = f"{_span(age)} since it was queued"
            reason = (
                f"{failure} after {delivery.receives} tries ({since}): report it to the "
                "connector's maintainers, then replay"
                if bug
                else f"still failing after the last retry ({since}, "
                f"{delivery.receives} receives): {failure}"
            )
            return self._give_up(message, reason)
        if isinstance(failure, ServicePaused):
            delay = self._policy.hold(failure.retry_after_s or 0)
        else:
            delay = self._policy.delay(self._failures(message, delivery), failure.retry_after_s)
        seconds = visibility_s(delay)
        retry_at = datetime.now(UTC) + timedelta(seconds=seconds)
        reason = f"{failure}; back to the queue, tried again at {retry_at:%H:%M:%S} UTC"
        self._audit.append(
            message.record_key,
            "failed",
            reason,
            detail={
                "retry": True,
                "retry_at": retry_at.isoformat(timespec="seconds"),
                "delay_s": seconds,
                "receives": delivery.receives,
            },
        )
        metrics.add_metric(name="SyncRetried", unit="Count", value=1)
        metrics.add_metric(name="SyncDeferred", unit="Count", value=1)
        logger.warning("sync failed; handed back to the queue", error=str(failure), delay_s=seconds)
        raise HandedBack(reason, seconds)

    def _failures(self, message: SyncMessage, delivery: Delivery) -> int:
        """This delivery's failures so far, this one included; its receives if the count
        cannot be kept (never fewer than one)."""
        try:
            return self._state.count_failure(
                message.record_key,
                message.received_at.isoformat(),
                keep_s=int(self._policy.budget_s) + 86_400,
            )
        except ClientError as exc:
            logger.warning(
                "could not count the failure; the delay follows receives", error=str(exc)
            )
            return max(1, delivery.receives)

    def _wait_for_capacity(
        self, message: SyncMessage, waiting: NoCapacityYet, delivery: Delivery
    ) -> SyncResult:
        """Not a failure of the record: QuickBooks (or the store) has no room for it yet. It goes
        back for exactly the limiter's delay. On the queue's last receive (the queue would move it to
        the dead-letter queue) a fresh copy is queued instead, so waiting never parks it."""
        seconds = visibility_s(waiting.retry_after_s or 1)
        metrics.add_metric(name="SyncWaitingForCapacity", unit="Count", value=1)
        if delivery.last_receive and self._requeue is not None:
            self._requeue(message)
            reason = f"{waiting}; queued again afresh after {delivery.receives} receives"
            self._audit.append(
                message.record_key,
                "queued",
                reason,
                detail={"waiting_for_capacity": True, "requeued": True},
            )
            logger.info("record queued again while waiting for capacity")
            return SyncResult("requeued", reason)
        retry_at = datetime.now(UTC) + timedelta(seconds=seconds)
        reason = f"{waiting}; back to the queue until {retry_at:%H:%M:%S} UTC (not a failure)"
        self._audit.append(
            message.record_key,
            "queued",
            reason,
            detail={
                "waiting_for_capacity": True,
                "retry_at": retry_at.isoformat(timespec="seconds"),
                "delay_s": seconds,
                "receives": delivery.receives,
            },
        )
        logger.info("waiting for QuickBooks capacity", delay_s=seconds)
        raise HandedBack(reason, seconds)

    def _hand_back_unstarted(self, message: SyncMessage, left: float) -> HandedBack:
        """Not a failure of the record: the function's time is running out."""
        reason = (
            f"handed back to the queue unstarted: {left:.0f} s of the function's time left, "
            f"less than the {self._policy.record_time_s:.0f} s a record may need"
        )
        self._audit.append(
            message.record_key,
            "queued",
            reason,
            detail={"handed_back": True, "time_left_s": int(left)},
        )
        logger.info("record handed back unstarted", time_left_s=round(left, 1))
        return HandedBack(reason, 0)

    def _note_post(self, message: SyncMessage, result: SyncResult) -> None:
        if self._health is None or result.outcome not in _POSTS:
            return
        if message.entity.startswith("ledger_"):
            return  # a QuickBooks record written to the store is not a post to QuickBooks
        try:
            self._health.note(message.connection_id, last_post_at=datetime.now(UTC))
        except (BotoCoreError, ClientError) as exc:
            # The post is done; a missed health note must not make it look failed.
            logger.warning("could not note the last post", error=str(exc))

    def _sync_version(self, *, version_key: str, message: SyncMessage) -> SyncResult:
        for _ in range(3):
            try:
                return self._sync(message)
            except ConcurrentUpdate:
                # Another worker moved this record on; decide again from the new state.
                continue
        raise TransientError(f"{message.record_key} kept changing under concurrent workers")

    def _sync(self, message: SyncMessage) -> SyncResult:
        connection = self._connection_for(message.connection_id)
        if message.entity.startswith("ledger_"):
            return self._sync_ledger_record(message, connection)
        if message.entity == "customer":
            return self._sync_customer(message, connection)
        return self._sync_order(message, connection)

    # --- orders ----------------------------------------------------------------------------
    def _sync_order(self, message: SyncMessage, connection: Connection) -> SyncResult:
        key = message.record_key
        previous = self._state.get_sync_state(key)
        if previous is not None and previous.ledger_type == FROM_LEDGER:
            # Made by the connector from a QuickBooks invoice (issue #13): QuickBooks has it.
            why = f"made by the connector from QuickBooks invoice {previous.ledger_id}; not posted"
            return self._skip(key, previous, why, _stamp(message.modified_at))
        store = self._store_for(connection)
        # A delete delivery is only a claim (a captured one replays for ever: WooCommerce
        # signs no time), so deletes are fetched like updates: only the store's own word
        # that the order is gone, or its trash or cancelled status, withdraws a document.
        try:
            order = store.get_order(message.record_id)
        except StoreRecordNotFound:
            # The store says it is deleted (WooCommerce's invalid-id code, BigCommerce's
            # archive): withdraw like a trash event.
            return self._withdraw(
                message, connection, previous, "deleted in the store", _stamp(message.modified_at)
            )
        except StoreRecordMissing:
            # Gone without the store saying it was deleted: recorded, nothing withdrawn.
            return self._skip(
                key,
                previous,
                f"{store.display_name} no longer has order {message.record_id} and does not "
                "say it was deleted; its QuickBooks document (if any) is left as it is",
                _stamp(message.modified_at),
            )
        except TotalsMismatch as exc:
            raise PermanentError(
                f"{exc}. The store's figures do not add up, so nothing was posted: check the "
                f"order in {store.display_name}, then replay"
            ) from None

        if order.origin_ledger_id and self._both_ways is not None:
            # Made from a QuickBooks invoice: its marker came with the create, so this holds
            # even when the store's webhook is worked before the create's answer is recorded.
            invoice = self._both_ways.order_made_from(connection, order)
            if invoice is not None and previous is not None and previous.ledger_id:
                # Posted before the marker was read (by a worker older than it): claimed now,
                # and parked once so a person removes the second document.
                posted_as = f"{previous.ledger_type} {previous.doc_number or previous.ledger_id}"
                self._made_from_ledger(key, previous, invoice)
                raise PermanentError(
                    f"order {order.number} was made by the connector from QuickBooks invoice "
                    f"{invoice}, but was posted to QuickBooks as {posted_as} too: delete "
                    f"{posted_as} in QuickBooks (the invoice is the sale); the order is not "
                    "posted again"
                )
            if invoice is not None:
                return self._made_from_ledger(key, previous, invoice)
        fetched = f"order {order.number} status {order.status} total {order.total} {order.currency}"
        detail: dict[str, object] = {"store_modified_at": order.modified_at.isoformat()}
        if message.action == "delete" and order.status not in connection.cancel_statuses:
            # A replayed capture, or a delete the store has undone: the store's word wins.
            fetched += (
                f"; a delete delivery ({message.topic}) {store.display_name} does not confirm: "
                "settled as the store says, nothing withdrawn"
            )
            detail["delete_unconfirmed"] = True
            metrics.add_metric(name="DeletesUnconfirmed", unit="Count", value=1)
            logger.warning("delete not confirmed by the store", status=order.status)
        self._audit.append(key, "fetched", fetched, detail=detail)
        if order.status in connection.cancel_statuses:
            # The version fetched is the one settled (a push may carry no time, or an older one).
            return self._withdraw(
                message,
                connection,
                previous,
                f"status {order.status}",
                order.modified_at.isoformat(),
            )
        # A refunded order was sold first: it posts as sold, then its refunds give money back.
        if order.status not in (*connection.post_statuses, *connection.refund_statuses):
            return self._skip(
                key,
                previous,
                f"status {order.status} does not post (posting statuses: "
                f"{', '.join(connection.post_statuses)})",
                order.modified_at.isoformat(),
            )

        result = self._post_order(key, order, previous, connection)
        self._sync_payment(connection, key, order)
        self._sync_refunds(connection, key, order)
        return result

    def _post_order(
        self, key: str, order: Order, previous: SyncState | None, connection: Connection
    ) -> SyncResult:
        if previous and previous.status == "voided":
            raise PermanentError(
                f"order {order.number} is {order.status} again, but its QuickBooks document "
                f"{previous.doc_number or previous.ledger_id} was voided when it was cancelled, "
                "and QuickBooks cannot un-void: enter it again by hand, or delete the voided "
                "document and replay"
            )
        if previous and outcomes.withdrawal_waiting(previous):
            # Queued after the void, a post would modify the voided document.
            then = (
                "enter it again by hand, or delete the voided document and replay"
                if connection.on_cancel == "void"
                else "replay it"
            )
            raise PermanentError(
                f"order {order.number} is {order.status} again, but the {connection.on_cancel} "
                f"of its QuickBooks document {previous.doc_number or previous.ledger_id} "
                f"already waits for the Web Connector: once the Web Connector has run, {then}"
            )
        digest = content_hash(order)
        if previous and previous.status in ("posted", "queued") and previous.content_hash == digest:
            return self._skip(
                key,
                previous,
                f"unchanged since it was {previous.status}",
                order.modified_at.isoformat(),
            )

        attempt = self._attempt(key, previous)
        ledger = self._ledger_for(connection)
        posted = ledger.post_order(order, previous)
        outcome = outcomes.carried(
            posted,
            summary=f"{posted.operation} {posted.ledger_type} {posted.doc_number or ''} "
            f"total {posted.total}".replace("  ", " "),
            store_total=order.q(order.total),
            detail={
                "operation": posted.operation,
                "doc_number": posted.doc_number,
                "store_number": order.number,
            },
            previous=attempt,
        )
        self._outcomes.record(
            key,
            outcome,
            attempt.model_copy(
                update={"content_hash": digest, "store_modified_at": order.modified_at.isoformat()}
            ),
        )
        if connection.sync.qbo_invoices_to_orders and posted.ledger_id:
            # Its QuickBooks webhook must not make it a store order (connector.both_ways).
            self._state.put_mapping(connection.id, OWN_DOCUMENTS, posted.ledger_id, key)
        if posted.operation == "queued":
            return SyncResult("queued", f"{posted.ledger_type} for the Web Connector")
        result: Outcome = "posted" if posted.operation == "created" else posted.operation
        return SyncResult(result, f"{posted.ledger_type} {posted.ledger_id}", posted.ledger_id)

    def _sync_payment(self, connection: Connection, key: str, order: Order) -> None:
        """A paid order's invoice gets its Payment, once; sales receipts carry theirs inside."""
        ledger = self._ledger_for(connection)
        if (
            connection.document != "invoice"
            or not order.payment.is_paid
            or order.q(order.total) <= 0  # a free order: nothing was received
            or not isinstance(ledger, PaymentLedger)
        ):
            return
        pay_key = f"{connection.id}#payment#{order.store_id}"
        states = self._state.get_sync_states([key, pay_key])
        document, previous = states.get(key), states.get(pay_key)
        if (
            document is None
            or document.status not in ("posted", "queued")
            or document.ledger_type != "Invoice"
        ):
            return  # nothing open to pay (voided, deleted or not in QuickBooks)
        if previous and previous.status in ("posted", "queued"):
            return
        attempt = self._attempt(pay_key, previous)
        posted = ledger.post_payment(order, document, previous, self._credited(connection, order))
        route, mapped = connection.mapping.payment_route(order.payment.method)
        method = order.payment.method or "(none)"
        outcome = outcomes.carried(
            posted,
            summary=f"{posted.operation} {posted.ledger_type} {order.q(order.total)} "
            f"{order.currency} of order {order.number} by {method}, deposited to "
            f"{route.deposit_account}"
            + ("" if mapped else f" (payment method {method} is not in mapping.payments: default)"),
            store_total=order.q(order.total),
            detail={
                "operation": posted.operation,
                "invoice_id": document.ledger_id,
                "payment_method": method,
                "mapped": mapped,
                "deposit_account": route.deposit_account,
            },
            metric="PaymentsPosted",
        )
        self._outcomes.record(
            pay_key,
            outcome,
            attempt.model_copy(update={"store_modified_at": order.modified_at.isoformat()}),
        )
        if posted.operation != "queued":
            # Linking a payment changes the invoice in QuickBooks (Balance, LinkedTxn,
            # SyncToken): the next update of it reads the current SyncToken first.
            self._state.put_sync_state(document.model_copy(update={"sync_token": None}))

    def _credited(self, connection: Connection, order: Order) -> Decimal:
        """What refunds posted before the order was paid credited to its invoice (credit memos:
        refunds of money not yet taken)."""
        if order.refunded_total <= 0:
            return ZERO
        keys = self._state.mappings(connection.id, _refunds_of(order.store_id)).values()
        return sum(
            (
                Decimal(state.ledger_total or "0")
                for state in self._state.get_sync_states(keys).values()
                if state.status in ("posted", "queued") and state.ledger_type == "CreditMemo"
            ),
            ZERO,
        )

    def _sync_refunds(self, connection: Connection, key: str, order: Order) -> None:
        """Refunds arrive as order updates: each new one becomes a refund receipt or credit memo,
        and one deleted in the store withdraws its document."""
        listed = set(order.refund_ids)
        prefix = f"{connection.id}#refund#"
        # Refunds posted before: a deleted one is no longer listed on the order.
        refund_keys = self._state.mappings(connection.id, _refunds_of(order.store_id))
        keys = {rid: f"{prefix}{rid}" for rid in listed} | refund_keys
        states = self._state.get_sync_states([key, *keys.values()])
        done = ("posted", "queued", "skipped", "deleted", "voided")
        new = [
            rid
            for rid in listed
            if states.get(keys[rid]) is None or states[keys[rid]].status not in done
        ]
        gone = [
            rid
            for rid, refund_key in refund_keys.items()
            if rid not in listed
            and refund_key in states
            and states[refund_key].status in ("posted", "queued")
        ]
        if not new and not gone:
            return
        refunded = order.refunded_total
        if order.q(refunded) > order.q(order.total):
            raise PermanentError(
                f"order {order.number}: its refunds add up to {order.q(refunded)} "
                f"{order.currency}, more than the order's {order.q(order.total)}: check the "
                "refunds in the store, then replay"
            )
        ledger = self._ledger_for(connection)
        for rid in gone:
            self._withdraw_refund(ledger, keys[rid], states[keys[rid]], rid, order)
        if not new:
            return
        store = self._store_for(connection)
        try:
            refunds = {r.store_id: r for r in store.get_refunds(order)}
        except TotalsMismatch as exc:
            # Like an order's: no retry makes the store's figures add up, so park at once
            # (the order's document stays as posted; a replay posts the refunds once fixed).
            raise PermanentError(
                f"{exc}. The store's refund figures do not add up, so no refund of order "
                f"{order.number} was posted: check its refunds in {store.display_name}, "
                "then replay"
            ) from None
        for rid in new:
            if rid not in refunds:
                continue  # deleted since; the store sends another order update
            refund = refunds[rid]
            self._post_refund(
                ledger, keys[rid], refund, order, states.get(key), states.get(keys[rid])
            )

    def _post_refund(
        self,
        ledger: Ledger,
        refund_key: str,
        refund: Refund,
        order: Order,
        document: SyncState | None,
        previous: SyncState | None,
    ) -> None:
        attempt = self._attempt(refund_key, previous)
        self._state.put_mapping(
            order.connection_id, _refunds_of(order.store_id), refund.store_id, refund_key
        )
        posted = ledger.post_refund(refund, order, document, previous)
        where = (
            f"{posted.ledger_type} queued for the Web Connector"
            if posted.operation == "queued"
            else f"{posted.operation} {posted.ledger_type} {posted.doc_number or ''}".rstrip()
        )
        outcome = outcomes.carried(
            posted,
            summary=f"refund {refund.amount} {refund.currency} of order {order.number}: {where}",
            store_total=refund.amount,
            detail={
                "operation": posted.operation,
                "doc_number": posted.doc_number,
                "order": order.store_id,
                "store_number": f"refund {refund.store_id} of order {order.number}",
            },
            metric="RefundsPosted",
        )
        self._outcomes.record(refund_key, outcome, attempt)

    def _withdraw_refund(
        self, ledger: Ledger, refund_key: str, previous: SyncState, rid: str, order: Order
    ) -> None:
        posted = ledger.withdraw_refund(previous, rid)
        status = outcomes.withdrawal_status(posted)
        outcome = outcomes.withdrawn(
            status,
            f"refund {rid} of order {order.number} was deleted in the store: "
            f"{posted.ledger_type} {previous.doc_number or posted.ledger_id} {status}",
            posted.ledger_id,
        )
        self._outcomes.record(refund_key, outcome, previous)

    def _withdraw(
        self,
        message: SyncMessage,
        connection: Connection,
        previous: SyncState | None,
        why: str,
        seen: str | None,
    ) -> SyncResult:
        """Void or delete what was posted; ``seen`` is the store version settled, recorded
        whatever the outcome so the poll does not queue it again."""
        key = message.record_key
        nothing_posted = not previous or (not previous.ledger_id and previous.status != "queued")
        if nothing_posted or previous is None or previous.status in ("voided", "deleted"):
            return self._skip(key, previous, f"{why}; nothing was posted to withdraw", seen)
        if outcomes.withdrawal_waiting(previous):
            # A newer version of a cancelled order: its one void (or delete) is already queued.
            waiting = f"{why}; its {connection.on_cancel} already waits for the Web Connector"
            return self._skip(key, previous, waiting, seen)
        posted = self._ledger_for(connection).withdraw(previous, message.record_id)
        status = outcomes.withdrawal_status(posted)
        ledger_id = posted.ledger_id or previous.ledger_id
        outcome = outcomes.withdrawn(
            status,
            f"{why}: {connection.on_cancel} "
            + ("queued for the Web Connector" if status == "queued" else posted.ledger_type),
            ledger_id,
            posted.sync_token,
        )
        self._outcomes.record(key, outcome, _seen(previous, seen))
        return SyncResult(status, why, ledger_id)

    # --- QuickBooks → store (issue #13) ----------------------------------------------------
    def _sync_ledger_record(self, message: SyncMessage, connection: Connection) -> SyncResult:
        if self._both_ways is None:
            raise PermanentError(
                f"{message.record_key}: this function does not write QuickBooks records to the "
                "store (no connector.both_ways given to the sync worker)"
            )
        applied = self._both_ways.apply(message, connection)
        return SyncResult(applied.outcome, applied.detail, message.record_id)

    # --- customers -----------------------------------------------------------------------
    def _sync_customer(self, message: SyncMessage, connection: Connection) -> SyncResult:
        key = message.record_key
        previous = self._state.get_sync_state(key)
        if message.action == "delete":
            # QuickBooks keeps customers that have transactions; a store deletion is recorded only.
            return self._skip(
                key,
                previous,
                "deleted in the store; QuickBooks customer kept",
                _stamp(message.modified_at),
            )
        try:
            customer = self._store_for(connection).get_customer(message.record_id)
        except (StoreRecordNotFound, StoreRecordMissing):
            return self._skip(key, previous, "no longer in the store", _stamp(message.modified_at))
        digest = customer.model_dump_json(exclude={"modified_at"})
        seen = _stamp(customer.modified_at or message.modified_at)
        if connection.sync.customers == "qbo_to_store":
            why = "customers flow QuickBooks → store on this connection; a store edit is not sent"
            return self._skip(key, previous, why, seen)
        if connection.sync.customers == "both" and self._both_ways is not None:
            source = self._both_ways.own_customer_write(key, customer)
            if source is not None:
                why = f"the connector's own write from QuickBooks ({source}); not sent back"
                return self._skip(key, previous, why, seen)
        if previous and previous.status in ("posted", "queued") and previous.content_hash == digest:
            return self._skip(key, previous, f"unchanged since it was {previous.status}", seen)
        posted = self._ledger_for(connection).upsert_customer(customer, previous)
        outcome = outcomes.carried(
            posted,
            summary=f"{posted.operation} Customer {customer.display_name}",
            metric=None,
            previous=previous,
        )
        self._outcomes.record(
            key,
            outcome,
            _seen(previous or _new_state(key), seen).model_copy(update={"content_hash": digest}),
        )
        result: Outcome = "queued" if posted.operation == "queued" else "posted"
        return SyncResult(result, f"Customer {posted.ledger_id}", posted.ledger_id)

    # --- outcomes ----------------------------------------------------------------------
    def _made_from_ledger(
        self, key: str, previous: SyncState | None, invoice_id: str
    ) -> SyncResult:
        """Claim the order for its QuickBooks invoice (as connector.both_ways does after the
        create; whichever comes first writes the state, the other finds it)."""
        self._state.put_sync_state(
            (previous or _new_state(key)).model_copy(
                update={"status": "skipped", "ledger_id": invoice_id, "ledger_type": FROM_LEDGER}
            )
        )
        why = f"made by the connector from QuickBooks invoice {invoice_id}; not posted"
        self._audit.append(key, "skipped", why)
        return SyncResult("skipped", why, invoice_id)

    def _skip(
        self, key: str, previous: SyncState | None, reason: str, modified: str | None
    ) -> SyncResult:
        """Record a skip; ``modified`` is the store version looked at (the poll compares it)."""
        if previous is None:
            self._state.put_sync_state(
                _new_state(key).model_copy(
                    update={"status": "skipped", "store_modified_at": modified}
                )
            )
        elif _later(modified, previous.store_modified_at):
            self._state.put_sync_state(_seen(previous, modified))
        self._audit.append(key, "skipped", reason)
        return SyncResult("skipped", reason, previous.ledger_id if previous else None)

    def _record_failure(self, message: SyncMessage, error: str, then: str) -> None:
        self._audit.append(message.record_key, "failed", f"{error}; {then}", detail={"retry": True})
        metrics.add_metric(name="SyncRetried", unit="Count", value=1)
        logger.warning("sync failed", error=error, then=then)

    def _attempt(self, key: str, previous: SyncState | None) -> SyncState:
        """Count an attempt before the write, so a later one knows the outcome may be unknown."""
        return self._state.put_sync_state(
            (previous or _new_state(key)).model_copy(
                update={
                    "status": "received",
                    "attempts": (previous.attempts if previous else 0) + 1,
                }
            )
        )

    def _give_up(self, message: SyncMessage, reason: str) -> SyncResult:
        key = message.record_key
        previous = self._state.get_sync_state(key)
        outcome = outcomes.parked(reason)
        try:
            # The parked version is stamped: the poll does not queue it again (replay does).
            base = _seen(previous or _new_state(key), _stamp(message.modified_at))
            self._state.put_sync_state(base.model_copy(update=dict(outcome.state)))
        except ConcurrentUpdate:
            logger.warning("sync state moved on while parking", record_key=key)
        self._park(message, reason)
        self._outcomes.append_events(key, outcome)
        logger.error("record parked", reason=reason)
        return SyncResult("parked", reason)


def _version_key(message: SyncMessage) -> str:
    """One version of one record; a replay, and a deletion (which carries no version), are
    always new work."""
    version = message.version or (message.modified_at or message.received_at).isoformat()
    key = f"{message.record_key}#{message.action}#{version}"
    if message.action == "delete":
        key += f"#{message.received_at.isoformat()}"
    if message.source == "replay":
        key += f"#replay#{message.received_at.isoformat()}"
    return key


# A URL's query may carry credentials (WooCommerce's OAuth 1.0a signs in the query string).
_URL_QUERY = re.compile(r"(https?://[^\s?#'\"]+)[?#][^\s'\"]*")
_MAX_ERROR_TEXT = 300


def _described(exc: Exception) -> str:
    """``Type: message`` for the audit trail: one line, URL queries cut, length capped."""
    text = " ".join(str(exc).split()) or "(no message)"
    text = _URL_QUERY.sub(r"\1?…", text)
    if len(text) > _MAX_ERROR_TEXT:
        text = text[: _MAX_ERROR_TEXT - 1] + "…"
    return f"{type(exc).__name__}: {text}"


def _span(seconds: float) -> str:
    """A duration as an on-call engineer reads it: "26 h 5 min", "4 min 10 s"."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _stamp(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _later(stamp: str | None, than: str | None) -> bool:
    """Whether store version ``stamp`` is newer than ``than`` (none yet counts as older)."""
    if stamp is None:
        return False
    return than is None or _moment(stamp) > _moment(than)


def _moment(stamp: str) -> datetime:
    moment = datetime.fromisoformat(stamp)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _seen(state: SyncState, stamp: str | None) -> SyncState:
    """``state`` stamped with the store version the worker settled, never moved backwards.

    connector.reconcile compares it with what the store lists: a version already settled
    (posted, skipped, withdrawn or parked) is not queued again.
    """
    if not _later(stamp, state.store_modified_at):
        return state
    return state.model_copy(update={"store_modified_at": stamp})


def _refunds_of(order_store_id: str) -> str:
    """The mapping kind that lists an order's refunds (refund id -> its record key)."""
    return f"refunds-of#{order_store_id}"


def _new_state(key: str) -> SyncState:
    return SyncState(record_key=key, status="received", updated_at=now_utc().isoformat())

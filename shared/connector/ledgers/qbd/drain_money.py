"""Planning money after the sale for QuickBooks Desktop: payments, refunds and their withdrawal.

Pure, like drain.py, whose planner calls these for three kinds of outbox entry:

* ``receive_payment`` (a paid invoice): one ReceivePaymentAdd of the order total, applied
  to the order's invoice, with the payment method and deposit account mapping.payments
  gives the store's method. It waits while the order's own entry is in the same window
  (the invoice's TxnID is not known before that entry is posted).
* ``credit_memo`` (a store refund): two writes, one entry. First CreditMemoAdd; its TxnID
  is recorded in the refund's sync state (outcome "step"), the entry stays waiting; then
  either ARRefundCreditCardAdd (the order was paid: the credit is refunded out of the
  account the payment went to) or a ReceivePaymentAdd of 0.00 that applies the credit
  to the unpaid invoice (SetCredit). One entry keeps the pair in order and lets a
  withdrawal find both; the sync state holds the credit memo's TxnID throughout.
* ``void_refund`` (a refund deleted in the store): the refund (TxnVoid) or the
  application (TxnDel: QuickBooks cannot void a ReceivePayment) first, then TxnVoid of the
  credit memo, in one message.

After an unknown outcome each write is looked for by RefNumber first, and a transaction
found is adopted only when its Memo's first line is this record's tag
(qbxml_money.payment_tag, qbxml.refund_tag): RefNumbers are cut to QuickBooks' length,
so another record (or the bookkeeper) may hold the same one.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol

from connector.config import Connection, MappingRules
from connector.ledgers.qbd import qbxml, qbxml_money
from connector.ledgers.qbd.drain_parts import Decision, Needs, Park, Work, Writes
from connector.ledgers.qbd.outbox import PaymentPayload, RefundPayload, RefundWithdrawalPayload
from connector.ledgers.qbd.qbxml_queries import AnyTxnKind
from connector.ledgers.qbd.qbxml_text import MEMO_MAX, fit
from connector.model import Customer

VOID_PREFIX = "VOID:"  # QuickBooks puts it before a voided transaction's Memo


class Planner(Protocol):
    """What drain._Planner offers these functions."""

    connection: Connection
    rules: MappingRules
    facts: dict[str, Any]

    def rid(self) -> str: ...

    def resolve_customer(
        self, customer: Customer, mapped: str | None, needs: Needs, currency: str | None
    ) -> tuple[str, bool] | None: ...

    def check_items(
        self,
        names: Mapping[str, str],
        creatable: Mapping[str, str],
        known: frozenset[str],
        needs: Needs,
    ) -> dict[str, str] | None: ...

    def refund_item_names(
        self, payload: RefundPayload
    ) -> tuple[dict[str, str], dict[str, str]]: ...

    def check_classes(self, classes: set[str], what: str, needs: Needs) -> None: ...

    def txn_fact(self, kind: AnyTxnKind, ref: str, needs: Needs) -> dict[str, Any] | None: ...

    def foreign_currency(self, currency: str, what: str, needs: Needs) -> str | None: ...

    def store_rate(self, rate: Decimal | None, rate_currency: str | None) -> Decimal | None: ...

    def prerequisites(
        self,
        customer: Customer,
        name: str,
        add_customer: bool,
        creations: Mapping[str, str],
        common: dict[str, Any],
        currency: str | None,
    ) -> Writes: ...


def memo_head(memo: str) -> str:
    """The first line of a Memo, without QuickBooks' "VOID:" mark."""
    head = (memo.splitlines() or [""])[0].strip()
    return head.removeprefix(VOID_PREFIX).strip()


def ours(fact: Mapping[str, Any], tag: str, kind: str, ref: str) -> dict[str, Any] | None:
    """The transaction the RefNumber pre-check found that is this record's, None for none.

    Raises Park when QuickBooks holds the RefNumber only for something else: adding ours
    would make two transactions with one number, adopting theirs would book the wrong one.
    """
    candidates = list(fact.get("candidates") or [])
    if not candidates:
        return None
    wanted = fit(tag, MEMO_MAX)
    for candidate in candidates:
        if memo_head(str(candidate.get("memo") or "")) == wanted:
            return dict(candidate)
    other = candidates[0]
    raise Park(
        f"QuickBooks {kind} {ref} (TxnID {other.get('txn_id')}) has this record's RefNumber "
        f"but its Memo does not say {wanted!r}: renumber one of them in QuickBooks, then replay"
    )


def _adopted(work: Work, kind: str, found: Mapping[str, Any], ref: str, **extra: Any) -> Writes:
    total = found.get("total")
    return Writes(
        decision=Decision(
            work.entry.seq,
            "posted",
            "found by RefNumber after an unknown outcome",
            operation="adopted",
            ledger_type=kind,
            txn_id=str(found.get("txn_id")),
            edit_sequence=str(found.get("edit_sequence") or "") or None,
            total=Decimal(str(total)) if total not in (None, "") else None,
            ref_number=ref,
            **extra,
        )
    )


def _missing_invoice(order_number: str, what: str) -> Park:
    return Park(
        f"{what} of order {order_number} needs the order's invoice, which is not in QuickBooks "
        "Desktop (parked, withdrawn or deleted there): replay the order, then this"
    )


def _invoice_customer(
    p: Planner, customer: Customer, mapped: str | None, needs: Needs, currency: str | None
) -> tuple[str, bool] | None:
    """The customer a payment or refund names: the one its buyer's invoice was posted under
    (the mapping settlement wrote with it) as it stands. QuickBooks refuses a payment or
    credit for another customer's invoice (3210); a name QuickBooks no longer has (3140)
    drops the mapping and the buyer is resolved again."""
    if mapped:
        return mapped, False
    return p.resolve_customer(customer, None, needs, currency)


def plan_payment(p: Planner, work: Work, payload: PaymentPayload, needs: Needs) -> Writes | None:
    order = payload.order
    ref = qbxml_money.payment_ref_number(order, p.rules)
    currency = p.foreign_currency(order.currency, f"the payment of order {order.number}", needs)
    if work.order_txn_id is None:
        raise _missing_invoice(order.number, "the payment")
    resolved = _invoice_customer(p, order.customer, work.customer_name, needs, currency)
    if work.uncertain:
        fact = p.txn_fact("ReceivePayment", ref, needs)
        found = (
            ours(
                fact,
                qbxml_money.payment_tag(order, p.connection.store.display_name),
                "ReceivePayment",
                ref,
            )
            if fact
            else None
        )
        if found is not None:
            return _adopted(work, "ReceivePayment", found, ref)
    if resolved is None or not needs.empty():
        return None
    name, add_customer = resolved
    key = order.customer.match_key + (f"#{currency}" if currency else "")
    common = {"seq": work.entry.seq, "customer_key": key, "customer": name}
    writes = p.prerequisites(order.customer, name, add_customer, {}, common, currency)
    route, _ = p.rules.payment_route(order.payment.method)
    # Refunds credited to the unpaid invoice before it was paid: the buyer paid the rest.
    total = order.q(order.total - payload.credited)
    open_amount = work.order_total - payload.credited if work.order_total is not None else total
    applied = min(total, open_amount)
    request = qbxml_money.receive_payment_add(
        order,
        customer=name,
        invoice_txn_id=work.order_txn_id,
        total=total,
        applied=applied,
        ref_number=ref,
        payment_method=route.method,
        deposit_account=route.deposit_account,
        exchange_rate=p.store_rate(order.exchange_rate, order.rate_currency) if currency else None,
        store=p.connection.store.display_name,
        request_id=p.rid(),
    )
    purpose = {**common, "kind": "ReceivePayment", "ref": ref, "total": str(total)}
    writes.requests.append(("txn_add", purpose, request))
    return writes


def plan_refund(p: Planner, work: Work, payload: RefundPayload, needs: Needs) -> Writes | None:
    refund = payload.refund
    ref = qbxml.refund_ref_number(refund, p.rules)
    tag = qbxml.refund_tag(refund, p.connection.store.display_name)
    what = f"refund {refund.store_id} of order {refund.order_number}"
    currency = p.foreign_currency(refund.currency, what, needs)
    names, creatable = p.refund_item_names(payload)
    if payload.order is not None:
        classes = qbxml.refs_for_refund(
            refund, p.connection, customer="-", order=payload.order
        ).class_names
        p.check_classes(classes, what, needs)
    resolved = _invoice_customer(p, payload.customer, work.customer_name, needs, currency)
    creations = p.check_items(names, creatable, work.known_items, needs)
    second: AnyTxnKind = "ARRefundCreditCard" if payload.paid else "ReceivePayment"
    memo_id = work.txn_id  # the credit memo, once its Add is known to be in QuickBooks
    memo_total: Any = None
    if memo_id is None and work.uncertain:
        fact = p.txn_fact("CreditMemo", ref, needs)
        found = ours(fact, tag, "CreditMemo", ref) if fact else None
        if found is not None:
            memo_id, memo_total = str(found["txn_id"]), found.get("total")
    if memo_id is not None and work.uncertain:
        fact = p.txn_fact(second, ref, needs)
        found = ours(fact, tag, second, ref) if fact else None
        if found is not None:
            done = {"txn_id": memo_id, "total": memo_total or refund.amount}
            return _adopted(work, "CreditMemo", done, ref)
    if resolved is None or creations is None or not needs.empty():
        return None
    name, add_customer = resolved
    key = payload.customer.match_key + (f"#{currency}" if currency else "")
    common = {"seq": work.entry.seq, "customer_key": key, "customer": name}
    rate = p.store_rate(payload.exchange_rate, payload.rate_currency) if currency else None
    if memo_id is None:
        writes = p.prerequisites(payload.customer, name, add_customer, creations, common, currency)
        refs = qbxml.refs_for_refund(
            refund, p.connection, customer=name, exchange_rate=rate, order=payload.order
        )
        purpose = {
            **common,
            "kind": "CreditMemo",
            "ref": ref,
            "total": str(refund.amount),
            **({"classes": sorted(refs.class_names)} if refs.class_names else {}),
        }
        writes.requests.append(
            (
                "credit_memo_add",
                {**purpose, "then": second},
                qbxml.credit_memo_add(refund, refs, request_id=p.rid()),
            )
        )
        return writes
    purpose = {
        **common,
        "kind": second,
        "ref": ref,
        "total": str(refund.amount),
        "credit_memo": memo_id,
    }
    if payload.paid:
        route, _ = p.rules.payment_route(payload.payment_method)
        request = qbxml_money.refund_payout_add(
            refund,
            customer=name,
            credit_txn_id=memo_id,
            ref_number=ref,
            refund_from_account=route.deposit_account,
            payment_method=route.method,
            exchange_rate=rate,
            store=p.connection.store.display_name,
            request_id=p.rid(),
        )
    else:
        if work.order_txn_id is None:
            raise _missing_invoice(refund.order_number, f"refund {refund.store_id}")
        request = qbxml_money.credit_application_add(
            refund,
            customer=name,
            invoice_txn_id=work.order_txn_id,
            credit_txn_id=memo_id,
            ref_number=ref,
            store=p.connection.store.display_name,
            request_id=p.rid(),
        )
    return Writes([("refund_second", purpose, request)])


def plan_refund_withdrawal(
    p: Planner, work: Work, payload: RefundWithdrawalPayload, needs: Needs
) -> Writes | None:
    """Void the refund or delete the application, then void the credit memo."""
    seq, ref = work.entry.seq, payload.ref_number
    memo_id = work.txn_id or payload.credit_memo_txn_id
    if not ref:
        if memo_id is None:
            return Writes(decision=_withdrawn(seq, "nothing in QuickBooks to withdraw", None))
        return Writes([_void("CreditMemo", memo_id, seq, ref, p.rid(), final=True)])
    head = f"{p.connection.store.display_name} refund {payload.refund_store_id} of order #"
    kinds: tuple[AnyTxnKind, ...] = ("ARRefundCreditCard", "ReceivePayment", "CreditMemo")
    facts = {
        kind: p.txn_fact(kind, ref, needs)
        for kind in kinds
        if kind != "CreditMemo" or memo_id is None
    }
    if not needs.empty():
        return None
    writes = Writes()
    for kind, fact in facts.items():
        for candidate in (fact or {}).get("candidates") or []:
            memo = str(candidate.get("memo") or "")
            if not memo_head(memo).startswith(head) or memo.startswith(VOID_PREFIX):
                continue  # someone else's, or voided already
            txn_id = str(candidate["txn_id"])
            if kind == "CreditMemo":
                memo_id = txn_id
            else:
                writes.requests.append(_void(kind, txn_id, seq, ref, p.rid(), final=False))
    if memo_id is None:
        return Writes(decision=_withdrawn(seq, f"refund {ref} is not in QuickBooks", ref))
    writes.requests.append(_void("CreditMemo", memo_id, seq, ref, p.rid(), final=True))
    return writes


def _withdrawn(seq: int, reason: str, ref: str | None) -> Decision:
    return Decision(
        seq, "withdrawn", reason, operation="voided", ledger_type="CreditMemo", ref_number=ref
    )


def _void(
    kind: AnyTxnKind, txn_id: str, seq: int, ref: str | None, rid: str, *, final: bool
) -> tuple[str, dict[str, Any], qbxml.QbRequest]:
    purpose = {"seq": seq, "kind": kind, "ref": ref, "operation": "voided", "final": final}
    if kind == "ReceivePayment":  # TxnVoidType has no ReceivePayment
        return ("txn_del", purpose, qbxml.txn_del(kind, txn_id, request_id=rid))
    return ("txn_void", purpose, qbxml.txn_void(kind, txn_id, request_id=rid))


def second_write_decision(purpose: Mapping[str, Any]) -> Decision:
    """A refund's second write is in: the refund is posted, under its credit memo."""
    return Decision(
        int(purpose["seq"]),
        "posted",
        f"CreditMemo {purpose['ref']} and its {purpose['kind']}",
        operation="created",
        ledger_type="CreditMemo",
        txn_id=str(purpose["credit_memo"]),
        total=Decimal(str(purpose["total"])),
        ref_number=str(purpose["ref"]),
        customer_key=purpose.get("customer_key"),
        customer_name=purpose.get("customer"),
    )

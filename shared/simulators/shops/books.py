"""What a bookkeeper checks for each store order in the simulated QuickBooks Online company.

The same checks for every store, against the store's own account of the order
(``OrderView``): an order that posts has exactly one invoice for the store's total to the
cent, each store refund exactly one refund document for its amount, the documents netting to
the store's net; a paid order one payment into the account its gateway maps to and nothing
open, an unpaid one open for what is still owed; everything in the order's currency, for a
customer in that currency. A withdrawn order has no document or one voided to zero; an order
that does not post has none. Every order has an audit trail.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from simulators.qbo import QboSimulator
from simulators.shops.driver import OrderView

ZERO = Decimal(0)
UNDEPOSITED = "Undeposited Funds"


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


def _currency(record: Mapping[str, Any], home: str = "USD") -> str:
    return str((record.get("CurrencyRef") or {}).get("value") or home)


def _noted(document: Mapping[str, Any]) -> str | None:
    """The store id a document's PrivateNote names ("... (id 123)")."""
    note = str(document.get("PrivateNote", ""))
    return note.split("(id ", 1)[1].split(")", 1)[0] if "(id " in note else None


@dataclass
class OrderCheck:
    view: OrderView
    documents: int
    ledger_total: Decimal | None
    audit_events: list[str]
    # What each "received" event says: which push, or that polling found the order.
    received: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class Checked(Protocol):
    """An order's check, Online or Desktop."""

    view: OrderView
    problems: list[str]


def verdict(ok: bool, problems: Iterable[Checked], others: Iterable[str]) -> list[str]:
    """A day summary's last lines: the result, or every problem found."""
    if ok:
        return ["result                       every order once, totals equal to the cent"]
    lines = [
        f"PROBLEM order {check.view.number} ({check.view.status}): " + "; ".join(check.problems)
        for check in problems
    ]
    return lines + [f"PROBLEM {problem}" for problem in others]


class OnlineBooks:
    """The company's documents, grouped by the store order their notes name."""

    def __init__(self, qbo: QboSimulator, deposit_accounts: Mapping[str, str]) -> None:
        self._deposit_accounts = deposit_accounts
        self._by_order: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.kinds: dict[str, list[dict[str, Any]]] = {}
        for kind in ("Invoice", "Payment", "RefundReceipt", "CreditMemo"):
            self.kinds[kind] = [d for d in qbo.documents(kind) if _noted(d) is not None]
            for document in self.kinds[kind]:
                self._by_order.setdefault((kind, str(_noted(document))), []).append(document)
        self.customers = qbo.documents("Customer")
        self._customers = {str(c["Id"]): c for c in self.customers}
        self._accounts = {str(a["Id"]): str(a["Name"]) for a in qbo.documents("Account")}

    def of(self, store_id: str, kind: str) -> list[dict[str, Any]]:
        return self._by_order.get((kind, store_id), [])

    def check(self, view: OrderView, trail: Sequence[tuple[str, str]]) -> OrderCheck:
        """``trail``: the order's audit events, (event, outcome) oldest first."""
        invoices = self.of(view.store_id, "Invoice")
        audit_events = [event for event, _ in trail]
        check = OrderCheck(
            view=view,
            documents=len(invoices),
            ledger_total=_money(invoices[0]["TotalAmt"]) if invoices else None,
            audit_events=audit_events,
            received=[outcome for event, outcome in trail if event == "received"],
        )
        found = check.problems
        if not audit_events:
            found.append("no audit trail")
        if view.outcome == "posts":
            if len(invoices) != 1:
                found.append(f"{len(invoices)} documents for an order that posts")
            else:
                found += self._posted(view, invoices[0], audit_events)
        elif view.outcome == "withdrawn":
            if len(invoices) > 1 or (invoices and _money(invoices[0]["TotalAmt"]) != 0):
                found.append(f"cancelled, yet documents for {[d['TotalAmt'] for d in invoices]}")
        elif invoices:
            found.append(f"status {view.status} does not post, yet {len(invoices)} documents")
        return check

    def _posted(self, view: OrderView, invoice: dict[str, Any], events: list[str]) -> list[str]:
        found: list[str] = []
        total = _money(invoice["TotalAmt"])
        if total != view.total:
            found.append(f"QuickBooks total {total}, the store's {view.total}")
        if "posted" not in events:
            found.append(f"no 'posted' in the audit trail {events}")
        refunds = self.of(view.store_id, "RefundReceipt") + self.of(view.store_id, "CreditMemo")
        for refund in view.refunds:
            mine = [d for d in refunds if f"refund {refund.refund_id} of" in str(d["PrivateNote"])]
            amounts = [_money(d["TotalAmt"]) for d in mine]
            if amounts != [refund.amount]:
                found.append(f"refund {refund.refund_id} of {refund.amount}: documents {amounts}")
        if len(refunds) != len(view.refunds):
            found.append(f"{len(refunds)} refund documents for {len(view.refunds)} store refunds")
        net = total - sum((_money(d["TotalAmt"]) for d in refunds), ZERO)
        if net != view.net:
            found.append(f"QuickBooks nets {net}, the store {view.net}")
        payments = [p for p in self.of(view.store_id, "Payment") if _money(p["TotalAmt"]) > 0]
        balance = _money(invoice["Balance"])
        if view.paid and view.total > 0:
            account = self._deposit_accounts.get(view.payment_key, UNDEPOSITED)
            if len(payments) != 1:
                found.append(f"{len(payments)} payments for a paid order")
            else:
                paid_into = self._accounts.get(str(payments[0]["DepositToAccountRef"]["value"]))
                if paid_into != account:
                    found.append(f"paid into {paid_into}, not {account}")
            if balance != 0:
                found.append(f"a paid invoice has {balance} open")
        else:
            credited = sum(
                (_money(d["TotalAmt"]) for d in self.of(view.store_id, "CreditMemo")), ZERO
            )
            if payments:
                found.append(f"unpaid, yet payments {[p['TotalAmt'] for p in payments]}")
            if balance != total - credited:
                found.append(f"unpaid, {balance} open, not its total less credits")
        customer = self._customers.get(str(invoice["CustomerRef"]["value"]), {})
        currencies = {
            "invoice": _currency(invoice),
            "customer": _currency(customer),
            **{f"{d['Id']}": _currency(d) for d in payments + refunds},
        }
        wrong = {what: cur for what, cur in currencies.items() if cur != view.currency}
        if wrong:
            found.append(f"order in {view.currency} but {wrong}")
        return found

    def duplicate_customers(self) -> list[str]:
        """Names used twice, and buyers who are two customers in one currency."""
        names = Counter(str(c["DisplayName"]) for c in self.customers)
        per_email = Counter(
            (str(c["PrimaryEmailAddr"].get("Address", "")).lower(), _currency(c))
            for c in self.customers
            if c.get("PrimaryEmailAddr")
        )
        return [n for n, count in names.items() if count > 1] + [
            f"{email} in {currency}" for (email, currency), n in per_email.items() if n > 1
        ]

    def doc_number_problems(self) -> list[str]:
        numbers = Counter(str(d.get("DocNumber", "")) for d in self.kinds["Invoice"])
        return [
            f"DocNumber {n!r} " + ("is over 21 characters" if len(n) > 21 else f"used {c} times")
            for n, c in numbers.items()
            if len(n) > 21 or c > 1
        ]

"""A simulated QuickBooks Desktop company file that executes qbXML, like QuickBooks' ProcessRequest.

``QbdCompany.process(request_xml)`` takes the request document the Web Connector hands to
QuickBooks and returns the response document. It follows Intuit's qbXML reference
(../shared/reference/qbd): lists and sales transactions with ListID/TxnID, EditSequence,
TxnNumber and computed totals; queries by ListID/FullName/TxnID/RefNumber with iterators;
status codes 0, 1 (a filter or RefNumber matched nothing), 500 (a ListID, FullName or TxnID
the query names is not there), 3000, 3100, 3120, 3140 (any *Ref naming what the file lacks:
customer, item, class, terms, account...), 3200, 3250 (a feature the company file has turned
off: Multiple Currencies, class tracking) (and injected 3170/3175/3180);
``onError``; error recovery through ``newMessageSetID``/``oldMessageSetID``. A document
QuickBooks cannot parse raises ``QbXmlParseError`` (HRESULT 0x80040400).

Faults: ``inject`` (status codes on matching requests), ``lose_next_response`` (the work is
done, the answer never comes back), ``fail_open_company`` (the Web Connector cannot open the
file and calls connectionError).
"""

from __future__ import annotations

import hashlib
import random
import threading
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from lxml import etree

from simulators.qbd_items import Bookkeeper, QbdItem, item_view, parse_query_date
from simulators.qbd_lists import Ids, Lists
from simulators.qbd_money import MONEY_KINDS, MoneyRecord, MoneyTxns
from simulators.qbd_records import (
    ITEM_KINDS,
    TXN_KINDS,
    ListRecord,
    QbStatus,
    TxnRecord,
    children,
    element,
    money,
    qb_time,
    severity,
)
from simulators.qbd_schema import (
    QbXmlParseError,
    SchemaLibrary,
    default_library,
    parse_request,
)
from simulators.qbd_stock import DeletedRecord, Stockroom, only
from simulators.qbd_txns import Transactions

__all__ = [
    "CURRENCIES",
    "CompanyOpenError",
    "QbXmlParseError",
    "QbdCompany",
    "QbdCustomer",
    "QbdItem",
    "QbdLine",
    "QbdMoney",
    "QbdTxn",
    "ResponseLost",
]

COMPANY_FILE = r"C:\Users\Public\Documents\Intuit\QuickBooks\Company Files\Shop.qbw"
INJECTABLE = {3170, 3175, 3176, 3180, 3200}
STATUS_NOT_FOUND = 500  # a query named a ListID, FullName or TxnID the company file lacks
STATUS_FEATURE_OFF = 3250
FEATURE_OFF = "This feature is not enabled or not available in this version of QuickBooks."
# The Currency list QuickBooks Desktop ships (a part of it): name -> ISO code.
CURRENCIES = {
    "US Dollar": "USD", "Canadian Dollar": "CAD", "Euro": "EUR",
    "British Pound Sterling": "GBP", "Australian Dollar": "AUD", "Japanese Yen": "JPY",
    "New Zealand Dollar": "NZD", "Swiss Franc": "CHF", "Mexican Peso": "MXN",
}  # fmt: skip
_EST = timezone(timedelta(hours=-5))
_QUERY_KINDS = {
    "CustomerQueryRq": ("Customer",),
    "ItemQueryRq": ITEM_KINDS,
    "AccountQueryRq": ("Account",),
    **{f"{kind}QueryRq": (kind,) for kind in ITEM_KINDS},
}
_LIST_ADDS = {"CustomerAddRq": "Customer", "AccountAddRq": "Account"} | {
    f"{kind}AddRq": kind for kind in ITEM_KINDS
}
_SUPPORTED = frozenset(
    {*_QUERY_KINDS, *_LIST_ADDS, "CustomerModRq", "TxnVoidRq", "TxnDelRq", "HostQueryRq",
     "CompanyQueryRq", "PreferencesQueryRq", "ListDeletedQueryRq"}
    | {f"{kind}{op}Rq" for kind in TXN_KINDS for op in ("Add", "Mod", "Query")}
    | {f"{kind}{op}Rq" for kind in MONEY_KINDS for op in ("Add", "Query")}
)  # fmt: skip
_LIST_FILTERS = {"MaxReturned", "ActiveStatus", "FromModifiedDate", "ToModifiedDate", "NameFilter"}
_TXN_FILTERS = {"MaxReturned", "EntityFilter", "RefNumberFilter", "ModifiedDateRangeFilter"}


class CompanyOpenError(Exception):
    """QuickBooks could not open the company file (the Web Connector calls connectionError)."""

    def __init__(self, hresult: str, message: str) -> None:
        super().__init__(f"{hresult}: {message}")
        self.hresult = hresult
        self.message = message


class ResponseLost(Exception):
    """QuickBooks did the work but its answer never reached the Web Connector."""


@dataclass(frozen=True)
class QbdCustomer:
    list_id: str
    name: str
    edit_sequence: str
    is_active: bool
    company_name: str | None
    first_name: str | None
    last_name: str | None
    email: str | None


@dataclass(frozen=True)
class QbdLine:
    item: str | None
    desc: str | None
    quantity: Decimal | None
    rate: Decimal | None
    amount: Decimal
    class_name: str | None = None  # ClassRef FullName


@dataclass(frozen=True)
class QbdTxn:
    kind: str
    txn_id: str
    txn_number: int
    ref_number: str
    customer: str | None
    txn_date: str | None
    edit_sequence: str
    subtotal: Decimal
    sales_tax_total: Decimal
    total: Decimal
    voided: bool
    memo: str | None
    lines: tuple[QbdLine, ...]
    balance: Decimal = Decimal("0")  # BalanceRemaining (invoice) / CreditRemaining (credit memo)
    currency: str | None = None  # CurrencyRef FullName, with multicurrency on
    exchange_rate: Decimal | None = None
    class_name: str | None = None  # the header's ClassRef FullName
    terms: str | None = None  # TermsRef FullName


@dataclass(frozen=True)
class QbdMoney:
    """A ReceivePayment or ARRefundCreditCard as the bookkeeper sees it."""

    kind: str
    txn_id: str
    ref_number: str
    customer: str | None
    total: Decimal
    account: str | None  # DepositToAccountRef / RefundFromAccountRef
    payment_method: str | None
    memo: str | None
    voided: bool
    applied: tuple[tuple[str, Decimal], ...]  # (TxnID, amount) per application
    credits: tuple[tuple[str, Decimal], ...]  # (credit memo TxnID, amount) per SetCredit


@dataclass
class _Injection:
    code: int
    remaining: int
    request: str | None


@dataclass
class _Iterator:
    kind: str
    remaining: list[etree._Element]
    max_returned: int


@dataclass
class _SimClock:
    """QuickBooks' clock for the simulation: starts at ``start``, one second per write."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def tick(self) -> None:
        self.now += timedelta(seconds=1)


class QbdCompany:
    def __init__(
        self,
        *,
        seed: int = 7,
        start: datetime | None = None,
        company_name: str = "Sample Shop LLC",
        company_file: str = COMPANY_FILE,
        xsd_dir: Path | str | None = "default",
        seed_data: bool = True,
        multicurrency: bool = False,
        home_currency: str = "US Dollar",
        class_tracking: bool = False,
    ) -> None:
        self._lock = threading.RLock()
        self._clock = _SimClock(start or datetime(2026, 1, 5, 9, 0, 0, tzinfo=_EST))
        self._random = random.Random(seed)
        self.ids = Ids(self._clock)
        self.lists = Lists(self.ids, self._clock)
        self.txns = Transactions(self.lists, self.ids, self._clock)
        self.money = MoneyTxns(self.txns, self.lists, self.ids, self._clock)
        self._bookkeeper = Bookkeeper(self.lists, self._clock.tick)
        self.stockroom = Stockroom(
            self.lists, lambda: list(self.txns.records.values()), self._clock, self._clock.tick
        )
        # Edit > Preferences > Multiple Currencies; off in a new company file.
        self.multicurrency = multicurrency
        self.home_currency = home_currency
        # Edit > Preferences > Accounting > "Use class tracking"; off in a new company file.
        self.class_tracking = class_tracking
        self.company_name = company_name
        self.company_file = company_file
        if xsd_dir == "default":
            self.schemas = default_library()
        else:
            self.schemas = SchemaLibrary(Path(xsd_dir) if xsd_dir else None)
        self._injections: list[_Injection] = []
        self._lose_responses = 0
        self._open_failures: list[tuple[str, str]] = []
        self._iterators: dict[str, _Iterator] = {}
        # The last message set sent with a newMessageSetID: (id, checksum, response text).
        self._saved_set: tuple[str, str, str] | None = None
        self.session_open = False
        self.requests_processed: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()  # statusCode answered -> how often
        self.messages_processed = 0
        if seed_data:
            self._seed()

    # -- the session the Web Connector opens --------------------------------------------------------

    def open_session(self, company_file: str = "") -> None:
        """BeginSession: "" means the company file that is open in QuickBooks."""
        with self._lock:
            if self._open_failures:
                hresult, message = self._open_failures.pop(0)
                raise CompanyOpenError(hresult, message)
            if company_file and company_file.casefold() != self.company_file.casefold():
                raise CompanyOpenError(
                    "0x80040408",
                    f"Could not start QuickBooks. The file {company_file} is not open.",
                )
            self.session_open = True

    def close_session(self) -> None:
        """EndSession: iterators live only within one session."""
        with self._lock:
            self.session_open = False
            self._iterators.clear()

    def host_company_preferences_response(self) -> str:
        """What QBWC sends as strHCPResponse on the first sendRequestXML of a session."""
        with self._lock:
            root = element("QBXML")
            msgs = etree.SubElement(root, "QBXMLMsgsRs")
            msgs.append(self._host_query(element("HostQueryRq")))
            msgs.append(self._company_query(element("CompanyQueryRq")))
            msgs.append(self._preferences_query(element("PreferencesQueryRq")))
            return _document(root)

    # -- ProcessRequest -----------------------------------------------------------------------------

    def process(self, request_xml: str) -> str:
        """Run one request message set and answer it, with qbXML error recovery.

        QuickBooks keeps the last message set sent with a ``newMessageSetID`` (its id, a
        checksum of its requests, its response). As Intuit's error-recovery sample reads the
        codes: sending the same id again with the same requests answers the saved response
        without running anything (different requests: messageSetStatusCode 9001);
        ``oldMessageSetID`` naming the saved set asks what happened to it: its saved
        responses come first, then the answers to this message's own requests; an
        ``oldMessageSetID`` that matches nothing, without a ``newMessageSetID``, is 600.
        """
        with self._lock:
            parsed = parse_request(request_xml, _SUPPORTED, self.schemas)
            msgs = parsed.msgs
            old_id = msgs.get("oldMessageSetID")
            new_id = msgs.get("newMessageSetID")
            checksum = hashlib.sha256(
                b"".join(etree.tostring(r, method="c14n") for r in children(msgs))
            ).hexdigest()
            saved = self._saved_set
            if new_id is not None and saved is not None and saved[0] == new_id:
                if saved[1] == checksum:
                    return self._finish(saved[2])  # the same set again: not run twice
                return self._finish(_message_set_status(new_id, 9001))
            status = 0
            replay: list[etree._Element] = []
            if old_id == "ClearAllMessageSets":
                self._saved_set = None
            elif old_id is not None:
                if saved is not None and saved[0] == old_id:
                    replay = list(etree.fromstring(saved[2].encode("utf-8")).find("QBXMLMsgsRs"))
                elif new_id is None:
                    status = 600
            recovery = old_id is not None or new_id is not None
            response = self._run(msgs, new_id, status if recovery else None, replay)
            if new_id is not None:
                self._saved_set = (new_id, checksum, response)
            self.messages_processed += 1
            return self._finish(response)

    def _finish(self, response: str) -> str:
        if self._lose_responses:
            self._lose_responses -= 1
            raise ResponseLost("QuickBooks processed the request; its response was lost")
        return response

    def _run(
        self,
        msgs: etree._Element,
        new_id: str | None,
        status: int | None,
        replay: list[etree._Element],
    ) -> str:
        root = element("QBXML")
        out = etree.SubElement(root, "QBXMLMsgsRs")
        if new_id is not None:
            out.set("newMessageSetID", new_id)
        if status is not None:
            out.set("messageSetStatusCode", str(status))
        for earlier in replay:
            out.append(earlier)
        stop_on_error = msgs.get("onError") == "stopOnError"
        include_data = msgs.get("responseData") != "includeNone"
        for request in children(msgs):
            answer = self._answer(request)
            if not include_data:
                for child in list(answer):
                    answer.remove(child)
            out.append(answer)
            if stop_on_error and severity(int(answer.get("statusCode", "0"))) == "Error":
                break  # QuickBooks leaves the rest unprocessed and unanswered
        return _document(root)

    def _answer(self, request: etree._Element) -> etree._Element:
        name = str(request.tag)
        rs = element(name[:-2] + "Rs")
        request_id = request.get("requestID")
        if request_id is not None:
            rs.set("requestID", request_id)
        self.requests_processed[name[:-2]] += 1
        try:
            self._injected(name)
            rets, extra = self._dispatch(name, request)
        except QbStatus as status:
            self.statuses[status.code] += 1
            _status(rs, status.code, status.message)
            return rs
        code = int(extra.pop("statusCode", "0"))
        self.statuses[code] += 1
        _status(rs, code, extra.pop("statusMessage", "Status OK"))
        for key, value in extra.items():
            rs.set(key, value)
        for ret in rets:
            rs.append(ret)
        return rs

    def _injected(self, name: str) -> None:
        for injection in self._injections:
            wanted = injection.request
            if wanted is None or wanted in (name, name[:-2]):
                injection.remaining -= 1
                if injection.remaining <= 0:
                    self._injections.remove(injection)
                raise QbStatus(injection.code, _injected_message(injection.code, name[:-2]))

    def _dispatch(
        self, name: str, request: etree._Element
    ) -> tuple[list[etree._Element], dict[str, str]]:
        if name == "HostQueryRq":
            return list(self._host_query(request)), {}
        if name == "CompanyQueryRq":
            return list(self._company_query(request)), {}
        if name == "PreferencesQueryRq":
            return list(self._preferences_query(request)), {}
        if name in _QUERY_KINDS:
            return self._list_query(name, request)
        if name == "ListDeletedQueryRq":
            rets = self.stockroom.query(request, _EST)
            return rets, {"retCount": str(len(rets))}
        if name in ("TxnVoidRq", "TxnDelRq"):
            return self._void_or_delete(name, request)  # no wrapper element around the fields
        body = children(request)[0] if children(request) else element("Empty")
        self._check_currency(name, body)
        self._check_classes(body)
        if name in _LIST_ADDS:
            record = self.lists.add_from_request(_LIST_ADDS[name], body)
            self._clock.tick()
            return [self._list_ret(record)], {}
        if name == "CustomerModRq":
            record = self.lists.modify_from_request("Customer", body)
            self._clock.tick()
            return [self._list_ret(record)], {}
        kind, op = _txn_name(name)
        if op == "Query":
            return self._txn_query(kind, request)
        txn: TxnRecord
        if kind in MONEY_KINDS:
            txn = self.money.add(kind, body)
        else:
            txn = self.txns.add(kind, body) if op == "Add" else self.txns.modify(kind, body)
        if self.multicurrency and txn.customer is not None:
            # A transaction is in its customer's currency (qbXML has no CurrencyRef on Add).
            currency = self._currency_of(txn.customer)
            txn.header["CurrencyRef"] = currency.ref("CurrencyRef")
            if currency.full_name == self.home_currency:
                txn.header.pop("ExchangeRate", None)
            else:
                txn.header.setdefault("ExchangeRate", element("ExchangeRate", "1"))
        self._clock.tick()
        return [txn.ret(include_lines=True)], {}

    # -- currencies -----------------------------------------------------------------------------

    def _check_currency(self, name: str, body: etree._Element) -> None:
        """Multicurrency off: a customer in another currency, or an exchange rate, is refused."""
        if self.multicurrency:
            return
        if name in ("CustomerAddRq", "CustomerModRq") and body.find("CurrencyRef") is not None:
            raise QbStatus(STATUS_FEATURE_OFF, FEATURE_OFF)
        if name.endswith(("AddRq", "ModRq")) and body.find("ExchangeRate") is not None:
            raise QbStatus(STATUS_FEATURE_OFF, FEATURE_OFF)

    def _check_classes(self, body: etree._Element) -> None:
        """Class tracking off: a ClassRef anywhere in an Add or Mod is refused.

        Intuit does not document this answer. 3250 ("feature not enabled") is the code
        QuickBooks gives for other preferences that are off (Multiple Currencies), so the
        simulated file answers the same here rather than ignoring the class silently.
        """
        if self.class_tracking:
            return
        if next(body.iter("ClassRef"), None) is not None:
            raise QbStatus(STATUS_FEATURE_OFF, FEATURE_OFF)

    def _currency_of(self, customer: ListRecord) -> ListRecord:
        ref = customer.nested("CurrencyRef")
        name = ref.findtext("FullName") if ref is not None else None
        found = self.lists.by_name(("Currency",), name or self.home_currency)
        if found is None:
            raise QbStatus(1000, f"The home currency {self.home_currency!r} is not in the list.")
        return found

    # -- queries --------------------------------------------------------------------------------

    def _list_query(
        self, name: str, request: etree._Element
    ) -> tuple[list[etree._Element], dict[str, str]]:
        kinds = _QUERY_KINDS[name]
        if request.get("iterator") == "Continue":
            return self._continue(request)
        if request.get("iterator") == "Stop":
            return self._stop(request)
        ids = [n.text or "" for n in request.findall("ListID")]
        names = [n.text or "" for n in request.findall("FullName")]
        max_returned = _int(request.findtext("MaxReturned"))
        warning: dict[str, str] = {}
        if ids or names:
            found: list[ListRecord] = []
            missing: list[str] = []
            for key in ids:
                record = self.lists.by_id(kinds, key)
                if record is None:
                    missing.append(key)
                else:
                    found.append(record)
            for key in names:
                record = self.lists.by_name(kinds, key)
                if record is None:
                    missing.append(key)
                else:
                    found.append(record)
            warning = _not_found(missing, found)
            records = found
        else:
            records = self._filtered_lists(kinds, request)
        rets = [self._list_ret(r) for r in records]
        included = {n.text or "" for n in request.findall("IncludeRetElement")}
        if included:
            rets = [only(r, included) for r in rets]
        return self._page(name, request, rets, max_returned, warning)

    def _filtered_lists(self, kinds: tuple[str, ...], request: etree._Element) -> list[ListRecord]:
        for child in children(request):
            if child.tag not in _LIST_FILTERS | {"IncludeRetElement", "OwnerID", "AccountType"}:
                raise QbStatus(1000, f"The simulated company does not filter by {child.tag}.")
        active = request.findtext("ActiveStatus") or "ActiveOnly"
        # The list's own order: a parent, then its sub-items, then the next name.
        records = sorted(
            self.lists.of_kind(kinds),
            key=lambda r: tuple(part.casefold() for part in r.full_name.split(":")),
        )
        if active == "ActiveOnly":
            records = [r for r in records if r.is_active]
        elif active == "InactiveOnly":
            records = [r for r in records if not r.is_active]
        account_type = request.findtext("AccountType")
        if account_type:
            records = [r for r in records if r.value("AccountType") == account_type]
        name_filter = request.find("NameFilter")
        if name_filter is not None:
            criterion = name_filter.findtext("MatchCriterion") or "StartsWith"
            needle = (name_filter.findtext("Name") or "").casefold()
            test = {
                "StartsWith": str.startswith,
                "Contains": str.__contains__,
                "EndsWith": str.endswith,
            }[criterion]
            records = [r for r in records if test(r.full_name.casefold(), needle)]
        # Both ends inclusive: "modified on or after" / "on or before" (the SDK's wording).
        since = request.findtext("FromModifiedDate")
        if since:
            low = parse_query_date(since, "FromModifiedDate", _EST)
            records = [r for r in records if r.modified.replace(microsecond=0) >= low]
        until = request.findtext("ToModifiedDate")
        if until:
            high = parse_query_date(until, "ToModifiedDate", _EST)
            records = [r for r in records if r.modified.replace(microsecond=0) <= high]
        return records

    def _txn_query(
        self, kind: str, request: etree._Element
    ) -> tuple[list[etree._Element], dict[str, str]]:
        name = f"{kind}QueryRq"
        if request.get("iterator") == "Continue":
            return self._continue(request)
        include_lines = request.findtext("IncludeLineItems") == "true"
        txn_ids = [n.text or "" for n in request.findall("TxnID")]
        refs = [n.text or "" for n in request.findall("RefNumber")]
        refs_exact = [n.text or "" for n in request.findall("RefNumberCaseSensitive")]
        records = sorted(self.txns.of_kind(kind), key=lambda t: t.txn_number)
        warning: dict[str, str] = {}
        if txn_ids:
            found = [t for t in (self.txns.find(kind, i) for i in txn_ids) if t is not None]
            missing = [i for i in txn_ids if self.txns.find(kind, i) is None]
            warning = _not_found(missing, found)
            records = found
        elif refs or refs_exact:
            wanted = {r.casefold() for r in refs}
            records = [
                t
                for t in records
                if t.ref_number.casefold() in wanted or t.ref_number in refs_exact
            ]
        else:
            records = self._filtered_txns(records, request)
        if not records:
            raise QbStatus(1, "A query request did not find a matching object in QuickBooks")
        rets = [t.ret(include_lines=include_lines) for t in records]
        return self._page(name, request, rets, _int(request.findtext("MaxReturned")), warning)

    def _filtered_txns(self, records: list[TxnRecord], request: etree._Element) -> list[TxnRecord]:
        for child in children(request):
            if child.tag not in _TXN_FILTERS | {
                "IncludeLineItems",
                "IncludeLinkedTxns",
                "IncludeRetElement",
                "OwnerID",
            }:
                raise QbStatus(1000, f"The simulated company does not filter by {child.tag}.")
        entity = request.find("EntityFilter")
        if entity is not None:
            ids = {n.text for n in entity.iter("ListID")}
            names = {(n.text or "").casefold() for n in entity.iter("FullName")}
            records = [
                t for t in records
                if t.customer is not None
                and (t.customer.list_id in ids or t.customer.full_name.casefold() in names)
            ]  # fmt: skip
        ref_filter = request.find("RefNumberFilter")
        if ref_filter is not None:
            criterion = ref_filter.findtext("MatchCriterion") or "StartsWith"
            needle = (ref_filter.findtext("RefNumber") or "").casefold()
            test = {
                "StartsWith": str.startswith,
                "Contains": str.__contains__,
                "EndsWith": str.endswith,
            }[criterion]
            records = [t for t in records if test(t.ref_number.casefold(), needle)]
        modified = request.find("ModifiedDateRangeFilter")
        if modified is not None:
            low = modified.findtext("FromModifiedDate") or ""
            high = modified.findtext("ToModifiedDate") or "9999"
            records = [t for t in records if low <= qb_time(t.modified) <= high]
        return records

    def _page(
        self,
        name: str,
        request: etree._Element,
        rets: list[etree._Element],
        max_returned: int | None,
        extra: dict[str, str],
    ) -> tuple[list[etree._Element], dict[str, str]]:
        if not rets:
            raise QbStatus(1, "A query request did not find a matching object in QuickBooks")
        if request.get("iterator") == "Start":
            size = max_returned or len(rets)
            iterator_id = "{" + str(uuid.UUID(int=self._random.getrandbits(128), version=4)) + "}"
            page, rest = rets[:size], rets[size:]
            self._iterators[iterator_id] = _Iterator(name, rest, size)
            return page, {
                **extra,
                "retCount": str(len(page)),
                "iteratorRemainingCount": str(len(rest)),
                "iteratorID": iterator_id,
            }
        if max_returned is not None:
            rets = rets[:max_returned]
        return rets, {**extra, "retCount": str(len(rets))}

    def _continue(self, request: etree._Element) -> tuple[list[etree._Element], dict[str, str]]:
        iterator_id = request.get("iteratorID") or ""
        state = self._iterators.get(iterator_id)
        if state is None or state.kind != request.tag:
            raise QbStatus(
                3000, f'The given object ID "{iterator_id}" in the field "iteratorID" is invalid.'
            )
        size = _int(request.findtext("MaxReturned")) or state.max_returned
        page, state.remaining = state.remaining[:size], state.remaining[size:]
        if not state.remaining:
            del self._iterators[iterator_id]
        return page, {
            "retCount": str(len(page)),
            "iteratorRemainingCount": str(len(state.remaining)),
            "iteratorID": iterator_id,
        }

    def _stop(self, request: etree._Element) -> tuple[list[etree._Element], dict[str, str]]:
        """iterator="Stop": the application is done early; QuickBooks lets the iterator go."""
        iterator_id = request.get("iteratorID") or ""
        state = self._iterators.get(iterator_id)
        if state is None or state.kind != request.tag:
            raise QbStatus(
                3000, f'The given object ID "{iterator_id}" in the field "iteratorID" is invalid.'
            )
        del self._iterators[iterator_id]
        return [], {"iteratorRemainingCount": "0", "iteratorID": iterator_id}

    # -- void / delete ------------------------------------------------------------------------------

    def _void_or_delete(
        self, name: str, body: etree._Element
    ) -> tuple[list[etree._Element], dict[str, str]]:
        voiding = name == "TxnVoidRq"
        kind = body.findtext("TxnVoidType" if voiding else "TxnDelType") or ""
        txn_id = body.findtext("TxnID") or ""
        if kind not in TXN_KINDS + MONEY_KINDS:
            raise QbStatus(3120, f'Object "{txn_id}" specified in the request cannot be found.  ')
        found = self.txns.find(kind, txn_id)
        if found is not None:
            self.money.release(found)  # a payment or refund gives its applications back
        if voiding:
            txn = self.txns.void(kind, txn_id)
            rets = [
                element("TxnVoidType", kind),
                element("TxnID", txn.txn_id),
                element("TimeCreated", qb_time(txn.created)),
                element("TimeModified", qb_time(txn.modified)),
                element("RefNumber", txn.ref_number),
            ]
        else:
            txn = self.txns.delete(kind, txn_id)
            rets = [
                element("TxnDelType", kind),
                element("TxnID", txn.txn_id),
                element("TimeDeleted", qb_time(self._clock())),
                element("RefNumber", txn.ref_number),
            ]
        self._clock.tick()
        return rets, {}

    # -- host / company -----------------------------------------------------------------------------

    def _host_query(self, request: etree._Element) -> etree._Element:
        rs = element("HostQueryRs")
        if request.get("requestID"):
            rs.set("requestID", request.get("requestID", ""))
        _status(rs, 0, "Status OK")
        host = etree.SubElement(rs, "HostRet")
        for tag, text in (
            ("ProductName", "QuickBooks Pro 2024"),
            ("MajorVersion", "34"),
            ("MinorVersion", "0"),
            ("Country", "US"),
            ("SupportedQBXMLVersion", "13.0"),
            ("SupportedQBXMLVersion", "16.0"),
            ("IsAutomaticLogin", "true"),
            ("QBFileMode", "SingleUser"),
        ):
            etree.SubElement(host, tag).text = text
        return rs

    def _company_query(self, request: etree._Element) -> etree._Element:
        rs = element("CompanyQueryRs")
        if request.get("requestID"):
            rs.set("requestID", request.get("requestID", ""))
        _status(rs, 0, "Status OK")
        company = etree.SubElement(rs, "CompanyRet")
        etree.SubElement(company, "IsSampleCompany").text = "false"
        etree.SubElement(company, "CompanyName").text = self.company_name
        etree.SubElement(company, "LegalCompanyName").text = self.company_name
        return rs

    def _preferences_query(self, request: etree._Element) -> etree._Element:
        rs = element("PreferencesQueryRs")
        if request.get("requestID"):
            rs.set("requestID", request.get("requestID", ""))
        _status(rs, 0, "Status OK")
        prefs = etree.SubElement(rs, "PreferencesRet")
        accounting = etree.SubElement(prefs, "AccountingPreferences")
        for tag in ("IsUsingAccountNumbers", "IsRequiringAccounts", "IsUsingClassTracking",
                    "IsUsingAuditTrail", "IsAssigningJournalEntryNumbers"):  # fmt: skip
            on = tag == "IsRequiringAccounts" or (
                tag == "IsUsingClassTracking" and self.class_tracking
            )
            etree.SubElement(accounting, tag).text = "true" if on else "false"
        currencies = etree.SubElement(prefs, "MultiCurrencyPreferences")
        etree.SubElement(currencies, "IsMultiCurrencyOn").text = (
            "true" if self.multicurrency else "false"
        )
        home = self.lists.by_name(("Currency",), self.home_currency)
        if self.multicurrency and home is not None:
            currencies.append(home.ref("HomeCurrencyRef"))
        tax = etree.SubElement(prefs, "SalesTaxPreferences")
        zero = self.lists.by_name(("ItemSalesTax",), "Out of State")
        taxable = self.lists.by_name(("SalesTaxCode",), "Tax")
        non = self.lists.by_name(("SalesTaxCode",), "Non")
        if zero is None or taxable is None or non is None:
            prefs.remove(tax)  # a company without sales tax set up
        else:
            tax.append(zero.ref("DefaultItemSalesTaxRef"))
            etree.SubElement(tax, "PaySalesTax").text = "Monthly"
            tax.append(taxable.ref("DefaultTaxableSalesTaxCodeRef"))
            tax.append(non.ref("DefaultNonTaxableSalesTaxCodeRef"))
        rights = etree.SubElement(prefs, "CurrentAppAccessRights")
        etree.SubElement(rights, "IsAutomaticLoginAllowed").text = "true"
        etree.SubElement(rights, "IsPersonalDataAccessAllowed").text = "true"
        return rs

    def _list_ret(self, record: ListRecord) -> etree._Element:
        computed: dict[str, str] = {}
        if record.kind == "Customer":
            balance = sum(
                (t.total if t.kind == "Invoice" else -t.total)
                for t in self.txns.records.values()
                if t.customer is record and t.kind in ("Invoice", "CreditMemo")
            )
            computed = {
                "Balance": money(Decimal(balance)),
                "TotalBalance": money(Decimal(balance)),
                "JobStatus": "None",
            }
        elif record.kind == "Account":
            computed = {"Balance": "0.00", "TotalBalance": "0.00"}
        return record.ret(computed)

    # -- faults ---------------------------------------------------------------------------------

    def inject(self, status_code: int, times: int = 1, request: str | None = None) -> None:
        """The next ``times`` matching requests (e.g. "InvoiceAdd", "CustomerModRq") fail with the code."""
        if status_code not in INJECTABLE:
            raise ValueError(f"injectable status codes are {sorted(INJECTABLE)}")
        with self._lock:
            self._injections.append(_Injection(status_code, times, request))

    def lose_next_response(self, times: int = 1) -> None:
        with self._lock:
            self._lose_responses += times

    def fail_open_company(
        self,
        times: int = 1,
        hresult: str = "0x80040408",
        message: str = "Could not start QuickBooks.",
    ) -> None:
        with self._lock:
            self._open_failures.extend([(hresult, message)] * times)

    # -- inspection -------------------------------------------------------------------------------

    def transactions(self, kind: str | None = None) -> list[QbdTxn]:
        """Invoices, sales receipts and credit memos (money_txns has the payments)."""
        with self._lock:
            records = sorted(self.txns.records.values(), key=lambda t: t.txn_number)
            return [
                _txn_view(t)
                for t in records
                if not isinstance(t, MoneyRecord) and (kind is None or t.kind == kind)
            ]

    def money_txns(self, kind: str | None = None) -> list[QbdMoney]:
        """ReceivePayments and ARRefundCreditCards, in the order they were added."""
        with self._lock:
            records = sorted(self.txns.records.values(), key=lambda t: t.txn_number)
            return [
                _money_view(t)
                for t in records
                if isinstance(t, MoneyRecord) and (kind is None or t.kind == kind)
            ]

    def customer_currency(self, name: str) -> str | None:
        """The customer's currency name (None with multicurrency off)."""
        with self._lock:
            record = self.lists.by_name(("Customer",), name)
            if record is None or not self.multicurrency:
                return None
            return self._currency_of(record).full_name

    def customers(self) -> list[QbdCustomer]:
        with self._lock:
            return [
                QbdCustomer(
                    list_id=r.list_id,
                    name=r.name,
                    edit_sequence=r.edit_sequence,
                    is_active=r.is_active,
                    company_name=r.value("CompanyName"),
                    first_name=r.value("FirstName"),
                    last_name=r.value("LastName"),
                    email=r.value("Email"),
                )
                for r in self.lists.of_kind(("Customer",))
            ]

    # -- a person at the keyboard ---------------------------------------------------------------

    def add_item(
        self,
        kind: str,
        name: str,
        *,
        parent: str | None = None,
        price: Decimal | str | None = None,
        desc: str | None = None,
        quantity_on_hand: Decimal | int | str | None = None,
        active: bool = True,
    ) -> str:
        """The bookkeeper adds an inventory, non-inventory or service item; its ListID."""
        with self._lock:
            return self._bookkeeper.add_item(
                kind, name, parent=parent, price=price, desc=desc,
                quantity_on_hand=quantity_on_hand, active=active,
            ).list_id  # fmt: skip

    def edit_item(
        self,
        full_name: str,
        *,
        price: Decimal | str | None = None,
        desc: str | None = None,
        quantity_on_hand: Decimal | int | str | None = None,
        active: bool | None = None,
        name: str | None = None,
    ) -> QbdItem:
        """The bookkeeper changes an item (EditSequence and TimeModified move on)."""
        with self._lock:
            record = self._bookkeeper.edit_item(
                full_name, price=price, desc=desc, quantity_on_hand=quantity_on_hand,
                active=active, name=name,
            )  # fmt: skip
            return item_view(record)

    def edit_customer(self, full_name: str, **changes: str | bool | dict[str, str]) -> QbdCustomer:
        """The bookkeeper edits a customer (EditSequence and TimeModified move on)."""
        with self._lock:
            record = self._bookkeeper.edit_customer(full_name, **changes)
            return next(c for c in self.customers() if c.list_id == record.list_id)

    def delete_item(self, full_name: str) -> DeletedRecord:
        """The bookkeeper deletes an item (Edit > Delete Item): it leaves the list, and
        ListDeletedQuery reports it. Refused (QbStatus 3170) for an item with sub-items or
        one a transaction uses, as QuickBooks refuses it."""
        with self._lock:
            return self.stockroom.delete_item(full_name)

    def sell(self, item: str, quantity: int | Decimal, customer: str = "Cash Customer") -> str:
        """The bookkeeper invoices ``quantity`` of an inventory item: its QuantityOnHand goes
        down, its TimeModified and EditSequence stay. The invoice's TxnID."""
        with self._lock:
            self.stockroom.move_quantity(item, Decimal(0))  # refuses a non-inventory item
            body = element("InvoiceAdd")
            ref = etree.SubElement(body, "CustomerRef")
            etree.SubElement(ref, "FullName").text = customer
            line = etree.SubElement(body, "InvoiceLineAdd")
            etree.SubElement(etree.SubElement(line, "ItemRef"), "FullName").text = item
            etree.SubElement(line, "Quantity").text = str(quantity)
            try:
                txn = self.txns.add("Invoice", body)
            except QbStatus as refused:
                raise ValueError(refused.message) from None
            self.stockroom.move_quantity(item, -Decimal(quantity))
            self._clock.tick()
            return txn.txn_id

    def adjust_quantity(self, item: str, difference: int | Decimal) -> Decimal:
        """An inventory adjustment (Vendors > Inventory Activities > Adjust Quantity/Value on
        Hand) by ``difference``: QuantityOnHand moves, the item's TimeModified does not."""
        with self._lock:
            quantity = self.stockroom.move_quantity(item, Decimal(difference))
            self._clock.tick()
            return quantity

    def item(self, full_name: str) -> QbdItem | None:
        with self._lock:
            record = self.lists.by_name(ITEM_KINDS, full_name)
            return item_view(record) if record is not None else None

    def items(self) -> dict[str, str]:
        """Item name -> item type (ItemService, ItemNonInventory, ...)."""
        with self._lock:
            return {r.full_name: r.kind for r in self.lists.of_kind(ITEM_KINDS)}

    def counts(self) -> dict[str, int]:
        with self._lock:
            counted: Counter[str] = Counter(r.kind for r in self.lists.records.values())
            counted.update(t.kind for t in self.txns.records.values())
            return dict(counted)

    # -- seeding --------------------------------------------------------------------------------

    def add_list_record(
        self, kind: str, name: str, **fields: str | Sequence[tuple[str, str]]
    ) -> str:
        """Seed a list record directly (as if the bookkeeper typed it); returns its ListID.

        ``fields`` are simple child elements (``AccountType="Income"``) or, for aggregates and
        refs, pairs: ``SalesOrPurchase=[("Price", "5.00"), ("AccountRef", "Sales")]``.
        """
        with self._lock:
            built: dict[str, list[etree._Element]] = {}
            for tag, value in fields.items():
                node = element(tag)
                if isinstance(value, str):
                    if tag.endswith("Ref"):
                        etree.SubElement(node, "FullName").text = value
                    else:
                        node.text = value
                else:
                    for child_tag, child_value in value:
                        child = etree.SubElement(node, child_tag)
                        if child_tag.endswith("Ref"):
                            etree.SubElement(child, "FullName").text = child_value
                        else:
                            child.text = child_value
                built[tag] = [self.lists.resolved_copy(node, kind)]
            record = self.lists.add(kind, name, built)
            self._clock.tick()
            return record.list_id

    def _seed(self) -> None:
        add = self.add_list_record
        for name, account_type in (
            ("Accounts Receivable", "AccountsReceivable"),
            ("Undeposited Funds", "OtherCurrentAsset"),
            ("Checking", "Bank"),
            ("Sales", "Income"),
            ("Merchandise Sales", "Income"),
            ("Shipping and Delivery Income", "Income"),
            ("Fee Income", "Income"),
            ("Sales Discounts", "Income"),
            ("Sales Tax Payable", "OtherCurrentLiability"),
        ):
            add("Account", name, AccountType=account_type)
        add("SalesTaxCode", "Tax", IsTaxable="true", Desc="Taxable Sales")
        add("SalesTaxCode", "Non", IsTaxable="false", Desc="Non-Taxable Sales")
        for kind, names in (
            ("Template", ("Intuit Product Invoice", "Custom Sales Receipt", "Custom Credit Memo")),
            ("StandardTerms", ("Due on receipt", "Net 15", "Net 30", "Net 60")),
            ("Class", ("Retail", "Wholesale", "Gift Cards", "Online")),
            (
                "PaymentMethod",
                (
                    "Cash",
                    "Check",
                    "Credit Card",
                    "PayPal",
                    "Visa",
                    "MasterCard",
                    "American Express",
                    "E-Check",
                    "Debit Card",
                ),
            ),
        ):
            for name in names:
                add(kind, name)
        for name, code in CURRENCIES.items():
            add("Currency", name, CurrencyCode=code)
        add("Vendor", "State Board of Equalization")
        # Store tax arrives as an explicit amount on an Other Charge item posting to the
        # liability; a 0% sales tax item keeps QuickBooks from adding tax of its own.
        add("ItemOtherCharge", "Sales Tax", SalesTaxCodeRef="Non",
            SalesOrPurchase=[("Desc", "Sales tax collected by the store"),
                             ("AccountRef", "Sales Tax Payable")])  # fmt: skip
        add("ItemSalesTax", "Out of State", ItemDesc="No sales tax", TaxRate="0.0",
            TaxVendorRef="State Board of Equalization")  # fmt: skip
        add("ItemOtherCharge", "Shipping", SalesTaxCodeRef="Non",
            SalesOrPurchase=[("Desc", "Shipping"), ("AccountRef", "Shipping and Delivery Income")])  # fmt: skip
        add("ItemOtherCharge", "Fees", SalesTaxCodeRef="Non",
            SalesOrPurchase=[("Desc", "Fees"), ("AccountRef", "Fee Income")])  # fmt: skip
        add("ItemDiscount", "Discount", ItemDesc="Store coupons and discounts", SalesTaxCodeRef="Non",
            AccountRef="Sales Discounts")  # fmt: skip
        add("ItemNonInventory", "Sales", SalesTaxCodeRef="Non",
            SalesOrPurchase=[("Desc", "Store sales"), ("AccountRef", "Merchandise Sales")])  # fmt: skip
        add("ItemService", "Gift Wrapping", SalesTaxCodeRef="Non",
            SalesOrPurchase=[("Price", "5.00"), ("AccountRef", "Sales")])  # fmt: skip
        add("Customer", "Cash Customer")


def _txn_name(name: str) -> tuple[str, str]:
    base = name[:-2]
    for op in ("Add", "Mod", "Query"):
        if base.endswith(op):
            return base[: -len(op)], op
    raise QbStatus(1000, f"The simulated company does not handle {name}.")


def _status(rs: etree._Element, code: int, message: str) -> None:
    rs.set("statusCode", str(code))
    rs.set("statusSeverity", severity(code))
    rs.set("statusMessage", message)


def _not_found(missing: Sequence[str], found: Sequence[object]) -> dict[str, str]:
    """How QuickBooks answers a query that names (by ListID, FullName or TxnID) what it lacks.

    500 Warn, not 1: status 1 is for a filter (NameFilter, RefNumber, a date range) that
    matches nothing; a named object that is not there is 500. Intuit does not say what a
    query naming several objects answers when only some exist; here it is 500 naming the
    first missing one, with the records found, so a reader must take 500 as "not found"
    for the names it asked and still read the records that came. Raises when none exist.
    """
    if not missing:
        return {}
    message = (
        "The query request has not been fully completed. There was a required "
        f'element ("{missing[0]}") that could not be found in QuickBooks.'
    )
    if not found:
        raise QbStatus(STATUS_NOT_FOUND, message)
    return {"statusCode": str(STATUS_NOT_FOUND), "statusMessage": message}


def _injected_message(code: int, request: str) -> str:
    obj = request.removesuffix("Add").removesuffix("Mod") or request
    return {
        3170: f"There was an error when modifying a {obj}.  QuickBooks error message: This record "
        "has been modified by another user.",
        3175: f"There was an error when saving a {obj}.  QuickBooks error message: The record "
        "could not be locked; it is in use by another user.",
        3176: f"There was an error when saving a {obj}.  QuickBooks error message: Failed to "
        "acquire the lock; the list element is in use.",
        3180: f"There was an error when saving a {obj}.  QuickBooks error message: Another user "
        "is editing this record; it could not be saved.",
        3200: 'The provided edit sequence "0" is out-of-date. ',
    }[code]


def _message_set_status(new_id: str, code: int) -> str:
    root = element("QBXML")
    out = etree.SubElement(root, "QBXMLMsgsRs")
    out.set("newMessageSetID", new_id)
    out.set("messageSetStatusCode", str(code))
    return _document(root)


def _int(text: str | None) -> int | None:
    return int(text) if text and text.strip().isdigit() else None


def _document(root: etree._Element) -> str:
    body = etree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" ?>\n{body}\n'


def _ref_name(header: dict[str, etree._Element], tag: str) -> str | None:
    ref = header.get(tag)
    return ref.findtext("FullName") if ref is not None else None


def _money_view(t: MoneyRecord) -> QbdMoney:
    memo = t.header.get("Memo")
    account = "DepositToAccountRef" if t.kind == "ReceivePayment" else "RefundFromAccountRef"
    return QbdMoney(
        kind=t.kind,
        txn_id=t.txn_id,
        ref_number=t.ref_number,
        customer=t.customer.full_name if t.customer else None,
        total=t.total,
        account=_ref_name(t.header, account),
        payment_method=_ref_name(t.header, "PaymentMethodRef"),
        memo=memo.text if memo is not None else None,
        voided=t.voided,
        applied=tuple((a.target.txn_id, a.amount) for a in t.applications),
        credits=tuple((c.txn_id, used) for a in t.applications for c, used in a.credits),
    )


def _txn_view(t: TxnRecord) -> QbdTxn:
    memo = t.header.get("Memo")
    date = t.header.get("TxnDate")
    rate = t.header.get("ExchangeRate")
    return QbdTxn(
        kind=t.kind,
        txn_id=t.txn_id,
        txn_number=t.txn_number,
        ref_number=t.ref_number,
        customer=t.customer.full_name if t.customer else None,
        txn_date=date.text if date is not None else None,
        edit_sequence=t.edit_sequence,
        subtotal=t.subtotal,
        sales_tax_total=t.sales_tax_total,
        total=t.total,
        voided=t.voided,
        memo=memo.text if memo is not None else None,
        balance=t.total - t.applied,
        currency=_ref_name(t.header, "CurrencyRef"),
        exchange_rate=Decimal(rate.text) if rate is not None and rate.text else None,
        class_name=_ref_name(t.header, "ClassRef"),
        terms=_ref_name(t.header, "TermsRef"),
        lines=tuple(
            QbdLine(
                item=line.item.full_name if line.item else None,
                desc=line.fields["Desc"].text if "Desc" in line.fields else None,
                quantity=line.quantity,
                rate=line.rate,
                amount=line.amount,
                class_name=_ref_name(line.fields, "ClassRef"),
            )
            for line in t.lines
        ),
    )

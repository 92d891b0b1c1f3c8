"""Store-side mapping decisions: which QuickBooks names an order needs, and under what numbers.

Nothing here knows QuickBooks' wire format; the ledger adapters turn these
decisions into documents. Every refusal is a PermanentError whose reason tells a
bookkeeper what to change in the tenant file before replaying the order.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Container, Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connector.config import MappingRules
from connector.errors import PermanentError
from connector.model import Customer, Order, TaxAmount, TaxLine

DOC_NUMBER_MAX = 21  # QuickBooks Online DocNumber limit for sales forms (Finance.xsd)
DISPLAY_NAME_MAX = 500
ITEM_NAME_MAX = 100
REQUEST_ID_MAX = 50  # QBO `requestid` limit; ours are 36-character UUIDs, which also fit batch (36)

# Bump when the meaning of a content hash changes, so every order is compared afresh.
_HASH_VERSION = "order-content-v1"
# Order fields that change without changing what QuickBooks receives.
_HASH_EXCLUDE: dict[str, Any] = {
    "modified_at": True,
    "status": True,
    "refunded_total": True,  # refunds post as documents of their own
    "refund_ids": True,
    "origin_ledger_id": True,  # never posted: such an order is not sent to QuickBooks
    "customer": {"modified_at"},
}
# Fields added after v1: in the hash only when set, so an order that does not carry them keeps
# the hash it was posted under (and is not sent to QuickBooks again for nothing).
# OrderLine.categories, Customer.group, Order.exchange_rate
_HASH_WHEN_SET = ("categories", "group", "exchange_rate", "rate_currency")
_REQUEST_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:ml-connector:qbo-requestid")

_WHITESPACE = re.compile(r"\s+")
# Control characters, and lone surrogates that cannot be sent as UTF-8 (QBO answers 500).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# QuickBooks' query lexer breaks on typographic quotes, and DisplayName is used in queries.
_TYPOGRAPHIC_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def doc_number(order: Order, rules: MappingRules, *, limit: int = DOC_NUMBER_MAX) -> str:
    """The DocNumber for an order: the tenant's template expanded, fitted to ``limit``.

    QuickBooks Online takes 21 characters (the default); QuickBooks Desktop's
    RefNumber 11. See :func:`fitted_doc_number` for how a long number is fitted.
    """
    return fitted_doc_number(order.number, order.store_id, rules, limit=limit)


def fitted_doc_number(
    number: str,
    store_id: str,
    rules: MappingRules,
    *,
    limit: int,
    text: Callable[[str], str] | None = None,
) -> str:
    """The tenant's doc_number template expanded for ``number``/``store_id``, at most ``limit`` long.

    The one place a document number is made, for both ledgers: QuickBooks
    Online's DocNumber (21) and QuickBooks Desktop's RefNumber (11), orders and
    credit memos ("R<refund id>") alike. ``text`` puts the expanded number into
    the ledger's alphabet before it is measured (Desktop: Latin-1, one line).

    * ``{prefix}`` is not added in front of a ``{number}`` that already starts
      with it (case-sensitive): prefix "WC-" and store number "WC-10045" give
      "WC-10045", not "WC-WC-10045".
    * A number that fits is used as it is. One that does not becomes
      ``<head>~<hash><tail>``, exactly ``limit`` characters (see _fit_long);
      the store's full number stays in the document's memo (PrivateNote/Memo).
    * Refused (PermanentError naming what to change): an empty result, and a
      too-long number whose head (the template's text before ``{number}`` or
      ``{id}``, with ``{prefix}`` expanded) leaves no room for the hash.
    """
    lead = _DOC_NUMBER_FIELD.search(rules.doc_number)
    head_template = rules.doc_number[: lead.start()] if lead else ""
    template = rules.doc_number
    if rules.doc_prefix and number.startswith(rules.doc_prefix):
        template = template.replace("{prefix}{number}", "{number}")
    fields = {"prefix": rules.doc_prefix, "number": number, "id": store_id}
    value = _expand(template, fields)
    head = _expand(head_template, fields)
    if text is not None:
        value, head = text(value), text(head)
    if not value.strip():
        raise PermanentError(
            f"store number {number!r} (id {store_id}) gives an empty document number from the "
            f"template {rules.doc_number!r}: check doc_number and doc_prefix in the tenant file, "
            "then replay"
        )
    if len(value) <= limit:
        return value
    if not value.startswith(head):
        head = ""  # ``text`` changed the head's spelling inside the number; keep none of it
    return _fit_long(value, head, limit, rules)


# A number too long for its field becomes <head>~<hash><tail>, exactly ``limit`` long:
#   head  the template's text before {number}/{id}, with the prefix: the tenant's prefix stays,
#         so documents still sort and filter by store;
#   ~     marks the number as shortened (a store's own numbers do not carry one);
#   hash  base-36 (0-9A-Z, one spelling whatever the ledger's case rules) digits of
#         sha256(full expanded number): no salt, counter or state, so the same order gets the
#         same number in every process and on every machine, and a retry after an unknown
#         outcome looks up the number the first attempt sent;
#   tail  the last characters of the number, which is what a bookkeeper reads off an order.
# Two long numbers clash only when both their tails and their hashes agree. The tail keeps at
# most _FIT_TAIL characters (a sequential number's last six digits differ across a million
# consecutive orders) and the hash takes the rest of the room, never fewer than _FIT_HASH_MIN.
# QuickBooks Online (21): with a prefix of up to 3 characters the hash has 11 or more
# (36**11 ~ 1.3e17), so even a million long numbers that share their tail collide with
# probability ~4e-6. QuickBooks Desktop (11) leaves 10 characters at most: hash 6
# (36**6 ~ 2.2e9) and a tail of 4 less the prefix; Desktop allows repeated RefNumbers, and
# the full store number is in the Memo.
_FIT_MARK = "~"
_FIT_HASH_MIN = 6
_FIT_TAIL = 6
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DOC_NUMBER_FIELD = re.compile(r"\{(?:number|id)\}")
_TEMPLATE_FIELD = re.compile(r"\{(prefix|number|id)\}")


def _expand(template: str, fields: dict[str, str]) -> str:
    """One pass, so a store number containing "{id}" is not expanded again."""
    return _TEMPLATE_FIELD.sub(lambda m: fields[m.group(1)], template)


def _base36(digest: bytes, digits: int) -> str:
    value = int.from_bytes(digest, "big")
    out = []
    for _ in range(digits):
        value, digit = divmod(value, 36)
        out.append(_BASE36[digit])
    return "".join(out)


def _fit_long(value: str, head: str, limit: int, rules: MappingRules) -> str:
    room = limit - len(head) - len(_FIT_MARK)
    if room < _FIT_HASH_MIN:
        most = max(limit - len(_FIT_MARK) - _FIT_HASH_MIN - (len(head) - len(rules.doc_prefix)), 0)
        raise PermanentError(
            f"document number {value!r} is {len(value)} characters, more than the {limit} "
            f"QuickBooks keeps, and its start {head!r} leaves no room to shorten it: make "
            f"doc_prefix ({rules.doc_prefix!r}) at most {most} characters (or shorten the text "
            f"before {{number}} in the doc_number template {rules.doc_number!r}) in the tenant "
            f"file, then replay"
        )
    hash_len = max(_FIT_HASH_MIN, room - _FIT_TAIL)
    tail_len = room - hash_len
    digest = hashlib.sha256(value.encode("utf-8")).digest()
    tail = value[len(value) - tail_len :] if tail_len else ""
    return f"{head}{_FIT_MARK}{_base36(digest, hash_len)}{tail}"


def txn_date(order: Order, timezone: str | None = None) -> date:
    """The order's day as the store saw it: created_at in the store's IANA timezone.

    Without a timezone the instant's own offset decides (a naive time is taken as
    store-local). WooCommerce's created_at is UTC, so pass the store's zone: an
    order placed at 20:30 in New York is already the next day in UTC.
    """
    created = order.created_at
    if timezone and created.tzinfo is not None:
        try:
            created = created.astimezone(ZoneInfo(timezone))
        except (ZoneInfoNotFoundError, ValueError):
            raise PermanentError(
                f"store timezone {timezone!r} is not an IANA zone name (like 'America/New_York'): "
                f"correct it, then replay order {order.number}"
            ) from None
    return created.date()


def _canonical(value: Any) -> Any:
    """JSON-ready form with one spelling per value (1.0 and 1.00 hash the same)."""
    if isinstance(value, Decimal):
        normal = value.normalize()
        return format(normal if normal != 0 else Decimal(0), "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def content_hash(order: Order) -> str:
    """sha256 over everything of the order that reaches QuickBooks.

    Leaves out modified_at and status: a status change (processing -> completed)
    or a touch in the store does not change the document. Stable across
    processes: no object ids, sorted keys, Decimals in one spelling.
    """
    data = _canonical(order.model_dump(mode="python", exclude=_HASH_EXCLUDE))
    for part in (data, *data["lines"], data["customer"]):
        for name in _HASH_WHEN_SET:
            if part.get(name) in (None, []):
                part.pop(name, None)
    text = json.dumps(
        [_HASH_VERSION, data], sort_keys=True, ensure_ascii=True, separators=(",", ":")
    )
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def item_name_for_sku(sku: str) -> str:
    """The QuickBooks item name auto-created for a SKU (colons would make it a sub-item)."""
    return _clean(sku).replace(":", "-")[:ITEM_NAME_MAX].rstrip()


def item_name_for_line(sku: str | None, rules: MappingRules) -> str | None:
    """The QuickBooks item a line with this SKU posts on (None: unmapped), as
    item_names_needed decides it: the SKU's mapping, else the SKU itself when
    auto_create_items is on, else fallback_item."""
    if sku and sku in rules.items:
        return rules.items[sku]
    if sku and rules.auto_create_items:
        return item_name_for_sku(sku)
    return rules.fallback_item


def item_names_needed(
    order: Order, rules: MappingRules, *, skip: Container[str] = ()
) -> dict[str | None, str]:
    """SKU -> QuickBooks item name for every order line (but those whose id is in ``skip``).

    A mapped SKU uses its mapping; an unmapped one the SKU itself when
    auto_create_items is on, else fallback_item. A line without a SKU (deleted
    product, or a product never given one) can only use fallback_item. ``skip``
    holds lines whose item something else decides (a revenue rule's item).
    """
    names: dict[str | None, str] = {}
    unmapped: list[str] = []
    without_sku: list[str] = []
    for line in order.lines:
        if line.line_id in skip:
            continue
        sku = line.sku
        if sku and sku in rules.items:
            names[sku] = rules.items[sku]
        elif sku and rules.auto_create_items:
            names[sku] = item_name_for_sku(sku)
        elif rules.fallback_item:
            names[sku] = rules.fallback_item
        elif sku:
            unmapped.append(sku)
        else:
            without_sku.append(f"{line.name!r} (line {line.line_id})")
    problems: list[str] = []
    if unmapped:
        skus = ", ".join(sorted(set(unmapped)))
        problems.append(
            f"SKU {skus} has no QuickBooks item and neither fallback_item nor "
            f"auto_create_items is set: add it under items in the tenant file's mapping "
            f"(or set fallback_item)"
        )
    if without_sku:
        problems.append(
            f"line {', '.join(without_sku)} has no SKU (its product was deleted or never had "
            f"one) and fallback_item is not set: set fallback_item in the tenant file's mapping"
        )
    if problems:
        raise PermanentError(
            f"order {order.number}: " + "; ".join(problems) + ", then replay the order"
        )
    return names


def _rate_label(order: Order, rate_id: str) -> str:
    line: TaxLine | None = next((t for t in order.tax_lines if t.rate_id == rate_id), None)
    if line is None:
        return f"rate {rate_id}"
    percent = f", {line.percent.normalize():f}%" if line.percent is not None else ""
    compound = ", compound" if line.compound else ""
    return f"rate {rate_id} ({line.code or '-'}, {line.label!r}{percent}{compound})"


def rate_set_key(rate_ids: Iterable[str]) -> str:
    """The tax.codes key for several rates on one line, e.g. "1+4" (ids sorted)."""
    return "+".join(sorted(set(rate_ids), key=lambda r: (len(r), r)))


def tax_code_for(taxes: tuple[TaxAmount, ...], what: str, order: Order, rules: MappingRules) -> str:
    """QuickBooks tax code name for one taxed part of an order (per_rate mode).

    QuickBooks takes one tax code per line, while a store line can carry several
    rates (Canada's GST + PST, or a compound rate such as QST charged on top of
    GST). The rule, in order:
      1. no rate applies -> tax.exempt_code;
      2. every rate on the line maps to the same code -> that code (map GST and
         PST both to QuickBooks' combined "GST/PST BC");
      3. one rate -> its code;
      4. several rates -> the code mapped for the set, key "<id>+<id>" (sorted),
         QuickBooks' combined code whose components compound as the store did.
    A rate that appears with a zero amount still applies (zero-rated goods).
    """
    rate_ids = sorted({t.rate_id for t in taxes})
    codes = rules.tax.codes
    if not rate_ids:
        if rules.tax.exempt_code:
            return rules.tax.exempt_code
        raise PermanentError(
            f"order {order.number}: {what} has no tax and tax.exempt_code is not set: set it to "
            f"QuickBooks' exempt or zero-rated tax code in the tenant file, then replay"
        )
    mapped = {codes[r] for r in rate_ids if r in codes}
    if len(mapped) == 1 and all(r in codes for r in rate_ids):
        return mapped.pop()
    key = rate_set_key(rate_ids)
    if len(rate_ids) > 1 and key in codes:
        return codes[key]
    labels = ", ".join(_rate_label(order, r) for r in rate_ids)
    if len(rate_ids) == 1:
        raise PermanentError(
            f"order {order.number}: store tax {labels} on {what} has no QuickBooks tax code: add "
            f'"{rate_ids[0]}" = "<tax code name>" under tax.codes in the tenant file, then replay'
        )
    raise PermanentError(
        f"order {order.number}: {what} is taxed by {labels}, and QuickBooks takes one tax code "
        f'per line: add "{key}" = "<combined tax code name>" under tax.codes in the tenant '
        f"file (or map each rate to the same combined code), then replay"
    )


def taxed_parts(order: Order) -> Iterator[tuple[str, tuple[TaxAmount, ...]]]:
    """Each part of an order that becomes a document line, named for messages, with its taxes."""
    for line in order.lines:
        yield f"line {line.name!r} (line {line.line_id})", line.taxes
    for ship in order.shipping_lines:
        yield f"shipping {ship.method!r}", ship.taxes
    for fee in order.fee_lines:
        yield f"fee {fee.name!r}", fee.taxes


def tax_code_names_needed(order: Order, rules: MappingRules) -> set[str]:
    """Names of the QuickBooks tax codes the document will reference (per_rate mode only).

    US automated sales tax uses the built-in TAX/NON codes and needs no lookup.
    """
    if rules.tax.mode != "per_rate":
        return set()
    return {tax_code_for(taxes, what, order, rules) for what, taxes in taxed_parts(order)}


def request_id(
    connection_id: str, entity: str, store_id: str, content_hash: str, operation: str
) -> str:
    """QBO `requestid` for one logical write: the same inputs give the same 36-character id."""
    name = "\x1f".join((connection_id, entity, store_id, content_hash, operation))
    return str(uuid.uuid5(_REQUEST_NAMESPACE, name))


def _clean(text: str) -> str:
    """One line of printable text: control characters out, whitespace runs to one space."""
    return _WHITESPACE.sub(" ", _CONTROL.sub(" ", text)).strip()


def single_line(text: str, limit: int) -> str:
    """A name or description QuickBooks accepts: one clean line of at most ``limit`` characters."""
    return _clean(text)[:limit].rstrip()


def note_text(text: str, limit: int) -> str:
    """Free text that keeps its line breaks but loses other control characters."""
    lines = (_clean(part) for part in text.replace("\r\n", "\n").split("\n"))
    return "\n".join(lines).strip()[:limit].rstrip()


def display_name(customer: Customer) -> str:
    """QuickBooks DisplayName for a customer, used both to find and to create them.

    Person's name, else company; with neither, a guest becomes "Guest <email>",
    a registered customer their email, else "Customer <store id>". Colons are
    not allowed (QuickBooks reads them as a parent:child path) and become '-';
    apostrophes stay (queries escape them).
    """
    person = _clean(f"{customer.first_name} {customer.last_name}")
    email = _clean(customer.email)
    name = person or _clean(customer.company)
    if not name and email:
        name = email if customer.store_id else f"Guest {email}"
    if not name:
        name = f"Customer {customer.store_id}" if customer.store_id else "Guest"
    name = _clean(name.translate(_TYPOGRAPHIC_QUOTES).replace(":", "-"))
    return name[:DISPLAY_NAME_MAX].rstrip()

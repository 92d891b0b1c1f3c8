"""The Name a buyer gets in QuickBooks Desktop: Latin-1, no colon, at most 41 characters.

QuickBooks Desktop names are unique across customers, vendors, employees and other
names, so a name is also how the drain finds a buyer again. The rules:

* a name Latin-1 can hold (after transliteration) is used as is: ``Ada Lovelace``;
* a name that loses letters on the way (山田 太郎 would be ``?? ??``) keeps what is
  readable and gets the buyer's e-mail appended: ``Customer (taro@example.jp)``,
  ``José (jose@example.jp)``; two such buyers stay two customers, and the bookkeeper
  can tell who each is;
* a name someone else holds gets the e-mail appended (:func:`disambiguated_name`).

The e-mail stands for the buyer when Latin-1 can hold it; else the store's customer id
(``#1001``), else a digest of the address. A tag too long for 41 characters is cut and
ends with a digest of the whole, so two long addresses with one beginning still differ.
"""

from __future__ import annotations

import hashlib

from connector.ledgers.qbd.qbxml_text import NAME_MAX, fit, latin1_readable, latin1_safe
from connector.mapping import display_name
from connector.model import Customer

PLACEHOLDER = "Customer"  # for a buyer with nothing readable to call them by
_KEEP_OF_NAME = 10  # a tagged name keeps at least this much of the name itself
_DIGEST_LEN = 6


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:_DIGEST_LEN]


def _tags(customer: Customer) -> list[str]:
    """What tells this buyer apart, best first: e-mail, store customer id, e-mail digest."""
    email = customer.email.strip().lower()
    tags: list[str] = []
    if email and latin1_safe(email) == email and not any(c.isspace() for c in email):
        tags.append(email)
    if customer.store_id:
        tags.append(f"#{customer.store_id}")
    if email:
        tags.append(f"guest-{_digest(email)}")
    return tags or ["guest"]


def _tagged(base: str, tag: str) -> str:
    """``base (tag)`` in at most 41 characters: the name is cut first, then the tag."""
    tag = tag.replace(":", "-")  # a colon would make the customer a job of another
    full = f"{base} ({tag})"
    if len(full) <= NAME_MAX:
        return full
    base = base[: max(_KEEP_OF_NAME, NAME_MAX - len(tag) - 3)].rstrip()
    room = NAME_MAX - len(base) - 3
    if len(tag) > room:
        tag = f"{tag[: room - _DIGEST_LEN - 1]}~{_digest(tag)}"
    return f"{base} ({tag})"


def _plain(customer: Customer) -> tuple[str, bool]:
    """The name as Latin-1 can write it, and whether letters were lost on the way."""
    shown = display_name(customer)
    readable, lost = latin1_readable(shown)
    # Transliteration can make a colon (a full-width one), so colons go after it.
    return fit(readable if lost else shown, NAME_MAX).replace(":", "-") or PLACEHOLDER, lost


def customer_name(customer: Customer) -> str:
    """The Name to look the buyer up by and to add them with."""
    plain, lost = _plain(customer)
    return _tagged(plain, _tags(customer)[0]) if lost else plain


def disambiguated_name(customer: Customer) -> str:
    """The Name for a buyer whose :func:`customer_name` someone else holds in QuickBooks."""
    plain, lost = _plain(customer)
    tags = _tags(customer)
    if not lost:
        return _tagged(plain, tags[0])
    # Already tagged: the e-mail and what else tells the buyer apart, in one pair of brackets.
    return _tagged(plain, f"{tags[0]} {tags[1] if len(tags) > 1 else '2'}")

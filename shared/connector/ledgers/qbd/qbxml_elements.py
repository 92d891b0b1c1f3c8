"""Small element builders shared by the qbXML request modules.

Text goes into lxml as element text, so lxml escapes & < > itself; it is made
Latin-1 safe and cut to the field's length before that.
"""

from __future__ import annotations

from lxml import etree

from connector.ledgers.qbd.qbxml_text import (
    CITY_MAX,
    COUNTRY_MAX,
    NAME_MAX,
    POSTAL_CODE_MAX,
    STATE_MAX,
    fit,
)
from connector.model import Address

ADDRESS_LINES = 5  # Addr1..Addr5


def sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, tag)
    if text is not None:
        child.text = text
    return child


def add_ref(parent: etree._Element, tag: str, full_name: str) -> etree._Element:
    """<{tag}><FullName>...</FullName></{tag}> (the name is already fitted by the caller)."""
    ref = sub(parent, tag)
    sub(ref, "FullName", full_name)
    return ref


def add_address(parent: etree._Element, tag: str, address: Address) -> None:
    """BillAddress/ShipAddress: the addressee, company and street lines, then city and so on.

    QuickBooks prints Addr1.. as the address block, so the person's name leads,
    as on an envelope. Nothing is added for an empty address.
    """
    if address.is_empty():
        return
    person = f"{address.first_name} {address.last_name}"
    candidates = (person, address.company, address.line1, address.line2)
    lines = [line for line in (fit(c, NAME_MAX) for c in candidates) if line]
    fields = (
        ("City", fit(address.city, CITY_MAX)),
        ("State", fit(address.region, STATE_MAX)),
        ("PostalCode", fit(address.postcode, POSTAL_CODE_MAX)),
        ("Country", fit(address.country, COUNTRY_MAX)),
    )
    element = sub(parent, tag)
    for number, line in enumerate(lines[:ADDRESS_LINES], start=1):
        sub(element, f"Addr{number}", line)
    for name, value in fields:
        if value:
            sub(element, name, value)

"""qbXML written by hand for the simulated company file, and its answers read back."""

from __future__ import annotations

from lxml import etree


def message(
    body: str, *, on_error: str = "continueOnError", version: str = "13.0", **attrs: str
) -> str:
    """A QBXML request message around ``body``; ``attrs`` go on QBXMLMsgsRq."""
    extra = "".join(f' {name}="{value}"' for name, value in attrs.items())
    return (
        f'<?xml version="1.0" encoding="utf-8"?><?qbxml version="{version}"?>'
        f'<QBXML><QBXMLMsgsRq onError="{on_error}"{extra}>{body}</QBXMLMsgsRq></QBXML>'
    )


def responses(text: str) -> list[etree._Element]:
    """The response elements of a QBXML answer, in order."""
    root = etree.fromstring(text.encode("utf-8"))
    found = root.find("QBXMLMsgsRs")
    return [] if found is None else list(found)


def customer_add(name: str, rid: str = "1", email: str = "") -> str:
    mail = f"<Email>{email}</Email>" if email else ""
    return f'<CustomerAddRq requestID="{rid}"><CustomerAdd><Name>{name}</Name>{mail}</CustomerAdd></CustomerAddRq>'


def invoice_add(customer: str, ref: str, lines: str, rid: str = "1", kind: str = "Invoice") -> str:
    """An InvoiceAdd (or another sales ``kind``) for ``customer``, numbered ``ref``."""
    return (
        f'<{kind}AddRq requestID="{rid}"><{kind}Add><CustomerRef><FullName>{customer}</FullName></CustomerRef>'
        f"<RefNumber>{ref}</RefNumber>{lines}</{kind}Add></{kind}AddRq>"
    )


def line(item: str, *, qty: str | None = None, rate: str | None = None, amount: str | None = None,
         kind: str = "Invoice", tax: str | None = None) -> str:  # fmt: skip
    """One line of a sales transaction of ``kind``."""
    parts = [f"<ItemRef><FullName>{item}</FullName></ItemRef>"]
    if qty:
        parts.append(f"<Quantity>{qty}</Quantity>")
    if rate:
        parts.append(f"<Rate>{rate}</Rate>")
    if amount:
        parts.append(f"<Amount>{amount}</Amount>")
    if tax:
        parts.append(f"<SalesTaxCodeRef><FullName>{tax}</FullName></SalesTaxCodeRef>")
    return f"<{kind}LineAdd>{''.join(parts)}</{kind}LineAdd>"

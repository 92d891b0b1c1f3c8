"""The QuickBooks Online query language, as far as the connector uses it.

SELECT * | COUNT(*) | fields FROM Entity [WHERE cond AND cond ...] [ORDERBY field [ASC|DESC]]
[STARTPOSITION n] [MAXRESULTS n]; cond is ``field op value`` (=, !=, <, >, <=, >=), ``LIKE``
with % wildcards, or ``IN (...)``. No OR, as in QBO. Strings are '...' with \\' for an
apostrophe; any other character the lexer does not know (a typographic U+2019) is a parse error,
as it is for the real service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from simulators.qbo_faults import ApiFault

MAX_RESULTS = 1000
NAME_LISTS = {
    "Customer",
    "Item",
    "Account",
    "TaxCode",
    "TaxRate",
    "Class",
    "Department",
    "PaymentMethod",
    "Term",
}

_TYPOGRAPHIC = frozenset("\u2018\u2019\u201c\u201d")
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:\\.|[^'\\])*')
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<op><=|>=|!=|=|<|>)
  | (?P<punct>[(),*])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    column: int


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    values: tuple[Any, ...]


@dataclass
class Query:
    entity: str
    count: bool = False
    fields: list[str] = field(default_factory=list)
    conditions: list[Condition] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    start: int = 1
    max_results: int = 100  # QBO's default page size


def _parse_error(detail: str) -> ApiFault:
    return ApiFault.validation(400, "4000", "Error parsing query", f"QueryParserError: {detail}")


def _validation_error(detail: str) -> ApiFault:
    return ApiFault.validation(400, "4001", "Invalid query", f"QueryValidationError: {detail}")


def tokenize(statement: str) -> list[Token]:
    tokens: list[Token] = []
    for pos, char in enumerate(statement):
        if char in _TYPOGRAPHIC:
            raise _parse_error(
                f'Encountered " <ERROR> "{char} "" at line 1, column {pos + 1}.\n'
                "Was expecting one of: <STRING_LITERAL> ..."
            )
    pos = 0
    while pos < len(statement):
        match = _TOKEN.match(statement, pos)
        if match is None:
            char = statement[pos]
            raise _parse_error(
                f'Encountered " <ERROR> "{char} "" at line 1, column {pos + 1}.\n'
                "Was expecting one of: <STRING_LITERAL> ..."
            )
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, match.group(), pos + 1))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def next(self, what: str) -> Token:
        token = self.peek()
        if token is None:
            raise _parse_error(f'Encountered "<EOF>" at end of query. Was expecting: {what}')
        self.pos += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token and token.kind == "ident" and token.text.upper() == word:
            self.pos += 1
            return True
        return False

    def expect_keyword(self, word: str) -> None:
        token = self.next(word)
        if token.kind != "ident" or token.text.upper() != word:
            raise _parse_error(
                f'Encountered " "{token.text}" " at line 1, column {token.column}. '
                f"Was expecting: {word}"
            )

    def expect(self, text: str) -> None:
        token = self.next(repr(text))
        if token.text != text:
            raise _parse_error(
                f'Encountered " "{token.text}" " at line 1, column {token.column}. '
                f'Was expecting: "{text}"'
            )

    def ident(self) -> str:
        token = self.next("<IDENTIFIER>")
        if token.kind != "ident":
            raise _parse_error(
                f'Encountered " "{token.text}" " at line 1, column {token.column}. '
                "Was expecting: <IDENTIFIER>"
            )
        return token.text

    def integer(self) -> int:
        token = self.next("<INTEGER>")
        if token.kind != "number" or "." in token.text:
            raise _parse_error(
                f'Encountered " "{token.text}" " at line 1, column {token.column}. '
                "Was expecting: <INTEGER>"
            )
        return int(token.text)

    def value(self) -> Any:
        token = self.next("<VALUE>")
        if token.kind == "string":
            return re.sub(r"\\(.)", r"\1", token.text[1:-1])
        if token.kind == "number":
            return Decimal(token.text)
        if token.kind == "ident" and token.text.lower() in ("true", "false"):
            return token.text.lower() == "true"
        raise _parse_error(
            f'Encountered " "{token.text}" " at line 1, column {token.column}. '
            "Was expecting: <STRING_LITERAL>"
        )


def parse(statement: str, known_entities: dict[str, str]) -> Query:
    """``known_entities`` maps lower-case names to their API spelling."""
    parser = _Parser(tokenize(statement))
    parser.expect_keyword("SELECT")
    count = False
    fields: list[str] = []
    head = parser.peek()
    if head and head.text == "*":
        parser.pos += 1
    elif parser.keyword("COUNT"):
        parser.expect("(")
        parser.expect("*")
        parser.expect(")")
        count = True
    else:
        fields.append(parser.ident())
        while parser.peek() and parser.peek().text == ",":  # type: ignore[union-attr]
            parser.pos += 1
            fields.append(parser.ident())
    parser.expect_keyword("FROM")
    name = parser.ident()
    entity = known_entities.get(name.lower())
    if entity is None:
        raise _validation_error(f"Invalid context declaration : {name}")
    query = Query(entity=entity, count=count, fields=fields)
    if parser.keyword("WHERE"):
        query.conditions.append(_condition(parser))
        while parser.keyword("AND"):
            query.conditions.append(_condition(parser))
    if parser.keyword("ORDERBY") or (parser.keyword("ORDER") and parser.keyword("BY")):
        while True:
            column = parser.ident()
            descending = parser.keyword("DESC")
            if not descending:
                parser.keyword("ASC")
            query.order.append((column, descending))
            nxt = parser.peek()
            if not (nxt and nxt.text == ","):
                break
            parser.pos += 1
    if parser.keyword("STARTPOSITION"):
        query.start = parser.integer()
        if query.start < 1:
            raise _validation_error(f"value {query.start} is too small. Min allowed value is 1")
    if parser.keyword("MAXRESULTS"):
        query.max_results = parser.integer()
        if query.max_results < 1:
            raise _validation_error(
                f"value {query.max_results} is too small. Min allowed value is 1"
            )
        if query.max_results > MAX_RESULTS:
            raise _validation_error(
                f"value {query.max_results} is too large. Max allowed value is {MAX_RESULTS}"
            )
    leftover = parser.peek()
    if leftover is not None:
        raise _parse_error(
            f'Encountered " "{leftover.text}" " at line 1, column {leftover.column}.'
        )
    return query


def _condition(parser: _Parser) -> Condition:
    column = parser.ident()
    if parser.keyword("LIKE"):
        value = parser.value()
        if not isinstance(value, str):
            raise _parse_error("LIKE needs a string literal")
        return Condition(column, "LIKE", (value,))
    if parser.keyword("IN"):
        parser.expect("(")
        values = [parser.value()]
        while parser.peek() and parser.peek().text == ",":  # type: ignore[union-attr]
            parser.pos += 1
            values.append(parser.value())
        parser.expect(")")
        return Condition(column, "IN", tuple(values))
    token = parser.next("<OPERATOR>")
    if token.kind != "op":
        raise _parse_error(
            f'Encountered " "{token.text}" " at line 1, column {token.column}. '
            "Was expecting one of: = != < > <= >= LIKE IN"
        )
    return Condition(column, token.text, (parser.value(),))


def lookup(document: dict[str, Any], dotted: str) -> Any:
    """A (case-insensitive, dotted) field of a document; references compare by their value."""
    current: Any = document
    for part in dotted.split("."):
        if not isinstance(current, dict):
            return None
        key = next((k for k in current if k.lower() == part.lower()), None)
        if key is None:
            return None
        current = current[key]
    if isinstance(current, dict) and "value" in current:
        return current["value"]
    if isinstance(current, dict) and "Address" in current:  # PrimaryEmailAddr
        return current["Address"]
    return current


def _comparable(left: Any, right: Any) -> tuple[Any, Any] | None:
    if left is None:
        return None
    if isinstance(right, bool) or isinstance(left, bool):
        return (bool(left), bool(right)) if isinstance(left, bool) else None
    if isinstance(right, Decimal):
        try:
            return Decimal(str(left)), right
        except InvalidOperation:
            return str(left).casefold(), str(right).casefold()
    return str(left).casefold(), str(right).casefold()


def _matches(document: dict[str, Any], condition: Condition) -> bool:
    actual = lookup(document, condition.field)
    if condition.op == "LIKE":
        if actual is None:
            return False
        pattern = "".join(
            ".*" if ch == "%" else re.escape(ch) for ch in str(condition.values[0]).casefold()
        )
        return re.fullmatch(pattern, str(actual).casefold(), re.DOTALL) is not None
    if condition.op == "IN":
        return any(
            _matches(document, Condition(condition.field, "=", (v,))) for v in condition.values
        )
    pair = _comparable(actual, condition.values[0])
    if pair is None:
        return condition.op == "!=" and actual is None
    left, right = pair
    ops = {
        "=": left == right,
        "!=": left != right,
        "<": left < right,
        ">": left > right,
        "<=": left <= right,
        ">=": left >= right,
    }
    return ops[condition.op]


def select(query: Query, documents: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The page of documents the query asks for, and how many matched in all."""
    conditions = list(query.conditions)
    # Name lists return only active records unless the query asks about Active itself.
    if query.entity in NAME_LISTS and not any(c.field.lower() == "active" for c in conditions):
        conditions.append(Condition("Active", "=", (True,)))
    matched = [d for d in documents if all(_matches(d, c) for c in conditions)]
    for column, descending in reversed(query.order):
        matched.sort(key=lambda d: _sort_key(lookup(d, column)), reverse=descending)
    page = matched[query.start - 1 : query.start - 1 + query.max_results]
    if query.fields:
        wanted = {f.lower() for f in query.fields} | {"id", "synctoken", "metadata"}
        page = [{k: v for k, v in d.items() if k.lower() in wanted} for d in page]
    return page, len(matched)


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    try:
        return (1, Decimal(str(value)))
    except InvalidOperation:
        return (2, str(value).casefold())

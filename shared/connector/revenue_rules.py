"""Revenue rules: which class, location and item (or income account) each sale posts to.

`[[connections.mapping.rules]]` in the tenant file is a list of rules; each has a
`when` (conditions) and outcomes (class, location, item or income_account). Pure:
the store adapter has put what the rules match on into the order (line categories,
the customer's group), and the ledger adapter turns the names into references.

How a rule matches:
  * every condition given must hold; a condition with a list holds when any value does;
    an empty `when` matches everything (a default, written last);
  * sku is a case-sensitive glob (fnmatch) of the line's SKU; a line without one never
    matches a sku condition; category compares the product's category names and
    slugs, case-insensitively; customer_group, country (billing) and payment (the
    store's payment method id) are properties of the order.

First match wins, for each outcome on its own: the class comes from the first matching
rule that names a class, the location from the first that names a location, the item
from the first that names an item or an income account. So location rules (per
country) and class rules (per product or customer group) combine without repeating
each other.

Where each outcome applies:
  * a line's class and item: the rules matched against that line (its SKU and
    categories) and the order;
  * the transaction's class and location: the rules matched against the order as a
    whole. A rule with line conditions (sku, category) matches the order as a whole
    only when every item line matches them: a "Gift cards" class is the transaction's
    class for an order of gift cards only, not for a mug that came with one.
  * shipping, fee and discount lines carry the transaction's class.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from connector.config import MappingRules, Match, RevenueRule
from connector.mapping import ITEM_NAME_MAX, item_names_needed, single_line
from connector.model import Order, OrderLine


@dataclass(frozen=True)
class LineRule:
    """What the rules decide for one item line (None: the rules say nothing)."""

    class_name: str | None = None
    item: str | None = None
    income_account: str | None = None


@dataclass(frozen=True)
class OrderRules:
    """What the rules decide for one order: per line (by line id) and for the transaction."""

    lines: dict[str, LineRule] = field(default_factory=dict)
    class_name: str | None = None  # the transaction's class, and shipping/fee/discount lines'
    location: str | None = None

    def line(self, line_id: str) -> LineRule:
        return self.lines.get(line_id, LineRule())

    @property
    def class_names(self) -> set[str]:
        """Every class the order's document may name (per line or per transaction)."""
        names = {rule.class_name for rule in self.lines.values() if rule.class_name}
        if self.class_name:
            names.add(self.class_name)
        return names


def _any(values: tuple[str, ...] | None, found: str | None, *, fold: bool = True) -> bool:
    if values is None:
        return True
    if found is None:
        return False
    if fold:
        return found.casefold() in {v.casefold() for v in values}
    return found in values


def _order_matches(when: Match, order: Order) -> bool:
    return (
        _any(when.customer_group, order.customer.group)
        and _any(when.country, order.customer.billing.country.strip().upper() or None)
        and _any(when.payment, order.payment.method or None, fold=False)
    )


def _line_matches(when: Match, line: OrderLine) -> bool:
    if when.sku is not None and not (
        line.sku and any(fnmatchcase(line.sku, pattern) for pattern in when.sku)
    ):
        return False
    if when.category is not None:
        wanted = {c.casefold() for c in when.category}
        if not any(c.casefold() in wanted for c in line.categories):
            return False
    return True


def rule_matches_line(rule: RevenueRule, order: Order, line: OrderLine) -> bool:
    return _order_matches(rule.when, order) and _line_matches(rule.when, line)


def rule_matches_order(rule: RevenueRule, order: Order) -> bool:
    """The order as a whole: order conditions hold and every item line meets line conditions."""
    if not _order_matches(rule.when, order):
        return False
    if not rule.when.has_line_conditions:
        return True
    return bool(order.lines) and all(_line_matches(rule.when, line) for line in order.lines)


def _first(rules: Iterable[RevenueRule], outcome: str) -> RevenueRule | None:
    return next((rule for rule in rules if getattr(rule, outcome) is not None), None)


def decide(order: Order, rules: MappingRules) -> OrderRules:
    """Apply the connection's rules to an order (see the module docstring)."""
    if not rules.rules:
        return OrderRules()
    lines: dict[str, LineRule] = {}
    for line in order.lines:
        matching = [rule for rule in rules.rules if rule_matches_line(rule, order, line)]
        class_rule = _first(matching, "class_")
        item_rule = next((rule for rule in matching if rule.posts_line_on), None)
        lines[line.line_id] = LineRule(
            class_name=class_rule.class_ if class_rule else None,
            item=item_rule.item if item_rule else None,
            income_account=item_rule.income_account if item_rule else None,
        )
    whole = [rule for rule in rules.rules if rule_matches_order(rule, order)]
    class_rule = _first(whole, "class_")
    location_rule = _first(whole, "location")
    return OrderRules(
        lines=lines,
        class_name=class_rule.class_ if class_rule else None,
        location=location_rule.location if location_rule else None,
    )


def account_item_name(item: str, account: str) -> str:
    """The QuickBooks item a line posts on to reach ``account``: ``<item> (<account>)``.

    QuickBooks Online posts a sales line to its item's income account and offers no
    per-line account (docs/decisions.md), so a rule's income_account is reached through
    an item of its own, one per item and account, created when missing. At most 100
    characters (the item's part is shortened); no colons (sub-item separator).
    """
    suffix = f" ({single_line(account, ITEM_NAME_MAX).replace(':', '-')})"
    head = single_line(item, ITEM_NAME_MAX).replace(":", "-")
    room = max(ITEM_NAME_MAX - len(suffix), 1)
    return (head[:room].rstrip() + suffix)[:ITEM_NAME_MAX]


@dataclass(frozen=True)
class LineItem:
    """The QuickBooks item one order line posts on."""

    name: str
    # Set for a rule's income_account: the item is ``account_item_name`` and is found, or
    # created, with this income account.
    income_account: str | None = None


def line_items(
    order: Order,
    rules: MappingRules,
    decided: OrderRules,
    *,
    name_for: Callable[[str, str], str] = account_item_name,
) -> dict[str, LineItem]:
    """Line id -> the item each item line posts on.

    A rule's item replaces the SKU mapping; a rule's income_account keeps the line's item
    (SKU mapping, auto-created or fallback) and posts it through that item's account
    item, named by ``name_for(item, account)`` (QuickBooks Desktop's names are shorter:
    connector.ledgers.qbd.qbxml_lists.account_item_name). Lines no rule decides need a
    mapping (connector.mapping.item_names_needed refuses them otherwise, naming what to set).
    """
    ruled = {line_id for line_id, rule in decided.lines.items() if rule.item}
    by_sku = item_names_needed(order, rules, skip=ruled)
    out: dict[str, LineItem] = {}
    for line in order.lines:
        rule = decided.line(line.line_id)
        base = rule.item or by_sku[line.sku]
        if rule.income_account:
            name = name_for(base, rule.income_account)
            out[line.line_id] = LineItem(name, rule.income_account)
        else:
            out[line.line_id] = LineItem(base)
    return out

"""A QuickBooks item into the store's product (issue #13 part 3).

Matching, in order: the product the connector wrote for this item before (its ``Written``
link), the item's SKU, the store keys the item mapping sends to this item, the item's name.
A SKU on two store products is parked naming both; a linked product the store deleted is made
again or parked (``deleted_products``); a price in another currency than the store's is parked.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from connector.both_ways import fields
from connector.both_ways.result import Applied
from connector.both_ways.written import Written, WrittenStore
from connector.config import Connection, QbdLedger
from connector.errors import PermanentError
from connector.ledger_records import LedgerItem
from connector.stores.writes import ProductFields, StoreProduct, StoreWrites


class ItemToProduct:
    def __init__(
        self,
        *,
        connection: Connection,
        writes: StoreWrites,
        written: WrittenStore,
        mapped_keys: Callable[[str], list[str]],
    ) -> None:
        self._connection = connection
        self._store = writes
        self._written = written
        # QuickBooks item id -> the store names/SKUs the item mapping sends to it.
        self._mapped_keys = mapped_keys

    def apply(self, key: str, item: LedgerItem) -> Applied:
        directions = self._connection.sync
        allowed = fields.allowed_product_fields(directions)
        if not allowed:
            return Applied("skipped", "products, prices and inventory are off on this connection")
        if item.kind == "category":
            return Applied("skipped", f"QuickBooks category {item.name!r} is not a product")
        never = self._never_a_product(item)
        if never is not None:
            return Applied("skipped", never)
        if "price" in allowed and item.unit_price is not None:
            self._same_currency(item)
        if "stock" in allowed and item.kind == "inventory" and item.qty_on_hand is not None:
            fields.whole_stock(item)  # refuses negative stock before anything is written
        before = self._written.get(key)
        if before is None and self._auto_created(item):
            return Applied(
                "skipped",
                f"QuickBooks item {item.name!r} was made by the connector for the store's SKU "
                f"{item.name!r} (auto_create_items): the store product is its source",
            )
        product = self._match(item, before)
        if product is None and before is not None:
            return self._deleted(key, item, before, allowed)
        if product is None:
            if "name" not in allowed:
                return Applied(
                    "skipped",
                    f"no store product has SKU {item.sku!r} or name {item.name!r}, and "
                    "products are off on this connection (only they create products)",
                )
            if not item.active:
                return Applied("skipped", f"QuickBooks item {item.name!r} is inactive")
            not_made = self._not_made(item)
            if not_made is not None:
                return Applied("skipped", not_made)
            return self._create(key, item, allowed)
        linked = before is not None and before.store_id == product.store_id
        if not linked:
            self._not_taken(key, item, product)
        category = self._category(item, allowed, product)
        wanted = fields.wanted_product(item, allowed, category)
        last = before.fields if before is not None and linked else {}
        if product.parent_id:
            wanted = {k: v for k, v in wanted.items() if k in ("price", "stock")}
        changes = fields.to_write(wanted, fields.product_now(product), last)
        if not changes:
            self._remember(key, product, wanted, linked=linked)
            return Applied(
                "skipped", f"{product.label} already matches QuickBooks", product.store_id
            )
        written = self._store.update_product(product, _product_fields(changes))
        self._remember(key, written, wanted, linked=linked)
        return Applied(
            "updated",
            f"{product.label}: {', '.join(sorted(changes))} written from QuickBooks",
            written.store_id,
            changes,
        )

    # -- which items ---------------------------------------------------------------------

    def _never_a_product(self, item: LedgerItem) -> str | None:
        """Why ``item`` is never written to the store: the merchant's exclude_items, or an
        item the connector posts order lines on (shipping, fees, the fallback...)."""
        sync = self._connection.sync
        excluded = {name.casefold() for name in sync.exclude_items}
        if item.name.casefold() in excluded or (item.sku and item.sku.casefold() in excluded):
            return f"QuickBooks item {item.name!r} is in exclude_items: not written to the store"
        setting = line_items(self._connection).get(item.name.casefold())
        if setting is None:
            setting = next(
                (
                    f"item for income account {account!r} (mapping.rules)"
                    for account in _rule_accounts(self._connection)
                    if item.name.casefold().endswith(f" ({account})".casefold())
                ),
                None,
            )
        if setting is not None:
            return (
                f"QuickBooks item {item.name!r} is the connector's {setting}: it carries order "
                "lines into QuickBooks and is not a store product"
            )
        return None

    def _not_made(self, item: LedgerItem) -> str | None:
        """Why no store product is made for ``item`` (none matched it)."""
        if (
            item.kind == "service"
            and not item.sku
            and not self._connection.sync.services_to_products
        ):
            return (
                f"QuickBooks service {item.name!r} has no SKU: services become store products "
                "only with a SKU, or with services_to_products = true"
            )
        if item.kind == "other":
            return (
                f"QuickBooks item {item.name!r} is not an inventory, non-inventory or service item"
            )
        return None

    def _auto_created(self, item: LedgerItem) -> bool:
        """An item auto_create_items made: no SKU of its own, named after a store product's."""
        if not self._connection.mapping.auto_create_items or item.sku:
            return False
        return item.kind == "non_inventory" and bool(self._store.find_products(item.name))

    # -- matching ----------------------------------------------------------------------

    def _match(self, item: LedgerItem, before: Written | None) -> StoreProduct | None:
        if before is not None:
            linked = self._store.get_product(before.store_id)
            if linked is not None:
                return linked
            return None  # deleted in the store: recreated or parked by the caller
        if item.sku:
            found = self._one(self._store.find_products(item.sku), f"SKU {item.sku!r}")
            if found is not None:
                return found
        for mapped in self._mapped_keys(item.ledger_id):
            found = self._one(self._store.find_products(mapped), f"SKU {mapped!r}")
            if found is None:
                found = self._one(self._store.find_products_named(mapped), f"name {mapped!r}")
            if found is not None:
                return found
        return self._one(self._store.find_products_named(item.name), f"name {item.name!r}")

    def _one(self, found: list[StoreProduct], what: str) -> StoreProduct | None:
        if len(found) > 1:
            named = " and ".join(p.label for p in found)
            raise PermanentError(
                f"{what} is on {len(found)} store products: {named}. The connector cannot tell "
                "which one is QuickBooks' item: give each its own SKU in the store, then replay"
            )
        return found[0] if found else None

    def _deleted(
        self, key: str, item: LedgerItem, before: Written, allowed: tuple[str, ...]
    ) -> Applied:
        gone = f"store product {before.store_id} (QuickBooks item {item.name!r}) was deleted"
        if self._connection.sync.deleted_products == "park" or "name" not in allowed:
            raise PermanentError(
                f"{gone} in the store. deleted_products is 'park': restore the product in the "
                'store (or set deleted_products = "recreate"), then replay'
            )
        made = self._create(key, item, allowed)
        return Applied("posted", f"{gone}; made again: {made.detail}", made.store_id, made.fields)

    # -- writing -----------------------------------------------------------------------

    def _create(self, key: str, item: LedgerItem, allowed: tuple[str, ...]) -> Applied:
        category = self._category(item, allowed, None)
        wanted = fields.wanted_product(item, allowed, category)
        made = self._store.create_product(
            ProductFields(
                name=item.name,
                sku=item.sku,
                description=wanted.get("description"),
                price=Decimal(wanted["price"]) if "price" in wanted else None,
                active=item.active,
                category_id=category,
                stock=int(wanted["stock"]) if "stock" in wanted else None,
            )
        )
        self._remember(key, made, wanted, linked=False)
        return Applied(
            "posted", f"created {made.label} from QuickBooks", made.store_id, dict(wanted)
        )

    def _category(
        self, item: LedgerItem, allowed: tuple[str, ...], product: StoreProduct | None
    ) -> str | None:
        if "category" not in allowed or not item.category_path:
            return None
        if product is not None and product.parent_id:
            return None  # variations have no categories of their own
        return self._store.ensure_category(item.category_path)

    def _same_currency(self, item: LedgerItem) -> None:
        store = self._store.currency()
        if item.currency and store and item.currency.upper() != store:
            raise PermanentError(
                f"QuickBooks item {item.name!r} is priced in {item.currency} and the store sells "
                f'in {store}: the connector does not convert prices. Set prices = "off" for '
                "this connection, or price the store in QuickBooks' home currency"
            )

    def _not_taken(self, key: str, item: LedgerItem, product: StoreProduct) -> None:
        """A store product found (not linked) must not be another QuickBooks item's already:
        two items with one SKU would overwrite each other's price and stock for ever."""
        other = self._written.get(self._product_key(product))
        if other is not None and other.ledger_key not in (None, key):
            other_id = (other.ledger_key or "").rsplit("#", 1)[-1]
            raise PermanentError(
                f"{product.label} is already QuickBooks item {other_id}'s, and QuickBooks item "
                f"{item.name!r} (Id {item.ledger_id}) matches it too (same SKU or name): give "
                "one of the two QuickBooks items another SKU, then replay"
            )

    def _product_key(self, product: StoreProduct) -> str:
        return f"{self._connection.id}#product#{product.store_id}"

    def _remember(
        self, key: str, product: StoreProduct, wanted: dict[str, str], *, linked: bool
    ) -> None:
        self._written.put(
            key, Written(store_id=product.store_id, parent_id=product.parent_id, fields=wanted)
        )
        if not linked:
            # The store product's side of the link, written once when the link is made.
            self._written.put(
                self._product_key(product),
                Written(store_id=product.store_id, parent_id=product.parent_id, ledger_key=key),
            )


def _product_fields(changes: dict[str, str]) -> ProductFields:
    return ProductFields(
        name=changes.get("name"),
        description=changes.get("description"),
        price=Decimal(changes["price"]) if "price" in changes else None,
        active=changes["active"] == "yes" if "active" in changes else None,
        category_id=changes.get("category"),
        stock=int(changes["stock"]) if "stock" in changes else None,
    )


def line_items(connection: Connection) -> dict[str, str]:
    """The QuickBooks items the connector posts order lines on (name, any case -> setting):
    never written to the store as products."""
    rules = connection.mapping
    named: dict[str, str | None] = {
        "mapping.shipping_item": rules.shipping_item,
        "mapping.fee_item": rules.fee_item,
        "mapping.fallback_item": rules.fallback_item,
        "mapping.refund_item": rules.refund_item,
    }
    if isinstance(connection.ledger, QbdLedger):
        named["ledger.sales_tax_item"] = connection.ledger.sales_tax_item
        named["ledger.discount_item"] = connection.ledger.discount_item
    found = {name.casefold(): setting for setting, name in named.items() if name}
    for rule in rules.rules:
        if rule.item:
            found.setdefault(rule.item.casefold(), "item of a revenue rule (mapping.rules)")
    return found


def _rule_accounts(connection: Connection) -> list[str]:
    """Income accounts revenue rules post to, through items named ``<item> (<account>)``."""
    return [
        r.income_account.replace(":", "-") for r in connection.mapping.rules if r.income_account
    ]

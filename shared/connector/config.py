"""Tenant files: `tenants/<tenant>.toml`, validated at synth time and at cold start.

A tenant has connections; a connection joins one store to one ledger with the
rules for mapping one onto the other. Secrets never live here: store keys,
webhook secrets and QuickBooks tokens are in Secrets Manager.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from connector.errors import ConfigError
from connector.retention import DEFAULT_RETENTION_DAYS, check_days

_ID = r"^[a-z0-9][a-z0-9-]{0,39}$"
_DOC_FIELDS = {"number", "id", "prefix"}
# QuickBooks Online's DocNumber and QuickBooks Desktop's RefNumber hold this many characters.
DOC_NUMBER_LIMITS = {"qbo": 21, "qbd": 11}
# A shortened number keeps the text before the store number and needs room for "~" and a
# six-character hash after it (connector.mapping.fitted_doc_number).
SHORTENED_NUMBER_ROOM = 7


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WooCommerceStore(_Settings):
    kind: Literal["woocommerce"]
    url: Annotated[str, Field(pattern=r"^https?://[^\s/]+(/\S*)?$")]
    # How bookkeepers name the store in document notes and memos.
    display_name: ClassVar[str] = "WooCommerce"
    # Minutes between polls for changed records when the connection does not say
    # (reconcile_every_minutes): webhooks are the trigger, the poll a safety net.
    default_reconcile_every_minutes: ClassVar[int] = 15

    @property
    def address(self) -> str:
        """Where a person finds the store."""
        return self.url

    @field_validator("url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")


class BigCommerceStore(_Settings):
    kind: Literal["bigcommerce"]
    # The store hash from the API path (https://api.bigcommerce.com/stores/<store_hash>/v3/).
    store_hash: Annotated[str, Field(pattern=r"^[a-z0-9]{1,40}$")]
    # The API host only (tests point it at a simulator); the connector appends /stores/<hash>/v2|v3.
    api_base: Annotated[str, Field(pattern=r"^https?://[^\s/]+$")] = "https://api.bigcommerce.com"
    display_name: ClassVar[str] = "BigCommerce"
    default_reconcile_every_minutes: ClassVar[int] = 15

    @property
    def address(self) -> str:
        return f"BigCommerce store {self.store_hash}"


class MagentoStore(_Settings):
    kind: Literal["magento"]
    # The store's base URL; REST is at <url>/rest/<store_code>/V1/.
    url: Annotated[str, Field(pattern=r"^https?://[^\s/]+(/\S*)?$")]
    store_code: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,32}$")] = "default"
    display_name: ClassVar[str] = "Magento"
    # Magento Open Source sends no webhooks: the poll is the trigger, so it runs often.
    default_reconcile_every_minutes: ClassVar[int] = 2

    @property
    def address(self) -> str:
        return f"{self.url} ({self.store_code})"

    @field_validator("url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")


StoreSettings = Annotated[
    WooCommerceStore | BigCommerceStore | MagentoStore, Field(discriminator="kind")
]


QBO_ENDPOINTS = {
    "sandbox": "https://sandbox-quickbooks.api.intuit.com",
    "production": "https://quickbooks.api.intuit.com",
}
QBO_TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
QBO_AUTHORIZE_URL = "https://appcenter.intuit.com/connect/oauth2"


class QboLedger(_Settings):
    kind: Literal["qbo"]
    environment: Literal["sandbox", "production"] = "sandbox"
    # Overrides for testing against a simulated QuickBooks; production leaves them unset.
    api_base: str | None = None
    token_url: str | None = None
    authorize_url: str | None = None

    @property
    def api_base_url(self) -> str:
        return (self.api_base or QBO_ENDPOINTS[self.environment]).rstrip("/")

    @property
    def token_endpoint(self) -> str:
        return self.token_url or QBO_TOKEN_URL

    @property
    def authorize_endpoint(self) -> str:
        return self.authorize_url or QBO_AUTHORIZE_URL


class QbdLedger(_Settings):
    """QuickBooks Desktop, reached through the QuickBooks Web Connector (qbXML over SOAP)."""

    kind: Literal["qbd"]
    qbxml_version: Literal["13.0", "16.0"] = "13.0"
    # How often the Web Connector polls (written into the .qwc file).
    run_every_minutes: Annotated[int, Field(ge=1, le=1440)] = 15
    # Shown in the Web Connector; must be unique per company file.
    app_name: str = "ml-connector"
    # The Web Connector's user name (its password lives in Secrets Manager as a scrypt hash).
    user_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,40}$")] = "ml-connector"
    # Desktop has no tax or discount lines: these items carry the store's tax and coupons.
    sales_tax_item: str | None = None
    discount_item: str = "Discount"
    # qbXML requests per message the Web Connector carries to QuickBooks at once.
    max_requests_per_message: Annotated[int, Field(ge=1, le=100)] = 50
    # Records per page of the item and customer queries a session makes when `sync` brings
    # QuickBooks changes to the store (qbXML MaxReturned; pages continue by iterator).
    max_returned: Annotated[int, Field(ge=1, le=1000)] = 100
    # With inventory = "qbo_to_store": hours between full stock reads. Sales, bills and
    # adjustments move QuantityOnHand without moving an item's TimeModified, so the
    # modified-since query alone misses them. 0 turns the full read off.
    stock_recount_hours: Annotated[int, Field(ge=0, le=168)] = 6


class TaxRules(_Settings):
    """How store taxes reach QuickBooks.

    us_automated: US companies with automated sales tax; the store's tax is forced
    through TxnTaxDetail.TotalTax. per_rate: each store tax rate id maps to a
    QuickBooks tax code (non-US companies). none: the store charges no tax.
    """

    mode: Literal["us_automated", "per_rate", "none"] = "us_automated"
    # Store tax rate id -> QuickBooks TaxCode name (per_rate).
    codes: dict[str, str] = Field(default_factory=dict)
    # Tax code for lines without tax (per_rate), e.g. "Exempt" or "Zero-rated".
    exempt_code: str | None = None

    @model_validator(mode="after")
    def _codes_for_per_rate(self) -> TaxRules:
        if self.mode == "per_rate" and not self.codes:
            raise ValueError("mode 'per_rate' needs at least one entry in 'codes'")
        return self


UNDEPOSITED_FUNDS = "Undeposited Funds"


class PaymentRoute(_Settings):
    """Where one store payment method's money lands in QuickBooks."""

    # QuickBooks payment method name (e.g. "Visa", "PayPal"); none when unset.
    method: str | None = None
    # QuickBooks account the payment is deposited to; Undeposited Funds when unset.
    deposit_account: str = UNDEPOSITED_FUNDS


# One condition of a revenue rule: a value, or a list of values any of which matches.
_Values = Annotated[tuple[str, ...], Field(min_length=1)]
_OUTCOMES = ("class_", "location", "item", "income_account")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


def _as_values(value: object) -> object:
    if isinstance(value, str):
        return (value,)
    return value


class Match(_Settings):
    """`when` of a revenue rule: every condition given must hold; none given matches everything.

    Line conditions (category, sku) are judged per order line; order conditions
    (customer_group, country, payment) on the order. Each takes a value or a list of values
    (any of them matches). See connector.revenue_rules for how rules are applied.
    """

    # Store product category name or slug (case-insensitive), e.g. "Gift cards" or "gift-cards".
    category: _Values | None = None
    # SKU glob, case-sensitive (fnmatch: * ? [..]), e.g. "GIFT-*".
    sku: _Values | None = None
    # WooCommerce: the customer's role ("customer", "wholesale_customer"); guests are "guest".
    customer_group: _Values | None = None
    # Billing country, ISO 3166-1 alpha-2 ("US", "CA").
    country: _Values | None = None
    # Store payment method id (WooCommerce `payment_method`, e.g. "stripe").
    payment: _Values | None = None

    @field_validator("category", "sku", "customer_group", "country", "payment", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return _as_values(value)

    @field_validator("category", "sku", "customer_group", "payment")
    @classmethod
    def _not_blank(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and any(not v.strip() for v in value):
            raise ValueError("values must not be empty")
        return value

    @field_validator("country")
    @classmethod
    def _iso_country(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        codes = tuple(v.strip().upper() for v in value)
        wrong = [v for v, c in zip(value, codes, strict=True) if not _COUNTRY.match(c)]
        if wrong:
            raise ValueError(f"{wrong} are not two-letter ISO country codes (like 'US', 'GB')")
        return codes

    @property
    def has_line_conditions(self) -> bool:
        return self.category is not None or self.sku is not None


class RevenueRule(_Settings):
    """`[[connections.mapping.rules]]`: where matching sales post (first match wins, per outcome).

    ``item`` posts the line on that QuickBooks item; ``income_account`` posts it on an item
    whose income account is that account (connector.revenue_rules.account_item_name). One
    rule names one or the other: an item already has an income account.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    when: Match = Match()
    class_: Annotated[str | None, Field(alias="class")] = None  # QuickBooks class name
    location: str | None = None  # QuickBooks location (Department) name
    item: str | None = None  # QuickBooks item name
    income_account: str | None = None  # QuickBooks account name

    @field_validator("class_", "location", "item", "income_account")
    @classmethod
    def _named(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty; leave it out instead")
        return value.strip() if value is not None else None

    @model_validator(mode="after")
    def _one_outcome_at_least(self) -> RevenueRule:
        if all(getattr(self, name) is None for name in _OUTCOMES):
            raise ValueError("a rule needs at least one of class, location, item or income_account")
        if self.item is not None and self.income_account is not None:
            raise ValueError(
                f"a rule names either item ({self.item!r}, which posts to that item's own "
                f"income account) or income_account ({self.income_account!r}), not both"
            )
        return self

    @property
    def posts_line_on(self) -> bool:
        """Whether the rule decides the item a line posts on (item or income_account)."""
        return self.item is not None or self.income_account is not None


class MappingRules(_Settings):
    # Store SKU -> QuickBooks item name.
    items: dict[str, str] = Field(default_factory=dict)
    # Item used for a SKU that is not mapped (and for lines whose product was deleted).
    fallback_item: str | None = None
    # Create a NonInventory item named after the SKU when it is not mapped, instead of the fallback.
    auto_create_items: bool = False
    income_account: str | None = None  # QuickBooks account name for auto-created items
    # QuickBooks item for shipping lines; "SHIPPING_ITEM_ID" uses QBO's built-in shipping line.
    shipping_item: str = "Shipping"
    # How coupons and line discounts reach QuickBooks: one discount line, or item lines at their net price.
    discounts: Literal["discount_line", "net_lines"] = "discount_line"
    discount_account: str | None = None  # for the discount line; QuickBooks' default when unset
    fee_item: str = "Fees"
    tax: TaxRules = TaxRules()
    # DocNumber from the store order: {number}, {id}, {prefix}; a number too long for QuickBooks
    # is shortened the same way every time (connector.mapping.fitted_doc_number).
    doc_number: str = "{number}"
    doc_prefix: str = ""
    # Store payment method id (WooCommerce `payment_method`, e.g. "stripe") -> where its money
    # lands; the key "default" covers every other method.
    payments: dict[str, PaymentRoute] = Field(default_factory=dict)
    # Item for refunded money not tied to a refunded line (amount-only refunds); fallback_item
    # when unset.
    refund_item: str | None = None
    # Class, location and item/income account per sale (connector.revenue_rules).
    rules: tuple[RevenueRule, ...] = ()
    # Customer group (WooCommerce role; guests "guest") -> QuickBooks payment terms name for
    # invoices ("Net 30"); the key "default" covers every other group.
    terms: dict[str, str] = Field(default_factory=dict)

    @field_validator("doc_number")
    @classmethod
    def _known_fields(cls, value: str) -> str:
        fields = set(re.findall(r"{(\w*)}", value))
        unknown = fields - _DOC_FIELDS
        if unknown:
            raise ValueError(f"unknown placeholder {sorted(unknown)}; use {sorted(_DOC_FIELDS)}")
        if not fields & {"number", "id"}:
            raise ValueError("must contain {number} or {id} so each order gets its own DocNumber")
        return value

    @model_validator(mode="after")
    def _auto_create_needs_account(self) -> MappingRules:
        if self.auto_create_items and not self.income_account:
            raise ValueError("auto_create_items needs income_account")
        return self

    @property
    def doc_number_head(self) -> str:
        """The template's text before the store number, with the prefix: kept when shortened."""
        lead = re.search(r"\{(?:number|id)\}", self.doc_number)
        head = self.doc_number[: lead.start()] if lead else ""
        return head.replace("{prefix}", self.doc_prefix)

    def payment_route(self, method: str) -> tuple[PaymentRoute, bool]:
        """Where a store payment method's money goes, and whether it was mapped (not defaulted)."""
        if method and method in self.payments:
            return self.payments[method], True
        return self.payments.get("default", PaymentRoute()), False

    @property
    def rules_use_categories(self) -> bool:
        """Whether a rule matches on product categories (the store must look them up)."""
        return any(rule.when.category is not None for rule in self.rules)

    @property
    def rules_use_customer_group(self) -> bool:
        """Whether a rule or the terms depend on the customer's group (the store must look it
        up)."""
        return bool(self.terms) or any(rule.when.customer_group is not None for rule in self.rules)

    def terms_for(self, group: str | None) -> str | None:
        """The payment terms name for a customer group, else the default (None: QuickBooks')."""
        return self.terms.get(group or "guest", self.terms.get("default"))

    def item_for_sku(self, sku: str | None) -> str | None:
        """The configured QuickBooks item name for a SKU, else the fallback (None: unmapped)."""
        if sku and sku in self.items:
            return self.items[sku]
        return self.fallback_item


class SyncDirections(_Settings):
    """What flows QuickBooks → store for a connection (issue #13); everything is off by default.

    ``customers``: "off" is store → QuickBooks only, as before issue #13 (customer events and
    orders' buyers); "qbo_to_store" writes customers created or edited in QuickBooks to the
    store, and store customers reach QuickBooks only as their orders need them; "both" does
    both (an edit on either side arrives on the other, never echoed back).
    """

    products: Literal["off", "qbo_to_store"] = "off"  # name, description, active, category
    prices: Literal["off", "qbo_to_store"] = "off"
    inventory: Literal["off", "qbo_to_store"] = "off"  # QtyOnHand → stock quantity
    customers: Literal["off", "qbo_to_store", "both"] = "off"
    qbo_invoices_to_orders: StrictBool = False
    # An item whose store product was deleted in the store: made again, or parked for a person.
    deleted_products: Literal["recreate", "park"] = "park"
    # QuickBooks items never written to the store (names or SKUs, any case): "Gift Wrapping".
    exclude_items: tuple[str, ...] = ()
    # Whether a service item without a SKU becomes a store product (products = "qbo_to_store");
    # inventory and non-inventory items do, services with a SKU do.
    services_to_products: StrictBool = False

    @property
    def any_from_ledger(self) -> bool:
        """Whether anything flows QuickBooks → store on this connection."""
        return (
            "qbo_to_store" in (self.products, self.prices, self.inventory)
            or self.customers != "off"
            or self.qbo_invoices_to_orders
        )


class Connection(_Settings):
    id: Annotated[str, Field(pattern=_ID)]
    store: StoreSettings
    ledger: Annotated[QboLedger | QbdLedger, Field(discriminator="kind")]
    document: Literal["invoice", "sales_receipt"] = "invoice"
    # Order statuses that post to QuickBooks; others are recorded and skipped.
    post_statuses: tuple[str, ...] = ("processing", "completed", "on-hold")
    # What a cancelled, refunded-in-full-before-posting or trashed order does to its document.
    cancel_statuses: tuple[str, ...] = ("cancelled", "trash")
    # Statuses of (fully) refunded orders: the order posts as it was sold, then each refund.
    refund_statuses: tuple[str, ...] = ("refunded",)
    on_cancel: Literal["void", "delete"] = "void"
    mapping: MappingRules = MappingRules()
    # Minutes between polls of the store for records changed since the last one
    # (connector.reconcile); unset: the store's default (15; Magento 2).
    reconcile_every_minutes: int | None = None
    # QuickBooks → store directions (issue #13), `[connections.sync]` in the tenant file.
    sync: SyncDirections = SyncDirections()

    @field_validator("id")
    @classmethod
    def _not_a_route(cls, value: str) -> str:
        if value == "qbo":
            # /webhooks/qbo/{connection} is QuickBooks Online's webhook route (decision 63).
            raise ValueError("'qbo' names the QuickBooks webhook route; choose another id")
        return value

    @field_validator("reconcile_every_minutes", mode="before")
    @classmethod
    def _whole_minutes(cls, value: object) -> object:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1440:
            raise ValueError(
                f"must be a whole number of minutes from 1 to 1440, not {value!r} (the poll "
                "runs at most once a minute); leave it out for the store's default"
            )
        return value

    @property
    def reconcile_minutes(self) -> int:
        """Minutes between polls: the connection's own, else its store's default."""
        return self.reconcile_every_minutes or self.store.default_reconcile_every_minutes

    @field_validator("post_statuses", "cancel_statuses", "refund_statuses", mode="before")
    @classmethod
    def _statuses_as_text(cls, value: object) -> object:
        # BigCommerce names statuses by number (status_id); TOML gives them as integers.
        if isinstance(value, list | tuple):
            return tuple(
                str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value
            )
        return value

    @model_validator(mode="after")
    def _no_locations_on_desktop(self) -> Connection:
        located = [n for n, rule in enumerate(self.mapping.rules) if rule.location is not None]
        if located and self.ledger.kind == "qbd":
            raise ValueError(
                f"mapping.rules {located}: QuickBooks Desktop has no locations on sales forms "
                "(Enterprise sites are for inventory only), so a rule's location cannot be "
                "applied on this Desktop connection; remove it (use a class instead)"
            )
        return self

    @model_validator(mode="after")
    def _number_head_leaves_room(self) -> Connection:
        limit = DOC_NUMBER_LIMITS[self.ledger.kind]
        head = self.mapping.doc_number_head
        if len(head) > limit - SHORTENED_NUMBER_ROOM:
            raise ValueError(
                f"mapping.doc_prefix / doc_number: the text before the order number ({head!r}, "
                f"{len(head)} characters) leaves no room to shorten a long order number into "
                f"the {limit} characters QuickBooks allows; use at most "
                f"{limit - SHORTENED_NUMBER_ROOM}"
            )
        return self

    @property
    def qbo(self) -> QboLedger:
        """The QuickBooks Online settings; a Desktop connection has none."""
        if not isinstance(self.ledger, QboLedger):
            raise ConfigError(f"connection {self.id} posts to QuickBooks Desktop, not Online")
        return self.ledger

    @property
    def qbd(self) -> QbdLedger:
        """The QuickBooks Desktop settings; an Online connection has none."""
        if not isinstance(self.ledger, QbdLedger):
            raise ConfigError(f"connection {self.id} posts to QuickBooks Online, not Desktop")
        return self.ledger


class TenantConfig(_Settings):
    tenant: Annotated[str, Field(pattern=_ID)]
    connections: Annotated[tuple[Connection, ...], Field(min_length=1)]
    # How long audit events and finished Desktop outbox entries are kept (connector.retention).
    retention_days: int = DEFAULT_RETENTION_DAYS
    # A WAF web ACL on the API stage (infra/waf.py): per-IP rate rules and AWS's common rules.
    # Strict: a quoted "false" is a mistake to report, not a truthy string.
    waf: StrictBool = False

    @field_validator("retention_days", mode="before")
    @classmethod
    def _whole_days(cls, value: object) -> int:
        return check_days(value)

    @model_validator(mode="after")
    def _unique_ids(self) -> TenantConfig:
        ids = [c.id for c in self.connections]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"connection ids must be unique; repeated: {duplicates}")
        return self

    def as_environment(self) -> str:
        """The configuration as the functions receive it: JSON without the settings left at
        their defaults (Lambda's environment holds 4 KB; the functions fill the defaults in
        again when they validate it, so the same configuration comes back)."""
        return self.model_dump_json(exclude_defaults=True)

    def connection(self, connection_id: str) -> Connection | None:
        return next((c for c in self.connections if c.id == connection_id), None)

    def require_connection(self, connection_id: str) -> Connection:
        """The connection a command names; a ConfigError listing the known ones otherwise."""
        found = self.connection(connection_id)
        if found is None:
            known = ", ".join(c.id for c in self.connections)
            raise ConfigError(f"no connection {connection_id!r} in tenant {self.tenant} ({known})")
        return found


_KINDS = {"store": {"woocommerce", "bigcommerce", "magento"}, "ledger": {"qbo", "qbd"}}


def _field_path(loc: tuple[int | str, ...]) -> str:
    """A field's path as the tenant file spells it: pydantic puts the chosen kind of a store or
    ledger into the location (store.woocommerce.url); the file has no such level."""
    parts = [
        str(part)
        for n, part in enumerate(loc)
        if not (n and str(loc[n - 1]) in _KINDS and part in _KINDS[str(loc[n - 1])])
    ]
    return ".".join(parts)


def _describe(source: str, error: ValidationError) -> str:
    lines = [f"{source}: {error.error_count()} problem(s)"]
    for item in error.errors():
        where = _field_path(item["loc"]) or "(top level)"
        lines.append(f"  {where}: {item['msg']}")
    return "\n".join(lines)


def parse_tenant(data: object, source: str) -> TenantConfig:
    try:
        return TenantConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(source, exc)) from None


def parse_tenant_json(text: str, source: str = "tenant configuration") -> TenantConfig:
    try:
        return TenantConfig.model_validate_json(text)
    except ValidationError as exc:
        raise ConfigError(_describe(source, exc)) from None


def load_tenant(path: Path) -> TenantConfig:
    """Read and validate a tenant file; errors name the file, the field and what is wrong."""
    # Only synth and the command line read tenant files; a function gets the tenant as JSON.
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such tenant file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_tenant(data, str(path))

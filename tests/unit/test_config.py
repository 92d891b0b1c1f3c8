"""Tenant files: what a merchant writes, and the errors they read when it is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.config import load_tenant, parse_tenant_json
from connector.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]

GOOD = """
tenant = "acme"
[[connections]]
id = "shop-eu"
document = "sales_receipt"
[connections.store]
kind = "woocommerce"
url = "https://shop.example.eu/"
[connections.ledger]
kind = "qbo"
environment = "production"
[connections.mapping]
items = { "MUG" = "Mug" }
doc_number = "{prefix}{number}"
doc_prefix = "EU-"
[connections.mapping.tax]
mode = "per_rate"
codes = { "1" = "Standard" }
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "acme.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_example_tenant_is_valid() -> None:
    config = load_tenant(REPO / "tenants" / "example.toml")
    assert config.tenant == "example"
    assert config.connections[0].mapping.item_for_sku("MUG-01") == "Mug"
    assert config.connections[0].mapping.item_for_sku("UNKNOWN") == "Sales"


def test_a_valid_tenant_file_loads_with_defaults(tmp_path: Path) -> None:
    config = load_tenant(_write(tmp_path, GOOD))
    connection = config.connection("shop-eu")
    assert connection is not None
    assert connection.store.url == "https://shop.example.eu"
    assert connection.qbo.api_base_url == "https://quickbooks.api.intuit.com"
    assert connection.mapping.tax.codes == {"1": "Standard"}
    assert connection.on_cancel == "void"


def test_errors_name_the_file_and_the_field(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace('document = "sales_receipt"', 'document = "quote"'))
    with pytest.raises(ConfigError) as raised:
        load_tenant(path)
    message = str(raised.value)
    assert str(path) in message
    assert "connections.0.document" in message
    assert "'invoice' or 'sales_receipt'" in message


def test_per_rate_tax_without_codes_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace('codes = { "1" = "Standard" }', ""))
    with pytest.raises(ConfigError, match="needs at least one entry in 'codes'"):
        load_tenant(path)


def test_doc_number_template_must_identify_the_order(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace('"{prefix}{number}"', '"{prefix}"'))
    with pytest.raises(ConfigError, match=r"must contain \{number\} or \{id\}"):
        load_tenant(path)


def test_auto_create_needs_an_income_account(tmp_path: Path) -> None:
    path = _write(
        tmp_path, GOOD.replace('doc_prefix = "EU-"', 'doc_prefix = "EU-"\nauto_create_items = true')
    )
    with pytest.raises(ConfigError, match="auto_create_items needs income_account"):
        load_tenant(path)


def test_duplicate_connection_ids_are_refused(tmp_path: Path) -> None:
    block = GOOD.split("[[connections]]", 1)[1]
    path = _write(tmp_path, GOOD + "[[connections]]" + block)
    with pytest.raises(ConfigError, match=r"repeated: \['shop-eu'\]"):
        load_tenant(path)


def test_secrets_in_the_file_are_rejected_as_unknown_fields(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        GOOD.replace('kind = "woocommerce"', 'kind = "woocommerce"\nconsumer_secret = "cs_x"'),
    )
    with pytest.raises(ConfigError, match=r"connections\.0\.store\.consumer_secret: Extra inputs"):
        load_tenant(path)


def test_missing_file_and_bad_toml_say_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such tenant file"):
        load_tenant(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_tenant(_write(tmp_path, "tenant = "))


def test_the_json_form_used_at_cold_start_round_trips(tmp_path: Path) -> None:
    config = load_tenant(_write(tmp_path, GOOD))
    assert parse_tenant_json(config.model_dump_json()) == config
    with pytest.raises(ConfigError, match="CONNECTOR"):
        parse_tenant_json('{"tenant": "x"}', "CONNECTOR_TENANT_CONFIG (x)")


def test_a_prefix_that_leaves_no_room_to_shorten_a_number_is_refused(tmp_path: Path) -> None:
    # Given a 15-character prefix: QuickBooks Online's 21 leave room for 14 and "~" + a hash
    path = _write(tmp_path, GOOD.replace('doc_prefix = "EU-"', 'doc_prefix = "EUROPE-WEBSHOP-"'))
    # Then the file is refused, naming the limit
    with pytest.raises(ConfigError, match="use at most 14"):
        load_tenant(path)
    # And 14 characters are accepted
    fits = GOOD.replace('doc_prefix = "EU-"', 'doc_prefix = "EUROPE-WEBSHOP"')
    assert load_tenant(_write(tmp_path, fits)).connections[0].mapping.doc_prefix == "EUROPE-WEBSHOP"


def test_payments_map_store_methods_to_accounts_with_a_default(tmp_path: Path) -> None:
    text = GOOD + (
        "[connections.mapping.payments]\n"
        'stripe = { method = "Visa", deposit_account = "Stripe Clearing" }\n'
        'default = { deposit_account = "Checking" }\n'
    )
    rules = load_tenant(_write(tmp_path, text)).connections[0].mapping
    assert rules.payment_route("stripe")[0].deposit_account == "Stripe Clearing"
    assert rules.payment_route("cod") == (rules.payments["default"], False)
    unknown = text.replace('method = "Visa"', 'methd = "Visa"')
    with pytest.raises(ConfigError, match="methd"):
        load_tenant(_write(tmp_path, unknown))


RULES = """
[[connections.mapping.rules]]
when = { sku = "GIFT-*" }
class = "Gift cards"
income_account = "Gift card liability"

[[connections.mapping.rules]]
when = { customer_group = "wholesale_customer", country = ["us", "CA"] }
class = "Wholesale"

[[connections.mapping.rules]]
location = "Main store"
"""


def _with_rules(text: str) -> str:
    return GOOD.replace("[connections.mapping.tax]", text + "\n[connections.mapping.tax]")


SYNC = """
[connections.sync]
products = "qbo_to_store"
inventory = "qbo_to_store"
customers = "both"
qbo_invoices_to_orders = true
"""


@pytest.mark.parametrize("extra", ["", RULES, SYNC], ids=["plain", "rules", "sync"])
def test_the_environment_form_leaves_defaults_out_and_gives_the_same_configuration(
    tmp_path: Path, extra: str
) -> None:
    # Given a tenant file, with revenue rules (an aliased field) or both-ways directions
    config = load_tenant(_write(tmp_path, _with_rules(extra) if extra else GOOD))
    # When it is written for the functions' environment and read back at cold start
    text = config.as_environment()
    # Then it is the same configuration, shorter than the full dump
    assert parse_tenant_json(text) == config
    assert len(text) < len(config.model_dump_json())


def test_the_example_tenant_fits_lambdas_environment_with_room_to_spare() -> None:
    # Lambda's environment holds 4 KB; the stack refuses a configuration over 3,000 characters.
    config = load_tenant(REPO / "tenants" / "example.toml")
    assert len(config.as_environment()) < 2000


def test_revenue_rules_load_in_order_with_one_or_many_values(tmp_path: Path) -> None:
    # Given three rules: a gift-card rule, a wholesale rule with two countries, and a default
    rules = load_tenant(_write(tmp_path, _with_rules(RULES))).connections[0].mapping.rules
    # Then they keep their order; a single value becomes a one-value list, countries upper case
    assert [r.class_ for r in rules] == ["Gift cards", "Wholesale", None]
    assert rules[0].when.sku == ("GIFT-*",) and rules[0].income_account == "Gift card liability"
    assert rules[1].when.country == ("US", "CA")
    assert rules[2].when.has_line_conditions is False and rules[2].location == "Main store"
    # And they survive the JSON form the functions read at cold start ("class" by its name)
    config = load_tenant(_write(tmp_path, _with_rules(RULES)))
    assert parse_tenant_json(config.model_dump_json()) == config
    assert '"class":"Gift cards"' in config.model_dump_json()


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ('when = { sku = "GIFT-*" }', "needs at least one of class, location, item or income"),
        (
            'item = "Gift Card"\nincome_account = "Gift card liability"',
            "either item .* or income_account .*, not both",
        ),
        ('when = { country = "USA" }\nclass = "X"', r"\['USA'\] are not two-letter ISO"),
        ('when = { colour = "red" }\nclass = "X"', r"rules\.0\.when\.colour: Extra inputs"),
        ('when = { sku = [] }\nclass = "X"', r"rules\.0\.when\.sku: .*at least 1 item"),
        ('class = " "', "must not be empty; leave it out instead"),
        ('classs = "Retail"', r"rules\.0\.classs: Extra inputs"),
    ],
)
def test_a_wrong_rule_is_refused_naming_it(tmp_path: Path, rule: str, message: str) -> None:
    text = _with_rules(f"[[connections.mapping.rules]]\n{rule}\n")
    with pytest.raises(ConfigError, match=message) as raised:
        load_tenant(_write(tmp_path, text))
    assert "connections.0.mapping.rules.0" in str(raised.value)


def _on_desktop(text: str) -> str:
    return text.replace('kind = "qbo"\nenvironment = "production"', 'kind = "qbd"').replace(
        'mode = "per_rate"\ncodes = { "1" = "Standard" }', 'mode = "none"'
    )


DESKTOP_RULES = """
[[connections.mapping.rules]]
when = { sku = "GIFT-*" }
class = "Gift cards"
income_account = "Gift card liability"

[[connections.mapping.rules]]
when = { customer_group = "wholesale_customer" }
class = "Wholesale"
"""


def test_class_item_and_account_rules_load_on_a_desktop_connection(tmp_path: Path) -> None:
    # Given a Desktop connection with class and income-account rules, and terms per group
    text = _on_desktop(_with_rules(DESKTOP_RULES)).replace(
        "[connections.mapping.tax]",
        '[connections.mapping.terms]\nwholesale_customer = "Net 30"\n\n[connections.mapping.tax]',
    )
    # When the tenant file is read
    mapping = load_tenant(_write(tmp_path, text)).connections[0].mapping
    # Then the rules and terms are kept, and the store is asked for the buyer's group
    assert [r.class_ for r in mapping.rules] == ["Gift cards", "Wholesale"]
    assert mapping.terms_for("wholesale_customer") == "Net 30"
    assert mapping.rules_use_customer_group


def test_a_location_rule_on_a_desktop_connection_is_refused_saying_why(tmp_path: Path) -> None:
    # Given a Desktop connection whose third rule names a location
    text = _on_desktop(_with_rules(RULES))
    # When the tenant file is read, then it is refused naming the rule and the reason
    with pytest.raises(
        ConfigError, match=r"mapping.rules \[2\]: QuickBooks Desktop has no locations"
    ):
        load_tenant(_write(tmp_path, text))


def test_the_store_looks_up_only_what_the_rules_match_on(tmp_path: Path) -> None:
    mapping = load_tenant(_write(tmp_path, _with_rules(RULES))).connections[0].mapping
    assert mapping.rules_use_customer_group and not mapping.rules_use_categories
    plain = load_tenant(_write(tmp_path, GOOD)).connections[0].mapping
    assert not plain.rules_use_customer_group and not plain.rules_use_categories


def test_the_example_tenants_commented_rules_load_when_uncommented(tmp_path: Path) -> None:
    # Given the example tenant with its commented revenue rules switched on
    text = (REPO / "tenants" / "example.toml").read_text(encoding="utf-8")
    head, _, rules = text.partition("# [[connections.mapping.rules]]")
    live = "[[connections.mapping.rules]]" + "\n".join(
        line.removeprefix("# ").removeprefix("#") for line in rules.splitlines()
    )
    # Then they load as four rules, the first sending gift cards to a liability account
    config = load_tenant(_write(tmp_path, head + live))
    (rules_of_first, *_) = [c.mapping.rules for c in config.connections if c.mapping.rules]
    assert len(rules_of_first) == 4
    assert rules_of_first[0].income_account == "Gift card liability"
    assert rules_of_first[2].when.country == ("US", "CA")
    # And the commented store connections after them load too, with their stores' statuses
    by_id = {c.id: c for c in config.connections}
    magento = by_id["magento-shop"]
    assert (magento.store.kind, magento.post_statuses) == ("magento", ("processing", "complete"))
    bigcommerce = by_id["bigcommerce-shop"]
    assert bigcommerce.store.address == "BigCommerce store abc123"
    assert bigcommerce.post_statuses == ("11", "9", "8", "3", "2", "10")
    assert (bigcommerce.cancel_statuses, bigcommerce.refund_statuses) == (("5", "6"), ("4", "14"))
    assert (bigcommerce.mapping.fee_item, bigcommerce.mapping.refund_item) == ("Fees", "Refunds")


def test_payment_terms_follow_the_customer_group_with_a_default(tmp_path: Path) -> None:
    text = GOOD + (
        '[connections.mapping.terms]\nwholesale_customer = "Net 60"\ndefault = "Due on receipt"\n'
    )
    rules = load_tenant(_write(tmp_path, text)).connections[0].mapping
    assert rules.terms_for("wholesale_customer") == "Net 60"
    assert rules.terms_for("customer") == rules.terms_for(None) == "Due on receipt"
    # The store then looks the buyer's group up, as it does for rules on it
    assert rules.rules_use_customer_group
    assert load_tenant(_write(tmp_path, GOOD)).connections[0].mapping.terms_for("x") is None


def test_bigcommerce_and_magento_stores_are_configured_by_kind(tmp_path: Path) -> None:
    bigcommerce = GOOD.replace(
        'kind = "woocommerce"\nurl = "https://shop.example.eu/"',
        'kind = "bigcommerce"\nstore_hash = "abc123"',
    ).replace('document = "sales_receipt"', 'document = "sales_receipt"\npost_statuses = [11, 2]')
    connection = load_tenant(_write(tmp_path, bigcommerce)).connections[0]
    assert connection.store.kind == "bigcommerce" and connection.store.display_name == "BigCommerce"
    assert connection.store.api_base == "https://api.bigcommerce.com"  # type: ignore[union-attr]
    # BigCommerce statuses are numbers (status_id); they are compared as text
    assert connection.post_statuses == ("11", "2")
    magento = GOOD.replace(
        'kind = "woocommerce"\nurl = "https://shop.example.eu/"',
        'kind = "magento"\nurl = "https://m2.example.eu/"\nstore_code = "eu"',
    )
    store = load_tenant(_write(tmp_path, magento)).connections[0].store
    assert (store.kind, store.display_name, store.address) == (
        "magento",
        "Magento",
        "https://m2.example.eu (eu)",
    )
    # A field of another kind is named where the file has it
    wrong = bigcommerce.replace('store_hash = "abc123"', 'store_hash = "abc123"\nurl = "https://x"')
    with pytest.raises(ConfigError, match=r"connections\.0\.store\.url: Extra inputs"):
        load_tenant(_write(tmp_path, wrong))


def test_retention_days_defaults_to_seven_years_and_can_be_set(tmp_path: Path) -> None:
    assert load_tenant(_write(tmp_path, GOOD)).retention_days == 2557
    set_to = GOOD.replace('tenant = "acme"', 'tenant = "acme"\nretention_days = 3653')
    config = load_tenant(_write(tmp_path, set_to))
    assert config.retention_days == 3653
    # The functions read the tenant file as JSON from their environment: it survives the trip
    assert parse_tenant_json(config.model_dump_json()).retention_days == 3653


@pytest.mark.parametrize("value", ["0", "-30", "2557.5", '"7 years"', '"never"', "true", "99999"])
def test_retention_days_that_are_not_whole_days_are_refused(tmp_path: Path, value: str) -> None:
    path = _write(
        tmp_path, GOOD.replace('tenant = "acme"', f'tenant = "acme"\nretention_days = {value}')
    )
    with pytest.raises(ConfigError) as raised:
        load_tenant(path)
    message = str(raised.value)
    assert str(path) in message
    assert "retention_days: " in message
    assert "whole number of days from 1 to 36525" in message
    assert "default, 2557 days" in message


def test_waf_is_off_unless_the_tenant_file_turns_it_on(tmp_path: Path) -> None:
    assert load_tenant(_write(tmp_path, GOOD)).waf is False
    on = load_tenant(
        _write(tmp_path, GOOD.replace('tenant = "acme"', 'tenant = "acme"\nwaf = true'))
    )
    assert on.waf is True
    assert parse_tenant_json(on.model_dump_json()).waf is True


@pytest.mark.parametrize("value", ['"true"', '"false"', "1", '"yes"'])
def test_a_waf_that_is_not_true_or_false_is_refused(tmp_path: Path, value: str) -> None:
    path = _write(tmp_path, GOOD.replace('tenant = "acme"', f'tenant = "acme"\nwaf = {value}'))
    with pytest.raises(ConfigError) as raised:
        load_tenant(path)
    assert str(path) in str(raised.value)
    assert "waf: Input should be a valid boolean" in str(raised.value)


def test_the_example_tenants_commented_waf_line_turns_the_web_acl_on(tmp_path: Path) -> None:
    text = (REPO / "tenants" / "example.toml").read_text(encoding="utf-8")
    assert load_tenant(_write(tmp_path, text)).waf is False
    assert "\n# waf = true\n" in text
    assert load_tenant(_write(tmp_path, text.replace("\n# waf = true\n", "\nwaf = true\n"))).waf


def test_the_example_tenant_s_retention_line_is_the_default(tmp_path: Path) -> None:
    text = (REPO / "tenants" / "example.toml").read_text(encoding="utf-8")
    assert "# retention_days = 2557\n" in text
    uncommented = text.replace("# retention_days = 2557\n", "retention_days = 2557\n")
    assert load_tenant(_write(tmp_path, uncommented)).retention_days == 2557
    assert load_tenant(REPO / "tenants" / "example.toml").retention_days == 2557

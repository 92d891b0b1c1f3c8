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

"""Least privilege per secret (issue #11 part 4): which role may read or write which secret.

A tenant with two Online connections (one WooCommerce, one BigCommerce) and one Desktop
connection. Each function's secret statements are compared whole with what it needs: an
action on a secret outside its reach, or a wildcard, fails the test.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from connector.resources import connect_link_key_name, secret_name
from infra.nag import unacknowledged_findings
from simulators.testbed.synth import Synth

MIXED_TENANT = """
tenant = "mixed"

[[connections]]
id = "woo-online"
[connections.store]
kind = "woocommerce"
url = "https://woo.mixed.test"
[connections.ledger]
kind = "qbo"

[[connections]]
id = "bc-online"
[connections.store]
kind = "bigcommerce"
store_hash = "abc123"
[connections.ledger]
kind = "qbo"

[[connections]]
id = "woo-desktop"
[connections.store]
kind = "woocommerce"
url = "https://desk.mixed.test"
[connections.ledger]
kind = "qbd"
user_name = "mixed-sync"
"""
ONLINE = ("woo-online", "bc-online")
DESKTOP = ("woo-desktop",)
ALL = (*ONLINE, *DESKTOP)
PREFIX = "ml-connector/mixed"
KEY = connect_link_key_name(PREFIX)
GET = "secretsmanager:GetSecretValue"
PUT = "secretsmanager:PutSecretValue"


def _names(part: str, connections: tuple[str, ...]) -> set[str]:
    return {secret_name(PREFIX, c, part) for c in connections}  # type: ignore[arg-type]


# Function -> action -> the secrets (by name) it may use that action on, and nothing more.
REACH: dict[str, dict[str, set[str]]] = {
    # Only what verifies a delivery: the webhook secrets.
    "ingest": {GET: _names("webhook", ALL)},
    # Store keys to fetch records; Online tokens to post and to save a refresh it needed.
    "sync": {
        GET: _names("store", ALL) | _names("ledger", ONLINE),
        PUT: _names("ledger", ONLINE),
    },
    # Online ledger secrets (tokens) and the key that signs connect links.
    "oauth": {GET: _names("ledger", ONLINE) | {KEY}, PUT: _names("ledger", ONLINE)},
    "qbo_token": {GET: _names("ledger", ONLINE), PUT: _names("ledger", ONLINE)},
    # The Desktop ledger secret (the password hash) only, read only.
    "qbwc": {GET: _names("ledger", DESKTOP)},
    # Store keys to poll; webhook secrets to register a webhook it repairs.
    # ... and Online tokens for QuickBooks' change feed (connector.ledger_poll), saved rotated.
    "reconcile": {
        GET: _names("store", ALL) | _names("webhook", ALL) | _names("ledger", ONLINE),
        PUT: _names("ledger", ONLINE),
    },
}


@pytest.fixture(scope="module")
def mixed(synth: Callable[..., Synth]) -> Synth:
    return synth(MIXED_TENANT, "mixed")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _secret_names(s: Synth) -> dict[str, str]:
    """Secret logical id -> its name."""
    return {
        logical_id: secret["Properties"]["Name"]
        for logical_id, secret in s.resources("AWS::SecretsManager::Secret").items()
    }


def _statements(s: Synth, function_name: str) -> list[dict[str, Any]]:
    role = s.stack.functions.by_name[function_name].role
    assert role is not None
    role_ref = {"Ref": s.logical_id(role)}
    return [
        statement
        for policy in s.resources("AWS::IAM::Policy").values()
        if role_ref in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _secret_reach(s: Synth, function_name: str) -> dict[str, set[str]]:
    """Action -> names of the secrets the role may use it on (every resource must be one of
    the tenant's secrets: a wildcard or any other ARN fails here)."""
    names = _secret_names(s)
    reach: dict[str, set[str]] = {}
    for statement in _statements(s, function_name):
        actions = _list(statement["Action"])
        if not any(a.startswith("secretsmanager:") for a in actions):
            continue
        assert statement["Effect"] == "Allow"
        for resource in _list(statement["Resource"]):
            assert isinstance(resource, dict) and resource.get("Ref") in names, (
                function_name,
                resource,
            )
            for action in actions:
                reach.setdefault(action, set()).add(names[resource["Ref"]])
    return reach


def test_each_connection_has_store_webhook_and_ledger_secrets_and_the_tenant_a_link_key(
    mixed: Synth,
):
    names = set(_secret_names(mixed).values())
    expected = _names("store", ALL) | _names("webhook", ALL) | _names("ledger", ALL) | {KEY}
    assert names == expected


@pytest.mark.parametrize("function_name", sorted(REACH))
def test_each_function_reaches_only_its_secrets(mixed: Synth, function_name: str):
    assert _secret_reach(mixed, function_name) == REACH[function_name]


@pytest.mark.parametrize(
    "name",
    sorted(_names("store", ALL) | _names("webhook", ALL) | _names("ledger", ALL) | {KEY}),
)
def test_each_secret_is_reached_only_by_the_functions_that_need_it(mixed: Synth, name: str):
    found = {
        (function_name, action)
        for function_name in mixed.stack.functions.by_name
        for action, names in _secret_reach(mixed, function_name).items()
        if name in names
    }
    expected = {
        (function_name, action)
        for function_name, reach in REACH.items()
        for action, names in reach.items()
        if name in names
    }
    assert found == expected


def test_the_connect_link_key_is_64_generated_letters_and_digits(mixed: Synth):
    [key] = [
        secret
        for secret in mixed.resources("AWS::SecretsManager::Secret").values()
        if secret["Properties"]["Name"] == KEY
    ]
    generator = key["Properties"]["GenerateSecretString"]
    assert json.loads(generator["SecretStringTemplate"]) == {}
    assert generator["GenerateStringKey"] == "key"
    assert generator["PasswordLength"] == 64
    assert generator["ExcludePunctuation"] is True
    assert generator.get("IncludeSpace") is False
    assert "SecretString" not in key["Properties"]


def test_the_placeholders_say_what_goes_in_each_secret(mixed: Synth):
    placeholders = {
        secret["Properties"]["Name"]: json.loads(
            secret["Properties"]["GenerateSecretString"]["SecretStringTemplate"]
        ).get("placeholder", "")
        for secret in mixed.resources("AWS::SecretsManager::Secret").values()
    }
    for connection in ALL:
        assert "consumer_key" in placeholders[secret_name(PREFIX, connection, "store")]
        assert "webhook_secret" not in placeholders[secret_name(PREFIX, connection, "store")]
        assert "webhook_secret" in placeholders[secret_name(PREFIX, connection, "webhook")]
    for connection in ONLINE:
        assert "client_id" in placeholders[secret_name(PREFIX, connection, "ledger")]
    assert "connector qwc" in placeholders[secret_name(PREFIX, "woo-desktop", "ledger")]


DESKTOP_ONLY = """
tenant = "deskonly"

[[connections]]
id = "books"
[connections.store]
kind = "woocommerce"
url = "https://books.deskonly.test"
[connections.ledger]
kind = "qbd"
user_name = "deskonly-sync"
"""


def test_an_online_only_tenant_has_a_link_key_and_a_desktop_only_one_none(
    acme: Synth, synth: Callable[..., Synth]
):
    assert acme.stack.secrets.connect_link_key is not None
    desk = synth(DESKTOP_ONLY, "deskonly")
    assert desk.stack.secrets.connect_link_key is None
    names = {
        s["Properties"]["Name"] for s in desk.resources("AWS::SecretsManager::Secret").values()
    }
    assert names == {
        f"ml-connector/deskonly/books/{part}" for part in ("store", "webhook", "ledger")
    }


def test_cdk_nag_finds_nothing_unacknowledged(mixed: Synth):
    assert unacknowledged_findings(mixed.stack) == []

"""Reading QuickBooks Online's webhook payloads: both shapes, Intuit's own samples, signatures and
the version a change is deduplicated by."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from connector.ledger_webhooks import change_version, parse, signature_ok
from connector.ledgers.qbo.changes import is_voided
from simulators.testbed.reference import reference_path


@pytest.mark.reference
def test_intuits_sample_payloads_parse_to_the_same_change() -> None:
    folder = reference_path("qbo", "fixtures", "webhooks")
    legacy = parse(folder.joinpath("legacy_eventNotifications.json").read_bytes())
    cloud = parse(folder.joinpath("cloudevents.json").read_bytes())

    assert [(c.realm_id, c.name.lower(), c.entity_id) for c in legacy] == [
        ("310687", "account", "1234")
    ]
    assert [(c.realm_id, c.name.lower(), c.entity_id) for c in cloud] == [
        ("310687", "account", "1234")
    ]
    assert legacy[0].operation == "Create" and cloud[0].operation == "Create"
    assert cloud[0].changed_at == datetime(2025, 9, 10, 21, 31, 25, 179851, tzinfo=UTC)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"eventNotifications": [{"dataChangeEvent": {}}]}',  # no realmId
        b'[{"id": "1", "type": "com.example.thing", "intuitentityid": "1", '
        b'"intuitaccountid": "2"}]',
        b'"a string"',
    ],
)
def test_what_is_neither_shape_is_refused_with_a_reason(body: bytes) -> None:
    with pytest.raises(ValueError) as refused:
        parse(body)
    assert str(refused.value)


def test_a_signature_is_checked_against_the_raw_body() -> None:
    body = json.dumps({"eventNotifications": []}).encode()
    good = base64.b64encode(hmac.new(b"token", body, hashlib.sha256).digest()).decode()

    assert signature_ok(body, good, "token")
    assert not signature_ok(body + b" ", good, "token")
    assert not signature_ok(body, good, "another")
    assert not signature_ok(body, "not base64!", "token")
    assert not signature_ok(body, "", "token")


def test_a_change_has_one_version_from_a_webhook_and_from_the_change_feed() -> None:
    webhook = datetime(2026, 5, 28, 20, 26, 40, 657000, tzinfo=UTC)  # lastUpdated, ms
    feed = datetime(2026, 5, 28, 13, 26, 40, tzinfo=timezone(timedelta(hours=-7)))  # Pacific

    assert change_version(webhook) == change_version(feed) == "2026-05-28T20:26:40Z"


def test_a_void_is_quickbooks_void_shape_not_a_typed_note() -> None:
    assert is_voided({"PrivateNote": "Voided", "TotalAmt": "0.00"})
    assert is_voided({"PrivateNote": "Voided - was WC-1", "TotalAmt": 0})
    assert is_voided({"status": "Voided", "TotalAmt": "50.00"})
    assert not is_voided({"PrivateNote": "Voided? ask Sam", "TotalAmt": "50.00"})
    assert not is_voided({"TotalAmt": "0"})

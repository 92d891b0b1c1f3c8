"""The .qwc file the merchant adds to the QuickBooks Web Connector: what each element says and why."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from connector.config import Connection, TenantConfig
from connector.errors import ConfigError
from connector.qwc import app_url, qwc_ids, render_qwc

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"
GUID = re.compile(r"^\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}$")
BASE = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/"


def _connection(connection_id: str = "books", **ledger: Any) -> Connection:
    config = TenantConfig.model_validate(
        {
            "tenant": "acme",
            "connections": [
                {
                    "id": connection_id,
                    "store": {"kind": "woocommerce", "url": "https://shop.acme.test"},
                    "ledger": {"kind": "qbd", **ledger},
                }
            ],
        }
    )
    return config.connections[0]


def _parse(xml: str) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(xml.encode("utf-8"), parser)


def test_the_file_names_the_endpoint_user_schedule_and_company_file_ids() -> None:
    # Given a Desktop connection with its own app name, user and schedule
    connection = _connection(app_name="Acme Shop Sync", user_name="acme-sync", run_every_minutes=10)

    # When its .qwc file is written
    qwc = render_qwc(tenant="acme", connection=connection, base_url=BASE)
    root = _parse(qwc.xml)

    # Then the Web Connector finds everything it reads, each where it looks
    assert qwc.xml.startswith("<?xml version='1.0' encoding='utf-8'?>")
    assert root.tag == "QBWCXML"
    endpoint = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/qbwc/books"
    assert root.findtext("AppName") == "Acme Shop Sync"
    assert root.find("AppID") is not None and not root.findtext("AppID")
    assert root.findtext("AppURL") == endpoint
    assert "https://shop.acme.test" in (root.findtext("AppDescription") or "")
    assert root.findtext("AppSupport") == f"{endpoint}?support"
    assert root.findtext("UserName") == "acme-sync"
    assert GUID.match(root.findtext("OwnerID") or "")
    assert GUID.match(root.findtext("FileID") or "")
    assert root.findtext("OwnerID") != root.findtext("FileID")
    assert root.findtext("QBType") == "QBFS"
    assert root.findtext("Scheduler/RunEveryNMinutes") == "10"
    assert root.findtext("IsReadOnly") == "false"
    assert root.findtext("UnattendedModePref") == "umpRequired"
    assert root.findtext("PersonalDataPref") == "pdpNotNeeded"
    assert (qwc.app_url, qwc.owner_id, qwc.file_id) == (
        endpoint,
        root.findtext("OwnerID"),
        root.findtext("FileID"),
    )


def test_support_url_is_on_the_same_host_as_the_endpoint() -> None:
    qwc = render_qwc(tenant="acme", connection=_connection(), base_url="https://sync.acme.test")
    root = _parse(qwc.xml)
    assert root.findtext("AppSupport", "").startswith("https://sync.acme.test/")
    assert root.findtext("AppURL") == "https://sync.acme.test/qbwc/books"


def test_the_default_schedule_comes_from_the_tenant_settings() -> None:
    qwc = render_qwc(tenant="acme", connection=_connection(), base_url=BASE)
    assert _parse(qwc.xml).findtext("Scheduler/RunEveryNMinutes") == "15"
    assert _parse(qwc.xml).findtext("UserName") == "ml-connector"


def test_ids_are_the_same_every_time_for_one_connection_and_differ_between_connections() -> None:
    # Given the same tenant and connection, When written twice, Then the pair is the same
    first = render_qwc(tenant="acme", connection=_connection(), base_url=BASE)
    again = render_qwc(tenant="acme", connection=_connection(), base_url="https://other.test")
    assert (first.owner_id, first.file_id) == (again.owner_id, again.file_id)
    # And another connection, or the same connection id in another tenant, gets its own pair
    other_connection = render_qwc(tenant="acme", connection=_connection("books-2"), base_url=BASE)
    other_tenant = render_qwc(tenant="zeta", connection=_connection(), base_url=BASE)
    pairs = {(q.owner_id, q.file_id) for q in (first, other_connection, other_tenant)}
    assert len(pairs) == 3


def test_a_new_generation_gives_a_pair_the_company_file_has_not_seen() -> None:
    zero = qwc_ids("acme", "books")
    one = qwc_ids("acme", "books", 1)
    assert zero == qwc_ids("acme", "books", 0)
    assert one == qwc_ids("acme", "books", 1)
    assert zero[0] != one[0] and zero[1] != one[1]
    with pytest.raises(ConfigError, match="0 or more"):
        qwc_ids("acme", "books", -1)


@pytest.mark.parametrize(
    "base",
    ["http://localhost:8080", "http://127.0.0.1:8080/", "https://example.com/prod/"],
)
def test_https_or_this_machine_is_accepted(base: str) -> None:
    assert app_url(base, "books") == base.rstrip("/") + "/qbwc/books"


@pytest.mark.parametrize(
    "base", ["http://example.com/prod", "http://192.168.1.20:8080", "http://localhost.evil.test"]
)
def test_plain_http_to_another_machine_is_refused_with_qbwc1051(base: str) -> None:
    with pytest.raises(ConfigError, match=r"QBWC1051.*https"):
        render_qwc(tenant="acme", connection=_connection(), base_url=base)


@pytest.mark.parametrize("base", ["ftp://example.com", "example.com/prod", ""])
def test_something_that_is_not_a_web_url_is_refused(base: str) -> None:
    with pytest.raises(ConfigError, match="not an http"):
        app_url(base, "books")


def test_a_quickbooks_online_connection_has_no_qwc_file() -> None:
    config = TenantConfig.model_validate(
        {
            "tenant": "acme",
            "connections": [
                {
                    "id": "online",
                    "store": {"kind": "woocommerce", "url": "https://shop.acme.test"},
                    "ledger": {"kind": "qbo"},
                }
            ],
        }
    )
    with pytest.raises(ConfigError, match="QuickBooks Online, not Desktop"):
        render_qwc(tenant="acme", connection=config.connections[0], base_url=BASE)


def test_text_with_markup_characters_is_escaped_not_injected() -> None:
    connection = _connection(app_name="Tom & Jerry <Shop>")
    root = _parse(render_qwc(tenant="acme", connection=connection, base_url=BASE).xml)
    assert root.findtext("AppName") == "Tom & Jerry <Shop>"
    assert [child.tag for child in root].count("AppName") == 1


@pytest.mark.reference
def test_our_file_has_every_element_the_reference_qwc_files_use() -> None:
    samples = REFERENCE / "qbd" / "samples"
    if not samples.is_dir():
        pytest.skip(f"reference material absent: {samples}")
    ours = _parse(render_qwc(tenant="acme", connection=_connection(), base_url=BASE).xml)
    our_tags = {element.tag for element in ours.iter()}
    example = _parse((samples / "consolibyte-example.qwc.xml").read_text(encoding="utf-8"))
    assert {element.tag for element in example.iter()} <= our_tags
    for sample in samples.glob("*.qwc.xml"):
        theirs = _parse(sample.read_text(encoding="utf-8"))
        # The GUIDs are written the same way as in files real Web Connectors accepted.
        for tag in ("OwnerID", "FileID"):
            assert re.fullmatch(r"\{[0-9A-Fa-f-]{36}\}", theirs.findtext(tag) or "")
            assert GUID.match(ours.findtext(tag) or "")

"""Connect links: every field is under the signature, and expiry is checked against the clock."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from connector.ledgers.qbo.connect_links import (
    LINK_TTL_S,
    LinkRefused,
    link_url,
    new_link,
    signature,
    verify,
)

KEY = "k" * 32
NOW = 1_800_000_000.0


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_a_link_verifies_until_it_expires_and_not_after() -> None:
    link = new_link("shop", now=NOW)
    query = _query(link_url("https://api.example/prod", KEY, link))

    assert verify(KEY, "shop", query, now=NOW + LINK_TTL_S) == link
    with pytest.raises(LinkRefused) as refused:
        verify(KEY, "shop", query, now=NOW + LINK_TTL_S + 1)
    assert refused.value.status == 410 and "expired" in refused.value.reason


@pytest.mark.parametrize(
    "change",
    [
        {"connection_id": "shop2"},
        {"expires_at": int(NOW) + LINK_TTL_S + 1},
        {"nonce": "another-nonce-of-enough-length"},
        {"change_company": True},
    ],
    ids=["connection", "expiry", "nonce", "change-company"],
)
def test_every_field_is_signed(change: dict[str, object]) -> None:
    link = new_link("shop", now=NOW)

    assert signature(KEY, link.model_copy(update=change)) != signature(KEY, link)


def test_a_link_signed_with_another_key_is_refused() -> None:
    query = _query(link_url("https://api.example/prod", "o" * 32, new_link("shop", now=NOW)))

    with pytest.raises(LinkRefused) as refused:
        verify(KEY, "shop", query, now=NOW)
    assert refused.value.status == 403


def test_the_url_carries_the_change_company_flag_only_when_set() -> None:
    plain = link_url("https://api.example/prod/", KEY, new_link("shop", now=NOW))
    moving = link_url("https://api.example/prod", KEY, new_link("shop", change_company=True))

    assert plain.startswith("https://api.example/prod/oauth/qbo/connect/shop?expires=")
    assert "change_company" not in plain
    assert _query(moving)["change_company"] == "1"

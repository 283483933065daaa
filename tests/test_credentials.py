"""Access tokens and portal URLs: 256 bits from the OS CSPRNG, in their format, never repeated."""

from __future__ import annotations

import base64
import re
import secrets
from typing import Any

import pytest
from conftest import BASE

from portal_mock.credentials import PORTAL_BASE_URL, new_credentials

TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
URL = re.compile(re.escape(PORTAL_BASE_URL) + r"[A-Za-z0-9_-]{16}")


def decoded(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def test_tokens_are_256_bits_drawn_from_the_os_csprng(monkeypatch: pytest.MonkeyPatch) -> None:
    # secrets.token_bytes is the OS CSPRNG (os.urandom): every random byte of a
    # credential must come through it, none from a seeded generator.
    drawn: list[bytes] = []

    def token_bytes(count: int) -> bytes:
        drawn.append(bytes(range(len(drawn), len(drawn) + count)))
        return drawn[-1]

    monkeypatch.setattr(secrets, "token_bytes", token_bytes)
    credentials = new_credentials()
    assert [len(chunk) for chunk in drawn] == [32, 12]
    assert decoded(credentials["access_token"]) == drawn[0]
    assert decoded(credentials["url"].removeprefix(PORTAL_BASE_URL)) == drawn[1]


def test_created_and_regenerated_credentials_have_the_documented_format(
    client: Any, create: Any
) -> None:
    link = create()
    regenerated = client.post(f"{BASE}/{link['_id']}/regenerate").json()["data"]
    for credentials in (link, regenerated):
        assert TOKEN.fullmatch(credentials["access_token"]), credentials["access_token"]
        assert len(decoded(credentials["access_token"])) == 32
        assert URL.fullmatch(credentials["url"]), credentials["url"]


def test_no_two_tokens_or_urls_are_equal_in_five_thousand() -> None:
    issued = [new_credentials() for _ in range(5000)]
    assert len({c["access_token"] for c in issued}) == 5000
    assert len({c["url"] for c in issued}) == 5000
    # The token and the URL are separate random data: neither gives away the other.
    assert not any(c["url"].endswith(c["access_token"][:16]) for c in issued)

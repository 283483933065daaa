"""Access tokens and portal URLs: 256 bits from the OS CSPRNG, in their format, never repeated."""

from __future__ import annotations

import base64
import os
import re
from typing import Any

import pytest
from conftest import BASE

from portal_mock import credentials
from portal_mock.credentials import PORTAL_BASE_URL, new_credentials

TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
URL = re.compile(re.escape(PORTAL_BASE_URL) + r"[A-Za-z0-9_-]{16}")


def decoded(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def test_tokens_are_256_bits_drawn_from_the_os_csprng(monkeypatch: pytest.MonkeyPatch) -> None:
    # os.urandom is the OS CSPRNG: every random byte of a credential must come
    # from it, none from a seeded generator, and none be handed out twice.
    drawn: list[bytes] = []

    def urandom(count: int) -> bytes:
        drawn.append(bytes((len(drawn) * 7 + i) % 256 for i in range(count)))
        return drawn[-1]

    monkeypatch.setattr(os, "urandom", urandom)
    monkeypatch.setattr(credentials, "_pool", credentials.RandomPool(size=100))
    issued = [new_credentials() for _ in range(5)]
    parts = [
        decoded(part)
        for c in issued
        for part in (c["access_token"], c["url"].removeprefix(PORTAL_BASE_URL))
    ]
    assert [len(part) for part in parts] == [32, 12] * 5
    # Each part is a fresh stretch of what the OS gave: 100 bytes hold two
    # credentials (88 bytes), so a third starts on a new draw.
    assert parts[0] + parts[1] + parts[2] + parts[3] == drawn[0][:88]
    assert parts[4] + parts[5] + parts[6] + parts[7] == drawn[1][:88]
    assert len(drawn) == 3


def test_a_forked_child_draws_other_bytes_than_its_parent() -> None:
    new_credentials()  # the pool holds bytes the child must not reuse
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.write(writer, new_credentials()["access_token"].encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    in_child = os.read(reader, 100).decode()
    os.close(reader)
    assert TOKEN.fullmatch(in_child)
    assert in_child != new_credentials()["access_token"]


def test_created_and_regenerated_credentials_have_the_documented_format(
    client: Any, create: Any
) -> None:
    link = create()
    regenerated = client.post(f"{BASE}/{link['_id']}/regenerate").json()["data"]
    for issued in (link, regenerated):
        assert TOKEN.fullmatch(issued["access_token"]), issued["access_token"]
        assert len(decoded(issued["access_token"])) == 32
        assert URL.fullmatch(issued["url"]), issued["url"]


def test_no_two_tokens_or_urls_are_equal_in_five_thousand() -> None:
    issued = [new_credentials() for _ in range(5000)]
    assert len({c["access_token"] for c in issued}) == 5000
    assert len({c["url"] for c in issued}) == 5000
    # The token and the URL are separate random data: neither gives away the other.
    assert not any(c["url"].endswith(c["access_token"][:16]) for c in issued)

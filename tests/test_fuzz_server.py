"""Random requests at the real server: every answer is a status the spec documents for what was
asked, in the envelope, and a refused request leaves the store as it was."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import AUTH, BASE, RunningServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal_mock.app import load_spec
from portal_mock.errors import CODES
from portal_mock.paths import DEFAULT_SPEC

pytestmark = pytest.mark.slow

SPEC = load_spec(DEFAULT_SPEC)
KNOWN_ID = "6740c3a1e4b0a1c2d3e4f5a6"  # a sample link's id
TEMPLATES = {
    BASE: "/workorder-portal-links",
    f"{BASE}/{KNOWN_ID}": "/workorder-portal-links/{id}",
    f"{BASE}/{'0' * 24}": "/workorder-portal-links/{id}",
    f"{BASE}/not-an-id": "/workorder-portal-links/{id}",
    **{
        f"{BASE}/{KNOWN_ID}/{action}": f"/workorder-portal-links/{{id}}/{action}"
        for action in ("regenerate", "activate", "deactivate")
    },
}
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]
# A header value as a client can send it: printable ASCII, no space at either end.
TEXT = st.from_regex(r"[!-~]([ -~]{0,28}[!-~])?", fullmatch=True)
BODIES = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [
            b'{"workorder": "507f1f77bcf86cd799439011", "metadata": {"a": NaN}}',
            b'{"workorder": "507f1f77bcf86cd799439011", "workorder": "507f1f77bcf86cd799439012"}',
            b'{"workorder": "507f1f77bcf86cd799439011", "metadata": {"n": 1e400}}',
            b'{"is_active": true, "link_type": "secure\\u0000"}',
            b'{"is_active": "yes"}',
            b"[" * 50 + b"]" * 50,
            b'{"workorder": ' + b"9" * 5000 + b"}",
        ]
    ),
    st.builds(lambda text: text.encode("utf-8", "surrogatepass"), st.text(max_size=80)),
)
CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "application/json; charset=latin-1",
            "text/plain",
            "multipart/form-data",
            "application/x-www-form-urlencoded",
        ]
    ),
    TEXT,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    running = RunningServer(["--db", str(folder / "db.json"), "--quiet"], folder)
    yield running
    running.close()


def documented(path: str, method: str) -> set[int]:
    template = TEMPLATES.get(path)
    item = SPEC["paths"].get(template) if template else None
    if item is None:
        return {404}
    operation = item.get(method.lower())
    if operation is None:
        return {405}
    return {int(status) for status in operation["responses"]}


def everything(client: httpx.Client) -> Any:
    return client.get(BASE, params={"per_page": 100, "sort": "_id"}, headers=AUTH).json()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=st.sampled_from(METHODS),
    path=st.sampled_from([*TEMPLATES, "/nowhere", f"{BASE}/{KNOWN_ID}/explode"]),
    content_type=CONTENT_TYPES,
    body=BODIES,
    extra=st.dictionaries(st.from_regex(r"X-[A-Za-z]{1,10}", fullmatch=True), TEXT, max_size=5),
    key=st.sampled_from([AUTH["X-API-Key"], "", "wrong", None]),
)
def test_every_answer_is_documented_and_a_refusal_changes_nothing(
    server: RunningServer,
    method: str,
    path: str,
    content_type: str | None,
    body: bytes,
    extra: dict[str, str],
    key: str | None,
) -> None:
    headers = dict(extra)
    if key is not None:
        headers["X-API-Key"] = key
    if content_type is not None:
        headers["Content-Type"] = content_type
    with httpx.Client(base_url=server.url, timeout=10) as client:
        before = everything(client)
        answer = client.request(method, path, content=body or None, headers=headers)
        assert answer.status_code in documented(path, method), (answer.status_code, answer.text)
        assert answer.headers["content-type"].startswith("application/json")
        envelope = answer.json()
        if answer.status_code >= 400:
            assert envelope["success"] is False
            assert envelope["error"]["code"] == CODES[answer.status_code] or (
                answer.status_code == 400 and envelope["error"]["code"] == "malformed_body"
            )
            assert everything(client) == before, "a refused request changed the store"
        else:
            assert envelope["success"] is True

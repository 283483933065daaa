"""X-Mock-Session: a store per session, from the fixtures, apart from the durable store."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import AUTH, BASE, WORKORDER

from portal_mock.app import create_app
from portal_mock.paths import DEFAULT_FIXTURES
from portal_mock.settings import Settings
from portal_mock.store import LinkStore

MAX_SESSIONS = 3


@pytest.fixture
def durable() -> Iterator[LinkStore]:
    link_store = LinkStore()
    yield link_store
    link_store.close()


@pytest.fixture
def mock(durable: LinkStore) -> Iterator[Any]:
    """The mock with the bundled fixtures, an empty durable store and room for 3 sessions."""
    settings = Settings(db=None, fixtures=DEFAULT_FIXTURES, max_sessions=MAX_SESSIONS, quiet=True)
    with create_app(settings, store=durable).test_client(headers=AUTH) as test_client:
        yield test_client


def session(name: str) -> dict[str, str]:
    return {"X-Mock-Session": name}


def listed_ids(client: Any, headers: dict[str, str] | None = None) -> set[str]:
    response = client.get(BASE, params={"per_page": 100}, headers=headers or {})
    assert response.status_code == 200, response.text
    return {link["_id"] for link in response.json()["data"]}


def created_id(client: Any, headers: dict[str, str]) -> str:
    response = client.post(BASE, json={"workorder": WORKORDER}, headers=headers)
    assert response.status_code == 201, response.text
    link_id: str = response.json()["data"]["_id"]
    return link_id


def test_a_new_session_starts_from_the_fixtures(mock: Any, sample_links: list[Any]) -> None:
    assert listed_ids(mock, session("run-1")) == {link["_id"] for link in sample_links}


def test_two_sessions_do_not_see_each_others_changes(mock: Any, sample_links: list[Any]) -> None:
    mine, theirs = session("worker-1"), session("worker-2")
    new_id = created_id(mock, mine)
    gone = sample_links[0]["_id"]
    assert mock.delete(f"{BASE}/{gone}", headers=mine).status_code == 200
    assert mock.get(f"{BASE}/{new_id}", headers=mine).status_code == 200
    assert mock.get(f"{BASE}/{new_id}", headers=theirs).status_code == 404
    assert mock.get(f"{BASE}/{gone}", headers=theirs).status_code == 200
    assert new_id in listed_ids(mock, mine)
    assert listed_ids(mock, theirs) == {link["_id"] for link in sample_links}


def test_session_writes_leave_the_durable_store_untouched(mock: Any, durable: LinkStore) -> None:
    before = durable.export()
    link_id = created_id(mock, session("run-1"))
    assert mock.post(f"{BASE}/{link_id}/deactivate", headers=session("run-1")).status_code == 200
    assert durable.export() == before == []
    assert listed_ids(mock) == set()


def test_requests_without_the_header_use_the_durable_store(mock: Any, durable: LinkStore) -> None:
    link_id = created_id(mock, {})
    assert durable.get(link_id) is not None
    assert link_id not in listed_ids(mock, session("run-1"))


@pytest.mark.parametrize(
    "name",
    ["with space", "x" * 65, "semi;colon", "dot.ted", b"\xc3\xbc"],
    ids=["space", "65-chars", "semicolon", "dot", "non-ascii"],
)
def test_a_bad_session_name_is_a_400_naming_the_header_and_creates_nothing(
    mock: Any, name: str | bytes, conforms: Any
) -> None:
    response = mock.get(BASE, headers={"X-Mock-Session": name})
    assert response.status_code == 400, response.text
    conforms(response)
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "X-Mock-Session" in error["message"]
    assert [detail["field"] for detail in error["details"]] == ["X-Mock-Session"]
    health = mock.get("/__mock/health").json()["data"]
    assert health["sessions"] == 0


def test_past_max_sessions_a_new_session_gets_429_and_live_ones_still_work(
    mock: Any, conforms: Any
) -> None:
    for number in range(MAX_SESSIONS):
        assert mock.get(BASE, headers=session(f"s{number}")).status_code == 200
    refused = mock.post(BASE, json={"workorder": WORKORDER}, headers=session("one-too-many"))
    assert refused.status_code == 429, refused.text
    conforms(refused)
    assert refused.json()["error"]["code"] == "too_many_sessions"
    assert "--max-sessions" in refused.json()["error"]["message"]
    assert mock.get(BASE, headers=session("s0")).status_code == 200
    assert mock.get(BASE).status_code == 200
    assert mock.get("/__mock/health").json()["data"]["sessions"] == MAX_SESSIONS


def test_ending_a_session_frees_its_place_and_forgets_its_links(
    mock: Any, sample_links: list[Any]
) -> None:
    for number in range(MAX_SESSIONS):
        created_id(mock, session(f"s{number}"))
    ended = mock.delete("/__mock/session", headers=session("s0"))
    assert ended.status_code == 200, ended.text
    assert mock.get(BASE, headers=session("newcomer")).status_code == 200
    assert mock.delete("/__mock/session", headers=session("newcomer")).status_code == 200
    # The same name again starts over from the fixtures.
    assert listed_ids(mock, session("s0")) == {link["_id"] for link in sample_links}


def test_ending_a_session_that_is_not_live_is_404(mock: Any) -> None:
    response = mock.delete("/__mock/session", headers=session("never-seen"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_max_sessions_0_refuses_every_session_but_not_the_durable_store(
    durable: LinkStore,
) -> None:
    settings = Settings(db=None, fixtures=None, max_sessions=0, quiet=True)
    with create_app(settings, store=durable).test_client(headers=AUTH) as client:
        assert client.get(BASE, headers=session("a")).status_code == 429
        assert client.get(BASE).status_code == 200


@pytest.mark.usefixtures("clean_environment")
def test_a_mock_over_a_store_file_never_imports_the_postgresql_driver(tmp_path: Path) -> None:
    # Sessions and snapshots in PostgreSQL live in their own module, imported
    # only for a PostgreSQL store: a file store's start-up never pays for psycopg.
    code = f"""
import json, sys
from pathlib import Path
from portal_mock.app import create_app
from portal_mock.settings import Settings
create_app(Settings(db=Path({str(tmp_path / "db.json")!r}), quiet=True))
print(json.dumps(sorted(name for name in sys.modules if name.startswith(
    ("psycopg", "portal_mock.shared_sessions", "portal_mock.store.postgres")))))
"""
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []

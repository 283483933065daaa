"""Hostile request bodies against the real server: each refused in the envelope, nothing stored,
and the server still answers a normal client while the same request keeps coming."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import AUTH, BASE, WORKORDER, RunningServer

pytestmark = pytest.mark.slow

JSON = {**AUTH, "Content-Type": "application/json"}
GOOD = '{"workorder": "' + WORKORDER + '", "metadata": %s}'


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder: Path = tmp_path_factory.mktemp("hostile")
    running = RunningServer(["--db", str(folder / "db.json")], folder)
    yield running
    running.close()


def every_link(server: RunningServer) -> list[dict[str, Any]]:
    response = httpx.get(server.url + BASE, params={"per_page": 100}, headers=AUTH)
    assert response.status_code == 200
    links: list[dict[str, Any]] = response.json()["data"]
    return links


def refused_while_a_client_is_served(
    server: RunningServer, send: Callable[[httpx.Client], httpx.Response]
) -> httpx.Response:
    """Send the hostile request over and over on one thread; meanwhile a normal read on
    another must be answered within a second. Return one of the hostile answers."""
    before = every_link(server)
    answers: list[httpx.Response] = []
    stop = threading.Event()

    def attack() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            while not stop.is_set():
                answers.append(send(client))

    attacker = threading.Thread(target=attack)
    attacker.start()
    try:
        time.sleep(0.2)
        started = time.monotonic()
        normal = httpx.get(f"{server.url}{BASE}/{before[0]['_id']}", headers=AUTH, timeout=5)
        waited = time.monotonic() - started
    finally:
        stop.set()
        attacker.join()
    assert normal.status_code == 200
    assert waited < 1.0, f"a normal read waited {waited:.2f} s during the attack"
    assert answers
    assert {answer.status_code for answer in answers} == {answers[0].status_code}
    assert every_link(server) == before, "a refused request changed the store"
    return answers[0]


def problems(response: httpx.Response, status: int, code: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    return {detail["field"]: detail["message"] for detail in body["error"]["details"]}


@pytest.mark.parametrize(
    ("metadata", "field", "says"),
    [
        ('{"score": NaN}', "metadata.score", "NaN is not a JSON number"),
        ('{"score": Infinity}', "metadata.score", "Infinity is not a JSON number"),
        ('{"score": -Infinity}', "metadata.score", "-Infinity is not a JSON number"),
        ('{"score": 1e400}', "metadata.score", "too large a number"),
        ('{"score": %s}' % ("9" * 5000), "metadata.score", "outside the integers taken"),
        ('{"score": 9007199254740992}', "metadata.score", "outside the integers taken"),
        ('{"source": "a", "source": "b"}', "metadata.source", "is given more than once"),
        ('{"source": "a\\u0000b"}', "metadata.source", "NUL character"),
        ('{"a\\u0000": "b"}', "metadata.a\x00", "NUL character"),
        ('{"source": "\\ud800"}', "metadata.source", "lone surrogate"),
    ],
    ids=[
        "NaN",
        "Infinity",
        "-Infinity",
        "1e400",
        "5000-digit integer",
        "2**53",
        "duplicate key",
        "NUL in a value",
        "NUL in a name",
        "lone surrogate",
    ],
)
def test_json_that_not_every_parser_reads_alike_is_refused_by_field(
    server: RunningServer, metadata: str, field: str, says: str
) -> None:
    body = (GOOD % metadata).encode()
    answer = refused_while_a_client_is_served(
        server, lambda client: client.post(BASE, content=body, headers=JSON)
    )
    found = problems(answer, 400, "malformed_body")
    assert field in found, found
    assert says in found[field]
    assert len(answer.content) < 2000, "the error must not echo a large input back"


def test_nesting_past_the_spec_limit_is_refused(server: RunningServer) -> None:
    deep = "[" * 40 + "]" * 40
    body = (GOOD % '{"deep": %s}' % deep).encode()
    answer = refused_while_a_client_is_served(
        server, lambda client: client.post(BASE, content=body, headers=JSON)
    )
    found = problems(answer, 400, "malformed_body")
    assert any("nests deeper than 32 levels" in message for message in found.values()), found


def test_an_update_is_refused_like_a_create(server: RunningServer) -> None:
    link = every_link(server)[0]
    body = b'{"is_active": true, "is_active": false}'
    answer = refused_while_a_client_is_served(
        server, lambda client: client.put(f"{BASE}/{link['_id']}", content=body, headers=JSON)
    )
    assert problems(answer, 400, "malformed_body") == {"is_active": "is given more than once"}


def test_a_json_body_without_a_content_type_is_a_415(server: RunningServer) -> None:
    body = (GOOD % "{}").encode()
    answer = refused_while_a_client_is_served(
        server, lambda client: client.post(BASE, content=body, headers=AUTH)
    )
    problems(answer, 415, "unsupported_media_type")


def test_a_body_in_another_charset_is_refused(server: RunningServer) -> None:
    body = (GOOD % '{"site": "Zürich"}').encode("latin-1")
    headers = {**AUTH, "Content-Type": "application/json; charset=latin-1"}
    answer = refused_while_a_client_is_served(
        server, lambda client: client.post(BASE, content=body, headers=headers)
    )
    problems(answer, 400, "malformed_body")


def test_a_long_value_is_not_echoed_back_in_the_error(server: RunningServer) -> None:
    body = b'{"workorder": "%s"}' % (b"x" * 50_000)
    answer = refused_while_a_client_is_served(
        server, lambda client: client.post(BASE, content=body, headers=JSON)
    )
    problems(answer, 400, "validation_error")
    assert len(answer.content) < 5000, len(answer.content)

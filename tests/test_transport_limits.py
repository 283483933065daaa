"""The connection's own limits against the real server: silent, slow and oversized clients are
closed or refused, nothing is stored, and a normal client is answered meanwhile."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import AUTH, BASE, RunningServer

pytestmark = pytest.mark.slow

# Short limits, so that the tests wait seconds and not minutes.
LIMITS = ["--header-timeout", "1.5", "--body-timeout", "1.5", "--idle-timeout", "1"]
LIMITS += ["--max-header-bytes", "8192", "--max-headers", "50"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder: Path = tmp_path_factory.mktemp("transport")
    running = RunningServer(["--db", str(folder / "db.json"), *LIMITS], folder)
    yield running
    running.close()


def address(server: RunningServer) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def stored(server: RunningServer) -> Any:
    return httpx.get(server.url + BASE, params={"per_page": 100}, headers=AUTH).json()["data"]


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes ``sock`` within ``seconds`` (reading whatever it sent)."""
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except OSError:
        return True
    return True


def a_normal_read_is_quick(server: RunningServer) -> None:
    started = time.monotonic()
    response = httpx.get(server.url + BASE, params={"per_page": 1}, headers=AUTH, timeout=5)
    assert response.status_code == 200
    assert time.monotonic() - started < 1.0


def test_silent_and_slow_clients_are_closed_and_others_served(server: RunningServer) -> None:
    before = stored(server)
    silent = [socket.create_connection(address(server)) for _ in range(20)]
    slow = [socket.create_connection(address(server)) for _ in range(5)]
    stop = threading.Event()

    def dribble() -> None:  # one byte of a request head at a time, never finishing it
        for byte in b"GET /workorder-portal-links HTTP/1.1\r\nX-Pad: " + b"a" * 100:
            if stop.is_set():
                return
            for sock in slow:
                try:
                    sock.send(bytes([byte]))
                except OSError:
                    return
            time.sleep(0.2)

    dribbler = threading.Thread(target=dribble)
    dribbler.start()
    try:
        a_normal_read_is_quick(server)
        assert all(closed_within(sock, 4) for sock in silent + slow)
        a_normal_read_is_quick(server)
    finally:
        stop.set()
        dribbler.join()
        for sock in silent + slow:
            sock.close()
    assert stored(server) == before


def test_a_body_that_stops_coming_is_closed_and_nothing_stored(server: RunningServer) -> None:
    before = stored(server)
    with socket.create_connection(address(server)) as sock:
        head = (
            "POST /workorder-portal-links HTTP/1.1\r\nHost: x\r\nX-API-Key: dev-key\r\n"
            "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n"
        )
        sock.sendall(head.encode() + b'{"workorder": "507f1f77bcf86cd799439011"')
        a_normal_read_is_quick(server)
        assert closed_within(sock, 4)
    assert stored(server) == before


def test_an_idle_keep_alive_connection_is_closed(server: RunningServer) -> None:
    with socket.create_connection(address(server)) as sock:
        request = b"GET /workorder-portal-links?per_page=1 HTTP/1.1\r\nHost: x\r\n"
        sock.sendall(request + b"X-API-Key: dev-key\r\n\r\n")
        sock.settimeout(5)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        assert closed_within(sock, 3)


def refused(server: RunningServer, send: Callable[[httpx.Client], httpx.Response]) -> None:
    before = stored(server)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        answer = send(client)
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["success"] is False
    assert body["error"]["code"] == "validation_error"
    assert [detail["field"] for detail in body["error"]["details"]] == ["headers"]
    assert len(answer.content) < 1000
    a_normal_read_is_quick(server)
    assert stored(server) == before


def test_one_huge_header_is_refused(server: RunningServer) -> None:
    huge = {**AUTH, "Content-Type": "application/json", "X-Pad": "a" * 1_000_000}
    refused(server, lambda client: client.post(BASE, json={"workorder": "x"}, headers=huge))


def test_thousands_of_headers_are_refused(server: RunningServer) -> None:
    many = [(f"X-Pad-{n}", "a") for n in range(5000)]
    refused(server, lambda client: client.get(BASE, headers=[*AUTH.items(), *many]))


def test_a_request_just_inside_the_limits_is_answered(server: RunningServer) -> None:
    headers = [*AUTH.items(), *[(f"X-Pad-{n}", "a") for n in range(40)]]
    with httpx.Client(base_url=server.url) as client:
        assert client.get(BASE, headers=headers).status_code == 200


def test_a_bad_limit_is_a_start_up_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="--max-headers '0' must be more than 0"):
        RunningServer(["--no-fixtures", "--max-headers", "0"], tmp_path)

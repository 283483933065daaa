"""One PostgreSQL store shared by many server processes: workers, concurrent creates, crashes.

Real servers over HTTP throughout: what is proven is what a team sharing one
mock would see, acknowledged writes first.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import WORKORDER, RunningServer
from pg_cluster import ENV, LocalCluster, fresh_database

from portal_mock.settings import build_settings

# Beside the time-budgeted broken-variant runs, never at the same time (as
# test_store_backends.py): the database server is a third process on two cores.
pytestmark = pytest.mark.xdist_group("broken-variants")
BASE = "/workorder-portal-links"
AUTH = {"X-API-Key": "dev-key"}


class Outcome:
    """What each create sent got back, with when it was sent and answered."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answers: list[tuple[float, float, int, dict[str, Any]]] = []
        self.unanswered = 0

    def create(self, client: httpx.Client, n: int) -> None:
        sent = time.monotonic()
        try:
            response = client.post(BASE, json={"workorder": WORKORDER, "metadata": {"n": n}})
        except httpx.TransportError:
            with self.lock:
                self.unanswered += 1
            return
        with self.lock:
            self.answers.append((sent, time.monotonic(), response.status_code, response.json()))

    def acknowledged(self) -> list[str]:
        return [body["data"]["_id"] for _, _, status, body in self.answers if status == 201]

    def statuses(self) -> set[int]:
        return {status for _, _, status, _ in self.answers}


def stored_ids(url: str) -> list[str]:
    """Every link's id, page by page, in the default order."""
    ids: list[str] = []
    with httpx.Client(base_url=url, headers=AUTH, timeout=30) as client:
        for page in range(1, 10_000):
            answer = client.get(BASE, params={"page": page, "per_page": 100}).json()
            ids += [link["_id"] for link in answer["data"]]
            if page >= answer["paging"]["total_pages"]:
                return ids
    raise AssertionError("too many pages")


def in_threads(count: int, work: Callable[[int], None]) -> None:
    threads = [threading.Thread(target=work, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)


def test_workers_need_a_store_every_worker_shares() -> None:
    with pytest.raises(ValueError, match="--workers 2 needs a store every worker shares"):
        build_settings({"workers": "2", "db": "store.json"}, {})
    with pytest.raises(ValueError, match="--workers must be 1 or more"):
        build_settings({"workers": "0"}, {})
    shared = build_settings({}, {"PORTAL_MOCK_WORKERS": "3", "PORTAL_MOCK_DB": "postgresql://x/y"})
    assert shared.workers == 3


def test_two_servers_take_300_concurrent_creates(pg_server: str, tmp_path: Path) -> None:
    url = fresh_database(pg_server)
    servers = [RunningServer(["--db", url, "--no-fixtures", "--quiet"], tmp_path) for _ in "ab"]
    outcome = Outcome()
    try:

        def creates(thread: int) -> None:
            # 30 clients, 10 creates each, half of them on each server.
            address = servers[thread % 2].url
            with httpx.Client(base_url=address, headers=AUTH, timeout=60) as client:
                for n in range(10):
                    outcome.create(client, thread * 10 + n)

        in_threads(30, creates)
        assert outcome.unanswered == 0
        assert outcome.statuses() == {201}
        ids = outcome.acknowledged()
        assert len(ids) == len(set(ids)) == 300
        # A create answered before another was sent has the smaller id, whichever
        # server took each: ids grow in creation order across processes.
        for _, answered_a, _, a in outcome.answers:
            for sent_b, _, _, b in outcome.answers:
                if answered_a < sent_b:
                    assert a["data"]["_id"] < b["data"]["_id"], (a["data"], b["data"])
        assert sorted(stored_ids(servers[1].url)) == sorted(ids)
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def two_workers(pg_server: str, tmp_path: Path) -> Iterator[tuple[RunningServer, list[int]]]:
    url = fresh_database(pg_server)
    server = RunningServer(["--db", url, "--workers", "2", "--quiet"], tmp_path)
    found = re.search(r"workers:\s+2 \(pids (\d+), (\d+)\)", "\n".join(server.banner))
    assert found, server.banner
    yield server, [int(found.group(1)), int(found.group(2))]
    server.close()


def test_workers_serve_one_store_and_a_killed_worker_loses_no_write(
    two_workers: tuple[RunningServer, list[int]],
) -> None:
    server, pids = two_workers
    outcome = Outcome()
    deadline = time.monotonic() + 3

    def creates(thread: int) -> None:
        n = 0
        while time.monotonic() < deadline:
            # A connection of its own per create: the kernel spreads them over both.
            with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as client:
                outcome.create(client, thread * 10_000 + n)
            n += 1

    killer = threading.Timer(1.0, os.kill, (pids[0], signal.SIGKILL))
    killer.start()
    in_threads(4, creates)
    killer.join()
    assert outcome.statuses() == {201}, "no 5xx, whichever worker answered"
    acknowledged = outcome.acknowledged()
    assert len(acknowledged) > 20
    stored = set(stored_ids(server.url))
    assert set(acknowledged) <= stored, "an acknowledged create is missing"
    # The sample links were loaded once, by the supervisor, not once per worker.
    assert 24 <= len(stored) - len(acknowledged) <= 24 + outcome.unanswered
    wait_for(lambda: f"worker {pids[0]} ended" in server.output(), "the worker's end reported")
    # The worker started again serves too: every connection is answered.
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as client:
        for _ in range(20):
            assert client.get(BASE, headers={"Connection": "close"}).status_code == 200
    code, output = server.stop()
    assert code == 0, output
    assert "portal-mock stopped." in output
    assert not alive(pids[1]), "a worker outlived its supervisor"


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.1)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone but for its exit status; its parent (the server) reaps it.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


@pytest.fixture
def own_cluster() -> Iterator[LocalCluster]:
    """A cluster this test may kill: never the one PORTAL_MOCK_TEST_PG names."""
    if os.environ.get(ENV):
        pytest.skip(f"{ENV} names a server this test must not kill")
    cluster = LocalCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


def test_a_killed_database_is_503_then_back_with_every_acknowledged_write(
    own_cluster: LocalCluster, tmp_path: Path
) -> None:
    server = RunningServer(["--db", own_cluster.url, "--no-fixtures", "--quiet"], tmp_path)
    outcome = Outcome()
    back = threading.Event()

    def creates(thread: int) -> None:
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as client:
            n = 0
            while not back.is_set() or n < 5:
                outcome.create(client, thread * 10_000 + n)
                n += 1

    writers = threading.Thread(target=in_threads, args=(3, creates))
    writers.start()
    try:
        time.sleep(1)
        own_cluster.kill()
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as client:
            for answer in (client.get(BASE), client.get(f"{BASE}/{'0' * 24}")):
                assert answer.status_code == 503
                assert answer.json()["error"]["code"] == "storage_unavailable"
                assert "cannot be reached" in answer.json()["error"]["details"][0]["message"]
            own_cluster.start()
            wait_for(lambda: client.get(BASE).status_code == 200, "the mock to reconnect")
        back.set()
        writers.join(timeout=120)
        assert outcome.unanswered == 0
        assert outcome.statuses() <= {201, 503}, "a database down is a 503, never a 500"
        assert 503 in outcome.statuses()
        for _, _, status, body in outcome.answers:
            if status == 503:
                assert body["success"] is False
                assert body["error"]["code"] == "storage_unavailable"
        # Creates go on now that the database is back, and none acknowledged is lost.
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as client:
            for n in range(5):
                outcome.create(client, -n)
        assert [status for _, _, status, _ in outcome.answers[-5:]] == [201] * 5
        assert set(outcome.acknowledged()) <= set(stored_ids(server.url))
    finally:
        back.set()
        writers.join(timeout=120)
        server.stop()


@pytest.fixture
def two_servers(pg_server: str, tmp_path: Path) -> Iterator[list[httpx.Client]]:
    """Two serve processes on one database, as two hosts would run them: a client each."""
    url = fresh_database(pg_server)
    servers = [
        RunningServer(["--db", url, "--quiet", "--max-sessions", "2"], tmp_path) for _ in "ab"
    ]
    clients = [httpx.Client(base_url=s.url, headers=AUTH, timeout=30) for s in servers]
    yield clients
    for client, server in zip(clients, servers, strict=True):
        client.close()
        server.stop()


def test_sessions_snapshots_and_the_request_journal_are_the_same_on_every_server(
    two_servers: list[httpx.Client],
) -> None:
    a, b = two_servers
    session = {"X-Mock-Session": "checkout-flow"}
    made = a.post(BASE, json={"workorder": WORKORDER}, headers=session).json()["data"]
    # The session begun on one server, with the fixtures and that link, on the other.
    seen = b.get(BASE, params={"per_page": 100}, headers=session).json()
    assert seen["paging"]["total"] == 25
    assert made["_id"] in {link["_id"] for link in seen["data"]}
    assert b.get(f"{BASE}/{made['_id']}").status_code == 404, "the durable store is apart"
    # A snapshot saved on one is restored on the other.
    assert a.put("/__mock/snapshots/before", headers=session).status_code == 200
    assert b.delete(f"{BASE}/{made['_id']}", headers=session).status_code == 200
    listed = b.get("/__mock/snapshots", headers=session).json()["data"]
    assert [(s["name"], s["links"]) for s in listed] == [("before", 25)]
    assert b.post("/__mock/snapshots/before/restore", headers=session).status_code == 200
    assert a.get(f"{BASE}/{made['_id']}", headers=session).status_code == 200
    # The request journal holds the session's requests from both servers.
    wait_for(
        lambda: len(b.get("/__mock/requests", headers=session).json()["data"]) == 4,
        "every server's requests in the journal",
        seconds=5,
    )
    paths = [e["path"] for e in a.get("/__mock/requests", headers=session).json()["data"]]
    assert paths == [f"{BASE}/{made['_id']}", f"{BASE}/{made['_id']}", BASE, BASE]
    # Ending it on one ends it for all: the next request begins it again, from the fixtures.
    assert b.delete("/__mock/session", headers=session).status_code == 200
    assert a.get(f"{BASE}/{made['_id']}", headers=session).status_code == 404
    assert a.get(BASE, headers=session).json()["paging"]["total"] == 24


def test_the_session_limit_holds_across_servers(two_servers: list[httpx.Client]) -> None:
    a, b = two_servers
    assert a.get(BASE, headers={"X-Mock-Session": "one"}).status_code == 200
    assert b.get(BASE, headers={"X-Mock-Session": "two"}).status_code == 200
    refused = a.get(BASE, headers={"X-Mock-Session": "three"})
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_sessions"
    assert b.get("/__mock/health").json()["data"]["sessions"] == 2


def test_the_contract_run_against_two_workers_is_clean(
    two_workers: tuple[RunningServer, list[int]], tmp_path: Path
) -> None:
    server, _ = two_workers
    command = [sys.executable, "-m", "portal_mock", "contract", "--url", server.url]
    # One Schemathesis worker (its default): with several, the run's own requests
    # interleave and its consistency checks take that for violations (README).
    command += ["--seed", "7", "--max-examples", "10"]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "result       no contract violations found" in run.stdout

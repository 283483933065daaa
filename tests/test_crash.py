"""kill -9 during write bursts, over and over: no acknowledged write is ever lost."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import AUTH, BASE, WORKORDER

# 50 trials is the bar; PORTAL_MOCK_CRASH_TRIALS lowers it for a quick local run.
TRIALS = int(os.environ.get("PORTAL_MOCK_CRASH_TRIALS", "50"))
WRITERS = 6


def without_updated_at(link: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if link is None else {k: v for k, v in link.items() if k != "updated_at"}


class Ledger:
    """What the clients were told, and which writes were in flight when the server died."""

    def __init__(self) -> None:
        self.acked: dict[str, dict[str, Any] | None] = {}  # None: acknowledged delete
        # An unanswered write may or may not have landed: the state it would give.
        self.in_flight: dict[str, dict[str, Any] | None] = {}
        self.creating: set[str] = set()  # tags of creates sent but not answered
        self.refused: list[str] = []  # writes answered with an error status: never expected
        self.answered = 0  # writes acknowledged since the last settle
        self.lock = threading.Lock()

    def settle(self, stored: dict[str, dict[str, Any]]) -> None:
        """Check ``stored`` against the ledger, then take it as the new truth."""
        for link_id, state in self.acked.items():
            allowed = [without_updated_at(state)]
            if link_id in self.in_flight:
                allowed.append(without_updated_at(self.in_flight[link_id]))
            found = without_updated_at(stored.get(link_id))
            assert found in allowed, f"acknowledged write to {link_id} lost"
        for link_id, link in stored.items():
            if link_id not in self.acked:
                assert link["metadata"]["tag"] in self.creating, f"{link_id} appeared from nowhere"
        self.acked = {i: stored.get(i) for i in self.acked} | stored
        self.in_flight.clear()
        self.creating.clear()
        self.answered = 0

    def record(self, link_id: str, state: dict[str, Any] | None) -> None:
        with self.lock:
            self.acked[link_id] = state
            self.answered += 1


def write_until_dead(url: str, ledger: Ledger, worker: int, trial: int) -> None:
    """Create, update and delete this writer's own links until the server stops answering."""
    with httpx.Client(base_url=url, headers=AUTH, timeout=10) as client:
        for step in range(10_000):
            tag = f"{trial}-{worker}-{step}"
            try:
                with ledger.lock:
                    ledger.creating.add(tag)
                body = {"workorder": WORKORDER, "metadata": {"tag": tag}}
                link = client.post(BASE, json=body).raise_for_status().json()["data"]
                ledger.record(link["_id"], link)
                change = {"is_active": False, "metadata": {"tag": tag, "v": 2}}
                ledger.in_flight[link["_id"]] = {**link, **change}
                updated = client.put(f"{BASE}/{link['_id']}", json=change).raise_for_status()
                ledger.record(link["_id"], updated.json()["data"])
                if step % 3 == 0:
                    ledger.in_flight[link["_id"]] = None
                    client.delete(f"{BASE}/{link['_id']}").raise_for_status()
                    ledger.record(link["_id"], None)
                ledger.in_flight.pop(link["_id"], None)
            except httpx.HTTPStatusError as exc:
                # A live server must acknowledge every write; a 5xx here is a defect.
                ledger.refused.append(f"{exc.request.method} {exc.request.url.path}: {exc}")
                return
            except httpx.TransportError:
                return  # the kill: the connection drops mid-request


def wait_for_answers(ledger: Ledger, count: int) -> None:
    """Wait until the writers have had ``count`` writes acknowledged in this trial."""
    deadline = time.monotonic() + 60
    while ledger.answered < count:
        assert not ledger.refused, ledger.refused[:3]
        assert time.monotonic() < deadline, f"only {ledger.answered} writes acknowledged in 60 s"
        time.sleep(0.002)


def stored_links(url: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    with httpx.Client(base_url=url, headers=AUTH, timeout=30) as client:
        for page in range(1, 10_000):
            body = client.get(BASE, params={"per_page": 100, "page": page}).json()
            found.update((link["_id"], link) for link in body["data"])
            if page >= body["paging"]["total_pages"]:
                return found
    raise AssertionError("too many pages")


@pytest.mark.slow
def test_kill_9_during_write_bursts_loses_no_acknowledged_write(
    run_server: Callable[..., Any], tmp_path: Path
) -> None:
    db, ledger, chance = tmp_path / "db.json", Ledger(), random.Random(20261128)
    for trial in range(TRIALS):
        server = run_server("--db", str(db), "--no-fixtures", "--log-level", "warning")
        ledger.settle(stored_links(server.url))
        writers = [
            threading.Thread(target=write_until_dead, args=(server.url, ledger, w, trial))
            for w in range(WRITERS)
        ]
        for writer in writers:
            writer.start()
        # Kill after a random number of acknowledged writes, so every trial
        # tests some, however fast or busy the machine is.
        wait_for_answers(ledger, chance.randint(1, 30))
        server.process.send_signal(signal.SIGKILL)
        for writer in writers:
            writer.join(timeout=30)
        server.close()
        assert not ledger.refused, ledger.refused[:3]
    final = run_server("--db", str(db), "--no-fixtures", "--log-level", "warning")
    ledger.settle(stored_links(final.url))
    assert sum(state is not None for state in ledger.acked.values()) >= TRIALS

"""Group commit: writes made together share an fsync, a coroutine awaits its write without
blocking the event loop, and a refused batch fails what was queued behind it."""

from __future__ import annotations

import asyncio
import errno
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import WORKORDER

from portal_mock.store import LinkStore, StoreWriteFailed, journal
from portal_mock.store.querying import LinkQuery

FIELDS = {"workorder": WORKORDER, "is_active": True, "company_namespace": ["acme"]}


def slow_fsyncs(monkeypatch: pytest.MonkeyPatch, seconds: float) -> list[int]:
    """Make each fsync take ``seconds`` (a slow disk), and count them."""
    calls: list[int] = []
    real = journal._fsync

    def slow(fd: int) -> None:
        calls.append(fd)
        time.sleep(seconds)
        real(fd)

    monkeypatch.setattr(journal, "_fsync", slow)
    return calls


def ids_on_disk(db: Path) -> set[str]:
    reopened = LinkStore(db)
    try:
        return {link["_id"] for link in reopened.search(LinkQuery(per_page=1000))[0]}
    finally:
        reopened.close()


def test_concurrent_writes_share_fsyncs_and_every_acknowledged_one_is_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "db.json"
    store = LinkStore(db)
    fsyncs = slow_fsyncs(monkeypatch, 0.02)
    created: list[str] = []

    def write() -> None:
        created.append(store.create(FIELDS)["_id"])

    threads = [threading.Thread(target=write) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    monkeypatch.undo()
    assert len(set(created)) == 40
    # While one batch is being fsynced, the writes that arrive queue up for the next.
    assert len(fsyncs) < 40
    store.close()
    assert ids_on_disk(db) == set(created)


def test_a_coroutine_awaiting_its_write_leaves_the_event_loop_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LinkStore(tmp_path / "db.json")
    slow_fsyncs(monkeypatch, 0.3)
    events: list[str] = []

    async def ticker() -> None:
        for _ in range(3):
            events.append("tick")
            await asyncio.sleep(0.01)

    async def write() -> None:
        await store.create_async(FIELDS)
        events.append("written")

    async def both() -> None:
        await asyncio.gather(write(), ticker())

    asyncio.run(both())
    monkeypatch.undo()
    # The loop went on ticking while the write waited for its fsync.
    assert events == ["tick", "tick", "tick", "written"]
    store.close()


def test_a_read_is_not_held_up_by_an_fsync_in_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LinkStore(tmp_path / "db.json")
    kept = store.create(FIELDS)
    slow_fsyncs(monkeypatch, 0.5)
    writer = threading.Thread(target=store.update, args=(kept["_id"], {"is_active": False}))
    writer.start()
    time.sleep(0.05)  # the update is now waiting on its fsync
    # The read answers at once, with what is on disk: the update is not visible yet.
    assert store.get(kept["_id"]) == kept
    assert writer.is_alive()
    writer.join()
    monkeypatch.undo()
    assert store.get(kept["_id"])["is_active"] is False  # type: ignore[index]
    store.close()


def test_a_refused_batch_fails_the_writes_queued_behind_it_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "db.json"
    store = LinkStore(db)
    kept = store.create(FIELDS)
    gate = threading.Event()
    real = journal._write

    def refusing(fd: int, data: bytes) -> int:
        gate.wait(5)  # hold the first batch until the second write is queued
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal, "_write", refusing)
    outcomes: list[Any] = []

    def write(changes: dict[str, Any]) -> None:
        try:
            outcomes.append(store.update(kept["_id"], changes))
        except StoreWriteFailed as exc:
            outcomes.append(exc)

    first = threading.Thread(target=write, args=({"is_active": False},))
    first.start()
    time.sleep(0.05)
    # Computed from the first change, which has not reached the disk: it must fail too.
    second = threading.Thread(target=write, args=({"link_type": "secure"},))
    second.start()
    time.sleep(0.05)
    gate.set()
    first.join()
    second.join()
    monkeypatch.setattr(journal, "_write", real)
    assert [type(outcome) for outcome in outcomes] == [StoreWriteFailed, StoreWriteFailed]
    assert store.get(kept["_id"]) == kept
    after = store.update(kept["_id"], {"link_type": "secure"})
    assert after is not None
    assert after["is_active"] is True
    store.close()
    assert ids_on_disk(db) == {kept["_id"]}

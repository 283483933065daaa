"""The store on disk: acknowledged writes survive, torn records are dropped, one process only."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import AUTH, BASE, WORKORDER
from tinydb import TinyDB

from portal_mock.app import create_app
from portal_mock.settings import Settings
from portal_mock.store import LinkStore, StoreLocked, StoreWriteFailed, forked, journal
from portal_mock.store import link_store as store_module
from portal_mock.store.querying import LinkQuery


def new_link(store: LinkStore, n: int = 0) -> dict[str, Any]:
    fields = {"workorder": WORKORDER, "is_active": True, "company_namespace": [f"ns{n % 3}"]}
    return store.create({**fields, "metadata": {"n": n}})


def all_links(store: LinkStore) -> dict[str, dict[str, Any]]:
    found, _ = store.search(LinkQuery(per_page=100_000))
    return {link["_id"]: link for link in found}


def crash_image(db: Path, into: Path) -> Path:
    """Copy the store's files as a crash at this instant would leave them (no close)."""
    into.mkdir()
    for name in (db.name, db.name + ".journal", db.name + ".journal.sealed"):
        if (db.parent / name).exists():
            shutil.copy(db.parent / name, into / name)
    return into / db.name


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store" / "db.json"


def test_a_write_is_on_disk_when_the_call_returns(db: Path, tmp_path: Path) -> None:
    live = LinkStore(db)
    written = [new_link(live, n) for n in range(5)]
    live.delete(written[0]["_id"])
    changed = live.update(written[1]["_id"], {"is_active": False})
    recovered = LinkStore(crash_image(db, tmp_path / "crash"))
    expected = {link["_id"]: link for link in [changed, *written[2:]]}
    assert all_links(recovered) == expected
    recovered.close()
    live.close()


def test_a_torn_last_record_is_dropped_and_nothing_before_it(
    db: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    live = LinkStore(db)
    kept = [new_link(live, n) for n in range(3)]
    image = crash_image(db, tmp_path / "crash")
    with open(f"{image}.journal", "ab") as handle:
        handle.write(journal.encode({"put": {**kept[0], "_id": "f" * 24}})[:-9])
    with caplog.at_level(logging.WARNING):
        recovered = LinkStore(image)
    assert "torn last record" in caplog.text
    assert set(all_links(recovered)) == {link["_id"] for link in kept}
    after = new_link(recovered, 9)
    recovered.close()
    reopened = LinkStore(image)
    assert set(all_links(reopened)) == {link["_id"] for link in [*kept, after]}
    reopened.close()
    live.close()


def test_a_damaged_record_is_reported_and_the_rest_replayed(
    db: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    live = LinkStore(db)
    links = [new_link(live, n) for n in range(3)]
    image = crash_image(db, tmp_path / "crash")
    lines = Path(f"{image}.journal").read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"n":1', b'"n":7')  # the checksum no longer matches
    Path(f"{image}.journal").write_bytes(b"".join(lines))
    with caplog.at_level(logging.WARNING):
        recovered = LinkStore(image)
    assert "damaged record on line 2" in caplog.text
    assert set(all_links(recovered)) == {links[0]["_id"], links[2]["_id"]}
    recovered.close()
    live.close()


def test_a_second_store_on_the_same_file_is_refused_at_once(db: Path) -> None:
    first = LinkStore(db)
    with pytest.raises(StoreLocked, match="in use by another portal-mock process"):
        LinkStore(db)
    first.close()
    LinkStore(db).close()


def test_leftover_temporary_snapshots_are_removed_at_start(db: Path) -> None:
    db.parent.mkdir(parents=True)
    leftover = db.parent / ".portal-mock-snapshot-abc123"
    leftover.write_text('{"links": {')
    LinkStore(db).close()
    assert not leftover.exists()


def test_a_closed_store_is_one_snapshot_plain_tinydb_can_read(db: Path) -> None:
    store = LinkStore(db)
    links = [new_link(store, n) for n in range(4)]
    store.delete(links[0]["_id"])
    store.close()
    assert Path(f"{db}.journal").stat().st_size == 0
    plain = TinyDB(db)
    assert [dict(doc) for doc in plain.table("links").all()] == links[1:]
    plain.close()


def test_compaction_replaces_the_snapshot_and_loses_nothing(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "MIN_COMPACT_BYTES", 2048)
    store = LinkStore(db)
    links = [new_link(store, n) for n in range(60)]
    for link in links[::3]:
        store.delete(link["_id"])
    # One compaction runs at a time: writes made while a slow one ran (a busy
    # machine) wait in the journal for the next, which the next write starts.
    store.settle()
    new_link(store, 60)
    store.settle()
    before = all_links(store)
    assert Path(f"{db}.journal").stat().st_size < db.stat().st_size
    store.close()
    reopened = LinkStore(db)
    assert all_links(reopened) == before
    reopened.close()


def failing_write(fd: int, data: bytes) -> int:
    """A disk that takes a few bytes of a record, then is full."""
    os.write(fd, data[:5])
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_refuses_the_write_and_changes_nothing(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LinkStore(db)
    kept = new_link(store)
    size = Path(f"{db}.journal").stat().st_size
    monkeypatch.setattr(journal, "_write", failing_write)
    with pytest.raises(StoreWriteFailed, match="No space left"):
        new_link(store, 1)
    with pytest.raises(StoreWriteFailed):
        store.delete(kept["_id"])
    assert all_links(store) == {kept["_id"]: kept}
    assert Path(f"{db}.journal").stat().st_size == size
    monkeypatch.undo()
    later = new_link(store, 2)
    store.close()
    reopened = LinkStore(db)
    assert set(all_links(reopened)) == {kept["_id"], later["_id"]}
    reopened.close()


def read_only_write(fd: int, data: bytes) -> int:
    raise OSError(errno.EROFS, "Read-only file system")


def failing_fsync(fd: int) -> None:
    raise OSError(errno.EIO, "Input/output error")


DISK_FAULTS = [
    pytest.param("_write", failing_write, id="disk-full"),
    pytest.param("_write", read_only_write, id="read-only"),
    pytest.param("_fsync", failing_fsync, id="fsync-error"),
]
# Every write operation, as (method, path after the link's address or None, body);
# the link is active, so deactivate changes it, and activate runs on an inactive twin.
WRITES = [
    pytest.param("POST", None, {"workorder": WORKORDER}, id="create"),
    pytest.param("PUT", "", {"link_type": "secure"}, id="update"),
    pytest.param("DELETE", "", None, id="delete"),
    pytest.param("POST", "/regenerate", None, id="regenerate"),
    pytest.param("POST", "/activate", None, id="activate"),
    pytest.param("POST", "/deactivate", None, id="deactivate"),
]


@pytest.mark.parametrize(("seam", "fault"), DISK_FAULTS)
@pytest.mark.parametrize(("method", "suffix", "body"), WRITES)
def test_every_write_the_disk_refuses_answers_503_in_the_envelope_and_changes_nothing(
    db: Path,
    monkeypatch: pytest.MonkeyPatch,
    conforms: Any,
    method: str,
    suffix: str | None,
    body: Any,
    seam: str,
    fault: Any,
) -> None:
    store = LinkStore(db)
    app = create_app(Settings(db=None, fixtures=None), store=store)
    with app.test_client(headers=AUTH) as client:
        link = client.post(BASE, json={"workorder": WORKORDER}).json()["data"]
        if suffix == "/activate":
            link = client.post(f"{BASE}/{link['_id']}/deactivate").json()["data"]
        before = client.get(BASE).json()
        monkeypatch.setattr(journal, seam, fault)
        path = BASE if suffix is None else f"{BASE}/{link['_id']}{suffix}"
        response = client.request(method, path, json=body)
        assert response.status_code == 503, response.text
        conforms(response)
        assert response.json()["error"]["code"] == "storage_unavailable"
        assert client.get(BASE).json() == before
        monkeypatch.undo()
    store.close()
    reopened = LinkStore(db)
    assert list(all_links(reopened).values()) == before["data"]
    reopened.close()


@pytest.mark.usefixtures("compaction_on_a_thread")
def test_a_compaction_that_fails_keeps_every_write_and_is_tried_again_later(
    db: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_write_snapshot = store_module.write_snapshot
    attempts: list[int] = []

    def refused(*args: Any, **kwargs: Any) -> int:
        attempts.append(len(attempts))
        raise OSError(errno.ENOSPC, "No space left on device")

    store = LinkStore(db)
    monkeypatch.setattr(store_module, "write_snapshot", refused)
    with caplog.at_level(logging.ERROR):
        links = [new_link(store, n) for n in range(40)]
        store.settle()
    assert "could not compact the store" in caplog.text
    # Not tried on every write: only once the journal had grown again.
    assert 1 <= len(attempts) < 10
    assert not db.exists()
    assert set(all_links(store)) == {link["_id"] for link in links}
    # A crash now loses nothing: the sealed journal and the journal hold every write.
    recovered = LinkStore(crash_image(db, db.parent.parent / "crash-1"))
    assert set(all_links(recovered)) == {link["_id"] for link in links}
    recovered.close()
    monkeypatch.setattr(store_module, "write_snapshot", real_write_snapshot)
    later = [new_link(store, n) for n in range(40, 80)]
    store.settle()
    assert db.exists()  # the next due compaction went through
    assert not Path(f"{db}.journal.sealed").exists()
    recovered = LinkStore(crash_image(db, db.parent.parent / "crash-2"))
    assert set(all_links(recovered)) == {link["_id"] for link in [*links, *later]}
    recovered.close()
    store.close()


@pytest.mark.usefixtures("compaction_on_a_thread")
def test_writes_go_on_while_a_compaction_runs_and_a_crash_then_loses_nothing(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write_snapshot = store_module.write_snapshot
    started, release = threading.Event(), threading.Event()

    def held(*args: Any, **kwargs: Any) -> int:
        started.set()
        release.wait(10)  # a compaction of a large store: it takes a while
        return real_write_snapshot(*args, **kwargs)

    monkeypatch.setattr(store_module, "write_snapshot", held)
    store = LinkStore(db)
    links = []
    while not started.is_set():
        links.append(new_link(store, len(links)))
    # The compaction is running: writes are still acknowledged, and durable.
    during = [new_link(store, n) for n in range(10)]
    image = crash_image(db, db.parent.parent / "crash")
    release.set()
    store.settle()
    recovered = LinkStore(image)
    assert set(all_links(recovered)) == {link["_id"] for link in [*links, *during]}
    recovered.close()
    store.close()
    reopened = LinkStore(db)
    assert set(all_links(reopened)) == {link["_id"] for link in [*links, *during]}
    reopened.close()


@pytest.mark.usefixtures("clean_environment")
def test_serve_on_a_store_in_use_exits_2_naming_the_lock(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from portal_mock.cli import main

    holder = LinkStore(db)
    assert main(["serve", "--db", str(db), "--port", "0", "--no-fixtures"]) == 2
    error = capsys.readouterr().err
    assert "in use by another portal-mock process" in error
    assert "Traceback" not in error
    holder.close()


@pytest.mark.usefixtures("compaction_on_a_thread")
def test_a_background_compaction_on_a_thread_leaves_the_row_cache_to_a_clean_close(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Building the cache holds the GIL: a compaction on a thread of the server
    # (where it cannot fork) writes none while requests run.
    store = LinkStore(db)
    links = [new_link(store, n) for n in range(60)]
    store.settle()
    rows = Path(f"{db}.rows")
    assert db.exists(), "no compaction ran"
    assert not rows.exists(), "a compaction on the request path wrote the row cache"
    store.close()
    assert rows.exists()
    calls = []
    real = store_module.decoded
    monkeypatch.setattr(store_module, "decoded", lambda raw: calls.append(raw) or real(raw))
    reopened = LinkStore(db)
    monkeypatch.setattr(store_module, "decoded", real)
    assert calls == []
    assert sorted(link["_id"] for link in reopened.export()) == [link["_id"] for link in links]
    reopened.close()


@pytest.mark.usefixtures("compaction_on_a_thread")
def test_a_background_compaction_shortens_the_gil_switch_interval_while_it_runs(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    seen: list[float] = []
    real = store_module.write_snapshot

    def recorded(*args: Any, **kwargs: Any) -> int:
        seen.append(sys.getswitchinterval())
        return real(*args, **kwargs)

    monkeypatch.setattr(store_module, "write_snapshot", recorded)
    before = sys.getswitchinterval()
    store = LinkStore(db)
    for n in range(60):
        new_link(store, n)
    store.settle()
    assert seen, "no compaction ran"
    assert seen[0] == store_module.COMPACTING_SWITCH_INTERVAL < before
    assert sys.getswitchinterval() == before
    store.close()


needs_fork = pytest.mark.skipif(not forked.available(), reason="compaction forks on Linux only")


@needs_fork
def test_a_background_compaction_writes_the_snapshot_and_its_row_cache_from_a_child(
    db: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(store_module, "MIN_COMPACT_BYTES", 2048)
    writers = tmp_path / "writers"
    real = store_module.write_snapshot

    def recorded(*args: Any, **kwargs: Any) -> int:
        with writers.open("a") as record:  # a file: the child's memory is its own
            record.write(f"{os.getpid()}\n")
        return real(*args, **kwargs)

    monkeypatch.setattr(store_module, "write_snapshot", recorded)
    store = LinkStore(db)
    links = [new_link(store, n) for n in range(60)]
    store.settle()
    pids = writers.read_text().split()
    assert pids, "no compaction ran"
    assert str(os.getpid()) not in pids, "the snapshot was written in the server's process"
    assert Path(f"{db}.rows").exists(), "the child wrote no row cache"
    recovered = LinkStore(crash_image(db, tmp_path / "crash"))
    assert set(all_links(recovered)) == {link["_id"] for link in links}
    recovered.close()
    store.close()


@needs_fork
def test_a_child_compaction_that_fails_is_reported_and_keeps_every_write(
    db: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    monkeypatch.setattr(store_module, "MIN_COMPACT_BYTES", 2048)

    def refused(*args: Any, **kwargs: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_module, "write_snapshot", refused)
    store = LinkStore(db)
    with caplog.at_level(logging.ERROR):
        links = [new_link(store, n) for n in range(40)]
        store.settle()
    assert "No space left on device" in caplog.text
    assert Path(f"{db}.journal.sealed").exists()
    recovered = LinkStore(crash_image(db, tmp_path / "crash"))
    assert set(all_links(recovered)) == {link["_id"] for link in links}
    recovered.close()
    store.close()


_KILLED_MID_COMPACTION = """
import os, sys, time
from pathlib import Path
from portal_mock.store import link_store

link_store.MIN_COMPACT_BYTES = 2048
pid_file = Path(sys.argv[2])

def slow(*args, **kwargs):
    # Written aside and renamed: the server below must never see it half-written.
    pid_file.with_suffix(".tmp").write_text(str(os.getpid()))
    pid_file.with_suffix(".tmp").rename(pid_file)
    time.sleep(60)  # a compaction of a huge store, cut short by the kill below
    os._exit(3)

link_store.write_snapshot = slow
store = link_store.LinkStore(Path(sys.argv[1]))
n = 0
while not pid_file.exists():
    store.create({"workorder": "64a1b2c3d4e5f6a7b8c9d0e1", "metadata": {"n": n}})
    n += 1
print(n, flush=True)
time.sleep(60)
"""


@needs_fork
def test_the_snapshot_writer_dies_with_a_killed_server(db: Path, tmp_path: Path) -> None:
    # Left alive, it would rename an old snapshot over the one a restarted
    # server has written since, and hold the store's lock meanwhile.
    import signal
    import subprocess
    import sys
    import time

    pid_file = tmp_path / "writer.pid"
    server = subprocess.Popen(
        [sys.executable, "-c", _KILLED_MID_COMPACTION, str(db), str(pid_file)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    try:
        written = int(server.stdout.readline())
        writer = int(pid_file.read_text())
        assert writer != server.pid
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        server.stdout.close()
    deadline = time.monotonic() + 10
    while running(writer) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(writer), "the snapshot writer outlived its server"
    reopened = LinkStore(db)  # the lock is free again
    assert len(reopened.export()) == written
    reopened.close()


def running(pid: int) -> bool:
    """Whether ``pid`` still runs: a killed process nobody has reaped yet (a zombie) does not."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "zombie" not in status

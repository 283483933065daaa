"""A compaction's big files are written, replaced and freed a step at a time (store/files.py).

Each step is one commit of the file system's journal that a journal fsync may
have to wait for, so these tests check the steps, not the time they take.
"""

from __future__ import annotations

import errno
import itertools
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import WORKORDER

from portal_mock.jsonbody import encoded
from portal_mock.store import LinkStore, files
from portal_mock.store import link_store as store_module
from portal_mock.store.snapshot import read_snapshot, write_snapshot


def _links(count: int) -> list[bytes]:
    return [encoded({"_id": f"{n:024x}", "pad": "x" * 1000}) for n in range(count)]


def _record(monkeypatch: pytest.MonkeyPatch, name: str) -> list[tuple[int, int]]:
    """Record each call of os.<name>(fd, ...) as (the file's inode, its size after)."""
    calls: list[tuple[int, int]] = []
    real = getattr(os, name)

    def recorded(fd: int, *args: Any) -> None:
        real(fd, *args)
        stat = os.fstat(fd)
        calls.append((stat.st_ino, stat.st_size))

    monkeypatch.setattr(os, name, recorded)
    return calls


def test_a_snapshot_is_made_durable_a_quarter_mebibyte_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flushed = _record(monkeypatch, "fdatasync")
    links = _links(3000)
    path = tmp_path / "db.json"
    size = write_snapshot(path, links, "f" * 24)
    sizes = [after for _, after in flushed]
    assert len(sizes) >= size // files.FLUSH_BYTES
    steps = [after - before for before, after in itertools.pairwise([0, *sizes])]
    assert steps == [files.FLUSH_BYTES] * len(sizes)
    assert read_snapshot(path) == (links, "f" * 24)


def test_one_large_chunk_is_still_flushed_a_step_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The row cache is written as one marshalled blob.
    flushed = _record(monkeypatch, "fdatasync")
    rests: list[float] = []
    monkeypatch.setattr(files.time, "sleep", rests.append)
    data = os.urandom(4 * files.FLUSH_BYTES + 10)
    fd = os.open(tmp_path / "blob", os.O_RDWR | os.O_CREAT)
    files.write_paced(fd, [data[:10], data[10:]], pause=0.002)
    os.close(fd)
    assert [size for _, size in flushed] == [n * files.FLUSH_BYTES for n in range(1, 5)]
    assert rests == [0.002] * 4
    assert (tmp_path / "blob").read_bytes() == data


def test_without_a_pause_writing_never_rests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rests: list[float] = []
    monkeypatch.setattr(files.time, "sleep", rests.append)
    write_snapshot(tmp_path / "db.json", _links(1000), None)
    assert rests == []


def test_the_snapshot_a_new_one_replaces_is_freed_a_mebibyte_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "db.json"
    write_snapshot(path, _links(3000), None)
    old = path.stat()
    cut = _record(monkeypatch, "ftruncate")
    links = _links(10)
    size = write_snapshot(path, links, "a" * 24)
    assert {inode for inode, _ in cut} == {old.st_ino}
    sizes = [old.st_size] + [after for _, after in cut]
    assert sizes[-1] == 0
    steps = [before - after for before, after in itertools.pairwise(sizes)]
    assert all(0 < step <= files.SHRINK_BYTES for step in steps)
    assert path.stat().st_size == size
    assert read_snapshot(path) == (links, "a" * 24)


def test_a_rename_that_fails_leaves_the_old_snapshot_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "db.json"
    links = _links(2000)
    write_snapshot(path, links, "f" * 24)
    cut = _record(monkeypatch, "ftruncate")

    def refused(src: Any, dst: Any) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(files.os, "replace", refused)
    with pytest.raises(OSError, match="Read-only"):
        write_snapshot(path, _links(10), None)
    assert cut == []
    assert read_snapshot(path) == (links, "f" * 24)
    assert [p.name for p in tmp_path.iterdir()] == ["db.json"]


def test_remove_takes_the_name_away_first_then_frees_the_file_in_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sealed = tmp_path / "db.json.journal.sealed"
    sealed.write_bytes(os.urandom(3 * files.SHRINK_BYTES + 5))
    names_while_cutting: list[bool] = []
    real = os.ftruncate

    def cut(fd: int, size: int) -> None:
        names_while_cutting.append(sealed.exists())
        real(fd, size)

    monkeypatch.setattr(os, "ftruncate", cut)
    files.remove(sealed)
    files.remove(sealed)  # gone already: nothing to do
    assert not sealed.exists()
    assert names_while_cutting == [False] * 4


@pytest.mark.parametrize("why", ["not POSIX", "read-only"])
def test_a_file_that_cannot_be_held_open_is_replaced_and_removed_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, why: str
) -> None:
    # Windows will not rename over or delete an open file; a read-only file
    # cannot be opened for writing. Either is then freed the plain way.
    if why == "not POSIX":
        monkeypatch.setattr(files, "STEPWISE", False)
    else:
        real_open = os.open

        def refused(path: Any, flags: int, *args: Any) -> int:
            if flags & os.O_RDWR and not flags & os.O_CREAT:
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            return real_open(path, flags, *args)

        monkeypatch.setattr(files.os, "open", refused)
    path = tmp_path / "db.json"
    write_snapshot(path, _links(1000), None)
    cut = _record(monkeypatch, "ftruncate")
    links = _links(10)
    write_snapshot(path, links, "a" * 24)
    sealed = tmp_path / "db.json.journal.sealed"
    sealed.write_bytes(b"x" * 100)
    files.remove(sealed)
    files.remove(sealed)
    assert cut == []
    assert read_snapshot(path) == (links, "a" * 24)
    assert not sealed.exists()


@pytest.mark.usefixtures("compaction_on_a_thread")
def test_a_background_compaction_paces_its_writes_and_a_foreground_one_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pauses: list[float] = []
    real = files.write_paced

    def recorded(fd: int, chunks: Any, pause: float = 0.0) -> None:
        pauses.append(pause)
        real(fd, chunks, pause)

    monkeypatch.setattr(files, "write_paced", recorded)
    removed: list[str] = []
    real_remove = files.remove
    monkeypatch.setattr(files, "remove", lambda p: removed.append(p.name) or real_remove(p))
    db = tmp_path / "db.json"
    store = LinkStore(db)
    for n in range(60):
        store.create({"workorder": WORKORDER, "company_namespace": ["acme"], "metadata": {"n": n}})
    store.settle()
    assert pauses, "no compaction ran"
    assert set(pauses) == {store_module.BACKGROUND_PAUSE}
    assert "db.json.journal.sealed" in removed
    assert not Path(f"{db}.journal.sealed").exists()
    pauses.clear()
    store.reset([])  # compacts here and now, the caller waiting
    assert pauses, "reset wrote no snapshot"
    assert set(pauses) == {0.0}
    store.close()

"""Big files written, replaced and freed a little at a time, so journal fsyncs never wait long.

Every acknowledged write waits for a journal fsync. On ext4 an fsync commits
the file system's own journal, and that commit waits for whatever else is
pending in it: the dirty pages of a snapshot being written, and the blocks of
a replaced snapshot or a sealed journal being freed (with the `discard`
mount option, each freed extent is discarded inside the commit). A
compaction that wrote a 60 MB snapshot and then freed the old one held
journal fsyncs up for 50 to 200 ms, some eighty times in 12 s; written a
quarter of a mebibyte at a time and freed a mebibyte at a time, a few times
(`bench/compaction_io.py` measures it).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

FLUSH_BYTES = 256 << 10
SHRINK_BYTES = 1 << 20
# Freeing a file a step at a time keeps it open while its name goes, which
# only POSIX allows (Windows refuses to rename over or delete an open file).
STEPWISE = os.name == "posix"


def fsync_folder(folder: Path) -> None:
    """Make a rename or new file in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_paced(fd: int, chunks: Iterable[bytes], pause: float = 0.0) -> None:
    """Write ``chunks`` to ``fd``, making each ``FLUSH_BYTES`` durable before the next.

    ``pause`` seconds after each flush leave the disk to the journal for a
    moment: a background compaction may take longer, a request should not.
    The caller still fsyncs the end.
    """
    pending = bytearray()
    for chunk in chunks:
        pending += chunk
        while len(pending) >= FLUSH_BYTES:
            write_all(fd, pending[:FLUSH_BYTES])
            del pending[:FLUSH_BYTES]
            os.fdatasync(fd)
            if pause:
                time.sleep(pause)
    write_all(fd, pending)


def write_all(fd: int, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_new(
    path: Path, chunks: Iterable[bytes], prefix: str, pause: float = 0.0, durable: bool = True
) -> None:
    """Write ``chunks`` into a new file beside ``path`` (named ``prefix``..., so that a
    crash's leftover can be found) and rename it over ``path`` (``replace``).

    Written with ``write_paced``; with ``durable``, fsynced before the rename.
    On any failure the new file is deleted and ``path`` is as it was.
    """
    fd, tmp = tempfile.mkstemp(prefix=prefix, dir=path.parent)
    try:
        try:
            write_paced(fd, chunks, pause)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def replace(new: Path | str, path: Path) -> None:
    """Rename ``new`` over ``path`` durably, then free the file it replaced a step at a time."""
    old = _open_if_there(path)
    try:
        os.replace(new, path)
        fsync_folder(path.parent)
        if old is not None and not os.path.samestat(os.fstat(old), os.stat(path)):
            _shrink(old)
    finally:
        if old is not None:
            os.close(old)


def remove(path: Path) -> None:
    """Delete ``path`` durably, then free its blocks a step at a time; nothing if it is gone."""
    fd = _open_if_there(path)
    try:
        try:
            os.unlink(path)
        except FileNotFoundError:
            return
        fsync_folder(path.parent)
        if fd is not None:
            _shrink(fd)
    finally:
        if fd is not None:
            os.close(fd)


def _open_if_there(path: Path) -> int | None:
    """The file at ``path`` open for shrinking, or None: gone, or to be freed at once."""
    if not STEPWISE:
        return None
    try:
        return os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return None
    except PermissionError:
        return None  # read-only: the rename or unlink frees it at once, as it always did


def _shrink(fd: int) -> None:
    """Cut the unlinked file ``fd`` down to nothing, ``SHRINK_BYTES`` per commit."""
    # No name leads to the file any more, so a crash part way loses nothing;
    # if a step fails, closing the file frees the rest at once.
    with contextlib.suppress(OSError):
        size = os.fstat(fd).st_size
        while size > 0:
            size = max(0, size - SHRINK_BYTES)
            os.ftruncate(fd, size)
            os.fdatasync(fd)

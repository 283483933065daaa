"""An append-only journal of whole-document puts and deletes, one checksummed line each."""

from __future__ import annotations

import errno
import logging
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from portal_mock.jsonbody import decoded, encoded
from portal_mock.store.files import fsync_folder

logger = logging.getLogger(__name__)


def _write(fd: int, data: bytes) -> int:
    # Seams for the tests to play a full or failing disk without patching os itself.
    return os.write(fd, data)


def _fsync(fd: int) -> None:
    os.fsync(fd)


def journals_of(store: Path) -> tuple[Path, Path]:
    """The sealed journal and the journal of the store file ``store``, in replay order."""
    return store.with_name(store.name + ".journal.sealed"), store.with_name(store.name + ".journal")


class JournalWriteFailed(OSError):
    """A record could not be made durable; the journal is as it was before it."""


def line(body: bytes) -> bytes:
    """The journal line of a record already encoded as JSON: its checksum, then itself."""
    return b"%08x %s\n" % (zlib.crc32(body), body)


def encode(record: dict[str, Any]) -> bytes:
    return line(encoded(record))


def decode(line: bytes) -> dict[str, Any] | None:
    """The record on ``line``, or None when it is torn or damaged."""
    checksum, _, body = line.rstrip(b"\n").partition(b" ")
    try:
        if int(checksum, 16) != zlib.crc32(body):
            return None
        record: dict[str, Any] = decoded(body)
    except ValueError:
        return None
    return record


def records_in(data: bytes) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """Each line of a journal's ``data``, numbered from 1, with its record; None for a
    line that is torn (no newline yet) or damaged."""
    for number, line in enumerate(data.splitlines(keepends=True), start=1):
        yield number, decode(line) if line.endswith(b"\n") else None


class Journal:
    """Records are appended, fsynced, and replayed in order when the store opens.

    A record counts only once its whole line, newline included, is on disk;
    a torn or damaged record (a crash mid-append, a zero-filled tail) is
    reported and skipped, and a torn tail is cut off so that the next append
    starts on a clean line.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        self.size = os.fstat(self._fd).st_size
        self._restore_to: int | None = None

    def replay(self) -> Iterator[dict[str, Any]]:
        with open(self.path, "rb") as handle:
            data = handle.read()
        for number, record in records_in(data):
            if record is None:
                logger.warning("journal %s: dropping damaged record on line %d", self.path, number)
                continue
            yield record
        self._cut_torn_tail(data)

    def _cut_torn_tail(self, data: bytes) -> None:
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            logger.warning("journal %s: cutting a torn last record (%d bytes)", self.path,
                           len(data) - keep)  # fmt: skip
            os.ftruncate(self._fd, keep)
            os.fsync(self._fd)
            self.size = keep

    def append_many(self, records: list[bytes]) -> None:
        """Write ``records`` (each encoded JSON) with one fsync, or raise JournalWriteFailed
        having written none."""
        data = b"".join(map(line, records))
        if not self._undo_failed_append():
            raise JournalWriteFailed(errno.EIO, "the journal still ends in a failed write")
        try:
            written = 0
            while written < len(data):
                written += _write(self._fd, data[written:])
            _fsync(self._fd)
        except OSError as exc:
            self._restore_to = self.size
            self._undo_failed_append()
            raise JournalWriteFailed(exc.errno, f"cannot write the journal: {exc}") from exc
        self.size += len(data)

    def _undo_failed_append(self) -> bool:
        """Cut what a failed append left, so no record is glued to it; False if that fails."""
        if self._restore_to is None:
            return True
        try:
            os.ftruncate(self._fd, self._restore_to)
            _fsync(self._fd)
        except OSError:
            return False
        self._restore_to = None
        return True

    def seal(self, sealed: Path) -> None:
        """Move what is written to ``sealed`` and go on in a new, empty file at the same path.

        A compaction then folds the sealed file into the snapshot on a thread of
        its own while writes go on here; until it is done, both are replayed.
        """
        os.replace(self.path, sealed)
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        fsync_folder(self.path.parent)
        self.size = 0

    def clear(self) -> None:
        """Empty the journal once a snapshot holds everything it recorded."""
        os.ftruncate(self._fd, 0)
        os.fsync(self._fd)
        self.size = 0

    def close(self) -> None:
        os.close(self._fd)

"""The store's snapshot: a TinyDB JSON file, replaced atomically, never rewritten in place."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson
from tinydb.storages import Storage

logger = logging.getLogger(__name__)

LINKS_TABLE = "links"
META_TABLE = "meta"
_TMP_PREFIX = ".portal-mock-snapshot-"


def fsync_folder(folder: Path) -> None:
    """Make a rename or new file in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AtomicJSONStorage(Storage):
    """A TinyDB storage that writes a new file and renames it over the old one.

    TinyDB's own JSONStorage rewrites the file in place (seek, write,
    truncate), so a crash mid-write leaves a file that cannot be read. Here a
    crash leaves either the old snapshot or the new one, plus at most a
    temporary file that ``remove_leftovers`` deletes.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def read(self) -> dict[str, dict[str, Any]] | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        if not raw.strip():
            return None
        try:
            data: dict[str, dict[str, Any]] = orjson.loads(raw)
        except orjson.JSONDecodeError:
            # The json module writes NaN and Infinity, which orjson will not read.
            data = json.loads(raw.decode("utf-8"))
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, separators=(",", ":"))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        fsync_folder(folder)

    def close(self) -> None:
        pass


def remove_leftovers(folder: Path) -> None:
    """Delete temporary snapshots that a crash left behind."""
    for leftover in folder.glob(_TMP_PREFIX + "*"):
        logger.warning("removing an unfinished snapshot left by a crash: %s", leftover)
        leftover.unlink(missing_ok=True)


def read_snapshot(path: Path) -> tuple[list[dict[str, Any]], str | None]:
    """The links and the last issued id stored in the snapshot at ``path``."""
    # Straight from TinyDB's storage: its table API copies every document twice,
    # which at 100,000 links was most of the start-up time and its peak memory.
    data = AtomicJSONStorage(path).read() or {}
    links = list(data.get(LINKS_TABLE, {}).values())
    meta = data.get(META_TABLE, {}).get("1")
    last_id = meta.get("last_id") if isinstance(meta, dict) else None
    return links, last_id


def write_snapshot(path: Path, links: list[dict[str, Any]], last_id: str | None) -> int:
    """Replace the snapshot with ``links`` in TinyDB's layout; return its size in bytes."""
    data = {
        LINKS_TABLE: {str(number): link for number, link in enumerate(links, start=1)},
        META_TABLE: {"1": {"last_id": last_id}} if last_id else {},
    }
    AtomicJSONStorage(path).write(data)
    return path.stat().st_size

"""The store's snapshot: a TinyDB JSON file, replaced atomically, never rewritten in place."""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from tinydb.storages import Storage

from portal_mock.jsonbody import decoded, encoded
from portal_mock.store.files import write_new
from portal_mock.store.row_cache import ROWS_TMP_PREFIX, CachedRows, Rows, write_rows

logger = logging.getLogger(__name__)

LINKS_TABLE = "links"
META_TABLE = "meta"
_TMP_PREFIX = ".portal-mock-snapshot-"
_LINES_HEAD = b'{"%s":{\n' % LINKS_TABLE.encode()
_TAIL_BYTES = 4096
_BLOCK_BYTES = 8 << 20


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
        self.write_chunks([json.dumps(data, separators=(",", ":")).encode()])

    def write_chunks(self, chunks: Iterable[bytes], pause: float = 0.0) -> None:
        """Write the JSON text made of ``chunks`` as the new file, durably, a quarter
        of a mebibyte at a time with ``pause`` seconds between (files.write_paced)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_new(self.path, chunks, _TMP_PREFIX, pause)

    def close(self) -> None:
        pass


def remove_leftovers(folder: Path) -> None:
    """Delete temporary snapshots that a crash left behind."""
    for leftover in [*folder.glob(_TMP_PREFIX + "*"), *folder.glob(ROWS_TMP_PREFIX + "*")]:
        logger.warning("removing an unfinished snapshot left by a crash: %s", leftover)
        leftover.unlink(missing_ok=True)


def read_snapshot(path: Path) -> tuple[list[bytes], str | None]:
    """The links (each its JSON) and the last issued id stored in the snapshot at ``path``."""
    links, meta = read_snapshot_meta(path)
    return links, last_id_of(meta)


def read_snapshot_meta(path: Path) -> tuple[list[bytes], dict[str, Any]]:
    """The links (each its JSON) and the meta table of the snapshot at ``path``.

    A snapshot this module wrote has one link per line, so each line is taken
    as it is, never decoded as part of the whole: at 100,000 links, decoding
    the whole file held every link as dicts at once. Any other TinyDB file is
    read whole, by TinyDB's storage (its table API copies each document twice).
    """
    try:
        with path.open("rb") as handle:
            first = handle.readline()
            if first == _LINES_HEAD:
                return _read_lines(handle)
    except FileNotFoundError:
        return [], {}
    data = AtomicJSONStorage(path).read() or {}
    links = [encoded(link) for link in data.get(LINKS_TABLE, {}).values()]
    return links, data.get(META_TABLE, {})


def rows_token(meta: dict[str, Any]) -> str | None:
    """The token of the row cache written with the snapshot (row_cache.py), if any."""
    found = meta.get("1")
    token = found.get("rows") if isinstance(found, dict) else None
    return token if isinstance(token, str) else None


def _places(links: list[bytes]) -> tuple[list[int], list[int]]:
    """Where each of ``links`` will lie in the snapshot ``write_snapshot`` writes."""
    starts, ends = [], []
    position = len(_LINES_HEAD)
    for number, link in enumerate(links, start=1):
        start = position + len(b'"%d":' % number)
        starts.append(start)
        ends.append(start + len(link))
        position = ends[-1] + (2 if number < len(links) else 1)
    return starts, ends


def snapshot_meta(path: Path) -> dict[str, Any] | None:
    """The meta table of a snapshot in this module's layout, read from its last line
    alone; None for any other file (or none)."""
    try:
        with path.open("rb") as handle:
            if handle.readline() != _LINES_HEAD:
                return None
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - _TAIL_BYTES))
            tail = handle.read()
    except FileNotFoundError:
        return None
    last = tail.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    if not last.startswith(b"},"):
        return None
    meta: dict[str, Any] = decoded(b"{" + last[2:].strip()).get(META_TABLE, {})
    return meta


def read_links_at(path: Path, starts: list[int], ends: list[int]) -> list[bytes]:
    """The links at ``starts[n]:ends[n]`` of the file, read a block at a time: one copy
    of each link, and never the whole file in memory beside them."""
    links: list[bytes] = []
    with path.open("rb") as handle:
        first, block = 0, b""
        for start, end in zip(starts, ends, strict=True):
            if end > first + len(block):
                handle.seek(start)
                first, block = start, handle.read(max(_BLOCK_BYTES, end - start))
                if end > first + len(block):
                    raise ValueError(f"{path} ends before the link at byte {start}")
            links.append(block[start - first : end - first])
    return links


def _read_lines(handle: BinaryIO) -> tuple[list[bytes], dict[str, Any]]:
    links: list[bytes] = []
    for line in handle:
        if line.startswith(b'"'):
            # '"7":{...},' -> '{...}'
            links.append(line[line.index(b":") + 1 :].rstrip(b",\r\n"))
        elif line.startswith(b"},"):
            # '},"meta":{...}}' closes the links and the file.
            meta: dict[str, Any] = decoded(b"{" + line[2:].strip()).get(META_TABLE, {})
            return links, meta
    raise ValueError("the snapshot ends before its meta table: it is cut short")


def last_id_of(meta: dict[str, Any]) -> str | None:
    found = meta.get("1")
    return found.get("last_id") if isinstance(found, dict) else None


def write_snapshot(
    path: Path,
    links: list[bytes],
    last_id: str | None,
    rows: Rows | None = None,
    pause: float = 0.0,
) -> int:
    """Replace the snapshot with ``links`` (each its JSON) in TinyDB's layout; return its size.

    The links are written as they are held, already encoded: a compaction
    neither decodes nor re-encodes 100,000 links while requests wait for the GIL.
    ``rows``, the links' rows (without the links) and indexes, are written
    beside it for the next start-up (row_cache.py), before the snapshot that
    names them. ``pause`` paces the writing (files.write_paced).
    """
    fields: dict[str, str] = {"last_id": last_id} if last_id else {}
    if rows is not None:
        fields["rows"] = secrets.token_hex(8)
        write_rows(path, fields["rows"], CachedRows(rows, *_places(links)), pause)
    meta = {"1": fields} if fields else {}

    def chunks() -> Iterator[bytes]:
        # One link per line (JSON text may break lines between tokens), so that
        # read_snapshot can take each line as it is.
        yield _LINES_HEAD
        for number, link in enumerate(links, start=1):
            yield b'"%d":%s%s\n' % (number, link, b"," if number < len(links) else b"")
        yield b'},"%s":%s}\n' % (META_TABLE.encode(), json.dumps(meta).encode())

    AtomicJSONStorage(path).write_chunks(chunks(), pause)
    return path.stat().st_size

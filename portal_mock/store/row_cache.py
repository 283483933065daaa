"""The rows of a snapshot, kept beside it, so that start-up need not decode every link.

A row is what a link is filtered and ordered by (querying.Row): at 100,000
links, decoding each link's JSON to find them was most of a start-up. The
snapshot writes its rows here, column by column, with where each link lies in
the snapshot file, tagged with a token it also writes into its own meta
table. A start-up uses them only when the two tokens agree. A missing, stale
or damaged file is never an error: the rows are then taken from the links
themselves, as before. So the file needs no final fsync; it is still flushed
as it is written (files.write_paced), so its pages never pile up in front of
a journal fsync.
"""

from __future__ import annotations

import logging
import marshal
from pathlib import Path
from typing import Any, NamedTuple

from portal_mock.store.files import write_new

logger = logging.getLogger(__name__)

SUFFIX = ".rows"
ROWS_TMP_PREFIX = ".portal-mock-rows-"
# Bumped when the row's fields or this file's layout change: another layout is not read.
LAYOUT = 3


class Rows(NamedTuple):
    """Each row field as a column (without the link), and the store's indexes over them
    (``IdIndex.as_dict()`` by name), as they stand for one snapshot."""

    columns: list[list[Any]]
    indexes: dict[str, dict[str, Any]]


class CachedRows(NamedTuple):
    """The rows of a snapshot, and where each link lies in its file:
    ``snapshot[starts[n]:ends[n]]``."""

    rows: Rows
    starts: list[int]
    ends: list[int]


def path_for(snapshot: Path) -> Path:
    return snapshot.with_name(snapshot.name + SUFFIX)


def write_rows(snapshot: Path, token: str, cached: CachedRows, pause: float = 0.0) -> None:
    """Write ``cached`` for the snapshot tagged ``token``, paced by ``pause``."""
    # marshal: lists, dicts and sets of str, int, float, bool, None and tuples,
    # written and read back at C speed, several times faster than any JSON;
    # column by column, the rows are then built in one zip.
    rows, starts, ends = cached
    data = marshal.dumps((LAYOUT, token, rows.columns, rows.indexes, starts, ends))
    write_new(path_for(snapshot), [data], ROWS_TMP_PREFIX, pause, durable=False)


def read_rows(snapshot: Path, token: str | None, width: int) -> CachedRows | None:
    """The rows written for the snapshot tagged ``token``, else None."""
    if token is None:
        return None
    try:
        held = marshal.loads(path_for(snapshot).read_bytes())
        layout, found, columns, indexes, starts, ends = held
    except FileNotFoundError:
        return None
    except (OSError, ValueError, EOFError, TypeError) as exc:
        logger.warning("ignoring the damaged row cache of %s: %s", snapshot, exc)
        return None
    if layout != LAYOUT or found != token or len(columns) != width:
        return None
    if any(len(column) != len(starts) for column in columns) or len(ends) != len(starts):
        return None
    return CachedRows(Rows(columns, indexes), starts, ends)

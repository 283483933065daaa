"""The links a store file holds, read without its lock and without writing to it.

``portal-mock diff --db`` and ``serve --reload`` read a store that a running
server may be writing: the snapshot, then the sealed and the open journal, as
the store itself replays them at start-up, but nothing is repaired or cut.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from portal_mock.jsonbody import decoded
from portal_mock.store.journal import journals_of, records_in
from portal_mock.store.snapshot import read_snapshot


def stored_links(path: Path) -> list[dict[str, Any]]:
    """The links in the store at ``path``, in the order they were first stored."""
    raw, _ = read_snapshot(path)
    links: dict[str, dict[str, Any]] = {}
    for link in map(decoded, raw):
        links[link["_id"]] = link
    for journal in journals_of(path):
        for record in _records(journal):
            for link in [record["put"]] if "put" in record else record.get("put_many", []):
                links[link["_id"]] = link
            links.pop(record.get("delete", ""), None)
    return list(links.values())


def _records(journal: Path) -> list[dict[str, Any]]:
    try:
        data = journal.read_bytes()
    except FileNotFoundError:
        return []
    # A torn or damaged line is skipped, as the store skips it when it opens.
    return [record for _, record in records_in(data) if record is not None]

"""The link store: links in memory with indexes, made durable by a journal and a snapshot.

Writes go to an append-only journal (fsynced before the caller hears of
them) and then to memory; when the journal has grown as large as the
snapshot, the snapshot (a TinyDB JSON file) is replaced atomically and the
journal emptied. Opening the store replays the journal over the snapshot.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from portal_mock.ids import ObjectIdFactory
from portal_mock.journal import Journal, JournalWriteFailed
from portal_mock.querying import Link, LinkQuery, paginate, sort_links
from portal_mock.snapshot import read_snapshot, remove_leftovers, write_snapshot

logger = logging.getLogger(__name__)

# Compaction waits for at least this much journal, so a tiny store is not
# rewritten on every other write.
MIN_COMPACT_BYTES = 1 << 20


class StoreError(Exception):
    """Base of the store's own errors."""


class StoreLocked(StoreError):
    """Another process has the store open."""


class StoreWriteFailed(StoreError):
    """A change could not be made durable (disk full, read-only, I/O error); nothing changed."""


def utc_now() -> str:
    """The current time as an RFC 3339 string in UTC with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_after(previous: str) -> str:
    """The current time, or a millisecond after ``previous`` if the clock has not passed it.

    ``updated_at`` must move on every change, even two changes in one millisecond
    (or after the clock was set back), so a client can tell that the link changed.
    """
    now = utc_now()
    if now > previous:
        return now
    later = datetime.fromisoformat(previous.replace("Z", "+00:00")) + timedelta(milliseconds=1)
    return later.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Disk:
    """The files behind a store: snapshot, journal and lock, side by side."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.snapshot = path
        self.lock = FileLock(f"{path}.lock", thread_local=False)
        try:
            self.lock.acquire(timeout=0)
        except Timeout:
            raise StoreLocked(
                f"{path} is in use by another portal-mock process (lock file {self.lock.lock_file})"
            ) from None
        try:
            remove_leftovers(path.parent)
            self.journal = Journal(path.with_name(path.name + ".journal"))
        except BaseException:
            self.lock.release()  # a store that cannot open must not stay locked
            raise
        self.snapshot_bytes = path.stat().st_size if path.exists() else 0

    def load(self) -> tuple[list[Link], str | None, list[dict[str, Any]]]:
        links, last_id = read_snapshot(self.snapshot)
        return links, last_id, list(self.journal.replay())

    def compact_due(self) -> bool:
        return self.journal.size >= max(self.snapshot_bytes, MIN_COMPACT_BYTES)

    def compact(self, links: list[Link], last_id: str | None) -> None:
        self.snapshot_bytes = write_snapshot(self.snapshot, links, last_id)
        self.journal.clear()

    def close(self) -> None:
        self.journal.close()
        self.lock.release()


class LinkStore:
    """Stores links as plain dicts in the API's shape; ``path=None`` keeps them in memory only.

    Every public method holds the store's lock: Connexion runs handlers in a
    thread pool. Lookups by ``_id``, ``workorder`` and ``company_namespace``
    go through in-memory indexes.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._links: dict[str, Link] = {}
        self._by_workorder: defaultdict[str, set[str]] = defaultdict(set)
        self._by_namespace: defaultdict[str, set[str]] = defaultdict(set)
        self._ids = ObjectIdFactory()
        self._disk = _Disk(path) if path is not None else None
        if self._disk is not None:
            self._open(self._disk)

    def _open(self, disk: _Disk) -> None:
        try:
            links, last_id, records = disk.load()
        except BaseException:
            disk.close()
            raise
        if last_id:
            self._ids.observe(last_id)
        for link in links:
            self._put(link)
        for record in records:
            self._apply(record)

    def _apply(self, record: Mapping[str, Any]) -> None:
        if "put" in record:
            self._put(record["put"])
        elif "delete" in record:
            self._remove(record["delete"])
        elif "put_many" in record:
            for link in record["put_many"]:
                self._put(link)

    def _put(self, link: Link) -> None:
        self._remove(link["_id"])
        self._links[link["_id"]] = link
        self._ids.observe(link["_id"])
        self._by_workorder[link["workorder"]].add(link["_id"])
        for namespace in link.get("company_namespace", ()):
            self._by_namespace[namespace].add(link["_id"])

    def _remove(self, link_id: str) -> Link | None:
        link = self._links.pop(link_id, None)
        if link is not None:
            self._by_workorder[link["workorder"]].discard(link_id)
            for namespace in link.get("company_namespace", ()):
                self._by_namespace[namespace].discard(link_id)
        return link

    def _write(self, record: dict[str, Any]) -> None:
        """Make ``record`` durable, then apply it; on failure nothing changes."""
        if self._disk is not None:
            try:
                self._disk.journal.append(record)
            except JournalWriteFailed as exc:
                raise StoreWriteFailed(str(exc)) from exc
        self._apply(record)
        if self._disk is not None and self._disk.compact_due():
            self._compact(self._disk)

    def _compact(self, disk: _Disk) -> None:
        try:
            disk.compact(list(self._links.values()), self._ids.last)
        except OSError as exc:
            # The journal still holds every change; try again when it has doubled.
            disk.snapshot_bytes = 2 * max(disk.journal.size, MIN_COMPACT_BYTES)
            logger.error("could not compact the store into %s: %s", disk.snapshot, exc)

    def close(self) -> None:
        """Fold the journal into the snapshot, so a cleanly closed store is one JSON file."""
        with self._lock:
            if self._disk is None:
                return
            if self._disk.journal.size:
                self._compact(self._disk)
            self._disk.close()
            self._disk = None

    def count(self) -> int:
        with self._lock:
            return len(self._links)

    def search(self, query: LinkQuery) -> tuple[list[Link], dict[str, int]]:
        with self._lock:
            found = [self._links[i] for i in self._candidates(query)]
            if query.is_active is not None or query.link_type is not None:
                # The indexes answer the other filters exactly.
                found = [link for link in found if query.matches(link)]
            page, paging = paginate(sort_links(found, query.sort), query.page, query.per_page)
            return copy.deepcopy(page), paging

    def _candidates(self, query: LinkQuery) -> Iterable[str]:
        """The ids an index narrows the query to; every id when no index applies."""
        sets: list[set[str]] = []
        if query.ids:
            sets.append(set(query.ids) & self._links.keys())
        if query.workorder is not None:
            sets.append(self._by_workorder.get(query.workorder, set()))
        if query.company_namespace:
            sets.append(
                set().union(*(self._by_namespace.get(n, ()) for n in query.company_namespace))
            )
        return set.intersection(*sets) if sets else self._links.keys()

    def get(self, link_id: str) -> Link | None:
        with self._lock:
            return copy.deepcopy(self._links.get(link_id))

    def create(self, fields: Mapping[str, Any]) -> Link:
        """Store a new link with a fresh ``_id`` and timestamps; return it."""
        with self._lock:
            now = utc_now()
            link = {"_id": self._ids.new(), **copy.deepcopy(dict(fields))}
            link.update(created_at=now, updated_at=now)
            self._write({"put": link})
            return copy.deepcopy(link)

    def update(self, link_id: str, changes: Mapping[str, Any]) -> Link | None:
        """Apply ``changes`` to a link; ``updated_at`` moves only if a value changed."""
        with self._lock:
            current = self._links.get(link_id)
            if current is None:
                return None
            changed = {k: copy.deepcopy(v) for k, v in changes.items() if current.get(k) != v}
            if changed:
                self._write(
                    {"put": {**current, **changed, "updated_at": utc_after(current["updated_at"])}}
                )
            return copy.deepcopy(self._links[link_id])

    def delete(self, link_id: str) -> bool:
        with self._lock:
            if link_id not in self._links:
                return False
            self._write({"delete": link_id})
            return True

    def export(self) -> list[Link]:
        """Every link, as stored (a copy), in no particular order."""
        with self._lock:
            return copy.deepcopy(list(self._links.values()))

    def add(self, links: Iterable[Mapping[str, Any]]) -> list[str]:
        """Store whole links under fresh ``_id``s, in one journal record; return the ids."""
        with self._lock:
            fresh = [
                {
                    "_id": self._ids.new(),
                    **{k: copy.deepcopy(v) for k, v in link.items() if k != "_id"},
                }
                for link in links
            ]
            if fresh:
                self._write({"put_many": fresh})
            return [link["_id"] for link in fresh]

    def reset(self, links: list[Link] | None = None) -> None:
        """Drop every link, then store ``links`` as they are (ids kept)."""
        fresh = copy.deepcopy(links or [])
        with self._lock:
            for link in fresh:
                self._ids.observe(link["_id"])
            if self._disk is not None:
                try:
                    self._disk.compact(fresh, self._ids.last)
                except OSError as exc:
                    raise StoreWriteFailed(f"cannot write the snapshot: {exc}") from exc
            self._links.clear()
            self._by_workorder.clear()
            self._by_namespace.clear()
            for link in fresh:
                self._put(link)

"""The link store: links in memory with indexes, made durable by a journal and a snapshot.

Writes go to an append-only journal, many per fsync (``commit``), and reach
memory, and the caller, only once on disk. When the journal has grown as
large as the snapshot, it is sealed and folded into a new snapshot (a TinyDB
JSON file, replaced atomically) by a forked child process (on a thread where
the platform cannot fork), while writes go on into a fresh journal. Opening
the store replays the snapshot, a sealed journal left by an unfinished
compaction, then the journal.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import logging
import sys
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from portal_mock.jsonbody import decoded, encoded
from portal_mock.store import files, forked
from portal_mock.store.changes import Change
from portal_mock.store.commit import GroupCommit, Queued
from portal_mock.store.ids import ObjectIdFactory
from portal_mock.store.index import IdIndex
from portal_mock.store.journal import Journal, JournalWriteFailed, journals_of
from portal_mock.store.querying import (
    DEFAULT_SORT,
    ID,
    NAMESPACES,
    RAW,
    WORKORDER,
    CreationOrder,
    Link,
    LinkQuery,
    Row,
    first_rows,
    paging,
    row_of,
)
from portal_mock.store.row_cache import Rows, read_rows
from portal_mock.store.snapshot import (
    last_id_of,
    read_links_at,
    read_snapshot_meta,
    remove_leftovers,
    rows_token,
    snapshot_meta,
    write_snapshot,
)

logger = logging.getLogger(__name__)

# Compaction waits for at least this much journal, so a tiny store is not
# rewritten on every other write.
MIN_COMPACT_BYTES = 1 << 20
# Background compactions write the snapshot from a forked child (store/forked.py)
# where the platform allows; tests that hook the writer in-process turn it off.
COMPACT_IN_CHILD = True
# A background compaction rests this long after each quarter mebibyte it makes
# durable, leaving the disk to journal fsyncs in between (store/files.py).
BACKGROUND_PAUSE = 0.002
COMPACTING_SWITCH_INTERVAL = 0.0005


class StoreError(Exception):
    """Base of the store's own errors."""


class StoreLocked(StoreError):
    """Another process has the store open."""


class StoreWriteFailed(StoreError):
    """A change could not be made durable (disk full, read-only, I/O error); nothing changed."""


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now() -> str:
    """The current time as an RFC 3339 string in UTC with milliseconds."""
    return _rfc3339(datetime.now(UTC))


def utc_after(previous: str) -> str:
    """The current time, or a millisecond after ``previous`` if the clock has not passed it.

    ``updated_at`` must move on every change, even two changes in one millisecond
    (or after the clock was set back), so a client can tell that the link changed.
    """
    now = utc_now()
    if now > previous:
        return now
    return _rfc3339(datetime.fromisoformat(previous) + timedelta(milliseconds=1))


Future = concurrent.futures.Future

# Whether the caller may act on a link (its key reaches the link's namespaces).
Allowed = Callable[[Link], bool]

# A change with nothing to wait for: in memory only, or already durable.
_DONE: Future[None] = Future()
_DONE.set_result(None)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Load without the cyclic garbage collector, then set what was loaded aside from it.

    Millions of new dicts and lists set off a collection every few hundred
    allocations, each walking all that came before: three quarters of a
    100,000-link start-up. Links hold no cycles, so refcounting frees them;
    frozen, they are not walked again by every later full collection either.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


Indexes = dict[str, dict[str, Any]]


def _indexes(rows: list[Row]) -> dict[str, IdIndex]:
    """The store's indexes over ``rows``, built at once (at start-up, and for the row cache
    a snapshot writes beside it)."""
    return {
        "workorder": IdIndex.of((row[WORKORDER], row[ID]) for row in rows),
        "namespace": IdIndex.of((name, row[ID]) for row in rows for name in row[NAMESPACES]),
    }


def _link(row: Row) -> Link:
    link: Link = decoded(row[RAW])
    return link


async def _awaited(future: Future[None]) -> None:
    if not future.done():
        await asyncio.wrap_future(future)
    future.result()


class _Disk:
    """The files behind a store: snapshot, journal (and a sealed one while compacting), lock."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.snapshot = path
        self.sealed, journal = journals_of(path)
        self.lock = FileLock(f"{path}.lock", thread_local=False)
        try:
            self.lock.acquire(timeout=0)
        except Timeout:
            raise StoreLocked(
                f"{path} is in use by another portal-mock process (lock file {self.lock.lock_file})"
            ) from None
        try:
            remove_leftovers(path.parent)
            self.journal = Journal(journal)
        except BaseException:
            self.lock.release()  # a store that cannot open must not stay locked
            raise
        self.snapshot_bytes = path.stat().st_size if path.exists() else 0
        self._compacting: threading.Thread | None = None
        # Whether the snapshot on disk has its row cache: a background compaction
        # writes none (building it would hold the GIL while requests wait), so a
        # clean close writes the snapshot again, with it, for the next start-up.
        self.rows_cached = False

    def load(self) -> tuple[list[Row], Indexes | None, str | None, list[dict[str, Any]]]:
        """The snapshot's rows (and its indexes, when cached), then every record of the
        sealed journal (if a compaction did not finish) and of the journal, in order."""
        rows, indexes, last_id = self._rows()
        records: list[dict[str, Any]] = []
        if self.sealed.exists():
            sealed = Journal(self.sealed)
            try:
                records.extend(sealed.replay())
            finally:
                sealed.close()
        return rows, indexes, last_id, [*records, *self.journal.replay()]

    def _rows(self) -> tuple[list[Row], Indexes | None, str | None]:
        """The snapshot's rows, from its row cache when it has one, else from its links."""
        meta = snapshot_meta(self.snapshot)
        cached = read_rows(self.snapshot, rows_token(meta or {}), RAW)
        if meta is not None and cached is not None:
            self.rows_cached = True
            links = read_links_at(self.snapshot, cached.starts, cached.ends)
            rows = list(zip(*cached.rows.columns, links, strict=True))
            return rows, cached.rows.indexes, last_id_of(meta)
        links, meta = read_snapshot_meta(self.snapshot)
        return [row_of(decoded(raw), raw) for raw in links], None, last_id_of(meta)

    def compact_due(self) -> bool:
        return self.journal.size >= max(self.snapshot_bytes, MIN_COMPACT_BYTES)

    def compact_in_background(self, rows: list[Row], last_id: str | None) -> None:
        """Seal the journal and write ``rows``' links as the snapshot on a thread of its own.

        ``rows`` must be what the journal holds so far. Writes go on into a new
        journal meanwhile. After a background compaction failed, the sealed
        journal is still there: this one then runs in place, as ``compact``.
        """
        if self._compacting is not None and self._compacting.is_alive():
            return  # one at a time: the next write that finds it due tries again
        if self.sealed.exists():
            try:
                self.compact(rows, last_id)
            except OSError as exc:
                self._refused(exc)
            return
        self.journal.seal(self.sealed)
        self._compacting = threading.Thread(
            target=self._fold_sealed, args=(rows, last_id), name="portal-mock-compaction"
        )
        self._compacting.start()

    def _fold_sealed(self, rows: list[Row], last_id: str | None) -> None:
        try:
            if COMPACT_IN_CHILD and forked.available():
                # A child process formats the snapshot: the server keeps its GIL.
                self.snapshot_bytes = forked.run_forked(
                    lambda: self._write(rows, last_id, True, BACKGROUND_PAUSE)
                )
                self.rows_cached = True
            else:
                self.snapshot_bytes = self._write_sharing_the_gil(rows, last_id)
            files.remove(self.sealed)
        except OSError as exc:
            self._refused(exc)

    def _write_sharing_the_gil(self, rows: list[Row], last_id: str | None) -> int:
        # While this thread formats the snapshot, a request thread that wants the
        # GIL back after each of its system calls waits up to the switch interval
        # for it, every time: at the default 5 ms, writes queued behind a
        # compaction were answered 60 ms late. A shorter interval while it runs
        # bounds that wait. The row cache, costlier still, is left to close.
        interval = sys.getswitchinterval()
        sys.setswitchinterval(COMPACTING_SWITCH_INTERVAL)
        try:
            return self._write(rows, last_id, False, BACKGROUND_PAUSE)
        finally:
            sys.setswitchinterval(interval)

    def _refused(self, exc: OSError) -> None:
        # The journals keep every change; try again once the journal has grown this much.
        self.snapshot_bytes = 2 * max(self.snapshot_bytes, MIN_COMPACT_BYTES)
        logger.error("could not compact the store into %s: %s", self.snapshot, exc)

    def settle(self) -> None:
        """Wait for a background compaction to end."""
        if self._compacting is not None:
            self._compacting.join()

    def compact(self, rows: list[Row], last_id: str | None) -> None:
        """Write ``rows``' links as the snapshot here and now; empty both journals."""
        self.settle()
        self.snapshot_bytes = self._write(rows, last_id, cache=True)
        self.journal.clear()
        files.remove(self.sealed)

    def _write(self, rows: list[Row], last_id: str | None, cache: bool, pause: float = 0.0) -> int:
        """Write the snapshot of ``rows``, and with ``cache`` its row cache (row_cache.py),
        paced by ``pause`` (files.write_paced)."""
        self.rows_cached = cache
        if not cache:
            links = [row[RAW] for row in rows]
            return write_snapshot(self.snapshot, links, last_id, pause=pause)
        columns = [list(column) for column in zip(*rows, strict=True)] or [[]] * (RAW + 1)
        indexes = {name: index.as_dict() for name, index in _indexes(rows).items()}
        cached = Rows(columns[:RAW], indexes)
        return write_snapshot(self.snapshot, columns[RAW], last_id, cached, pause)

    def close(self) -> None:
        self.settle()
        self.journal.close()
        self.lock.release()


class LinkStore:
    """Stores links in the API's shape; ``path=None`` keeps them in memory only.

    Writes are computed one at a time, under ``_writing``, against the links
    as the queued changes leave them; the journal's writer thread then makes
    each batch durable with one fsync (``commit``) and only then applies it to
    memory, under ``_lock``, and lets the writers go on. So a read sees only
    what is on disk, never waits for an fsync, and a write can be awaited
    without a thread of its own. Lookups by ``_id``, ``workorder`` and
    ``company_namespace`` go through in-memory indexes.

    A link is held as its encoded JSON beside the few fields it is filtered
    and ordered by (a ``Row``): half the memory of the dicts it stood for,
    and a row is compact to scan. A read decodes only the links it returns,
    so each caller gets links of its own.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._writing = threading.Lock()
        self._links: dict[str, Row] = {}
        self._by_workorder = IdIndex()
        self._by_namespace = IdIndex()
        self._by_creation = CreationOrder()
        self._ids = ObjectIdFactory()
        # Changes queued but not yet durable: the newest row of each link, with its future.
        self._pending: dict[str, tuple[Row | None, Future[None]]] = {}
        self._commits: GroupCommit | None = None
        self._disk = _Disk(path) if path is not None else None
        if self._disk is not None:
            self._open(self._disk)
            self._commits = GroupCommit(self._disk.journal, self._committed, self._failed)

    def _open(self, disk: _Disk) -> None:
        try:
            with _collector_paused():
                self._load(disk)
        except BaseException:
            disk.close()
            raise

    def _load(self, disk: _Disk) -> None:
        rows, indexes, last_id, records = disk.load()
        if last_id:
            self._ids.observe(last_id)
        self._links = dict(zip((row[ID] for row in rows), rows, strict=True))
        if self._links:
            # Ids are 24 hex digits: the greatest string is the greatest id.
            self._ids.observe(max(self._links))
        if indexes is not None:
            self._by_workorder = IdIndex(indexes["workorder"])
            self._by_namespace = IdIndex(indexes["namespace"])
        else:
            built = _indexes(list(self._links.values()))
            self._by_workorder, self._by_namespace = built["workorder"], built["namespace"]
        self._by_creation.add_many(self._links.values())
        for record in records:
            self._apply(record)

    def _apply(self, record: Mapping[str, Any]) -> None:
        """A journal record read back at start-up."""
        if "put" in record:
            self._put(record["put"])
        elif "delete" in record:
            self._remove(record["delete"])
        elif "put_many" in record:
            for link in record["put_many"]:
                self._put(link)

    def _apply_change(self, change: Change) -> None:
        for row in change.puts:
            self._put_row(row)
        for link_id in change.deletes:
            self._remove(link_id)

    def _put(self, link: Link) -> None:
        self._put_row(row_of(link, encoded(link)))

    def _put_row(self, row: Row) -> None:
        link_id = row[ID]
        self._remove(link_id)
        self._links[link_id] = row
        self._ids.observe(link_id)
        self._by_workorder.add(row[WORKORDER], link_id)
        self._by_creation.add(row)
        for namespace in row[NAMESPACES]:
            self._by_namespace.add(namespace, link_id)

    def _remove(self, link_id: str) -> None:
        row = self._links.pop(link_id, None)
        if row is not None:
            self._by_workorder.discard(row[WORKORDER], link_id)
            self._by_creation.discard(row)
            for namespace in row[NAMESPACES]:
                self._by_namespace.discard(namespace, link_id)

    def _current(self, link_id: str) -> Link | None:
        """The link as the next write must see it: its queued change, else memory."""
        row = self._pending[link_id][0] if link_id in self._pending else self._links.get(link_id)
        return None if row is None else _link(row)

    def _settled(self, link_id: str) -> Future[None]:
        """What an answer about ``link_id`` must wait for: its queued change, if any."""
        queued = self._pending.get(link_id)
        return queued[1] if queued is not None else _DONE

    def _queue(self, change: Change) -> Future[None]:
        """Queue ``change`` (the caller holds ``_writing``); it reaches memory once durable."""
        if self._commits is None:
            with self._lock:
                self._apply_change(change)
            return _DONE
        future = self._commits.submit(change)
        for link_id, row in change.touched():
            self._pending[link_id] = (row, future)
        return future

    def _committed(self, batch: list[Queued]) -> None:
        """The writer thread's report: ``batch`` is on disk; apply it, compact if due."""
        with self._writing:
            with self._lock:
                for change, _ in batch:
                    self._apply_change(change)
            for change, future in batch:
                for link_id, _ in change.touched():
                    if self._settled(link_id) is future:
                        del self._pending[link_id]
            if self._disk is not None and self._disk.compact_due():
                # Memory holds exactly what the journal does: nothing queued is applied yet.
                self._disk.compact_in_background(self._rows(), self._ids.last)

    def _failed(self, batch: list[Queued], exc: JournalWriteFailed) -> None:
        """The journal refused ``batch``: it fails, and so does every change queued after it,
        since each was computed from the ones before."""
        with self._writing:
            self._pending.clear()
            later = self._commits.take_queued() if self._commits is not None else []
        for _, future in [*batch, *later]:
            future.set_exception(StoreWriteFailed(str(exc)))

    def _compact(self, disk: _Disk) -> None:
        """Compact in place (on close): the snapshot replaces both journals."""
        try:
            disk.compact(self._rows(), self._ids.last)
        except OSError as exc:
            # The journal still holds every change; try again when it has doubled.
            disk.snapshot_bytes = 2 * max(disk.journal.size, MIN_COMPACT_BYTES)
            logger.error("could not compact the store into %s: %s", disk.snapshot, exc)

    def close(self) -> None:
        """Fold the journal into the snapshot, so a cleanly closed store is one JSON file."""
        if self._commits is not None:
            self._commits.close()  # writes what is queued
        with self._writing:
            self._commits = None
            if self._disk is None:
                return
            disk = self._disk
            uncached = not disk.rows_cached and disk.snapshot.exists()
            if disk.journal.size or disk.sealed.exists() or uncached:
                self._compact(disk)
            self._disk.close()
            self._disk = None

    def settle(self) -> None:
        """Wait until every queued write is durable and a background compaction has ended."""
        with self._writing:
            queued = [future for _, future in self._pending.values()]
        concurrent.futures.wait(queued)
        if self._disk is not None:
            self._disk.settle()

    def _rows(self) -> list[Row]:
        return list(self._links.values())

    def count(self) -> int:
        with self._lock:
            return len(self._links)

    def search(self, query: LinkQuery) -> tuple[list[Link], dict[str, int]]:
        start = (query.page - 1) * query.per_page
        with self._lock:
            if not query.filtered and query.sort.lstrip("-") == DEFAULT_SORT.lstrip("-"):
                ids = self._by_creation.page_ids(query.sort.startswith("-"), start, query.per_page)
                rows: list[Row] = [self._links[i] for i in ids]
                total = len(self._links)
            else:
                found = self._found(query)
                rows = first_rows(found, query.sort, start + query.per_page)[start:]
                total = len(found)
        return [_link(row) for row in rows], paging(query, total)

    def _found(self, query: LinkQuery) -> Collection[Row]:
        """The rows that match ``query``, narrowed by the indexes where they apply."""
        found: Collection[Row] = self._links.values()
        if (
            query.ids
            or query.workorder is not None
            or query.company_namespace
            or query.visible is not None
        ):
            found = [self._links[i] for i in self._candidates(query)]
        if query.is_active is not None or query.link_type is not None:
            # The indexes answer the other filters exactly.
            found = [row for row in found if query.matches_row(row)]
        if query.equal:
            found = [row for row in found if query.matches_fields(decoded(row[RAW]))]
        return found

    def _candidates(self, query: LinkQuery) -> set[str]:
        """The ids the indexes narrow the query to."""
        sets: list[set[str]] = []
        if query.ids:
            sets.append(set(query.ids) & self._links.keys())
        if query.workorder is not None:
            sets.append(set(self._by_workorder.ids(query.workorder)))
        if query.company_namespace:
            sets.append(self._in_namespaces(query.company_namespace))
        if query.visible is not None:
            sets.append(self._in_namespaces(query.visible))
        return set.intersection(*sets)

    def _in_namespaces(self, namespaces: Iterable[str]) -> set[str]:
        return set().union(*(self._by_namespace.ids(n) for n in namespaces))

    def get(self, link_id: str) -> Link | None:
        with self._lock:
            row = self._links.get(link_id)
        return None if row is None else _link(row)

    async def search_async(self, query: LinkQuery) -> tuple[list[Link], dict[str, int]]:
        """``search`` for a coroutine: answered from memory, it never leaves the loop."""
        return self.search(query)

    async def get_async(self, link_id: str) -> Link | None:
        return self.get(link_id)

    def create(self, fields: Mapping[str, Any]) -> Link:
        """Store a new link with a fresh ``_id`` and timestamps; return it once durable."""
        link, future = self._create(fields)
        future.result()
        return link

    async def create_async(self, fields: Mapping[str, Any]) -> Link:
        link, future = self._create(fields)
        await _awaited(future)
        return link

    def _create(self, fields: Mapping[str, Any]) -> tuple[Link, Future[None]]:
        with self._writing:
            now = utc_now()
            link = {"_id": self._ids.new(), **fields, "created_at": now, "updated_at": now}
            return link, self._queue(Change.put(link))

    def update(self, link_id: str, changes: Mapping[str, Any]) -> Link | None:
        """Apply ``changes`` to a link; ``updated_at`` moves only if a value changed."""
        link, future = self._update(link_id, changes)
        future.result()
        return link

    async def update_async(
        self, link_id: str, changes: Mapping[str, Any], allowed: Allowed | None = None
    ) -> Link | None:
        """As ``update``; a link ``allowed`` refuses is treated as missing (None)."""
        link, future = self._update(link_id, changes, allowed)
        await _awaited(future)
        return link

    def _update(
        self, link_id: str, changes: Mapping[str, Any], allowed: Allowed | None = None
    ) -> tuple[Link | None, Future[None]]:
        with self._writing:
            current = self._current(link_id)
            if current is not None and allowed is not None and not allowed(current):
                return None, _DONE
            changed = {k: v for k, v in changes.items() if current and current.get(k) != v}
            if current is None or not changed:
                return current, self._settled(link_id)
            link = {**current, **changed, "updated_at": utc_after(current["updated_at"])}
            return link, self._queue(Change.put(link))

    def delete(self, link_id: str) -> bool:
        found, future = self._delete(link_id)
        future.result()
        return found

    async def delete_async(self, link_id: str, allowed: Allowed | None = None) -> bool:
        """As ``delete``; a link ``allowed`` refuses is treated as missing (False)."""
        found, future = self._delete(link_id, allowed)
        await _awaited(future)
        return found

    def _delete(self, link_id: str, allowed: Allowed | None = None) -> tuple[bool, Future[None]]:
        with self._writing:
            current = self._current(link_id)
            if current is None or (allowed is not None and not allowed(current)):
                return False, self._settled(link_id)
            return True, self._queue(Change.delete(link_id))

    def export(self) -> list[Link]:
        """Every link, as stored (a copy), in no particular order."""
        with self._lock:
            rows = list(self._links.values())
        return [_link(row) for row in rows]

    def add(self, links: Iterable[Mapping[str, Any]]) -> list[str]:
        """Store whole links under fresh ``_id``s, in one journal record; return the ids."""
        with self._writing:
            fresh = [
                {"_id": self._ids.new(), **{k: v for k, v in link.items() if k != "_id"}}
                for link in links
            ]
            future = self._queue(Change.put_many(fresh)) if fresh else _DONE
        future.result()
        return [link["_id"] for link in fresh]

    def reset(self, links: list[Link] | None = None) -> None:
        """Drop every link, then store ``links`` as they are (ids kept).

        It waits until no change is queued, so that none lands after it.
        """
        fresh = Change.put_many(links or ())
        while True:
            with self._writing:
                if not self._pending:
                    self._replace_all(fresh)
                    return
                queued = [future for _, future in self._pending.values()]
            concurrent.futures.wait(queued)

    def _replace_all(self, fresh: Change) -> None:
        for row in fresh.puts:
            self._ids.observe(row[ID])
        if self._disk is not None:
            try:
                self._disk.compact(list(fresh.puts), self._ids.last)
            except OSError as exc:
                raise StoreWriteFailed(f"cannot write the snapshot: {exc}") from exc
        with self._lock:
            self._links.clear()
            self._by_workorder.clear()
            self._by_namespace.clear()
            self._by_creation = CreationOrder()
            self._apply_change(fresh)

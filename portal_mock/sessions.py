"""Mock sessions: one store per ``X-Mock-Session`` name, beside the durable store.

A session starts from the fixtures on its first request and lives until it is
ended (``DELETE /__mock/session``). Over a store file, a session is an
in-memory store that also ends when the server stops, never written to disk,
and each workspace (the durable one, every session) keeps its named snapshots
in memory. Over PostgreSQL (shared_sessions.py), sessions and snapshots are in the
database, the same for every worker on every host.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from portal_mock.errors import TooManySessions
from portal_mock.store import LinkStore, is_shared, utc_now
from portal_mock.store.querying import Link

SESSION_HEADER = "X-Mock-Session"


@dataclass(frozen=True)
class Snapshot:
    """The links of a store at one moment, kept in memory under a name."""

    name: str
    links: list[Link]
    taken_at: str

    def summary(self) -> dict[str, Any]:
        return summary(self.name, len(self.links), self.taken_at)


def summary(name: str, links: int, taken_at: str) -> dict[str, Any]:
    """A snapshot as the controls describe it: its name, how many links, when taken."""
    return {"name": name, "links": links, "taken_at": taken_at}


@dataclass
class Workspace:
    """What one caller acts on: a store and its snapshots; ``session`` None is the durable one."""

    store: LinkStore
    session: str | None = None
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_snapshot(self, name: str) -> dict[str, Any]:
        """Keep the store's links under ``name``; the snapshot's summary."""
        snapshot = Snapshot(name, self.store.export(), utc_now())
        with self.lock:
            self.snapshots[name] = snapshot
        return snapshot.summary()

    def snapshot(self, name: str) -> Snapshot | None:
        with self.lock:
            return self.snapshots.get(name)

    def summaries(self) -> list[dict[str, Any]]:
        """Each snapshot's summary, by name."""
        with self.lock:
            return [self.snapshots[name].summary() for name in sorted(self.snapshots)]

    def drop_snapshot(self, name: str) -> bool:
        with self.lock:
            return self.snapshots.pop(name, None) is not None


class Sessions:
    """The durable workspace and up to ``limit`` named in-memory ones, made on first use."""

    def __init__(self, durable: LinkStore, fixtures: Sequence[Link], limit: int) -> None:
        self.durable = Workspace(durable)
        self.fixtures = copy.deepcopy(list(fixtures))
        self.limit = limit
        self._live: dict[str, Workspace] = {}
        self._lock = threading.Lock()

    def workspace(self, name: str | None) -> Workspace:
        """The workspace of session ``name`` (made from the fixtures if new); None: durable.

        Raises TooManySessions when a new one would pass the limit: a caller is
        told, never silently given someone else's store or an evicted one.
        """
        if name is None:
            return self.durable
        with self._lock:
            found = self._live.get(name)
            if found is None:
                if len(self._live) >= self.limit:
                    raise TooManySessions(self.limit)
                store = LinkStore()
                store.reset(self.fixtures)
                found = self._live[name] = Workspace(store, session=name)
            return found

    def end(self, name: str) -> bool:
        """Forget session ``name`` and its snapshots; False if it was not live."""
        with self._lock:
            return self._live.pop(name, None) is not None

    def count(self) -> int:
        with self._lock:
            return len(self._live)


def sessions_for(store: Any, fixtures: Sequence[Link], limit: int) -> Sessions:
    """The sessions over ``store``: in the database for PostgreSQL, else in memory."""
    if not is_shared(store):
        return Sessions(store, fixtures, limit)
    # Imported here, so that a file store never imports psycopg.
    from portal_mock.shared_sessions import SharedSessions

    return SharedSessions(store, fixtures, limit)

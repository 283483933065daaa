"""Mock sessions: one store per ``X-Mock-Session`` name, beside the durable store.

A session starts from the fixtures on its first request and lives until it is
ended (``DELETE /__mock/session``). Over a store file, a session is an
in-memory store that also ends when the server stops, never written to disk,
and each workspace (the durable one, every session) keeps its named snapshots
in memory. Over PostgreSQL (SharedSessions), sessions and snapshots are in the
database, the same for every worker on every host.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from portal_mock.errors import TooManySessions
from portal_mock.store import LinkStore, is_shared, utc_now
from portal_mock.store.querying import Link

if TYPE_CHECKING:
    from portal_mock.store.postgres import PostgresLinkStore

SESSION_HEADER = "X-Mock-Session"


@dataclass(frozen=True)
class Snapshot:
    """The links of a store at one moment, kept in memory under a name."""

    name: str
    links: list[Link]
    taken_at: str

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "links": len(self.links), "taken_at": self.taken_at}


@dataclass
class Workspace:
    """What one caller acts on: a store and its snapshots; ``session`` None is the durable one."""

    store: LinkStore
    session: str | None = None
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_snapshot(self, name: str) -> Snapshot:
        snapshot = Snapshot(name, self.store.export(), utc_now())
        with self.lock:
            self.snapshots[name] = snapshot
        return snapshot

    def snapshot(self, name: str) -> Snapshot | None:
        with self.lock:
            return self.snapshots.get(name)

    def list_snapshots(self) -> list[Snapshot]:
        with self.lock:
            return sorted(self.snapshots.values(), key=lambda s: s.name)

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


class SharedWorkspace(Workspace):
    """A workspace whose snapshots are in PostgreSQL, beside its links."""

    @property
    def shared(self) -> PostgresLinkStore:
        return cast("PostgresLinkStore", self.store)

    def take_snapshot(self, name: str) -> Snapshot:
        from portal_mock.store import postgres_state

        return Snapshot(*postgres_state.save_snapshot(self.shared, name))

    def snapshot(self, name: str) -> Snapshot | None:
        found = self._snapshots(name)
        return found[0] if found else None

    def list_snapshots(self) -> list[Snapshot]:
        return self._snapshots(None)

    def drop_snapshot(self, name: str) -> bool:
        from portal_mock.store import postgres_state

        return postgres_state.drop_snapshot(self.shared, name)

    def _snapshots(self, name: str | None) -> list[Snapshot]:
        from portal_mock.store import postgres_state

        return [Snapshot(*found) for found in postgres_state.snapshots(self.shared, name)]


class SharedSessions(Sessions):
    """Sessions in PostgreSQL: a session begun on one worker is the same on all of them."""

    def __init__(self, durable: Any, fixtures: Sequence[Link], limit: int) -> None:
        super().__init__(durable, fixtures, limit)
        self.shared = SharedWorkspace(durable)
        self.durable = self.shared

    def workspace(self, name: str | None) -> Workspace:
        from portal_mock.store import postgres_state

        if name is None:
            return self.durable
        try:
            postgres_state.open_session(self.shared.shared, name, self.fixtures, self.limit)
        except postgres_state.TooMany:
            raise TooManySessions(self.limit) from None
        return SharedWorkspace(cast(Any, self.shared.shared.in_space(name)), session=name)

    def end(self, name: str) -> bool:
        from portal_mock.store import postgres_state

        return postgres_state.end_session(self.shared.shared, name)

    def count(self) -> int:
        from portal_mock.store import postgres_state

        return postgres_state.session_count(self.shared.shared)


def sessions_for(store: Any, fixtures: Sequence[Link], limit: int) -> Sessions:
    """The sessions over ``store``: in the database for PostgreSQL, else in memory."""
    return (SharedSessions if is_shared(store) else Sessions)(store, fixtures, limit)

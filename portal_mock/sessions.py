"""Mock sessions: one in-memory store per ``X-Mock-Session`` name, beside the durable store.

A session starts from the fixtures on its first request and lives in memory
until it is ended (``DELETE /__mock/session``) or the server stops; it is never
written to disk. Each workspace, the durable one and every session, also keeps
its named snapshots in memory.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from portal_mock.errors import TooManySessions
from portal_mock.store import LinkStore, utc_now
from portal_mock.store.querying import Link

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

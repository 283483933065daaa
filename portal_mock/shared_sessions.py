"""Sessions and snapshots kept in PostgreSQL: the same for every worker on every host.

A session's links are the rows of its own space in the links table, made from
the fixtures in the transaction that registers it (postgres_state.py); a
workspace's snapshots are rows of ``mock_snapshots``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from portal_mock.errors import TooManySessions
from portal_mock.sessions import Sessions, Snapshot, Workspace, summary
from portal_mock.store import postgres_state
from portal_mock.store.postgres import PostgresLinkStore
from portal_mock.store.querying import Link


class SharedWorkspace(Workspace):
    """A workspace whose snapshots are in PostgreSQL, beside its links."""

    @property
    def shared(self) -> PostgresLinkStore:
        return cast("PostgresLinkStore", self.store)

    def take_snapshot(self, name: str) -> dict[str, Any]:
        return summary(*postgres_state.save_snapshot(self.shared, name))

    def snapshot(self, name: str) -> Snapshot | None:
        found = postgres_state.snapshot(self.shared, name)
        return Snapshot(*found) if found else None

    def summaries(self) -> list[dict[str, Any]]:
        return [summary(*found) for found in postgres_state.snapshot_sizes(self.shared)]

    def drop_snapshot(self, name: str) -> bool:
        return postgres_state.drop_snapshot(self.shared, name)


class SharedSessions(Sessions):
    """Sessions in PostgreSQL: a session begun on one worker is the same on all of them."""

    def __init__(self, durable: Any, fixtures: Sequence[Link], limit: int) -> None:
        super().__init__(durable, fixtures, limit)
        self.shared = SharedWorkspace(durable)
        self.durable = self.shared

    def workspace(self, name: str | None) -> Workspace:
        if name is None:
            return self.durable
        try:
            postgres_state.open_session(self.shared.shared, name, self.fixtures, self.limit)
        except postgres_state.TooMany:
            raise TooManySessions(self.limit) from None
        return SharedWorkspace(cast(Any, self.shared.shared.in_space(name)), session=name)

    def end(self, name: str) -> bool:
        return postgres_state.end_session(self.shared.shared, name)

    def count(self) -> int:
        return postgres_state.session_count(self.shared.shared)

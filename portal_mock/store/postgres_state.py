"""The mock's own state in PostgreSQL, so that every worker on every host sees the same:
mock sessions (each a space of the links table), the named snapshots of every
space, and the request journal.

Tables: ``mock_sessions``, ``mock_snapshots`` and ``mock_requests`` (postgres.py
creates them). A session starts from the fixtures the first time any worker
sees its name; ending it drops its links and snapshots for all.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from typing import Any

from psycopg.types.json import Jsonb

from portal_mock.store.link_store import utc_now
from portal_mock.store.postgres import PostgresLinkStore
from portal_mock.store.querying import Link

_NEW_SESSION_LOCK = 7465002
# The journal keeps the newest entries only, as the in-memory one does.
JOURNAL_SIZE = 1000
# How often a worker's journal entries reach the database: a request is listed
# by every worker at most about this long after it was answered.
FLUSH_SECONDS = 0.02


class TooMany(Exception):
    """A new session would pass the limit."""


def open_session(store: PostgresLinkStore, name: str, fixtures: Sequence[Link], limit: int) -> None:
    """Make session ``name`` from the fixtures unless it is live; TooMany past ``limit``."""
    with store.connection() as connection:
        found = connection.execute("SELECT 1 FROM mock_sessions WHERE name = %s", (name,))
        if found.fetchone():
            return
    with store.connection() as connection, connection.transaction():
        # One new session at a time, so that two workers cannot both pass the limit.
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_NEW_SESSION_LOCK,))
        if connection.execute("SELECT 1 FROM mock_sessions WHERE name = %s", (name,)).fetchone():
            return
        row = connection.execute("SELECT count(*) FROM mock_sessions").fetchone()
        if row and row[0] >= limit:
            raise TooMany
        connection.execute("INSERT INTO mock_sessions (name) VALUES (%s)", (name,))
        # In the same transaction: no worker sees the session before its links.
        store.in_space(name).replace_with(connection, list(fixtures))


def end_session(store: PostgresLinkStore, name: str) -> bool:
    """Drop session ``name``, its links and its snapshots; False if it was not live."""
    with store.connection() as connection, connection.transaction():
        gone = connection.execute("DELETE FROM mock_sessions WHERE name = %s", (name,)).rowcount
        connection.execute("DELETE FROM links WHERE space = %s", (name,))
        connection.execute("DELETE FROM mock_snapshots WHERE space = %s", (name,))
    return bool(gone)


def session_count(store: PostgresLinkStore) -> int:
    with store.connection() as connection:
        row = connection.execute("SELECT count(*) FROM mock_sessions").fetchone()
    return int(row[0]) if row else 0


def save_snapshot(store: PostgresLinkStore, name: str) -> tuple[str, int, str]:
    """Keep the links of ``store``'s space under ``name``, read in one statement;
    its name, how many links it holds and when it was taken."""
    taken_at = utc_now()
    with store.connection() as connection:
        row = connection.execute(
            """INSERT INTO mock_snapshots (space, name, taken_at, links)
               SELECT %s, %s, %s, coalesce(jsonb_agg(doc ORDER BY id), '[]')
               FROM links WHERE space = %s
               ON CONFLICT (space, name) DO UPDATE
               SET taken_at = excluded.taken_at, links = excluded.links
               RETURNING jsonb_array_length(links)""",
            (store.space, name, taken_at, store.space),
        ).fetchone()
    return name, int(row[0]) if row else 0, taken_at


def snapshot(store: PostgresLinkStore, name: str) -> tuple[str, list[Link], str] | None:
    """Snapshot ``name`` of ``store``'s space: its name, links and when it was taken."""
    with store.connection() as connection:
        row = connection.execute(
            "SELECT name, links, taken_at FROM mock_snapshots WHERE space = %s AND name = %s",
            (store.space, name),
        ).fetchone()
    return (row[0], list(row[1]), row[2]) if row else None


def snapshot_sizes(store: PostgresLinkStore) -> list[tuple[str, int, str]]:
    """Each snapshot of ``store``'s space by name: its name, how many links, when taken
    (counted in the database: the links themselves never leave it)."""
    with store.connection() as connection:
        rows = connection.execute(
            "SELECT name, jsonb_array_length(links), taken_at FROM mock_snapshots "
            "WHERE space = %s ORDER BY name",
            (store.space,),
        ).fetchall()
    return [(row[0], int(row[1]), row[2]) for row in rows]


def drop_snapshot(store: PostgresLinkStore, name: str) -> bool:
    with store.connection() as connection:
        gone = connection.execute(
            "DELETE FROM mock_snapshots WHERE space = %s AND name = %s", (store.space, name)
        ).rowcount
    return bool(gone)


class RequestJournal:
    """The request journal of every worker, in ``mock_requests``.

    A request's entry is written after its answer, by a thread of this worker
    that writes every entry it holds each FLUSH_SECONDS: the answer never waits
    for it. Reading flushes this worker's entries first.
    """

    def __init__(self, store: PostgresLinkStore) -> None:
        self.store = store
        self._pending: list[tuple[str | None, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="portal-mock-journal", daemon=True)
        self._thread.start()

    def add(self, session: str | None, entry: dict[str, Any]) -> None:
        with self._lock:
            self._pending.append((session, entry))

    def _run(self) -> None:
        while not self._stopped.wait(FLUSH_SECONDS):
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - a database down: kept, tried again
                continue

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return
        try:
            with self.store.connection() as connection, connection.transaction():
                with connection.cursor() as cursor:
                    cursor.executemany(
                        "INSERT INTO mock_requests (session, entry) VALUES (%s, %s)",
                        [(session, Jsonb(entry)) for session, entry in pending],
                    )
                connection.execute(
                    "DELETE FROM mock_requests WHERE seq <= "
                    "(SELECT max(seq) FROM mock_requests) - %s",
                    (JOURNAL_SIZE,),
                )
        except BaseException:
            with self._lock:
                self._pending[:0] = pending
            raise

    def recent(self, limit: int, session: str | None) -> list[dict[str, Any]]:
        self.flush()
        with self.store.connection() as connection:
            rows = connection.execute(
                "SELECT entry FROM mock_requests WHERE (%s::text IS NULL OR session = %s) "
                "ORDER BY seq DESC LIMIT %s",
                (session, session, limit),
            ).fetchall()
        return [dict(row[0]) for row in rows]

    def clear(self, session: str | None) -> int:
        self.flush()
        with self.store.connection() as connection:
            return connection.execute(
                "DELETE FROM mock_requests WHERE (%s::text IS NULL OR session = %s)",
                (session, session),
            ).rowcount

    def close(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        # The database gone at shutdown: so are the entries not yet written.
        with contextlib.suppress(Exception):
            self.flush()

"""The PostgreSQL store: links shared by every worker on every host that opens one database.

The same interface as the embedded LinkStore. Each write is one transaction,
committed before its answer. Filters, order and paging run in SQL on indexed
columns; a link's whole document is kept as jsonb beside them. Ids are
ObjectId-like (24 hex digits) and strictly grow in creation order across all
workers: each create takes the next one from a one-row table under its row
lock, so that creates commit in id order.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from portal_mock.store.link_store import Allowed, StoreError, utc_after, utc_now
from portal_mock.store.querying import Link, LinkQuery, expiry_microseconds, paging

SCHEMA_VERSION = 2
# Each migration takes the database from the version before it to its own number.
MIGRATIONS: Sequence[str] = (
    """
    CREATE TABLE links (
        id text COLLATE "C" PRIMARY KEY,
        workorder text COLLATE "C" NOT NULL,
        link_type text COLLATE "C",
        expiry timestamptz,
        is_active boolean,
        created_at text COLLATE "C",
        updated_at text COLLATE "C",
        company_namespace text[] COLLATE "C" NOT NULL DEFAULT '{}',
        doc jsonb NOT NULL
    );
    CREATE INDEX links_workorder ON links (workorder);
    CREATE INDEX links_namespace ON links USING gin (company_namespace);
    CREATE INDEX links_created ON links (created_at, id);
    CREATE TABLE link_ids (last numeric NOT NULL);
    INSERT INTO link_ids VALUES (0);
    """,
    # Mock sessions share the database as every other state: each session's links
    # are a space of their own ('' is the durable store), beside the session
    # registry, the snapshots of every space and the request journal.
    """
    ALTER TABLE links ADD COLUMN space text COLLATE "C" NOT NULL DEFAULT '';
    ALTER TABLE links ALTER COLUMN expiry TYPE bigint
        USING (extract(epoch FROM expiry) * 1000000)::bigint;
    ALTER TABLE links DROP CONSTRAINT links_pkey;
    ALTER TABLE links ADD PRIMARY KEY (space, id);
    DROP INDEX links_workorder;
    CREATE INDEX links_workorder ON links (space, workorder);
    DROP INDEX links_created;
    CREATE INDEX links_created ON links (space, created_at, id);
    CREATE TABLE mock_sessions (
        name text COLLATE "C" PRIMARY KEY,
        started_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE mock_snapshots (
        space text COLLATE "C" NOT NULL,
        name text COLLATE "C" NOT NULL,
        taken_at text NOT NULL,
        links jsonb NOT NULL,
        PRIMARY KEY (space, name)
    );
    CREATE TABLE mock_requests (
        seq bigserial PRIMARY KEY,
        session text COLLATE "C",
        entry jsonb NOT NULL
    );
    """,
)
# Sortable fields and the column each is ordered by (expiry_date as a time).
COLUMNS = {
    "_id": "id",
    "workorder": "workorder",
    "link_type": "link_type",
    "expiry_date": "expiry",
    "is_active": "is_active",
    "created_at": "created_at",
    "updated_at": "updated_at",
}
_MAX_OFFSET = 2**63 - 1
# How long a request waits for a working connection before its 503, and how long
# the pool tries to reconnect before it lets the next request try again: while the
# database is down, each request fails in about this time, and once it is back
# the next request connects.
WAIT_FOR_DATABASE = 3.0
_NEXT_ID = """
    UPDATE link_ids SET last = greatest(
        last + 1, floor(extract(epoch FROM clock_timestamp()))::numeric * 18446744073709551616
    ) RETURNING last::text
"""


def migrate(pool: ConnectionPool) -> None:
    """Create or upgrade the schema to SCHEMA_VERSION, one worker at a time."""
    with pool.connection() as connection, connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(7465001)")
        connection.execute("CREATE TABLE IF NOT EXISTS portal_mock_schema (version integer)")
        row = connection.execute("SELECT max(version) FROM portal_mock_schema").fetchone()
        version = (row[0] if row else None) or 0
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"the database has schema {version}; this portal-mock knows "
                               f"{SCHEMA_VERSION}: upgrade portal-mock")  # fmt: skip
        for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
            connection.execute(migration)
            connection.execute("INSERT INTO portal_mock_schema VALUES (%s)", (number,))


def _expiry(value: str | None) -> int | None:
    # Microseconds since 1970, as the embedded store orders it: timestamptz refuses
    # offsets past 15:59 that RFC 3339, and so the spec, allows.
    return None if value is None else expiry_microseconds(value)


def _columns(space: str, link: Link) -> tuple[Any, ...]:
    return (
        space,
        link["_id"],
        link.get("workorder"),
        link.get("link_type"),
        _expiry(link.get("expiry_date")),
        link.get("is_active"),
        link.get("created_at"),
        link.get("updated_at"),
        list(link.get("company_namespace") or []),
        Jsonb(link),
    )


_INSERT = """
    INSERT INTO links (space, id, workorder, link_type, expiry, is_active, created_at,
                       updated_at, company_namespace, doc)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""
_UPSERT = (
    _INSERT
    + """ ON CONFLICT (space, id) DO UPDATE SET workorder = excluded.workorder,
    link_type = excluded.link_type, expiry = excluded.expiry, is_active = excluded.is_active,
    created_at = excluded.created_at, updated_at = excluded.updated_at,
    company_namespace = excluded.company_namespace, doc = excluded.doc"""
)


class PostgresLinkStore:
    """Links in a PostgreSQL database at ``url`` (``postgresql://USER@HOST:PORT/DB``)."""

    def __init__(self, url: str, size: int = 4, timeout: float = 10) -> None:
        self.path = None
        # The durable store's space; a session's store is the same pool in its own.
        self.space = ""
        self._url = url
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=size,
            open=False,
            timeout=WAIT_FOR_DATABASE,
            reconnect_timeout=WAIT_FOR_DATABASE,
            # A connection the server dropped (a restart) is found out and replaced
            # before a request uses it, instead of failing that request.
            check=ConnectionPool.check_connection,
        )
        try:
            # One connection first: a database that is not there fails at once, with
            # the driver's reason, instead of the pool retrying (and logging) for
            # ``timeout`` seconds.
            psycopg.connect(url, connect_timeout=int(timeout)).close()
            self._pool.open(wait=True, timeout=timeout)
            migrate(self._pool)
        except (psycopg.Error, PoolTimeout) as exc:
            self._pool.close()
            # The driver's message can hold the URL as given; the password never.
            reason = str(exc).replace(url, redacted(url)).splitlines()[0]
            raise StoreUnavailable(f"cannot use the database {redacted(url)}: {reason}") from None
        except BaseException:
            self._pool.close()
            raise

    def close(self) -> None:
        if not self.space:  # a session's store shares the durable one's pool
            self._pool.close()

    def in_space(self, space: str) -> PostgresLinkStore:
        """This store's database and pool, acting on the links of ``space`` only."""
        view = copy.copy(self)
        view.space = space
        return view

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection; a database that is down or gone is StoreUnavailable.

        The server rolls back a transaction cut off that way, so nothing of it is
        half-written; only a commit whose answer was lost on the way back can have
        landed whole, as with any database client.
        """
        try:
            with self._pool.connection() as connection:
                yield connection
        except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as exc:
            reason = str(exc).replace(self._url, redacted(self._url)).strip().splitlines()
            raise StoreUnavailable(
                f"the database {redacted(self._url)} cannot be reached: "
                f"{reason[0] if reason else type(exc).__name__}"
            ) from None

    def settle(self) -> None:
        """Every write is committed before it returns: nothing is ever pending."""

    def count(self) -> int:
        with self.connection() as connection:
            row = connection.execute(
                "SELECT count(*) FROM links WHERE space = %s", (self.space,)
            ).fetchone()
        return int(row[0]) if row else 0

    def get(self, link_id: str) -> Link | None:
        with self.connection() as connection:
            row = connection.execute(
                "SELECT doc FROM links WHERE space = %s AND id = %s", (self.space, link_id)
            ).fetchone()
        return dict(row[0]) if row else None

    async def get_async(self, link_id: str) -> Link | None:
        # A worker thread waits for the database, so the event loop serves others.
        return await asyncio.to_thread(self.get, link_id)

    async def search_async(self, query: LinkQuery) -> tuple[list[Link], dict[str, int]]:
        return await asyncio.to_thread(self.search, query)

    def _new_id(self, connection: Any) -> str:
        row = connection.execute(_NEXT_ID).fetchone()
        return f"{int(row[0]):024x}"

    def create(self, fields: Mapping[str, Any]) -> Link:
        with self.connection() as connection, connection.transaction():
            now = utc_now()
            link = {"_id": self._new_id(connection), **fields, "created_at": now, "updated_at": now}
            connection.execute(_INSERT, _columns(self.space, link))
        return link

    async def create_async(self, fields: Mapping[str, Any]) -> Link:
        return await asyncio.to_thread(self.create, fields)

    def update(
        self, link_id: str, changes: Mapping[str, Any], allowed: Allowed | None = None
    ) -> Link | None:
        """Apply ``changes`` to a link; ``updated_at`` moves only if a value changed."""
        with self.connection() as connection, connection.transaction():
            found = connection.execute(
                "SELECT doc FROM links WHERE space = %s AND id = %s FOR UPDATE",
                (self.space, link_id),
            ).fetchone()
            current: Link | None = dict(found[0]) if found else None
            if current is None or (allowed is not None and not allowed(current)):
                return None
            changed = {k: v for k, v in changes.items() if current.get(k) != v}
            if not changed:
                return current
            link = {**current, **changed, "updated_at": utc_after(current["updated_at"])}
            connection.execute(_UPSERT, _columns(self.space, link))
        return link

    async def update_async(
        self, link_id: str, changes: Mapping[str, Any], allowed: Allowed | None = None
    ) -> Link | None:
        return await asyncio.to_thread(self.update, link_id, changes, allowed)

    def delete(self, link_id: str, allowed: Allowed | None = None) -> bool:
        with self.connection() as connection, connection.transaction():
            found = connection.execute(
                "SELECT doc FROM links WHERE space = %s AND id = %s FOR UPDATE",
                (self.space, link_id),
            ).fetchone()
            if found is None or (allowed is not None and not allowed(dict(found[0]))):
                return False
            connection.execute(
                "DELETE FROM links WHERE space = %s AND id = %s", (self.space, link_id)
            )
        return True

    async def delete_async(self, link_id: str, allowed: Allowed | None = None) -> bool:
        return await asyncio.to_thread(self.delete, link_id, allowed)

    def export(self) -> list[Link]:
        with self.connection() as connection:
            rows = connection.execute(
                "SELECT doc FROM links WHERE space = %s ORDER BY id", (self.space,)
            ).fetchall()
        return [dict(row[0]) for row in rows]

    def add(self, links: Iterable[Mapping[str, Any]]) -> list[str]:
        """Store whole links under fresh ``_id``s, in one transaction; return the ids."""
        ids = []
        with self.connection() as connection, connection.transaction():
            for link in links:
                fresh = {"_id": self._new_id(connection)}
                fresh.update((k, v) for k, v in link.items() if k != "_id")
                connection.execute(_INSERT, _columns(self.space, fresh))
                ids.append(fresh["_id"])
        return ids

    def reset(self, links: list[Link] | None = None) -> None:
        """Drop every link, then store ``links`` as they are (ids kept), in one transaction."""
        with self.connection() as connection, connection.transaction():
            self.replace_with(connection, links or [])

    def replace_with(self, connection: Any, links: list[Link]) -> None:
        """``reset`` inside the caller's transaction on ``connection``."""
        connection.execute("DELETE FROM links WHERE space = %s", (self.space,))
        with connection.cursor() as cursor:
            cursor.executemany(_INSERT, [_columns(self.space, link) for link in links])
        if links:
            # Ids issued later stay above every id now stored.
            last = max(int(link["_id"], 16) for link in links)
            connection.execute(
                "UPDATE link_ids SET last = greatest(last, %s::numeric)", (str(last),)
            )

    def search(self, query: LinkQuery) -> tuple[list[Link], dict[str, int]]:
        where, arguments = _where(self.space, query)
        page = sql.SQL("SELECT doc FROM links WHERE {} ORDER BY {} LIMIT %s OFFSET %s").format(
            where, _order(query.sort)
        )
        count = sql.SQL("SELECT count(*) FROM links WHERE {}").format(where)
        start = (query.page - 1) * query.per_page
        with self.connection() as connection, connection.transaction():
            # The page and its total from one view of the links. They are two
            # statements: a count over the page's window made the database read and
            # sort every matching document before the LIMIT (2.9 s at 1M links).
            connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            # OFFSET is a bigint: a page past it holds nothing, as any page past the end.
            rows = (
                connection.execute(page, [*arguments, query.per_page, start]).fetchall()
                if start < _MAX_OFFSET
                else []
            )
            total = connection.execute(count, arguments).fetchone()
        return [dict(row[0]) for row in rows], paging(query, int(total[0]) if total else 0)


def _where(space: str, query: LinkQuery) -> tuple[sql.Composable, list[Any]]:
    parts: list[sql.Composable] = [sql.SQL("space = %s")]
    arguments: list[Any] = [space]

    def add(condition: str, *values: Any) -> None:
        parts.append(sql.SQL(condition))
        arguments.extend(values)

    if query.workorder is not None:
        add("workorder = %s", query.workorder)
    if query.is_active is not None:
        add("is_active = %s", query.is_active)
    if query.link_type is not None:
        add("link_type = %s", query.link_type)
    if query.ids:
        add("id = ANY(%s)", list(query.ids))
    if query.company_namespace:
        add("company_namespace && %s::text[]", list(query.company_namespace))
    if query.visible is not None:
        add("company_namespace && %s::text[]", sorted(query.visible))
    for name, wanted in query.equal:
        options = wanted if isinstance(wanted, list) else [wanted]
        # Any of the values given; for an array field, any value it holds.
        add(
            "(doc -> %s = ANY(%s::jsonb[]) OR (jsonb_typeof(doc -> %s) = 'array' "
            "AND EXISTS (SELECT 1 FROM jsonb_array_elements(doc -> %s) AS held "
            "WHERE held = ANY(%s::jsonb[]))))",
            name, [Jsonb(o) for o in options], name, name, [Jsonb(o) for o in options],
        )  # fmt: skip
    return sql.SQL(" AND ").join(parts), arguments


def _order(sort: str) -> sql.Composable:
    """``sort`` as ORDER BY: each field (``-`` descending), ties by id in the last one's
    direction; a link without expiry_date first in ascending order, as the embedded store."""
    keys: list[sql.Composable] = []
    parts = [(part.lstrip("-"), part.startswith("-")) for part in sort.split(",")]
    for name, descending in parts:
        column = sql.Identifier(COLUMNS[name])
        direction = "DESC NULLS LAST" if descending else "ASC NULLS FIRST"
        keys.append(sql.SQL("{} {}").format(column, sql.SQL(direction)))
    keys.append(sql.SQL("id DESC" if parts[-1][1] else "id ASC"))
    return sql.SQL(", ").join(keys)


class StoreUnavailable(StoreError):
    """The database cannot be reached or used."""


def redacted(url: str) -> str:
    """``url`` without its password, fit to print."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(an unreadable URL)"
    if "password" not in parts:
        return url
    user, host = parts.get("user", ""), parts.get("host", "")
    port, name = parts.get("port", ""), parts.get("dbname", "")
    return f"postgresql://{user}:***@{host}{':' + str(port) if port else ''}/{name}"


def is_url(db: object) -> bool:
    """Whether ``--db`` names a PostgreSQL database rather than a store file."""
    return isinstance(db, str) and db.startswith(("postgresql://", "postgres://"))

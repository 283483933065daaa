"""The stores: the embedded one (links in memory, every change journaled and fsynced,
snapshots), and PostgreSQL, which many workers share. Both have one interface.

- link_store: LinkStore, the interface handlers and controls use;
- querying: filters, orders and pages (LinkQuery, the sorted creation index);
- commit: the group-commit writer thread (one fsync per batch);
- journal, snapshot, row_cache: the files (append-only journal, TinyDB
  snapshot, the rows cached beside it for start-up);
- forked: the snapshot written from a forked child, off the server's GIL;
- ids: ObjectId-like ids that grow in creation order;
- postgres, postgres_state: the shared store, and the mock's sessions,
  snapshots and request journal beside it.
"""

from pathlib import Path
from typing import Any

from portal_mock.store.link_store import (
    LinkStore,
    StoreError,
    StoreLocked,
    StoreWriteFailed,
    utc_now,
)

__all__ = [
    "LinkStore",
    "StoreError",
    "StoreLocked",
    "StoreWriteFailed",
    "is_shared",
    "open_store",
    "store_name",
    "utc_now",
]


def open_store(db: Path | str | None) -> Any:
    """The store ``--db`` names: PostgreSQL for a ``postgresql://`` URL, else the embedded
    store on that file (in memory for None). Both have one interface."""
    if isinstance(db, str):
        from portal_mock.store.postgres import PostgresLinkStore

        return PostgresLinkStore(db)
    return LinkStore(db)


def is_shared(store: Any) -> bool:
    """Whether ``store`` is PostgreSQL's, which every worker shares (it has a space)."""
    return getattr(store, "space", None) is not None


def store_name(db: Path | str | None) -> str:
    """``--db`` fit to print: a file's full path, a URL without its password."""
    if isinstance(db, str):
        from portal_mock.store.postgres import redacted

        return redacted(db)
    return str(db.resolve()) if db else "in memory"

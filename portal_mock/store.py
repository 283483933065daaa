"""The link store: TinyDB on a JSON file (or in memory), behind one lock."""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tinydb import Query, TinyDB
from tinydb.storages import JSONStorage, MemoryStorage

from portal_mock.ids import ObjectIdFactory
from portal_mock.querying import Link, LinkQuery, paginate, sort_links

_BY_ID = Query()


def utc_now() -> str:
    """The current time as an RFC 3339 string in UTC with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class LinkStore:
    """Stores links as plain dicts in the API's shape.

    TinyDB is not thread-safe and Connexion runs handlers in a thread pool, so
    every public method holds the store's lock for its whole read-modify-write.
    The last issued ``_id`` is kept in a ``meta`` table so that ids are never
    reused, even after the newest link was deleted and the store reopened.
    """

    def __init__(self, path: Path | None = None) -> None:
        if path is None:
            self._db = TinyDB(storage=MemoryStorage)
        else:
            self._db = TinyDB(path, storage=JSONStorage, create_dirs=True, encoding="utf-8")
        self.path = path
        self._links = self._db.table("links")
        self._meta = self._db.table("meta")
        self._lock = threading.Lock()
        meta = self._meta.get(doc_id=1)
        self._ids = ObjectIdFactory(meta["last_id"] if meta else None)
        for link in self._links.all():
            self._ids.observe(link["_id"])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def count(self) -> int:
        with self._lock:
            return len(self._links)

    def search(self, query: LinkQuery) -> tuple[list[Link], dict[str, int]]:
        with self._lock:
            found = [dict(link) for link in self._links.all() if query.matches(link)]
        return paginate(sort_links(found, query.sort), query.page, query.per_page)

    def get(self, link_id: str) -> Link | None:
        with self._lock:
            found = self._links.get(_BY_ID["_id"] == link_id)
        return copy.deepcopy(dict(found)) if isinstance(found, Mapping) else None

    def create(self, fields: Mapping[str, Any]) -> Link:
        """Store a new link with a fresh ``_id`` and timestamps; return it."""
        with self._lock:
            now = utc_now()
            link = {"_id": self._ids.new(), **copy.deepcopy(dict(fields))}
            link.update(created_at=now, updated_at=now)
            # The id is recorded before the link so a crash between the two
            # writes can only skip an id, never reissue one.
            self._meta.upsert({"last_id": link["_id"]}, _BY_ID.last_id.exists())
            self._links.insert(link)
        return copy.deepcopy(link)

    def update(self, link_id: str, changes: Mapping[str, Any]) -> Link | None:
        """Apply ``changes`` to a link; ``updated_at`` moves only if a value changed."""
        with self._lock:
            found = self._links.get(_BY_ID["_id"] == link_id)
            if not isinstance(found, Mapping):
                return None
            link = dict(found)
            changed = {k: copy.deepcopy(v) for k, v in changes.items() if link.get(k) != v}
            if changed:
                changed["updated_at"] = utc_now()
                link.update(changed)
                self._links.update(changed, _BY_ID["_id"] == link_id)
        return copy.deepcopy(link)

    def delete(self, link_id: str) -> bool:
        with self._lock:
            return bool(self._links.remove(_BY_ID["_id"] == link_id))

    def reset(self, links: list[Link] | None = None) -> None:
        """Drop every link, then store ``links`` as they are (ids kept)."""
        with self._lock:
            self._links.truncate()
            for link in links or []:
                self._ids.observe(link["_id"])
            if links:
                self._links.insert_multiple(copy.deepcopy(links))

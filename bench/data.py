"""Bench data: links cloned from the fixtures, as our store's snapshot or json-server's db."""

from __future__ import annotations

import copy
import functools
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from portal_mock.store import LinkStore

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "openapi" / "workorder-portal-links.yaml"
FIXTURES = ROOT / "fixtures" / "workorder-portal-links.json"
COLLECTION = "workorder-portal-links"
# The development key every server here accepts (json-server ignores it).
API_KEY = "dev-key"
LINKS_PER_WORKORDER = 4
# Fields the server assigns: a create body carries none of them.
SERVER_FIELDS = ("_id", "url", "access_token", "created_at", "updated_at")

Link = dict[str, Any]


@functools.cache
def fixtures() -> list[Link]:
    """The sample links (cached: callers copy before they change one)."""
    with FIXTURES.open(encoding="utf-8") as handle:
        links: list[Link] = json.load(handle)
    return links


def object_id(seconds: int, serial: int) -> str:
    """A 24-hex id like the store's: 4 bytes of seconds, then 8 bytes that grow with ``serial``."""
    return f"{(seconds << 64) | serial:024x}"


def workorder_id(number: int) -> str:
    return object_id(0x5F000000, number)


def make_links(count: int) -> list[Link]:
    """``count`` links cloned from the fixtures, with increasing ``_id``s and ``created_at``s.

    Each work order has ``LINKS_PER_WORKORDER`` links, so a filtered list
    returns a handful of links at any size. The ids sort before any id the
    store issues now, as they would after ``count`` earlier creates.
    """
    templates = fixtures()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1, seconds=count)
    seconds = int(time.time()) - 2 * 86400
    links = []
    for n in range(count):
        link = copy.deepcopy(templates[n % len(templates)])
        # The store's one form of a timestamp: UTC, milliseconds, "Z".
        stamp = (start + timedelta(seconds=n)).isoformat(timespec="milliseconds")
        stamp = stamp.replace("+00:00", "Z")
        link.update(
            _id=object_id(seconds, n),
            workorder=workorder_id(n // LINKS_PER_WORKORDER),
            created_at=stamp,
            updated_at=stamp,
        )
        links.append(link)
    return links


def write_store_snapshot(path: Path, links: list[Link]) -> None:
    """Write ``links`` as the store's own snapshot (and its row cache), as the store writes
    it when it is reset to them."""
    store = LinkStore(path)
    try:
        store.reset(links)
    finally:
        store.close()


def write_json_server_db(path: Path, links: list[Link]) -> None:
    """json-server 0.17 serves each top-level key as a collection; ``--id _id`` keeps our ids."""
    with path.open("w", encoding="utf-8") as handle:
        json.dump({COLLECTION: links}, handle)


def create_body(seq: int) -> dict[str, Any]:
    """A full create body: the first fixture less its server fields, on its own work order."""
    body = {k: v for k, v in fixtures()[0].items() if k not in SERVER_FIELDS}
    body["workorder"] = workorder_id(10_000_000 + seq)
    return body


def update_body(seq: int) -> dict[str, Any]:
    """A partial update that always changes a value, so every update is a real write."""
    return {"is_active": seq % 2 == 0, "metadata": {"source": "bench", "seq": seq}}

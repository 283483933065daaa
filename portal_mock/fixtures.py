"""Sample links for a fresh store."""

from __future__ import annotations

import json
from pathlib import Path

from portal_mock.store import LinkStore


def read_fixtures(path: Path) -> list[dict[str, object]]:
    with path.open(encoding="utf-8") as handle:
        links: list[dict[str, object]] = json.load(handle)
    return links


def load_fixtures(store: LinkStore, path: Path) -> int:
    """Replace the store's links with the ones in ``path``; return how many."""
    links = read_fixtures(path)
    store.reset(links)
    return len(links)

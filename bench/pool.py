"""Links for a delete run to delete, one id per request, so that every delete can be a 200.

The pool is what the server already stores (the sample links and whatever the
create run added), listed page by page, topped up with new links created
through its API. This is set-up, not measured: a plain Python client, a few
requests at a time.
"""

from __future__ import annotations

import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import load
from data import COLLECTION, create_body

PAGE = 100  # the most our API gives in one page
CREATORS = 8
# Create bodies for the pool number their work orders apart from the create run's.
FIRST_SEQ = 50_000_000


def _call(url: str, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    headers = load.headers_for(body)
    request = urllib.request.Request(url + path, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def stored_ids(url: str, dialect: load.Dialect) -> list[str]:
    """The ids of every link the server at ``url`` stores, page by page."""
    ids: list[str] = []
    page = 1
    while True:
        answer = _call(url, "GET", load.page_path(dialect, page, PAGE))
        links = answer["data"] if dialect.envelope else answer
        ids += [link["_id"] for link in links]
        if len(links) < PAGE:
            return ids
        page += 1


def create_links(url: str, dialect: load.Dialect, count: int) -> list[str]:
    """Create ``count`` links through the API; their ids."""

    def create(seq: int) -> str:
        answer = _call(url, "POST", f"/{COLLECTION}", create_body(seq))
        link = answer["data"] if dialect.envelope else answer
        return str(link["_id"])

    with ThreadPoolExecutor(CREATORS) as creators:
        return list(creators.map(create, range(FIRST_SEQ, FIRST_SEQ + count)))


def topped_up(url: str, dialect: load.Dialect, ids: list[str], count: int) -> list[str]:
    """``ids``, with new links created after them up to ``count``."""
    return ids + create_links(url, dialect, count - len(ids)) if len(ids) < count else ids

"""Filtering, ordering and paging of links, as the list operation describes them."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any

Link = dict[str, Any]

# expiry_date comes from clients in any RFC 3339 form, so it is compared as
# a time; created_at and updated_at are always written by the store in one
# UTC form, where the text order is the time order.
PARSED_DATE_FIELDS = frozenset({"expiry_date"})
DEFAULT_SORT = "-created_at"


@dataclass(frozen=True)
class LinkQuery:
    """The list operation's filters: AND across fields, any-of within a list."""

    company_namespace: Sequence[str] = ()
    workorder: str | None = None
    is_active: bool | None = None
    link_type: str | None = None
    ids: Sequence[str] = ()
    sort: str = DEFAULT_SORT
    page: int = 1
    per_page: int = 25

    def matches(self, link: Link) -> bool:
        return (
            (self.workorder is None or link["workorder"] == self.workorder)
            and (self.is_active is None or link["is_active"] is self.is_active)
            and (self.link_type is None or link["link_type"] == self.link_type)
            and (not self.ids or link["_id"] in self.ids)
            and (
                not self.company_namespace
                or not set(self.company_namespace).isdisjoint(link["company_namespace"])
            )
        )


def parse_datetime(value: str) -> datetime:
    """An RFC 3339 date-time as an aware datetime (lower-case ``t``/``z`` and leap seconds too)."""
    text = value.upper()
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        # RFC 3339 allows a leap second (:60) that datetime cannot hold.
        return datetime.fromisoformat(text.replace(":60", ":59", 1))


def _expiry_key(link: Link) -> tuple[int, Any]:
    value = link["expiry_date"]
    # A link without expiry_date sorts before any link that has one.
    return (0, 0) if value is None else (1, parse_datetime(value))


def _key(name: str) -> Callable[[Link], Any]:
    # Every other sortable field is never null and compares as stored.
    return _expiry_key if name in PARSED_DATE_FIELDS else itemgetter(name)


def sort_links(links: Iterable[Link], sort: str) -> list[Link]:
    """Order by each comma-separated field (``-`` for descending), ties by ``_id``.

    Sorting from the least significant key to the most significant with a
    stable sort gives the combined order; the ``_id`` tie-break follows the
    direction of the last field, so an order and its reverse mirror exactly.
    """
    keys = [(part.lstrip("-"), part.startswith("-")) for part in sort.split(",")]
    ordered = sorted(links, key=itemgetter("_id"), reverse=keys[-1][1])
    for name, descending in reversed(keys):
        ordered.sort(key=_key(name), reverse=descending)
    return ordered


def paginate(links: Sequence[Link], page: int, per_page: int) -> tuple[list[Link], dict[str, int]]:
    """One page of ``links`` and the ``paging`` object that describes it."""
    start = (page - 1) * per_page
    paging = {
        "page": page,
        "per_page": per_page,
        "total": len(links),
        "total_pages": math.ceil(len(links) / per_page),
    }
    return list(links[start : start + per_page]), paging

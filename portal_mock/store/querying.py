"""Filtering, ordering and paging of links, as the list operation describes them."""

from __future__ import annotations

import heapq
import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

from sortedcontainers import SortedList

Link = dict[str, Any]
# What a link is filtered and ordered by, then (last) its encoded JSON: the
# store holds a link as this one tuple, and decodes the JSON only to serve it.
Row = tuple[Any, ...]
ROW_FIELDS = (
    "_id",
    "workorder",
    "link_type",
    "expiry_date",
    "is_active",
    "created_at",
    "updated_at",
    "company_namespace",
)
_AT = {name: position for position, name in enumerate(ROW_FIELDS)}
ID, WORKORDER, EXPIRY, CREATED_AT, NAMESPACES, RAW = 0, 1, 3, 5, 7, len(ROW_FIELDS)


def row_of(link: Link, raw: Any) -> Row:
    """``link``'s row, with ``raw`` (its encoding, or any tag) in the last place.

    ``expiry_date`` is held as its sort key, parsed once here: parsing 100,000
    dates on the first sort by it was most of that sort.
    """
    fields = [link.get(name) for name in ROW_FIELDS[:NAMESPACES]]
    fields[EXPIRY] = _expiry_order(fields[EXPIRY])
    return (*fields, tuple(link.get("company_namespace") or ()), raw)


DEFAULT_SORT = "-created_at"


@dataclass(frozen=True)
class LinkQuery:
    """The list operation's filters: AND across fields, any-of within a list."""

    company_namespace: Sequence[str] = ()
    workorder: str | None = None
    is_active: bool | None = None
    link_type: str | None = None
    ids: Sequence[str] = ()
    # The namespaces the caller's key reaches (None: all); a link outside them is not there.
    visible: frozenset[str] | None = None
    # Filters on other fields, by name: query parameters an edited spec adds, each
    # named after a field of the link (spec_fit.py). The row does not hold those
    # fields, so a link is decoded to check them.
    equal: tuple[tuple[str, Any], ...] = ()
    sort: str = DEFAULT_SORT
    page: int = 1
    per_page: int = 25

    @property
    def filtered(self) -> bool:
        return bool(
            self.company_namespace
            or self.ids
            or self.visible is not None
            or self.workorder is not None
            or self.is_active is not None
            or self.link_type is not None
            or bool(self.equal)
        )

    def matches(self, link: Link) -> bool:
        return self.matches_row(row_of(link, None)) and self.matches_fields(link)

    def matches_fields(self, link: Link) -> bool:
        """``link`` has each ``equal`` field's value: any of a list given, or in a list held."""
        return all(_holds(link.get(name), wanted) for name, wanted in self.equal)

    def matches_row(self, row: Row) -> bool:
        return (
            (self.workorder is None or row[WORKORDER] == self.workorder)
            and (self.is_active is None or row[_AT["is_active"]] is self.is_active)
            and (self.link_type is None or row[_AT["link_type"]] == self.link_type)
            and (not self.ids or row[ID] in self.ids)
            and (
                not self.company_namespace
                or not set(self.company_namespace).isdisjoint(row[NAMESPACES])
            )
            and (self.visible is None or not self.visible.isdisjoint(row[NAMESPACES]))
        )


def _holds(value: Any, wanted: Any) -> bool:
    options = wanted if isinstance(wanted, list) else [wanted]
    if isinstance(value, list):
        return any(option in value for option in options)
    # 1 and True are equal in Python, not in JSON.
    return any(
        value == option and isinstance(value, bool) == isinstance(option, bool)
        for option in options
    )


def parse_datetime(value: str) -> datetime:
    """An RFC 3339 date-time as an aware datetime (lower-case ``t``/``z`` and leap seconds too)."""
    text = value.upper()
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        # RFC 3339 allows a leap second (:60) that datetime cannot hold.
        return datetime.fromisoformat(text.replace(":60", ":59", 1))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _expiry_order(value: str | None) -> int | float:
    # expiry_date comes from clients in any RFC 3339 form, so it is compared as
    # a time: whole microseconds since 1970 (exact, and an int compares faster
    # than an aware datetime); created_at and updated_at are always written by
    # the store in one UTC form, where the text order is the time order. A
    # link without expiry_date sorts before any link that has one.
    return -math.inf if value is None else expiry_microseconds(value)


def expiry_microseconds(value: str) -> int:
    """An RFC 3339 date-time as whole microseconds since 1970 UTC, any offset (even past
    what a database's timestamp type takes, such as -19:28) and any year of four digits."""
    return (parse_datetime(value) - _EPOCH) // _MICROSECOND


def _column(name: str, rows: Iterable[Row]) -> Iterable[Any]:
    """Each row's sort key for field ``name``, read at C speed."""
    return map(itemgetter(_AT[name]), rows)


def sort_links(links: Iterable[Link], sort: str) -> list[Link]:
    """``links`` in ``sort`` order (see ``sort_rows``)."""
    listed = list(links)
    rows = [row_of(link, position) for position, link in enumerate(listed)]
    return [listed[row[RAW]] for row in sort_rows(rows, sort)]


def sort_rows(rows: Iterable[Row], sort: str) -> list[Row]:
    """Order by each comma-separated field (``-`` for descending), ties by ``_id``.

    Sorting from the least significant key to the most significant with a
    stable sort gives the combined order; the ``_id`` tie-break follows the
    direction of the last field, so an order and its reverse mirror exactly.
    """
    keys = [(part.lstrip("-"), part.startswith("-")) for part in sort.split(",")]
    ordered = sorted(rows, key=itemgetter(ID), reverse=keys[-1][1])
    for name, descending in reversed(keys):
        column = list(_column(name, ordered))
        positions = sorted(range(len(ordered)), key=column.__getitem__, reverse=descending)
        ordered = [ordered[n] for n in positions]
    return ordered


def first_rows(rows: Collection[Row], sort: str, count: int) -> list[Row]:
    """The first ``count`` of ``rows`` in ``sort`` order, the same as ``sort_rows``.

    A page deep in a large store needs the links before it in order, not all of
    them: a top-k selection (heapq) is linear, where a full sort is not. An
    order that mixes directions has no single key, so it is sorted in full.
    """
    keys = [(part.lstrip("-"), part.startswith("-")) for part in sort.split(",")]
    descending = {direction for _, direction in keys}
    if len(descending) > 1 or count * 4 >= len(rows):
        return sort_rows(rows, sort)[:count]
    listed = list(rows)
    if descending == {True}:
        # Rows come oldest first and most fields grow with age: met newest
        # first, a descending selection rarely replaces its heap's top.
        listed.reverse()
    # Keys of (field, ..., _id, position), built and compared in C: a key
    # function called per row would cost more than the selection itself.
    columns = [_column(name, listed) for name, _ in keys]
    keyed = zip(*columns, map(itemgetter(ID), listed), range(len(listed)), strict=True)
    pick = heapq.nlargest if descending == {True} else heapq.nsmallest
    return [listed[key[-1]] for key in pick(count, keyed)]


class CreationOrder:
    """Every link's (created_at, _id), kept in order: the default order's first pages
    at any store size without a sort."""

    def __init__(self) -> None:
        self._keys: SortedList = SortedList()

    def add(self, row: Row) -> None:
        self._keys.add((row[CREATED_AT], row[ID]))

    def add_many(self, rows: Iterable[Row]) -> None:
        """Add ``rows`` at once: one sort, where adding each in turn bisects each."""
        self._keys.update((row[CREATED_AT], row[ID]) for row in rows)

    def discard(self, row: Row) -> None:
        self._keys.discard((row[CREATED_AT], row[ID]))

    def page_ids(self, descending: bool, start: int, count: int) -> list[str]:
        """The ids at positions ``start`` to ``start + count`` of the order."""
        size = len(self._keys)
        if descending:
            first, last = max(size - start - count, 0), max(size - start, 0)
            return [link_id for _, link_id in reversed(self._keys[first:last])]
        return [link_id for _, link_id in self._keys[start : start + count]]


def paging(query: LinkQuery, total: int) -> dict[str, int]:
    """The ``paging`` object of ``query``'s page among ``total`` matching links."""
    return {
        "page": query.page,
        "per_page": query.per_page,
        "total": total,
        "total_pages": math.ceil(total / query.per_page),
    }

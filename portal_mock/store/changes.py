"""A write as the journal records it and memory applies it, prepared before it is queued.

The request that makes a change encodes it once, here: the journal's writer
thread then only writes the bytes and files the rows, so it holds the GIL
for as little as it can while requests run, and nothing a caller does to the
link it got back can reach the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from portal_mock.jsonbody import encoded
from portal_mock.store.querying import ID, Link, Row, row_of


@dataclass(frozen=True, slots=True)
class Change:
    """The journal record's JSON (``{"put": ...}``, ``{"put_many": [...]}`` or
    ``{"delete": id}``), with the rows it stores and the ids it removes."""

    record: bytes
    puts: tuple[Row, ...] = ()
    deletes: tuple[str, ...] = ()

    @classmethod
    def put(cls, link: Link) -> Change:
        raw = encoded(link)
        return cls(b'{"put":%s}' % raw, (row_of(link, raw),))

    @classmethod
    def put_many(cls, links: Iterable[Link]) -> Change:
        raws = [(link, encoded(link)) for link in links]
        record = b'{"put_many":[%s]}' % b",".join(raw for _, raw in raws)
        return cls(record, tuple(row_of(link, raw) for link, raw in raws))

    @classmethod
    def delete(cls, link_id: str) -> Change:
        return cls(encoded({"delete": link_id}), deletes=(link_id,))

    def touched(self) -> list[tuple[str, Row | None]]:
        """Each link this change writes, with its new row (None: deleted)."""
        return [(row[ID], row) for row in self.puts] + [(i, None) for i in self.deletes]

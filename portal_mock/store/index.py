"""An index from a field's value to the ids of the links that hold it, kept out of the GC's way.

A set per value is an object the cyclic garbage collector walks on every
full collection: with a set for each of 30,000 work orders, each such
collection took 15 to 25 ms, in the middle of requests (the worst writes
of a run). Here a value with one link holds the id itself, a few links a
tuple of ids (a tuple of strings the collector untracks after one look),
and only a value with many links a set.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

# Up to this many ids a value holds a tuple (rebuilt on each change); more, a set.
SMALL = 16

Ids = str | tuple[str, ...] | set[str]


class IdIndex:
    """Value -> ids of the links holding it."""

    def __init__(self, ids: dict[str, Ids] | None = None) -> None:
        self._ids: dict[str, Ids] = ids if ids is not None else {}

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]]) -> IdIndex:
        """The index of (value, id) ``pairs``, built at once: each value's ids gathered in
        a list, then held as adding them one by one would leave them."""
        gathered: dict[str, list[str]] = {}
        for value, link_id in pairs:
            gathered.setdefault(value, []).append(link_id)
        return cls({value: _held(list(dict.fromkeys(ids))) for value, ids in gathered.items()})

    def as_dict(self) -> dict[str, Ids]:
        """What the index holds, as ``IdIndex(ids)`` takes it back (shared, not copied)."""
        return self._ids

    def add(self, value: str, link_id: str) -> None:
        found = self._ids.get(value)
        if found is None:
            self._ids[value] = link_id
        elif isinstance(found, set):
            found.add(link_id)
        elif isinstance(found, str):
            if found != link_id:
                self._ids[value] = (found, link_id)
        elif link_id not in found:
            grown = (*found, link_id)
            self._ids[value] = set(grown) if len(grown) > SMALL else grown

    def discard(self, value: str, link_id: str) -> None:
        found = self._ids.get(value)
        if isinstance(found, set):
            found.discard(link_id)
            if (
                len(found) <= SMALL // 2
            ):  # well below SMALL, so that it does not flip back and forth
                self._ids[value] = tuple(found)
            return
        left = tuple(i for i in self.ids(value) if i != link_id)
        if not left:
            self._ids.pop(value, None)
        else:
            self._ids[value] = left[0] if len(left) == 1 else left

    def ids(self, value: str) -> Collection[str]:
        """The ids of the links holding ``value`` (empty if none)."""
        found = self._ids.get(value, ())
        return (found,) if isinstance(found, str) else found

    def clear(self) -> None:
        self._ids.clear()


def _held(ids: list[str]) -> Ids:
    if len(ids) == 1:
        return ids[0]
    return tuple(ids) if len(ids) <= SMALL else set(ids)

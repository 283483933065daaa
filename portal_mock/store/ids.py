"""MongoDB-style ObjectIds that grow in creation order and are never reused."""

from __future__ import annotations

import secrets
import time


class ObjectIdFactory:
    """Issues 24-hex ids: 4 bytes of seconds, 5 random bytes, a 3-byte counter.

    Each id is greater than every id issued before, including ids issued by
    earlier runs of the store (passed in as ``last``), so ids sort in creation
    order even when the clock steps back or two runs share a second.
    """

    def __init__(self, last: str | None = None) -> None:
        self._last = int(last, 16) if last else 0
        self._process = secrets.randbits(40)
        self._counter = secrets.randbits(24)

    @property
    def last(self) -> str | None:
        """The greatest id issued or seen, the one a reopened store must stay above."""
        return f"{self._last:024x}" if self._last else None

    def observe(self, existing: str) -> None:
        """Never issue an id at or below one already in use."""
        self._last = max(self._last, int(existing, 16))

    def new(self) -> str:
        self._counter = (self._counter + 1) & 0xFFFFFF
        candidate = (int(time.time()) << 64) | (self._process << 24) | self._counter
        self._last = max(candidate, self._last + 1)
        return f"{self._last:024x}"

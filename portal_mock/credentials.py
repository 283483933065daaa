"""The secret parts of a link: its access token and portal address."""

from __future__ import annotations

import base64
import os
import threading

PORTAL_BASE_URL = "https://portal.example.com/l/"
TOKEN_BYTES = 32
URL_BYTES = 12


class RandomPool:
    """Bytes of the OS CSPRNG, fetched a few kilobytes at a time and each handed out once.

    Every ``os.urandom`` call lets the GIL go; while the journal's writer thread
    holds it, the request that let it go waits up to a switch interval to get it
    back, which made the two tokens a tenth of a create under load. One call
    per hundred creates leaves the bytes as random and takes that wait away.
    """

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._buffer = b""
        self._at = 0
        # A forked child must not hand out the bytes its parent hands out too.
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._buffer, self._at = b"", 0

    def take(self, count: int) -> bytes:
        with self._lock:
            if self._at + count > len(self._buffer):
                self._buffer, self._at = os.urandom(max(self._size, count)), 0
            start, self._at = self._at, self._at + count
            return self._buffer[start : self._at]


_pool = RandomPool()


def token_urlsafe(count: int) -> str:
    """As ``secrets.token_urlsafe``: ``count`` random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(_pool.take(count)).rstrip(b"=").decode("ascii")


def new_credentials() -> dict[str, str]:
    """A fresh access token (256 bits from the OS CSPRNG) and a fresh portal URL."""
    return {
        "access_token": token_urlsafe(TOKEN_BYTES),
        "url": PORTAL_BASE_URL + token_urlsafe(URL_BYTES),
    }

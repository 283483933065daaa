"""Limits on the connection itself, before a request reaches the app: slow or silent
clients and oversized headers must not starve the others.

uvicorn arms its keep-alive timer only after a first answer, so a socket that
never sends a byte, or sends one a second, was kept for ever; it bounds
neither the size nor the number of header fields. This protocol is uvicorn's
own (httptools) with four limits added:

- ``header_timeout``: from the connection (or the end of the last answer) to
  the end of the request's headers; past it, the connection is closed.
- ``body_timeout``: from the end of the headers to the end of the body.
- ``idle_timeout``: a keep-alive connection's wait for its next request
  (uvicorn's ``timeout_keep_alive``).
- ``max_header_bytes`` and ``max_headers``: past either, the answer is
  ``400 validation_error`` naming ``headers`` in the API's envelope (as nginx
  answers 400 for the same, so no operation needs a status of its own for
  it), and the connection is closed.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from portal_mock.errors import error_body


@dataclass(frozen=True)
class TransportLimits:
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    idle_timeout: float = 5.0
    max_header_bytes: int = 16 * 1024
    max_headers: int = 100


class _Refused(Exception):
    """Stops the parser once the connection has been answered and is closing."""


def _too_large(limits: TransportLimits) -> bytes:
    message = (
        f"The request's head is too large: at most {limits.max_headers} header fields "
        f"and {limits.max_header_bytes} bytes with the target."
    )
    details = [{"field": "headers", "message": message}]
    body = json.dumps(error_body("validation_error", message, details)).encode()
    head = (
        b"HTTP/1.1 400 Bad Request\r\n"
        b"content-type: application/json\r\n"
        b"connection: close\r\n"
        b"content-length: %d\r\n\r\n" % len(body)
    )
    return head + body


def guarded_protocol(limits: TransportLimits) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol class with ``limits`` applied to every connection.

    Deadlines are kept as times, not timers: one sweep a few times a second
    closes every connection past its own. A timer armed and cancelled twice a
    request cost a get several per cent of its throughput.
    """
    refusal = _too_large(limits)
    period = min(max(min(limits.header_timeout, limits.body_timeout) / 4, 0.05), 1.0)
    live: set[GuardedProtocol] = set()
    sweeping: list[asyncio.TimerHandle] = []

    def sweep(loop: asyncio.AbstractEventLoop) -> None:
        sweeping.clear()
        now = loop.time()
        for connection in [c for c in live if c.due is not None and now >= c.due]:
            connection.expired()
        if live:
            sweeping.append(loop.call_later(period, sweep, loop))

    class GuardedProtocol(HttpToolsProtocol):
        due: float | None = None
        refused = False
        head_bytes = 0

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.timeout_keep_alive = limits.idle_timeout  # type: ignore[assignment]

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self.due = self.loop.time() + limits.header_timeout
            live.add(self)
            if not sweeping:
                sweeping.append(self.loop.call_later(period, sweep, self.loop))

        def connection_lost(self, exc: Exception | None) -> None:
            live.discard(self)
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if not self.refused:
                super().data_received(data)

        def send_400_response(self, msg: str) -> None:
            if not self.refused:  # the parser stopped because this protocol refused
                super().send_400_response(msg)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self.head_bytes = 0
            if self.due is None:
                self.due = self.loop.time() + limits.header_timeout

        def on_url(self, url: bytes) -> None:
            self.head_bytes += len(url)
            if self.head_bytes > limits.max_header_bytes:
                self.refuse()
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self.head_bytes += len(name) + len(value)
            if self.head_bytes > limits.max_header_bytes or len(self.headers) >= limits.max_headers:
                self.refuse()
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self.due = self.loop.time() + limits.body_timeout
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self.due = None
            super().on_message_complete()

        def refuse(self) -> None:
            self.refused, self.due = True, None
            self.transport.write(refusal)
            self.transport.close()
            raise _Refused

        def expired(self) -> None:
            self.due = None
            cycle = self.cycle
            if cycle is not None and cycle.response_started and not cycle.response_complete:
                return  # an answer is on its way: it is not the client that is slow
            # A client this slow gets no answer, only the close.
            self.transport.close()

    return GuardedProtocol


def transport_limits(settings: Any) -> TransportLimits:
    """The limits a server's settings ask for."""
    return TransportLimits(
        header_timeout=settings.header_timeout,
        body_timeout=settings.body_timeout,
        idle_timeout=settings.idle_timeout,
        max_header_bytes=settings.max_header_bytes,
        max_headers=settings.max_headers,
    )

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
    """uvicorn's httptools protocol class with ``limits`` applied to every connection."""
    refusal = _too_large(limits)

    class GuardedProtocol(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None
        _refused = False
        _header_bytes = 0
        _header_count = 0

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.timeout_keep_alive = limits.idle_timeout  # type: ignore[assignment]

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm(limits.header_timeout)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if not self._refused:
                super().data_received(data)

        def send_400_response(self, msg: str) -> None:
            if not self._refused:  # the parser stopped because this protocol refused
                super().send_400_response(msg)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._header_bytes = self._header_count = 0
            if self._deadline is None:
                self._arm(limits.header_timeout)

        def on_url(self, url: bytes) -> None:
            self._count(len(url), 0)
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value), 1)
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._arm(limits.body_timeout)
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._disarm()
            super().on_message_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            # uvicorn armed its keep-alive timer (idle_timeout); the next request's
            # headers get header_timeout from their first byte.

        def _count(self, size: int, fields: int) -> None:
            self._header_bytes += size
            self._header_count += fields
            if self._header_bytes > limits.max_header_bytes or (
                self._header_count > limits.max_headers
            ):
                self._refused = True
                self._disarm()
                self.transport.write(refusal)
                self.transport.close()
                raise _Refused

        def _arm(self, seconds: float) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, self._expired)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expired(self) -> None:
            self._deadline = None
            if (
                self.cycle is None
                or self.cycle.response_complete
                or not self.cycle.response_started
            ):
                # Nothing is being answered: a client this slow gets no answer, only the close.
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

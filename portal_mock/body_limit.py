"""Refuses request bodies over a size limit, and gives a chunked body its length."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal_mock.errors import PayloadTooLarge


class BodyLimitMiddleware:
    """Raises PayloadTooLarge (413) for a declared or streamed body over ``limit`` bytes.

    A body sent chunked, without ``Content-Length``, is read here (up to the
    limit) and replayed with its length: Connexion's body validator decides
    whether a body is present from that header alone.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > self.limit:
                raise PayloadTooLarge(self.limit)
            await self.app(scope, self._counting(receive), send)
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = await self._read(receive)
            scope = {
                **scope,
                "headers": [*scope["headers"], (b"content-length", b"%d" % len(body))],
            }
            await self.app(scope, _replay(body, receive), send)
        else:
            await self.app(scope, receive, send)

    def _counting(self, receive: Receive) -> Receive:
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise PayloadTooLarge(self.limit)
            return message

        return counting_receive

    async def _read(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                raise PayloadTooLarge(self.limit)
            chunks.append(chunk)
            more = message.get("more_body", False) and message["type"] == "http.request"
        return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay

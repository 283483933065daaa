"""CORS for browser apps on another origin: Starlette's middleware, told each path's methods.

Starlette answers preflights with one fixed ``Access-Control-Allow-Methods``
list for the whole app and a plain-text body. Here the list is the path's real
methods (as ``Allow`` on a 405), and a refused preflight is a 400 (an unknown
path a 404) in the API's error envelope. The header logic stays Starlette's.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Sequence

from starlette.datastructures import Headers
from starlette.middleware.cors import ALL_METHODS, CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal_mock.errors import CODES, MESSAGES, error_body

ALLOWED_HEADERS = ("X-API-Key", "Content-Type", "Prefer", "X-Mock-Session")
EXPOSED_HEADERS = ("Location", "Preference-Applied", "X-Mock-Fault", "Allow")
# The origins of a dev server on this machine (Vite, webpack), any port.
LOOPBACK_ORIGINS = r"https?://(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d{1,5})?"
PREFLIGHT_MAX_AGE = 600
# What Starlette refused -> the request header at fault and why.
_REFUSALS = {
    "origin": ("Origin", "This origin may not call the mock (see --cors-origin)."),
    "headers": (
        "Access-Control-Request-Headers",
        f"Only these headers may be sent: {', '.join(ALLOWED_HEADERS)}.",
    ),
    "private-network": (
        "Access-Control-Request-Private-Network",
        "A public web site may not call the mock on a private network.",
    ),
}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def origin_rules(host: str, origins: Sequence[str]) -> tuple[list[str], str | None]:
    """``(allow_origins, allow_origin_regex)``: the given origins, else by where the mock listens.

    A mock bound to loopback is reachable from this machine only, so any origin
    may call it. Bound to a network address, a page from any web site the user
    visits could reach it, so only pages served from this machine may.
    """
    if origins:
        return list(origins), None
    if is_loopback(host):
        return ["*"], None
    return [], LOOPBACK_ORIGINS


class PathCORSMiddleware(CORSMiddleware):
    """Starlette's CORS middleware whose preflight names the methods of the path asked about."""

    def __init__(
        self,
        app: ASGIApp,
        path_methods: Callable[[str], list[str]],
        origins: Sequence[str],
        origin_regex: str | None,
    ) -> None:
        super().__init__(
            app,
            allow_origins=origins,
            allow_origin_regex=origin_regex,
            allow_methods=ALL_METHODS,
            allow_headers=ALLOWED_HEADERS,
            expose_headers=EXPOSED_HEADERS,
            max_age=PREFLIGHT_MAX_AGE,
        )
        self.path_methods = path_methods

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and all(name != b"origin" for name, _ in scope["headers"]):
            # What Starlette does for a request without Origin (only Vary: Origin
            # added), without its Headers and MutableHeaders: an eighth of a get.
            await self.app(scope, receive, _varying_by_origin(send))
            return
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            headers = Headers(scope=scope)
            if "origin" in headers and "access-control-request-method" in headers:
                response = self.preflight(scope["path"], headers)
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def preflight(self, path: str, request_headers: Headers) -> Response:
        answer = self.preflight_response(request_headers=request_headers)
        headers = {
            name: value
            for name, value in answer.headers.items()
            if name.startswith("access-control-") or name == "vary"
        }
        methods = self.path_methods(path)
        headers["access-control-allow-methods"] = ", ".join(methods)
        if not methods:
            return _envelope(404, MESSAGES[404], [], headers)
        problems = []
        if answer.status_code != 200:
            refused = bytes(answer.body).decode().removeprefix("Disallowed CORS ").split(", ")
            problems = [
                dict(
                    zip(
                        ("field", "message"),
                        _REFUSALS.get(what, (what, "Not allowed.")),
                        strict=True,
                    )
                )
                for what in refused
            ]
        requested = request_headers["access-control-request-method"]
        if requested not in methods:
            problems.append(
                {
                    "field": "Access-Control-Request-Method",
                    "message": f"{requested} is not allowed here; use {', '.join(methods)}.",
                }
            )
        if problems:
            return _envelope(400, "The CORS preflight request is refused.", problems, headers)
        return Response(status_code=204, headers=headers)


def _varying_by_origin(send: Send) -> Send:
    async def varied(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = message.get("headers", [])
            vary = [value for name, value in headers if name.lower() == b"vary"]
            kept = [(name, value) for name, value in headers if name.lower() != b"vary"]
            message["headers"] = [*kept, (b"vary", b", ".join([*vary, b"Origin"]))]
        await send(message)

    return varied


def _envelope(
    status: int, message: str, details: list[dict[str, str]], headers: dict[str, str]
) -> Response:
    body = json.dumps(error_body(CODES[status], message, details))
    return Response(body, status_code=status, headers=headers, media_type="application/json")

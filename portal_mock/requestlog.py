"""Each request, once answered: a line on the terminal and an entry for ``GET /__mock/requests``.

Only the method, path, query, status, time taken and session are kept: never
a header or a body, so an API key or an access token cannot leak; query values
whose names look secret are redacted as well.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol, TextIO
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SECRET_NAME = re.compile(r"key|token|secret|passw|auth", re.IGNORECASE)
REDACTED = "[redacted]"
# Swagger UI, the served specs and the controls themselves are not API requests.
_NOT_API = ("/__mock/", "/ui", "/openapi.json")


class Entry(NamedTuple):
    """One answered request, as ``GET /__mock/requests`` lists it.

    A tuple of strings and numbers, which the garbage collector stops tracking:
    as instances of a class, the last thousand entries were objects that each
    outlived two young collections, and so set off a full one every thousand
    requests (10 to 20 ms with a large store, the worst answers of a run).
    """

    time: str
    method: str
    path: str
    query: str
    status: int
    milliseconds: float
    session: str | None


def redact_query(query: str) -> str:
    """``query`` with the value of every parameter named like a key or token replaced."""
    if not query or not _SECRET_NAME.search(query):
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, REDACTED if _SECRET_NAME.search(k) else v) for k, v in pairs])


class SharedJournal(Protocol):
    """Where every worker's entries meet (portal_mock.store.postgres_state.RequestJournal)."""

    def add(self, session: str | None, entry: dict[str, Any]) -> None: ...
    def recent(self, limit: int, session: str | None) -> list[dict[str, Any]]: ...
    def clear(self, session: str | None) -> int: ...


class RequestLog:
    """The most recent API requests, at most ``size``: in memory, or in a shared journal
    once ``share`` has given one (the workers of one PostgreSQL store)."""

    def __init__(self, size: int = 1000) -> None:
        self._entries: deque[Entry] = deque(maxlen=size)
        self._lock = threading.Lock()
        self._shared: SharedJournal | None = None

    def share(self, journal: SharedJournal | None) -> None:
        self._shared = journal

    def add(self, entry: Entry) -> None:
        if self._shared is not None:
            self._shared.add(entry.session, entry._asdict())
            return
        with self._lock:
            self._entries.append(entry)

    def recent(self, limit: int, session: str | None = None) -> list[Entry]:
        """Newest first; only ``session``'s requests when one is given."""
        if self._shared is not None:
            return [Entry(**entry) for entry in self._shared.recent(limit, session)]
        with self._lock:
            entries = list(self._entries)
        found = (e for e in reversed(entries) if session is None or e.session == session)
        return [entry for _, entry in zip(range(limit), found, strict=False)]

    def clear(self, session: str | None = None) -> int:
        """Forget every entry, or only ``session``'s; return how many were forgotten."""
        if self._shared is not None:
            return self._shared.clear(session)
        with self._lock:
            kept = [e for e in self._entries if session is not None and e.session != session]
            forgotten = len(self._entries) - len(kept)
            self._entries.clear()
            self._entries.extend(kept)
            return forgotten


_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_COLOURS = {2: "\x1b[32m", 3: "\x1b[36m", 4: "\x1b[33m", 5: "\x1b[31m"}
_DIM, _BOLD, _RESET = "\x1b[2m", "\x1b[1m", "\x1b[0m"


def format_text(entry: Entry, colour: bool) -> str:
    """``09:30:01.123 GET /path?q 200 3.1 ms session`` ( ``-`` for the durable store)."""
    target = entry.path + (f"?{entry.query}" if entry.query else "")
    # A decoded path may hold control characters; never let them drive the terminal.
    target = _CONTROL_CHARS.sub(lambda m: f"\\x{ord(m.group()):02x}", target)
    clock = entry.time[11:23]
    session = entry.session or "-"
    ms = f"{entry.milliseconds:.1f} ms"
    if not colour:
        return f"{clock} {entry.method} {target} {entry.status} {ms} {session}"
    status = f"{_COLOURS.get(entry.status // 100, '')}{entry.status}{_RESET}"
    return (
        f"{_DIM}{clock}{_RESET} {_BOLD}{entry.method}{_RESET} {target} {status} "
        f"{_DIM}{ms}{_RESET} {session}"
    )


def printer(log_format: str, stream: TextIO | None = None) -> Callable[[Entry], None]:
    """A function that writes each entry as one line: text (coloured on a terminal) or JSON."""
    out = stream or sys.stdout
    if log_format == "json":
        return lambda entry: print(json.dumps(entry._asdict()), file=out, flush=True)
    colour = out.isatty()
    return lambda entry: print(format_text(entry, colour), file=out, flush=True)


def _session(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-mock-session":
            text = value.decode("latin-1")
            # A name the spec refuses is not repeated: it could hold anything.
            return text if SESSION_NAME.fullmatch(text) else None
    return None


class RequestLogMiddleware:
    """Times each request and hands its entry to the log and the printer, errors included."""

    def __init__(self, app: ASGIApp, log: RequestLog, show: Callable[[Entry], None] | None) -> None:
        self.app = app
        self.log = log
        self.show = show

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        path: str = scope["path"]
        entry = Entry(
            time=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            method=scope["method"],
            path=path,
            query=redact_query(scope["query_string"].decode("latin-1")),
            status=status,
            milliseconds=round(seconds * 1000, 1),
            session=_session(scope),
        )
        if not path.startswith(_NOT_API):
            self.log.add(entry)
        if self.show is not None:
            self.show(entry)

"""``serve --reload``: serve from a child process, restarted when the spec or fixtures change.

The parent holds the listening socket, so the address (even a port picked with
``--port 0``) survives every restart, and watches the files with watchfiles,
as uvicorn's own reloader does. uvicorn's reloader needs an import string for
the app; ours is built from settings, so the child builds it again instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change, run_process

from portal_mock.paths import DEFAULT_CONTROLS_SPEC
from portal_mock.settings import Settings
from portal_mock.workers import stop_when_orphaned

Serve = Callable[[Settings, str, socket.socket], int]


def watched_files(settings: Settings) -> set[Path]:
    """The files whose change restarts the server: both specs and the fixtures."""
    files = {settings.spec, DEFAULT_CONTROLS_SPEC}
    if settings.fixtures is not None:
        files.add(settings.fixtures)
    return {path.resolve() for path in files}


def _serve_child(settings: Settings, log_level: str, sock: socket.socket, serve: Serve) -> int:
    watchdog = threading.Thread(target=stop_when_orphaned, args=(os.getppid(),), daemon=True)
    watchdog.start()
    # watchfiles tells a restarted child which files changed (an empty list on
    # the first start): --reset empties the durable store on the first start
    # only, never because the spec was edited.
    if os.environ.get("WATCHFILES_CHANGES", "[]") != "[]":
        settings = dataclasses.replace(settings, reset=False)
    return serve(settings, log_level, sock)


class SpecWatch:
    """The spec as last served, to tell what an edit breaks before the server restarts on it."""

    def __init__(self, settings: Settings) -> None:
        self.path, self.db = settings.spec, settings.db
        self.served = self.path.read_text(encoding="utf-8")

    def report(self) -> str:
        """What the edited spec breaks, against the version served, and which stored links
        it makes invalid; it becomes the version served."""
        from portal_mock.spec_tools.diff import Version, diff, render
        from portal_mock.spec_tools.document import Unreadable, parse
        from portal_mock.store.peek import stored_links

        try:
            text = self.path.read_text(encoding="utf-8")
            old = Version("served", self.served, parse(self.served, "served"))
            new = Version(str(self.path), text, parse(text, str(self.path)))
            # A reload keeps the store: its links are read as they are now.
            # A shared store (PostgreSQL) is not read here: only a store file is.
            data = [(str(self.db), stored_links(self.db))] if isinstance(self.db, Path) else []
        except (Unreadable, OSError, ValueError) as exc:
            return f"portal-mock: cannot compare the spec with the one served: {exc}\n"
        self.served = text
        out = io.StringIO()
        render(diff(old, new, data), out)
        return f"portal-mock: {self.path.name} against the version served:\n{out.getvalue()}"


def serve_with_reload(settings: Settings, log_level: str, sock: socket.socket, serve: Serve) -> int:
    """Run ``serve`` in a child, again after each change, until SIGINT or SIGTERM; return 0."""
    files = watched_files(settings)
    spec = SpecWatch(settings)

    # Folders are watched, not the files: an editor that saves by renaming a
    # new file over the old one would leave a watch on the file itself blind.
    def is_watched(_change: Change, path: str) -> bool:
        return Path(path).resolve() in files

    def announce(changes: set[tuple[Change, str]]) -> None:
        if any(Path(path).resolve() == settings.spec.resolve() for _, path in changes):
            print(spec.report(), end="", flush=True)
        names = ", ".join(sorted({Path(path).name for _, path in changes}))
        print(f"portal-mock: {names} changed, restarting", flush=True)

    print("portal-mock: reloading when these change: " + ", ".join(map(str, sorted(files))))
    # SIGINT or SIGTERM while a restart is stopping the old server lets a
    # KeyboardInterrupt out of watchfiles' wait: a stop like any other. The
    # server stops by itself once this process is gone (workers.stop_when_orphaned).
    with contextlib.suppress(KeyboardInterrupt):
        run_process(
            *sorted({path.parent for path in files}),
            target=_serve_child,
            args=(settings, log_level, sock, serve),
            target_type="function",
            watch_filter=is_watched,
            callback=announce,
            debounce=400,
            recursive=False,
        )
    return 0

"""``serve --reload``: serve from a child process, restarted when the spec or fixtures change.

The parent holds the listening socket, so the address (even a port picked with
``--port 0``) survives every restart, and watches the files with watchfiles,
as uvicorn's own reloader does. uvicorn's reloader needs an import string for
the app; ours is built from settings, so the child builds it again instead.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change, run_process

from portal_mock.paths import DEFAULT_CONTROLS_SPEC
from portal_mock.settings import Settings

Serve = Callable[[Settings, str, socket.socket], int]


def watched_files(settings: Settings) -> set[Path]:
    """The files whose change restarts the server: both specs and the fixtures."""
    files = {settings.spec, DEFAULT_CONTROLS_SPEC}
    if settings.fixtures is not None:
        files.add(settings.fixtures)
    return {path.resolve() for path in files}


def _stop_when_orphaned(parent: int) -> None:
    """SIGTERM this process once ``parent`` is gone, so a killed supervisor leaves no server."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)


def _serve_child(settings: Settings, log_level: str, sock: socket.socket, serve: Serve) -> int:
    watchdog = threading.Thread(target=_stop_when_orphaned, args=(os.getppid(),), daemon=True)
    watchdog.start()
    # watchfiles tells a restarted child which files changed (an empty list on
    # the first start): --reset empties the durable store on the first start
    # only, never because the spec was edited.
    if os.environ.get("WATCHFILES_CHANGES", "[]") != "[]":
        settings = dataclasses.replace(settings, reset=False)
    return serve(settings, log_level, sock)


def serve_with_reload(settings: Settings, log_level: str, sock: socket.socket, serve: Serve) -> int:
    """Run ``serve`` in a child, again after each change, until SIGINT or SIGTERM; return 0."""
    files = watched_files(settings)

    # Folders are watched, not the files: an editor that saves by renaming a
    # new file over the old one would leave a watch on the file itself blind.
    def is_watched(_change: Change, path: str) -> bool:
        return Path(path).resolve() in files

    def announce(changes: set[tuple[Change, str]]) -> None:
        names = ", ".join(sorted({Path(path).name for _, path in changes}))
        print(f"portal-mock: {names} changed, restarting", flush=True)

    print("portal-mock: reloading when these change: " + ", ".join(map(str, sorted(files))))
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

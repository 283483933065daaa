"""``serve --workers N``: N server processes on one listening socket, one shared store.

The supervisor checks the spec and seeds the store once, before any worker
serves: a worker that starts later (one started again after a crash) never
seeds, so it cannot load the fixtures over links a client has written since.
Then it forks the workers, which share the socket the supervisor bound (the
kernel hands each connection to one of them), prints the banner once all are
accepting, starts a worker again when one dies, and stops them all on SIGINT
or SIGTERM. Only a store every process can share (PostgreSQL) is served so;
settings.py refuses ``--workers`` with a store file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.context import ForkProcess
from types import FrameType
from typing import Any

from portal_mock.settings import Settings

# How long start-up may take before the supervisor gives up on a worker, how long
# the workers have to finish their requests on a stop, and the pause before a
# dead worker is started again (so that one failing at start-up cannot spin).
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
RESTART_PAUSE = 1.0
EXIT_OK, EXIT_USAGE = 0, 2

Run = Callable[[Settings, str, socket.socket, Callable[[], None]], int]


def prepare(settings: Settings) -> None:
    """Check the spec, keys and fixtures and seed the store, as one server's start-up would."""
    from portal_mock.app import create_app
    from portal_mock.store import open_store

    store = open_store(settings.db)
    try:
        create_app(settings, store, seed=True)
    finally:
        store.close()


class Supervisor:
    """Keeps ``count`` workers running ``run`` until stopped."""

    def __init__(self, settings: Settings, log_level: str, sock: socket.socket, run: Run) -> None:
        self.settings, self.log_level, self.sock, self.run = settings, log_level, sock, run
        self.context = multiprocessing.get_context("fork")
        self.ready = self.context.SimpleQueue()
        self.workers: list[ForkProcess] = []
        self.stopping = threading.Event()

    def start_worker(self) -> ForkProcess:
        worker = self.context.Process(target=self._worker, name="portal-mock-worker")
        worker.start()
        self.workers.append(worker)
        return worker

    def _worker(self) -> None:
        # The supervisor's own handlers must not run here: uvicorn installs its own.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        supervisor = os.getppid()
        threading.Thread(target=stop_when_orphaned, args=(supervisor,), daemon=True).start()
        sys.exit(self.run(self.settings, self.log_level, self.sock, self._announce))

    def _announce(self) -> None:
        self.ready.put(os.getpid())

    def wait_until_ready(self, count: int) -> bool:
        """Whether ``count`` workers said they accept before any died or time ran out."""
        deadline = time.monotonic() + START_TIMEOUT
        ready = 0
        while ready < count and time.monotonic() < deadline and not self.stopping.is_set():
            if any(not worker.is_alive() for worker in self.workers):
                return False
            while ready < count and not self.ready.empty():
                self.ready.get()
                ready += 1
            time.sleep(0.05)
        return ready == count

    def keep_running(self) -> None:
        """Start a worker again each time one ends, until stopped."""
        while not self.stopping.wait(0.2):
            for worker in [w for w in self.workers if not w.is_alive()]:
                self.workers.remove(worker)
                print(f"portal-mock: worker {worker.pid} ended (exit {worker.exitcode}); "
                      "starting another", file=sys.stderr, flush=True)  # fmt: skip
                if self.stopping.wait(RESTART_PAUSE):
                    return
                self.start_worker()
            while not self.ready.empty():
                self.ready.get()

    def stop(self) -> None:
        """SIGTERM every worker, wait for them to finish their requests, then SIGKILL."""
        for worker in self.workers:
            if worker.is_alive() and worker.pid is not None:
                os.kill(worker.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for worker in self.workers:
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                worker.kill()
                worker.join()

    def on_signal(self, _sig: int, _frame: FrameType | None) -> None:
        self.stopping.set()


def stop_when_orphaned(parent: int) -> None:
    """SIGTERM this process once ``parent`` is gone (killed with -9, say), so that a
    supervisor's end (``--workers``, ``--reload``) leaves no server behind."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)


def serve_workers(
    settings: Settings,
    log_level: str,
    sock: socket.socket,
    run: Run,
    announce: Callable[[list[int]], None],
) -> int:
    """Serve with ``settings.workers`` processes until SIGINT or SIGTERM; 0, or 2 if they
    could not start."""
    try:
        prepare(settings)
    except Exception as exc:  # noqa: BLE001 - any start-up failure is one line and exit 2
        sock.close()
        print(f"portal-mock: cannot start: {exc}", file=sys.stderr)
        return EXIT_USAGE
    # Seeded once, above: no worker loads the fixtures or empties the store again.
    settings = dataclasses.replace(settings, reset=False)
    supervisor = Supervisor(settings, log_level, sock, run)
    previous: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, supervisor.on_signal)
    try:
        for _ in range(settings.workers):
            supervisor.start_worker()
        if not supervisor.wait_until_ready(settings.workers):
            if supervisor.stopping.is_set():
                return EXIT_OK
            print("portal-mock: cannot start: a worker did not start", file=sys.stderr)
            return EXIT_USAGE
        announce([worker.pid for worker in supervisor.workers if worker.pid is not None])
        supervisor.keep_running()
        return EXIT_OK
    finally:
        supervisor.stop()
        for sig, handler in previous.items():
            with contextlib.suppress(TypeError, ValueError):
                signal.signal(sig, handler)
        sock.close()

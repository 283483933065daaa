"""Group commit: one writer thread makes queued journal records durable, many per fsync.

A write computes its change (``changes.Change``), queues it here and waits on the future it gets
back: a thread waits with ``result()``, a coroutine awaits it without blocking
the event loop. The writer thread takes every change queued so far, appends
their records to the journal with one fsync, hands them to ``committed`` (which applies
them to memory) and only then resolves their futures, so an acknowledged write
is on disk and visible. When the journal refuses a batch, ``failed`` is told
and decides what else fails with it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future

from portal_mock.store.changes import Change
from portal_mock.store.journal import Journal, JournalWriteFailed

logger = logging.getLogger(__name__)

Queued = tuple[Change, "Future[None]"]


class GroupCommit:
    """The journal's one writer; ``submit`` from any thread, ``close`` once."""

    def __init__(
        self,
        journal: Journal,
        committed: Callable[[list[Queued]], None],
        failed: Callable[[list[Queued], JournalWriteFailed], None],
    ) -> None:
        self._journal = journal
        self._committed = committed
        self._failed = failed
        self._queue: list[Queued] = []
        self._ready = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="portal-mock-journal", daemon=True)
        self._thread.start()

    def submit(self, change: Change) -> Future[None]:
        future: Future[None] = Future()
        with self._ready:
            if self._closing:
                raise RuntimeError("the store is closed")
            self._queue.append((change, future))
            self._ready.notify()
        return future

    def take_queued(self) -> list[Queued]:
        """Remove and return what is queued and not yet written (after a failed batch)."""
        with self._ready:
            queued, self._queue = self._queue, []
        return queued

    def close(self) -> None:
        """Write what is queued, then stop the writer thread."""
        with self._ready:
            self._closing = True
            self._ready.notify()
        self._thread.join()

    def _next_batch(self) -> list[Queued] | None:
        with self._ready:
            while not self._queue and not self._closing:
                self._ready.wait()
            if not self._queue:
                return None  # closing, and nothing left to write
            batch, self._queue = self._queue, []
        return batch

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            try:
                self._journal.append_many([change.record for change, _ in batch])
            except JournalWriteFailed as exc:
                self._failed(batch, exc)
                continue
            try:
                self._committed(batch)
            except Exception:  # the records are durable; say so rather than hang the writers
                logger.exception("applying a committed batch failed")
            for _, future in batch:
                future.set_result(None)

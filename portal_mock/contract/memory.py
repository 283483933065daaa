"""What one run has seen: the context of each call, and the server-assigned fields of each link.

Schemathesis hooks and checks are plain functions registered once per process,
and ``portal-mock contract`` gives each ``st run`` a process of its own: one run
per process, so ``RUN`` below is that run's memory. Workers call in from several
threads, hence the lock.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from portal_mock.contract.probe import Probe, Snapshot, new_client
from portal_mock.contract.spec import Spec

# Server-assigned or immutable fields, and how each may change.
IMMUTABLE = ("_id", "workorder", "created_at")
CREDENTIALS = ("access_token", "url")
TRACKED = (*IMMUTABLE, *CREDENTIALS, "updated_at")


@dataclass(frozen=True)
class CallContext:
    """Taken just before a call: how to reach the target, and the link as it was."""

    probe: Probe
    before: Snapshot | None = None


class RunMemory:
    """Call contexts by case id (the most recent ``capacity``) and tracked fields by link id."""

    def __init__(self, capacity: int = 4096) -> None:
        self._lock = threading.Lock()
        self._calls: OrderedDict[str, CallContext] = OrderedDict()
        self._capacity = capacity
        self._links: dict[str, dict[str, Any]] = {}
        self._spec: Spec | None = None
        self._client: httpx.Client | None = None
        self._writes = 0
        self._read_at: dict[str, tuple[int, Any]] = {}

    def client(
        self, transport: Mapping[str, Any], timeout: float | None, proxy: str | None
    ) -> httpx.Client:
        """The run's one client for the checks' own requests (keep-alive, thread-safe)."""
        with self._lock:
            if self._client is None:
                self._client = new_client(transport, timeout, proxy)
            return self._client

    def spec_for(self, raw: Mapping[str, Any]) -> Spec:
        """The ``Spec`` view of the run's schema, built once."""
        with self._lock:
            if self._spec is None or self._spec.raw is not raw:
                self._spec = Spec(raw)
            return self._spec

    def wrote(self) -> None:
        """A request that may change the target went out: what was read before is stale."""
        with self._lock:
            self._writes += 1

    def cached(self, key: str, read: Callable[[], Any]) -> Any:
        """``read()``, or what it gave last time if no request could have changed it since."""
        with self._lock:
            found = self._read_at.get(key)
            writes = self._writes
        if found is not None and found[0] == writes:
            return found[1]
        value = read()
        with self._lock:
            self._read_at[key] = (writes, value)
        return value

    def remember(self, case_id: str, context: CallContext) -> None:
        with self._lock:
            self._calls[case_id] = context
            self._calls.move_to_end(case_id)
            while len(self._calls) > self._capacity:
                self._calls.popitem(last=False)

    def recall(self, case_id: str) -> CallContext | None:
        with self._lock:
            return self._calls.get(case_id)

    def observe(self, link: Mapping[str, Any]) -> dict[str, Any] | None:
        """Record ``link``'s tracked fields; return what was recorded for its id before, if any."""
        seen = {name: link.get(name) for name in TRACKED}
        with self._lock:
            previous = self._links.get(str(link.get("_id")))
            self._links[str(link.get("_id"))] = seen
        return previous


RUN = RunMemory()

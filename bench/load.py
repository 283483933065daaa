"""What the bench sends, and what one operation's run of it measured.

Every load generator (wrk in the side by side, a one-at-a-time client in the
scale test) sends the requests ``request_for`` builds, so each server gets the
same paths, ids and bodies; only the spelling of a page and of an update
differs, where a server would read ours differently (``Dialect``). Any
response that is not 2xx, or no response, counts as an error.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import psutil

from data import API_KEY, COLLECTION, create_body, update_body

# Delete comes last: it takes links away from the store it runs on.
OPERATIONS = (
    "list",
    "list_1",
    "get",
    "create",
    "update",
    "regenerate",
    "activate",
    "deactivate",
    "delete",
)
ACTIONS = ("regenerate", "activate", "deactivate")
WRITES = ("create", "update", *ACTIONS, "delete")
PAGE_SIZE = 25


@dataclass(frozen=True)
class Dialect:
    """How one server spells a page and an update; the bodies and ids sent are the same."""

    page_query: str
    update_method: str
    # Whether answers wrap the link (or the page of links) in {"success": ..., "data": ...}.
    envelope: bool


SPEC_DIALECT = Dialect("page={page}&per_page={size}", "PUT", envelope=True)
# json-server takes unknown query parameters as filters and PUT as a whole replacement.
JSON_SERVER_DIALECT = Dialect("_page={page}&_limit={size}", "PATCH", envelope=False)


@dataclass(frozen=True)
class Target:
    url: str
    dialect: Dialect
    ids: Sequence[str]
    workorders: Sequence[str] = ()


class Request(NamedTuple):
    method: str
    path: str
    body: Any  # the JSON body as Python values, or None


@dataclass
class Result:
    operation: str
    requests: int = 0
    elapsed: float = 0.0
    # Latency by percentile (50, 99, ...), in seconds.
    percentiles: dict[float, float] = field(default_factory=dict)
    # Count by status code ("200") or by failure without a response ("timeout").
    statuses: Counter[str] = field(default_factory=Counter)
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    machine_cpu: float = 0.0
    peak_rss: int = 0

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if not status.startswith("2"))

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    def percentile(self, q: float) -> float:
        return self.percentiles.get(q, math.nan)


def nearest_rank(latencies: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` percentile of ``latencies``."""
    ordered = sorted(latencies)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)] if ordered else math.nan


SORTABLE = ("_id", "workorder", "link_type", "expiry_date", "is_active", "created_at", "updated_at")


def page_path(dialect: Dialect, page: int, size: int) -> str:
    return f"/{COLLECTION}?" + dialect.page_query.format(page=page, size=size)


def request_for(operation: str, target: Target, seq: int) -> Request:
    """Request number ``seq`` of ``operation``; by-id operations cycle over ``target.ids``."""
    base = f"/{COLLECTION}"
    match operation:
        case "list":
            return Request("GET", page_path(target.dialect, 1, PAGE_SIZE), None)
        case "list_1":
            return Request("GET", page_path(target.dialect, 1, 1), None)
        case "list_sorted":
            # Each sortable field in turn, ascending then descending.
            field = SORTABLE[seq % len(SORTABLE)]
            order = field if (seq // len(SORTABLE)) % 2 == 0 else f"-{field}"
            return Request("GET", f"{page_path(target.dialect, 1, PAGE_SIZE)}&sort={order}", None)
        case "list_workorder":
            workorder = target.workorders[seq % len(target.workorders)]
            return Request("GET", f"{base}?workorder={workorder}", None)
        case "get":
            return Request("GET", _link(target, seq), None)
        case "create":
            return Request("POST", base, create_body(seq))
        case "update":
            return Request(target.dialect.update_method, _link(target, seq), update_body(seq))
        case "delete":
            return Request("DELETE", _link(target, seq), None)
        case "regenerate" | "activate" | "deactivate":
            return Request("POST", f"{_link(target, seq)}/{operation}", None)
    raise ValueError(f"unknown operation {operation!r}")


def _link(target: Target, seq: int) -> str:
    return f"/{COLLECTION}/{target.ids[seq % len(target.ids)]}"


def requests_for(operation: str, target: Target, seqs: Iterable[int]) -> list[Request]:
    return [request_for(operation, target, seq) for seq in seqs]


def headers_for(body: Any) -> dict[str, str]:
    """The headers a request carries: the API key, and the body's type when it has one."""
    headers = {"X-API-Key": API_KEY}
    if body is not None:
        headers["Content-Type"] = "application/json"
    return headers


def busy_seconds() -> float:
    """CPU time the whole machine has spent busy, all processes and cores together."""
    times = psutil.cpu_times()
    # Linux also counts guest time inside user; steal is time the host took away.
    busy = ("user", "nice", "system", "irq", "softirq")
    return sum(getattr(times, name, 0.0) for name in busy)

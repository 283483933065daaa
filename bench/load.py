"""The load generator: the same operations against any peer, at a fixed concurrency.

Workers share one request budget and one deadline, so a slow server is
measured on fewer requests rather than stretching the run. Latency is timed
around each whole request (send, wait, read the body); any response that is
not 2xx, or no response, counts as an error.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import psutil

from data import COLLECTION, create_body, update_body

OPERATIONS = ("list", "get", "create", "update")


@dataclass(frozen=True)
class Dialect:
    """How one server spells the operations; the bodies and ids sent are the same."""

    list_query: str
    update_method: str


SPEC_DIALECT = Dialect("page=1&per_page=25", "PUT")
# json-server takes unknown query parameters as filters and PUT as a whole replacement.
JSON_SERVER_DIALECT = Dialect("_page=1&_limit=25", "PATCH")


@dataclass(frozen=True)
class Target:
    url: str
    dialect: Dialect
    ids: Sequence[str]
    workorders: Sequence[str] = ()


@dataclass(frozen=True)
class Plan:
    """How hard and how long to load one operation."""

    concurrency: int = 16
    requests: int = 2000
    warmup: int = 100
    time_cap: float = 30.0


@dataclass
class Result:
    operation: str
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    machine_cpu: float = 0.0
    peak_rss: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if not status.startswith("2"))

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    def percentile(self, q: float) -> float:
        """The nearest-rank ``q`` percentile of the latencies, in seconds."""
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)] if ordered else math.nan


def request_for(operation: str, target: Target, seq: int) -> tuple[str, str, Any]:
    """Method, path and JSON body (or None) of request number ``seq`` of ``operation``."""
    base = f"/{COLLECTION}"
    link = f"{base}/{target.ids[seq % len(target.ids)]}"
    match operation:
        case "list":
            return "GET", f"{base}?{target.dialect.list_query}", None
        case "list_workorder":
            return (
                "GET",
                f"{base}?workorder={target.workorders[seq % len(target.workorders)]}",
                None,
            )
        case "get":
            return "GET", link, None
        case "create":
            return "POST", base, create_body(seq)
        case "update":
            return target.dialect.update_method, link, update_body(seq)
    raise ValueError(f"unknown operation {operation!r}")


async def _send(client: aiohttp.ClientSession, operation: str, target: Target, seq: int) -> str:
    method, path, body = request_for(operation, target, seq)
    data = None if body is None else json.dumps(body).encode()
    headers = {} if body is None else {"Content-Type": "application/json"}
    try:
        async with client.request(method, path, data=data, headers=headers) as response:
            await response.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        return type(exc).__name__
    return str(response.status)


async def _drive(
    client: aiohttp.ClientSession, operation: str, target: Target, plan: Plan, first: int
) -> Result:
    """Send ``plan.requests`` requests from ``plan.concurrency`` workers, or stop at the cap."""
    result = Result(operation)
    seqs = iter(range(first, first + plan.requests))
    deadline = time.perf_counter() + plan.time_cap

    async def worker() -> None:
        for seq in seqs:
            started = time.perf_counter()
            if started > deadline:
                return
            status = await _send(client, operation, target, seq)
            result.latencies.append(time.perf_counter() - started)
            result.statuses[status] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(plan.concurrency)))
    result.elapsed = time.perf_counter() - started
    return result


async def _load(
    operation: str, target: Target, plan: Plan, server_cpu: Callable[[], float]
) -> Result:
    # aiohttp, not httpx: on two cores httpx's client spends about 1 ms of CPU
    # per request, aiohttp about 0.2 ms, and the client shares the cores.
    headers = {"X-API-Key": "dev-key", "Accept-Encoding": "identity"}
    connector = aiohttp.TCPConnector(limit=plan.concurrency)
    timeout = aiohttp.ClientTimeout(total=300.0)
    async with aiohttp.ClientSession(
        target.url, connector=connector, headers=headers, timeout=timeout
    ) as client:
        if plan.warmup:
            warm = Plan(plan.concurrency, plan.warmup, 0, plan.time_cap)
            await _drive(client, operation, target, warm, first=0)
        cpu = server_cpu(), time.process_time(), busy_seconds()
        result = await _drive(client, operation, target, plan, first=plan.warmup)
    result.server_cpu = (server_cpu() - cpu[0]) / result.elapsed
    result.client_cpu = (time.process_time() - cpu[1]) / result.elapsed
    result.machine_cpu = (busy_seconds() - cpu[2]) / result.elapsed
    return result


def busy_seconds() -> float:
    """CPU time the whole machine has spent busy, all processes and cores together."""
    times = psutil.cpu_times()
    # Linux also counts guest time inside user; steal is time the host took away.
    busy = ("user", "nice", "system", "irq", "softirq")
    return sum(getattr(times, name, 0.0) for name in busy)


def run(
    operation: str, target: Target, plan: Plan, server_cpu: Callable[[], float] = lambda: 0.0
) -> Result:
    """Warm up, then load ``target`` with ``operation`` as ``plan`` says.

    CPU use is recorded as cores busy during the measured requests: the
    server's, the load generator's and the whole machine's (so that another
    process competing for the cores shows up in the report).
    """
    return asyncio.run(_load(operation, target, plan, server_cpu))

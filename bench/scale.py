"""How our mock's create and list latency grow with the store: 1k, 10k and 100k stored links.

Each size starts a fresh server on a store seeded by writing its snapshot file
directly, then times one request at a time (no concurrency), so the numbers
are latency, not queueing. Requests per operation are capped by count and by
time, so a slow store is measured on fewer samples instead of running long.
One request at a time is not a load a Python client can fail to keep up
with, so this test keeps its own small aiohttp client rather than wrk, and
times each request whole (send, wait, read the body).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

import load
import peers
from data import make_links, write_store_snapshot
from portal_mock.store.journal import Journal, journals_of
from portal_mock.store.snapshot import read_snapshot

SIZES = (1_000, 10_000, 100_000)
# Create, a list filtered by work order (4 links match), the unfiltered first page,
# a first page sorted by each sortable field in turn.
OPERATIONS = ("create", "list_workorder", "list", "list_sorted")
# Creates timed while a compaction runs: the journal is filled first to just
# under the snapshot's size, so that the first creates start one.
COMPACTING = "create_compacting"
_JOURNAL_MARGIN = 64 * 1024
PROBES = 100
WARMUP = 2


@dataclass
class ScaleResult:
    size: int
    start_seconds: float
    file_bytes: int
    peak_rss: int = 0
    results: dict[str, load.Result] = field(default_factory=dict)
    compaction_started: bool | None = None


def samples_for(size: int, most: int) -> int:
    """Fewer samples for bigger stores: ``most`` up to 10k links, 24 at 100k."""
    return max(24, min(most, 2_400_000 // size))


def _seed(size: int, db: Path) -> load.Target:
    """Write a store of ``size`` links; a target (without url) probing links all through it."""
    links = make_links(size)
    write_store_snapshot(db, links)
    probes = links[:: max(1, size // PROBES)]
    ids = [link["_id"] for link in probes]
    return load.Target("", load.SPEC_DIALECT, ids, [link["workorder"] for link in probes])


async def _send(client: aiohttp.ClientSession, request: load.Request) -> str:
    """Send one request and read its answer; its status, or the failure's name."""
    data = None if request.body is None else json.dumps(request.body).encode()
    headers = load.headers_for(request.body)
    try:
        async with client.request(request.method, request.path, data=data, headers=headers) as r:
            await r.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        return type(exc).__name__
    return str(r.status)


async def _samples(
    client: aiohttp.ClientSession, operation: str, target: load.Target, samples: int, cap: float
) -> load.Result:
    """Time ``samples`` requests one after the other, or as many as fit in ``cap`` seconds."""
    result = load.Result(operation)
    latencies: list[float] = []
    started = time.perf_counter()
    for seq in range(WARMUP, WARMUP + samples):
        sent = time.perf_counter()
        if sent - started > cap:
            break
        result.statuses[await _send(client, load.request_for(operation, target, seq))] += 1
        latencies.append(time.perf_counter() - sent)
    result.elapsed = time.perf_counter() - started
    result.requests = len(latencies)
    result.percentiles = {q: load.nearest_rank(latencies, q) for q in (50, 99)}
    return result


async def _time(
    operation: str, target: load.Target, samples: int, cap: float, server_cpu: Callable[[], float]
) -> load.Result:
    """Warm up, then time ``operation``, with the cores kept busy meanwhile.

    CPU use is recorded as cores busy while timing: the server's, this
    client's and the whole machine's.
    """
    # aiohttp asks for gzip unless told otherwise; wrk does not.
    session = {"Accept-Encoding": "identity"}
    async with aiohttp.ClientSession(target.url, headers=session) as client:
        for seq in range(WARMUP):
            await _send(client, load.request_for(operation, target, seq))
        cpu = server_cpu(), time.process_time(), load.busy_seconds()
        result = await _samples(client, operation, target, samples, cap)
    wall = max(result.elapsed, 1e-9)
    result.server_cpu = (server_cpu() - cpu[0]) / wall
    result.client_cpu = (time.process_time() - cpu[1]) / wall
    result.machine_cpu = (load.busy_seconds() - cpu[2]) / wall
    return result


def measure(size: int, workdir: Path, most: int, time_cap: float) -> ScaleResult:
    """Seed a store of ``size`` links, start our mock on it and time each operation."""
    db = workdir / f"scale-{size}.json"
    probes = _seed(size, db)
    started = time.perf_counter()
    with peers.ours(db, workdir) as server:
        result = ScaleResult(size, time.perf_counter() - started, db.stat().st_size)
        target = dataclasses.replace(probes, url=server.url)
        samples = samples_for(size, most)
        for operation in OPERATIONS:
            cpu = server.memory.cpu_seconds
            timing = _time(operation, target, samples, time_cap, cpu)
            result.results[operation] = asyncio.run(timing)
            print(f"  {size:>7} links  {operation:<15} {_summary(result.results[operation])}")
    result.peak_rss = server.memory.peak_rss
    if size == max(SIZES):
        timed, result.compaction_started = _while_compacting(db, workdir, probes, samples, time_cap)
        result.results[COMPACTING] = timed
    for leftover in workdir.glob(f"{db.name}*"):
        leftover.unlink()
    return result


def _while_compacting(
    db: Path, workdir: Path, probes: load.Target, samples: int, time_cap: float
) -> tuple[load.Result, bool]:
    """Creates one at a time while the store folds a journal as large as its snapshot;
    and whether a compaction started (the journal was sealed and begun afresh)."""
    _, journal = journals_of(db)
    full = _fill_journal(db, journal)
    with peers.ours(db, workdir) as server:
        target = dataclasses.replace(probes, url=server.url)
        timing = _time("create", target, max(samples, 200), time_cap, server.memory.cpu_seconds)
        result = asyncio.run(timing)
        result.operation = COMPACTING
        started = journal.stat().st_size < full
    print(f"  {'':>7}        {COMPACTING:<15} {_summary(result)} compaction started: {started}")
    return result, started


def _fill_journal(db: Path, path: Path) -> int:
    """Journal re-puts of the stored links up to just under the snapshot's size; its size."""
    links, _ = read_snapshot(db)
    journal = Journal(path)
    try:
        goal = db.stat().st_size - _JOURNAL_MARGIN
        for start in itertools.count(0, 1000):
            batch = links[start % len(links) :][:1000]
            journal.append_many([b'{"put":%s}' % raw for raw in batch])
            if journal.size >= goal:
                return journal.size
    finally:
        journal.close()
    raise AssertionError("unreachable")


def _summary(result: load.Result) -> str:
    p50, p99 = result.percentile(50) * 1000, result.percentile(99) * 1000
    return f"n={result.requests} p50={p50:.1f} ms p99={p99:.1f} ms errors={result.errors}"


def run(sizes: tuple[int, ...], workdir: Path, most: int, time_cap: float) -> list[ScaleResult]:
    return [measure(size, workdir, most, time_cap) for size in sizes]

"""How our mock's create and list latency grow with the store: 1k, 10k and 100k stored links.

Each size starts a fresh server on a store seeded by writing its snapshot file
directly, then times one request at a time (no concurrency), so the numbers
are latency, not queueing. Requests per operation are capped by count and by
time, so a slow store is measured on fewer samples instead of running long.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

import load
import peers
from data import make_links, write_store_snapshot

SIZES = (1_000, 10_000, 100_000)
# Create, a list filtered by work order (4 links match), the unfiltered first page.
OPERATIONS = ("create", "list_workorder", "list")
PROBES = 100


@dataclass
class ScaleResult:
    size: int
    start_seconds: float
    file_bytes: int
    peak_rss: int = 0
    results: dict[str, load.Result] = field(default_factory=dict)


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


def measure(size: int, workdir: Path, most: int, time_cap: float) -> ScaleResult:
    """Seed a store of ``size`` links, start our mock on it and time each operation."""
    db = workdir / f"scale-{size}.json"
    probes = _seed(size, db)
    started = time.perf_counter()
    with peers.ours(db, workdir) as server:
        result = ScaleResult(size, time.perf_counter() - started, db.stat().st_size)
        target = dataclasses.replace(probes, url=server.url)
        samples = samples_for(size, most)
        plan = load.Plan(concurrency=1, requests=samples, warmup=2, time_cap=time_cap)
        for operation in OPERATIONS:
            result.results[operation] = load.run(operation, target, plan, server.memory.cpu_seconds)
            print(f"  {size:>7} links  {operation:<15} {_summary(result.results[operation])}")
    result.peak_rss = server.memory.peak_rss
    for leftover in workdir.glob(f"{db.name}*"):
        leftover.unlink()
    return result


def _summary(result: load.Result) -> str:
    p50, p99 = result.percentile(50) * 1000, result.percentile(99) * 1000
    return f"n={result.requests} p50={p50:.1f} ms p99={p99:.1f} ms errors={result.errors}"


def run(sizes: tuple[int, ...], workdir: Path, most: int, time_cap: float) -> list[ScaleResult]:
    return [measure(size, workdir, most, time_cap) for size in sizes]

"""Side by side: our mock, Prism's mock and json-server, on the same data and the same requests.

Ours and json-server start from the 24 sample links (ours as a store
snapshot, json-server as its db.json); Prism serves the spec's static
examples and stores nothing. The operations run in the order list, get,
create, update, each after its own warm-up; get and update cycle over the
sample links' ids.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import load
import peers
from data import fixtures, write_json_server_db, write_store_snapshot

PEERS = ("ours", "prism", "json-server")
NODE_PEERS = ("prism", "json-server")


@dataclass
class PeerResult:
    name: str
    results: dict[str, load.Result] = field(default_factory=dict)


def _launcher(
    name: str, workdir: Path
) -> Callable[[], contextlib.AbstractContextManager[peers.Server]]:
    links = fixtures()
    if name == "ours":
        db = workdir / "compare-ours.json"
        write_store_snapshot(db, links)
        return lambda: peers.ours(db, workdir)
    if name == "json-server":
        db = workdir / "compare-db.json"
        write_json_server_db(db, links)
        return lambda: peers.json_server(db, workdir)
    return lambda: peers.prism(workdir)


def measure(name: str, workdir: Path, plan: load.Plan) -> PeerResult:
    """Start one peer, load it with each operation in turn, stop it."""
    result = PeerResult(name)
    dialect = load.JSON_SERVER_DIALECT if name == "json-server" else load.SPEC_DIALECT
    ids = [link["_id"] for link in fixtures()]
    launch = _launcher(name, workdir)
    with launch() as server:
        target = load.Target(server.url, dialect, ids)
        for operation in load.OPERATIONS:
            server.memory.start_window()
            outcome = load.run(operation, target, plan, server.memory.cpu_seconds)
            server.memory.sample()
            outcome.peak_rss = server.memory.window_peak
            result.results[operation] = outcome
            print(f"  {name:<12} {operation:<7} {_summary(outcome)}")
    return result


def _summary(result: load.Result) -> str:
    p50, p99 = result.percentile(50) * 1000, result.percentile(99) * 1000
    errors = f" errors={result.errors} {dict(result.statuses)}" if result.errors else ""
    return f"{result.rps:8.0f} req/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms{errors}"


def run(names: tuple[str, ...], workdir: Path, plan: load.Plan) -> list[PeerResult]:
    return [measure(name, workdir, plan) for name in names]

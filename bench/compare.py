"""Side by side: our mock, Prism's mock and json-server, on the same data and the same requests.

Ours and json-server start from the 24 sample links (ours as a store
snapshot, json-server as its db.json); Prism serves the spec's static
examples and stores nothing. Each server runs on core 0 and wrk on core 1
(``wrk.py``). The operations run in the order of ``load.OPERATIONS``, each
after its own warm-up; by-id operations cycle over the sample links' ids,
except delete on the servers that store links, which walks through a pool of
distinct stored ids (``pool.py``) so that each delete removes a link.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import load
import peers
import pool
import wrk
from data import fixtures, write_json_server_db, write_store_snapshot

PEERS = ("ours", "prism", "json-server")
NODE_PEERS = ("prism", "json-server")
SERVER_CORE = 0
# What each peer runs, in order. Prism answers any page with its example of
# one link, so it is compared at one link a page (list_1) only; json-server
# has no regenerate, activate or deactivate.
PEER_OPERATIONS = {
    "ours": load.OPERATIONS,
    "prism": tuple(op for op in load.OPERATIONS if op != "list"),
    "json-server": ("list", "get", "create", "update", "delete"),
}
# Servers that store links, so that a delete needs a link of its own.
STATEFUL = ("ours", "json-server")
# How many distinct requests a script cycles through (create bodies differ by number).
CYCLE = 1000
# How many more links a delete pool holds than the deletes expected at the
# warm-up's pace. json-server rewrites its whole file on every write, so it
# deletes faster as the file shrinks: it gets through a pool in about half
# the time its first deletes suggest.
DELETE_MARGIN = {"ours": 1.5, "json-server": 3.0}
# How many times a delete run that outpaced its pool is tried.
DELETE_TRIES = 3


@dataclass
class PeerResult:
    name: str
    results: dict[str, load.Result] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def check_cores() -> None:
    """The server's and wrk's cores must both be ours to use."""
    wanted = {SERVER_CORE, wrk.CLIENT_CORE}
    if not wanted <= os.sched_getaffinity(0):
        raise RuntimeError(f"the side by side needs cores {sorted(wanted)}, one for each side")


def _launcher(
    name: str, workdir: Path
) -> Callable[[], contextlib.AbstractContextManager[peers.Server]]:
    links = fixtures()
    if name == "ours":
        db = workdir / "compare-ours.json"
        write_store_snapshot(db, links)
        return lambda: peers.ours(db, workdir, SERVER_CORE)
    if name == "json-server":
        db = workdir / "compare-db.json"
        write_json_server_db(db, links)
        return lambda: peers.json_server(db, workdir, SERVER_CORE)
    return lambda: peers.prism(workdir, SERVER_CORE)


def _cycled(operation: str, target: load.Target) -> tuple[list[load.Request], list[load.Request]]:
    """Warm-up and measured requests: two runs of ``CYCLE``, numbered on from each other."""
    warmup = load.requests_for(operation, target, range(CYCLE))
    return warmup, load.requests_for(operation, target, range(CYCLE, 2 * CYCLE))


def _measured(
    server: peers.Server, operation: str, requests: list[load.Request], plan: wrk.Plan
) -> load.Result:
    """The measured run; its peak memory is the server tree's during the run."""
    server.memory.start_window()
    result = wrk.run(server, operation, requests, plan)
    server.memory.sample()
    result.peak_rss = server.memory.window_peak
    return result


def _deletes(target: load.Target, ids: list[str]) -> list[load.Request]:
    """One delete for each of ``ids``, in order."""
    walk = dataclasses.replace(target, ids=ids)
    return load.requests_for("delete", walk, range(len(ids)))


def _delete_run(
    peer: PeerResult, server: peers.Server, target: load.Target, plan: wrk.Plan, pace: float
) -> tuple[load.Result, int]:
    """One measured delete run over a pool for ``pace`` deletes a second; the pool's size."""
    stored = pool.stored_ids(target.url, target.dialect)
    ids = pool.topped_up(target.url, target.dialect, stored, math.ceil(pace * plan.duration))
    print(f"  {peer.name:<12} delete     {len(ids)} links to delete ({len(ids) - len(stored)} new)")
    return _measured(server, "delete", _deletes(target, ids), plan), len(ids)


def _delete(
    peer: PeerResult, server: peers.Server, target: load.Target, plan: wrk.Plan
) -> load.Result:
    """Delete distinct stored links, so that every delete can be a 200.

    The warm-up deletes the links the server stores already (those the create
    run added), and its pace sizes the measured run's pool: past its pool a
    script would start over and meet 404s, so the pool holds ``DELETE_MARGIN``
    times the deletes expected. A run that still outpaces its pool is run
    again, on a pool sized by its own pace.
    """
    stored = pool.stored_ids(target.url, target.dialect)
    warm = wrk.warm_up(server, "delete", _deletes(target, stored), plan)
    # Without a warm-up, size the pool by what the create run could have added.
    pace = warm.rps if warm.requests else len(stored) / (plan.warmup + plan.duration)
    for attempt in range(DELETE_TRIES):
        result, size = _delete_run(peer, server, target, plan, DELETE_MARGIN[peer.name] * pace)
        if result.requests <= size:
            return result
        pace = result.rps
        print(
            f"  {peer.name:<12} delete     outpaced its pool: try {attempt + 2} of {DELETE_TRIES}"
        )
    peer.notes.append(
        f"{peer.name} answered {result.requests} deletes for a pool of {size} links: the "
        "rest met links already deleted (404s). Raise DELETE_MARGIN in compare.py."
    )
    return result


def _one(peer: PeerResult, server: peers.Server, operation: str, plan: wrk.Plan) -> load.Result:
    target = load.Target(server.url, _dialect(peer.name), [link["_id"] for link in fixtures()])
    if operation == "delete" and peer.name in STATEFUL:
        return _delete(peer, server, target, plan)
    warmup, measured = _cycled(operation, target)
    wrk.warm_up(server, operation, warmup, plan)
    return _measured(server, operation, measured, plan)


def _dialect(name: str) -> load.Dialect:
    return load.JSON_SERVER_DIALECT if name == "json-server" else load.SPEC_DIALECT


def measure(name: str, plan: wrk.Plan) -> PeerResult:
    """Start one peer on its core, load it with each of its operations in turn, stop it."""
    peer = PeerResult(name)
    with _launcher(name, plan.workdir)() as server:
        for operation in PEER_OPERATIONS[name]:
            peer.results[operation] = _one(peer, server, operation, plan)
            print(f"  {name:<12} {operation:<10} {_summary(peer.results[operation])}", flush=True)
    return peer


def _summary(result: load.Result) -> str:
    p50, p99 = result.percentile(50) * 1000, result.percentile(99) * 1000
    errors = f" errors={result.errors} {dict(result.statuses)}" if result.errors else ""
    cpu = f"cpu server {result.server_cpu:.2f} wrk {result.client_cpu:.2f}"
    return f"{result.rps:8.0f} req/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  {cpu}{errors}"


def run(names: tuple[str, ...], plan: wrk.Plan) -> list[PeerResult]:
    check_cores()
    return [measure(name, plan) for name in names]

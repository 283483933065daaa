"""What the browser and test-run edges cost a get that does not use them.

    python bench/edge_overhead.py            # 5 rounds of 10 s of gets per build
    python bench/edge_overhead.py --quick    # 3 rounds of 3 s

Three builds of the mock serve the same 24 sample links side by side:

- ``edges on``: the mock as ``portal-mock serve`` runs it (CORS, the Prefer
  middleware, X-Mock-Session resolution, and the transport limits of
  portal_mock/transport_limits.py on every connection);
- ``edges off``: the same app and protocol with the CORS and Prefer
  middlewares taken out of Connexion's stack before it starts;
- ``no transport limits``: the mock as served, on uvicorn's own httptools
  protocol instead: what the limits on slow clients and large heads cost.

Each round loads one then the other with the same gets (X-API-Key, no Origin,
no Prefer, no X-Mock-Session: the paths are present but unused), alternating
which goes first; the load comes from wrk on core 1, and both builds run on
core 0 (taking turns: only one is loaded at a time). The goal (issue 7):
edges on costs at most 5% of the throughput. The session path cannot be
taken out; unused, it is one header lookup in handlers/common.py, present in
both builds. Writes bench/results/edge-overhead.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import compare
import load
import peers
import wrk
from data import fixtures, write_store_snapshot

RESULTS = Path(__file__).with_name("results")
GOAL = 0.05
EDGES = ("PathCORSMiddleware", "PreferMiddleware")
BUILDS = ("edges on", "edges off", "no transport limits")


def serve_build(build: str, db: str, port: int) -> None:
    """Serve the mock on ``db``: ``edges-off`` without the edge middlewares, ``plain`` on
    uvicorn's own protocol."""
    import uvicorn

    from portal_mock.app import create_app
    from portal_mock.cli import _collect_old_objects_rarely
    from portal_mock.settings import Settings
    from portal_mock.transport_limits import guarded_protocol, transport_limits

    settings = Settings(db=Path(db), fixtures=None, quiet=True)
    app = create_app(settings)
    _collect_old_objects_rarely()  # as `portal-mock serve` does, so that only the edge differs
    protocol: Any = guarded_protocol(transport_limits(settings))
    if build == "edges-off":
        stack = app.middleware.middlewares
        kept = [m for m in stack if getattr(getattr(m, "func", m), "__name__", "") not in EDGES]
        assert len(stack) - len(kept) == len(EDGES), "an edge middleware was not found"
        stack[:] = kept
    else:
        protocol = "httptools"
    uvicorn.run(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, http=protocol
    )


def bare(build: str, db: Path, workdir: Path) -> contextlib.AbstractContextManager[peers.Server]:
    port = peers.free_port()
    command = [sys.executable, __file__, "--serve-build", build, str(db), str(port)]
    wait = peers._wait_for_http_at(port)
    return peers.serving(build, command, workdir, wait, compare.SERVER_CORE)


def measure(rounds: int, plan: wrk.Plan) -> dict[str, list[load.Result]]:
    workdir = plan.workdir
    target = load.Target("", load.SPEC_DIALECT, [link["_id"] for link in fixtures()])
    gets = load.requests_for("get", target, range(len(target.ids)))
    dbs = {name: workdir / f"{name.replace(' ', '-')}.json" for name in BUILDS}
    for db in dbs.values():
        write_store_snapshot(db, fixtures())
    found: dict[str, list[load.Result]] = {name: [] for name in BUILDS}
    compare.check_cores()
    with (
        peers.ours(dbs["edges on"], workdir, compare.SERVER_CORE) as on,
        bare("edges-off", dbs["edges off"], workdir) as off,
        bare("plain", dbs["no transport limits"], workdir) as plain,
    ):
        servers = {"edges on": on, "edges off": off, "no transport limits": plain}
        for round_ in range(rounds):
            order = list(servers) if round_ % 2 == 0 else list(reversed(servers))
            for name in order:
                wrk.warm_up(servers[name], "get", gets, plan)
                result = wrk.run(servers[name], "get", gets, plan)
                assert not result.errors, dict(result.statuses)
                found[name].append(result)
                print(f"  round {round_ + 1} {name:<19} {result.rps:7.0f} req/s", flush=True)
    return found


def report(found: dict[str, list[load.Result]], plan: wrk.Plan) -> str:
    on = statistics.median(r.rps for r in found["edges on"])
    off = statistics.median(r.rps for r in found["edges off"])
    plain = statistics.median(r.rps for r in found["no transport limits"])
    overhead = 1 - on / off
    rows = [
        f"| {name} | {' / '.join(f'{r.rps:.0f}' for r in results)} | "
        f"{statistics.median(r.rps for r in results):.0f} | "
        f"{statistics.median(r.percentile(50) for r in results) * 1000:.1f} ms | "
        f"{statistics.median(r.percentile(99) for r in results) * 1000:.1f} ms |"
        for name, results in found.items()
    ]
    verdict = "met" if overhead <= GOAL else "NOT met"
    return "\n".join(
        [
            "# Edge overhead on a get (CORS, Prefer, sessions present but unused), "
            "and the transport limits' cost",
            "",
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
            f"{len(found['edges on'])} rounds of {plan.duration} s of gets from "
            f"{wrk.version()} ({wrk.THREADS} thread, {plan.connections} connections) on "
            f"core {wrk.CLIENT_CORE}, both builds on core {compare.SERVER_CORE}, alternating.",
            "",
            "| build | req/s per round | median req/s | p50 | p99 |",
            "|---|---|--:|--:|--:|",
            *rows,
            "",
            f"Edges on / edges off: **{on / off:.3f}** (overhead {overhead:.1%}; "
            f"goal at most {GOAL:.0%}: {verdict}).",
            "",
            f"Edges on / no transport limits: **{on / plain:.3f}** (the limits on slow "
            f"clients and large heads cost {1 - on / plain:.1%} of a get).",
            "",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds of 3 s")
    parser.add_argument("--serve-build", nargs=3, metavar=("BUILD", "DB", "PORT"))
    args = parser.parse_args()
    if args.serve_build:
        build, db, port = args.serve_build
        serve_build(build, db, int(port))
        return 0
    if wrk.find() is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    rounds, duration, warmup = (3, 3, 1) if args.quick else (5, 10, 2)
    with tempfile.TemporaryDirectory(prefix="portal-mock-edges-") as tmp:
        plan = wrk.Plan(Path(tmp), duration=duration, warmup=warmup)
        found = measure(rounds, plan)
    text = report(found, plan)
    print(text)
    if not args.quick:
        (RESULTS / "edge-overhead.md").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

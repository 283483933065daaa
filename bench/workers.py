"""Throughput at 1, 2 and 4 workers on PostgreSQL beside the embedded store; a filtered
list at 1,000,000 links.

    python bench/workers.py            # the full run (about 5 minutes on 2 cores)
    python bench/workers.py --quick    # a smaller run, to check that the bench works

Part 1 starts ``portal-mock serve`` on the embedded store (1 worker: it cannot
have more) and on a PostgreSQL store with 1, 2 and 4 workers, each on the same
1,000 links, and drives ``get``, ``list``, ``list_workorder`` and ``create``
with wrk (``wrk.py``), 16 connections. Nothing is pinned: on 2 cores, pinning
the servers and PostgreSQL to one core would leave a second worker no core to
run on, so the report gives the CPU each side used instead.

Part 2 loads 1,000,000 links (``--quick``: 100,000) into a fresh PostgreSQL
store with one ``INSERT ... SELECT ... FROM generate_series``, starts one
worker on it and times a filtered first page one request at a time, against
the goal "p50 and p99 under 20 ms"; the same on the embedded store at 100,000
links, for reference.

PostgreSQL runs in a throwaway cluster (tests/pg_cluster.py's LocalCluster,
imported) started with fsync on, as a real deployment runs it. Writes
bench/results/workers.md (``--quick``: workers-quick.md). Exit codes: 0 done,
1 some responses were not 2xx, 2 wrk or PostgreSQL is missing or a server did
not start, 130 interrupted. Every server and the cluster are stopped on the way out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import aiohttp
import psutil
import psycopg
from psycopg.types.json import Jsonb

import load
import peers
import report
import scale
import wrk
from data import (
    API_KEY,
    COLLECTION,
    ROOT,
    SERVER_FIELDS,
    SPEC,
    Link,
    fixtures,
    make_links,
    object_id,
    workorder_id,
    write_store_snapshot,
)
from portal_mock.store.postgres import PostgresLinkStore

sys.path.insert(0, str(ROOT / "tests"))
from pg_cluster import LocalCluster, _as_owner, _binary

RESULTS = Path(__file__).resolve().parent / "results"
WORKERS = (1, 2, 4)
OPERATIONS = ("get", "list", "list_workorder", "create")
STORED = 1_000  # links in the part 1 store: 4 a work order (data.make_links)
CYCLE = 1000  # distinct requests a wrk script cycles through
LINKS_PER_WORKORDER = 10  # in the part 2 store
FILTER_GOAL_MS = 20.0
FILTER_SAMPLES = 200
UNFILTERED_SAMPLES = 20
BATCH = 100_000  # rows per INSERT ... SELECT, so the load prints its progress


class DurableCluster(LocalCluster):
    """LocalCluster as a deployment runs PostgreSQL: fsync on (its default)."""

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder}"
        self._run(_binary("pg_ctl"), "-D", str(self.data), "-o", options,
                  "-l", str(self.folder / "log"), "-w", "start")  # fmt: skip

    def database(self, name: str) -> str:
        """A new, empty database's URL."""
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def cpu_seconds(self) -> float:
        """CPU time of the postmaster and its live backends (one that ended is not counted)."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        total = 0.0
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(pid)
            for process in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    times = process.cpu_times()
                    total += times.user + times.system
        return total


@dataclass
class Config:
    """One server set-up of part 1 and what each operation measured on it."""

    store: str  # "embedded" or "postgresql"
    workers: int
    results: dict[str, load.Result] = field(default_factory=dict)
    # Cores PostgreSQL used while each operation was measured.
    pg_cpu: dict[str, float] = field(default_factory=dict)


@dataclass
class Filtered:
    """Part 2: a filtered first page timed one request at a time on one store."""

    store: str
    links: int
    load_seconds: float
    result: load.Result
    unfiltered: load.Result | None = None


def _wait(server: peers.Server, deadline: float) -> None:
    """The banner's address, then its last line (every worker started), then an answer."""
    peers._wait_for_banner(server, deadline)
    while b"Press Ctrl-C" not in server.log.read_bytes():
        if time.monotonic() > deadline or server.process.poll() is not None:
            peers._failed(server)
        time.sleep(0.05)
    peers._wait_for_http(server, deadline)


def serve(db: str, workers: int, workdir: Path) -> contextlib.AbstractContextManager[peers.Server]:
    """``portal-mock serve`` on ``db`` with ``workers`` processes, unpinned, no access log."""
    peers._compile_like_an_install()
    command = [sys.executable, "-m", "portal_mock", "serve", "--host", "127.0.0.1", "--port", "0"]
    command += ["--db", db, "--workers", str(workers), "--spec", str(SPEC)]
    command += ["--no-fixtures", "--log-level", "warning"]
    name = f"{'pg' if db.startswith('postgresql') else 'embedded'}-{workers}"
    return peers.serving(name, command, workdir, _wait)


def _measure(
    config: Config, server: peers.Server, links: list[Link], plan: wrk.Plan, pg: DurableCluster
) -> None:
    """Warm up and measure each operation on ``server``; PostgreSQL's CPU beside wrk's numbers."""
    ids = [link["_id"] for link in links]
    target = load.Target(server.url, load.SPEC_DIALECT, ids, [link["workorder"] for link in links])
    for operation in OPERATIONS:
        warmup = load.requests_for(operation, target, range(CYCLE))
        measured = load.requests_for(operation, target, range(CYCLE, 2 * CYCLE))
        wrk.warm_up(server, operation, warmup, plan)
        before, started = pg.cpu_seconds(), time.perf_counter()
        result = wrk.run(server, operation, measured, plan)
        config.pg_cpu[operation] = (pg.cpu_seconds() - before) / (time.perf_counter() - started)
        config.results[operation] = result
        print(f"  {config.store:<10} {config.workers} worker(s) {operation:<15} "
              f"{_summary(result, config.pg_cpu[operation])}", flush=True)  # fmt: skip


def _latency(result: load.Result) -> str:
    p50, p99 = result.percentile(50) * 1000, result.percentile(99) * 1000
    errors = f"  ERRORS {result.errors} {dict(result.statuses)}" if result.errors else ""
    return f"p50 {p50:6.1f} ms  p99 {p99:6.1f} ms{errors}"


def _summary(result: load.Result, pg_cpu: float) -> str:
    cpu = f"cpu server {result.server_cpu:.2f} pg {pg_cpu:.2f} wrk {result.client_cpu:.2f}"
    return f"{result.rps:7.0f} req/s  {_latency(result)}  {cpu}"


def throughput(plan: wrk.Plan, pg: DurableCluster) -> list[Config]:
    """Part 1: each set-up on a fresh copy of the same ``STORED`` links."""
    links = make_links(STORED)
    configs = [Config("embedded", 1)]
    db = plan.workdir / "workers-embedded.json"
    write_store_snapshot(db, links)
    with serve(str(db), 1, plan.workdir) as server:
        _measure(configs[0], server, links, plan, pg)
    url = pg.database("workers")
    for count in WORKERS:
        # The creates of the run before are dropped: each set-up starts on the same links.
        store = PostgresLinkStore(url)
        try:
            store.reset(links)
        finally:
            store.close()
        configs.append(Config("postgresql", count))
        with serve(url, count, plan.workdir) as server:
            _measure(configs[-1], server, links, plan, pg)
    return configs


# Every column and the whole document built in the database, from ``n``. Link n is on
# work order n % workorders, so a work order's links are spread over the table, as
# links created over time would be.
_LOAD = """
    INSERT INTO links (space, id, workorder, link_type, expiry, is_active, created_at,
                       updated_at, company_namespace, doc)
    SELECT '', id, workorder, link_type, {expiry}, is_active, stamp, stamp, namespace,
           %(template)s::jsonb || jsonb_build_object(
               '_id', id, 'workorder', workorder, 'link_type', link_type,
               'url', 'https://portal.example.com/l/' || left(md5(id), 16),
               'access_token', md5(id) || left(md5(workorder), 11),
               'expiry_date', to_char(expiry_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
               'is_active', is_active, 'company_namespace', to_jsonb(namespace),
               'created_at', stamp, 'updated_at', stamp)
    FROM (
        SELECT %(id_prefix)s || lpad(to_hex(n), 16, '0') AS id,
               %(workorder_prefix)s || lpad(to_hex(n %% %(workorders)s), 16, '0') AS workorder,
               (ARRAY['public', 'private', 'secure'])[n %% 3 + 1] AS link_type,
               CASE WHEN n %% 5 = 0 THEN NULL
                    ELSE %(start)s::timestamptz + interval '90 days' END AS expiry_at,
               n %% 4 <> 0 AS is_active,
               to_char((%(start)s::timestamptz + n * interval '1 second') AT TIME ZONE 'UTC',
                       'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS stamp,
               ARRAY['tenant-' || n %% 50] AS namespace
        FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS n
    ) AS made
"""
# The expiry column as the store keeps it: schema 1 a timestamptz, schema 2 microseconds.
_EXPIRY = {
    "timestamp with time zone": "expiry_at",
    "bigint": "(extract(epoch FROM expiry_at) * 1000000)::bigint",
}


def _expiry_column(connection: psycopg.Connection[Any]) -> str:
    row = connection.execute(
        "SELECT data_type FROM information_schema.columns "
        "WHERE table_name = 'links' AND column_name = 'expiry'"
    ).fetchone()
    if row is None or row[0] not in _EXPIRY:
        raise RuntimeError(f"links.expiry has a type this loader does not know: {row}")
    return _EXPIRY[row[0]]


def load_links(url: str, count: int) -> list[str]:
    """Fill the store at ``url`` with ``count`` links, built in the database; ANALYZE; return
    the work orders to filter by (every one holds ``LINKS_PER_WORKORDER`` links)."""
    PostgresLinkStore(url).close()  # the schema, created as the server creates it
    workorders = count // LINKS_PER_WORKORDER
    seconds = int(time.time()) - 2 * 86400 - count
    template = {k: v for k, v in fixtures()[0].items() if k not in SERVER_FIELDS}
    values = {
        "template": Jsonb(template),
        "id_prefix": object_id(seconds, 0)[:8],
        "workorder_prefix": workorder_id(0)[:8],
        "workorders": workorders,
        "start": datetime.fromtimestamp(seconds, UTC),
    }
    with psycopg.connect(url, autocommit=True) as connection:
        statement = _LOAD.replace("{expiry}", _expiry_column(connection))
        for first in range(0, count, BATCH):
            last = min(count, first + BATCH) - 1
            connection.execute(statement, {**values, "first": first, "last": last})
            print(f"  loaded {last + 1:,} of {count:,} links", flush=True)
        # Ids the server issues later stay above the loaded ones.
        connection.execute(
            "UPDATE link_ids SET last = greatest(last, %s::numeric)",
            (str(int(object_id(seconds, count), 16)),),
        )
        connection.execute("ANALYZE links")
    step = max(1, workorders // FILTER_SAMPLES)
    return [workorder_id(n) for n in range(0, workorders, step)][:FILTER_SAMPLES]


def _filtered_paths(workorders: list[str]) -> list[str]:
    return [f"/{COLLECTION}?workorder={w}&page=1&per_page=25" for w in workorders]


async def _sequential(url: str, paths: list[str], operation: str) -> load.Result:
    """Send each of ``paths`` one at a time on one connection, timed whole, after 5 untimed."""
    result = load.Result(operation)
    latencies = []
    connector = aiohttp.TCPConnector(limit=1)
    headers = {"Accept-Encoding": "identity", "X-API-Key": API_KEY}
    async with aiohttp.ClientSession(url, connector=connector, headers=headers) as client:
        # The untimed requests warm the connection and the server's first-request work.
        for path in [*paths[-5:], *paths]:
            sent = time.perf_counter()
            status = await scale._send(client, load.Request("GET", path, None))
            latencies.append(time.perf_counter() - sent)
            result.statuses[status] += 1  # the untimed count too: any error is reported
    latencies = latencies[5:]
    result.requests = len(latencies)
    result.elapsed = sum(latencies)
    result.percentiles = {q: load.nearest_rank(latencies, q) for q in (50, 99)}
    return result


def filtered_postgres(count: int, workdir: Path, pg: DurableCluster) -> Filtered:
    """Part 2 on PostgreSQL: load ``count`` links, serve them with 1 worker, time the filter."""
    url = pg.database("million")
    print(f"filtered list: loading {count:,} links into PostgreSQL ...", flush=True)
    started = time.perf_counter()
    workorders = load_links(url, count)
    loaded = time.perf_counter() - started
    with serve(url, 1, workdir) as server:
        result = asyncio.run(_sequential(server.url, _filtered_paths(workorders), "filtered"))
        # For reference: the unfiltered first page, which counts every stored link.
        first = [f"/{COLLECTION}?page=1&per_page=25"] * UNFILTERED_SAMPLES
        unfiltered = asyncio.run(_sequential(server.url, first, "unfiltered"))
    print(f"  postgresql {count:>9,} links  {_latency(result)}", flush=True)
    print(f"  postgresql unfiltered first page  {_latency(unfiltered)}", flush=True)
    return Filtered("postgresql", count, loaded, result, unfiltered)


def filtered_embedded(count: int, workdir: Path) -> Filtered:
    """Part 2's reference: the same filter on the embedded store (4 links a work order)."""
    print(f"filtered list: writing {count:,} links as an embedded store ...", flush=True)
    started = time.perf_counter()
    links = make_links(count)
    db = workdir / "filtered-embedded.json"
    write_store_snapshot(db, links)
    loaded = time.perf_counter() - started
    workorders = sorted({link["workorder"] for link in links[:: max(1, count // 200)]})
    with serve(str(db), 1, workdir) as server:
        paths = _filtered_paths(workorders[:FILTER_SAMPLES])
        result = asyncio.run(_sequential(server.url, paths, "filtered"))
    print(f"  embedded   {count:>9,} links  {_latency(result)}", flush=True)
    return Filtered("embedded", count, loaded, result)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def throughput_table(configs: list[Config]) -> list[str]:
    lines = [
        "| store | workers | operation | requests | req/s | vs embedded | p50 ms | p99 ms "
        "| non-2xx | CPU server / postgres / wrk / whole machine (cores of "
        f"{psutil.cpu_count()}) |",
        "|---|--:|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    embedded = configs[0].results
    for config in configs:
        for op, r in config.results.items():
            base = embedded[op].rps
            ratio = f"{r.rps / base:.2f}" if base else "n/a"
            pg = config.pg_cpu[op]
            errors = f"**{r.errors}**" if r.errors else "0"
            lines.append(
                f"| {config.store} | {config.workers} | {op} | {r.requests} | {r.rps:.0f} "
                f"| {ratio} | {_ms(r.percentile(50))} | {_ms(r.percentile(99))} | {errors} "
                f"| {r.server_cpu:.2f} / {pg:.2f} / {r.client_cpu:.2f} / {r.machine_cpu:.2f} |"
            )
    return lines


def filtered_table(runs: list[Filtered]) -> list[str]:
    lines = [
        "| store | stored links | request | links a work order | load s | requests | p50 ms "
        f"| p99 ms | non-2xx | p99 under {FILTER_GOAL_MS:.0f} ms |",
        "|---|--:|---|--:|--:|--:|--:|--:|--:|---|",
    ]
    for run in runs:
        per = LINKS_PER_WORKORDER if run.store == "postgresql" else 4
        rows = [("`?workorder=...&page=1&per_page=25`", run.result, str(per))]
        if run.unfiltered is not None:
            rows.append(("`?page=1&per_page=25` (no filter; reference)", run.unfiltered, "-"))
        for request, r, each in rows:
            met = "yes" if r.percentile(99) * 1000 < FILTER_GOAL_MS else "**no**"
            errors = f"**{r.errors}**" if r.errors else "0"
            lines.append(
                f"| {run.store} | {run.links:,} | {request} | {each} | {run.load_seconds:.1f} "
                f"| {r.requests} | {_ms(r.percentile(50))} | {_ms(r.percentile(99))} "
                f"| {errors} | {met} |"
            )
    return lines


def _interference(configs: list[Config]) -> list[str]:
    """A warning when other processes took a noticeable share of the cores while measuring."""
    others = [
        r.machine_cpu - r.server_cpu - r.client_cpu - c.pg_cpu[op]
        for c in configs
        for op, r in c.results.items()
    ]
    worst = max(others, default=0.0)
    if worst < 0.25:
        return []
    return [f"**Other processes used up to {worst:.2f} cores while part 1 measured (the whole "
            "machine's CPU less the server's, PostgreSQL's and wrk's): its figures are lower "
            "than a quiet machine gives. Re-run when it is idle.**", ""]  # fmt: skip


def _errors(configs: list[Config], runs: list[Filtered]) -> int:
    """Every response that was not 2xx, in every part of the run."""
    results = [r for c in configs for r in c.results.values()]
    results += [r for run in runs for r in (run.result, run.unfiltered) if r is not None]
    return sum(r.errors for r in results)


METHOD = """\
Part 1: `portal-mock serve --no-fixtures --log-level warning` on the embedded store
(1 worker: a store file is one process's) and on PostgreSQL with `--workers` 1, 2
and 4, each started on the same {stored:,} links (4 a work order; PostgreSQL's store
reset between set-ups). {wrk}, 1 thread, {connections} keep-alive connections, each
operation {warmup} s of warm-up then {duration} s measured, in this order: `get`
(cycling over the stored ids), `list` (first page of 25), `list_workorder`
(`?workorder=...`, cycling over the work orders, 4 links each), `create` (a full
body). "vs embedded" is req/s over the embedded store's on the same operation.

Pinning: none. On 2 cores, pinning the servers and PostgreSQL to one core and wrk
to the other (as bench/run.py does) would leave a second worker no core of its own
to scale onto, so everything shares both cores and the CPU column says what each
side used: server (its whole process tree), PostgreSQL (postmaster and backends),
wrk, and the whole machine (every process; below the core count means the cores
were not the limit).

PostgreSQL {pg_version}: a throwaway cluster (tests/pg_cluster.py's LocalCluster,
imported) started with its default `fsync=on` (LocalCluster's own start turns it
off; a subclass here leaves it on), default settings otherwise, on the same machine.

Part 2: {count:,} links loaded into a fresh PostgreSQL store by `INSERT ... SELECT
... FROM generate_series` (every column and each jsonb document built in the
database, after `serve`'s own code created the schema; {per} links a work order,
spread over the table; `ANALYZE` after), then `serve` with 1 worker on it; then
{samples} requests of `GET /{collection}?workorder=...&page=1&per_page=25`, each
on a different work order, one at a time over one connection (aiohttp, after 5
untimed), timed whole; then {unfiltered} of the unfiltered first page, for reference
(it counts every stored link). The embedded row is the same on a store file of
{embedded:,} links, for reference.
"""


def render(
    info: dict[str, str], plan: wrk.Plan, configs: list[Config], runs: list[Filtered], count: int
) -> str:
    errors = _errors(configs, runs)
    lines = ["# portal-mock workers benchmark", ""]
    if errors:
        lines += [f"**WARNING: {errors} responses were not 2xx in this run: its figures are "
                  "not trustworthy (see the non-2xx columns).**", ""]  # fmt: skip
    lines += _interference(configs)
    lines += [f"Command: `{shlex.join(['python', *sys.argv])}`", ""]
    lines += [f"- {key}: {value}" for key, value in info.items()]
    method = METHOD.format(
        stored=STORED,
        wrk=wrk.version(),
        connections=plan.connections,
        warmup=plan.warmup,
        duration=plan.duration,
        pg_version=_pg_version(),
        count=count,
        per=LINKS_PER_WORKORDER,
        samples=FILTER_SAMPLES,
        collection=COLLECTION,
        unfiltered=UNFILTERED_SAMPLES,
        embedded=runs[-1].links if len(runs) > 1 else 0,
    )
    lines += ["", "## How", "", method.strip(), ""]
    lines += ["## Throughput by workers", "", *throughput_table(configs), ""]
    lines += [f"## A filtered list at {count:,} links", "", *filtered_table(runs)]
    return "\n".join(lines) + "\n"


def _pg_version() -> str:
    done = subprocess.run(
        _as_owner([_binary("postgres"), "--version"]), capture_output=True, text=True, check=False
    )
    return done.stdout.strip().removeprefix("postgres (PostgreSQL) ") or "unknown"


def bench(args: argparse.Namespace, workdir: Path) -> int:
    if wrk.find() is None:
        print("bench: wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    if args.quick:
        plan, count = wrk.Plan(workdir, 16, duration=3, warmup=1), 100_000
    else:
        plan, count = wrk.Plan(workdir, 16, duration=8, warmup=2), 1_000_000
    info = report.machine_info({})
    del info["node"], info["npm"], info["npm peers"]
    info["load average (1, 5, 15 min) before the run"] = ", ".join(
        f"{value:.2f}" for value in psutil.getloadavg()
    )
    pg = DurableCluster()
    try:
        pg.start()
        print("throughput: embedded, then PostgreSQL at 1, 2 and 4 workers", flush=True)
        configs = throughput(plan, pg)
        runs = [filtered_postgres(count, workdir, pg), filtered_embedded(100_000, workdir)]
    finally:
        pg.remove()
    text = render(info, plan, configs, runs, count)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / ("workers-quick.md" if args.quick else "workers.md")
    path.write_text(text, encoding="utf-8")
    print("\n" + text + f"\nwritten to {path}")
    return 1 if _errors(configs, runs) else 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM unwinds like Ctrl-C, so every server and the cluster are stopped.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/workers.py", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 s + 3 s an operation, 100k links")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with tempfile.TemporaryDirectory(prefix="portal-mock-workers-") as workdir:
            return bench(args, Path(workdir))
    except KeyboardInterrupt:
        print("interrupted; every server and the cluster were stopped", file=sys.stderr)
        return 130
    except (RuntimeError, psycopg.Error) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

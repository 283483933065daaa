"""The bench's Markdown report: machine, settings, peers, ratios and goals, the scale table."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import psutil

import compare
import load
import wrk
from compare import PeerResult
from data import ROOT
from scale import ScaleResult

MB = 2**20
PEER_NOTES = """\
- **ours**: `portal-mock serve --no-fixtures --log-level warning` (no access log)
  on a store file seeded with the 24 sample links; validates every request and
  every response against the spec.
- **prism**: `prism mock openapi/workorder-portal-links.yaml --verboseLevel warn`
  (its per-request log off, like ours); validates requests (the `X-API-Key`
  header must be present) and answers with the spec's static examples; stores
  nothing. Its list example holds one link, whatever page is asked for, so it
  runs `list_1` only, and ours is compared with it at one link a page.
- **json-server**: `json-server db.json --id _id --quiet`, same 24 links; no
  validation and no auth; lists with `?_page=1&_limit=25` (it takes unknown
  query parameters as filters) and updates with `PATCH` (its `PUT` replaces the
  whole item; our `PUT` is partial); stores a create body as sent plus an `_id`,
  and rewrites its whole db.json on every write (without fsync). It has no
  regenerate, activate or deactivate (n/a below).
- The CPU column says how many cores the server (its whole process tree), wrk
  and every other process used while measuring: wrk well under 1 means it was
  not the bottleneck; "other" well above 0 means something else on the machine
  competed.
"""
# The goals for the side by side, as ratios of this report's table.
RPS_GOAL = 1.2
P99_GOAL = 1.0


def _command_output(*command: str) -> str:
    if shutil.which(command[0]) is None:
        return "not found"
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    return done.stdout.strip() or done.stderr.strip()


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine_info(npm_versions: dict[str, str]) -> dict[str, str]:
    dirty = _command_output(
        "git", "status", "--porcelain", "--untracked-files=no", "--", "portal_mock", "handlers"
    )
    packages = ("portal-mock", "connexion", "uvicorn", "tinydb", "aiohttp")
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{_cpu_model()}, {os.cpu_count()} logical cores "
        f"({psutil.cpu_count(logical=False)} physical)",
        "memory": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "node": _command_output("node", "--version"),
        "npm": _command_output("npm", "--version"),
        "python packages": ", ".join(f"{name} {_version(name)}" for name in packages),
        "npm peers": ", ".join(f"{name} {version}" for name, version in npm_versions.items()),
        "commit": _command_output("git", "rev-parse", "--short", "HEAD")
        + (" (server code has uncommitted changes)" if dirty else ""),
    }


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def _cpu(result: load.Result) -> str:
    return f"{result.server_cpu:.2f} / {result.client_cpu:.2f} / {_other_cpu(result):.2f}"


def _other_cpu(result: load.Result) -> float:
    return max(0.0, result.machine_cpu - result.server_cpu - result.client_cpu)


def interference(peers: list[PeerResult], scale: list[ScaleResult]) -> list[str]:
    """A warning when other processes took a noticeable share of the cores while measuring."""
    results = [r for p in peers for r in p.results.values()]
    results += [r for s in scale for r in s.results.values()]
    worst = max((_other_cpu(r) for r in results), default=0.0)
    if worst < 0.25:
        return []
    return [
        f"Other processes used up to {worst:.2f} cores while this run measured (CPU column, "
        "'other'): its numbers are lower than a quiet machine gives. Re-run when it is idle."
    ]


def _ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}" if denominator else "n/a"


def peer_table(peers: list[PeerResult]) -> list[str]:
    lines = [
        "| peer | operation | requests | req/s | p50 ms | p99 ms | errors (non-2xx) "
        "| peak memory MB (PSS) | CPU server / wrk / other (cores) |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for peer in peers:
        for op, r in peer.results.items():
            lines.append(
                f"| {peer.name} | {op} | {r.requests} | {r.rps:.0f} | {_ms(r.percentile(50))} "
                f"| {_ms(r.percentile(99))} | {r.errors} | {r.peak_rss / MB:.0f} "
                f"| {_cpu(r)} |"
            )
    return lines


def _ratios(mine: load.Result, theirs: load.Result | None) -> list[str]:
    if theirs is None:
        return ["n/a"] * 4
    return [
        _ratio(mine.rps, theirs.rps),
        _ratio(theirs.percentile(50), mine.percentile(50)),
        _ratio(theirs.percentile(99), mine.percentile(99)),
        _ratio(theirs.peak_rss, mine.peak_rss),
    ]


def ratio_table(ours: PeerResult, others: list[PeerResult]) -> list[str]:
    """ours/peer for req/s, peer/ours for latency and memory: above 1 means ours is better.

    A row compares the same operation on both; n/a where the peer has none.
    """
    head = "| operation |" + "".join(
        f" req/s vs {p.name} | p50 vs {p.name} | p99 vs {p.name} | memory vs {p.name} |"
        for p in others
    )
    lines = [head, "|---|" + "--:|" * 4 * len(others)]
    for op, mine in ours.results.items():
        cells = [cell for peer in others for cell in _ratios(mine, peer.results.get(op))]
        lines.append(f"| {op} | " + " | ".join(cells) + " |")
    return lines


def _verdict(what: str, ratios: dict[str, float], goal: float) -> str:
    """One goal line: met, or the operations that missed it and by how much."""
    if not ratios:
        return f"- {what}: not measured in this run"
    missed = {op: r for op, r in ratios.items() if not r >= goal}
    if not missed:
        lowest = min(ratios, key=ratios.__getitem__)
        return f"- {what}: **met** on all {len(ratios)} (lowest: {lowest} {ratios[lowest]:.2f})"
    shown = ", ".join(f"{op} {r:.2f}" for op, r in missed.items())
    return f"- {what}: **not met** on {len(missed)} of {len(ratios)} ({shown})"


def goals(ours: PeerResult, others: list[PeerResult]) -> list[str]:
    """The issue's goals, each checked against this run's ratios."""
    by_name = {peer.name: peer.results for peer in others}
    prism, json_server = by_name.get("prism", {}), by_name.get("json-server", {})
    shared = [op for op in ours.results if op in prism]
    rps = {op: ours.results[op].rps / prism[op].rps for op in shared if prism[op].rps}
    p99 = {op: prism[op].percentile(99) / ours.results[op].percentile(99) for op in shared}
    page = {
        op: ours.results[op].rps / json_server[op].rps
        for op in ("list",)
        if op in ours.results and op in json_server and json_server[op].rps
    }
    lines = [
        f"Goals: req/s at least {RPS_GOAL}x Prism's on every operation, at least "
        f"{RPS_GOAL}x json-server's on the page of 25 (`list`), and p99 no worse than "
        "Prism's (p99 ratio at least 1).",
        "",
        _verdict(f"req/s at least {RPS_GOAL}x Prism's", rps, RPS_GOAL),
        _verdict(f"req/s at least {RPS_GOAL}x json-server's on the page of 25", page, RPS_GOAL),
        _verdict("p99 no worse than Prism's", p99, P99_GOAL),
    ]
    return lines


def scale_table(results: list[ScaleResult]) -> list[str]:
    lines = [
        "| stored links | snapshot MB | start s | operation | samples | p50 ms | p99 ms "
        "| errors | peak memory MB (PSS) | CPU server / client / other (cores) |",
        "|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|",
    ]
    for size in results:
        for op, r in size.results.items():
            lines.append(
                f"| {size.size:,} | {size.file_bytes / MB:.0f} | {size.start_seconds:.1f} | {op} "
                f"| {r.requests} | {_ms(r.percentile(50))} | {_ms(r.percentile(99))} "
                f"| {r.errors} | {size.peak_rss / MB:.0f} | {_cpu(r)} |"
            )
    return lines


def scale_targets(results: list[ScaleResult]) -> list[str]:
    """The issue's two scale targets, where this run measured the sizes they need."""
    by_size = {size.size: size.results for size in results}
    lines = []
    if 1_000 in by_size and 100_000 in by_size:
        growth = by_size[100_000]["create"].percentile(50) / by_size[1_000]["create"].percentile(50)
        lines.append(f"- create p50 at 100k / at 1k: {growth:.1f}x (target: at most 1.5x)")
    if 100_000 in by_size:
        at = by_size[100_000]
        filtered = at["list_workorder"].percentile(50)
        lines.append(f"- filtered list p50 at 100k: {_ms(filtered)} ms (target: under 10 ms)")
        lines.append(
            f"- first page, default order, p99 at 100k: {_ms(at['list'].percentile(99))} ms "
            "(target: under 5 ms)"
        )
        lines.append(
            f"- first page sorted by any one field, p99 at 100k: "
            f"{_ms(at['list_sorted'].percentile(99))} ms (target: under 50 ms)"
        )
    starts = {size.size: size.start_seconds for size in results}
    for size in results:
        if size.size == 100_000:
            # Python and Connexion take about a second to import whatever the store holds.
            extra = (
                f"; {size.start_seconds - starts[1_000]:.2f} s more than at 1k"
                if 1_000 in starts
                else ""
            )
            lines.append(
                f"- start-up at 100k: {size.start_seconds:.2f} s{extra} (target: under 1 s)"
            )
            ratio = size.peak_rss / size.file_bytes
            lines.append(f"- peak memory (PSS) / snapshot at 100k: {ratio:.2f}x (goal: at most 3x)")
        if "create_compacting" in size.results:
            p99 = _ms(size.results["create_compacting"].percentile(99))
            lines.append(
                f"- create p99 while a compaction runs: {p99} ms (target: under 50 ms; "
                f"compaction started: {size.compaction_started})"
            )
    return lines


def _method(plan: wrk.Plan) -> list[str]:
    return [
        f"Load: {wrk.version()}, {wrk.THREADS} thread, {plan.connections} keep-alive "
        f"connections, `--latency`, each operation {plan.warmup} s of warm-up and then "
        f"{plan.duration} s measured. Pinned with taskset: each server on core "
        f"{compare.SERVER_CORE} (started under `taskset -c {compare.SERVER_CORE}`, so its "
        f"whole process tree), wrk on core {wrk.CLIENT_CORE} (`taskset -c {wrk.CLIENT_CORE}`).",
        "",
        "wrk cycles through requests computed before the run, the same for every peer: "
        f"`list` is the first page of {load.PAGE_SIZE} (`?page=1&per_page={load.PAGE_SIZE}`, "
        "all 24 sample links), `list_1` the first page of 1 (`?page=1&per_page=1`); `get`, "
        "`update`, `regenerate`, `activate` and `deactivate` cycle over the 24 sample links; "
        "`create` sends a full body. The operations run in this order on one server. "
        "`delete` runs last and deletes each link once, so every delete should be a 200: "
        "its warm-up deletes the links stored already (the sample links and those `create` "
        "added), the measured run what the warm-up left and links created for it through "
        "the API beforehand, untimed (Prism, which stores nothing, is sent deletes of the "
        "sample ids). Errors are "
        "responses other than 2xx, counted by the wrk script (wrk's own count leaves out "
        "3xx), and requests that got no response.",
    ]


def side_by_side(plan: wrk.Plan, peers: list[PeerResult]) -> list[str]:
    lines = ["", "## Side by side", "", *_method(plan), "", *peer_table(peers), "", PEER_NOTES]
    ours = next((p for p in peers if p.name == "ours"), None)
    others = [p for p in peers if p.name != "ours"]
    if ours and others:
        lines += ["### Ours compared with each peer", ""]
        lines += ["ours/peer for req/s, peer/ours for latency and memory:"]
        lines += ["**above 1 means ours is better**.", "", *ratio_table(ours, others)]
        lines += ["", *goals(ours, others)]
    return lines


def render(
    info: dict[str, str],
    command: str,
    plan: wrk.Plan,
    peers: list[PeerResult],
    scale: list[ScaleResult],
    notes: list[str],
) -> str:
    """The whole report; sections for parts that were not run are left out."""
    lines = ["# portal-mock benchmark", "", f"Command: `{command}`", ""]
    lines += [f"- {key}: {value}" for key, value in info.items()]
    if peers:
        lines += side_by_side(plan, peers)
    if scale:
        lines += ["", "## Our mock as the store grows", ""]
        lines += [
            "One request at a time (aiohttp, unpinned). `create` sends a full body; "
            "`list_workorder` is `?workorder=...` (4 links match); `list` is the unfiltered "
            "first page of 25 (default sort, newest first). The store is seeded by writing "
            "its snapshot file.",
            "",
            *scale_table(scale),
            "",
            *scale_targets(scale),
        ]
    notes = interference(peers, scale) + [n for p in peers for n in p.notes] + notes
    if notes:
        lines += ["", "## Notes", "", *(f"- {note}" for note in notes)]
    return "\n".join(lines) + "\n"

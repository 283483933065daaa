"""The bench's Markdown report: machine, settings, the peer table, ratios and the scale table."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import psutil

import load
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
  header must be present) and answers with the spec's static examples; stores nothing.
- **json-server**: `json-server db.json --id _id --quiet`, same 24 links; no
  validation and no auth; lists with `?_page=1&_limit=25` (it takes unknown
  query parameters as filters) and updates with `PATCH` (its `PUT` replaces the
  whole item; our `PUT` is partial); stores a create body as sent plus an `_id`,
  and rewrites its whole db.json on every write (without fsync).
- The load generator (Python asyncio + aiohttp, one process) shares the
  machine's cores with the server. The CPU column says how many cores the
  server, the load generator and every other process used while measuring:
  "other" well above 0 means something else on the machine competed.
"""


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
        "| peak RSS MB | CPU server / client / other (cores) |",
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


def ratio_table(ours: PeerResult, others: list[PeerResult]) -> list[str]:
    """ours/peer for req/s, peer/ours for latency and memory: above 1 means ours is better."""
    head = "| operation |" + "".join(
        f" req/s vs {p.name} | p50 vs {p.name} | p99 vs {p.name} | memory vs {p.name} |"
        for p in others
    )
    lines = [head, "|---|" + "--:|" * 4 * len(others)]
    for op, mine in ours.results.items():
        cells = []
        for peer in others:
            theirs = peer.results[op]
            cells += [
                _ratio(mine.rps, theirs.rps),
                _ratio(theirs.percentile(50), mine.percentile(50)),
                _ratio(theirs.percentile(99), mine.percentile(99)),
                _ratio(theirs.peak_rss, mine.peak_rss),
            ]
        lines.append(f"| {op} | " + " | ".join(cells) + " |")
    return lines


def scale_table(results: list[ScaleResult]) -> list[str]:
    lines = [
        "| stored links | snapshot MB | start s | operation | samples | p50 ms | p99 ms "
        "| errors | peak RSS MB | CPU server / client / other (cores) |",
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
        filtered = by_size[100_000]["list_workorder"].percentile(50)
        lines.append(f"- filtered list p50 at 100k: {_ms(filtered)} ms (target: under 10 ms)")
    return lines


def render(
    info: dict[str, str],
    command: str,
    plan: load.Plan,
    peers: list[PeerResult],
    scale: list[ScaleResult],
    notes: list[str],
) -> str:
    """The whole report; sections for parts that were not run are left out."""
    lines = ["# portal-mock benchmark", "", f"Command: `{command}`", ""]
    lines += [f"- {key}: {value}" for key, value in info.items()]
    if peers:
        lines += ["", "## Side by side", ""]
        lines += [
            f"Each operation: {plan.warmup} warm-up requests, then {plan.requests} requests "
            f"(or {plan.time_cap:.0f} s, whichever comes first) from {plan.concurrency} "
            "concurrent keep-alive connections. `list` is the first page of 25; `get` and "
            "`update` cycle over the 24 sample links; `create` sends a full body. The "
            "operations run in this order on one server, so `update` meets every link that "
            "`create` added.",
            "",
            *peer_table(peers),
            "",
            PEER_NOTES,
        ]
        ours = next((p for p in peers if p.name == "ours"), None)
        others = [p for p in peers if p.name != "ours"]
        if ours and others:
            lines += ["### Ours compared with each peer", ""]
            lines += ["ours/peer for req/s, peer/ours for latency and memory:"]
            lines += ["**above 1 means ours is better**.", "", *ratio_table(ours, others)]
    if scale:
        lines += ["", "## Our mock as the store grows", ""]
        lines += [
            "One request at a time. `create` sends a full body; `list_workorder` is "
            "`?workorder=...` (4 links match); `list` is the unfiltered first page of 25 "
            "(default sort, newest first). The store is seeded by writing its snapshot file.",
            "",
            *scale_table(scale),
            "",
            *scale_targets(scale),
        ]
    notes = interference(peers, scale) + notes
    if notes:
        lines += ["", "## Notes", "", *(f"- {note}" for note in notes)]
    return "\n".join(lines) + "\n"

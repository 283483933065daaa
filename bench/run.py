"""Run the benchmark: our mock beside Prism and json-server, the scale test, the profile.

    python bench/run.py            # the full run (8 to 15 minutes on 2 cores, by store speed)
    python bench/run.py --quick    # a smaller run, to check that the bench works (2 minutes)

The side by side needs wrk (Debian: apt-get install wrk) and two cores: each
server runs on core 0, wrk on core 1. A run writes bench/results/latest.md, a
dated copy and profile.md; a quick run writes bench/results/quick.md only.
Exit codes: 0 done, 1 some requests failed (non-2xx), 2 wrk is missing or a
server or the npm peers could not be set up, 130 interrupted. Every server is
stopped by PID on the way out, however the run ends.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import psutil

import compare
import peers
import profiling
import report
import scale
import wrk

RESULTS = Path(__file__).resolve().parent / "results"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="2 s per operation, 1k and 10k links only"
    )
    parser.add_argument(
        "--peers", type=_peers, default=compare.PEERS, help="comma list [ours,prism,json-server]"
    )
    parser.add_argument("--sizes", help="comma list of store sizes [1000,10000,100000]")
    parser.add_argument("--no-scale", action="store_true", help="skip the scale test")
    parser.add_argument("--no-profile", action="store_true", help="skip the profile")
    parser.add_argument("--connections", type=int, default=16, help="wrk's [%(default)s]")
    parser.add_argument("--duration", type=int, help="seconds measured per operation [10, quick 2]")
    return parser


def _peers(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = set(names) - set(compare.PEERS)
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(compare.PEERS)}")
    return names


def _settings(
    args: argparse.Namespace, workdir: Path
) -> tuple[wrk.Plan, tuple[int, ...], int, float]:
    """The load plan, the store sizes, the most samples per size and the scale time cap."""
    sizes: tuple[int, ...]
    if args.quick:
        plan = wrk.Plan(workdir, args.connections, duration=args.duration or 2, warmup=1)
        sizes, most, cap = (1_000, 10_000), 40, 5.0
    else:
        plan = wrk.Plan(workdir, args.connections, duration=args.duration or 10, warmup=2)
        sizes, most, cap = scale.SIZES, 200, 30.0
    if args.sizes:
        sizes = tuple(int(size) for size in args.sizes.split(","))
    return plan, sizes, most, cap


def _install_peers(
    names: tuple[str, ...], notes: list[str]
) -> tuple[tuple[str, ...], dict[str, str]]:
    """Install the npm peers the run needs; without npm, run the others and say so."""
    if not set(names) & set(compare.NODE_PEERS):
        return names, peers.npm_versions()
    print("installing the npm peers into bench/.peers ...", flush=True)
    try:
        return names, peers.install_npm_peers()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        notes.append(f"Prism and json-server were skipped: npm install failed ({exc}).")
        return tuple(n for n in names if n not in compare.NODE_PEERS), peers.npm_versions()


def _write(text: str, quick: bool) -> list[Path]:
    RESULTS.mkdir(exist_ok=True)
    if quick:
        paths = [RESULTS / "quick.md"]
    else:
        paths = [RESULTS / "latest.md", RESULTS / f"{datetime.now(UTC):%Y-%m-%d-%H%M}.md"]
    for path in paths:
        path.write_text(text, encoding="utf-8")
    return paths


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM unwinds like Ctrl-C, so every server is stopped on the way out.
    raise KeyboardInterrupt


def bench(args: argparse.Namespace, workdir: Path) -> int:
    if wrk.find() is None:
        print(
            "bench: wrk is not installed; the side by side drives load with it.\n"
            "  Debian or Ubuntu: apt-get install wrk",
            file=sys.stderr,
        )
        return 2
    plan, sizes, most, cap = _settings(args, workdir)
    load_average = ", ".join(f"{value:.2f}" for value in psutil.getloadavg())
    notes: list[str] = []
    names, versions = _install_peers(args.peers, notes)
    # Taken before the run: the commit is the code measured, even if it changes meanwhile.
    info = report.machine_info(versions)
    info["load average (1, 5, 15 min) before the run"] = load_average
    print(f"side by side: {', '.join(names)}", flush=True)
    peer_results = compare.run(names, plan)
    scale_results = []
    if not args.no_scale:
        print(f"scale: {', '.join(f'{size:,}' for size in sizes)} stored links", flush=True)
        scale_results = scale.run(sizes, workdir, most, cap)
    if not (args.quick or args.no_profile):
        print("profiling each operation in-process ...", flush=True)
        notes.append(f"Profile: see {profiling.write(workdir).relative_to(RESULTS.parent.parent)}.")
    command = shlex.join(["python", *sys.argv])
    text = report.render(info, command, plan, peer_results, scale_results, notes)
    paths = _write(text, args.quick)
    print("\n" + text + f"\nwritten to {', '.join(str(p) for p in paths)}")
    failed = sum(r.errors for p in peer_results for r in p.results.values())
    failed += sum(r.errors for s in scale_results for r in s.results.values())
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with tempfile.TemporaryDirectory(prefix="portal-mock-bench-") as workdir:
            return bench(args, Path(workdir))
    except KeyboardInterrupt:
        print("interrupted; every server was stopped", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

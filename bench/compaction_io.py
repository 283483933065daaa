"""How long a journal fsync waits while a compaction writes and frees its big files.

    python bench/compaction_io.py            # 4 rounds of 12 s per way of writing
    python bench/compaction_io.py --quick    # 2 rounds of 5 s

One process appends records to a store journal (portal_mock/store/journal.py),
one fsync each, back to back with a 0.5 ms rest, and times each append. Another
plays compactions over and over, each one as the store's background
compaction does: write a snapshot of ``--snapshot-mb`` into a new file,
fsync it, rename it over the last one, and delete a sealed journal of the same
size. Two ways of doing that take turns, round by round:

- ``paced`` (the store's, portal_mock/store/files.py): a quarter mebibyte per
  fdatasync with a 2 ms rest after each, and the replaced snapshot and the
  sealed journal freed a mebibyte per commit once their names are gone;
- ``in one go`` (the peer: how the store did it before, and how most writers
  do): a mebibyte per fdatasync without rest, then a plain rename and unlink,
  which free each file's blocks at once.

What the user sees is the stalls: each fsync that waits past 10 ms holds up
every write acknowledged with it. Writes bench/results/compaction-io.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from portal_mock.store import files
from portal_mock.store.journal import Journal
from portal_mock.store.link_store import BACKGROUND_PAUSE

RESULTS = Path(__file__).resolve().parent / "results"
WAYS = ("paced", "in one go")
STALL_MS = 10.0
RECORD = b'{"_id":"%024x","pad":"' + b"x" * 640 + b'"}'


def _compact_once(folder: Path, sealed: Path, way: str, size: int) -> None:
    snapshot, block = folder / "db.json", os.urandom(1 << 20)
    fd, tmp = tempfile.mkstemp(dir=folder)
    if way == "paced":
        files.write_paced(fd, [block] * (size >> 20), BACKGROUND_PAUSE)
    else:
        for _ in range(size >> 20):
            files.write_all(fd, block)
            os.fdatasync(fd)
    os.fsync(fd)
    os.close(fd)
    if way == "paced":
        files.replace(tmp, snapshot)
        files.remove(sealed)
    else:
        os.replace(tmp, snapshot)
        files.fsync_folder(folder)
        sealed.unlink()


def _compactions(folder: Path, way: str, size: int, seconds: float) -> None:
    """Compact over and over for ``seconds`` (run in a process of its own).

    The sealed journals are written first, untimed: in a server they were
    made durable a record at a time, long before their compaction.
    """
    sealed = [folder / f"sealed-{n}" for n in range(int(seconds * 2))]
    for path in sealed:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
        files.write_all(fd, os.urandom(1 << 20) * (size >> 20))
        os.fsync(fd)
        os.close(fd)
    (folder / "ready").touch()
    end = time.monotonic() + seconds
    while time.monotonic() < end and sealed:
        _compact_once(folder, sealed.pop(), way, size)
    for path in sealed:
        path.unlink()


def _appends(folder: Path, seconds: float) -> list[float]:
    """Append one record per fsync for ``seconds``; each append's time in ms."""
    journal = Journal(folder / "db.json.journal")
    took: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.perf_counter()
        journal.append_many([RECORD % len(took)])
        took.append((time.perf_counter() - started) * 1000)
        time.sleep(0.0005)
    journal.close()
    return took


def _round(way: str, size: int, seconds: float) -> list[float]:
    with tempfile.TemporaryDirectory(dir=RESULTS.parent) as folder:
        writer = subprocess.Popen(
            [sys.executable, __file__, "--compact", way, str(size), str(seconds + 1), folder]
        )
        try:
            while not (Path(folder) / "ready").exists():
                time.sleep(0.05)
            return _appends(Path(folder), seconds)
        finally:
            writer.wait()


def _row(way: str, took: list[float], rounds: int) -> str:
    took = sorted(took)

    def at(q: float) -> str:
        return f"{took[min(len(took) - 1, int(q * len(took)))]:.2f}"

    stalls = sum(ms > STALL_MS for ms in took)
    return (
        f"| {way} | {len(took)} | {at(0.5)} | {at(0.99)} | {at(0.999)} | {took[-1]:.1f} "
        f"| {stalls} | {stalls / rounds:.1f} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds of 5 s")
    parser.add_argument("--snapshot-mb", type=int, default=60, help="[%(default)s]")
    parser.add_argument("--compact", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.compact:
        way, size, seconds, folder = args.compact
        _compactions(Path(folder), way, int(size), float(seconds))
        return 0
    rounds, seconds = (2, 5.0) if args.quick else (4, 12.0)
    size = args.snapshot_mb << 20
    took: dict[str, list[float]] = {way: [] for way in WAYS}
    for number in range(rounds):
        for way in WAYS if number % 2 == 0 else WAYS[::-1]:
            took[way] += _round(way, size, seconds)
            print(f"round {number + 1}: {_row(way, took[way], number + 1)}", flush=True)
    stalls = {way: sum(ms > STALL_MS for ms in took[way]) for way in WAYS}
    ratio = stalls["paced"] / stalls["in one go"] if stalls["in one go"] else float("nan")
    text = "\n".join(
        [
            "# Journal fsyncs beside a compaction: paced vs in one go",
            "",
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
            f"`python bench/compaction_io.py{' --quick' if args.quick else ''}`: "
            f"{rounds} rounds of {seconds:.0f} s per way, alternating; compactions of "
            f"a {args.snapshot_mb} MB snapshot and a sealed journal as large, back to back.",
            "",
            "| way | fsyncs | p50 ms | p99 ms | p99.9 ms | max ms | over 10 ms | per round |",
            "|---|--:|--:|--:|--:|--:|--:|--:|",
            *(_row(way, took[way], rounds) for way in WAYS),
            "",
            f"Stalls over 10 ms, paced / in one go: **{ratio:.2f}**.",
            "",
        ]
    )
    RESULTS.mkdir(exist_ok=True)
    name = "compaction-io-quick.md" if args.quick else "compaction-io.md"
    (RESULTS / name).write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

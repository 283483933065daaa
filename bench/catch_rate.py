"""How many broken variants ``portal-mock contract`` catches, beside plain ``st run``.

    python bench/catch_rate.py                 # every variant, seed 7, --max-time 30
    python bench/catch_rate.py --seed 3 --max-time 60

Each deliberately broken variant of the mock (tests/broken_variants.py), and
the correct mock as a control, is served by a process of its own. Two runs
test it with the same seed and the same time budget, one after the other:

- ``portal-mock contract --url URL``: caught when the check meant for the
  defect reports it;
- plain ``st run SPEC --url URL --checks all`` with the API key, on the same
  spec without the mock-only headers (as the contract command sends it):
  caught when it reports any failure at all, which is generous to it.

Four variants are tested at once. Writes bench/results/catch-rate.md.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from broken_variants import CORRECT, VARIANTS, Variant  # noqa: E402

from portal_mock.contract.runner import without_mock_headers  # noqa: E402
from portal_mock.paths import DEFAULT_SPEC  # noqa: E402
from portal_mock.settings import DEV_KEY  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SCRIPT = ROOT / "tests" / "broken_variants.py"
AT_ONCE = 4


@dataclass(frozen=True)
class Outcome:
    """What each tool said about one variant."""

    variant: Variant
    contract_checks: dict[str, int]
    contract_code: int
    st_code: int

    @property
    def contract_caught(self) -> bool:
        if self.variant is CORRECT:
            return self.contract_code != 0
        return self.variant.check in self.contract_checks

    @property
    def st_caught(self) -> bool:
        return self.st_code == 1


@contextmanager
def served(variant: Variant) -> Iterator[str]:
    """The variant served on a free port of 127.0.0.1, until the block ends."""
    server = subprocess.Popen(
        [sys.executable, str(SCRIPT), variant.name],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert server.stdin is not None
    assert server.stdout is not None
    try:
        url = next(line.strip() for line in server.stdout if line.startswith("http://"))
        # Keep the pipe drained, so a chatty server never blocks on it.
        threading.Thread(target=server.stdout.read, daemon=True).start()
        yield url
    finally:
        server.stdin.close()
        server.wait(timeout=30)


def checks_reported(output: str) -> dict[str, int]:
    _, found, failures = output.partition("failures by check")
    pairs = re.findall(r"^  (\w+): (\d+)$", failures, re.M) if found else []
    return {name: int(n) for name, n in pairs}


def test_variant(variant: Variant, seed: int, max_time: int, spec: Path) -> Outcome:
    budget = ["--seed", str(seed), "--max-time", str(max_time)]
    with served(variant) as url, tempfile.TemporaryDirectory() as tmp:
        ours = subprocess.run(
            [sys.executable, "-m", "portal_mock", "contract", "--url", url, *budget],
            capture_output=True,
            text=True,
            cwd=tmp,
            check=False,
        )
        st_run = [sys.executable, "-m", "schemathesis.cli", "run", str(spec), "--url", url]
        plain = subprocess.run(
            [*st_run, "--checks", "all", "-H", f"X-API-Key: {DEV_KEY}", *budget],
            capture_output=True,
            text=True,
            cwd=tmp,
            check=False,
        )
    return Outcome(variant, checks_reported(ours.stdout), ours.returncode, plain.returncode)


def _verdict(code: int) -> str:
    return "clean" if code == 0 else f"NOT clean (exit {code})"


def table(outcomes: list[Outcome], seed: int, max_time: int) -> str:
    variants = [o for o in outcomes if o.variant is not CORRECT]
    ours = sum(o.contract_caught for o in variants)
    plain = sum(o.st_caught for o in variants)
    [control] = [o for o in outcomes if o.variant is CORRECT]
    lines = [
        "# Broken variants caught: `portal-mock contract` beside plain `st run`",
        "",
        f"Written by `python bench/catch_rate.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC:",
        f"seed {seed}, `--max-time {max_time}`, every default phase, for both tools.",
        "",
        f"- `portal-mock contract`: **{ours} of {len(variants)}** caught, each by the check "
        "meant for it",
        f"- plain `st run --checks all`: **{plain} of {len(variants)}** reported anything",
        f"- the correct mock (control): contract {_verdict(control.contract_code)}, "
        f"st run {_verdict(control.st_code)}",
        "",
        "| defect | check meant for it | contract | st run |",
        "|---|---|:-:|:-:|",
    ]
    for o in variants:
        mark = ("yes" if o.contract_caught else "**no**", "yes" if o.st_caught else "no")
        lines.append(f"| {o.variant.defect} | `{o.variant.check}` | {mark[0]} | {mark[1]} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-time", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        raw = yaml.safe_load(DEFAULT_SPEC.read_text(encoding="utf-8"))
        spec = Path(tmp) / "api-spec.json"
        spec.write_text(json.dumps(without_mock_headers(raw) or raw), encoding="utf-8")
        with concurrent.futures.ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
            outcomes = list(
                pool.map(
                    lambda v: test_variant(v, args.seed, args.max_time, spec), [CORRECT, *VARIANTS]
                )
            )
    report = table(outcomes, args.seed, args.max_time)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "catch-rate.md").write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

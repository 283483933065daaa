"""``portal-mock contract`` through its command line: usage errors, the clean mock, broken variants.

Most runs start Schemathesis in a process of their own, so their output (and
the summary) is read with ``capfd``. The broken variants are run as a user
runs the command: each variant is served by a process of its own on a free
port of 127.0.0.1, and ``portal-mock contract --url ... --max-time 45`` tests
the whole API in every default phase. Those runs are independent, so several
go at once (see ``CONCURRENT_RUNS``).
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from broken_variants import CORRECT, VARIANTS, Variant
from conftest import AUTH

from portal_mock.app import create_app
from portal_mock.cli import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, main
from portal_mock.contract import lifecycle_checks
from portal_mock.contract.cases import UNKNOWN_ID
from portal_mock.contract.checks import CHECKS
from portal_mock.contract.target import serve_in_thread
from portal_mock.settings import Settings

SEED = 7  # fixed, so every run sends the same cases each time
# The seeds the variants are run at: 7 by default; `tox -e variants` runs three.
VARIANT_SEEDS = tuple(int(seed) for seed in os.environ.get("VARIANTS_SEEDS", "7").split(","))
# The budget each variant is caught within. 30 s, the user's default, catches every
# variant alone (the slowest in 9 s), but not beside the rest of the suite on CI's two
# cores: there the examples and coverage phases alone took 19 to 21 s, and an
# immutable-field variant missed twice. `tox -e variants` (all three seeds, each run
# given the whole budget) is where the catch rate is measured.
MAX_TIME = 45
# By default a variant's run stops at its first failure (--max-failures 1), which must
# come from the check meant for it: 45 runs in about 150 s on two cores instead of 400.
# `tox -e variants` sets VARIANTS_FULL_BUDGET=1: every run then uses all of MAX_TIME.
FULL_BUDGET = os.environ.get("VARIANTS_FULL_BUDGET") == "1"
# Runs at once. Each is a Schemathesis process and a server process, about one core
# together. Four at once caught all 19 variants of the time long before MAX_TIME (189 s
# in all against 340 s with two at once); with 44 variants, and the rest of the suite
# on the other core, two of them (the immutable-field updates) ran out of budget on
# CI's two cores: examples and coverage took 21 s of the 30 under that load. Three.
CONCURRENT_RUNS = 3
VARIANT_SCRIPT = Path(__file__).with_name("broken_variants.py")
# Generous: a run stops itself after MAX_TIME; this only catches a hang.
RUN_TIMEOUT = 300


pytestmark = pytest.mark.usefixtures("clean_environment")


def reported_checks(output: str) -> dict[str, int]:
    """The checks the summary lists under "failures by check", with their counts."""
    _, found, failures = output.partition("failures by check")
    return (
        {name: int(n) for name, n in re.findall(r"^  (\w+): (\d+)$", failures, re.M)}
        if found
        else {}
    )


def first_failing_phase(output: str) -> str:
    """The first phase Schemathesis marks as failed (``❌  Examples (in 3.2s)``), or ""."""
    found = re.search(r"^ ❌  (\w+) \(in", output, re.M)
    return found.group(1) if found else ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_each_check_of_ours_is_documented_and_proven_by_a_variant() -> None:
    ours = {check.__name__ for check in (*CHECKS, *lifecycle_checks.CHECKS)}
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert {name for name in ours if f"| `{name}` |" not in readme} == set()
    # Every check has a defect that only it must report, so none can be dead code.
    assert ours - {variant.check for variant in VARIANTS} == set()
    assert len({variant.defect for variant in VARIANTS}) == len(VARIANTS) >= 40


def test_contract_help_lists_every_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contract", "--help"]) == EXIT_OK
    out = capsys.readouterr().out
    flags = "--url --api-key --spec --max-time --workers --report --report-dir --seed"
    for flag in [
        *flags.split(),
        "--max-examples",
        "--max-failures",
        "--phases",
        "--operation",
        "--read-only",
    ]:
        assert flag in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--workers", "0"], "--workers 0 is not between 1 and 64"),
        (["--report", "pdf"], "--report: pdf not one of junit, har, vcr"),
        (["--url", "ftp://example.com"], "is not an http:// or https:// address"),
        (["--bogus"], "usage: portal-mock"),
        (["--spec", "missing.yaml"], "cannot read the spec missing.yaml"),
        (["--operation", "listLinks"], "--operation listLinks: not in the spec"),
    ],
    ids=["no workers", "unknown report", "ftp url", "unknown flag", "missing spec", "unknown op"],
)
def test_a_usage_error_returns_2_and_says_what_is_wrong(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["contract", *argv]) == EXIT_USAGE
    assert message in capsys.readouterr().err


def test_a_spec_without_the_list_operation_returns_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty.yaml").write_text("openapi: 3.0.3\npaths: {}\n", encoding="utf-8")
    assert main(["contract", "--spec", "empty.yaml"]) == EXIT_USAGE
    assert "has no operation listWorkorderPortalLinks" in capsys.readouterr().err


def test_an_unreachable_url_returns_2_and_names_it(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["contract", "--url", url]) == EXIT_USAGE
    assert f"portal-mock contract: cannot reach {url}/workorder-portal-links" in (
        capsys.readouterr().err
    )


def test_a_refused_api_key_returns_2_and_names_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    app = create_app(Settings(db=None, fixtures=None, api_keys=("right-key",)))
    with serve_in_thread(app) as url:
        code = main(["contract", "--url", url, "--api-key", "wrong-key"])
    assert code == EXIT_USAGE
    assert "refused the API key (401): pass the key it expects with --api-key" in (
        capsys.readouterr().err
    )


@pytest.mark.slow
def test_the_built_in_mock_honours_the_contract_in_every_phase_and_writes_reports(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    argv = ["contract", "--seed", str(SEED), "--max-examples", "10", "--report", "junit,har,vcr"]
    code = main(argv)
    out = capfd.readouterr().out
    assert code == EXIT_OK, out[-4000:]
    assert "the built-in mock: sample links, throw-away store" in out
    assert (
        "operations   8 of 8 exercised in every phase that ran "
        "(examples, coverage, fuzzing, stateful)"
    ) in out
    assert "result       no contract violations found" in out
    junit = ET.parse(tmp_path / "reports" / "junit.xml").getroot()
    assert list(junit.iter("testcase"))
    assert not list(junit.iter("failure"))
    assert json.loads((tmp_path / "reports" / "failures.har").read_text())["log"]["entries"] == []
    assert "http_interactions:" in (tmp_path / "reports" / "failures.yaml").read_text()
    # Nothing but the reports lands in the working directory.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["reports"]


@dataclass(frozen=True)
class VariantRun:
    """One ``portal-mock contract`` run against one served variant."""

    code: int | None
    out: str
    seconds: float
    problem: str = ""  # why the variant could not be served or tested, if it could not


def _clean_env() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if not name.startswith("PORTAL_MOCK")}


def _drain(stream: Iterator[str], into: list[str]) -> None:
    # Keep reading, so a server that logs a lot never blocks on a full pipe.
    into.extend(stream)


def run_against(variant: Variant, seed: int, cwd: Path) -> VariantRun:
    """Serve ``variant`` in a process of its own and run the contract command against it."""
    env = _clean_env()
    server = subprocess.Popen(
        [sys.executable, str(VARIANT_SCRIPT), variant.name],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=cwd,
    )
    assert server.stdout is not None
    assert server.stdin is not None
    log: list[str] = []
    try:
        url = ""
        for line in server.stdout:
            log.append(line)
            if line.startswith("http://"):
                url = line.strip()
                break
        if not url:
            return VariantRun(None, "", 0.0, "the variant was not served:\n" + "".join(log))
        reader = threading.Thread(target=_drain, args=(server.stdout, log), daemon=True)
        reader.start()
        argv = ["--url", url, "--seed", str(seed), "--max-time", str(MAX_TIME)]
        if variant is not CORRECT and not FULL_BUDGET:
            # The run stops at its first failure, which must be the check meant for
            # the defect; the control run uses its whole budget.
            argv += ["--max-failures", "1"]
        started = time.monotonic()
        contract = subprocess.run(
            [sys.executable, "-m", "portal_mock", "contract", *argv],
            capture_output=True,
            text=True,
            env=env,
            cwd=cwd,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        seconds = time.monotonic() - started
        return VariantRun(contract.returncode, contract.stdout + contract.stderr, seconds)
    finally:
        server.stdin.close()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        server.stdout.close()


RunKey = tuple[str, int]


def _selected_runs(request: pytest.FixtureRequest) -> dict[RunKey, Variant]:
    """The (variant, seed) runs this session's tests need (all, unless narrowed with -k)."""
    wanted: dict[RunKey, Variant] = {}
    for item in request.session.items:
        params = getattr(item, "callspec", None)
        if params is None or item.module is not request.module or "seed" not in params.params:
            continue
        found = params.params.get("variant")
        if getattr(item, "originalname", "") == CONTROL_TEST:
            found = CORRECT
        if isinstance(found, Variant):
            wanted[found.name, params.params["seed"]] = found
    return wanted


CONTROL_TEST = "test_the_mock_passes_clean_under_the_same_budget"
SEED_IDS = [f"seed{seed}" for seed in VARIANT_SEEDS]


@pytest.fixture(scope="module")
def variant_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[RunKey, VariantRun]:
    """Every selected variant (and the control, the mock itself) tested, several at once."""
    runs = _selected_runs(request)
    with concurrent.futures.ThreadPoolExecutor(max_workers=CONCURRENT_RUNS) as pool:
        futures = {
            key: pool.submit(run_against, variant, key[1], tmp_path_factory.mktemp("variant"))
            for key, variant in runs.items()
        }
    return {key: future.result() for key, future in futures.items()}


@pytest.mark.slow
@pytest.mark.parametrize("seed", VARIANT_SEEDS, ids=SEED_IDS)
def test_the_mock_passes_clean_under_the_same_budget(
    seed: int, variant_runs: dict[RunKey, VariantRun]
) -> None:
    run = variant_runs[CORRECT.name, seed]
    assert not run.problem, run.problem
    assert run.code == EXIT_OK, run.out[-4000:]
    assert "result       no contract violations found" in run.out
    assert reported_checks(run.out) == {}


@pytest.mark.slow
# One worker runs them all in turn (tox: --dist loadgroup): time-budgeted runs
# side by side on two cores starve each other, and a check can miss its cases.
@pytest.mark.xdist_group("broken-variants")
@pytest.mark.parametrize("seed", VARIANT_SEEDS, ids=SEED_IDS)
@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_each_broken_variant_is_reported_by_its_check(
    variant: Variant,
    seed: int,
    variant_runs: dict[RunKey, VariantRun],
    request: pytest.FixtureRequest,
) -> None:
    run = variant_runs[variant.name, seed]
    assert not run.problem, run.problem
    # How long the run took and the phase that first failed, for a JUnit report
    # (`-o junit_family=xunit1`); not `record_property`, which warns under xunit2.
    request.node.user_properties.append(("contract_seconds", round(run.seconds, 1)))
    request.node.user_properties.append(("first_failing_phase", first_failing_phase(run.out)))
    reported = reported_checks(run.out)
    assert variant.check in reported, (
        f"{variant.defect}: expected {variant.check}, reported {reported or 'nothing'}\n"
        + run.out[-3000:]
    )
    assert run.code == EXIT_FINDINGS


def all_links(url: str) -> list[dict[str, object]]:
    reply = httpx.get(f"{url}/workorder-portal-links", params={"per_page": 100}, headers=AUTH)
    assert reply.status_code == 200, reply.text
    links: list[dict[str, object]] = reply.json()["data"]
    return links


@pytest.mark.slow
def test_a_read_only_run_sends_no_write_and_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with serve_in_thread(CORRECT.build(monkeypatch, tmp_path)) as url:
        before = all_links(url)
        argv = ["--read-only", "--seed", str(SEED), "--max-examples", "10"]
        code = main(["contract", "--url", url, *argv])
        after = all_links(url)
    out = capfd.readouterr().out
    assert code == EXIT_OK, out[-3000:]
    assert after == before
    assert "mode      read-only: no seeding, GET operations only" in out
    assert "seeded       nothing (read-only)" in out
    assert "operations   2 of 2 exercised" in out


@pytest.mark.slow
def test_a_default_run_removes_the_links_it_seeded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with serve_in_thread(CORRECT.build(monkeypatch, tmp_path)) as url:
        before = {link["_id"] for link in all_links(url)}
        argv = ["--seed", str(SEED), "--phases", "examples", "--max-examples", "5"]
        code = main(["contract", "--url", url, *argv])
        after = {link["_id"] for link in all_links(url)}
    out = capfd.readouterr().out
    assert code == EXIT_OK, out[-3000:]
    found = re.search(
        r"seeded       (\d+) links of its own .*; (\d+) removed after the run "
        r"\(the seeded(?: and (\d+) its create cases made)?\)",
        out,
    )
    assert found, out[-3000:]
    seeded, removed, made = (int(n or 0) for n in found.groups())
    assert removed == seeded + made
    assert seeded > 12
    # The examples phase deletes one sample link (the spec's example id); nothing is added.
    assert after <= before


@pytest.mark.slow
def test_failing_exchanges_go_to_the_cassettes_and_junit_with_a_curl_line_in_the_summary(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    [variant] = [v for v in VARIANTS if v.check == "unknown_link_is_not_found"]
    reports = ["--report", "junit,har,vcr", "--report-dir", "out"]
    # Narrowed to the operation and phase the defect lives in: this tests the reports.
    narrow = ["--seed", str(SEED), "--max-examples", "10", "--phases", "examples"]
    narrow += ["--operation", "getWorkorderPortalLink"]
    with serve_in_thread(variant.build(monkeypatch, tmp_path)) as url:
        code = main(["contract", "--url", url, *narrow, *reports])
    out = capfd.readouterr().out
    assert code == EXIT_FINDINGS, out[-3000:]
    unknown = f"/workorder-portal-links/{UNKNOWN_ID}"  # the run's own id no link has
    assert re.search(rf"^      curl -X GET .*{unknown}", out, re.M), out[-3000:]
    entries = json.loads((tmp_path / "out" / "failures.har").read_text())["log"]["entries"]
    # Only failing exchanges: each a GET of an id no link has, answered 200.
    assert any(entry["request"]["url"].endswith(unknown) for entry in entries)
    for entry in entries:
        assert entry["request"]["method"] == "GET", entry["request"]
        assert re.search(r"/workorder-portal-links/[0-9a-f]{24}$", entry["request"]["url"])
        assert entry["response"]["status"] == 200
    assert unknown in (tmp_path / "out" / "failures.yaml").read_text()
    junit = ET.parse(tmp_path / "out" / "junit.xml").getroot()
    assert any("unknown_link_is_not_found" in (f.text or "") for f in junit.iter("failure"))


@pytest.mark.slow
def test_two_runs_in_a_row_against_the_same_target_are_both_clean(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # The second run meets the first one's leftovers (links its other phases made):
    # a store that holds links of another run must not raise false alarms.
    argv = ["--max-examples", "20", "--max-time", "20"]
    with serve_in_thread(CORRECT.build(monkeypatch, tmp_path)) as url:
        first = main(["contract", "--url", url, "--seed", "11", *argv])
        first_out = capfd.readouterr().out
        second = main(["contract", "--url", url, "--seed", "12", *argv])
        second_out = capfd.readouterr().out
    assert first == EXIT_OK, first_out[-3000:]
    assert second == EXIT_OK, second_out[-3000:]
    assert "result       no contract violations found" in second_out

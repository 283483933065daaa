"""``portal-mock contract`` as a user meets it: its key never written anywhere, Ctrl-C is 130."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from broken_variants import InventingStore
from conftest import clean_os_environment

from portal_mock.app import create_app
from portal_mock.cli import EXIT_FINDINGS, main
from portal_mock.contract.target import serve_in_thread
from portal_mock.fixtures import load_fixtures
from portal_mock.paths import DEFAULT_FIXTURES
from portal_mock.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("clean_environment")]


@pytest.mark.parametrize("via", ["flag", "variable"])
def test_the_api_key_appears_in_no_summary_report_or_cassette(
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    via: str,
) -> None:
    key = "key-" + secrets.token_hex(16)
    store = InventingStore()  # answers 200 for unknown ids: findings with exchanges to write
    load_fixtures(store, DEFAULT_FIXTURES)
    app = create_app(Settings(db=None, fixtures=None, api_keys=(key,)), store=store)
    argv = ["contract", "--seed", "7", "--max-examples", "5", "--report", "junit,har,vcr"]
    argv += ["--operation", "createWorkorderPortalLink", "--operation", "getWorkorderPortalLink"]
    if via == "flag":
        argv += ["--api-key", key]
    else:
        monkeypatch.setenv("PORTAL_MOCK_CONTRACT_API_KEY", key)
    with serve_in_thread(app) as url:
        code = main([*argv, "--url", url])
    out, err = capfd.readouterr()
    assert code == EXIT_FINDINGS, out[-3000:]
    assert "curl -X GET -H 'X-API-Key: [Filtered]'" in out
    reports = sorted((tmp_path / "reports").iterdir())
    assert [path.name for path in reports] == ["failures.har", "failures.yaml", "junit.xml"]
    for name, text in [("stdout", out), ("stderr", err)] + [
        (p.name, p.read_text()) for p in reports
    ]:
        assert key not in text, f"the API key is written in {name}"
    assert "X-API-Key" in reports[0].read_text()  # the header is there, its value is not


def test_ctrl_c_stops_a_run_with_exit_code_130(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "portal_mock", "contract", "--max-examples", "1000"]
    # A terminal's Ctrl-C reaches the whole process group: the command and Schemathesis.
    run = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=clean_os_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert run.stdout is not None
    started, output = threading.Event(), []

    def read() -> None:
        assert run.stdout is not None
        for line in run.stdout:
            output.append(line)
            if "Examples" in line or "Coverage" in line:  # Schemathesis is under way
                started.set()
        started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert started.wait(120), "".join(output)
        os.killpg(run.pid, signal.SIGINT)
        code = run.wait(timeout=120)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(timeout=30)
        reader.join(timeout=30)
        run.stdout.close()
    assert code == 130, "".join(output)[-3000:]
    assert "Traceback" not in "".join(output)

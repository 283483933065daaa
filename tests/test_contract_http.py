"""The Schemathesis command line against a real server: every phase, every check, over HTTP."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import API_KEY


@pytest.mark.slow
def test_schemathesis_run_against_the_running_server_finds_nothing(
    run_server: Callable[..., Any], tmp_path: Path
) -> None:
    server = run_server("--db", "db.json", "--log-level", "warning")
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{server.url}/openapi.json",
        "--url", server.url,
        "--header", f"X-API-Key: {API_KEY}",
        "--checks", "all",
        "--max-examples", "15",
        # The spec's x-json-limits refuse NUL in strings (I-JSON): valid data holds none.
        "--generation-allow-x00", "false",
        "--seed", "20261128",
        "--workers", "1",  # CPython 3.11.7 can fail with more (gh-106905)
    ]  # fmt: skip
    result = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False
    )
    summary = result.stdout[-3000:]
    assert result.returncode == 0, summary
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in result.stdout, summary
    assert "Tested: 8" in result.stdout, summary

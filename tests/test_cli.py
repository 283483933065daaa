"""The ``portal-mock`` command: exit codes, usage errors and start-up failures."""

from __future__ import annotations

import gc
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from portal_mock import __version__
from portal_mock.cli import EXIT_OK, EXIT_USAGE, main

pytestmark = pytest.mark.usefixtures("clean_environment")


def error_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--help"], "usage: portal-mock"),
        (["serve", "--help"], "usage: portal-mock serve"),
        (["--version"], f"portal-mock {__version__}"),
    ],
    ids=["--help", "serve --help", "--version"],
)
def test_help_and_version_print_to_stdout_and_return_0(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == EXIT_OK
    assert expected in capsys.readouterr().out


def test_serve_help_lists_every_flag(capsys: pytest.CaptureFixture[str]) -> None:
    main(["serve", "--help"])
    out = capsys.readouterr().out
    for flag in ["--host", "--port", "--db", "--spec", "--fixtures", "--no-fixtures", "--api-key"]:
        assert flag in out


@pytest.mark.parametrize(
    "argv",
    [
        ["--bogus"],
        [],
        ["frobnicate"],
        ["serve", "--bogus"],
        ["serve", "--log-level", "loud"],
        ["serve", "--fixtures", "x.json", "--no-fixtures"],
    ],
    ids=[
        "unknown flag",
        "missing subcommand",
        "unknown subcommand",
        "unknown serve flag",
        "bad log level",
        "fixtures with no-fixtures",
    ],
)
def test_usage_error_returns_2_and_shows_usage(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == EXIT_USAGE
    assert "usage: portal-mock" in capsys.readouterr().err


@pytest.mark.parametrize("port", ["eighty", "65536", "-1"])
def test_bad_port_flag_returns_2_with_a_one_line_message_naming_the_port(
    port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--port", port, "--no-fixtures"]) == EXIT_USAGE
    [line] = error_lines(capsys)
    prefix, _, message = line.partition(": ")
    assert prefix == "portal-mock"
    assert "port" in message.lower()
    assert port in message


def test_bad_port_variable_returns_2_with_a_one_line_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PORTAL_MOCK_PORT", "70000")
    assert main(["serve", "--no-fixtures"]) == EXIT_USAGE
    [line] = error_lines(capsys)
    assert line.startswith("portal-mock:")
    assert "70000" in line


@pytest.mark.parametrize("flag", ["--spec", "--fixtures"])
def test_missing_file_returns_2_with_a_clear_message_and_leaves_no_file_open(
    flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere" / "missing.file"
    argv = ["serve", "--port", "0", "--db", str(tmp_path / "db.json"), flag, str(missing)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        code = main(argv)
        gc.collect()
    assert code == EXIT_USAGE
    [line] = error_lines(capsys)
    assert line.startswith("portal-mock: cannot start")
    assert str(missing) in line
    assert [str(w.message) for w in caught if w.category is ResourceWarning] == []


def console_script() -> Path:
    """``portal-mock`` beside the interpreter running the tests, i.e. in the same venv."""
    found = shutil.which("portal-mock", path=str(Path(sys.executable).parent))
    assert found is not None, f"no portal-mock script in {Path(sys.executable).parent}"
    return Path(found)


@pytest.mark.parametrize(
    ("args", "expected"),
    [(["--help"], "usage: portal-mock"), (["--version"], f"portal-mock {__version__}")],
    ids=["--help", "--version"],
)
def test_console_script_is_installed_and_answers(args: list[str], expected: str) -> None:
    done = subprocess.run(
        [console_script(), *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["serve", "--bogus"], "usage: portal-mock"),
        (["serve", "--port", "0", "--spec", "missing.yaml"], "cannot start"),
    ],
    ids=["unknown flag", "missing spec"],
)
def test_console_script_fails_with_exit_code_2_and_no_traceback(
    args: list[str], expected: str
) -> None:
    done = subprocess.run(
        [console_script(), *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert expected in done.stderr
    assert "Traceback" not in done.stderr

"""The flags and the ``seed`` command added for frontend developers: settings and usage errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import links_in

from portal_mock.cli import EXIT_OK, EXIT_USAGE, main
from portal_mock.settings import Settings, build_settings

pytestmark = pytest.mark.usefixtures("clean_environment")

NO_FLAGS = {"max_sessions": None, "reset": None, "quiet": None, "log_format": None, "reload": None}


def test_serve_help_lists_the_frontend_flags(capsys: pytest.CaptureFixture[str]) -> None:
    main(["serve", "--help"])
    out = capsys.readouterr().out
    flags = ["--max-sessions", "--reset", "--quiet", "--log-format", "--reload"]
    for flag in [*flags, "--cors-origin", "--no-cors", "--latency", "--fail-rate"]:
        assert flag in out


def test_defaults_keep_100_sessions_text_lines_and_no_reload() -> None:
    settings = build_settings(NO_FLAGS, {})
    assert (settings.max_sessions, settings.log_format) == (100, "text")
    assert (settings.reset, settings.quiet, settings.reload) == (False, False, False)


def test_variables_set_the_frontend_flags_and_a_flag_wins() -> None:
    environ = {
        "PORTAL_MOCK_MAX_SESSIONS": "7",
        "PORTAL_MOCK_QUIET": "1",
        "PORTAL_MOCK_RESET": "true",
        "PORTAL_MOCK_LOG_FORMAT": "json",
        "PORTAL_MOCK_RELOAD": "yes",
    }
    from_env = build_settings(NO_FLAGS, environ)
    assert from_env == Settings(max_sessions=7, quiet=True, reset=True, log_format="json",
                                reload=True)  # fmt: skip
    assert build_settings({**NO_FLAGS, "max_sessions": "2"}, environ).max_sessions == 2


@pytest.mark.parametrize(
    ("argv", "env", "named"),
    [
        (["serve", "--max-sessions", "many"], {}, "many"),
        (["serve", "--max-sessions", "-1"], {}, "-1"),
        (["serve"], {"PORTAL_MOCK_LOG_FORMAT": "xml"}, "xml"),
        (["serve", "--latency", "500-100"], {}, "500-100"),
        (["serve", "--fail-rate", "2"], {}, "'2'"),
        (["serve"], {"PORTAL_MOCK_FAIL_RATE": "half"}, "half"),
    ],
    ids=[
        "max-sessions not a number",
        "negative max-sessions",
        "unknown log format",
        "latency upside down",
        "fail rate over 1",
        "fail rate not a number",
    ],
)
def test_a_bad_frontend_setting_is_exit_2_with_one_line_naming_it(
    argv: list[str],
    env: dict[str, str],
    named: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(argv) == EXIT_USAGE
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("portal-mock: ")
    assert named in line


@pytest.mark.parametrize(
    "argv",
    [["seed"], ["seed", "--count", "0"], ["seed", "--count", "ten"], ["seed", "--count", "1",
                                                                      "--seed", "-3"]],
    ids=["no count", "zero", "not a number", "negative seed"],
)  # fmt: skip
def test_seed_usage_errors_are_exit_2_and_write_nothing(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == EXIT_USAGE
    assert "portal-mock" in capsys.readouterr().err
    assert not (tmp_path / "portal-mock-db.json").exists()


def test_seed_adds_to_what_the_store_holds(tmp_path: Path) -> None:
    assert main(["seed", "--count", "2", "--seed", "1"]) == EXIT_OK
    assert main(["seed", "--count", "3", "--seed", "1"]) == EXIT_OK
    links = links_in(tmp_path / "portal-mock-db.json")
    assert len(links) == 5
    assert len({link["_id"] for link in links}) == 5

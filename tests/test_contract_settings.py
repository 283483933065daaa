"""Settings of ``portal-mock contract``: flag over PORTAL_MOCK_CONTRACT_* over default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from portal_mock.contract.settings import (
    DEFAULT_MAX_EXAMPLES,
    PHASES,
    ContractSettings,
    build_contract_settings,
)
from portal_mock.paths import DEFAULT_SPEC


def test_no_flags_and_no_environment_give_the_defaults() -> None:
    settings = build_contract_settings({}, {})
    assert settings == ContractSettings()
    assert settings.built_in
    assert settings.spec == DEFAULT_SPEC
    assert settings.workers == 1
    assert settings.phases == PHASES
    assert settings.max_examples == DEFAULT_MAX_EXAMPLES
    assert settings.max_failures is None


def test_a_flag_wins_over_the_environment_and_the_environment_over_the_default() -> None:
    environ = {
        "PORTAL_MOCK_CONTRACT_URL": "http://staging:8080/",
        "PORTAL_MOCK_CONTRACT_API_KEY": "from-env",
        "PORTAL_MOCK_CONTRACT_SEED": "5",
        "PORTAL_MOCK_CONTRACT_MAX_FAILURES": "3",
    }
    settings = build_contract_settings({"api_key": "from-flag"}, environ)
    assert settings.url == "http://staging:8080"
    assert settings.api_key == "from-flag"
    assert settings.seed == 5
    assert settings.max_failures == 3
    assert not settings.built_in


def test_lists_come_as_comma_lists_or_repeated_flags() -> None:
    settings = build_contract_settings(
        {"report": "junit,har", "phases": "examples, stateful", "operation": ["a", "b,c"]}, {}
    )
    assert settings.reports == ("junit", "har")
    assert settings.phases == ("examples", "stateful")
    assert settings.operations == ("a", "b", "c")


def test_report_dir_and_spec_become_paths() -> None:
    settings = build_contract_settings({"report_dir": "out", "spec": "api.yaml"}, {})
    assert settings.report_dir == Path("out")
    assert settings.spec == Path("api.yaml")


@pytest.mark.parametrize(
    ("flags", "environ", "expected"),
    [
        ({}, {}, False),
        ({"read_only": True}, {}, True),
        ({}, {"PORTAL_MOCK_CONTRACT_READ_ONLY": "yes"}, True),
        ({}, {"PORTAL_MOCK_CONTRACT_READ_ONLY": "0"}, False),
        ({"read_only": True}, {"PORTAL_MOCK_CONTRACT_READ_ONLY": "false"}, True),
    ],
    ids=["default", "flag", "env yes", "env 0", "flag over env"],
)
def test_read_only_comes_from_the_flag_or_the_environment(
    flags: dict[str, object], environ: dict[str, str], expected: bool
) -> None:
    assert build_contract_settings(flags, environ).read_only is expected


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"url": "ftp://host"}, "--url 'ftp://host' is not an http:// or https:// address"),
        ({"url": "localhost:8080"}, "--url 'localhost:8080' is not an http:// or https://"),
        ({"workers": "0"}, "--workers 0 is not between 1 and 64"),
        ({"workers": "two"}, "--workers 'two' is not a whole number"),
        ({"max_time": "0"}, "--max-time 0 is not at least 1"),
        ({"seed": "-1"}, "--seed -1 is not at least 0"),
        ({"max_examples": "0"}, "--max-examples 0 is not at least 1"),
        ({"max_failures": "0"}, "--max-failures 0 is not at least 1"),
        ({"report": "junit,pdf"}, "--report: pdf not one of junit, har, vcr"),
        ({"phases": "fuzzing,smoke"}, "--phases: smoke not one of"),
        ({"read_only": "perhaps"}, "--read-only 'perhaps' is not one of 1, true, yes"),
    ],
    ids=[
        "ftp url",
        "url without scheme",
        "no workers",
        "workers not a number",
        "no time",
        "negative seed",
        "no examples",
        "no failures",
        "unknown report",
        "unknown phase",
        "read-only not a switch",
    ],
)
def test_an_unusable_value_raises_value_error_naming_the_flag(
    flags: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        build_contract_settings(flags, {})

"""Settings: CLI flag, then PORTAL_MOCK_* variable, then default; the development key."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from portal_mock.key_scopes import key_scopes
from portal_mock.paths import DEFAULT_FIXTURES, DEFAULT_SPEC
from portal_mock.settings import DEV_KEY, Settings, build_settings


@dataclasses.dataclass(frozen=True)
class Source:
    """One setting: its flag value as argparse hands it over, its variable, what each gives."""

    name: str
    flag: Any
    var: str
    value: str
    from_flag: Any
    from_env: Any
    default: Any


def path_source(name: str, var: str, default: Path) -> Any:
    return pytest.param(
        Source(name, "flag.file", var, "env.file", Path("flag.file"), Path("env.file"), default),
        id=name,
    )


SOURCES = [
    pytest.param(
        Source("host", "0.0.0.0", "HOST", "::1", "0.0.0.0", "::1", "127.0.0.1"), id="host"
    ),
    pytest.param(Source("port", "9001", "PORT", "9002", 9001, 9002, 8080), id="port"),
    path_source("db", "DB", Path("portal-mock-db.json")),
    path_source("spec", "SPEC", DEFAULT_SPEC),
    path_source("fixtures", "FIXTURES", DEFAULT_FIXTURES),
    pytest.param(
        Source("api_keys", ["k1", "k2"], "API_KEY", "e1", ("k1", "k2"), ("e1",), ()), id="api keys"
    ),
    pytest.param(
        Source(
            "cors_origins",
            ["http://localhost:5173"],
            "CORS_ORIGIN",
            "http://a.test, http://b.test:3000",
            ("http://localhost:5173",),
            ("http://a.test", "http://b.test:3000"),
            (),
        ),
        id="cors origins",
    ),
    pytest.param(Source("cors", False, "NO_CORS", "1", False, False, True), id="no cors"),
    pytest.param(
        Source("latency_ms", "100-300", "LATENCY", "50", (100, 300), (50, 50), (0, 0)), id="latency"
    ),
    pytest.param(Source("fail_rate", "0.5", "FAIL_RATE", "0.25", 0.5, 0.25, 0.0), id="fail rate"),
]


def env(**values: str) -> dict[str, str]:
    return {f"PORTAL_MOCK_{name}": value for name, value in values.items()}


def setting(name: str, flags: dict[str, Any], environ: dict[str, str]) -> Any:
    return getattr(build_settings(flags, environ), name)


@pytest.mark.parametrize("case", SOURCES)
def test_cli_flag_beats_environment_variable(case: Source) -> None:
    assert (
        setting(case.name, {case.name: case.flag}, env(**{case.var: case.value})) == case.from_flag
    )


@pytest.mark.parametrize("case", SOURCES)
def test_environment_variable_beats_default(case: Source) -> None:
    assert setting(case.name, {case.name: None}, env(**{case.var: case.value})) == case.from_env


@pytest.mark.parametrize("case", SOURCES)
def test_default_applies_when_neither_flag_nor_variable_is_set(case: Source) -> None:
    assert setting(case.name, {}, {}) == case.default
    assert setting(case.name, {case.name: None}, env(**{case.var: ""})) == case.default


def test_build_settings_reads_only_the_environment_it_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PORTAL_MOCK_PORT", "9999")
    monkeypatch.setenv("PORTAL_MOCK_API_KEY", "from-os-environ")
    assert build_settings({}, {}) == Settings()


def test_no_fixtures_flag_means_no_fixtures_even_when_a_variable_names_a_file() -> None:
    assert setting("fixtures", {"fixtures": ""}, env(FIXTURES="env.json")) is None


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "yes", "on"])
def test_no_fixtures_variable_means_no_fixtures(value: str) -> None:
    assert setting("fixtures", {}, env(NO_FIXTURES=value)) is None
    assert setting("fixtures", {}, env(NO_FIXTURES=value, FIXTURES="env.json")) is None


@pytest.mark.parametrize("value", ["0", "false", "no", ""])
def test_no_fixtures_variable_set_to_false_keeps_the_default_fixtures(value: str) -> None:
    assert setting("fixtures", {}, env(NO_FIXTURES=value)) == DEFAULT_FIXTURES


def test_fixtures_flag_beats_no_fixtures_variable() -> None:
    assert setting("fixtures", {"fixtures": "flag.json"}, env(NO_FIXTURES="1")) == Path("flag.json")


@pytest.mark.parametrize(
    ("value", "keys"),
    [
        ("k1,k2,k3", ("k1", "k2", "k3")),
        (" k1 , k2 ", ("k1", "k2")),
        ("k1,,k2,", ("k1", "k2")),
        (" , ", ()),
    ],
    ids=["plain list", "spaces trimmed", "empty items dropped", "only separators"],
)
def test_api_key_variable_takes_a_comma_separated_list(value: str, keys: tuple[str, ...]) -> None:
    assert setting("api_keys", {}, env(API_KEY=value)) == keys


def test_dev_key_is_accepted_when_no_key_is_configured() -> None:
    settings = build_settings({}, {})
    assert settings.uses_dev_key
    assert accepted(settings) == frozenset({DEV_KEY})


@pytest.mark.parametrize(
    ("flags", "environ"),
    [({"api_keys": ["k1", "k2"]}, {}), ({}, env(API_KEY="k1,k2"))],
    ids=["from flags", "from variable"],
)
def test_dev_key_is_refused_once_keys_are_configured(
    flags: dict[str, Any], environ: dict[str, str]
) -> None:
    settings = build_settings(flags, environ)
    assert not settings.uses_dev_key
    assert accepted(settings) == frozenset({"k1", "k2"})


def test_a_keys_file_from_flag_or_variable_replaces_the_dev_key(tmp_path: Path) -> None:
    path = tmp_path / "keys.toml"
    path.write_text('[[keys]]\nkey = "k3"\nnamespaces = ["acme"]\n', encoding="utf-8")
    for flags, environ in (({"keys_file": str(path)}, {}), ({}, env(KEYS=str(path)))):
        settings = build_settings(flags, environ)
        assert settings.keys_file == path
        assert not settings.uses_dev_key
        assert accepted(settings) == frozenset({"k3"})


def accepted(settings: Settings) -> frozenset[str]:
    return key_scopes(settings.api_keys, settings.keys_file, DEV_KEY).keys


@pytest.mark.parametrize("port", ["0", "1", "65535"])
def test_ports_from_0_to_65535_are_accepted(port: str) -> None:
    assert setting("port", {"port": port}, {}) == int(port)


INVALID_PORTS = [
    ("http", "port 'http' is not a number"),
    ("80.5", "port '80.5' is not a number"),
    ("-1", "port -1 is not between 0 and 65535"),
    ("65536", "port 65536 is not between 0 and 65535"),
]


@pytest.mark.parametrize(("port", "message"), [*INVALID_PORTS, ("", "port '' is not a number")])
def test_invalid_port_flag_raises_value_error_naming_the_port(port: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        build_settings({"port": port}, {})


@pytest.mark.parametrize(("port", "message"), INVALID_PORTS)
def test_invalid_port_variable_raises_value_error_naming_the_port(port: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        build_settings({}, env(PORT=port))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("fast", "latency 'fast' is not MIN-MAX in milliseconds"),
        ("300-100", "latency '300-100' is not 0 <= MIN <= MAX <= 10000 ms"),
        ("-5", "latency '-5' is not MIN-MAX in milliseconds"),
        ("0-10001", "latency '0-10001' is not 0 <= MIN <= MAX <= 10000 ms"),
    ],
)
def test_invalid_latency_raises_value_error_naming_it(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        build_settings({"latency_ms": value}, {})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("often", "fail rate 'often' is not a number"),
        ("1.5", "fail rate '1.5' is not between 0 and 1"),
        ("-0.1", "fail rate '-0.1' is not between 0 and 1"),
    ],
)
def test_invalid_fail_rate_raises_value_error_naming_it(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        build_settings({}, env(FAIL_RATE=value))

"""Runs Schemathesis's ``st run`` with the contract hooks against the built-in mock or a URL.

Schemathesis runs in a process of its own, configured by a ``schemathesis.toml``
written for the run: its ``hooks`` setting loads ``portal_mock.contract.hooks``,
so the checks, the hook and the summary are registered there and nowhere else.
Its output (progress, failures, our summary) goes straight to this terminal.
"""

from __future__ import annotations

import contextlib
import copy
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml

from portal_mock.contract import isolation
from portal_mock.contract.isolation import discover_namespace
from portal_mock.contract.settings import ContractSettings
from portal_mock.contract.spec import LIST, Spec
from portal_mock.contract.target import TargetError, built_in_mock, reachability_problem

HOOKS_MODULE = "portal_mock.contract.hooks"
REPORT_FILES = {"junit": "junit.xml", "har": "failures.har", "vcr": "failures.yaml"}
EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def run_contract(settings: ContractSettings) -> int:
    """Test the target of ``settings`` against its spec; return the command's exit code."""
    spec, problem = _read_spec(settings)
    if spec is None:
        return _usage(problem)
    try:
        with _target(settings) as url:
            return _test(settings, spec, url)
    except TargetError as exc:
        return _usage(str(exc))


@contextlib.contextmanager
def _target(settings: ContractSettings) -> Iterator[str]:
    if settings.url is not None:
        yield settings.url
    else:
        with built_in_mock(settings.spec, settings.api_key) as url:
            yield url


def _test(settings: ContractSettings, spec: Spec, url: str) -> int:
    unreachable = reachability_problem(
        url + spec.path_for(LIST), spec.api_key_header, settings.api_key
    )
    if unreachable is not None:
        return _usage(unreachable)
    _announce(settings, url)
    code = _run_schemathesis(settings, url, spec)
    if settings.tenant_key is None or code in (EXIT_USAGE, EXIT_INTERRUPTED):
        return code
    return max(code, _run_isolation(settings, url, spec))


def _run_isolation(settings: ContractSettings, url: str, spec: Spec) -> int:
    """The tenant isolation check, after Schemathesis; its findings printed like a summary."""
    assert settings.tenant_key is not None
    path, header = spec.path_for(LIST), spec.api_key_header
    print("\ntenant isolation: --api-key against --tenant-key, both ways", flush=True)
    with httpx.Client(base_url=url, timeout=30) as client:
        found = [
            settings.namespace
            or discover_namespace(client, path, header, settings.api_key, settings.tenant_key),
            settings.tenant_namespace
            or discover_namespace(client, path, header, settings.tenant_key, settings.api_key),
        ]
        if found[0] is None or found[1] is None:
            return _usage(
                "cannot tell which namespace each key may create links in (neither lists a "
                "link the other does not); give --namespace and --tenant-namespace"
            )
        owner = isolation.Tenant(settings.api_key, found[0])
        other = isolation.Tenant(settings.tenant_key, found[1])
        violations = isolation.check_isolation(client, path, header, owner, other)
    print(f"  namespaces {owner.namespace} (--api-key) and {other.namespace} (--tenant-key)")
    for violation in violations:
        print(f"  FAILED  {violation.rule}\n          {violation.detail}")
    print(f"  {len(violations)} violation(s)" if violations else "  isolated: no violation")
    return EXIT_FINDINGS if violations else EXIT_OK


# The mock's own request headers (sessions, Prefer): not part of the API a deployment serves.
MOCK_ONLY_HEADERS = frozenset({"x-mock-session", "prefer"})
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def without_mock_headers(raw: dict[str, Any]) -> dict[str, Any] | None:
    """The spec without the mock-only header parameters, or None when it has none.

    A real deployment ignores X-Mock-Session and Prefer, so Schemathesis must
    not expect a bad one refused; and on the mock, cases in different sessions
    would act on different stores, which the checks' memory of each link cannot
    tell apart, and a Prefer answer is canned, not the operation's.
    """
    spec = copy.deepcopy(raw)
    shared = spec.get("components", {}).get("parameters", {})

    def mock_only(parameter: dict[str, Any]) -> bool:
        if "$ref" in parameter:
            parameter = shared.get(parameter["$ref"].rsplit("/", 1)[-1], {})
        name = str(parameter.get("name", "")).lower()
        return parameter.get("in") == "header" and name in MOCK_ONLY_HEADERS

    found = False
    for item in spec.get("paths", {}).values():
        for node in [item, *(item[method] for method in _METHODS if method in item)]:
            kept = [p for p in node.get("parameters", []) if not mock_only(p)]
            if len(kept) != len(node.get("parameters", [])):
                node["parameters"], found = kept, True
    return spec if found else None


def _read_spec(settings: ContractSettings) -> tuple[Spec | None, str]:
    try:
        with settings.spec.open(encoding="utf-8") as handle:
            raw = yaml.safe_load(handle)
        spec = Spec(raw)
        unknown = [op for op in settings.operations if op not in spec.operations]
        if not spec.operations or LIST not in spec.operations:
            return None, f"{settings.spec} has no operation {LIST}"
    except (OSError, yaml.YAMLError, AttributeError, TypeError) as exc:
        return None, f"cannot read the spec {settings.spec}: {exc}"
    if unknown:
        known = ", ".join(sorted(spec.operations))
        return None, f"--operation {', '.join(unknown)}: not in the spec (it has {known})"
    return spec, ""


def _usage(problem: str) -> int:
    print(f"portal-mock contract: {problem}", file=sys.stderr, flush=True)
    return EXIT_USAGE


def report_paths(settings: ContractSettings) -> dict[str, Path]:
    """Where each requested report goes."""
    directory = settings.report_dir.resolve()
    return {name: directory / REPORT_FILES[name] for name in settings.reports}


def _announce(settings: ContractSettings, url: str) -> None:
    what = " (the built-in mock: sample links, throw-away store)" if settings.built_in else ""
    operations = ", ".join(settings.operations) or "every operation"
    print(f"portal-mock contract: testing {url}{what}", flush=True)
    print(f"  spec      {settings.spec.resolve()}")
    print(f"  scope     {operations}; phases {', '.join(settings.phases)}")
    if settings.read_only:
        print("  mode      read-only: no seeding, GET operations only")
    budget = f"up to {settings.max_examples} examples per operation and phase"
    limit = f", at most {settings.max_time} s" if settings.max_time else ""
    if settings.max_failures:
        limit += f", stop after {settings.max_failures} failure(s)"
    print(f"  budget    {budget}{limit}; {settings.workers} worker(s)")
    for name, path in report_paths(settings).items():
        print(f"  report    {name}: {path}")
    print(flush=True)


def _toml(value: Any) -> str:
    # A JSON string or number is a valid TOML basic string or number.
    return json.dumps(value)


def schemathesis_config(settings: ContractSettings, header: str) -> str:
    """The ``schemathesis.toml`` for one run: hooks, auth header, checks, budget, reports."""
    lines = [
        f"hooks = {_toml(HOOKS_MODULE)}",
        f"workers = {settings.workers}",
        # Keep testing an operation after its first failure: a QA report wants them all.
        "continue-on-failure = true",
    ]
    if settings.seed is not None:
        lines.append(f"seed = {settings.seed}")
    if settings.max_time is not None:
        lines.append(f"max-time = {settings.max_time}")
    lines += ["", "[headers]", f"{_toml(header)} = {_toml(settings.api_key)}"]
    lines += ["", "[checks]", "enabled = true"]
    lines += ["", "[generation]", f"max-examples = {settings.max_examples}", 'database = "none"']
    # The API reads bodies as I-JSON (the spec's x-json-limits): a string with NUL
    # is refused, so valid data must not hold one.
    lines.append("allow-x00 = false")
    # Nothing is written to the caller's directory but the reports asked for.
    lines += ["", "[cache]", "enabled = false"]
    junit = report_paths(settings).get("junit")
    if junit is not None:
        lines += ["", "[reports.junit]", "enabled = true", f"path = {_toml(str(junit))}"]
    return "\n".join(lines) + "\n"


def schemathesis_command(
    settings: ContractSettings, url: str, config: Path, spec_file: Path | None = None
) -> list[str]:
    """The ``st run`` command line for one run (of ``spec_file``, by default the settings' spec)."""
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run"]
    spec = spec_file or settings.spec.resolve()
    command += [str(spec), "--url", url, "--phases", ",".join(settings.phases)]
    for operation in settings.operations:
        command += ["--include-operation-id", operation]
    if settings.max_failures is not None:
        command += ["--max-failures", str(settings.max_failures)]
    if settings.read_only:
        command += ["--include-method", "GET", "--contract-read-only"]
    paths = report_paths(settings)
    for name in ("har", "vcr"):
        if name in paths:
            command += [f"--contract-failures-{name}", str(paths[name])]
    return command


def _run_schemathesis(settings: ContractSettings, url: str, spec: Spec) -> int:
    with tempfile.TemporaryDirectory(prefix="portal-mock-contract-") as tmp:
        config = Path(tmp) / "schemathesis.toml"
        # The file holds the API key; the directory is private to this user.
        config.write_text(schemathesis_config(settings, spec.api_key_header), encoding="utf-8")
        stripped = without_mock_headers(dict(spec.raw))
        spec_file = None
        if stripped is not None:
            spec_file = Path(tmp) / "api-spec.json"
            spec_file.write_text(json.dumps(stripped), encoding="utf-8")
        command = schemathesis_command(settings, url, config, spec_file)
        # Run in the temporary directory: Hypothesis keeps caches in `.hypothesis/` there.
        process = subprocess.Popen(command, cwd=tmp)
        try:
            code = process.wait()
        except KeyboardInterrupt:
            # Ctrl-C reached Schemathesis too: let it stop and print what it has,
            # unless a second Ctrl-C asks not to wait.
            with contextlib.suppress(KeyboardInterrupt):
                process.wait()
            return EXIT_INTERRUPTED
    return code if code in (EXIT_OK, EXIT_FINDINGS, EXIT_INTERRUPTED) else EXIT_USAGE

"""Shared fixtures: Hypothesis profiles, an app over an in-memory store, the second validator."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from portal_mock.app import create_app, load_spec
from portal_mock.fixtures import read_fixtures
from portal_mock.paths import DEFAULT_FIXTURES, DEFAULT_SPEC
from portal_mock.settings import Settings
from portal_mock.store import LinkStore

# A quick, reproducible profile for CI and a thorough one behind `tox -e thorough`.
settings.register_profile(
    "ci",
    max_examples=40,
    derandomize=True,
    deadline=None,
    print_blob=True,
    # The app fixtures are built once per test, not per example, on purpose:
    # each property test resets the store itself.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "thorough",
    max_examples=1000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

API_KEY = "dev-key"
AUTH = {"X-API-Key": API_KEY}
BASE = "/workorder-portal-links"
WORKORDER = "507f1f77bcf86cd799439012"
# Keys of two companies and one for all, as a --keys file holds them.
ALL_KEY, ACME_KEY, GLOBEX_KEY = "qa-all-1b9e", "acme-frontend-7d2c", "globex-app-55aa"
KEYS_FILE_TEXT = f"""
[[keys]]
key = "{ACME_KEY}"
namespaces = ["acme"]

[[keys]]
key = "{GLOBEX_KEY}"
namespaces = ["globex", "initech"]

[[keys]]
key = "{ALL_KEY}"
namespaces = ["*"]
"""


@pytest.fixture
def compaction_on_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Background compactions due at 2 KiB of journal, on a thread of this process (not a
    forked child), so that a test's hooks on the snapshot writer see them."""
    from portal_mock.store import link_store

    monkeypatch.setattr(link_store, "COMPACT_IN_CHILD", False)
    monkeypatch.setattr(link_store, "MIN_COMPACT_BYTES", 2048)


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No PORTAL_MOCK_* variable of the caller leaks in; files the command writes land in tmp."""
    for name in list(os.environ):
        if name.startswith("PORTAL_MOCK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def spec() -> dict[str, Any]:
    return load_spec(DEFAULT_SPEC)


@pytest.fixture(scope="session")
def sample_links() -> list[dict[str, Any]]:
    return read_fixtures(DEFAULT_FIXTURES)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A PostgreSQL server for the tests of the shared store (tests/pg_cluster.py)."""
    from pg_cluster import cluster

    with cluster() as url:
        yield url


# The backends every app test runs on: `tox -e postgres` adds PostgreSQL. The default
# run keeps to the embedded store: the whole suite twice on two cores starves the
# time-budgeted broken-variant runs beside it. tests/test_store_backends.py always
# checks the store's contract on both.
BACKENDS = os.environ.get("PORTAL_MOCK_TEST_BACKENDS", "embedded").split(",")


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest) -> Iterator[LinkStore]:
    """The store behind the app under test, on each backend of BACKENDS: the embedded one
    (in memory), PostgreSQL (a schema of its own on the test cluster)."""
    if request.param == "embedded":
        link_store = LinkStore()
    else:
        from pg_cluster import fresh_database

        from portal_mock.store.postgres import PostgresLinkStore

        url = fresh_database(request.getfixturevalue("pg_server"))
        link_store = PostgresLinkStore(url)  # type: ignore[assignment]
    yield link_store
    link_store.close()


@pytest.fixture
def app_settings() -> Settings:
    return Settings(db=None, fixtures=None)


@pytest.fixture
def client(app_settings: Settings, store: LinkStore) -> Iterator[Any]:
    """Connexion's test client over an empty in-memory store, lifespan running."""
    app = create_app(app_settings, store=store)
    with app.test_client(headers=AUTH) as test_client:
        yield test_client


@pytest.fixture
def create(client: Any) -> Callable[..., dict[str, Any]]:
    """Create a link through the API and return its ``data``."""

    def make(**fields: Any) -> dict[str, Any]:
        response = client.post(BASE, json={"workorder": WORKORDER, **fields})
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    return make


@pytest.fixture(scope="session")
def openapi_core_spec(spec: dict[str, Any]) -> OpenAPI:
    return OpenAPI.from_dict(spec)


@pytest.fixture
def conforms(openapi_core_spec: OpenAPI) -> Callable[[Any], None]:
    """Check a test-client response with openapi-core, a validator independent of Connexion."""

    def check(response: Any) -> None:
        sent = response.request
        request = MockRequest(
            "http://localhost:8080",
            sent.method,
            sent.url.path,
            args=dict(sent.url.params.multi_items()),
            headers=dict(sent.headers),
            data=sent.content,
            content_type=sent.headers.get("content-type", "application/json"),
        )
        reply = MockResponse(
            response.content,
            status_code=response.status_code,
            headers=dict(response.headers),
            content_type=response.headers.get("content-type", ""),
        )
        openapi_core_spec.validate_response(request, reply)

    return check


def clean_os_environment() -> dict[str, str]:
    """This process's environment without any PORTAL_MOCK_* setting a developer's shell may hold."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_MOCK_")}


class RunningServer:
    """A ``portal-mock serve`` process on a free port of 127.0.0.1.

    A thread reads its output from the start, so a chatty server never blocks
    on a full pipe and a server that never comes up fails the test in time.
    """

    START_TIMEOUT = 60

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        command = [sys.executable, "-m", "portal_mock", "serve", "--port", "0", *args]
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env={**clean_os_environment(), **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.banner: list[str] = []
        self._rest: list[str] = []
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(self.START_TIMEOUT) or not self.banner[-1].startswith("Press"):
            self.close()
            raise RuntimeError("server did not start:\n" + "\n".join(self.banner + self._rest))
        found = re.search(r"listening on (http://\S+)", "\n".join(self.banner))
        assert found, self.banner
        self.url = found.group(1)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if self._ready.is_set():
                self._rest.append(line)
                continue
            self.banner.append(line.rstrip("\n"))
            if line.startswith("Press Ctrl-C"):
                self._ready.set()
        self._ready.set()

    def output(self) -> str:
        """What the server has printed after its banner so far."""
        return "".join(self._rest)

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        """Send ``sig``, wait for the exit, return the exit code and the output after the banner."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout=30)
        self.close()
        return code, "".join(self._rest)

    def close(self) -> None:
        """Kill the process if it still runs and release its pipe."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self._reader.join(timeout=10)  # it ends at the pipe's EOF, before the pipe is closed
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def run_server(tmp_path: Path) -> Iterator[Callable[..., RunningServer]]:
    """Start real servers; every one still running at the end is stopped by its PID."""
    started: list[RunningServer] = []

    def start(
        *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> RunningServer:
        server = RunningServer(list(args), cwd or tmp_path, env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def links_in(path: Path) -> list[dict[str, Any]]:
    """The links a TinyDB file holds, read straight from the JSON."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return list(data.get("links", {}).values())


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say how many of the deliberately broken mocks ``portal-mock contract`` caught.

    A variant counts as caught only if every phase of its test (setup, call,
    teardown) passed; one that errors in setup counts as not caught, not as absent.
    """
    caught: dict[str, bool] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            # The stats also hold deselected items and warnings: only test reports count.
            if not isinstance(report, pytest.TestReport) or (
                "test_each_broken_variant_is_reported_by_its_check" not in report.nodeid
            ):
                continue
            passed = report.outcome == "passed" and not hasattr(report, "wasxfail")
            caught[report.nodeid] = caught.get(report.nodeid, True) and passed
    if caught:
        found = sum(caught.values())
        terminalreporter.write_line(f"broken variants: caught {found} of {len(caught)}")

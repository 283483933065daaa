"""Clients generated from the spec, as Python and frontend developers make them, against the mock.

The generators are pinned: openapi-python-client in pyproject.toml's ``test`` extra,
openapi-typescript, openapi-fetch and typescript in tests/clients/package.json (with its lock).
"""

from __future__ import annotations

import filecmp
import importlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import API_KEY, WORKORDER, RunningServer
from filelock import FileLock

from portal_mock.paths import DEFAULT_SPEC

pytestmark = pytest.mark.slow

CLIENTS = Path(__file__).resolve().parent / "clients"
NPM_FILES = ("package.json", "package-lock.json")
PACKAGE = "portal_link_client"
OPERATIONS = {
    "list_workorder_portal_links",
    "create_workorder_portal_link",
    "get_workorder_portal_link",
    "update_workorder_portal_link",
    "delete_workorder_portal_link",
    "regenerate_workorder_portal_link",
    "activate_workorder_portal_link",
    "deactivate_workorder_portal_link",
}
SOURCES = ["file", "served"]


def run(command: list[str], cwd: Path | None = None, timeout: float = 300) -> str:
    """Run ``command``; its output, or a failure that shows it."""
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}:\n{output}"
    return output


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One ``portal-mock serve`` for the module, empty, with no PORTAL_MOCK_* of the caller."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("PORTAL_MOCK_")]:
            patch.delenv(name)
        server = RunningServer(
            ["--no-fixtures", "--db", "links.json"], tmp_path_factory.mktemp("mock")
        )
    yield server
    server.stop()


def source_of(name: str, mock: RunningServer) -> list[str]:
    """openapi-python-client's arguments to read the spec file, or the spec the mock serves."""
    return (
        ["--path", str(DEFAULT_SPEC)] if name == "file" else ["--url", f"{mock.url}/openapi.json"]
    )


def generate_python_client(source: list[str], folder: Path) -> tuple[Path, str]:
    """Run openapi-python-client as a developer would; the package and the tool's output."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.yaml"
    # No formatter afterwards: the client is the same without it, and ruff needn't be on PATH.
    config.write_text("post_hooks: []\n", encoding="utf-8")
    package = folder / PACKAGE
    command = [sys.executable, "-m", "openapi_python_client", "generate", *source]
    command += ["--output-path", str(package), "--meta", "none", "--config", str(config)]
    output = run([*command, "--fail-on-warning"])
    return package, output


@pytest.fixture(scope="module")
def python_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The client openapi-python-client generates from the spec file, imported."""
    folder = tmp_path_factory.mktemp("python-client")
    generate_python_client(["--path", str(DEFAULT_SPEC)], folder)
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


@pytest.mark.parametrize("source", SOURCES)
def test_python_client_has_every_operation_and_no_warning(
    source: str, mock: RunningServer, tmp_path: Path
) -> None:
    package, output = generate_python_client(source_of(source, mock), tmp_path)
    assert "warning" not in output.lower(), output
    generated = {path.stem for path in (package / "api" / "workorder_portal_links").glob("*.py")}
    assert generated - {"__init__"} == OPERATIONS


def test_python_client_is_the_same_from_the_file_and_from_the_server(
    mock: RunningServer, tmp_path: Path
) -> None:
    from_file, _ = generate_python_client(source_of("file", mock), tmp_path / "file")
    served, _ = generate_python_client(source_of("served", mock), tmp_path / "served")
    files = sorted(path.relative_to(from_file) for path in from_file.rglob("*.py"))
    assert files == sorted(path.relative_to(served) for path in served.rglob("*.py"))
    matched, mismatched, errors = filecmp.cmpfiles(from_file, served, files, shallow=False)
    assert (mismatched, errors) == ([], [])
    assert len(matched) > 20


class Api:
    """The generated client's operations and models, with a client for the running mock."""

    def __init__(self, client_module: ModuleType, url: str, key: str = API_KEY) -> None:
        self.ops = importlib.import_module(f"{PACKAGE}.api.workorder_portal_links")
        self.models = importlib.import_module(f"{PACKAGE}.models")
        self.client = client_module.AuthenticatedClient(
            base_url=url, token=key, prefix="", auth_header_name="X-API-Key"
        )

    def call(self, operation: str, **arguments: Any) -> Any:
        module = importlib.import_module(f"{self.ops.__name__}.{operation}")
        return module.sync_detailed(client=self.client, **arguments)

    def create(self, namespace: str, **fields: Any) -> Any:
        body = self.models.CreateWorkorderPortalLinkBody(
            workorder=WORKORDER, company_namespace=[namespace], **fields
        )
        response = self.call("create_workorder_portal_link", body=body)
        assert response.status_code == 201, response.content
        return response.parsed.data


@pytest.fixture
def api(python_client: ModuleType, mock: RunningServer) -> Iterator[Api]:
    generated = Api(python_client, mock.url)
    with generated.client:  # closes its connections
        yield generated


def test_python_client_creates_with_the_spec_defaults(api: Api) -> None:
    models = api.models
    link = api.create("py-create", permissions=models.Permissions(can_pay=True))
    assert isinstance(link, models.WorkorderPortalLink)
    assert link.link_type is models.LinkType.PRIVATE
    assert link.is_active is True
    assert link.expiry_date is None
    assert link.permissions.can_view_details is True
    assert link.permissions.can_pay is True
    assert link.access_restrictions.to_dict() == {
        "allowed_emails": [],
        "allowed_ip_ranges": [],
        "max_uses": None,
        "require_verification": False,
    }
    assert link.metadata.to_dict() == {}
    assert link.created_at == link.updated_at
    assert link.created_at.tzinfo is not None


def test_python_client_gets_and_lists_with_filters(api: Api) -> None:
    models = api.models
    link = api.create("py-list", link_type=models.LinkType.SECURE)
    api.create("py-list")
    got = api.call("get_workorder_portal_link", id=link.field_id)
    assert got.status_code == 200
    assert got.parsed.data.to_dict() == link.to_dict()
    listed = api.call(
        "list_workorder_portal_links",
        company_namespace=["py-list"],
        link_type=models.LinkType.SECURE,
        is_active=True,
        workorder=WORKORDER,
        per_page=5,
    )
    assert listed.status_code == 200
    assert isinstance(listed.parsed, models.WorkorderPortalLinkListResponse)
    assert [item.field_id for item in listed.parsed.data] == [link.field_id]
    assert (listed.parsed.paging.total, listed.parsed.paging.per_page) == (1, 5)
    by_id = api.call("list_workorder_portal_links", field_id=[link.field_id])
    assert [item.field_id for item in by_id.parsed.data] == [link.field_id]


def test_python_client_updates_regenerates_and_switches_activity(api: Api) -> None:
    models = api.models
    link = api.create("py-update")
    body = models.UpdateWorkorderPortalLink(
        link_type=models.LinkType.PUBLIC, metadata=models.Metadata.from_dict({"ticket": "HD-1"})
    )
    updated = api.call("update_workorder_portal_link", id=link.field_id, body=body).parsed.data
    assert updated.link_type is models.LinkType.PUBLIC
    assert updated.metadata.to_dict() == {"ticket": "HD-1"}
    assert updated.permissions.to_dict() == link.permissions.to_dict()
    renewed = api.call("regenerate_workorder_portal_link", id=link.field_id).parsed.data
    assert renewed.access_token != link.access_token
    assert renewed.url != link.url
    off = api.call("deactivate_workorder_portal_link", id=link.field_id).parsed.data
    assert off.is_active is False
    on = api.call("activate_workorder_portal_link", id=link.field_id).parsed.data
    assert on.is_active is True


def test_python_client_deletes_then_reads_the_404_envelope(api: Api) -> None:
    models = api.models
    link = api.create("py-delete")
    deleted = api.call("delete_workorder_portal_link", id=link.field_id)
    assert deleted.status_code == 200
    assert isinstance(deleted.parsed, models.DeleteResponse)
    assert deleted.parsed.success is True
    gone = api.call("get_workorder_portal_link", id=link.field_id)
    assert gone.status_code == 404
    assert isinstance(gone.parsed, models.ErrorResponse)
    assert gone.parsed.error.code is models.ErrorCode.NOT_FOUND


def test_python_client_reads_the_401_envelope(
    python_client: ModuleType, mock: RunningServer
) -> None:
    stranger = Api(python_client, mock.url, key="not-a-key")
    with stranger.client:
        refused = stranger.call("list_workorder_portal_links")
    assert refused.status_code == 401
    assert isinstance(refused.parsed, stranger.models.ErrorResponse)
    assert refused.parsed.error.code is stranger.models.ErrorCode.UNAUTHORIZED


@pytest.fixture(scope="session")
def npm_tools(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose node_modules holds the pinned npm packages, kept in pytest's cache.

    ``npm ci`` runs once, and again only when tests/clients' package files change. Under
    tox pytest keeps its cache in the env's folder, .tox/tests/.pytest_cache.
    """
    npm = shutil.which("npm")
    assert npm is not None, "npm must be on PATH"
    assert shutil.which("node") is not None, "node must be on PATH"
    cache = request.config.cache
    folder = cache.mkdir("generated-clients") if cache else tmp_path_factory.mktemp("npm")
    wanted = "".join((CLIENTS / name).read_text(encoding="utf-8") for name in NPM_FILES)
    stamp = folder / "installed-from"
    # pytest-xdist workers share the cache: on a fresh one, two concurrent `npm ci`
    # runs in one folder remove each other's files (npm's ENOTEMPTY).
    with FileLock(folder.parent / "generated-clients.lock", timeout=900):
        if not stamp.is_file() or stamp.read_text(encoding="utf-8") != wanted:
            stamp.unlink(missing_ok=True)
            for name in NPM_FILES:
                shutil.copyfile(CLIENTS / name, folder / name)
            run([npm, "ci", "--no-audit", "--no-fund"], cwd=folder, timeout=600)
            stamp.write_text(wanted, encoding="utf-8")
    return folder


def npm_bin(npm_tools: Path, name: str) -> str:
    return str(npm_tools / "node_modules" / ".bin" / name)


@pytest.fixture(scope="module")
def ts_types(
    npm_tools: Path, mock: RunningServer, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The ``paths`` types openapi-typescript generates from the spec file and the served spec."""
    folder = tmp_path_factory.mktemp("ts-types")
    sources = {"file": str(DEFAULT_SPEC), "served": f"{mock.url}/openapi.json"}
    generated = {}
    for name, source in sources.items():
        target = folder / f"{name}.ts"
        output = run([npm_bin(npm_tools, "openapi-typescript"), source, "-o", str(target)])
        assert "warn" not in output.lower(), output
        generated[name] = target
    return generated


def test_openapi_typescript_gives_the_same_types_from_the_file_and_from_the_server(
    ts_types: dict[str, Path],
) -> None:
    assert ts_types["file"].read_text() == ts_types["served"].read_text()


@pytest.mark.parametrize("source", SOURCES)
def test_typescript_flow_type_checks_strictly_and_runs_against_the_mock(
    source: str, ts_types: dict[str, Path], npm_tools: Path, mock: RunningServer, tmp_path: Path
) -> None:
    for name in ("flow.ts", "tsconfig.json", "package.json"):
        shutil.copyfile(CLIENTS / name, tmp_path / name)
    shutil.copyfile(ts_types[source], tmp_path / "api.ts")
    (tmp_path / "node_modules").symlink_to(npm_tools / "node_modules", target_is_directory=True)
    compiled = run([npm_bin(npm_tools, "tsc"), "-p", ".", "--strict"], cwd=tmp_path)
    assert compiled == ""
    output = run(["node", "flow.js", mock.url, API_KEY, f"ts-{source}"], cwd=tmp_path, timeout=60)
    assert output.strip() == "flow ok"

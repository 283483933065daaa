"""``portal-mock contract --tenant-key``: catches a deployment that leaks links between
companies, and stays clean on one that does not."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import (
    ACME_KEY,
    BASE,
    GLOBEX_KEY,
    KEYS_FILE_TEXT,
    WORKORDER,
    clean_os_environment,
)

import handlers.links
from portal_mock.app import create_app
from portal_mock.contract import isolation
from portal_mock.contract.isolation import Tenant, check_isolation, discover_namespace
from portal_mock.contract.target import serve_in_thread
from portal_mock.key_scopes import EVERYWHERE
from portal_mock.settings import Settings
from portal_mock.store import LinkStore

ACME, GLOBEX, KEYS = ACME_KEY, GLOBEX_KEY, KEYS_FILE_TEXT
HEADER = "X-API-Key"


def app_with_keys(tmp_path: Path) -> Any:
    keys = tmp_path / "keys.toml"
    keys.write_text(KEYS, encoding="utf-8")
    return create_app(Settings(db=None, fixtures=None, keys_file=keys), store=LinkStore())


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Any]:
    with app_with_keys(tmp_path).test_client() as test_client:
        yield test_client


def leak(monkeypatch: pytest.MonkeyPatch) -> None:
    """The deliberate defect: every key reaches every namespace, as if scopes were not read."""
    monkeypatch.setattr(handlers.links, "reach", lambda: EVERYWHERE)


def test_the_mock_keeps_two_companies_apart(client: Any) -> None:
    found = check_isolation(client, BASE, HEADER, Tenant(ACME, "acme"), Tenant(GLOBEX, "globex"))
    assert found == []
    # Everything the check made is gone again.
    assert client.get(BASE, headers={HEADER: ACME}).json()["data"] == []
    assert client.get(BASE, headers={HEADER: GLOBEX}).json()["data"] == []


def test_a_leaky_deployment_is_caught_on_every_rule(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    leak(monkeypatch)
    found = check_isolation(client, BASE, HEADER, Tenant(ACME, "acme"), Tenant(GLOBEX, "globex"))
    rules = {violation.rule for violation in found}
    assert rules == {
        isolation.NOT_THERE,
        isolation.NOT_LISTED,
        isolation.NOT_CREATED,
        isolation.UNCHANGED,
    }
    # Each way round: what the one key made, the other reached.
    assert any(f"{BASE}/" in v.detail for v in found if v.rule == isolation.NOT_THERE)


def test_each_keys_namespace_is_read_off_the_links_it_lists(client: Any) -> None:
    assert discover_namespace(client, BASE, HEADER, ACME, GLOBEX) is None
    for key, namespace in ((ACME, "acme"), (GLOBEX, "globex")):
        body = {"workorder": WORKORDER, "company_namespace": [namespace]}
        assert client.post(BASE, json=body, headers={HEADER: key}).status_code == 201
    assert discover_namespace(client, BASE, HEADER, ACME, GLOBEX) == "acme"
    assert discover_namespace(client, BASE, HEADER, GLOBEX, ACME) == "globex"


def contract(url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "portal_mock", "contract", "--url", url, "--api-key", ACME]
    command += ["--tenant-key", GLOBEX, "--namespace", "acme", "--tenant-namespace", "globex"]
    command += ["--operation", "getWorkorderPortalLink", "--phases", "examples", *extra]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=300, env=clean_os_environment()
    )


@pytest.mark.slow
def test_the_contract_command_is_clean_on_the_mock_and_fails_a_leaky_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_in_thread(app_with_keys(tmp_path)) as url:
        clean = contract(url)
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert "isolated: no violation" in clean.stdout
    leak(monkeypatch)
    with serve_in_thread(app_with_keys(tmp_path)) as url:
        leaky = contract(url)
    assert leaky.returncode == 1, leaky.stdout + leaky.stderr
    assert isolation.NOT_THERE in leaky.stdout
    assert isolation.NOT_LISTED in leaky.stdout
    assert ACME not in leaky.stdout


def test_tenant_key_needs_a_url_and_another_key() -> None:
    for extra, says in (
        ([], "--tenant-key needs --url"),
        (["--url", "http://127.0.0.1:9", "--api-key", GLOBEX], "another company's key"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "portal_mock", "contract", "--tenant-key", GLOBEX, *extra],
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_os_environment(),
        )
        assert done.returncode == 2
        assert says in done.stderr


def test_isolation_talks_http_only(tmp_path: Path) -> None:
    # The check takes any httpx client: a real deployment is reached the same way.
    with serve_in_thread(app_with_keys(tmp_path)) as url, httpx.Client(base_url=url) as client:
        assert (
            check_isolation(client, BASE, HEADER, Tenant(ACME, "acme"), Tenant(GLOBEX, "globex"))
            == []
        )

"""Sessions, seeding, --reset, the request lines and --reload on a real server over HTTP."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import AUTH, BASE, WORKORDER, RunningServer, links_in

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("clean_environment")]

Start = Callable[..., RunningServer]
SESSION = {"X-Mock-Session": "e2e-run"}


def client(server: RunningServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers=AUTH, timeout=60)


def total(server: RunningServer, headers: dict[str, str] | None = None) -> int:
    with client(server) as api:
        response = api.get(BASE, headers=headers or {})
    assert response.status_code == 200, response.text
    count: int = response.json()["paging"]["total"]
    return count


def seed_command(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "portal_mock", "seed", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_a_session_is_gone_after_a_restart_and_never_reached_the_disk(
    run_server: Start, tmp_path: Path, sample_links: list[Any]
) -> None:
    first = run_server("--db", "db.json")
    with client(first) as api:
        created = api.post(BASE, json={"workorder": WORKORDER}, headers=SESSION)
    assert created.status_code == 201
    assert total(first, SESSION) == len(sample_links) + 1
    first.stop()
    assert created.json()["data"]["_id"] not in (tmp_path / "db.json").read_text()
    second = run_server("--db", "db.json")
    assert total(second, SESSION) == len(sample_links)
    assert total(second) == len(sample_links)


def test_seed_refuses_a_store_a_server_holds_and_names_the_control(
    run_server: Start, tmp_path: Path, sample_links: list[Any]
) -> None:
    server = run_server("--db", "db.json")
    refused = seed_command("--count", "3", "--db", "db.json", cwd=tmp_path)
    assert refused.returncode == 2
    assert "POST /__mock/seed" in refused.stderr
    assert total(server) == len(sample_links)
    server.stop()
    done = seed_command("--count", "3", "--seed", "5", "--db", "db.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "--seed 5" in done.stdout
    assert total(run_server("--db", "db.json")) == len(sample_links) + 3


def test_seeding_two_stores_with_one_seed_gives_the_same_links(tmp_path: Path) -> None:
    for name in ("a.json", "b.json"):
        assert (
            seed_command("--count", "4", "--seed", "9", "--db", name, cwd=tmp_path).returncode == 0
        )

    def contents(name: str) -> list[dict[str, Any]]:
        links = sorted(links_in(tmp_path / name), key=lambda link: link["_id"])
        return [{k: v for k, v in link.items() if k != "_id"} for link in links]

    assert contents("a.json") == contents("b.json")
    assert len(contents("a.json")) == 4


def test_reset_flag_puts_back_a_deleted_fixture(run_server: Start, sample_links: list[Any]) -> None:
    first = run_server("--db", "db.json")
    with client(first) as api:
        assert api.delete(f"{BASE}/{sample_links[0]['_id']}").status_code == 200
    first.stop()
    kept = run_server("--db", "db.json")
    assert total(kept) == len(sample_links) - 1
    kept.stop()
    assert total(run_server("--db", "db.json", "--reset")) == len(sample_links)


def test_each_request_is_one_line_without_keys_or_tokens(run_server: Start) -> None:
    server = run_server("--no-fixtures", "--api-key", "secret-key-1")
    with httpx.Client(base_url=server.url, headers={"X-API-Key": "secret-key-1"}) as api:
        link = api.post(BASE, json={"workorder": WORKORDER}, headers=SESSION).json()["data"]
        api.get(BASE, params={"access_token": link["access_token"]})
        api.get(BASE, headers={"X-API-Key": "not-the-key"})
    _, output = server.stop()
    lines = [line for line in output.splitlines() if f" {BASE}" in line]
    assert len(lines) == 3, output
    assert lines[0].endswith(" e2e-run")
    assert " POST " in lines[0]
    assert " 201 " in lines[0]
    assert " 401 " in lines[2]
    for secret in ("secret-key-1", "not-the-key", link["access_token"]):
        assert secret not in output


@pytest.mark.parametrize(
    "flags", [["--quiet"], ["--log-level", "warning"]], ids=["--quiet", "--log-level warning"]
)
def test_a_quiet_server_prints_no_request_lines(run_server: Start, flags: list[str]) -> None:
    server = run_server("--no-fixtures", *flags)
    total(server)
    _, output = server.stop()
    assert f" {BASE}" not in output


def test_reload_restarts_the_server_when_the_spec_changes_and_keeps_the_store(
    run_server: Start, tmp_path: Path
) -> None:
    spec = tmp_path / "spec.yaml"
    bundled = Path(__file__).resolve().parent.parent / "openapi" / "workorder-portal-links.yaml"
    spec.write_text(bundled.read_text(encoding="utf-8"), encoding="utf-8")
    server = run_server("--db", "db.json", "--reset", "--reload", "--spec", str(spec))

    def title() -> str:
        served: str = httpx.get(f"{server.url}/openapi.json", timeout=10).json()["info"]["title"]
        return served

    assert title() == "Workorder Portal Link API"
    with client(server) as api:
        link_id = api.post(BASE, json={"workorder": WORKORDER}).json()["data"]["_id"]
    text = spec.read_text(encoding="utf-8")
    spec.write_text(text.replace("title: Workorder Portal Link API", "title: Reloaded"), "utf-8")
    deadline = time.monotonic() + 60
    seen = ""
    while time.monotonic() < deadline and seen != "Reloaded":
        time.sleep(0.5)
        try:
            seen = title()
        except httpx.HTTPError:
            continue  # between the old server's stop and the new one's start
    assert seen == "Reloaded"
    # --reset empties nothing on a restart that a spec change caused.
    with client(server) as api:
        assert api.get(f"{BASE}/{link_id}").status_code == 200
    code, output = server.stop()
    assert code == 0, output
    assert "spec.yaml changed, restarting" in output


def test_a_killed_reload_supervisor_leaves_no_server_behind(run_server: Start) -> None:
    server = run_server("--no-fixtures", "--reload")
    assert total(server) == 0
    server.process.kill()
    server.process.wait(timeout=10)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{server.url}/__mock/health", headers=AUTH, timeout=2)
        except httpx.TransportError:
            break
        time.sleep(0.5)
    else:
        pytest.fail("the reload child still answers after its supervisor was killed")


def test_reload_first_says_what_the_edit_breaks_and_which_stored_links_it_refuses(
    run_server: Start, tmp_path: Path
) -> None:
    spec = tmp_path / "spec.yaml"
    bundled = Path(__file__).resolve().parent.parent / "openapi" / "workorder-portal-links.yaml"
    text = bundled.read_text(encoding="utf-8")
    spec.write_text(text, encoding="utf-8")
    server = run_server("--db", "db.json", "--no-fixtures", "--reload", "--spec", str(spec))
    with client(server) as api:
        public = api.post(BASE, json={"workorder": WORKORDER, "link_type": "public"}).json()
        api.post(BASE, json={"workorder": WORKORDER, "link_type": "secure"})
    narrowed = text.replace("enum: [public, private, secure]", "enum: [private, secure]")
    assert narrowed != text
    spec.write_text(narrowed, encoding="utf-8")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "changed, restarting" not in server.output():
        time.sleep(0.5)
    code, output = server.stop()  # at once: a stop during the restart is a clean stop too
    assert code == 0, output
    report = output[: output.index("spec.yaml changed, restarting")]
    assert "spec.yaml against the version served:" in report
    assert "BREAKING enum-narrowed: enum lost 'public'" in report
    assert f"link {public['data']['_id']} is invalid under the new version" in report
    assert "link_type: 'public' is not one of ['private', 'secure']" in report
    assert (
        "1 breaking change(s), 0 compatible, 1 stored link(s) or fixture(s) made invalid" in report
    )

"""The real server over HTTP: start-up, keys, signals, persistence across restarts, concurrency."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from conftest import AUTH, BASE, WORKORDER, RunningServer, clean_os_environment, links_in

from portal_mock.fixtures import read_fixtures
from portal_mock.paths import DEFAULT_FIXTURES, DEFAULT_SPEC

pytestmark = pytest.mark.slow

Start = Callable[..., RunningServer]
TIMEOUT = httpx.Timeout(60.0)


def api(server: RunningServer, key: str = AUTH["X-API-Key"]) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=TIMEOUT)


def created(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = client.post(BASE, json={"workorder": WORKORDER, **fields})
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def acknowledged(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def deleted(client: httpx.Client, link_id: str) -> None:
    response = client.delete(f"{BASE}/{link_id}")
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True}


def listed(server: RunningServer) -> tuple[list[dict[str, Any]], int]:
    """Every link, page by page, and the ``total`` the last page reported."""
    links: list[dict[str, Any]] = []
    with api(server) as client:
        for page in range(1, 1000):
            body = client.get(BASE, params={"per_page": 100, "page": page}).json()
            links += body["data"]
            if page >= body["paging"]["total_pages"]:
                return links, body["paging"]["total"]
    raise AssertionError("paging never ended")


def ids(links: Iterable[Mapping[str, Any]]) -> set[str]:
    return {link["_id"] for link in links}


async def send_all(url: str, calls: list[tuple[str, str, Any]], limit: int) -> list[httpx.Response]:
    """Send ``(method, path, json)`` calls at once, at most ``limit`` in flight."""
    gate = asyncio.Semaphore(limit)
    async with httpx.AsyncClient(
        base_url=url, headers=AUTH, timeout=TIMEOUT, limits=httpx.Limits(max_connections=limit)
    ) as client:

        async def send(method: str, path: str, body: Any) -> httpx.Response:
            async with gate:
                return await client.request(method, path, json=body)

        return await asyncio.gather(*(send(*call) for call in calls))


@pytest.mark.parametrize(
    ("keys", "offers_dev_key"),
    [([], True), (["--api-key", "secret-k1"], False)],
    ids=["no key given", "key given"],
)
def test_banner_says_where_it_listens_what_it_serves_and_whether_the_dev_key_works(
    run_server: Start, tmp_path: Path, keys: list[str], offers_dev_key: bool
) -> None:
    server = run_server("--db", "store.json", *keys)
    text = "\n".join(server.banner)
    assert re.fullmatch(r"http://127\.0\.0\.1:[1-9]\d*", server.url)
    assert f"listening on {server.url}" in text
    assert str((tmp_path / "store.json").resolve()) in text
    assert str(DEFAULT_SPEC.resolve()) in text
    assert f"{server.url}/ui/" in text
    assert ("dev-key" in text) is offers_dev_key
    assert "secret-k1" not in text


def test_serves_the_bundled_spec_as_written_and_swagger_ui(
    run_server: Start, spec: dict[str, Any]
) -> None:
    url = run_server("--no-fixtures").url
    served = httpx.get(f"{url}/openapi.json", timeout=TIMEOUT)
    as_yaml = httpx.get(f"{url}/openapi.yaml", timeout=TIMEOUT)
    ui = httpx.get(f"{url}/ui/", timeout=TIMEOUT)
    assert served.status_code == as_yaml.status_code == 200
    # $refs kept, so code generators name their types; servers is where it was served from.
    assert served.json() == {**spec, "servers": [{"url": url}]}
    assert yaml.safe_load(as_yaml.text) == served.json()
    assert ui.status_code == 200
    assert ui.headers["content-type"].startswith("text/html")


def test_default_fixtures_fill_a_new_store_with_the_sample_links(run_server: Start) -> None:
    links, total = listed(run_server())
    samples = read_fixtures(DEFAULT_FIXTURES)
    assert total == len(samples) == len(links)
    assert ids(links) == ids(samples)


def test_no_fixtures_starts_with_an_empty_store(run_server: Start) -> None:
    assert listed(run_server("--no-fixtures")) == ([], 0)


def test_fixtures_are_not_reloaded_into_a_store_that_already_has_links(
    run_server: Start, tmp_path: Path
) -> None:
    db = str(tmp_path / "db.json")
    first = run_server("--db", db)
    before, _ = listed(first)
    with api(first) as client:
        deleted(client, before[0]["_id"])
    first.stop()
    after, total = listed(run_server("--db", db))
    assert total == len(before) - 1
    assert ids(after) == ids(before) - {before[0]["_id"]}


def test_runs_from_any_directory_and_creates_the_default_store_there(
    run_server: Start, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    server = run_server(cwd=elsewhere)
    _, total = listed(server)
    assert total == len(read_fixtures(DEFAULT_FIXTURES))
    assert (elsewhere / "portal-mock-db.json").is_file()
    assert str((elsewhere / "portal-mock-db.json").resolve()) in "\n".join(server.banner)


@pytest.mark.parametrize(
    ("args", "env", "keys"),
    [
        (["--api-key", "k1", "--api-key", "k2"], {}, ["k1", "k2"]),
        ([], {"PORTAL_MOCK_API_KEY": "e1,e2"}, ["e1", "e2"]),
    ],
    ids=["repeated --api-key", "PORTAL_MOCK_API_KEY comma list"],
)
def test_configured_keys_are_accepted_and_the_dev_key_is_refused(
    run_server: Start, args: list[str], env: dict[str, str], keys: list[str]
) -> None:
    server = run_server("--no-fixtures", *args, env=env)
    for key in keys:
        with api(server, key) as client:
            assert client.get(BASE).status_code == 200
    with api(server, "dev-key") as client:
        refused = client.get(BASE)
    assert refused.status_code == 401
    assert refused.json()["success"] is False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_the_server_cleanly_with_exit_code_0(run_server: Start, sig: int) -> None:
    code, output = run_server("--no-fixtures").stop(sig)
    assert code == 0, output
    assert "portal-mock stopped." in output
    assert "Traceback" not in output


def test_one_ctrl_c_delivered_twice_still_shuts_down_gracefully(run_server: Start) -> None:
    # A terminal sends Ctrl-C to the whole process group, and tox forwards its
    # own copy: two SIGINTs at once must not force an abrupt exit.
    server = run_server("--no-fixtures")
    server.process.send_signal(signal.SIGINT)
    server.process.send_signal(signal.SIGINT)
    code, output = server.stop()
    assert code == 0, output
    assert "Application shutdown complete" in output
    assert "Traceback" not in output


def write_some_links(
    server: RunningServer, example: dict[str, Any]
) -> tuple[dict[str, dict[str, Any]], str]:
    """Create, update, regenerate, deactivate and delete; return the acknowledged links."""
    with api(server) as client:
        full, plain, regen, off, gone = [created(client, **example)] + [
            created(client) for _ in range(4)
        ]
        changes = [
            ("PUT", f"{BASE}/{full['_id']}", {"link_type": "secure", "metadata": {"v": 2}}),
            ("PUT", f"{BASE}/{plain['_id']}", {"company_namespace": ["a"], "is_active": False}),
            ("POST", f"{BASE}/{regen['_id']}/regenerate", None),
            ("POST", f"{BASE}/{off['_id']}/deactivate", None),
        ]
        states = [acknowledged(client.request(m, path, json=body)) for m, path, body in changes]
        deleted(client, gone["_id"])
    return {state["_id"]: state for state in states}, gone["_id"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_every_acknowledged_write_survives_a_rerun_server(
    run_server: Start, tmp_path: Path, spec: dict[str, Any], sig: int
) -> None:
    db = tmp_path / "db.json"
    create_body = spec["components"]["requestBodies"]["CreateWorkorderPortalLink"]
    create_example = create_body["content"]["application/json"]
    first = run_server("--db", str(db), "--no-fixtures")
    expected, gone = write_some_links(first, create_example["example"])
    first.stop(sig)
    if sig == signal.SIGTERM:
        # A clean stop folds the journal into the snapshot; after a kill the
        # journal beside it still holds the latest writes.
        by_id = sorted(links_in(db), key=lambda link: link["_id"])
        assert by_id == sorted(expected.values(), key=lambda link: link["_id"])
    second = run_server("--db", str(db), "--no-fixtures")
    with api(second) as client:
        for link_id, before in expected.items():
            assert acknowledged(client.get(f"{BASE}/{link_id}")) == before
        assert client.get(f"{BASE}/{gone}").status_code == 404
    assert listed(second)[1] == len(expected)


def test_ids_are_never_reused_even_after_deleting_the_newest_and_restarting(
    run_server: Start, tmp_path: Path
) -> None:
    db = str(tmp_path / "db.json")
    first = run_server("--db", db, "--no-fixtures")
    with api(first) as client:
        a, b = created(client), created(client)
        deleted(client, b["_id"])
    first.stop()
    with api(run_server("--db", db, "--no-fixtures")) as client:
        c = created(client)
    assert c["_id"] != b["_id"]
    assert c["_id"] > b["_id"] > a["_id"]


def test_300_concurrent_creates_all_succeed_with_distinct_ids_and_tokens(
    run_server: Start, tmp_path: Path
) -> None:
    db = tmp_path / "db.json"
    server = run_server("--db", str(db), "--no-fixtures")
    calls = [("POST", BASE, {"workorder": WORKORDER, "metadata": {"n": n}}) for n in range(300)]
    responses = asyncio.run(send_all(server.url, calls, limit=32))
    assert sorted({r.status_code for r in responses}) == [201]
    links = [r.json()["data"] for r in responses]
    assert len(ids(links)) == 300
    assert len({link["access_token"] for link in links}) == 300
    assert sorted(link["metadata"]["n"] for link in links) == list(range(300))
    stored, total = listed(server)
    assert total == 300
    assert ids(stored) == ids(links)
    server.stop()
    assert ids(links_in(db)) == ids(links)
    assert listed(run_server("--db", str(db), "--no-fixtures"))[1] == 300


def mixed_changes(link: str, count: int) -> Iterator[tuple[tuple[str, str, Any], dict[str, Any]]]:
    """Partial updates and actions on ``link``, each with the fields its answer must show."""
    for n in range(count):
        body: dict[str, Any]
        if n % 2:
            body = {"metadata": {"writer": n}, "link_type": ("public", "private", "secure")[n % 3]}
        else:
            body = {"company_namespace": [f"ns-{n}"], "is_active": n % 4 == 0}
        yield ("PUT", link, body), body
        action, effect = [("activate", True), ("deactivate", False), ("regenerate", None)][n % 3]
        yield ("POST", f"{link}/{action}", None), {} if effect is None else {"is_active": effect}


def test_concurrent_mixed_updates_of_one_link_each_succeed_and_one_of_them_wins(
    run_server: Start, conforms: Callable[[Any], None]
) -> None:
    server = run_server("--no-fixtures")
    with api(server) as client:
        link = f"{BASE}/{created(client)['_id']}"
    calls, effects = zip(*mixed_changes(link, 90), strict=True)
    responses = asyncio.run(send_all(server.url, list(calls), limit=16))
    for effect, response in zip(effects, responses, strict=True):
        data = acknowledged(response)
        conforms(response)
        assert {key: data[key] for key in effect} == effect
    with api(server) as client:
        final = acknowledged(client.get(link))
    assert final in [response.json()["data"] for response in responses]


def serve_once(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``portal-mock serve`` to its end, in a clean environment, and return how it ended."""
    command = [sys.executable, "-m", "portal_mock", "serve", *args]
    return subprocess.run(
        command, cwd=cwd, env=clean_os_environment(), capture_output=True, text=True, timeout=60
    )


def test_serve_on_a_port_another_server_holds_exits_2_naming_the_port(
    run_server: Start, tmp_path: Path
) -> None:
    holder = run_server("--no-fixtures", "--db", "first.json")
    port = holder.url.rsplit(":", 1)[1]
    ended = serve_once("--port", port, "--db", "second.json", cwd=tmp_path)
    assert ended.returncode == 2, ended.stdout + ended.stderr
    assert f"portal-mock: cannot listen on 127.0.0.1:{port}" in ended.stderr
    assert "Traceback" not in ended.stderr
    assert not (tmp_path / "second.json").exists()
    with api(holder) as client:
        assert client.get(BASE).status_code == 200


def test_serve_on_a_store_another_server_holds_exits_2_naming_the_lock(
    run_server: Start, tmp_path: Path
) -> None:
    holder = run_server("--no-fixtures", "--db", "shared.json")
    with api(holder) as client:
        link = created(client)
    ended = serve_once("--port", "0", "--db", "shared.json", cwd=tmp_path)
    assert ended.returncode == 2, ended.stdout + ended.stderr
    assert "shared.json is in use by another portal-mock process" in ended.stderr
    assert "Traceback" not in ended.stderr
    with api(holder) as client:
        assert acknowledged(client.get(f"{BASE}/{link['_id']}")) == link


def test_servers_a_test_starts_ignore_the_portal_mock_variables_of_its_shell(
    run_server: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTAL_MOCK_API_KEY", "from-the-shell")
    monkeypatch.setenv("PORTAL_MOCK_NO_FIXTURES", "1")
    server = run_server("--db", "db.json")
    assert "dev-key" in "\n".join(server.banner)
    assert listed(server)[1] == len(read_fixtures(DEFAULT_FIXTURES))


def test_a_served_mock_fails_and_answers_browsers_as_its_flags_say(run_server: Start) -> None:
    server = run_server(
        "--db", "store.json", "--fail-rate", "1", "--cors-origin", "http://localhost:5173"
    )
    text = "\n".join(server.banner)
    assert "cors:       http://localhost:5173" in text
    assert "faults:     latency 0-0 ms, fail rate 1" in text
    headers = {**AUTH, "Origin": "http://localhost:5173"}
    response = httpx.get(f"{server.url}/workorder-portal-links", headers=headers)
    assert response.status_code == 500
    assert response.headers["x-mock-fault"] == "injected"
    assert response.headers["access-control-allow-origin"] == "http://localhost:5173"

"""The store's contract, the same on both backends: the embedded file store and PostgreSQL.

One parametrised fixture runs every test on each; a Hypothesis test then asks
both the same random queries over the same links and wants the same pages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import WORKORDER
from hypothesis import given
from hypothesis import strategies as st
from pg_cluster import fresh_database

from portal_mock.store import LinkStore
from portal_mock.store.postgres import PostgresLinkStore
from portal_mock.store.querying import LinkQuery

Store = Any  # LinkStore or PostgresLinkStore: one interface
# Beside the time-budgeted broken-variant runs, never at the same time: the PostgreSQL
# server's work would be a third process on CI's two cores.
pytestmark = pytest.mark.xdist_group("broken-variants")
SORTABLE = ["_id", "workorder", "link_type", "expiry_date", "is_active", "created_at", "updated_at"]


@pytest.fixture(params=["embedded", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "embedded":
        opened: Store = LinkStore(tmp_path / "db.json")
    else:
        opened = PostgresLinkStore(fresh_database(request.getfixturevalue("pg_server")))
    yield opened
    opened.close()


def link(n: int, **fields: Any) -> dict[str, Any]:
    return {
        "workorder": f"{n % 3:024x}",
        "link_type": ["public", "private", "secure"][n % 3],
        "is_active": n % 2 == 0,
        "expiry_date": None if n % 4 == 0 else f"2030-01-{n % 27 + 1:02d}T0{n % 9}:00:00+02:00",
        "company_namespace": [["acme"], ["globex"], [], ["acme", "initech"]][n % 4],
        "metadata": {"n": n, "tag": "odd" if n % 2 else "even"},
        **fields,
    }


def test_create_get_update_delete(backend: Store) -> None:
    created = backend.create(link(1))
    assert backend.get(created["_id"]) == created
    assert created["created_at"] == created["updated_at"]
    same = backend.update(created["_id"], {"link_type": created["link_type"]})
    assert same == created, "an update that changes nothing moves nothing"
    changed = backend.update(created["_id"], {"is_active": True, "metadata": {"x": [1, 2]}})
    assert changed is not None
    assert changed["metadata"] == {"x": [1, 2]}
    assert changed["updated_at"] > created["updated_at"]
    assert backend.get(created["_id"]) == changed
    assert backend.delete(created["_id"]) is True
    assert backend.get(created["_id"]) is None
    assert backend.delete(created["_id"]) is False
    assert backend.update(created["_id"], {"is_active": False}) is None


def test_a_refused_caller_sees_no_change(backend: Store) -> None:
    created = backend.create(link(2))
    refuse = lambda found: False  # noqa: E731

    async def attempts() -> tuple[Any, Any]:
        updated = await backend.update_async(created["_id"], {"is_active": True}, refuse)
        deleted = await backend.delete_async(created["_id"], refuse)
        return updated, deleted

    assert asyncio.run(attempts()) == (None, False)
    assert backend.get(created["_id"]) == created


def test_ids_are_object_ids_growing_in_creation_order(backend: Store) -> None:
    ids = [backend.create(link(n))["_id"] for n in range(20)]
    ids += backend.add([link(n) for n in range(5)])
    assert len(set(ids)) == 25
    assert ids == sorted(ids)
    assert all(len(i) == 24 and int(i, 16) for i in ids)


def test_reset_keeps_ids_and_later_ids_stay_above_them(backend: Store) -> None:
    backend.create(link(0))
    kept = [{**link(n), "_id": f"ff{n:022x}", "created_at": "2026-01-01T00:00:00.000Z",
             "updated_at": "2026-01-01T00:00:00.000Z"} for n in range(3)]  # fmt: skip
    backend.reset(kept)
    assert sorted(backend.export(), key=lambda found: found["_id"]) == kept
    assert backend.count() == 3
    assert backend.create(link(9))["_id"] > kept[-1]["_id"]


def test_filters_order_and_pages(backend: Store) -> None:
    made = [backend.create(link(n)) for n in range(12)]
    acme = [m["_id"] for m in made if "acme" in m["company_namespace"]]
    found, paging = backend.search(LinkQuery(company_namespace=["acme"], sort="_id", per_page=2))
    assert [f["_id"] for f in found] == acme[:2]
    assert paging == {"page": 1, "per_page": 2, "total": len(acme), "total_pages": 3}
    past, paging = backend.search(LinkQuery(sort="_id", page=9, per_page=5))
    assert past == []
    assert paging["total"] == 12
    odd = backend.search(LinkQuery(equal=(("metadata", {"n": 3, "tag": "odd"}),)))[0]
    assert [f["_id"] for f in odd] == [made[3]["_id"]]
    namespaced = backend.search(LinkQuery(equal=(("company_namespace", ["initech"]),)))[0]
    assert {f["_id"] for f in namespaced} == {m["_id"] for m in made if "initech" in
                                                m["company_namespace"]}  # fmt: skip


queries = st.builds(
    LinkQuery,
    company_namespace=st.lists(st.sampled_from(["acme", "globex", "initech", "none"]), max_size=2),
    workorder=st.none() | st.sampled_from([f"{n:024x}" for n in range(4)]),
    is_active=st.none() | st.booleans(),
    link_type=st.none() | st.sampled_from(["public", "private", "secure"]),
    visible=st.none() | st.frozensets(st.sampled_from(["acme", "globex"]), max_size=2),
    sort=st.lists(
        st.sampled_from(SORTABLE).flatmap(lambda name: st.sampled_from([name, f"-{name}"])),
        min_size=1, max_size=3, unique_by=lambda part: part.lstrip("-"),
    ).map(",".join),
    page=st.integers(1, 4),
    per_page=st.integers(1, 7),
)  # fmt: skip


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory, pg_server: str) -> Iterator[tuple[Store, Store]]:
    """The same 30 links in each backend."""
    embedded = LinkStore(tmp_path_factory.mktemp("both") / "db.json")
    shared = PostgresLinkStore(fresh_database(pg_server))
    links = [embedded.create(link(n, workorder=WORKORDER if n % 5 == 0 else f"{n % 4:024x}"))
             for n in range(30)]  # fmt: skip
    shared.reset(links)
    yield embedded, shared
    embedded.close()
    shared.close()


@given(query=queries)
def test_both_backends_answer_every_query_alike(
    both: tuple[Store, Store], query: LinkQuery
) -> None:
    embedded, shared = both
    assert shared.search(query) == embedded.search(query)


def test_serve_on_postgresql_keeps_links_across_a_restart(pg_server: str, tmp_path: Path) -> None:
    import httpx
    from conftest import AUTH, BASE, RunningServer

    url = fresh_database(pg_server)
    server = RunningServer(["--db", url], tmp_path)
    try:
        assert "  store:      postgresql://" in "\n".join(server.banner)
        # A new database gets the sample links, as a new store file does.
        samples = httpx.get(server.url + BASE, headers=AUTH).json()["paging"]["total"]
        assert samples == 24
        made = httpx.post(server.url + BASE, json={"workorder": WORKORDER}, headers=AUTH).json()
    finally:
        server.stop()
    server = RunningServer(["--db", url], tmp_path)
    try:
        found = httpx.get(f"{server.url}{BASE}/{made['data']['_id']}", headers=AUTH)
        assert found.json()["data"] == made["data"]
        assert httpx.get(server.url + BASE, headers=AUTH).json()["paging"]["total"] == 25
    finally:
        server.stop()


def test_a_database_it_cannot_reach_is_one_line_and_exit_2(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    from conftest import clean_os_environment

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here
    url = f"postgresql://portal:s3cret-pw@127.0.0.1:{port}/links?connect_timeout=2"
    done = subprocess.run(
        [sys.executable, "-m", "portal_mock", "serve", "--port", "0", "--db", url],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=clean_os_environment(),
    )  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("portal-mock: cannot start: cannot use the database postgresql://")
    assert "s3cret-pw" not in done.stderr + done.stdout


def test_any_rfc_3339_expiry_is_stored_and_ordered_as_a_time(backend: Store) -> None:
    # Offsets past PostgreSQL's timestamptz range (15:59) are RFC 3339, so the spec's:
    # the contract run found a 500 on "-19:28" before expiry became a number.
    expiries = ["5869-05-06T13:30:15-19:28", "9999-12-31T23:59:59-23:59",
                "0001-01-01T00:00:00+23:59", "5869-05-07T08:58:14Z", None]  # fmt: skip
    made = [backend.create(link(n, expiry_date=e)) for n, e in enumerate(expiries)]
    assert [backend.get(m["_id"])["expiry_date"] for m in made] == expiries
    found, _ = backend.search(LinkQuery(sort="expiry_date", per_page=10))
    # The first two are one second apart in UTC: 13:30:15 at -19:28 is 08:58:15 the next day.
    assert [f["expiry_date"] for f in found] == [None, expiries[2], expiries[3], expiries[0],
                                                   expiries[1]]  # fmt: skip

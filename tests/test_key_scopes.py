"""Keys scoped to company namespaces: a key sees and changes only its companies' links."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    ACME_KEY,
    ALL_KEY,
    BASE,
    GLOBEX_KEY,
    KEYS_FILE_TEXT,
    WORKORDER,
    RunningServer,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from portal_mock.app import create_app
from portal_mock.key_scopes import read_keys_file
from portal_mock.settings import Settings
from portal_mock.store import LinkStore

ALL, ACME, GLOBEX, KEYS = ALL_KEY, ACME_KEY, GLOBEX_KEY, KEYS_FILE_TEXT
OTHER_WORKORDER = "507f1f77bcf86cd799439099"


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys.toml"
    path.write_text(KEYS, encoding="utf-8")
    return path


@pytest.fixture
def clients(keys_file: Path, store: LinkStore) -> Iterator[dict[str, Any]]:
    """A test client per key, over one store; ``admin`` is an --api-key key."""
    settings = Settings(db=None, fixtures=None, api_keys=("admin-key",), keys_file=keys_file)
    app = create_app(settings, store=store)
    with app.test_client() as client:
        yield {
            name: _Keyed(client, key)
            for name, key in (
                ("acme", ACME),
                ("globex", GLOBEX),
                ("all", ALL),
                ("admin", "admin-key"),
            )
        }


class _Keyed:
    """One test client that sends one key."""

    def __init__(self, client: Any, key: str) -> None:
        self.client, self.headers = client, {"X-API-Key": key}

    def __getattr__(self, method: str) -> Any:
        call = getattr(self.client, method)
        return lambda url, **kw: call(url, headers=self.headers, **kw)


def made(client: _Keyed, *namespaces: str, workorder: str = WORKORDER) -> dict[str, Any]:
    body = {"workorder": workorder, "company_namespace": list(namespaces)}
    response = client.post(BASE, json=body)
    assert response.status_code == 201, response.text
    link: dict[str, Any] = response.json()["data"]
    return link


def listed_ids(client: _Keyed, **query: Any) -> list[str]:
    response = client.get(BASE, params={"per_page": 100, **query})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["paging"]["total"] == len(body["data"])
    return [link["_id"] for link in body["data"]]


def not_there(response: Any, link_id: str, absent: Any) -> None:
    """Answered exactly as a link that does not exist is."""
    assert response.status_code == 404, response.text
    assert response.json() == {
        **absent.json(),
        "error": {
            **absent.json()["error"],
            "message": absent.json()["error"]["message"].replace("0" * 24, link_id),
        },
    }


def test_a_scoped_key_lists_only_links_its_namespaces_overlap(clients: dict[str, Any]) -> None:
    acme = made(clients["admin"], "acme")
    shared = made(clients["admin"], "acme", "globex")
    globex = made(clients["admin"], "globex")
    nowhere = made(clients["admin"])
    assert set(listed_ids(clients["acme"])) == {acme["_id"], shared["_id"]}
    assert set(listed_ids(clients["globex"])) == {shared["_id"], globex["_id"]}
    for key in ("all", "admin"):
        assert len(listed_ids(clients[key])) == 4
    everyone = [acme, shared, globex, nowhere]
    # Filters cannot reach past the key either, _id included.
    assert listed_ids(clients["acme"], _id=[link["_id"] for link in everyone]) == listed_ids(
        clients["acme"], sort="-created_at"
    )
    assert listed_ids(clients["acme"], company_namespace="globex") == [shared["_id"]]
    assert listed_ids(clients["acme"], workorder=WORKORDER, is_active=True) == [
        shared["_id"],
        acme["_id"],
    ]


def test_every_operation_on_another_companys_link_is_a_404_like_a_missing_one(
    clients: dict[str, Any],
) -> None:
    link = made(clients["globex"], "globex")
    acme, path = clients["acme"], f"{BASE}/{link['_id']}"
    missing = f"{BASE}/{'0' * 24}"
    calls = [
        ("get", "", None),
        ("put", "", {"is_active": False}),
        ("post", "/regenerate", None),
        ("post", "/activate", None),
        ("post", "/deactivate", None),
        ("delete", "", None),
    ]
    for method, suffix, body in calls:
        kwargs = {} if body is None else {"json": body}
        absent = getattr(acme, method)(missing + suffix, **kwargs)
        not_there(getattr(acme, method)(path + suffix, **kwargs), link["_id"], absent)
    # A move into the caller's own namespaces is no way in either.
    absent = acme.put(missing, json={"company_namespace": ["acme"]})
    not_there(acme.put(path, json={"company_namespace": ["acme"]}), link["_id"], absent)
    assert clients["globex"].get(path).json()["data"] == link


def test_a_scoped_key_creates_only_inside_its_namespaces(clients: dict[str, Any]) -> None:
    acme = clients["acme"]
    for namespaces in (["globex"], ["acme", "globex"], []):
        body = {"workorder": WORKORDER, "company_namespace": namespaces}
        response = acme.post(BASE, json=body)
        assert response.status_code == 403, response.text
        error = response.json()["error"]
        assert error["code"] == "forbidden"
        assert error["details"][0]["field"] == "company_namespace"
        assert ACME not in response.text
    assert listed_ids(clients["admin"]) == []
    assert made(acme, "acme")["company_namespace"] == ["acme"]
    # Several namespaces, all its own.
    assert made(clients["globex"], "globex", "initech")["company_namespace"] == [
        "globex",
        "initech",
    ]


def test_a_scoped_key_cannot_move_a_link_out_of_its_namespaces(clients: dict[str, Any]) -> None:
    globex = clients["globex"]
    link = made(globex, "globex")
    path = f"{BASE}/{link['_id']}"
    for namespaces in (["acme"], ["globex", "acme"], []):
        response = globex.put(path, json={"company_namespace": namespaces})
        assert response.status_code == 403, response.text
    assert globex.get(path).json()["data"] == link
    moved = globex.put(path, json={"company_namespace": ["initech"]})
    assert moved.status_code == 200
    assert moved.json()["data"]["company_namespace"] == ["initech"]


def test_an_api_key_flag_and_a_star_key_reach_every_namespace(clients: dict[str, Any]) -> None:
    for name in ("admin", "all"):
        link = made(clients[name], "anyone", workorder=OTHER_WORKORDER)
        path = f"{BASE}/{link['_id']}"
        assert clients[name].put(path, json={"company_namespace": ["x"]}).status_code == 200
        assert clients[name].delete(path).status_code == 200


NAMESPACES = st.lists(st.sampled_from(["acme", "globex", "initech", "umbrella"]), unique=True)


@settings(max_examples=25)
@given(links=st.lists(NAMESPACES, max_size=8), key=st.sampled_from(["acme", "globex"]))
def test_what_a_key_sees_is_exactly_the_links_its_namespaces_overlap(
    keys_file: Path, links: list[list[str]], key: str
) -> None:
    reach = {"acme": {"acme"}, "globex": {"globex", "initech"}}[key]
    settings_ = Settings(db=None, fixtures=None, api_keys=("admin-key",), keys_file=keys_file)
    with create_app(settings_, store=LinkStore()).test_client() as client:
        admin, scoped = _Keyed(client, "admin-key"), _Keyed(client, {"acme": ACME}.get(key, GLOBEX))
        stored = [made(admin, *namespaces) for namespaces in links]
        expected = {link["_id"] for link in stored if reach & set(link["company_namespace"])}
        assert set(listed_ids(scoped)) == expected
        for link in stored:
            status = scoped.get(f"{BASE}/{link['_id']}").status_code
            assert status == (200 if link["_id"] in expected else 404)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("keys = 3", "no [[keys]] entries"),
        ("[[keys]]\nkey = 'secret-1'\n", "namespaces must be a non-empty list"),
        ("[[keys]]\nkey = 'secret-1'\nnamespaces = []\n", "namespaces must be a non-empty list"),
        ("[[keys]]\nkey = ''\nnamespaces = ['a']\n", "key must be a non-empty string"),
        ("[[keys]]\nkey = 'secret-1'\nnamespaces = ['a']\nrole = 'x'\n", "only key and namespaces"),
        (
            "[[keys]]\nkey = 'secret-1'\nnamespaces = ['a']\n" * 2,
            "entry 2: the key of entry 1 again",
        ),
        ("[[keys]\nkey = 'secret-1'", "is not TOML"),
    ],
)
def test_a_bad_keys_file_is_refused_without_showing_a_key(
    tmp_path: Path, text: str, says: str
) -> None:
    path = tmp_path / "keys.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(says)) as refused:
        read_keys_file(path)
    assert "secret-1" not in str(refused.value)


@pytest.mark.slow
def test_serve_takes_the_keys_file_and_refuses_a_bad_one_in_one_line(
    run_server: Any, keys_file: Path, tmp_path: Path
) -> None:
    import httpx

    server: RunningServer = run_server("--no-fixtures", "--keys", str(keys_file))
    body = {"workorder": WORKORDER, "company_namespace": ["globex"]}
    url = server.url + BASE
    assert httpx.post(url, json=body, headers={"X-API-Key": ACME}).status_code == 403
    assert httpx.post(url, json=body, headers={"X-API-Key": GLOBEX}).status_code == 201
    assert httpx.get(url, headers={"X-API-Key": "dev-key"}).status_code == 401
    code, output = server.stop()
    assert code == 0
    assert ACME not in output
    assert GLOBEX not in output
    bad = tmp_path / "bad.toml"
    bad.write_text("[[keys]]\nkey = 'secret-1'\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="namespaces must be a non-empty list") as failed:
        run_server("--no-fixtures", "--keys", str(bad))
    assert "secret-1" not in str(failed.value)

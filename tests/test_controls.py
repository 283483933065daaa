"""The /__mock controls, each through the test client, each answer checked against their spec."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import AUTH, BASE, WORKORDER
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from portal_mock.app import create_app, load_spec
from portal_mock.paths import DEFAULT_CONTROLS_SPEC, DEFAULT_FIXTURES
from portal_mock.settings import Settings
from portal_mock.store import LinkStore

SESSION = {"X-Mock-Session": "run-1"}
OTHER = {"X-Mock-Session": "run-2"}


@pytest.fixture
def durable() -> Iterator[LinkStore]:
    link_store = LinkStore()
    yield link_store
    link_store.close()


@pytest.fixture
def mock(durable: LinkStore) -> Iterator[Any]:
    settings = Settings(db=None, fixtures=DEFAULT_FIXTURES, max_sessions=5, quiet=True)
    with create_app(settings, store=durable).test_client(headers=AUTH) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def controls_spec() -> OpenAPI:
    return OpenAPI.from_dict(load_spec(DEFAULT_CONTROLS_SPEC))


@pytest.fixture
def call(mock: Any, controls_spec: OpenAPI) -> Callable[..., Any]:
    """Send a control request; check the answer with openapi-core against mock-controls.yaml."""

    def send(method: str, path: str, status: int, **kwargs: Any) -> Any:
        response = mock.request(method, f"/__mock{path}", **kwargs)
        assert response.status_code == status, response.text
        sent = response.request
        controls_spec.validate_response(
            MockRequest(
                "http://localhost:8080",
                sent.method,
                sent.url.path,
                args=dict(sent.url.params.multi_items()),
                headers=dict(sent.headers),
                data=sent.content,
                content_type=sent.headers.get("content-type", "application/json"),
            ),
            MockResponse(
                response.content,
                status_code=response.status_code,
                headers=dict(response.headers),
                content_type=response.headers.get("content-type", ""),
            ),
        )
        return response.json()

    return send


def count(mock: Any, headers: dict[str, str] | None = None) -> int:
    total: int = mock.get(BASE, headers=headers or {}).json()["paging"]["total"]
    return total


def test_health_says_ok_and_counts_the_callers_links(
    call: Callable[..., Any], sample_links: list[Any]
) -> None:
    durable = call("GET", "/health", 200)["data"]
    assert durable == {
        "status": "ok",
        "version": durable["version"],
        "session": None,
        "links": 0,
        "sessions": 0,
        "max_sessions": 5,
    }
    session = call("GET", "/health", 200, headers=SESSION)["data"]
    assert (session["session"], session["links"], session["sessions"]) == (
        "run-1",
        len(sample_links),
        1,
    )


def test_controls_need_the_api_key(mock: Any) -> None:
    response = mock.get("/__mock/health", headers={"X-API-Key": "wrong"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_reset_puts_the_fixtures_back_in_the_callers_store_only(
    mock: Any, call: Callable[..., Any], sample_links: list[Any]
) -> None:
    mock.post(BASE, json={"workorder": WORKORDER}, headers=SESSION)
    mock.post(BASE, json={"workorder": WORKORDER}, headers=OTHER)
    data = call("POST", "/reset", 200, headers=SESSION)["data"]
    assert data == {"session": "run-1", "links": len(sample_links)}
    assert count(mock, SESSION) == len(sample_links)
    assert count(mock, OTHER) == len(sample_links) + 1


def test_reset_with_fixtures_false_empties_the_store(
    mock: Any, call: Callable[..., Any], durable: LinkStore
) -> None:
    assert call("POST", "/reset", 200, headers=SESSION, json={"fixtures": False})["data"] == {
        "session": "run-1",
        "links": 0,
    }
    assert count(mock, SESSION) == 0
    call("POST", "/reset", 200, json={"fixtures": True})
    assert durable.count() == count(mock) > 0


def test_reset_refuses_an_unknown_field(call: Callable[..., Any]) -> None:
    body = call("POST", "/reset", 400, json={"fixture": False})
    assert body["error"]["details"][0]["field"] == "fixture"


def test_a_snapshot_restores_the_links_as_they_were(
    mock: Any, call: Callable[..., Any], sample_links: list[Any]
) -> None:
    saved = call("PUT", "/snapshots/before", 200, headers=SESSION)["data"]
    assert (saved["name"], saved["links"]) == ("before", len(sample_links))
    link = mock.post(BASE, json={"workorder": WORKORDER}, headers=SESSION).json()["data"]
    first = sample_links[0]["_id"]
    mock.put(f"{BASE}/{first}", json={"is_active": False}, headers=SESSION)
    restored = call("POST", "/snapshots/before/restore", 200, headers=SESSION)["data"]
    assert restored == saved
    assert mock.get(f"{BASE}/{link['_id']}", headers=SESSION).status_code == 404
    assert mock.get(f"{BASE}/{first}", headers=SESSION).json()["data"] == sample_links[0]
    # A snapshot is kept after a restore, and can be restored again.
    assert [s["name"] for s in call("GET", "/snapshots", 200, headers=SESSION)["data"]] == [
        "before"
    ]


def test_snapshots_belong_to_the_callers_session(call: Callable[..., Any]) -> None:
    call("PUT", "/snapshots/mine", 200, headers=SESSION)
    assert call("GET", "/snapshots", 200, headers=OTHER)["data"] == []
    assert call("GET", "/snapshots", 200)["data"] == []
    call("POST", "/snapshots/mine/restore", 404, headers=OTHER)


def test_snapshots_are_listed_by_name_and_deleted(call: Callable[..., Any]) -> None:
    for name in ("zeta", "alpha"):
        call("PUT", f"/snapshots/{name}", 200, headers=SESSION)
    listed = call("GET", "/snapshots", 200, headers=SESSION)["data"]
    assert [s["name"] for s in listed] == ["alpha", "zeta"]
    assert call("DELETE", "/snapshots/alpha", 200, headers=SESSION) == {"success": True}
    assert [s["name"] for s in call("GET", "/snapshots", 200, headers=SESSION)["data"]] == ["zeta"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/snapshots/missing/restore"), ("DELETE", "/snapshots/missing")],
    ids=["restore", "delete"],
)
def test_an_unknown_snapshot_is_a_404_envelope(
    call: Callable[..., Any], method: str, path: str
) -> None:
    error = call(method, path, 404, headers=SESSION)["error"]
    assert error["code"] == "not_found"
    assert "missing" in error["message"]


def test_a_bad_snapshot_name_is_a_400(call: Callable[..., Any]) -> None:
    error = call("PUT", "/snapshots/no.dots", 400)["error"]
    assert error["details"][0]["field"] == "name"


def test_restoring_a_durable_snapshot_rewrites_the_durable_store(
    mock: Any, call: Callable[..., Any], durable: LinkStore
) -> None:
    mock.post(BASE, json={"workorder": WORKORDER})
    call("PUT", "/snapshots/one-link", 200)
    mock.post(BASE, json={"workorder": WORKORDER})
    assert durable.count() == 2
    call("POST", "/snapshots/one-link/restore", 200)
    assert durable.count() == 1


def test_seed_adds_links_that_the_same_seed_makes_again(
    mock: Any, call: Callable[..., Any], sample_links: list[Any]
) -> None:
    first = call("POST", "/seed", 200, headers=SESSION, json={"count": 30, "seed": 11})["data"]
    again = call("POST", "/seed", 200, headers=OTHER, json={"count": 30, "seed": 11})["data"]
    assert (first["added"], first["seed"], first["links"]) == (30, 11, len(sample_links) + 30)
    assert len(set(first["ids"])) == 30

    def made(ids: list[str], headers: dict[str, str]) -> list[dict[str, Any]]:
        links = [mock.get(f"{BASE}/{i}", headers=headers).json()["data"] for i in ids]
        return [{k: v for k, v in link.items() if k != "_id"} for link in links]

    assert made(first["ids"], SESSION) == made(again["ids"], OTHER)


def test_seed_without_a_seed_picks_one_and_says_which(call: Callable[..., Any]) -> None:
    data = call("POST", "/seed", 200, json={"count": 1})["data"]
    assert 0 <= data["seed"] < 2**32


@pytest.mark.parametrize(
    "body",
    [{"count": 0}, {"count": 10001}, {"seed": 1}, {"count": 1, "seed": -1}, {"count": "5"}],
    ids=["zero", "too-many", "no-count", "negative-seed", "string-count"],
)
def test_seed_refuses_a_bad_body_and_adds_nothing(
    mock: Any, call: Callable[..., Any], body: dict[str, Any]
) -> None:
    call("POST", "/seed", 400, json=body)
    assert count(mock) == 0


def test_requests_lists_api_requests_newest_first_with_what_was_asked(
    mock: Any, call: Callable[..., Any]
) -> None:
    mock.get(BASE, params={"link_type": "secure"})
    mock.get(f"{BASE}/ffffffffffffffffffffffff", headers=SESSION)
    listed = call("GET", "/requests", 200)["data"]
    assert [(e["method"], e["path"], e["status"], e["session"]) for e in listed] == [
        ("GET", f"{BASE}/ffffffffffffffffffffffff", 404, "run-1"),
        ("GET", BASE, 200, None),
    ]
    assert listed[1]["query"] == "link_type=secure"
    assert all(e["milliseconds"] >= 0 and e["time"].endswith("Z") for e in listed)


def test_requests_honours_limit_and_the_callers_session(
    mock: Any, call: Callable[..., Any]
) -> None:
    for page in (1, 2, 3):
        mock.get(BASE, params={"page": page}, headers=SESSION)
    mock.get(BASE, headers=OTHER)
    limited = call("GET", "/requests", 200, params={"limit": 2}, headers=SESSION)["data"]
    assert [e["query"] for e in limited] == ["page=3", "page=2"]
    assert [e["session"] for e in call("GET", "/requests", 200, headers=OTHER)["data"]] == ["run-2"]
    call("GET", "/requests", 400, params={"limit": 0})


def test_requests_never_show_keys_or_tokens(mock: Any, call: Callable[..., Any]) -> None:
    created = mock.post(BASE, json={"workorder": WORKORDER}).json()["data"]
    mock.get(BASE, params={"api_key": "leaked-key", "access_token": created["access_token"]})
    text = str(call("GET", "/requests", 200)["data"])
    assert "leaked-key" not in text
    assert created["access_token"] not in text
    assert AUTH["X-API-Key"] not in text
    assert "api_key=%5Bredacted%5D" in text


def test_deleting_requests_clears_the_callers_or_all(mock: Any, call: Callable[..., Any]) -> None:
    mock.get(BASE, headers=SESSION)
    mock.get(BASE, headers=OTHER)
    mock.get(BASE)
    assert call("DELETE", "/requests", 200, headers=SESSION)["data"] == {"cleared": 1}
    assert [e["session"] for e in call("GET", "/requests", 200)["data"]] == [None, "run-2"]
    assert call("DELETE", "/requests", 200)["data"] == {"cleared": 2}
    assert call("GET", "/requests", 200)["data"] == []


def test_the_log_keeps_only_api_requests(mock: Any, call: Callable[..., Any]) -> None:
    mock.get("/openapi.json")
    mock.get("/__mock/health")
    assert call("GET", "/requests", 200)["data"] == []


def test_the_controls_spec_is_served_apart_from_the_apis(mock: Any) -> None:
    controls = mock.get("/__mock/openapi.json").json()
    api = mock.get("/openapi.json").json()
    assert controls["info"]["title"] == "portal-mock controls"
    assert "/health" in controls["paths"]
    assert not any(path.startswith("/__mock") or path == "/health" for path in api["paths"])


def test_a_wrong_method_on_a_control_lists_the_real_ones(mock: Any) -> None:
    response = mock.patch("/__mock/requests")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, DELETE"
    assert response.json()["error"]["code"] == "method_not_allowed"

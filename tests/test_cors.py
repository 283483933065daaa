"""CORS: a browser app on another origin can call the mock, errors included."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import AUTH, BASE, WORKORDER

from portal_mock.app import create_app
from portal_mock.cors import PathCORSMiddleware
from portal_mock.settings import Settings
from portal_mock.store import LinkStore

APP_ORIGIN = "http://localhost:5173"
SOME_ID = "0123456789abcdef01234567"


def browser(origin: str = APP_ORIGIN, **headers: str) -> dict[str, str]:
    return {"Origin": origin, **headers}


def preflight(
    method: str, headers: str = "x-api-key,content-type", origin: str = APP_ORIGIN
) -> dict[str, str]:
    return browser(
        origin,
        **{"Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers},
    )


@pytest.fixture
def mock_for(store: LinkStore) -> Iterator[Any]:
    """A function from Settings fields to a test client of the mock over ``store``."""
    opened: list[Any] = []

    def make(**fields: Any) -> Any:
        settings = Settings(db=None, fixtures=None, quiet=True, **fields)
        client = create_app(settings, store=store).test_client()
        opened.append(client.__enter__())
        return opened[-1]

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.mark.parametrize(
    ("path", "method", "methods"),
    [
        (BASE, "POST", "GET, POST"),
        (f"{BASE}/{SOME_ID}", "PUT", "GET, PUT, DELETE"),
        (f"{BASE}/{SOME_ID}", "DELETE", "GET, PUT, DELETE"),
        (f"{BASE}/{SOME_ID}/regenerate", "POST", "POST"),
        ("/__mock/reset", "POST", "POST"),
    ],
)
def test_preflight_succeeds_without_a_key_and_lists_the_paths_methods(
    mock_for: Any, path: str, method: str, methods: str
) -> None:
    response = mock_for().options(
        path, headers=preflight(method, "x-api-key,content-type,prefer,x-mock-session")
    )
    assert response.status_code == 204, response.text
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-methods"] == methods
    allowed = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert {"x-api-key", "content-type", "prefer", "x-mock-session"} <= allowed


def test_preflight_for_a_method_the_path_lacks_is_a_400_naming_it(mock_for: Any) -> None:
    response = mock_for().options(f"{BASE}/{SOME_ID}/activate", headers=preflight("DELETE"))
    assert response.status_code == 400
    assert response.headers["access-control-allow-origin"] == "*"
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"] == [
        {
            "field": "Access-Control-Request-Method",
            "message": "DELETE is not allowed here; use POST.",
        }
    ]


def test_preflight_asking_for_an_unknown_header_is_a_400_naming_the_headers(
    mock_for: Any,
) -> None:
    response = mock_for().options(BASE, headers=preflight("POST", "x-api-key,x-tenant"))
    assert response.status_code == 400
    fields = [d["field"] for d in response.json()["error"]["details"]]
    assert fields == ["Access-Control-Request-Headers"]


def test_preflight_for_an_unknown_path_is_a_404_in_the_envelope(mock_for: Any) -> None:
    response = mock_for().options("/no-such-thing", headers=preflight("GET"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_created_link_exposes_location_to_the_browser(mock_for: Any) -> None:
    response = mock_for().post(BASE, json={"workorder": WORKORDER}, headers=browser(**AUTH))
    assert response.status_code == 201
    assert response.headers["access-control-allow-origin"] == "*"
    exposed = {h.strip() for h in response.headers["access-control-expose-headers"].split(",")}
    assert {"Location", "Preference-Applied", "X-Mock-Fault"} <= exposed


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", f"{BASE}/not-an-id", {"headers": AUTH}, 400),
        ("GET", BASE, {}, 401),
        ("GET", f"{BASE}/{SOME_ID}", {"headers": AUTH}, 404),
        ("PATCH", BASE, {"headers": AUTH}, 405),
        ("POST", BASE, {"headers": AUTH, "json": {"metadata": {"x": "y" * 70_000}}}, 413),
        ("POST", BASE, {"headers": {**AUTH, "Content-Type": "text/plain"}, "content": "hi"}, 415),
    ],
    ids=["400", "401", "404", "405", "413", "415"],
)
def test_every_error_carries_the_cors_headers(
    mock_for: Any, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    # The parameters are shared by every run of the test: read them, never pop them.
    headers = {**kwargs.get("headers", {}), "Origin": APP_ORIGIN}
    rest = {name: value for name, value in kwargs.items() if name != "headers"}
    response = mock_for().request(method, path, headers=headers, **rest)
    assert response.status_code == status, response.text
    assert response.json()["success"] is False
    assert response.headers["access-control-allow-origin"] == "*"


def test_a_500_carries_the_cors_headers(
    mock_for: Any, store: LinkStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(store, "search", fail)
    response = mock_for().get(BASE, headers=browser(**AUTH))
    assert response.status_code == 500
    assert response.headers["access-control-allow-origin"] == "*"


def test_cors_origin_narrows_who_may_call(mock_for: Any) -> None:
    mock = mock_for(cors_origins=("http://localhost:3000",))
    allowed = mock.get(BASE, headers=browser("http://localhost:3000", **AUTH))
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"
    other = mock.get(BASE, headers=browser(APP_ORIGIN, **AUTH))
    assert other.status_code == 200
    assert "access-control-allow-origin" not in other.headers
    refused = mock.options(BASE, headers=preflight("POST", origin=APP_ORIGIN))
    assert refused.status_code == 400
    assert [d["field"] for d in refused.json()["error"]["details"]] == ["Origin"]


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10"])
def test_a_mock_on_the_network_lets_only_this_machines_pages_call_by_default(
    mock_for: Any, host: str
) -> None:
    mock = mock_for(host=host)
    for origin in (APP_ORIGIN, "http://127.0.0.1:3000", "https://localhost"):
        answer = mock.options(BASE, headers=preflight("GET", origin=origin))
        assert answer.status_code == 204, origin
        assert answer.headers["access-control-allow-origin"] == origin
    stranger = mock.options(BASE, headers=preflight("GET", origin="https://evil.example"))
    assert stranger.status_code == 400
    assert "access-control-allow-origin" not in stranger.headers


def test_no_cors_sends_no_cors_headers_and_refuses_options(mock_for: Any) -> None:
    mock = mock_for(cors=False)
    response = mock.options(BASE, headers=preflight("POST"))
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    plain = mock.get(BASE, headers=browser(**AUTH))
    assert plain.status_code == 200
    assert not any(name.startswith("access-control-") for name in plain.headers)


@pytest.mark.parametrize("path", [BASE, "/__mock/openapi.json", f"{BASE}/{SOME_ID}"])
def test_an_answer_to_a_request_without_origin_varies_by_origin_and_grants_nothing(
    mock_for: Any, path: str
) -> None:
    """Caches must not hand this answer to a browser page that sends an Origin."""
    response = mock_for().get(path, headers=AUTH)
    assert response.headers.get_list("vary") == ["Origin"]
    assert not [name for name in response.headers if name.startswith("access-control-")]


def test_vary_set_by_the_app_keeps_its_values_beside_origin() -> None:
    async def varying(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {"type": "http.response.start", "status": 204, "headers": [(b"vary", b"Prefer")]}
        )
        await send({"type": "http.response.body", "body": b""})

    middleware = PathCORSMiddleware(varying, lambda _path: [], ["*"], None)
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    asyncio.run(middleware(scope, None, send))
    assert sent[0]["headers"] == [(b"vary", b"Prefer, Origin")]

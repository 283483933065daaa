"""--latency and --fail-rate: API answers late or failed on purpose, the store unchanged."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import AUTH, BASE, WORKORDER

from portal_mock.app import create_app
from portal_mock.settings import Settings
from portal_mock.store import LinkStore

WRITES = [
    ("POST", "", {"workorder": WORKORDER}),
    ("PUT", "/{id}", {"is_active": False}),
    ("DELETE", "/{id}", None),
    ("POST", "/{id}/regenerate", None),
    ("POST", "/{id}/activate", None),
    ("POST", "/{id}/deactivate", None),
]


@pytest.fixture
def mock_with(store: LinkStore) -> Iterator[Any]:
    opened: list[Any] = []

    def make(**fields: Any) -> Any:
        settings = Settings(db=None, fixtures=None, quiet=True, **fields)
        opened.append(create_app(settings, store=store).test_client(headers=AUTH).__enter__())
        return opened[-1]

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def link(mock_with: Any) -> dict[str, Any]:
    """A link created through a mock without faults, over the same store."""
    response = mock_with().post(BASE, json={"workorder": WORKORDER})
    assert response.status_code == 201
    created: dict[str, Any] = response.json()["data"]
    return created


@pytest.mark.parametrize("path", ["", "/{id}"], ids=["list", "get"])
def test_a_failed_read_is_an_injected_500_in_the_envelope(
    mock_with: Any, conforms: Any, link: dict[str, Any], path: str
) -> None:
    response = mock_with(fail_rate=1.0).get(BASE + path.replace("{id}", link["_id"]))
    assert response.status_code == 500
    assert response.headers["x-mock-fault"] == "injected"
    assert response.json()["error"]["code"] == "internal_error"
    conforms(response)


@pytest.mark.parametrize(("method", "suffix", "body"), WRITES)
def test_a_failed_write_is_an_injected_503_and_changes_nothing(
    mock_with: Any,
    conforms: Any,
    store: LinkStore,
    link: dict[str, Any],
    method: str,
    suffix: str,
    body: Any,
) -> None:
    before = store.get(link["_id"])
    response = mock_with(fail_rate=1.0).request(
        method, BASE + suffix.replace("{id}", link["_id"]), json=body
    )
    assert response.status_code == 503
    assert response.headers["x-mock-fault"] == "injected"
    assert response.json()["error"]["code"] == "storage_unavailable"
    conforms(response)
    assert store.count() == 1
    assert store.get(link["_id"]) == before


def test_the_fail_rate_is_the_share_of_requests_failed(mock_with: Any) -> None:
    mock = mock_with(fail_rate=0.5)
    statuses = [mock.get(BASE).status_code for _ in range(400)]
    assert set(statuses) == {200, 500}
    # Binomial(400, 0.5): outside 140..260 once in about a billion runs.
    assert 140 <= statuses.count(500) <= 260


def test_no_fail_rate_fails_nothing(mock_with: Any) -> None:
    mock = mock_with(latency_ms=(0, 1))
    assert {mock.get(BASE).status_code for _ in range(100)} == {200}


def test_a_request_with_prefer_is_never_failed(mock_with: Any, link: dict[str, Any]) -> None:
    response = mock_with(fail_rate=1.0).get(f"{BASE}/{link['_id']}", headers={"Prefer": "delay=1"})
    assert response.status_code == 200
    assert "x-mock-fault" not in response.headers


def test_the_controls_are_never_failed(mock_with: Any) -> None:
    mock = mock_with(fail_rate=1.0)
    assert mock.get("/__mock/health").status_code == 200
    assert mock.post("/__mock/reset", json={"fixtures": False}).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}], ids=["accepted", "refused"])
def test_latency_delays_every_api_answer(mock_with: Any, headers: dict[str, str]) -> None:
    mock = mock_with(latency_ms=(300, 400))
    started = time.monotonic()
    response = mock.get(BASE, headers=headers)
    assert time.monotonic() - started >= 0.3
    assert response.status_code in (200, 401)

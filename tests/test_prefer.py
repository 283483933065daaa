"""``Prefer``: a documented answer, a named example or a delay, on request; nothing changed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import BASE, WORKORDER

from portal_mock.app import load_spec
from portal_mock.paths import DEFAULT_CONTROLS_SPEC, DEFAULT_SPEC

SPEC = load_spec(DEFAULT_SPEC)
METHODS = ("get", "put", "post", "delete")
UPDATE = {"is_active": False}


def resolve(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        found: Any = SPEC
        for part in node["$ref"].removeprefix("#/").split("/"):
            found = found[part]
        node = found
    return node


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in SPEC["paths"].items():
        for method in METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def named_examples(operation: dict[str, Any], status: str) -> dict[str, Any]:
    media = resolve(operation["responses"][status])["content"]["application/json"]
    return {name: example["value"] for name, example in media["examples"].items()}


def success_of(operation: dict[str, Any]) -> str:
    return min(code for code in operation["responses"] if code < "300")


# Every documented status of every operation but its success: each is a canned answer.
CANNED = [
    pytest.param(method, path, status, id=f"{op['operationId']}-{status}")
    for method, path, op in operations()
    for status in op["responses"]
    if status != success_of(op)
]
# Every named example of every success answer.
EXAMPLES = [
    pytest.param(method, path, name, id=f"{op['operationId']}-{name}")
    for method, path, op in operations()
    for name in named_examples(op, success_of(op))
]


def operation_at(method: str, path: str) -> dict[str, Any]:
    operation: dict[str, Any] = SPEC["paths"][path][method.lower()]
    return operation


def send(client: Any, method: str, path: str, link_id: str, prefer: str | None) -> Any:
    headers = {"Prefer": prefer} if prefer is not None else {}
    body = {"workorder": WORKORDER} if method == "POST" and "{id}" not in path else None
    body = UPDATE if method == "PUT" else body
    return client.request(method, path.replace("{id}", link_id), json=body, headers=headers)


def everything(client: Any) -> Any:
    return client.get(BASE, params={"per_page": 100}).json()["data"]


@pytest.mark.parametrize(("method", "path", "status"), CANNED)
def test_code_answers_the_documented_status_with_its_first_example_and_changes_nothing(
    client: Any, create: Any, conforms: Any, method: str, path: str, status: str
) -> None:
    link = create()
    before = everything(client)
    response = send(client, method, path, link["_id"], f"code={status}")
    assert response.status_code == int(status), response.text
    first = next(iter(named_examples(operation_at(method, path), status).values()))
    assert response.json() == first
    assert response.headers["preference-applied"] == f"code={status}"
    conforms(response)
    assert everything(client) == before


@pytest.mark.parametrize(("method", "path", "name"), EXAMPLES)
def test_example_answers_that_example_of_the_success_status_and_changes_nothing(
    client: Any, create: Any, conforms: Any, method: str, path: str, name: str
) -> None:
    link = create()
    before = everything(client)
    operation = operation_at(method, path)
    response = send(client, method, path, link["_id"], f"example={name}")
    assert response.status_code == int(success_of(operation))
    assert response.json() == named_examples(operation, success_of(operation))[name]
    assert response.headers["preference-applied"] == f"example={name}"
    conforms(response)
    assert everything(client) == before


def test_the_success_code_runs_the_operation(client: Any) -> None:
    response = client.post(BASE, json={"workorder": WORKORDER}, headers={"Prefer": "code=201"})
    assert response.status_code == 201
    assert response.headers["preference-applied"] == "code=201"
    created = response.json()["data"]
    assert response.headers["location"] == f"{BASE}/{created['_id']}"
    assert [link["_id"] for link in everything(client)] == [created["_id"]]


def test_code_and_example_combine(client: Any, create: Any) -> None:
    link = create()
    prefer = "code=503, example=read-only-disk"
    response = client.delete(f"{BASE}/{link['_id']}", headers={"Prefer": prefer})
    assert response.status_code == 503
    expected = named_examples(operation_at("DELETE", f"{BASE}/{{id}}"), "503")["read-only-disk"]
    assert response.json() == expected
    assert response.headers["preference-applied"] == prefer
    assert client.get(f"{BASE}/{link['_id']}").status_code == 200


def test_a_canned_create_points_location_at_the_example_link(client: Any) -> None:
    response = client.post(
        BASE, json={"workorder": WORKORDER}, headers={"Prefer": "example=created-with-defaults"}
    )
    assert response.headers["location"] == f"{BASE}/{response.json()['data']['_id']}"
    assert everything(client) == []


def test_a_canned_405_names_the_paths_real_methods(client: Any, create: Any) -> None:
    response = client.get(f"{BASE}/{create()['_id']}", headers={"Prefer": "code=405"})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, PUT, DELETE"


def test_delay_waits_then_runs_the_operation(client: Any, create: Any) -> None:
    link = create()
    started = time.monotonic()
    response = client.get(f"{BASE}/{link['_id']}", headers={"Prefer": "delay=400"})
    assert time.monotonic() - started >= 0.4
    assert response.status_code == 200
    assert response.json()["data"] == link
    assert response.headers["preference-applied"] == "delay=400"


def test_delay_combines_with_a_code(client: Any) -> None:
    started = time.monotonic()
    response = client.get(BASE, headers={"Prefer": "code=500; delay=300"})
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 500
    assert response.headers["preference-applied"] == "code=500, delay=300"


@pytest.mark.parametrize(
    ("prefer", "message"),
    [
        (
            "code=404",
            "code=404: listWorkorderPortalLinks documents only 200, 400, 401, 405, 429, 500, 503",
        ),
        (
            "code=418",
            "code=418: listWorkorderPortalLinks documents only 200, 400, 401, 405, 429, 500, 503",
        ),
        (
            "example=nope",
            "example=nope: the 200 answer has only one-page, empty, past-the-last-page",
        ),
        ("code=401, example=empty", "example=empty: the 401 answer has only missing-key"),
        ("delay=10001", "delay=10001: the longest delay is 10000 ms"),
    ],
)
def test_what_the_operation_cannot_give_is_a_400_naming_prefer(
    client: Any, conforms: Any, prefer: str, message: str
) -> None:
    response = client.get(BASE, headers={"Prefer": prefer})
    assert response.status_code == 400
    assert response.json()["error"]["details"] == [{"field": "Prefer", "message": message}]
    assert "preference-applied" not in response.headers
    conforms(response)


@pytest.mark.parametrize(
    "prefer", ["cod=404", "code=40", "code=404,", "delay=fast", "return=minimal"]
)
def test_a_malformed_prefer_is_a_400_naming_it(client: Any, prefer: str) -> None:
    response = client.get(BASE, headers={"Prefer": prefer})
    assert response.status_code == 400
    assert [d["field"] for d in response.json()["error"]["details"]] == ["Prefer"]


def test_a_refused_prefer_changes_nothing(client: Any, create: Any) -> None:
    link = create()
    response = client.delete(f"{BASE}/{link['_id']}", headers={"Prefer": "code=200, delay=99999"})
    assert response.status_code == 400
    assert client.get(f"{BASE}/{link['_id']}").status_code == 200


def test_the_checks_of_the_request_come_before_prefer(client: Any) -> None:
    no_key = client.get(BASE, headers={"Prefer": "code=500", "X-API-Key": ""})
    assert no_key.status_code == 401
    bad_id = client.get(f"{BASE}/not-an-id", headers={"Prefer": "code=404"})
    assert bad_id.status_code == 400
    assert bad_id.json()["error"]["details"][0]["field"] == "id"


def test_prefer_means_nothing_to_the_mock_controls(client: Any) -> None:
    response = client.get("/__mock/health", headers={"Prefer": "code=500"})
    assert response.status_code == 200
    assert "preference-applied" not in response.headers


def test_prefer_is_described_by_the_controls_never_in_the_apis_spec() -> None:
    prefer = load_spec(DEFAULT_CONTROLS_SPEC)["components"]["parameters"]["Prefer"]
    assert (prefer["name"], prefer["in"]) == ("Prefer", "header")
    # A fuzzer reading the API's document must never ask for a canned failure.
    assert "Prefer" not in json.dumps(SPEC["paths"])
    assert "Prefer" not in SPEC["components"]["parameters"]

"""openapi/mock-controls.yaml: a valid document of its own, every operation routed, documented."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from openapi_spec_validator import validate as validate_spec
from test_spec import resolve, validator

from portal_mock.app import CONTROLS_PACKAGE, handler_name, load_spec
from portal_mock.paths import DEFAULT_CONTROLS_SPEC

METHODS = ("get", "put", "post", "delete")
# The operations on a snapshot or session that may not exist: the ones with a 404.
NAMED_THINGS = {
    ("delete", "/snapshots/{name}"),
    ("post", "/snapshots/{name}/restore"),
    ("delete", "/session"),
}


@pytest.fixture(scope="module")
def controls() -> dict[str, Any]:
    return load_spec(DEFAULT_CONTROLS_SPEC)


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def test_the_controls_spec_is_a_valid_openapi_3_0_document(controls: dict[str, Any]) -> None:
    validate_spec(controls)
    assert controls["openapi"].startswith("3.0")


def test_every_control_operation_resolves_to_a_handler(controls: dict[str, Any]) -> None:
    for _path, _method, operation in operations(controls):
        module, _, name = handler_name(operation["operationId"], CONTROLS_PACKAGE).rpartition(".")
        assert callable(getattr(importlib.import_module(module), name)), operation["operationId"]


def test_the_controls_share_no_path_or_operation_with_the_api(
    controls: dict[str, Any], spec: dict[str, Any]
) -> None:
    assert controls["servers"][0]["url"].endswith("/__mock")
    control_ids = {op["operationId"] for _, _, op in operations(controls)}
    api_ids = {op["operationId"] for _, _, op in operations(spec)}
    assert control_ids.isdisjoint(api_ids)


def test_every_control_documents_its_errors_in_the_envelope(controls: dict[str, Any]) -> None:
    for path, method, operation in operations(controls):
        name = f"{method.upper()} {path}"
        responses = {status: resolve(controls, r) for status, r in operation["responses"].items()}
        assert {"400", "401", "405", "500"} <= set(responses), name
        assert ("429" in responses) == (path != "/session"), name
        assert ("404" in responses) == ((method, path) in NAMED_THINGS), name
        has_body = "requestBody" in operation
        assert ("415" in responses) == ("413" in responses) == has_body, name
        for status, response in responses.items():
            media = response["content"]["application/json"]
            assert set(response["content"]) == {"application/json"}, name
            is_error = media["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}
            assert is_error == (int(status) >= 400), f"{name} {status}"
            if "example" in media:
                errors = list(validator(controls, media["schema"]).iter_errors(media["example"]))
                assert errors == [], f"{name} {status}"


def test_every_control_takes_x_mock_session_with_the_apis_pattern(
    controls: dict[str, Any], spec: dict[str, Any]
) -> None:
    api_header = resolve(spec, {"$ref": "#/components/parameters/MockSession"})
    for path, item in controls["paths"].items():
        parameters = [resolve(controls, p) for p in item.get("parameters", [])]
        for _, operation in ((m, item[m]) for m in METHODS if m in item):
            parameters += [resolve(controls, p) for p in operation.get("parameters", [])]
        [header] = [p for p in parameters if p["name"] == "X-Mock-Session"]
        pattern = resolve(controls, header["schema"])["pattern"]
        assert pattern == api_header["schema"]["pattern"], path

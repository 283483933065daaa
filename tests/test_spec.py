"""The spec says what the seed and CONTRACT.md say, every example and fixture fits it."""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource

from portal_mock.app import handler_name
from portal_mock.store.querying import parse_datetime

# The seed page's headings and descriptions, word for word, with CONTRACT.md's routes.
OPERATIONS = [
    ("get", "/workorder-portal-links", "listWorkorderPortalLinks",
     "Get all workorder portal links",
     "Retrieve a list of all workorder portal links with optional filtering and pagination"),
    ("post", "/workorder-portal-links", "createWorkorderPortalLink",
     "Create a new workorder portal link", "Create a new workorder portal link"),
    ("get", "/workorder-portal-links/{id}", "getWorkorderPortalLink",
     "Get workorder portal link by ID", "Retrieve a specific workorder portal link by its ID"),
    ("put", "/workorder-portal-links/{id}", "updateWorkorderPortalLink",
     "Update workorder portal link", "Update an existing workorder portal link"),
    ("delete", "/workorder-portal-links/{id}", "deleteWorkorderPortalLink",
     "Delete workorder portal link", "Delete a workorder portal link by ID"),
    ("post", "/workorder-portal-links/{id}/regenerate", "regenerateWorkorderPortalLink",
     "Regenerate portal link", "Regenerate the portal link URL and access token"),
    ("post", "/workorder-portal-links/{id}/activate", "activateWorkorderPortalLink",
     "Activate portal link", "Activate a workorder portal link"),
    ("post", "/workorder-portal-links/{id}/deactivate", "deactivateWorkorderPortalLink",
     "Deactivate portal link", "Deactivate a workorder portal link"),
]  # fmt: skip
OPERATION_IDS = [op[2] for op in OPERATIONS]
SEED_PARAMETERS = {
    "page": "Page number for pagination",
    "per_page": "Number of items per page",
    "sort": "Sort field",
    "company_namespace": "Company namespace for filtering",
    "workorder": "Filter by workorder ID",
    "is_active": "Filter by active status",
    "link_type": "Filter by link type",
    "_id": "Filter by ID",
    "id": "Workorder portal link ID",
}


def resolve(spec: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        for part in node["$ref"].removeprefix("#/").split("/"):
            spec = spec[part]
        node = spec
    return node


def operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    found: dict[str, Any] = spec["paths"][path][method]
    return found


def validator(spec: dict[str, Any], schema: dict[str, Any]) -> OAS30Validator:
    """A validator for ``schema`` whose ``#/...`` references resolve inside the spec."""
    components = {**spec["components"], "schemas": {**spec["components"]["schemas"], "_": schema}}
    document = {**spec, "components": components}
    registry = Registry().with_resource("urn:spec", Resource.opaque(document))
    return OAS30Validator(
        {"$ref": "urn:spec#/components/schemas/_"},
        registry=registry,
        format_checker=oas30_format_checker,
    )


def test_spec_is_a_valid_openapi_3_0_document(spec: dict[str, Any]) -> None:
    validate_spec(spec)
    assert spec["openapi"] == "3.0.3"
    assert spec["info"]["title"] == "Workorder Portal Link API"
    assert spec["info"]["version"] == "1.0.0"
    assert spec["info"]["description"] == "API for managing workorder portal links"


@pytest.mark.parametrize(("method", "path", "operation_id", "summary", "description"), OPERATIONS,
                         ids=OPERATION_IDS)  # fmt: skip
def test_operation_has_the_seed_words_and_the_contract_route(
    spec: dict[str, Any], method: str, path: str, operation_id: str, summary: str, description: str
) -> None:
    op = operation(spec, method, path)
    assert (op["operationId"], op["summary"], op["description"]) == (
        operation_id,
        summary,
        description,
    )
    assert op["security"] == [{"ApiKeyAuth": []}]


@pytest.mark.parametrize("operation_id", OPERATION_IDS)
def test_every_operation_id_resolves_to_a_handler(operation_id: str) -> None:
    module, _, name = handler_name(operation_id).rpartition(".")
    assert callable(getattr(importlib.import_module(module), name))


def test_the_spec_has_exactly_the_contract_operations(spec: dict[str, Any]) -> None:
    found = {
        (method, path)
        for path, item in spec["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert found == {(op[0], op[1]) for op in OPERATIONS}


def test_api_key_scheme_is_the_x_api_key_header(spec: dict[str, Any]) -> None:
    scheme = spec["components"]["securitySchemes"]["ApiKeyAuth"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-API-Key")


def test_parameters_keep_the_seed_descriptions(spec: dict[str, Any]) -> None:
    parameters = [resolve(spec, p) for p in spec["components"]["parameters"].values()]
    described = {p["name"]: p["description"].split("\n")[0] for p in parameters}
    # X-Mock-Session is the mock's own header, not one of the seed's parameters.
    described.pop("X-Mock-Session")
    assert described == SEED_PARAMETERS


def test_every_operation_takes_x_mock_session_and_documents_its_429(spec: dict[str, Any]) -> None:
    for method, path, operation_id, *_ in OPERATIONS:
        item = spec["paths"][path]
        names = [resolve(spec, p)["name"] for p in item.get("parameters", [])]
        header = resolve(spec, {"$ref": "#/components/parameters/MockSession"})
        assert "X-Mock-Session" in names, operation_id
        assert (header["in"], header["required"]) == ("header", False)
        assert header["schema"]["pattern"] == "^[A-Za-z0-9_-]{1,64}$"
        assert "429" in operation(spec, method, path)["responses"], operation_id


def test_seed_defaults_and_bounds_are_in_the_spec(spec: dict[str, Any]) -> None:
    params = {p["name"]: p["schema"] for p in spec["components"]["parameters"].values()}
    assert params["page"] == {"type": "integer", "minimum": 1, "default": 1}
    assert params["per_page"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 25}
    body = resolve(spec, operation(spec, "post", "/workorder-portal-links")["requestBody"])
    create = body["content"]["application/json"]["schema"]
    assert create["required"] == ["workorder"]
    assert create["properties"]["link_type"]["default"] == "private"
    assert create["properties"]["is_active"]["default"] is True
    link_type = spec["components"]["schemas"]["LinkType"]
    assert link_type["enum"] == ["public", "private", "secure"]


def documented_responses(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for method, path, operation_id, *_ in OPERATIONS:
        for status, response in operation(spec, method, path)["responses"].items():
            yield f"{operation_id} {status}", status, resolve(spec, response)


def test_every_response_is_json_with_a_schema_and_named_examples(spec: dict[str, Any]) -> None:
    for name, _status, response in documented_responses(spec):
        media = response["content"]["application/json"]
        assert set(response["content"]) == {"application/json"}, name
        assert "schema" in media, name
        # Named, so that Prefer: example=NAME can ask for one (the first is Prefer: code=N's).
        assert "example" not in media, name
        assert media["examples"], name
        assert all(set(example) == {"summary", "value"} for example in media["examples"].values())


def test_every_error_status_uses_the_error_envelope(spec: dict[str, Any]) -> None:
    for name, status, response in documented_responses(spec):
        schema = response["content"]["application/json"]["schema"]
        is_error = schema == {"$ref": "#/components/schemas/ErrorResponse"}
        assert is_error == (int(status) >= 400), name


def test_every_operation_documents_auth_validation_and_server_errors(
    spec: dict[str, Any],
) -> None:
    for method, path, operation_id, *_ in OPERATIONS:
        statuses = set(operation(spec, method, path)["responses"])
        assert {"400", "401", "405", "500"} <= statuses, operation_id
        assert ("404" in statuses) == ("{id}" in path), operation_id
        has_body = "requestBody" in operation(spec, method, path)
        assert ("415" in statuses) == has_body, operation_id
        assert ("413" in statuses) == has_body, operation_id
        # Every operation reads or writes the store, and a shared one can be down.
        assert "503" in statuses, operation_id


def test_create_response_links_to_every_operation_on_one_link(spec: dict[str, Any]) -> None:
    links = spec["components"]["responses"]["LinkCreated"]["links"]
    targets = {link["operationId"] for link in links.values()}
    assert targets == set(OPERATION_IDS) - {"listWorkorderPortalLinks", "createWorkorderPortalLink"}
    assert all(link["parameters"] == {"id": "$response.body#/data/_id"} for link in links.values())


def test_nested_objects_except_metadata_are_closed(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    for name in ("Permissions", "AccessRestrictions", "NotificationSettings", "CustomBranding"):
        assert schemas[name]["additionalProperties"] is False, name
    assert schemas["Metadata"]["maxProperties"] == 50


def examples(node: Any, where: str = "") -> Iterator[tuple[str, Any, Any]]:
    """Every (place, schema, example) pair in the document."""
    if isinstance(node, dict):
        if "example" in node and ("type" in node or "allOf" in node or "properties" in node):
            yield where, node, node["example"]
        if "example" in node and "schema" in node:
            yield where, node["schema"], node["example"]
        if "examples" in node and "schema" in node:
            for name, example in node["examples"].items():
                yield f"{where}/examples/{name}", node["schema"], example["value"]
        for key, value in node.items():
            if key not in ("example", "examples"):
                yield from examples(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from examples(value, f"{where}/{index}")


def test_every_example_fits_its_schema(spec: dict[str, Any]) -> None:
    found = list(examples(spec))
    assert len(found) > 40
    for where, schema, example in found:
        errors = list(validator(spec, schema).iter_errors(example))
        assert not errors, f"{where}: {errors[0].message}"


def test_every_sample_link_fits_the_link_schema(
    spec: dict[str, Any], sample_links: list[dict[str, Any]]
) -> None:
    link_schema = validator(spec, {"$ref": "#/components/schemas/WorkorderPortalLink"})
    for link in sample_links:
        errors = list(link_schema.iter_errors(link))
        assert not errors, f"{link['_id']}: {errors[0].message}"


def test_sample_links_cover_what_a_frontend_needs_to_see(
    sample_links: list[dict[str, Any]],
) -> None:
    # "Expired" and "future" are read against the samples' own time (the newest
    # created_at), never today's date: the suite must not change with the clock.
    now = max(parse_datetime(link["created_at"]) for link in sample_links)
    expiry = Counter(
        "open" if link["expiry_date"] is None
        else "expired" if parse_datetime(link["expiry_date"]) < now
        else "future"
        for link in sample_links
    )  # fmt: skip
    assert len(sample_links) >= 20
    assert {link["link_type"] for link in sample_links} == {"public", "private", "secure"}
    assert {link["is_active"] for link in sample_links} == {True, False}
    assert set(expiry) == {"open", "expired", "future"}
    # Future expiries stay future for years of real time, so the mock's samples do too.
    first_future = min(
        parse_datetime(link["expiry_date"])
        for link in sample_links
        if link["expiry_date"] and parse_datetime(link["expiry_date"]) > now
    )
    assert first_future - now > timedelta(days=9 * 365)
    # Some expiries carry an offset other than Z, as clients send them.
    assert any(link["expiry_date"] and link["expiry_date"][-1] != "Z" for link in sample_links)
    assert len({link["workorder"] for link in sample_links}) >= 3
    assert len({ns for link in sample_links for ns in link["company_namespace"]}) >= 3


def test_sample_link_ids_are_distinct_and_grow_with_creation_time(
    sample_links: list[dict[str, Any]],
) -> None:
    by_creation = sorted(sample_links, key=lambda link: link["created_at"])
    ids = [link["_id"] for link in by_creation]
    assert ids == sorted(set(ids))

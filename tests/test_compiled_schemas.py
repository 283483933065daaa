"""Validation compiled once per schema: as strict as Connexion's own, same errors, same defaults."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import jsonschema_rs
import pytest
from conftest import BASE
from connexion.json_schema import Draft4ResponseValidator
from jsonschema import Draft4Validator

from portal_mock import compiled_schemas
from portal_mock.app import load_spec
from portal_mock.paths import DEFAULT_SPEC
from portal_mock.store import LinkStore
from portal_mock.validation import _DefaultsValidator

SPEC = load_spec(DEFAULT_SPEC)
LINK = SPEC["components"]["responses"]["Link"]["content"]["application/json"]
GOOD = LINK["examples"]["public-link"]["value"]


def resolved(node: Any) -> Any:
    """The schema with every $ref inlined, as Connexion hands it to a validator."""
    if isinstance(node, list):
        return [resolved(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        found: Any = SPEC
        for part in node["$ref"].removeprefix("#/").split("/"):
            found = found[part]
        return resolved(found)
    return {key: resolved(value) for key, value in node.items()}


SCHEMA = resolved(LINK["schema"])


def changed(edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    body = copy.deepcopy(GOOD)
    edit(body["data"])
    return body


BROKEN = {
    "wrong type": changed(lambda d: d.update(is_active="yes")),
    "missing required": changed(lambda d: d.pop("access_token")),
    "not a date-time": changed(lambda d: d.update(expiry_date="next tuesday")),
    "not a uri": changed(lambda d: d.update(url="not a uri")),
    "unknown property": changed(lambda d: d.update(colour="red")),
    "null where not nullable": changed(lambda d: d.update(workorder=None)),
    "not in the enum": changed(lambda d: d.update(link_type="shared")),
    "pattern": changed(lambda d: d.update(_id="XYZ")),
    "nested unknown property": changed(lambda d: d["permissions"].update(can_fly=True)),
    "too many namespaces": changed(lambda d: d.update(company_namespace=["a"] * 21)),
}
NULLABLE = {
    "no expiry": changed(lambda d: d.update(expiry_date=None)),
    "no use limit": changed(lambda d: d["access_restrictions"].update(max_uses=None)),
}


def connexion_accepts(body: Any) -> bool:
    validator = Draft4ResponseValidator(SCHEMA, format_checker=Draft4Validator.FORMAT_CHECKER)
    return not list(validator.iter_errors(body))


@pytest.mark.parametrize("body", [GOOD, *NULLABLE.values()], ids=["example", *NULLABLE])
def test_what_connexion_accepts_the_compiled_check_accepts(body: Any) -> None:
    assert connexion_accepts(body)
    assert compiled_schemas.compiled_for(SCHEMA).is_valid(body)


@pytest.mark.parametrize("body", BROKEN.values(), ids=list(BROKEN))
def test_what_connexion_refuses_the_compiled_check_refuses(body: Any) -> None:
    assert not connexion_accepts(body)
    assert not compiled_schemas.compiled_for(SCHEMA).is_valid(body)


def test_each_schema_is_compiled_once_not_per_request(
    client: Any, create: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[Any] = []
    build = jsonschema_rs.Draft4Validator

    def counting(*args: Any, **kwargs: Any) -> Any:
        built.append(args)
        return build(*args, **kwargs)

    monkeypatch.setattr(compiled_schemas, "_compiled", {})
    monkeypatch.setattr(compiled_schemas.jsonschema_rs, "Draft4Validator", counting)

    def every_operation() -> None:
        link = create(link_type="secure", metadata={"n": 1})
        link_id = link["_id"]
        query = {"link_type": "secure", "workorder": link["workorder"], "per_page": 5}
        assert client.get(BASE, params=query).status_code == 200
        assert client.get(f"{BASE}/{link_id}").status_code == 200
        assert client.put(f"{BASE}/{link_id}", json={"is_active": False}).status_code == 200
        assert client.post(f"{BASE}/{link_id}/regenerate").status_code == 200
        assert client.delete(f"{BASE}/{link_id}").status_code == 200

    every_operation()
    # Request bodies, parameters and responses: each schema compiled on first use.
    first = len(built)
    assert first >= 10
    for _ in range(3):
        every_operation()
    assert len(built) == first


def test_a_body_off_the_spec_is_a_500_with_connexions_error_logged(
    client: Any,
    create: Any,
    store: LinkStore,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    link = create()
    original = store.get

    def off_spec(link_id: str) -> Any:
        found = original(link_id)
        return found and {**found, "is_active": "yes"}

    monkeypatch.setattr(store, "get", off_spec)
    response = client.get(f"{BASE}/{link['_id']}")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "'yes' is not of type 'boolean'" in caplog.text


CREATE_BODY = resolved(
    SPEC["components"]["requestBodies"]["CreateWorkorderPortalLink"]["content"]["application/json"][
        "schema"
    ]
)
FULL_CREATE = {
    "workorder": "507f1f77bcf86cd799439012",
    "link_type": "secure",
    "permissions": {"can_view_details": True},
    "access_restrictions": {"allowed_emails": ["qa@example.org"], "max_uses": None},
    "notification_settings": {"recipients": ["ops@example.com"]},
    "custom_branding": {"primary_color": "#123456", "logo_url": "https://example.com/l.png"},
    "expiry_date": "2031-03-01T06:30:00-05:00",
    "metadata": {"source": "web", "n": 2, "ok": True},
    "company_namespace": ["acme"],
}
BROKEN_CREATES = {
    "workorder missing": {"company_namespace": ["acme"]},
    "unknown property": {**FULL_CREATE, "colour": "red"},
    "nested unknown property": {**FULL_CREATE, "permissions": {"can_fly": True}},
    "not an email": {**FULL_CREATE, "access_restrictions": {"allowed_emails": ["nobody"]}},
    "not a colour": {**FULL_CREATE, "custom_branding": {"primary_color": "red"}},
    "not a date-time": {**FULL_CREATE, "expiry_date": "next tuesday"},
    "max_uses below 1": {**FULL_CREATE, "access_restrictions": {"max_uses": 0}},
    "link_type off the enum": {**FULL_CREATE, "link_type": "shared"},
    "metadata number past 2**53": {**FULL_CREATE, "metadata": {"a": {"b": 2.0**53}}},
    "metadata nested 5 levels": {**FULL_CREATE, "metadata": {"a": {"b": {"c": {"d": [1]}}}}},
}


def python_filled(body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The body as Connexion's validator with our default filling leaves it, and its verdict."""
    filled = copy.deepcopy(body)
    validator = _DefaultsValidator(CREATE_BODY, format_checker=Draft4Validator.FORMAT_CHECKER)
    return filled, not list(validator.iter_errors(filled))


@pytest.mark.parametrize(
    "body", [{"workorder": FULL_CREATE["workorder"]}, FULL_CREATE], ids=["minimal", "full"]
)
def test_defaults_are_filled_in_as_the_python_validator_fills_them(body: dict[str, Any]) -> None:
    expected, valid = python_filled(body)
    filled = copy.deepcopy(body)
    compiled_schemas.fill_defaults(CREATE_BODY, filled)
    assert valid
    assert filled == expected
    assert compiled_schemas.compiled_for(CREATE_BODY).is_valid(filled)


def test_filled_in_defaults_are_fresh_copies() -> None:
    first: dict[str, Any] = {"workorder": FULL_CREATE["workorder"]}
    second: dict[str, Any] = {"workorder": FULL_CREATE["workorder"]}
    compiled_schemas.fill_defaults(CREATE_BODY, first)
    compiled_schemas.fill_defaults(CREATE_BODY, second)
    first["metadata"]["changed"] = True
    assert "changed" not in second["metadata"]


@pytest.mark.parametrize("body", BROKEN_CREATES.values(), ids=list(BROKEN_CREATES))
def test_a_create_body_python_refuses_the_compiled_check_refuses(body: dict[str, Any]) -> None:
    filled, valid = python_filled(body)
    assert not valid
    compiled_schemas.fill_defaults(CREATE_BODY, filled)
    assert not compiled_schemas.compiled_for(CREATE_BODY).is_valid(filled)


@pytest.mark.parametrize(
    ("query", "field"),
    [({"per_page": "0"}, "per_page"), ({"sort": "-colour"}, "sort"), ({"_id": "XYZ"}, "_id")],
    ids=["below minimum", "off pattern", "array item off pattern"],
)
def test_a_parameter_the_compiled_check_refuses_still_gets_its_named_error(
    client: Any, query: dict[str, str], field: str
) -> None:
    response = client.get(BASE, params=query)
    assert response.status_code == 400
    assert {detail["field"] for detail in response.json()["error"]["details"]} == {field}

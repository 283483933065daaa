"""Response validation: compiled once per schema, as strict as Connexion's own, same errors."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import jsonschema_rs
import pytest
from conftest import BASE
from connexion.json_schema import Draft4ResponseValidator
from jsonschema import Draft4Validator

from portal_mock import response_check
from portal_mock.app import load_spec
from portal_mock.paths import DEFAULT_SPEC
from portal_mock.store import LinkStore

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
    assert response_check.compiled_for(SCHEMA).is_valid(body)


@pytest.mark.parametrize("body", BROKEN.values(), ids=list(BROKEN))
def test_what_connexion_refuses_the_compiled_check_refuses(body: Any) -> None:
    assert not connexion_accepts(body)
    assert not response_check.compiled_for(SCHEMA).is_valid(body)


def test_each_response_schema_is_compiled_once_not_per_request(
    client: Any, create: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[Any] = []
    build = jsonschema_rs.Draft4Validator

    def counting(*args: Any, **kwargs: Any) -> Any:
        built.append(args)
        return build(*args, **kwargs)

    monkeypatch.setattr(response_check, "_compiled", {})
    monkeypatch.setattr(response_check.jsonschema_rs, "Draft4Validator", counting)
    link = create()

    def read() -> None:
        assert client.get(BASE).status_code == 200
        assert client.get(f"{BASE}/{link['_id']}").status_code == 200

    read()
    # One per operation answered so far: create, list and get.
    assert len(built) == 3
    for _ in range(5):
        read()
    assert len(built) == 3


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

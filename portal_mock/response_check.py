"""Response bodies checked by a validator compiled once per schema (jsonschema-rs).

Connexion builds a pure-Python validator for every response and walks it over
the body: 84% of a list page's time (bench/results/profile.md). Here each
response schema is compiled once, on its first use, into a Rust validator
that only answers "valid or not". A body it refuses is checked again by
Connexion's own validator, so the error logged and answered is the same as
before; the fast one only has to be at least as strict.
"""

from __future__ import annotations

from typing import Any

import jsonschema_rs
from connexion.validators import JSONResponseBodyValidator

_compiled: dict[int, tuple[dict[str, Any], Any]] = {}


def as_json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema: ``nullable: true`` becomes a ``null`` type."""
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    schema = {key: as_json_schema(value) for key, value in node.items()}
    if schema.pop("nullable", False):
        if "type" in schema:
            schema["type"] = [schema["type"], "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
        if "type" not in schema and "enum" not in schema:
            schema = {"anyOf": [schema, {"type": "null"}]}
    return schema


def compiled_for(schema: dict[str, Any]) -> Any:
    """The compiled validator of ``schema``, built on first use.

    Connexion hands over the same schema object for each response of an
    operation, so its identity is the key; the schema is kept with it, so that
    the identity cannot be reused by another object.
    """
    found = _compiled.get(id(schema))
    if found is None or found[0] is not schema:
        found = _compiled[id(schema)] = (schema, _compile(schema))
    return found[1]


def _compile(schema: dict[str, Any]) -> Any:
    """The compiled validator, or None where only Connexion's own can judge.

    Connexion has resolved the schema's ``$ref``s in place and attached the
    spec's components beside them, which makes the whole a cyclic graph; the
    resolved schema alone is what the body must match.
    """
    own = {key: value for key, value in schema.items() if key != "components"}
    try:
        return jsonschema_rs.Draft4Validator(as_json_schema(own), validate_formats=True)
    except (RecursionError, ValueError):
        return None


class CompiledResponseValidator(JSONResponseBodyValidator):
    """Connexion's JSON response validator, with the compiled check in front."""

    def _validate(self, body: Any) -> None:
        compiled = compiled_for(self._schema)
        if compiled is not None and compiled.is_valid(body):
            return
        super()._validate(body)

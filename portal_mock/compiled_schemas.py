"""Schemas compiled once into fast validators (jsonschema-rs), and their defaults filled in.

Connexion builds a pure-Python validator for every request body, every
parameter and every response, and walks it over the value: most of a
request's time (bench/results/profile.md). Here each schema is compiled once,
on its first use, into a Rust validator that only answers "valid or not".
Callers keep Connexion's own validator for what the compiled one refuses, so
the errors answered are the same as before; the fast one must only be at
least as strict.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonschema_rs

_compiled: dict[int, tuple[Any, Any]] = {}

# The spec's mark for an object property's default: code generators refuse
# ``default`` on an object (docs/code-generators.md), so it is spelt ``x-default``.
DEFAULT_KEYWORDS = ("default", "x-default")


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
    """The compiled validator of ``schema``, built on first use (None if it cannot be).

    Connexion hands over the same schema object for each request or response of
    an operation, so its identity is the key; the schema is kept with it, so that
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
    resolved schema alone is what a value must match.
    """
    own = {key: value for key, value in schema.items() if key != "components"}
    try:
        return jsonschema_rs.Draft4Validator(as_json_schema(own), validate_formats=True)
    except (RecursionError, ValueError):
        return None


# What filling in a schema's defaults takes, worked out once per schema: for
# each property with a default or with defaults below it, its name, whether
# it has a default, the default, and the same for its own properties.
Step = tuple[str, bool, Any, "Plan"]
Plan = tuple[Step, ...]
_plans: dict[int, tuple[Any, Plan]] = {}


def fill_defaults(schema: Any, instance: Any) -> None:
    """Fill in, in place, the defaults of every property ``instance`` leaves out, each a
    fresh copy, at every depth (a filled-in object gets its own properties' defaults).

    The same as the Python validator's default filling, for the schemas this
    spec uses: ``properties`` and ``allOf``, objects within objects. The walk
    over the schema is done once (``_plan``); a request only follows its steps.
    """
    found = _plans.get(id(schema))
    if found is None or found[0] is not schema:
        found = _plans[id(schema)] = (schema, _plan(schema))
    _fill(found[1], instance)


def _plan(schema: Any) -> Plan:
    if not isinstance(schema, dict):
        return ()
    steps: list[Step] = []
    for name, subschema in schema.get("properties", {}).items():
        keyword = next((key for key in DEFAULT_KEYWORDS if key in subschema), None)
        below = _plan(subschema)
        if keyword is not None or below:
            steps.append((name, keyword is not None, subschema.get(keyword or ""), below))
    for subschema in schema.get("allOf", ()):
        steps.extend(_plan(subschema))
    return tuple(steps)


def _fill(plan: Plan, instance: Any) -> None:
    if not isinstance(instance, dict):
        return
    for name, has_default, default, below in plan:
        if name not in instance:
            if not has_default:
                continue
            instance[name] = copy.deepcopy(default)
        if below:
            _fill(below, instance[name])

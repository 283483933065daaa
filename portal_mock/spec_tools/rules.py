"""The lint rules: each a function from the spec to its findings, (path, message) pairs.

A path is the place in the document the finding is about, as keys and indexes
from its root, so that the linter can say the line.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterator
from typing import Any

from openapi_spec_validator import OpenAPIV30SpecValidator

from portal_mock.paths import HANDLER_MODULE
from portal_mock.spec_tools.document import (
    Path,
    Validators,
    operations,
    parameters,
    resolved,
    resolved_at,
)

Finding = tuple[Path, str]
Rule = Callable[[dict[str, Any]], Iterator[Finding]]


def openapi_valid(spec: dict[str, Any]) -> Iterator[Finding]:
    """The document is valid OpenAPI 3.0, as openapi-spec-validator reads it."""
    for error in OpenAPIV30SpecValidator(spec).iter_errors():
        yield tuple(error.absolute_path), error.message


def handlers_resolve(spec: dict[str, Any]) -> Iterator[Finding]:
    """Every operationId names a handler, and every handler is named by an operation."""
    from portal_mock.app import handler_name

    module = importlib.import_module(HANDLER_MODULE)
    named: set[str] = set()
    for template, method, operation in operations(spec):
        operation_id = operation.get("operationId")
        if not isinstance(operation_id, str):
            yield ("paths", template, method), "has no operationId, so no handler"
            continue
        name = handler_name(operation_id).rsplit(".", 1)[1]
        named.add(name)
        if not inspect.iscoroutinefunction(getattr(module, name, None)):
            yield (
                ("paths", template, method, "operationId"),
                f"{operation_id} names {HANDLER_MODULE}.{name}, which does not exist",
            )
    for name, function in inspect.getmembers(module, inspect.iscoroutinefunction):
        if function.__module__ == HANDLER_MODULE and not name.startswith("_") and name not in named:
            yield ("paths",), f"{HANDLER_MODULE}.{name} is reached by no operation"


def error_statuses(spec: dict[str, Any]) -> Iterator[Finding]:
    """Every operation documents 400, 401 (when it takes a key) and 500; every operation
    on a path with a parameter, 404."""
    for template, method, operation in operations(spec):
        secured = operation.get("security", spec.get("security"))
        wanted = ["400", *(["401"] if secured else []), "500"]
        wanted += ["404"] if "{" in template else []
        documented = {str(status) for status in operation.get("responses") or {}}
        missing = [status for status in wanted if status not in documented]
        if missing:
            where = ("paths", template, method, "responses")
            yield where, f"{method.upper()} {template} does not document {', '.join(missing)}"


def examples_valid(spec: dict[str, Any]) -> Iterator[Finding]:
    """Every example and default validates against the schema it stands beside."""
    validators = Validators(spec)
    for path, node in _nodes(spec, ()):
        for where, value, schema_path in _samples(path, node):
            validator = validators.at(schema_path)
            for error in validator.iter_errors(value):
                at = ".".join(str(part) for part in error.absolute_path)
                # Located at the offending value itself, within the example.
                yield (*where, *error.absolute_path), error.message + (f" (at {at})" if at else "")


def _nodes(node: Any, path: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _nodes(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _nodes(value, (*path, index))


_SCHEMA_KEYS = ("type", "$ref", "anyOf", "allOf", "oneOf")


def _samples(path: Path, node: dict[str, Any]) -> Iterator[tuple[Path, Any, Path]]:
    """Each example or default ``node`` holds: where it is, its value, and its schema's path.

    A media type or parameter holds them beside its ``schema``; a schema holds
    its own ``default`` (``x-default`` for objects) and ``example``.
    """
    if "schema" in node:
        schema = (*path, "schema")
        if "example" in node:
            yield (*path, "example"), node["example"], schema
        for name, example in (node.get("examples") or {}).items():
            if isinstance(example, dict) and "value" in example:
                yield (*path, "examples", name, "value"), example["value"], schema
    elif any(key in node for key in _SCHEMA_KEYS):
        for key in ("default", "x-default", "example"):
            if key in node:
                yield (*path, key), node[key], path


ENVELOPE = "#/components/schemas/ErrorResponse"


def _responses(spec: dict[str, Any]) -> Iterator[tuple[Path, str, str, str, dict[str, Any]]]:
    """Each documented response: its path, the operation's method and template, its status,
    and the response resolved."""
    for template, method, operation in operations(spec):
        for status, response in (operation.get("responses") or {}).items():
            # Located where the response is written: a shared one in components.
            here = ("paths", template, method, "responses", status)
            found, where = resolved_at(spec, response, here)
            if isinstance(found, dict):
                yield where, method, template, str(status), found


def links_resolve(spec: dict[str, Any]) -> Iterator[Finding]:
    """Every ``links`` entry names an operation, and parameters that operation has."""
    by_id = {op.get("operationId"): (t, op) for t, _, op in operations(spec)}
    for where, _, _, _, response in _responses(spec):
        for name, link in (response.get("links") or {}).items():
            link = resolved(spec, link)
            target = by_id.get(link.get("operationId")) if isinstance(link, dict) else None
            if target is None:
                yield (*where, "links", name), f"link {name} names no operation of the spec"
                continue
            template, operation = target
            known = {
                p.get("name") for p in parameters(spec, template, operation) if isinstance(p, dict)
            }
            for parameter in link.get("parameters") or {}:
                if parameter not in known:
                    yield (
                        (*where, "links", name, "parameters", parameter),
                        f"link {name}: {link['operationId']} has no parameter {parameter}",
                    )


def error_envelope(spec: dict[str, Any]) -> Iterator[Finding]:
    """Every error answer (4xx, 5xx) is the shared envelope, ErrorResponse, as JSON."""
    for where, method, template, status, response in _responses(spec):
        if status[:1] not in ("4", "5"):
            continue
        schema = ((response.get("content") or {}).get("application/json") or {}).get("schema")
        if not isinstance(schema, dict) or schema.get("$ref") != ENVELOPE:
            yield where, f"{method.upper()} {template} answers {status} without {ENVELOPE}"


def prefer_examples(spec: dict[str, Any]) -> Iterator[Finding]:
    """Every documented answer with a JSON body has an example, so that ``Prefer: code=``
    can send it (the mock answers a Prefer only with the spec's own examples)."""
    for where, method, template, status, response in _responses(spec):
        media = (response.get("content") or {}).get("application/json")
        if isinstance(media, dict) and not media.get("examples") and "example" not in media:
            yield where, f"{method.upper()} {template}: the {status} answer has no example"


RULES: dict[str, Rule] = {
    "openapi-valid": openapi_valid,
    "handlers-resolve": handlers_resolve,
    "error-statuses": error_statuses,
    "examples-valid": examples_valid,
    "links-resolve": links_resolve,
    "error-envelope": error_envelope,
    "prefer-examples": prefer_examples,
}

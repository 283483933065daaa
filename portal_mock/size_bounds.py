"""The spec's bounds on free-form values: ``x-max-depth`` and ``x-max-encoded-bytes``.

JSON Schema bounds a free-form object's entries (``maxProperties``) but not
how deep it nests or how large it is once encoded, which is what a store and
its readers care about. The spec marks such a schema with the two keywords;
every request body is checked against them here, as ``fill_defaults`` walks
the schema, so that the bounds live in the YAML like every other rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from portal_mock.jsonbody import encoded

DEPTH, BYTES = "x-max-depth", "x-max-encoded-bytes"

# For each bounded property, reached through ``properties`` and ``allOf``:
# its path, its depth bound and its size bound (None: unbounded).
Bound = tuple[tuple[str, ...], int | None, int | None]
_bounds: dict[int, tuple[Any, tuple[Bound, ...]]] = {}


def problems(schema: Any, instance: Any) -> list[tuple[str, str]]:
    """(field, message) for each bounded value of ``instance`` past its bound."""
    found = _bounds.get(id(schema))
    if found is None or found[0] is not schema:
        found = _bounds[id(schema)] = (schema, tuple(_walk(schema, ())))
    return [problem for bound in found[1] for problem in _check(bound, instance)]


def _walk(schema: Any, path: tuple[str, ...]) -> Iterator[Bound]:
    if not isinstance(schema, dict) or len(path) > 16:
        return
    if DEPTH in schema or BYTES in schema:
        yield path, schema.get(DEPTH), schema.get(BYTES)
    for name, subschema in schema.get("properties", {}).items():
        yield from _walk(subschema, (*path, name))
    for subschema in schema.get("allOf", ()):
        yield from _walk(subschema, path)


def _check(bound: Bound, instance: Any) -> Iterator[tuple[str, str]]:
    path, max_depth, max_bytes = bound
    value = instance
    for name in path:
        if not isinstance(value, dict) or name not in value:
            return
        value = value[name]
    field = ".".join(path)
    if max_depth is not None and depth_of(value, max_depth + 1) > max_depth:
        yield field, f"nests more than {max_depth} levels deep"
    if max_bytes is not None and (size := len(encoded(value))) > max_bytes:
        yield field, f"is {size} bytes as JSON; at most {max_bytes}"


def depth_of(value: Any, stop: int) -> int:
    """How many levels of objects and arrays ``value`` nests (a scalar: 0), counted up to
    ``stop`` at most."""
    if not isinstance(value, dict | list) or stop <= 0:
        return 0
    items = value.values() if isinstance(value, dict) else value
    return 1 + max((depth_of(item, stop - 1) for item in items), default=0)

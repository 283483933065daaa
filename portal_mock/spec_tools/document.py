"""Reading an OpenAPI document: its operations, its ``$ref``s, and validators for its schemas."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path as FilePath
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from portal_mock.compiled_schemas import as_json_schema

Path = tuple[Any, ...]
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Unreadable(Exception):
    """A document that cannot be read: missing, not YAML, not a mapping, no such git ref."""


def read_source(source: str) -> tuple[str, str]:
    """(text, name) of ``source``: a file, or ``git:REF:PATH`` as git has it at REF."""
    if source.startswith("git:"):
        ref, _, path = source[4:].partition(":")
        done = subprocess.run(
            ["git", "show", f"{ref}:{path}"], capture_output=True, text=True, check=False
        )
        if done.returncode != 0 or not path:
            raise Unreadable(f"{source}: {done.stderr.strip() or 'give it as git:REF:PATH'}")
        return done.stdout, source
    try:
        return FilePath(source).read_text(encoding="utf-8"), source
    except (OSError, UnicodeDecodeError) as exc:
        raise Unreadable(f"{source}: {exc}") from exc


def parse(text: str, name: str) -> dict[str, Any]:
    try:
        spec = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise Unreadable(f"{name}: {exc}") from exc
    if not isinstance(spec, dict):
        raise Unreadable(f"{name}: the document is not a mapping")
    return spec


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for template, item in (spec.get("paths") or {}).items():
        for method in METHODS:
            if isinstance(item, dict) and isinstance(item.get(method), dict):
                yield template, method, item[method]


def resolved(spec: dict[str, Any], node: Any) -> Any:
    """``node``, following a local ``$ref`` (a chain of them) to what it names."""
    return resolved_at(spec, node, ())[0]


def resolved_at(spec: dict[str, Any], node: Any, path: Path) -> tuple[Any, Path]:
    """``node`` followed through its ``$ref``s, and the path of what it ends at."""
    seen = 0
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and seen < 20:
        target: Any = spec
        path = tuple(
            part.replace("~1", "/").replace("~0", "~")
            for part in node["$ref"].removeprefix("#/").split("/")
        )
        for part in path:
            target = target.get(part) if isinstance(target, dict) else None
        node, seen = target, seen + 1
    return node, path


def parameters(spec: dict[str, Any], template: str, operation: dict[str, Any]) -> list[Any]:
    """The operation's parameters, those of its path first, each resolved."""
    item = (spec.get("paths") or {}).get(template) or {}
    listed = [*item.get("parameters", []), *operation.get("parameters", [])]
    return [resolved(spec, p) for p in listed]


class Validators:
    """Draft 4 validators for schemas of one document, its ``$ref``s resolved within it
    and OpenAPI's ``nullable`` read as JSON Schema's ``null`` type."""

    def __init__(self, spec: dict[str, Any]) -> None:
        resource = Resource.from_contents(as_json_schema(spec), default_specification=DRAFT4)
        self._registry = Registry().with_resource("urn:spec", resource)

    def at(self, path: Path) -> jsonschema.Draft4Validator:
        """The validator of the schema at ``path`` in the document."""
        pointer = "/".join(str(part).replace("~", "~0").replace("/", "~1") for part in path)
        return jsonschema.Draft4Validator(
            {"$ref": f"urn:spec#/{pointer}"},
            registry=self._registry,
            format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER,
        )

"""What the checks read from the OpenAPI document: paths, list defaults and the link's schemas."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from functools import cached_property
from typing import Any

Schema = dict[str, Any]

# The client-facing operationIds CONTRACT.md fixes; the checks find everything else by them.
LIST = "listWorkorderPortalLinks"
CREATE = "createWorkorderPortalLink"
GET = "getWorkorderPortalLink"
UPDATE = "updateWorkorderPortalLink"
DELETE = "deleteWorkorderPortalLink"
REGENERATE = "regenerateWorkorderPortalLink"
ACTIVATE = "activateWorkorderPortalLink"
DEACTIVATE = "deactivateWorkorderPortalLink"
BY_ID = frozenset({GET, UPDATE, DELETE, REGENERATE, ACTIVATE, DEACTIVATE})
WRITES = frozenset({CREATE, UPDATE, DELETE, REGENERATE, ACTIVATE, DEACTIVATE})

_METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")
# An object property's default is spelt ``x-default``: code generators refuse
# ``default`` on an object (docs/code-generators.md).
DEFAULT_KEYWORDS = ("default", "x-default")


class Spec:
    """A read-only view of one OpenAPI 3.0 document, with local ``$ref``s and ``allOf`` resolved."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw

    def resolve(self, node: Any) -> Schema:
        """``node`` with ``$ref`` followed and ``allOf`` parts merged; the outer keys win."""
        seen: set[str] = set()
        while isinstance(node, Mapping) and "$ref" in node:
            ref = str(node["$ref"])
            if ref in seen:
                raise ValueError(f"circular $ref {ref}")
            seen.add(ref)
            node = self._pointer(ref)
        if not isinstance(node, Mapping):
            return {}
        view = {key: value for key, value in node.items() if key != "allOf"}
        properties: dict[str, Any] = {}
        for part in node.get("allOf", []):
            resolved = self.resolve(part)
            properties.update(resolved.get("properties", {}))
            view = {**resolved, **view}
        if properties:
            view["properties"] = {**properties, **node.get("properties", {})}
        return view

    def _pointer(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise ValueError(f"only local $refs are supported, not {ref}")
        node: Any = self.raw
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    @cached_property
    def operations(self) -> dict[str, tuple[str, str]]:
        """operationId -> (METHOD, path template)."""
        found: dict[str, tuple[str, str]] = {}
        for path, item in self.raw.get("paths", {}).items():
            for method in _METHODS:
                operation = item.get(method)
                if isinstance(operation, Mapping) and "operationId" in operation:
                    found[str(operation["operationId"])] = (method.upper(), str(path))
        return found

    def path_for(self, operation_id: str, link_id: str | None = None) -> str:
        path = self.operations[operation_id][1]
        return path.replace("{id}", link_id) if link_id is not None else path

    def _operation(self, operation_id: str) -> Schema:
        method, path = self.operations[operation_id]
        return self.resolve(self.raw["paths"][path][method.lower()])

    def _body_schema(self, operation_id: str) -> Schema:
        body = self.resolve(self._operation(operation_id).get("requestBody"))
        return self.resolve(body.get("content", {}).get("application/json", {}).get("schema"))

    @cached_property
    def create_schema(self) -> Schema:
        return self._body_schema(CREATE)

    @cached_property
    def update_schema(self) -> Schema:
        return self._body_schema(UPDATE)

    @cached_property
    def link_schema(self) -> Schema:
        """The link as the server returns it: ``data`` of the get operation's 200 response."""
        response = self.resolve(self._operation(GET)["responses"]["200"])
        envelope = self.resolve(response["content"]["application/json"]["schema"])
        return self.resolve(envelope["properties"]["data"])

    @cached_property
    def id_pattern(self) -> str | None:
        """The ``pattern`` of the get operation's ``id`` path parameter, if it has one."""
        method, path = self.operations[GET]
        item = self.raw["paths"][path]
        parameters = [*item.get("parameters", []), *item[method.lower()].get("parameters", [])]
        for parameter in map(self.resolve, parameters):
            if parameter.get("in") == "path" and parameter.get("name") == "id":
                pattern = self.resolve(parameter.get("schema")).get("pattern")
                return str(pattern) if pattern is not None else None
        return None

    @cached_property
    def list_defaults(self) -> dict[str, Any]:
        """The defaults of the list operation's query parameters (``page``, ``per_page``)."""
        method, path = self.operations[LIST]
        item = self.raw["paths"][path]
        parameters = [*item.get("parameters", []), *item[method.lower()].get("parameters", [])]
        defaults: dict[str, Any] = {}
        for parameter in map(self.resolve, parameters):
            schema = self.resolve(parameter.get("schema"))
            if parameter.get("in") == "query" and "default" in schema:
                defaults[str(parameter["name"])] = copy.deepcopy(schema["default"])
        return defaults

    def property_schema(self, schema: Schema, name: str) -> Schema:
        return self.resolve(self.resolve(schema).get("properties", {}).get(name))

    def default(self, schema: Any) -> tuple[Any] | None:
        """``(value,)`` of the schema's ``default`` or ``x-default``, a fresh copy; None if none."""
        view = self.resolve(schema)
        for keyword in DEFAULT_KEYWORDS:
            if keyword in view:
                return (copy.deepcopy(view[keyword]),)
        return None

    def fields(self, schema: Schema) -> list[str]:
        return list(self.resolve(schema).get("properties", {}))

    @cached_property
    def api_key_header(self) -> str:
        """The header of the document's apiKey security scheme (``X-API-Key``)."""
        schemes = self.raw.get("components", {}).get("securitySchemes", {})
        for scheme in map(self.resolve, schemes.values()):
            if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
                return str(scheme["name"])
        return "X-API-Key"

    @cached_property
    def date_fields(self) -> frozenset[str]:
        """The link's fields that hold an RFC 3339 date-time."""
        return frozenset(
            name
            for name in self.fields(self.link_schema)
            if self.property_schema(self.link_schema, name).get("format") == "date-time"
        )

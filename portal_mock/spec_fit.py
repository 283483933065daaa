"""What the mock needs of a spec to serve it, checked at start-up.

The mock follows most edits to the YAML by itself: a new property is stored
and returned, enums and bounds are the validators'. Some edits it cannot
follow: a field its own code writes that the spec drops or retypes, a sort
field its index does not hold, a parameter no handler reads. Those are refused
at start-up with the reason, never served wrongly.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Iterator
from typing import Any

from connexion.decorators.parameter import pythonic

from portal_mock.compiled_schemas import DEFAULT_KEYWORDS
from portal_mock.paths import HANDLER_MODULE
from portal_mock.spec_tools.document import Path, operations, parameters, resolved_at
from portal_mock.spec_tools.schema_changes import Flat, flat
from portal_mock.spec_tools.stored_data import link_schema
from portal_mock.store.querying import ROW_FIELDS

Spec = dict[str, Any]
# The fields the mock's own code writes or reads by name, with the JSON type it gives them.
MOCK_FIELDS = {
    "_id": "string",
    "workorder": "string",
    "link_type": "string",
    "url": "string",
    "access_token": "string",
    "expiry_date": "string",
    "is_active": "boolean",
    "company_namespace": "array",
    "created_at": "string",
    "updated_at": "string",
}
# The handler whose extra query parameters filter by equality, and the one that creates.
LIST_HANDLER, CREATE_HANDLER = "list_workorder_portal_links", "create_workorder_portal_link"


class SpecNotFollowable(ValueError):
    """The spec asks for something the mock cannot do without a code change."""


def check(spec: Spec) -> dict[str, str]:
    """The list's equality filters (handler argument -> field of the link); raise
    SpecNotFollowable naming every edit the mock cannot follow."""
    link = _link(spec)
    filters: dict[str, str] = {}
    problems = list(_fields(spec, link)) + list(_created_fields(spec, link))
    for template, method, operation in operations(spec):
        handler = _handler(operation)
        if handler is None:
            continue  # Connexion's resolver names a missing handler itself.
        found, refused = _arguments(spec, template, method, operation, handler, link)
        filters.update(found)
        problems += refused
    problems += _sort_fields(spec, link)
    if problems:
        raise SpecNotFollowable(
            "the spec asks for what the mock cannot do without a code change:\n  - "
            + "\n  - ".join(problems)
        )
    return filters


def _link(spec: Spec) -> Flat:
    where = link_schema(spec)
    if where is None:
        raise SpecNotFollowable("no GET of one item answers 200 with the link as `data`")
    return flat(spec, _at(spec, where), where)


def _at(spec: Spec, path: Path) -> Any:
    node: Any = spec
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _type(spec: Spec, node: Any) -> Any:
    return flat(spec, node, ()).keywords.get("type")


def _fields(spec: Spec, link: Flat) -> Iterator[str]:
    """The fields the mock writes are there, with the type it writes."""
    for name, wanted in MOCK_FIELDS.items():
        if name not in link.properties:
            yield f"the link has no field {name!r}, which the mock writes and reads itself"
            continue
        kind = _type(spec, link.properties[name][0])
        if kind is not None and kind != wanted:
            yield f"the link's {name!r} is now {kind}; the mock writes it as a {wanted}"


def _created_fields(spec: Spec, link: Flat) -> Iterator[str]:
    """Every field the link must have is one the mock writes, or one create requires or
    defaults: else the mock would create links its own answers refuse."""
    for _, _, operation in operations(spec):
        if _handler_name(operation) != CREATE_HANDLER:
            continue
        body, _ = resolved_at(spec, operation.get("requestBody"), ())
        media = ((body or {}).get("content") or {}).get("application/json") or {}
        create = flat(spec, media.get("schema"), ())
        for name in sorted(link.required - set(MOCK_FIELDS)):
            schema = create.properties.get(name, ({}, ()))[0]
            given = name in create.required or any(key in schema for key in DEFAULT_KEYWORDS)
            if not given:
                yield (
                    f"the link requires {name!r}, but create neither requires it nor gives "
                    "it a default: links created without it would break the spec's own answer"
                )


def _handler_name(operation: Any) -> str | None:
    from portal_mock.app import handler_name

    operation_id = operation.get("operationId")
    return handler_name(operation_id).rsplit(".", 1)[1] if isinstance(operation_id, str) else None


def _handler(operation: Any) -> Any:
    name = _handler_name(operation)
    return getattr(importlib.import_module(HANDLER_MODULE), name, None) if name else None


def _arguments(
    spec: Spec, template: str, method: str, operation: Any, handler: Any, link: Flat
) -> tuple[dict[str, str], list[str]]:
    """The equality filters among an operation's parameters, and those no handler reads."""
    signature = inspect.signature(handler).parameters.values()
    named = {p.name for p in signature if p.kind is not inspect.Parameter.VAR_KEYWORD}
    filters, refused = {}, []
    for parameter in parameters(spec, template, operation):
        if not isinstance(parameter, dict) or parameter.get("in") not in ("query", "path"):
            continue
        name = str(parameter.get("name"))
        if pythonic(name) in named:
            continue
        field = link.properties.get(name)
        kind = _type(spec, parameter.get("schema"))
        if handler.__name__ == LIST_HANDLER and field is not None and kind != "object":
            filters[pythonic(name)] = name
        else:
            refused.append(
                f"{method.upper()} {template}: parameter {name!r} is read by no handler "
                "(only a new query parameter of the list, named after a field of the link, "
                "is followed: it filters by equality)"
            )
    return filters, refused


def _sort_fields(spec: Spec, link: Flat) -> Iterator[str]:
    """The sort parameter accepts only fields the store keeps in its rows."""
    for template, _, operation in operations(spec):
        if _handler_name(operation) != LIST_HANDLER:
            continue
        for parameter in parameters(spec, template, operation):
            if not isinstance(parameter, dict) or parameter.get("name") != "sort":
                continue
            schema = flat(spec, parameter.get("schema"), ()).keywords
            pattern, enum = schema.get("pattern"), schema.get("enum") or []
            for name in sorted(set(link.properties) - set(ROW_FIELDS)):
                if name in enum or (pattern and re.fullmatch(pattern, name)):
                    yield f"sort accepts {name!r}, a field the store does not order by"

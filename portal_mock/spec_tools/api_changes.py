"""What changed between two versions of an API: operations, parameters, bodies, answers, keys."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from portal_mock.spec_tools.document import Path, operations, resolved_at
from portal_mock.spec_tools.schema_changes import Change, Side, Walk, compare

Spec = dict[str, Any]
JSON = "application/json"

# Every rule of ``portal-mock diff``, and whether a change it finds breaks clients.
DIFF_RULES = {
    "operation-removed": True,
    "parameter-removed": True,
    "parameter-required": True,
    "response-removed": True,
    "success-status-changed": True,
    "property-removed": True,
    "property-required": True,
    "type-changed": True,
    "enum-narrowed": True,
    "bound-narrowed": True,
    "pattern-changed": True,
    "security-added": True,
    "response-property-optional": True,
    "response-property-nullable": True,
    "operation-added": False,
    "parameter-added": False,
    "response-added": False,
    "property-added": False,
    "enum-widened": False,
    "bound-widened": False,
    "pattern-removed": False,
    "nullable-added": False,
    "nullable-removed": False,
    "alternative-added": False,
    "security-relaxed": False,
    "description-changed": False,
}


def api_changes(old: Spec, new: Spec) -> Iterator[Change]:
    """Every change from ``old`` to ``new``, operation by operation."""
    before = {(template, method): op for template, method, op in operations(old)}
    after = {(template, method): op for template, method, op in operations(new)}
    for (template, method), _ in before.items():
        if (template, method) not in after:
            where = ("paths", template, method)
            name = f"{method.upper()} {template}"
            yield Change("operation-removed", True, "old", where, name, "operation removed", name)
    for (template, method), operation in after.items():
        name = f"{method.upper()} {template}"
        if (template, method) not in before:
            where = ("paths", template, method)
            yield Change("operation-added", False, "new", where, name, "new operation", name)
            continue
        pair = _Pair(old, new, template, method, before[(template, method)], operation)
        yield from _parameters(pair)
        yield from _request_body(pair)
        yield from _responses(pair)
        yield from _security(pair)


class _Pair:
    """One operation in both versions."""

    def __init__(self, old: Spec, new: Spec, template: str, method: str, was: Any, now: Any):
        self.old, self.new, self.was, self.now = old, new, was, now
        self.path = ("paths", template, method)
        self.name = f"{method.upper()} {template}"
        self.template = template

    def change(
        self, rule: str, breaking: bool, side: str, where: Path, subject: str, detail: str
    ) -> Change:
        return Change(rule, breaking, side, where, subject, detail, self.name)

    def parameters(self, spec: Spec, operation: Any) -> dict[tuple[str, str], tuple[Any, Path]]:
        """Each parameter by (in, name), resolved, with where it is written."""
        item = (spec.get("paths") or {}).get(self.template) or {}
        found = {}
        for owner, where in ((item, ("paths", self.template)), (operation, self.path)):
            for index, written in enumerate(owner.get("parameters") or []):
                parameter, at = resolved_at(spec, written, (*where, "parameters", index))
                if isinstance(parameter, dict):
                    found[(parameter.get("in", ""), parameter.get("name", ""))] = parameter, at
        return found


def _parameters(pair: _Pair) -> Iterator[Change]:
    was, now = pair.parameters(pair.old, pair.was), pair.parameters(pair.new, pair.now)
    for key, (_, where) in was.items():
        if key not in now:
            subject = f"{key[0]} parameter {key[1]}"
            yield Change("parameter-removed", True, "old", where, subject, "removed", pair.name)
    for key, (parameter, where) in now.items():
        walk = Walk(pair.name, reading=False, subject=f"{key[0]} parameter {key[1]}")
        required = bool(parameter.get("required"))
        if key not in was:
            rule = "parameter-required" if required else "parameter-added"
            detail = f"new {'required ' if required else ''}parameter"
            yield walk.change(rule, required, "new", where, detail)
            continue
        old_parameter, old_where = was[key]
        if required and not old_parameter.get("required"):
            yield walk.change("parameter-required", True, "new", where, "now required")
        yield from compare(
            Side(pair.old, old_parameter.get("schema"), (*old_where, "schema")),
            Side(pair.new, parameter.get("schema"), (*where, "schema")),
            walk,
        )


def _json_schema(spec: Spec, node: Any, where: Path) -> tuple[Any, Path] | None:
    """The JSON schema of a request body or response ``node``, and where it is written."""
    node, where = resolved_at(spec, node, where)
    media = ((node or {}).get("content") or {}).get(JSON) if isinstance(node, dict) else None
    if not isinstance(media, dict) or "schema" not in media:
        return None
    return media["schema"], (*where, "content", JSON, "schema")


def _request_body(pair: _Pair) -> Iterator[Change]:
    was = _json_schema(pair.old, pair.was.get("requestBody"), (*pair.path, "requestBody"))
    now = _json_schema(pair.new, pair.now.get("requestBody"), (*pair.path, "requestBody"))
    if was and now:
        walk = Walk(f"{pair.name} request body", reading=False)
        yield from compare(Side(pair.old, *was), Side(pair.new, *now), walk)


def _responses(pair: _Pair) -> Iterator[Change]:
    was = {str(status): answer for status, answer in (pair.was.get("responses") or {}).items()}
    now = {str(status): answer for status, answer in (pair.now.get("responses") or {}).items()}
    where = (*pair.path, "responses")
    lost_success = sorted(s for s in was if s.startswith("2") and s not in now)
    new_success = sorted(s for s in now if s.startswith("2") and s not in was)
    # A success status swapped for another is one change, not a removal and an addition.
    swapped = set(lost_success + new_success) if lost_success and new_success else set()
    if swapped:
        detail = f"answers {', '.join(new_success)} where it answered {', '.join(lost_success)}"
        at = (*where, new_success[0])
        yield pair.change("success-status-changed", True, "new", at, "success status", detail)
    for status in set(was) - set(now) - swapped:
        at, subject = (*where, status), f"response {status}"
        yield pair.change("response-removed", True, "old", at, subject, "no longer documented")
    for status in set(now) - set(was) - swapped:
        at, subject = (*where, status), f"response {status}"
        yield pair.change("response-added", False, "new", at, subject, "newly documented")
    for status in set(was) & set(now):
        one = _json_schema(pair.old, was[status], (*where, status))
        other = _json_schema(pair.new, now[status], (*where, status))
        if one and other:
            walk = Walk(f"{pair.name} response {status}", reading=True)
            yield from compare(Side(pair.old, *one), Side(pair.new, *other), walk)


def _requirements(spec: Spec, operation: Any) -> list[frozenset[str]]:
    """Each alternative way to be let in, as the set of schemes it needs ([] when open)."""
    listed = operation.get("security", spec.get("security")) or []
    found = [frozenset(alternative) for alternative in listed if isinstance(alternative, dict)]
    return found or [frozenset()]


def _security(pair: _Pair) -> Iterator[Change]:
    was, now = _requirements(pair.old, pair.was), _requirements(pair.new, pair.now)
    # A client let in before is let in still if some alternative now needs no more than it has.
    locked_out = [one for one in was if not any(other <= one for other in now)]
    where = (*pair.path, "security") if "security" in pair.now else ("security",)
    if locked_out:
        needs = " or ".join(" + ".join(sorted(other)) or "nothing" for other in now)
        detail = f"now needs {needs}" + (" (it needed none)" if frozenset() in was else "")
        yield pair.change("security-added", True, "new", where, "security", detail)
    elif set(was) != set(now):
        yield pair.change("security-relaxed", False, "new", where, "security", "asks for less")

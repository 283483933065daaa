"""What changed between two versions of one schema, keyword by keyword, and whether it breaks.

A request schema is written by clients, so narrowing it breaks them; a response
schema is read by them, so a property that may now be missing or null breaks
them too. Types, enums, bounds and patterns are compared on both sides alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from portal_mock.spec_tools.document import Path, resolved_at

# Each (lower, upper) kind of bound: raising a lower bound or lowering an upper one narrows.
LOWER_BOUNDS = ("minimum", "minLength", "minItems", "minProperties")
# The x- bounds are the spec's own, on metadata: the mock enforces them as it does the others.
UPPER_BOUNDS = (
    "maximum",
    "maxLength",
    "maxItems",
    "maxProperties",
    "x-max-depth",
    "x-max-encoded-bytes",
)
_MAX_DEPTH = 16


@dataclass(frozen=True)
class Change:
    """One change: its rule, whether it breaks clients, where it is, and what it is."""

    rule: str
    breaking: bool
    side: str  # "old" or "new": the document that holds ``where``
    where: Path
    subject: str
    detail: str
    context: str


@dataclass
class Flat:
    """A schema with its ``$ref``s followed and its ``allOf`` merged, each keyword with
    the place in the document it comes from."""

    where: Path
    keywords: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, Path] = field(default_factory=dict)
    properties: dict[str, tuple[Any, Path]] = field(default_factory=dict)
    required: set[str] = field(default_factory=set)

    def at(self, keyword: str) -> Path:
        return self.origins.get(keyword, self.where)


def flat(spec: dict[str, Any], node: Any, where: Path) -> Flat:
    node, where = resolved_at(spec, node, where)
    found = Flat(where)
    if not isinstance(node, dict):
        return found
    for index, part in enumerate(node.get("allOf") or []):
        _merge(found, flat(spec, part, (*where, "allOf", index)))
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            for name, schema in value.items():
                found.properties[name] = (schema, (*where, "properties", name))
        elif key == "required" and isinstance(value, list):
            found.required.update(value)
        elif key != "allOf":
            found.keywords[key], found.origins[key] = value, (*where, key)
    return found


def _merge(into: Flat, part: Flat) -> None:
    into.keywords.update(part.keywords)
    into.origins.update(part.origins)
    into.properties.update(part.properties)
    into.required |= part.required


@dataclass(frozen=True)
class Side:
    """One version of the document, and where in it the compared schemas are."""

    spec: dict[str, Any]
    schema: Any
    where: Path


@dataclass(frozen=True)
class Walk:
    """Where the walk is: the operation's part, request or response, and the field."""

    context: str
    reading: bool
    subject: str = ""
    depth: int = 0

    def into(self, name: str) -> Walk:
        if name in ("[]", "{}"):
            subject = self.subject + name
        else:
            subject = f"{self.subject}.{name}" if self.subject else name
        return Walk(self.context, self.reading, subject, self.depth + 1)

    def change(self, rule: str, breaking: bool, side: str, where: Path, detail: str) -> Change:
        return Change(rule, breaking, side, where, self.subject or "(body)", detail, self.context)


def compare(old: Side, new: Side, walk: Walk) -> Iterator[Change]:
    """Every change from ``old``'s schema to ``new``'s."""
    if walk.depth > _MAX_DEPTH:
        return
    before, after = flat(old.spec, old.schema, old.where), flat(new.spec, new.schema, new.where)
    here = _Here(before, after, walk)
    yield from _type(here)
    yield from _enum(here)
    yield from _bounds(here)
    yield from _pattern(here)
    yield from _nullable(here)
    yield from _properties(old, new, here)
    for keyword, suffix in (("items", "[]"), ("additionalProperties", "{}")):
        one, other = before.keywords.get(keyword), after.keywords.get(keyword)
        if isinstance(one, dict) and isinstance(other, dict):
            yield from compare(
                Side(old.spec, one, before.at(keyword)),
                Side(new.spec, other, after.at(keyword)),
                walk.into(suffix),
            )
    yield from _alternatives(old, new, here)


@dataclass(frozen=True)
class _Here:
    before: Flat
    after: Flat
    walk: Walk

    def change(self, rule: str, breaking: bool, keyword: str, detail: str) -> Change:
        # A keyword that is gone is shown where it was; any other, where it is now.
        if keyword in self.after.keywords or keyword not in self.before.keywords:
            return self.walk.change(rule, breaking, "new", self.after.at(keyword), detail)
        return self.walk.change(rule, breaking, "old", self.before.at(keyword), detail)


def _type(here: _Here) -> Iterator[Change]:
    for keyword in ("type", "format"):
        was, now = here.before.keywords.get(keyword), here.after.keywords.get(keyword)
        if was != now and now is not None:
            yield here.change("type-changed", True, keyword, f"{keyword} {was or 'any'} -> {now}")


def _enum(here: _Here) -> Iterator[Change]:
    was, now = here.before.keywords.get("enum"), here.after.keywords.get("enum")
    if now is not None and was is None:
        yield here.change("enum-narrowed", True, "enum", f"now only {_listed(now)}")
    elif was is not None and now is not None:
        lost = [value for value in was if value not in now]
        gained = [value for value in now if value not in was]
        if lost:
            yield here.change("enum-narrowed", True, "enum", f"enum lost {_listed(lost)}")
        if gained:
            yield here.change("enum-widened", False, "enum", f"enum gained {_listed(gained)}")
    elif was is not None:
        yield here.change("enum-widened", False, "enum", "any value now, not only the enum's")


def _bounds(here: _Here) -> Iterator[Change]:
    for keyword in (*LOWER_BOUNDS, *UPPER_BOUNDS):
        was, now = here.before.keywords.get(keyword), here.after.keywords.get(keyword)
        if was == now or not all(isinstance(v, int | float | None) for v in (was, now)):
            continue
        lower = keyword in LOWER_BOUNDS
        narrowed = was is None or (now is not None and (now > was if lower else now < was))
        rule = "bound-narrowed" if narrowed else "bound-widened"
        text = f"{keyword} {'none' if was is None else was} -> {'none' if now is None else now}"
        yield here.change(rule, narrowed, keyword, text)
    for keyword in ("exclusiveMinimum", "exclusiveMaximum"):
        was, now = bool(here.before.keywords.get(keyword)), bool(here.after.keywords.get(keyword))
        if was != now:
            rule = "bound-narrowed" if now else "bound-widened"
            yield here.change(rule, now, keyword, f"{keyword} {was} -> {now}")


def _pattern(here: _Here) -> Iterator[Change]:
    was, now = here.before.keywords.get("pattern"), here.after.keywords.get("pattern")
    if now is not None and was != now:
        yield here.change("pattern-changed", True, "pattern", f"pattern {was or 'none'} -> {now}")
    elif was is not None and now is None:
        yield here.change("pattern-removed", False, "pattern", f"pattern {was} dropped")
    if here.before.keywords.get("description") != here.after.keywords.get("description"):
        yield here.change("description-changed", False, "description", "description changed")


def _nullable(here: _Here) -> Iterator[Change]:
    reading = here.walk.reading
    was, now = (bool(side.keywords.get("nullable")) for side in (here.before, here.after))
    if now and not was:
        rule = "response-property-nullable" if reading else "nullable-added"
        yield here.change(rule, reading, "nullable", "may now be null")
    elif was and not now:
        rule = "nullable-removed" if reading else "type-changed"
        yield here.change(rule, not reading, "nullable", "may no longer be null")


def _properties(old: Side, new: Side, here: _Here) -> Iterator[Change]:
    before, after, walk = here.before, here.after, here.walk
    for name, (_, where) in before.properties.items():
        if name not in after.properties:
            yield walk.into(name).change("property-removed", True, "old", where, "property removed")
    for name, (schema, where) in after.properties.items():
        field, required = walk.into(name), name in after.required
        if name not in before.properties:
            writes = required and not walk.reading
            rule = "property-required" if writes else "property-added"
            detail = f"new {'required ' if required else ''}property"
            yield field.change(rule, writes, "new", where, detail)
            continue
        was_required = name in before.required
        if required and not was_required and not walk.reading:
            yield field.change("property-required", True, "new", where, "now required")
        elif was_required and not required and walk.reading:
            yield field.change(
                "response-property-optional", True, "new", where, "may now be missing"
            )
        old_schema, old_where = before.properties[name]
        yield from compare(
            Side(old.spec, old_schema, old_where), Side(new.spec, schema, where), field
        )


def _alternatives(old: Side, new: Side, here: _Here) -> Iterator[Change]:
    before, after = here.before, here.after
    for keyword in ("anyOf", "oneOf"):
        was, now = before.keywords.get(keyword) or [], after.keywords.get(keyword) or []
        for index, (one, other) in enumerate(zip(was, now, strict=False)):
            yield from compare(
                Side(old.spec, one, (*before.at(keyword), index)),
                Side(new.spec, other, (*after.at(keyword), index)),
                Walk(here.walk.context, here.walk.reading, here.walk.subject, here.walk.depth + 1),
            )
        if len(now) < len(was):
            yield here.change("type-changed", True, keyword, f"{keyword} lost alternatives")
        elif len(now) > len(was) and was:
            yield here.change("alternative-added", False, keyword, f"{keyword} gained alternatives")


def _listed(values: list[Any]) -> str:
    return ", ".join(repr(value) for value in values)

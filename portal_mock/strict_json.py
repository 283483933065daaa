"""Request bodies read as I-JSON (RFC 7493): JSON that every parser reads the same way.

Python's json module reads ``NaN``, ``Infinity`` and ``1e400`` (which no
browser accepts back), integers of any length (5,000 digits was a 500),
lone surrogates (which cannot be encoded back), and keeps the last of two
equal keys (which one wins is an accident of the parser). Each of those is
refused here, with NUL characters (a PostgreSQL text column cannot hold
them) and nesting past a limit, every problem named by its field. The
limits are the spec's own (``x-json-limits``), so an edit of the YAML moves them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

# What the spec's ``x-json-limits`` says when it says nothing.
DEFAULT_MAX_DEPTH = 32
DEFAULT_MAX_INTEGER = 2**53 - 1
# Enough of a refused value to recognise it; never the whole of a large input.
SHOWN = 40


@dataclass(frozen=True)
class JsonLimits:
    """How deep a body may nest and how large its integers may be (in absolute value)."""

    max_depth: int = DEFAULT_MAX_DEPTH
    max_integer: int = DEFAULT_MAX_INTEGER

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> JsonLimits:
        found = spec.get("x-json-limits", {})
        return cls(
            max_depth=int(found.get("max-depth", DEFAULT_MAX_DEPTH)),
            max_integer=int(found.get("max-integer", DEFAULT_MAX_INTEGER)),
        )


_limits: dict[int, tuple[Any, JsonLimits]] = {}


def limits_of(scope: Mapping[str, Any]) -> JsonLimits:
    """The served spec's ``x-json-limits`` (the app's lifespan state holds the spec)."""
    spec = scope.get("state", {}).get("api_spec", {})
    found = _limits.get(id(spec))
    if found is None or found[0] is not spec:
        found = _limits[id(spec)] = (spec, JsonLimits.from_spec(spec))
    return found[1]


class BodyRefused(ValueError):
    """The body is not I-JSON; ``problems`` are (field, message) pairs, field dotted."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field or 'body'}: {message}" for field, message in problems))
        self.problems = problems


class _Refused:
    """Stands where a value that cannot be taken was read, until its field is known."""

    def __init__(self, message: str) -> None:
        self.message = message


class _Pairs(dict[str, Any]):
    """An object as read, with the names it gave more than once."""

    duplicates: tuple[str, ...] = ()


def _shown(text: str) -> str:
    return text if len(text) <= SHOWN else f"{text[:SHOWN]}... ({len(text)} characters)"


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) == len(pairs):
        return found
    counted = _Pairs(pairs)
    seen: set[str] = set()
    repeated: dict[str, None] = {}
    for name, _ in pairs:
        if name in seen:
            repeated[name] = None
        seen.add(name)
    counted.duplicates = tuple(repeated)
    return counted


def _constant(name: str) -> _Refused:
    return _Refused(f"{name} is not a JSON number")


def _parser(limits: JsonLimits) -> Any:
    digits = len(str(limits.max_integer))

    def integer(text: str) -> int | _Refused:
        # The length first: Python refuses to convert integers past 4,300 digits.
        if len(text.lstrip("-")) <= digits and abs(value := int(text)) <= limits.max_integer:
            return value
        return _Refused(f"{_shown(text)} is outside the integers taken, ±{limits.max_integer}")

    def number(text: str) -> float | _Refused:
        value = float(text)
        return value if math.isfinite(value) else _Refused(f"{_shown(text)} is too large a number")

    return integer, number


def loads(raw: bytes, limits: JsonLimits = JsonLimits()) -> Any:
    """The body's JSON value; BodyRefused naming each field it cannot take, or
    ValueError (UnicodeDecodeError, JSONDecodeError) when it is not JSON text at all.

    Most bodies take the quick way: read by orjson (which refuses NaN, Infinity,
    1e400, invalid UTF-8 and raw control characters itself) and shown plainly
    fine by a few counts over the bytes. Any doubt takes the exact way, which
    also says what is wrong and where.
    """
    if b"\\u" not in raw:
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
        else:
            if _plainly_fine(raw, value, limits):
                return value
    return _exact(raw, limits)


def _plainly_fine(raw: bytes, value: Any, limits: JsonLimits) -> bool:
    """Whether a body without \\u escapes (so without NUL or surrogates) is surely I-JSON.

    A name given twice leaves one pair fewer in what orjson read: written out
    again it has fewer colons than the body (colons within strings are the
    same in both when nothing is escaped as \\u). Nesting cannot pass the limit
    with fewer brackets than it, and an integer cannot pass ±max-integer with
    fewer digits (a number starts after a colon, bracket or comma; digits within
    a string may look like one, which only costs the exact way); an exponent of
    three digits is left to the exact way too.
    """
    return (
        raw.count(b"[") + raw.count(b"{") <= limits.max_depth
        and not _long_number(raw, limits)
        and orjson.dumps(value).count(b":") == raw.count(b":")
    )


# Digits and signs as 0, exponents as e, whitespace gone: a long number shows as
# a run of zeros after the character that starts a value.
_SHAPES = bytes.maketrans(b"0123456789+-E", b"000000000000e")
_SPACE = b" \t\r\n"


_needles: dict[int, tuple[bytes, ...]] = {}


def _long_number(raw: bytes, limits: JsonLimits) -> bool:
    digits = len(str(limits.max_integer))
    needles = _needles.get(digits)
    if needles is None:
        run = b"0" * digits
        needles = _needles[digits] = (b"0e000", b":" + run, b"," + run, b"[" + run)
    shapes = raw.translate(_SHAPES, _SPACE)
    return any(needle in shapes for needle in needles)


def _exact(raw: bytes, limits: JsonLimits) -> Any:
    integer, number = _parser(limits)
    try:
        value = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_object,
            parse_constant=_constant,
            parse_int=integer,
            parse_float=number,
        )
    except RecursionError:
        raise BodyRefused([("", f"nests deeper than {limits.max_depth} levels")]) from None
    problems = list(_problems(value, "", 0, limits.max_depth))
    if problems:
        raise BodyRefused(problems[:20])
    return value


def _problems(value: Any, field: str, depth: int, max_depth: int) -> Iterator[tuple[str, str]]:
    if isinstance(value, _Refused):
        yield field, value.message
    elif isinstance(value, str):
        yield from _string_problems(value, field)
    elif isinstance(value, dict | list):
        if depth >= max_depth:
            yield field, f"nests deeper than {max_depth} levels"
            return
        yield from _container_problems(value, field, depth, max_depth)


def _container_problems(
    value: dict[str, Any] | list[Any], field: str, depth: int, max_depth: int
) -> Iterator[tuple[str, str]]:
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _problems(item, _join(field, str(index)), depth + 1, max_depth)
        return
    for name in getattr(value, "duplicates", ()):
        yield _join(field, name), "is given more than once"
    for name, item in value.items():
        yield from (
            (_join(field, _shown(name)), f"the name {message}")
            for _, message in _string_problems(name, "")
        )
        yield from _problems(item, _join(field, name), depth + 1, max_depth)


def _string_problems(text: str, field: str) -> Iterator[tuple[str, str]]:
    if "\x00" in text:
        yield field, "holds a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        yield field, "holds a lone surrogate (\\ud800 to \\udfff), which is not a character"


def _join(field: str, name: str) -> str:
    return f"{field}.{name}" if field else name

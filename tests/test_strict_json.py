"""The quick way of reading a body never takes what the exact way refuses, and reads the same."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from portal_mock import strict_json
from portal_mock.strict_json import BodyRefused, JsonLimits

NAMES = st.sampled_from(["a", "b", "c:d", "e\\u003a", "f"])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["x", "a:b", "\\u0000", "\\ud800", "1e400", ", 12345678901234567"]),
    st.sampled_from(["1e400", "-1e999", "NaN", "Infinity", "12345678901234567890"]).map(
        lambda text: ("raw", text)
    ),
)


def text_of(value: Any, spaces: str) -> str:
    """JSON text for ``value``; pair lists may repeat names, ("raw", t) is put in as it is."""
    if isinstance(value, tuple):
        return value[1]
    if isinstance(value, list) and value and value[0] == "object":
        pairs = [f'"{name}":{spaces}{text_of(item, spaces)}' for name, item in value[1]]
        return "{" + f",{spaces}".join(pairs) + "}"
    if isinstance(value, list):
        return "[" + ",".join(text_of(item, spaces) for item in value) + "]"
    if isinstance(value, str):
        return f'"{value}"'
    return json.dumps(value)


VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(st.tuples(NAMES, inner), max_size=4).map(lambda pairs: ["object", pairs])
    ),
    max_leaves=15,
)


def outcome(read: Any, raw: bytes, limits: JsonLimits) -> Any:
    try:
        return ("value", read(raw, limits))
    except BodyRefused as exc:
        return ("refused", sorted(exc.problems))
    except ValueError:
        return ("not json",)


@given(value=VALUES, spaces=st.sampled_from(["", " ", "\n  "]), depth=st.sampled_from([2, 4, 32]))
@example(value=["object", [("a", 1), ("a", 2)]], spaces="", depth=32)
@example(value=["object", [("a", 1), ("a", "e\\u003a")]], spaces="", depth=32)
@example(value=["object", [("n", ("raw", "9007199254740992"))]], spaces=" ", depth=32)
def test_the_quick_way_answers_as_the_exact_way(value: Any, spaces: str, depth: int) -> None:
    raw = text_of(value, spaces).encode()
    limits = JsonLimits(max_depth=depth)
    quick = outcome(strict_json.loads, raw, limits)
    exact = outcome(strict_json._exact, raw, limits)
    if quick[0] == "value" or exact[0] == "value":
        assert quick == exact


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        (b'{"a": {"b": 1, "b": 2}}', [("a.b", "is given more than once")]),
        (b"[1, NaN]", [("1", "NaN is not a JSON number")]),
        (b'{"n": 9007199254740991, "m": -9007199254740991}', None),
        (
            b'{"n": 9007199254740992}',
            [("n", "9007199254740992 is outside the integers taken, ±9007199254740991")],
        ),
        (b'{"x": 1e308}', None),
        (b'{"x": 1e309}', [("x", "1e309 is too large a number")]),
    ],
)
def test_each_refusal_names_its_field(text: bytes, problems: list[tuple[str, str]] | None) -> None:
    if problems is None:
        assert strict_json.loads(text) == json.loads(text)
        return
    with pytest.raises(BodyRefused) as refused:
        strict_json.loads(text)
    assert refused.value.problems == problems


def test_limits_come_from_the_spec() -> None:
    limits = JsonLimits.from_spec({"x-json-limits": {"max-depth": 3, "max-integer": 100}})
    assert limits == JsonLimits(max_depth=3, max_integer=100)
    with pytest.raises(BodyRefused):
        strict_json.loads(b"[[[[1]]]]", limits)
    with pytest.raises(BodyRefused):
        strict_json.loads(b"[101]", limits)
    assert strict_json.loads(b"[[[100]]]", limits) == [[[100]]]

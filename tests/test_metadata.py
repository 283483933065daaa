"""metadata: any JSON object, nested included, bounded by the spec's depth and encoded size."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import BASE, WORKORDER
from hypothesis import given, settings
from hypothesis import strategies as st

from portal_mock.jsonbody import encoded

NESTED = {"source": {"app": "web", "v": 2}, "tags": ["a", {"b": None}], "ratio": 0.5}


def nested(levels: int) -> dict[str, Any]:
    """An object ``levels`` deep, the object itself being the first level."""
    value: dict[str, Any] = {"leaf": True}
    for _ in range(levels - 1):
        value = {"next": value}
    return value


def levels(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(levels, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(levels, value), default=0)
    return 0


def test_a_nested_object_is_stored_and_returned_as_sent(client: Any, create: Any) -> None:
    link = create(metadata=NESTED)
    assert link["metadata"] == NESTED
    assert client.get(f"{BASE}/{link['_id']}").json()["data"]["metadata"] == NESTED
    changed = {**NESTED, "source": {"app": "mobile", "build": [1, 2, 3]}}
    updated = client.put(f"{BASE}/{link['_id']}", json={"metadata": changed})
    assert updated.status_code == 200, updated.text
    assert updated.json()["data"]["metadata"] == changed


@pytest.mark.parametrize(
    ("metadata", "says"),
    [
        (nested(5), "nests more than 4 levels deep"),
        ({"big": "x" * 16_400}, "bytes as JSON; at most 16384"),
    ],
    ids=["5 levels", "over 16 KiB"],
)
def test_metadata_past_its_bounds_is_refused_and_nothing_stored(
    client: Any, create: Any, metadata: dict[str, Any], says: str
) -> None:
    link = create()
    for response in (
        client.post(BASE, json={"workorder": WORKORDER, "metadata": metadata}),
        client.put(f"{BASE}/{link['_id']}", json={"metadata": metadata}),
    ):
        assert response.status_code == 400, response.text
        details = {d["field"]: d["message"] for d in response.json()["error"]["details"]}
        assert says in details["metadata"]
        assert all(field.startswith("metadata") for field in details)
    assert client.get(BASE).json()["data"] == [link]


def test_metadata_at_its_bounds_is_taken(create: Any) -> None:
    deepest = nested(4)
    assert create(metadata=deepest)["metadata"] == deepest
    filler = "x" * (16_384 - len(encoded({"big": ""})))
    largest = {"big": filler}
    assert len(encoded(largest)) == 16_384
    assert create(metadata=largest)["metadata"] == largest


# Text as I-JSON takes it: no NUL, no lone surrogates (Hypothesis draws none of those).
TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=8)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=50)
@given(metadata=st.dictionaries(TEXT, JSON_VALUES, max_size=5))
def test_any_json_object_within_the_bounds_round_trips(
    client: Any, metadata: dict[str, Any]
) -> None:
    response = client.post(BASE, json={"workorder": WORKORDER, "metadata": metadata})
    if levels(metadata) > 4:
        assert response.status_code == 400, response.text
        return
    assert response.status_code == 201, response.text
    assert response.json()["data"]["metadata"] == metadata

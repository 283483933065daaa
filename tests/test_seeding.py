"""Generated links: realistic, valid against the spec, the same for the same seed."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_spec import validator

from portal_mock.seeding import fake_links
from portal_mock.store import LinkStore


@pytest.fixture(scope="module")
def link_schema(spec: dict[str, Any]) -> Any:
    return validator(spec, {"$ref": "#/components/schemas/WorkorderPortalLink"})


@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_every_generated_link_fits_the_link_schema(
    spec: dict[str, Any], link_schema: Any, seed: int
) -> None:
    for link in fake_links(spec, 25, seed):
        errors = [e.message for e in link_schema.iter_errors({"_id": "6" * 24, **link})]
        assert errors == [], link


def test_the_same_seed_gives_the_same_links_and_another_seed_others(
    spec: dict[str, Any],
) -> None:
    assert fake_links(spec, 40, 7) == fake_links(spec, 40, 7)
    assert fake_links(spec, 40, 7) != fake_links(spec, 40, 8)


def test_generated_links_vary_like_real_data(spec: dict[str, Any]) -> None:
    links = fake_links(spec, 300, 1)
    assert {link["link_type"] for link in links} == {"public", "private", "secure"}
    assert {link["is_active"] for link in links} == {True, False}
    assert any(link["expiry_date"] is None for link in links)
    assert any(link["expiry_date"] is not None for link in links)
    assert len({link["workorder"] for link in links}) > 5
    assert len({link["access_token"] for link in links}) == 300
    assert all(link["updated_at"] >= link["created_at"] for link in links)
    assert [link["created_at"] for link in links] == sorted(link["created_at"] for link in links)


def test_added_links_get_fresh_growing_ids_and_read_back(spec: dict[str, Any]) -> None:
    store = LinkStore()
    links = fake_links(spec, 20, 3)
    ids = store.add(links)
    assert ids == sorted(ids)
    assert len(set(ids)) == 20
    for link_id, link in zip(ids, links, strict=True):
        assert store.get(link_id) == {"_id": link_id, **link}

"""The run's own population and the list requests built from it: do they make each rule bite?

The population is created through the mock's API (Connexion's test client), so
every body must be one the spec accepts; the queries are then sent to the mock
and judged by what they select from the population.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import BASE

from portal_mock.contract import population
from portal_mock.contract.cases import malformed_ids
from portal_mock.contract.rules import parse_instant
from portal_mock.contract.spec import ACTIVATE, DEACTIVATE

TAG = "0123456789abcdef"
TYPES = ("public", "private", "secure")


@pytest.fixture
def seeded(client: Any) -> list[dict[str, Any]]:
    links = []
    for body in population.population_bodies(TAG, TYPES):
        response = client.post(BASE, json=body)
        assert response.status_code == 201, response.text
        links.append(response.json()["data"])
    return links


def selected(client: Any, query: dict[str, Any], ids: set[str]) -> set[str]:
    response = client.get(BASE, params={"per_page": 100, **query})
    assert response.status_code == 200, (query, response.text)
    return {link["_id"] for link in response.json()["data"]} & ids


def test_the_population_covers_every_value_a_filter_can_split_on(
    seeded: list[dict[str, Any]],
) -> None:
    assert {link["link_type"] for link in seeded} == set(TYPES)
    assert {link["is_active"] for link in seeded} == {True, False}
    assert {link["workorder"] for link in seeded} == set(population.workorders(TAG))
    assert any(link["expiry_date"] is None for link in seeded)
    assert len({link["expiry_date"] for link in seeded if link["expiry_date"]}) > 3
    # Overlapping namespaces: some links are in two of them.
    assert any(len(link["company_namespace"]) == 2 for link in seeded)


def test_each_filter_query_selects_a_part_of_the_population_no_other_selects(
    client: Any, seeded: list[dict[str, Any]]
) -> None:
    ids = {link["_id"] for link in seeded}
    parts: dict[frozenset[str], dict[str, Any]] = {}
    for query in population.filter_queries(TAG, seeded):
        part = frozenset(selected(client, query, ids))
        # Neither nothing nor everything: a filter ignored or inverted changes the answer.
        assert part, query
        assert part != ids, query
        assert part not in parts, (query, parts.get(part))
        parts[part] = query


def test_the_page_queries_reach_the_first_the_last_and_past_the_end(
    client: Any, seeded: list[dict[str, Any]]
) -> None:
    counts = []
    for query in population.page_queries(TAG, len(seeded)):
        if "company_namespace" not in query:
            continue
        response = client.get(BASE, params=query)
        assert response.status_code == 200, response.text
        counts.append((query.get("per_page"), query.get("page", 1), len(response.json()["data"])))
    assert counts == [(1, 1, 1), (1, 12, 1), (1, 13, 0), (5, 3, 2), (5, 4, 0), (100, 1, 12)]


def test_every_sort_field_is_asked_for_in_both_directions() -> None:
    sorts = {query["sort"] for query in population.sort_queries(TAG)}
    for name in population.SORT_FIELDS:
        assert {name, f"-{name}"} <= sorts
    assert any("," in value for value in sorts)


def test_the_most_telling_queries_come_first(seeded: list[dict[str, Any]]) -> None:
    first = population.list_queries(TAG, seeded)[:3]
    assert "link_type" in first[0]
    assert "sort" in first[1]
    assert first[2]["per_page"] == 1


@pytest.mark.parametrize("operation", population.TARGETED)
def test_each_target_link_is_accepted_and_differs_from_the_defaults(
    client: Any, operation: str
) -> None:
    body = population.target_body(TAG, operation, TYPES)
    response = client.post(BASE, json=body)
    assert response.status_code == 201, response.text
    link = response.json()["data"]
    # Activate and deactivate must have something to change.
    assert link["is_active"] is (operation != ACTIVATE)
    if operation == DEACTIVATE:
        assert link["is_active"] is True
    assert link["permissions"]["can_pay"] is True


def test_the_create_cases_are_accepted_one_with_every_default_one_with_none(client: Any) -> None:
    minimal, full = population.create_bodies(TAG, TYPES)
    links = []
    for body in (minimal, full):
        response = client.post(BASE, json=body)
        assert response.status_code == 201, response.text
        links.append(response.json()["data"])
    assert set(minimal) == {"workorder", "company_namespace"}
    assert links[0]["link_type"] == "private"
    assert links[1]["custom_branding"] == full["custom_branding"]
    created = population.created_namespace(TAG)
    assert all(link["company_namespace"] == [created] for link in links)


def test_the_population_holds_an_expired_link(seeded: list[dict[str, Any]]) -> None:
    expiries = [link["expiry_date"] for link in seeded if link["expiry_date"]]
    assert any(parse_instant(value) < datetime.now(UTC) for value in expiries)
    assert any(parse_instant(value) > datetime.now(UTC) for value in expiries)


@pytest.mark.parametrize("body", population.immutable_update_bodies(TAG))
def test_each_immutable_update_is_refused_by_the_mock_and_changes_nothing(
    client: Any, body: dict[str, Any]
) -> None:
    created = client.post(BASE, json=population.target_body(TAG, "update", TYPES))
    link = created.json()["data"]
    response = client.put(f"{BASE}/{link['_id']}", json=body)
    assert response.status_code == 400, response.text
    assert client.get(f"{BASE}/{link['_id']}").json()["data"] == link


def test_malformed_ids_break_the_spec_pattern_and_are_refused(client: Any) -> None:
    link_id = "6740c3a1e4b0a1c2d3e4f5a6"
    wrong = malformed_ids(link_id)
    assert len(set(wrong)) == 3
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", value) for value in wrong)
    for value in wrong:
        assert client.get(f"{BASE}/{value}").status_code == 400, value

"""The list operation: filters, ordering and paging."""

from __future__ import annotations

import functools
import itertools
import math
from datetime import datetime
from typing import Any

import pytest
from conftest import BASE

SORTABLE = ("_id", "workorder", "link_type", "expiry_date", "is_active", "created_at", "updated_at")


@pytest.fixture
def links(store: Any, sample_links: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sample links, stored as they are (24 links, some without expiry_date)."""
    store.reset(sample_links)
    return sample_links


@pytest.fixture
def listing(client: Any, conforms: Any) -> Any:
    """GET the list with ``params``, check it is a documented 200 and return its body."""

    def get(params: Any = None) -> dict[str, Any]:
        response = client.get(BASE, params=params)
        assert response.status_code == 200, response.text
        conforms(response)
        body: dict[str, Any] = response.json()
        return body

    return get


def ids(body: dict[str, Any]) -> list[str]:
    return [link["_id"] for link in body["data"]]


def instant(value: str) -> datetime:
    """An RFC 3339 date-time as the instant it names, whatever its offset."""
    return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))


def sort_value(link: dict[str, Any], name: str) -> tuple[bool, Any]:
    """What ``name`` sorts by: nulls first, date-times as instants, the rest as they are."""
    value = link[name]
    if value is None:
        return (False, "")
    return (True, instant(value) if name == "expiry_date" else value)


def expected_order(links: list[dict[str, Any]], sort: str) -> list[str]:
    """An independent oracle: compare field by field, nulls first, ties by ``_id``."""
    keys = [(part.lstrip("-"), part.startswith("-")) for part in sort.split(",")]
    keys.append(("_id", keys[-1][1]))

    def compare(a: dict[str, Any], b: dict[str, Any]) -> int:
        for name, descending in keys:
            left, right = sort_value(a, name), sort_value(b, name)
            if left != right:
                return (-1 if left < right else 1) * (-1 if descending else 1)
        return 0

    return [link["_id"] for link in sorted(links, key=functools.cmp_to_key(compare))]


def assert_bad_request(response: Any, conforms: Any, field: str | None = None) -> None:
    assert response.status_code == 400, response.text
    conforms(response)
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    if field is not None:
        assert field in {detail["field"] for detail in error["details"]}


def test_list_defaults_to_first_page_of_25_newest_first(create: Any, listing: Any) -> None:
    created = [create()["_id"] for _ in range(27)]
    body = listing()
    assert body["success"] is True
    assert body["paging"] == {"page": 1, "per_page": 25, "total": 27, "total_pages": 2}
    assert ids(body) == created[::-1][:25]


def test_list_of_empty_store_has_no_pages(listing: Any) -> None:
    body = listing()
    assert body["data"] == []
    assert body["paging"] == {"page": 1, "per_page": 25, "total": 0, "total_pages": 0}


@pytest.mark.parametrize("comma", [False, True], ids=["repeated-keys", "comma-separated"])
@pytest.mark.parametrize("name", ["company_namespace", "_id"])
def test_list_array_filter_matches_any_of_its_values(
    links: list[dict[str, Any]], listing: Any, name: str, comma: bool
) -> None:
    if name == "_id":
        wanted = [links[3]["_id"], links[10]["_id"], links[17]["_id"]]
        expected = set(wanted)
    else:
        wanted = ["acme-plumbing", "northwind-hvac"]
        expected = {link["_id"] for link in links if set(wanted) & set(link[name])}
    params = [(name, ",".join(wanted))] if comma else [(name, value) for value in wanted]
    body = listing([*params, ("per_page", 100)])
    assert set(ids(body)) == expected
    assert body["paging"]["total"] == len(expected)


@pytest.mark.parametrize("name", ["company_namespace", "_id"])
def test_list_array_filter_mixes_repeated_keys_and_comma_separated_values(
    links: list[dict[str, Any]], listing: Any, name: str
) -> None:
    if name == "_id":
        wanted = [links[2]["_id"], links[9]["_id"], links[20]["_id"]]
        expected = set(wanted)
    else:
        wanted = ["acme-plumbing", "northwind-hvac", "bluepeak-electric"]
        expected = {link["_id"] for link in links if set(wanted) & set(link[name])}
    body = listing([(name, ",".join(wanted[:2])), (name, wanted[2]), ("per_page", 100)])
    assert len(expected) >= 3
    assert set(ids(body)) == expected
    assert body["paging"]["total"] == len(expected)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("is_active", "true"),
        ("link_type", "secure"),
        ("company_namespace", "acme-plumbing"),
        ("workorder", "6aa123109b84214459586968"),
    ],
)
def test_list_id_filter_combines_with_each_other_filter_by_and(
    links: list[dict[str, Any]], listing: Any, name: str, value: str
) -> None:
    wanted = [link["_id"] for link in links[::2]]
    params = [("_id", ",".join(wanted[:6])), *(("_id", i) for i in wanted[6:])]

    def matches(link: dict[str, Any]) -> bool:
        field = link[name]
        return value in field if isinstance(field, list) else str(field).lower() == value

    expected = {link["_id"] for link in links[::2] if matches(link)}
    assert 0 < len(expected) < len(wanted)
    assert set(ids(listing([*params, (name, value), ("per_page", 100)]))) == expected


@pytest.mark.parametrize(
    ("name", "value", "expected_value"),
    [
        ("workorder", "6aa123109b84214459586968", "6aa123109b84214459586968"),
        ("is_active", "true", True),
        ("is_active", "false", False),
        ("link_type", "public", "public"),
        ("link_type", "private", "private"),
        ("link_type", "secure", "secure"),
    ],
    ids=["workorder", "active", "inactive", "public", "private", "secure"],
)
def test_list_filters_by_a_single_field(
    links: list[dict[str, Any]], listing: Any, name: str, value: str, expected_value: Any
) -> None:
    expected = {link["_id"] for link in links if link[name] == expected_value}
    body = listing({name: value, "per_page": 100})
    assert expected
    assert set(ids(body)) == expected
    assert body["paging"]["total"] == len(expected)


def test_list_combines_filters_with_and(links: list[dict[str, Any]], listing: Any) -> None:
    expected = {
        link["_id"]
        for link in links
        if link["is_active"]
        and link["link_type"] == "secure"
        and "bluepeak-electric" in link["company_namespace"]
    }
    body = listing(
        {"is_active": "true", "link_type": "secure", "company_namespace": "bluepeak-electric"}
    )
    assert len(expected) == 2
    assert set(ids(body)) == expected


def test_list_filter_matching_nothing_returns_empty_page(links: Any, listing: Any) -> None:
    body = listing({"workorder": "6a9af4639b84214459586967", "company_namespace": "northwind-hvac"})
    assert body["data"] == []
    assert body["paging"]["total"] == 0
    assert body["paging"]["total_pages"] == 0


@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
@pytest.mark.parametrize("field", SORTABLE)
def test_list_sorts_by_each_allowed_field(
    links: list[dict[str, Any]], listing: Any, field: str, descending: bool
) -> None:
    sort = ("-" if descending else "") + field
    assert ids(listing({"sort": sort, "per_page": 100})) == expected_order(links, sort)


@pytest.mark.parametrize(
    "sort",
    ["-is_active,expiry_date", "link_type,-created_at", "workorder,is_active,-updated_at"],
)
def test_list_sorts_by_several_fields_in_turn(
    links: list[dict[str, Any]], listing: Any, sort: str
) -> None:
    assert ids(listing({"sort": sort, "per_page": 100})) == expected_order(links, sort)


@pytest.mark.parametrize(
    "sort", ["is_active", "link_type", "-link_type,is_active", "expiry_date", "-created_at"]
)
def test_list_order_and_its_reverse_mirror_exactly(links: Any, listing: Any, sort: str) -> None:
    reverse = ",".join(p[1:] if p.startswith("-") else "-" + p for p in sort.split(","))
    forward = ids(listing({"sort": sort, "per_page": 100}))
    assert ids(listing({"sort": reverse, "per_page": 100})) == forward[::-1]


@pytest.mark.parametrize(
    ("sort", "descending"),
    [("link_type", False), ("-is_active,link_type", False), ("-link_type", True)],
)
def test_list_breaks_ties_by_id_in_the_last_fields_direction(
    links: Any, listing: Any, sort: str, descending: bool
) -> None:
    data = listing({"sort": sort, "per_page": 100})["data"]
    fields = [part.lstrip("-") for part in sort.split(",")]
    ties = [(a, b) for a, b in itertools.pairwise(data) if all(a[f] == b[f] for f in fields)]
    assert ties
    for a, b in ties:
        assert (a["_id"] > b["_id"]) is descending, (a["_id"], b["_id"])


@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
def test_list_sorts_expiry_date_by_instant_across_offsets(
    create: Any, listing: Any, descending: bool
) -> None:
    # 23:00 at -05:00 is 04:00Z the next day: after 03:00Z, though its text sorts first.
    later = create(expiry_date="2026-06-30T23:00:00-05:00")["_id"]
    earlier = create(expiry_date="2026-07-01T03:00:00+00:00")["_id"]
    between = create(expiry_date="2026-07-01T05:30:00+01:30")["_id"]  # 04:00Z, later's twin
    order = ids(listing({"sort": "-expiry_date" if descending else "expiry_date"}))
    ascending = [earlier, later, between]  # the tie of later and between is broken by _id
    assert order == (ascending[::-1] if descending else ascending)


def test_list_puts_links_without_expiry_date_first(links: Any, listing: Any) -> None:
    data = listing({"sort": "expiry_date", "per_page": 100})["data"]
    without = sum(link["expiry_date"] is None for link in links)
    assert without > 0
    assert all(link["expiry_date"] is None for link in data[:without])
    assert all(link["expiry_date"] is not None for link in data[without:])


@pytest.mark.parametrize(
    "sort",
    ["name", "-url", "created_at,access_token", "created_at,", "--created_at"],
    ids=["unknown", "unsortable-field", "unknown-second-field", "trailing-comma", "double-minus"],
)
def test_list_rejects_unknown_sort_field_with_400(client: Any, conforms: Any, sort: str) -> None:
    assert_bad_request(client.get(BASE, params={"sort": sort}), conforms, "sort")


def test_list_page_past_the_end_returns_empty_data_with_paging(links: Any, listing: Any) -> None:
    body = listing({"page": 4, "per_page": 10})
    assert body["data"] == []
    assert body["paging"] == {"page": 4, "per_page": 10, "total": 24, "total_pages": 3}


@pytest.mark.parametrize("per_page", [1, 5, 7, 24, 25, 100])
def test_list_pages_cover_every_link_once(links: Any, listing: Any, per_page: int) -> None:
    everything = ids(listing({"per_page": 100}))
    pages = math.ceil(len(links) / per_page)
    seen: list[str] = []
    for page in range(1, pages + 1):
        body = listing({"page": page, "per_page": per_page})
        assert body["paging"] == {
            "page": page,
            "per_page": per_page,
            "total": len(links),
            "total_pages": pages,
        }
        assert len(body["data"]) == min(per_page, len(links) - (page - 1) * per_page)
        seen += ids(body)
    assert seen == everything


INVALID_PARAMETERS = {
    "per_page-0": ({"per_page": 0}, "per_page"),
    "per_page-101": ({"per_page": 101}, "per_page"),
    "page-0": ({"page": 0}, "page"),
    "page-negative": ({"page": -1}, "page"),
    "page-not-integer": ({"page": "two"}, "page"),
    "is_active-not-boolean": ({"is_active": "maybe"}, "is_active"),
    "link_type-not-in-enum": ({"link_type": "shared"}, "link_type"),
    "workorder-uppercase": ({"workorder": "507F1F77BCF86CD799439012"}, "workorder"),
    "workorder-23-chars": ({"workorder": "507f1f77bcf86cd79943901"}, "workorder"),
    "id-malformed": ({"_id": "not-an-id"}, "_id"),
    "id-one-of-two-malformed": ([("_id", "6a97dae39176b78af3b80cc6,xyz")], "_id"),
    "namespace-malformed": ({"company_namespace": "-leading-dash"}, "company_namespace"),
}


@pytest.mark.parametrize(
    ("params", "field"), INVALID_PARAMETERS.values(), ids=INVALID_PARAMETERS.keys()
)
def test_list_rejects_invalid_parameter_with_400(
    client: Any, conforms: Any, params: Any, field: str
) -> None:
    assert_bad_request(client.get(BASE, params=params), conforms, field)


def test_list_rejects_unknown_query_parameter_with_400(client: Any, conforms: Any) -> None:
    response = client.get(BASE, params={"name": "northwind"})
    assert_bad_request(response, conforms, "name")

"""The contract's rules as pure functions, over the bundled spec and hand-made links."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from portal_mock.app import load_spec
from portal_mock.contract import rules
from portal_mock.contract.spec import BY_ID, LIST, Spec
from portal_mock.paths import DEFAULT_SPEC


@pytest.fixture(scope="module")
def spec() -> Spec:
    return Spec(load_spec(DEFAULT_SPEC))


def link(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "_id": "6a97dae39176b78af3b80cc6",
        "workorder": "507f1f77bcf86cd799439012",
        "link_type": "private",
        "is_active": True,
        "company_namespace": ["northwind-hvac"],
        "expiry_date": None,
        "created_at": "2026-09-02T08:14:27.361Z",
    }
    return {**base, **fields}


def test_spec_names_every_operation_of_the_contract(spec: Spec) -> None:
    assert set(spec.operations) >= {LIST, *BY_ID, "createWorkorderPortalLink"}
    assert spec.path_for("getWorkorderPortalLink", "abc") == "/workorder-portal-links/abc"


def test_spec_reads_list_defaults_key_header_and_date_fields(spec: Spec) -> None:
    assert spec.list_defaults == {"page": 1, "per_page": 25}
    assert spec.api_key_header == "X-API-Key"
    assert spec.date_fields == {"expiry_date", "created_at", "updated_at"}
    assert spec.id_pattern == "^[0-9a-f]{24}$"


def test_spec_resolves_all_of_with_its_own_default(spec: Spec) -> None:
    permissions = spec.property_schema(spec.create_schema, "permissions")
    assert spec.default(permissions) == ({},)
    assert "can_pay" in permissions["properties"]
    assert spec.default(spec.property_schema(spec.create_schema, "link_type")) == ("private",)
    assert spec.default(spec.property_schema(spec.create_schema, "workorder")) is None


@pytest.mark.parametrize(
    ("query", "item"),
    [
        ({"link_type": ["private"]}, link()),
        ({"is_active": ["true"]}, link()),
        ({"workorder": ["507f1f77bcf86cd799439012"]}, link()),
        ({"company_namespace": ["other,northwind-hvac"]}, link()),
        ({"company_namespace": ["other", "northwind-hvac"]}, link()),
        ({"_id": ["6a97dae39176b78af3b80cc6"]}, link()),
        ({}, link()),
    ],
    ids=["link_type", "is_active", "workorder", "comma list", "repeated", "_id", "no filter"],
)
def test_a_link_that_matches_the_filters_is_no_violation(
    query: dict[str, list[str]], item: dict[str, Any]
) -> None:
    assert rules.filter_violations([item], query) == []


@pytest.mark.parametrize(
    ("query", "phrase"),
    [
        ({"link_type": ["public"]}, "link_type is 'private', asked 'public'"),
        ({"is_active": ["false"]}, "is_active is True, asked False"),
        ({"company_namespace": ["a", "b"]}, "has none of ['a', 'b']"),
        ({"_id": ["6a9945cf9176b78af3b80cc7"]}, "_id is not one of"),
    ],
    ids=["link_type", "is_active", "company_namespace", "_id"],
)
def test_a_link_that_misses_a_filter_is_named_with_the_filter(
    query: dict[str, list[str]], phrase: str
) -> None:
    [violation] = rules.filter_violations([link()], query)
    assert violation.startswith("link 6a97dae39176b78af3b80cc6: ")
    assert phrase in violation


def test_wire_query_keeps_repeated_values() -> None:
    url = "http://x/workorder-portal-links?_id=a&_id=b&page=2"
    assert rules.wire_query(url) == {"_id": ["a", "b"], "page": ["2"]}


def test_asked_paging_fills_in_the_spec_defaults() -> None:
    defaults = {"page": 1, "per_page": 25}
    assert rules.asked_paging({}, defaults) == (1, 25)
    assert rules.asked_paging({"page": ["3"], "per_page": ["5"]}, defaults) == (3, 5)
    assert rules.asked_paging({"page": ["x"]}, defaults) is None


@pytest.mark.parametrize(
    ("count", "paging", "page", "per_page"),
    [
        (25, {"page": 1, "per_page": 25, "total": 42, "total_pages": 2}, 1, 25),
        (17, {"page": 2, "per_page": 25, "total": 42, "total_pages": 2}, 2, 25),
        (0, {"page": 3, "per_page": 25, "total": 42, "total_pages": 2}, 3, 25),
        (0, {"page": 1, "per_page": 25, "total": 0, "total_pages": 0}, 1, 25),
    ],
    ids=["full page", "last page", "past the end", "nothing matches"],
)
def test_consistent_paging_has_no_violation(
    count: int, paging: dict[str, int], page: int, per_page: int
) -> None:
    assert rules.paging_violations(count, paging, page, per_page) == []


@pytest.mark.parametrize(
    ("count", "paging", "page", "phrase"),
    [
        (26, {"page": 1, "per_page": 25, "total": 42, "total_pages": 2}, 1, "more than per_page"),
        (25, {"page": 1, "per_page": 25, "total": 42, "total_pages": 3}, 1, "total_pages is 3"),
        (20, {"page": 1, "per_page": 25, "total": 42, "total_pages": 2}, 1, "it must hold 25"),
        (25, {"page": 2, "per_page": 25, "total": 42, "total_pages": 2}, 1, "page 2 of 25"),
        (5, {"page": 3, "per_page": 25, "total": 42, "total_pages": 2}, 3, "it must hold 0"),
    ],
    ids=["page too long", "total_pages", "short page", "wrong page echoed", "page past the end"],
)
def test_inconsistent_paging_is_reported(
    count: int, paging: dict[str, int], page: int, phrase: str
) -> None:
    found = rules.paging_violations(count, paging, page, 25)
    assert any(phrase in problem for problem in found), found


def test_a_total_of_the_wrong_type_is_left_to_the_schema_check() -> None:
    paging = {"page": 1, "per_page": 25, "total": "3", "total_pages": 1}
    assert rules.paging_violations(3, paging, 1, 25) == []


def test_sort_keys_default_to_newest_first_with_the_id_tie_break_last() -> None:
    assert rules.sort_keys({}) == [("created_at", True), ("_id", True)]
    assert rules.sort_keys({"sort": ["link_type,-expiry_date"]}) == [
        ("link_type", False),
        ("expiry_date", True),
        ("_id", True),
    ]


def test_links_in_the_asked_order_have_no_order_violation(spec: Spec) -> None:
    items = [
        link(_id="a1", expiry_date=None),
        link(_id="a2", expiry_date="2026-01-01T00:00:00Z"),
        link(_id="a3", expiry_date="2026-01-01T01:00:00+01:00"),  # the same instant: _id decides
        link(_id="a0", expiry_date="2027-01-01T00:00:00Z"),
    ]
    keys = rules.sort_keys({"sort": ["expiry_date"]})
    assert keys is not None
    assert rules.order_violation(items, keys, spec.date_fields) is None


def test_links_out_of_the_asked_order_name_the_first_bad_pair(spec: Spec) -> None:
    items = [link(_id="a1", link_type="secure"), link(_id="a2", link_type="private")]
    keys = rules.sort_keys({"sort": ["link_type"]})
    assert keys is not None
    problem = rules.order_violation(items, keys, spec.date_fields)
    assert problem is not None
    assert "not in ascending link_type order: 'secure' then 'private'" in problem


def test_a_tie_broken_against_the_last_direction_is_an_order_violation(spec: Spec) -> None:
    items = [link(_id="a1"), link(_id="a2")]  # same created_at; newest first wants a2 first
    assert rules.order_violation(items, rules.sort_keys({}) or [], spec.date_fields) is not None


def test_normalized_fills_nested_defaults_and_reads_date_times_as_instants(spec: Spec) -> None:
    sent = {"workorder": "507f1f77bcf86cd799439012", "expiry_date": "2026-01-01T01:00:00+01:00"}
    expected = rules.normalized(spec, spec.create_schema, sent)
    assert expected["link_type"] == "private"
    assert expected["permissions"]["can_view_details"] is True
    assert expected["expiry_date"] == "2026-01-01T00:00:00+00:00"


def test_parse_instant_takes_lower_case_and_leap_seconds_and_refuses_naive_times() -> None:
    assert rules.parse_instant("2016-12-31t23:59:60z") == rules.parse_instant(
        "2016-12-31T23:59:59Z"
    )
    assert rules.parse_instant("2016-12-31T23:59:59") is None
    assert rules.parse_instant("not a date") is None


@pytest.fixture
def stored(spec: Spec) -> dict[str, Any]:
    """A link as the server would return it for a create that sent only ``workorder``."""
    sent = {"workorder": "507f1f77bcf86cd799439012"}
    full = rules.normalized(spec, spec.create_schema, sent)
    return {**full, "_id": "6a97dae39176b78af3b80cc6", "url": "https://p/l/x", "access_token": "t"}


def test_a_created_link_with_the_defaults_has_no_differences(
    spec: Spec, stored: dict[str, Any]
) -> None:
    assert rules.created_differences(spec, {"workorder": stored["workorder"]}, stored) == []


def test_a_created_link_missing_a_default_is_reported(spec: Spec, stored: dict[str, Any]) -> None:
    wrong = {**stored, "link_type": "public"}
    [problem] = rules.created_differences(spec, {"workorder": stored["workorder"]}, wrong)
    assert problem == 'link_type is "public", expected "private"'


def test_an_update_may_change_only_what_it_sent(spec: Spec, stored: dict[str, Any]) -> None:
    after = {**copy.deepcopy(stored), "link_type": "secure"}
    assert rules.update_differences(spec, {"link_type": "secure"}, stored, after) == []
    wiped = {**after, "company_namespace": ["other"]}
    assert rules.update_differences(spec, {"link_type": "secure"}, stored, wiped) == [
        'company_namespace was not sent but changed from [] to ["other"]'
    ]


def test_brief_values_are_compact_json_cut_to_a_width() -> None:
    assert rules.brief({"a": [1, True, None]}) == '{"a":[1,true,null]}'
    assert rules.brief("x" * 100, width=10) == '"xxxxxx...'


def test_changed_fields_ignores_the_fields_allowed_to_change(
    spec: Spec, stored: dict[str, Any]
) -> None:
    after = {**stored, "access_token": "new", "is_active": False}
    assert rules.changed_fields(spec, stored, after, ("access_token",)) == [
        "is_active changed from true to false"
    ]

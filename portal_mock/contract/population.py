"""The links a run seeds, and the requests that use them: pure functions, no I/O.

A schema-driven fuzzer sends every list filter at once with values that match
nothing, so a filter the server ignores changes nothing a check can see. The
run therefore creates a small population of its own, tagged with a namespace
no other run uses, and asks for values that split it: one filter at a time,
pairs, several values of an array filter, every sort field both ways, and
pages at the edges. A few more links ("targets") are there to be updated,
regenerated, activated, deactivated and deleted, so the by-id operations are
exercised on links that exist, in the first phase of the run.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from portal_mock.contract.spec import (
    ACTIVATE,
    CREATE,
    DEACTIVATE,
    DELETE,
    GET,
    REGENERATE,
    UPDATE,
)

Link = Mapping[str, Any]
Query = dict[str, Any]

SIZE = 12
SORT_FIELDS = (
    "_id",
    "workorder",
    "link_type",
    "expiry_date",
    "is_active",
    "created_at",
    "updated_at",
)
COMBINED_SORTS = ("-is_active,expiry_date", "link_type,-created_at", "workorder,link_type,-_id")
# Expiry dates in different offsets, so the order of instants differs from the order of
# strings; one has passed, and an expired link is still a link that filters must find.
_EXPIRIES = (
    "2031-03-01T10:00:00Z",
    "2031-03-01T06:30:00-05:00",
    "2031-02-28T23:00:00-12:00",
    "2031-03-02T01:00:00+14:00",
    None,
    "2021-01-15T08:00:00+02:00",
)
# The by-id operations that get a target link of their own, and the update sent.
TARGETED = (GET, UPDATE, REGENERATE, ACTIVATE, DEACTIVATE, DELETE)
UPDATE_BODY: dict[str, Any] = {
    "metadata": {"contract": "updated"},
    "expiry_date": "2032-05-05T05:05:05Z",
}


def namespaces(tag: str) -> tuple[str, str, str]:
    """The three overlapping namespaces the population uses."""
    return (f"{tag}-a", f"{tag}-b", f"{tag}-c")


def workorders(tag: str) -> tuple[str, str, str]:
    """Three work order ids (ObjectIds) of this run alone; ``tag`` is 16 hex digits."""
    return tuple(f"{tag}{n:08x}" for n in range(3))  # type: ignore[return-value]


def population_bodies(tag: str, link_types: Sequence[str]) -> list[dict[str, Any]]:
    """The create bodies of the population: every combination a filter can split."""
    spaces, orders = namespaces(tag), workorders(tag)
    bodies = []
    for n in range(SIZE):
        # Each field follows its own cycle, so no two filters select the same links.
        # (Checked by the suite: every filter query selects a different part of them.)
        first = (n + n // 4) % 3
        owned = [spaces[first]] + ([spaces[(first + 1) % 3]] if n % 4 == 1 else [])
        body: dict[str, Any] = {
            "workorder": orders[(n // 4) % 3],
            "link_type": link_types[n % len(link_types)],
            "is_active": n % 2 == 0,
            "company_namespace": owned,
            "metadata": {"contract-run": tag, "n": n},
        }
        expiry = _EXPIRIES[n % len(_EXPIRIES)]
        if expiry is not None:
            body["expiry_date"] = expiry
        bodies.append(body)
    return bodies


def target_body(tag: str, operation: str, link_types: Sequence[str]) -> dict[str, Any]:
    """A link for ``operation`` to act on, every optional field away from its default."""
    return {
        "workorder": workorders(tag)[0],
        "link_type": link_types[-1],
        "is_active": operation != ACTIVATE,  # activate and deactivate must change something
        "company_namespace": [f"{tag}-targets", f"{tag}-{operation.lower()}"],
        "expiry_date": "2031-06-30T12:00:00+02:00",
        "permissions": {"can_view_details": True, "can_comment": True, "can_pay": True},
        "access_restrictions": {"allowed_emails": ["qa@example.org"], "max_uses": 3},
        "notification_settings": {"notify_on_view": True, "recipients": ["qa@example.org"]},
        "custom_branding": {"company_name": "Contract QA", "primary_color": "#123456"},
        "metadata": {"contract-run": tag, "target": operation},
    }


def created_namespace(tag: str) -> str:
    """The namespace of the links the run's create cases make (removed at the end)."""
    return f"{tag}-created"


def create_bodies(tag: str, link_types: Sequence[str]) -> list[dict[str, Any]]:
    """A create that relies on every default, and one that sets every optional field."""
    minimal = {"workorder": workorders(tag)[2], "company_namespace": [created_namespace(tag)]}
    full = target_body(tag, CREATE, link_types or ["private"])
    full["company_namespace"] = [created_namespace(tag)]
    return [minimal, full]


def immutable_update_bodies(tag: str) -> list[dict[str, Any]]:
    """Updates that send a field no update may change: alone, or beside a valid change."""
    return [
        {"workorder": workorders(tag)[1]},
        {"created_at": "2001-02-03T04:05:06.000Z", "metadata": {"contract": "backdated"}},
        {"access_token": "contract-chosen-token", "is_active": False},
    ]


def _values(links: Sequence[Link], name: str) -> list[Any]:
    return list(dict.fromkeys(link[name] for link in links if name in link))


def filter_queries(tag: str, links: Sequence[Link]) -> list[Query]:
    """Filters alone, in pairs, and array filters with several values."""
    spaces, orders = namespaces(tag), workorders(tag)
    ids = [str(link["_id"]) for link in links]
    types = _values(links, "link_type")
    singles: list[Query] = [
        *({"link_type": value} for value in types),
        {"is_active": "true"},
        {"is_active": "false"},
        *({"workorder": value} for value in orders),
        *({"company_namespace": [value]} for value in spaces),
        {"_id": ids[:1]},
    ]
    pairs: list[Query] = [
        *({"link_type": value, "is_active": "false"} for value in types),
        {"workorder": orders[1], "link_type": types[1]},
        {"workorder": orders[2], "is_active": "true"},
        {"company_namespace": [spaces[1]], "is_active": "false"},
        {"company_namespace": [spaces[0]], "link_type": types[-1]},
        {"_id": ids[:6], "link_type": types[0]},
        {"_id": ids[3:9], "is_active": "false"},
    ]
    arrays: list[Query] = [
        {"company_namespace": [spaces[0], spaces[2]]},
        {"_id": ids[::5]},
        {"company_namespace": f"{spaces[1]},{spaces[2]}"},
        {"_id": ",".join(ids[1:4])},
        {"company_namespace": [f"{spaces[0]},{spaces[1]}", spaces[0]]},
        {"_id": [",".join(ids[4:6]), ids[7]]},
    ]
    mixed = itertools.chain.from_iterable(itertools.zip_longest(singles, pairs, arrays))
    return [query for query in mixed if query is not None]


def sort_queries(tag: str) -> list[Query]:
    """Every sort field in both directions, and combined, over the population.

    The first few are the most telling: several fields, ties in a descending
    order, and the date whose offsets make text order differ from time order.
    """
    scope = {"company_namespace": list(namespaces(tag)), "per_page": 100}
    sorts = [f"{sign}{name}" for name, sign in itertools.product(SORT_FIELDS, ("", "-"))]
    first = [COMBINED_SORTS[0], "-link_type", "expiry_date", COMBINED_SORTS[1]]
    rest = [value for value in [*sorts, *COMBINED_SORTS] if value not in first]
    return [{**scope, "sort": value} for value in [*first, *rest]]


def page_queries(tag: str, size: int) -> list[Query]:
    """Pages at the edges: first, last, past the end, one link a page and a hundred."""
    scope = {"company_namespace": list(namespaces(tag))}
    last_of_five = max(1, -(-size // 5))
    return [
        {**scope, "per_page": 1, "page": 1},
        {**scope, "per_page": 1, "page": max(size, 1)},
        {**scope, "per_page": 1, "page": size + 1},
        {**scope, "per_page": 5, "page": last_of_five},
        {**scope, "per_page": 5, "page": last_of_five + 1},
        {**scope, "per_page": 100},
        {"per_page": 100},
        {"per_page": 1, "page": 1},
        {"page": 1000},
        {"sort": "created_at", "per_page": 2, "page": 2},
    ]


def list_queries(tag: str, links: Sequence[Link]) -> list[Query]:
    """Every list request the run makes from its population, the most telling first.

    Schemathesis gives each operation a share of a phase's time; taking the
    groups in turn puts one of each kind (filter, sort, page) among the first
    requests, so a short share still tries every rule.
    """
    if not links:
        return []
    groups = [
        filter_queries(tag, links),
        sort_queries(tag),
        page_queries(tag, len(links)),
    ]
    mixed = itertools.chain.from_iterable(itertools.zip_longest(*groups))
    return [query for query in mixed if query is not None]

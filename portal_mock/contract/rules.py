"""The contract's promises as pure functions: given what was asked and answered, what is wrong.

Each function returns human-readable findings (empty when the rule holds). They
are written from ``CONTRACT.md`` and the spec alone, sharing no code with the
mock, so a bug in the mock cannot hide behind the same bug here.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from portal_mock.contract.spec import Schema, Spec

Link = Mapping[str, Any]
Query = Mapping[str, list[str]]

DEFAULT_SORT = "-created_at"  # CONTRACT.md: "Default order: newest first."
ARRAY_FILTERS = ("company_namespace", "_id")
SCALAR_FILTERS = ("workorder", "is_active", "link_type")
_LEAP_SECOND = re.compile(r"(T\d\d:\d\d):60", re.IGNORECASE)


def parse_instant(text: str) -> datetime | None:
    """An RFC 3339 date-time as a UTC instant; None when it is not one.

    A leap second (``:60``) counts as ``:59``: Python's datetime cannot hold it.
    """
    try:
        parsed = datetime.fromisoformat(_LEAP_SECOND.sub(r"\1:59", text).upper())
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None


def brief(value: Any, width: int = 60) -> str:
    """``value`` as compact JSON, cut to ``width`` characters, for a one-line message."""
    text = json.dumps(value, separators=(",", ":"), default=str)
    return text if len(text) <= width else text[: width - 3] + "..."


def normalized(spec: Spec, schema: Schema, value: Any) -> Any:
    """``value`` with the spec's defaults filled in and every date-time as a UTC instant.

    Two representations of a link that a client must read the same way
    normalize to equal values: a property left out means its default.
    """
    view = spec.resolve(schema)
    if isinstance(value, Mapping) and "properties" in view:
        result = {name: item for name, item in value.items() if name not in view["properties"]}
        for name, sub in view["properties"].items():
            if name in value:
                result[name] = normalized(spec, sub, value[name])
            elif (default := spec.default(sub)) is not None:
                result[name] = normalized(spec, sub, default[0])
        return result
    if isinstance(value, list) and "items" in view:
        return [normalized(spec, view["items"], item) for item in value]
    if isinstance(value, str) and view.get("format") == "date-time":
        instant = parse_instant(value)
        return instant.isoformat() if instant is not None else value
    return value


def differing_fields(
    spec: Spec, schema: Schema, expected: Link, actual: Link, fields: Sequence[str]
) -> list[str]:
    """The ``fields`` whose normalized values differ between ``expected`` and ``actual``."""
    differing = []
    for name in fields:
        sub = spec.property_schema(schema, name)
        missing = object()
        want, got = expected.get(name, missing), actual.get(name, missing)
        if want is missing and got is missing:
            continue
        if (
            want is missing
            or got is missing
            or normalized(spec, sub, want) != normalized(spec, sub, got)
        ):
            differing.append(name)
    return differing


def wire_query(url: str) -> dict[str, list[str]]:
    """The query string of the request as sent, each name with all its values."""
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


@dataclass(frozen=True)
class Filters:
    """The list filters a request asked for; AND across fields, any-of within a list."""

    workorder: str | None = None
    is_active: bool | None = None
    link_type: str | None = None
    ids: tuple[str, ...] = ()
    company_namespace: tuple[str, ...] = ()

    @classmethod
    def from_query(cls, query: Query) -> Filters:
        def one(name: str) -> str | None:
            values = query.get(name, [])
            return values[0] if len(values) == 1 else None

        def many(name: str) -> tuple[str, ...]:
            # Repeated or comma-separated values mean the same (the spec says so).
            return tuple(part for value in query.get(name, []) for part in value.split(","))

        active = (one("is_active") or "").lower()
        return cls(
            workorder=one("workorder"),
            is_active={"true": True, "false": False}.get(active),
            link_type=one("link_type"),
            ids=many("_id"),
            company_namespace=many("company_namespace"),
        )

    def mismatches(self, link: Link) -> list[str]:
        """How ``link`` fails these filters, one phrase per filter."""
        found = []
        for name in ("workorder", "is_active", "link_type"):
            wanted = getattr(self, name)
            if wanted is not None and link.get(name) != wanted:
                found.append(f"{name} is {link.get(name)!r}, asked {wanted!r}")
        if self.ids and link.get("_id") not in self.ids:
            found.append(f"_id is not one of {list(self.ids)}")
        namespaces = link.get("company_namespace") or []
        if self.company_namespace and not set(self.company_namespace) & set(namespaces):
            found.append(
                f"company_namespace {namespaces} has none of {list(self.company_namespace)}"
            )
        return found


def filter_violations(items: Sequence[Link], query: Query) -> list[str]:
    """Every listed link that does not match the request's filters."""
    filters = Filters.from_query(query)
    return [
        f"link {item.get('_id')}: {'; '.join(problems)}"
        for item in items
        if (problems := filters.mismatches(item))
    ]


def asked_paging(query: Query, defaults: Mapping[str, Any]) -> tuple[int, int] | None:
    """The (page, per_page) a request asked for, defaults filled in; None if unreadable."""
    asked = []
    for name in ("page", "per_page"):
        values = query.get(name, [])
        if not values:
            asked.append(int(defaults[name]))
        elif len(values) == 1 and values[0].isdigit():
            asked.append(int(values[0]))
        else:
            return None
    return asked[0], asked[1]


def paging_violations(count: int, paging: Mapping[str, Any], page: int, per_page: int) -> list[str]:
    """What is wrong with ``paging`` for ``count`` links asked for as ``page`` of ``per_page``."""
    found = []
    if paging.get("page") != page or paging.get("per_page") != per_page:
        found.append(
            f"paging says page {paging.get('page')} of {paging.get('per_page')}, "
            f"the request asked page {page} of {per_page}"
        )
    if count > per_page:
        found.append(f"the page holds {count} links, more than per_page={per_page}")
    total = paging.get("total")
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        return found  # a total of the wrong type is the response schema's to report
    if paging.get("total_pages") != math.ceil(total / per_page):
        found.append(
            f"total_pages is {paging.get('total_pages')}, "
            f"but {total} links at {per_page} a page make {math.ceil(total / per_page)}"
        )
    expected = max(0, min(per_page, total - (page - 1) * per_page))
    if count != expected and count <= per_page:
        found.append(f"page {page} holds {count} links; with total {total} it must hold {expected}")
    return found


def sort_keys(query: Query) -> list[tuple[str, bool]] | None:
    """The ``(field, descending)`` pairs asked for, the ``_id`` tie-break last; None if unread."""
    values = query.get("sort", [DEFAULT_SORT])
    if len(values) != 1 or not values[0]:
        return None
    keys = [(part.lstrip("-"), part.startswith("-")) for part in values[0].split(",")]
    # Ties are broken by _id in the direction of the last field given.
    return [*keys, ("_id", keys[-1][1])]


def _sort_value(link: Link, name: str, date_fields: frozenset[str]) -> tuple[int, Any]:
    value = link.get(name)
    if value is None:
        return (0, 0)  # "A link without expiry_date sorts before any link that has one."
    if name in date_fields and isinstance(value, str):
        return (1, parse_instant(value) or value)
    return (1, value)


def order_violation(
    items: Sequence[Link], keys: Sequence[tuple[str, bool]], date_fields: frozenset[str]
) -> str | None:
    """The first neighbouring pair of ``items`` out of the order ``keys`` asks for, if any."""
    for position, (first, second) in enumerate(itertools.pairwise(items), start=1):
        for name, descending in keys:
            a, b = _sort_value(first, name, date_fields), _sort_value(second, name, date_fields)
            try:
                if a == b:
                    continue
                wrong = a < b if descending else a > b
            except TypeError:
                return None  # values of different types: nothing to compare
            if wrong:
                arrow = "descending" if descending else "ascending"
                pair = (
                    f"links {position} and {position + 1} ({first.get('_id')}, {second.get('_id')})"
                )
                order = f"{first.get(name)!r} then {second.get(name)!r}"
                return f"{pair} are not in {arrow} {name} order: {order}"
            break
        else:
            return f"link {first.get('_id')} is listed twice in a row"
    return None


def created_differences(spec: Spec, sent: Link, link: Link) -> list[str]:
    """Fields of a created ``link`` that differ from what was ``sent`` plus the spec's defaults."""
    fields = spec.fields(spec.create_schema)
    expected = normalized(spec, spec.create_schema, dict(sent))
    return [
        f"{name} is {brief(link.get(name))}, expected {brief(expected.get(name))}"
        for name in differing_fields(spec, spec.link_schema, expected, link, fields)
    ]


def update_differences(spec: Spec, sent: Link, before: Link, after: Link) -> list[str]:
    """How an update's result breaks "given fields replace, absent fields keep their value"."""
    fields = spec.fields(spec.update_schema)
    given = [name for name in fields if name in sent]
    absent = [name for name in fields if name not in sent]
    return [
        *(
            f"{name} was sent as {brief(sent.get(name))} but is {brief(after.get(name))}"
            for name in differing_fields(spec, spec.link_schema, sent, after, given)
        ),
        *(
            f"{name} was not sent but changed from {brief(before.get(name))} "
            f"to {brief(after.get(name))}"
            for name in differing_fields(spec, spec.link_schema, before, after, absent)
        ),
    ]


def changed_fields(spec: Spec, before: Link, after: Link, allowed: Sequence[str]) -> list[str]:
    """Fields other than ``allowed`` whose value differs between ``before`` and ``after``."""
    fields = [name for name in spec.fields(spec.link_schema) if name not in allowed]
    return [
        f"{name} changed from {brief(before.get(name))} to {brief(after.get(name))}"
        for name in differing_fields(spec, spec.link_schema, before, after, fields)
    ]


# The error envelope's code for each status the API documents (the contract's table).
ERROR_CODES = {
    400: ("validation_error", "malformed_body"),
    401: ("unauthorized",),
    403: ("forbidden",),
    404: ("not_found",),
    405: ("method_not_allowed",),
    413: ("payload_too_large",),
    415: ("unsupported_media_type",),
    429: ("too_many_sessions",),
    500: ("internal_error",),
    503: ("storage_unavailable",),
}


def error_envelope_problems(status: int, content_type: str, body: Any) -> list[str]:
    """What is wrong with an error answer: its media type, its envelope, its code for ``status``."""
    if content_type.split(";")[0].strip().lower() != "application/json":
        return [f"a {status} comes as {content_type or 'no content type'!r}, not application/json"]
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or body.get("success") is not False:
        return [f"a {status} is not in the error envelope"]
    codes = ERROR_CODES.get(status)
    if codes is not None and error.get("code") not in codes:
        return [f"a {status} has the code {error.get('code')!r}, not {' or '.join(codes)}"]
    return []

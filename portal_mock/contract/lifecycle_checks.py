"""Checks for rules of a link's life that no schema states: fields an update may
not touch, ids that are not ids, timestamps that follow every write.

Like ``checks``, each judges one response and raises ``AssertionError`` naming
the rule; unlike most of them, the first two also judge negative cases, since
what they look for is how a wrong request is answered.
"""

from __future__ import annotations

import re
from typing import Any

from schemathesis import CheckContext, Response

from portal_mock.contract import rules
from portal_mock.contract.checks import AnyCase, Call, Check, fail, judged, operation_id
from portal_mock.contract.memory import RUN
from portal_mock.contract.spec import (
    ACTIVATE,
    BY_ID,
    CREATE,
    DEACTIVATE,
    REGENERATE,
    UPDATE,
)

# An id a client could send as one path segment: no dots, slashes or escapes, which
# could route the request elsewhere (``..``), so that only the id is wrong.
_PLAIN_SEGMENT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def immutable_fields_are_refused(
    ctx: CheckContext, response: Response, case: AnyCase
) -> bool | None:
    """An update that sends ``workorder`` or a server-assigned field is refused, not obeyed
    or silently ignored."""
    call = judged(case, response, {UPDATE}, negative_too=True)
    sent = call.sent() if call is not None else None
    if call is None or not isinstance(sent, dict) or not 200 <= call.status < 300:
        return None
    updatable = set(call.spec.fields(call.spec.update_schema))
    fixed = [name for name in call.spec.fields(call.spec.link_schema) if name not in updatable]
    refused = [name for name in fixed if name in sent]
    data = call.data()
    after = data if isinstance(data, dict) else {}
    fail(
        "an update that sends workorder or a server-assigned field is answered 400",
        [
            f"{name} was sent as {rules.brief(sent[name])} and the update answered "
            f"{call.status}; {name} is now {rules.brief(after.get(name))}"
            for name in refused
        ],
    )
    return None


def malformed_id_is_bad_request(
    ctx: CheckContext, response: Response, case: AnyCase
) -> bool | None:
    """An id that breaks the spec's pattern is a bad request (400), not an unknown link."""
    found = operation_id(case)
    link_id = (case.path_parameters or {}).get("id")
    if found not in BY_ID or not isinstance(link_id, str) or not _PLAIN_SEGMENT.match(link_id):
        return None
    pattern = RUN.spec_for(case.operation.schema.raw_schema).id_pattern
    status = response.status_code
    if pattern is None or re.search(pattern, link_id) or not (status == 404 or status < 300):
        return None
    method, path = case.method.upper(), case.formatted_path
    fail(
        "an id that is not a well-formed id is answered 400",
        [f"{method} {path} answers {status}: {link_id!r} does not match {pattern}"],
    )
    return None


def timestamps_follow_writes(ctx: CheckContext, response: Response, case: AnyCase) -> bool | None:
    """A new link's ``updated_at`` is its ``created_at``; afterwards ``updated_at`` moves
    forward on every write that changes the link, and only then."""
    call = judged(case, response, {CREATE, UPDATE, REGENERATE, ACTIVATE, DEACTIVATE})
    after = call.data() if call is not None and 200 <= call.status < 300 else None
    if call is None or not isinstance(after, dict):
        return None
    if call.operation_id == CREATE:
        created, updated = after.get("created_at"), after.get("updated_at")
        problems = [] if created == updated else [f"created_at {created!r}, updated_at {updated!r}"]
        fail("a new link's updated_at is its created_at", problems)
        return None
    before = call.before.link if call.before is not None else None
    if before is not None:
        fail(
            "updated_at moves forward on every change, and only on a change",
            _moved(call, before, after),
        )
    return None


def _moved(call: Call, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    changed = rules.changed_fields(call.spec, before, after, ("updated_at",))
    was, now = before.get("updated_at"), after.get("updated_at")
    earlier = rules.parse_instant(was) if isinstance(was, str) else None
    later = rules.parse_instant(now) if isinstance(now, str) else None
    if earlier is None or later is None:
        return []  # not date-times: the response schema's to report
    where = f"on {call.case.method.upper()} {call.case.formatted_path}"
    if changed and not later > earlier:
        return [f"{changed[0]} {where}, but updated_at stayed {now!r} (was {was!r})"]
    if not changed and later != earlier:
        return [f"nothing changed {where}, but updated_at moved from {was!r} to {now!r}"]
    return []


# The checks of this module, registered after those of ``checks``.
CHECKS: tuple[Check, ...] = (
    immutable_fields_are_refused,
    malformed_id_is_bad_request,
    timestamps_follow_writes,
)

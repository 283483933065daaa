"""Schemathesis checks for the behaviour CONTRACT.md promises and no schema can express.

Each check looks at one response of one positive test case (a negative one that
got a 2xx is ``negative_data_rejection``'s to report), reads what it needs from
the call context taken just before the request (see ``memory``), makes at most a
few extra requests, and raises ``AssertionError`` naming the rule it saw broken.
``hooks`` registers them; importing this module registers nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemathesis import APIOperation, Case, CheckContext, GenerationMode, Response

from portal_mock.contract import rules
from portal_mock.contract.memory import CREDENTIALS, IMMUTABLE, RUN, CallContext
from portal_mock.contract.probe import Probe, Snapshot, by_id_target
from portal_mock.contract.seeding import SEEDER
from portal_mock.contract.spec import (
    ACTIVATE,
    BY_ID,
    CREATE,
    DEACTIVATE,
    DELETE,
    GET,
    LIST,
    REGENERATE,
    UPDATE,
    WRITES,
    Spec,
)

Operation = APIOperation[Any, Any, Any, Any]

AnyCase = Case[Any]
Check = Callable[[CheckContext, Response, AnyCase], bool | None]
Link = dict[str, Any]
# What deleted_link_is_gone asks of a deleted link, in this order: a read first, so a
# link that was not deleted is never written to by the check.
_AFTER_DELETE: tuple[tuple[str, Any], ...] = (
    (GET, None),
    (UPDATE, {}),
    (REGENERATE, None),
    (ACTIVATE, None),
    (DEACTIVATE, None),
    (DELETE, None),
)


def operation_id(case: AnyCase) -> str | None:
    found = case.operation.definition.raw.get("operationId")
    return str(found) if found is not None else None


def is_positive(case: AnyCase) -> bool:
    meta = case.meta
    return meta is None or meta.generation.mode is GenerationMode.POSITIVE


def probe_for(operation: Operation, transport: Mapping[str, Any] | None = None) -> Probe:
    """A probe that reaches the target of ``operation`` the way the run does.

    ``transport`` holds the TLS settings of a call (``verify``, ``cert``); without
    it they are read from the run's configuration.
    """
    schema = operation.schema
    config = schema.config
    if transport is None:
        transport = {
            "verify": config.tls_verify_for(operation=operation),
            "cert": config.request_cert_for(operation=operation),
        }
    client = RUN.client(
        transport,
        config.request_timeout_for(operation=operation),
        config.proxy_for(operation=operation),
    )
    return Probe(
        client=client,
        base_url=schema.get_base_url(),
        headers=dict(config.headers_for(operation=operation) or {}),
        spec=RUN.spec_for(schema.raw_schema),
        on_write=RUN.wrote,
    )


def call_context(case: AnyCase, transport: Mapping[str, Any]) -> CallContext:
    """How to reach the target for ``case``, and the link it is about as the list shows it now.

    Called just before the request goes out (Schemathesis's ``before_call`` hook,
    which passes the TLS settings in ``transport``), so the snapshot is the state
    the request acts on. Headers (the API key) come from the run's configuration.
    """
    probe = probe_for(case.operation, transport)
    link_id = by_id_target(operation_id(case), case.path_parameters or {})
    before = probe.snapshot(link_id) if link_id is not None and is_positive(case) else None
    return CallContext(probe=probe, before=before)


@dataclass(frozen=True)
class Call:
    """One response a check judges, with what was known just before its request."""

    operation_id: str
    case: AnyCase
    response: Response
    context: CallContext

    @property
    def probe(self) -> Probe:
        return self.context.probe

    @property
    def spec(self) -> Spec:
        return self.context.probe.spec

    @property
    def status(self) -> int:
        return self.response.status_code

    @property
    def link_id(self) -> str | None:
        return by_id_target(self.operation_id, self.case.path_parameters or {})

    @property
    def before(self) -> Snapshot | None:
        return self.context.before

    def body(self) -> Any:
        try:
            return self.response.json()
        except ValueError:
            return None

    def data(self) -> Any:
        body = self.body()
        return body.get("data") if isinstance(body, dict) else None

    def sent(self) -> Any:
        """The JSON body as it went over the wire, or None."""
        raw = self.response.request.body
        if not isinstance(raw, (str, bytes)):
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return None

    def query(self) -> dict[str, list[str]]:
        return rules.wire_query(str(self.response.request.url))


def judged(
    case: AnyCase, response: Response, operations: Collection[str], *, negative_too: bool = False
) -> Call | None:
    """The call to judge, if it is a positive case (or any, with ``negative_too``) of one of
    ``operations`` made in a run."""
    found = operation_id(case)
    if found is None or found not in operations or not (negative_too or is_positive(case)):
        return None
    context = RUN.recall(case.id)
    if context is None:
        return None  # not called through the contract hook: nothing to compare with
    return Call(found, case, response, context)


def fail(rule: str, problems: Sequence[str]) -> None:
    """Raise the failure for ``rule``, with the first problem and how many more there are."""
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise AssertionError(f"{rule}: {problems[0]}{more}")


def reads_back(call: Call, link: Link) -> list[str]:
    """Problems with reading ``link`` back by its id right after the call answered it."""
    link_id = str(link.get("_id"))
    read = call.probe.call(GET, link_id)
    stored = read.data()
    if read.status != 200 or not isinstance(stored, dict):
        return [f"GET {call.spec.path_for(GET, link_id)} right after answers {read.status}"]
    # A read that moves updated_at is server_fields_never_drift's to report.
    changed = rules.changed_fields(call.spec, link, stored, allowed=("updated_at",))
    return [f"reading it back: {problem}" for problem in changed]


def list_items_match_filters(ctx: CheckContext, response: Response, case: AnyCase) -> bool | None:
    call = judged(case, response, {LIST})
    if call is None or call.status != 200 or not isinstance(items := call.data(), list):
        return None
    links = [item for item in items if isinstance(item, dict)]
    fail(
        "every listed link must match the request's filters",
        rules.filter_violations(links, call.query()),
    )
    return None


def list_shows_every_matching_link(
    ctx: CheckContext, response: Response, case: AnyCase
) -> bool | None:
    """Every link of the run's own population that matches the filters is counted and shown.

    Judged on the data-aware cases only (the harness builds them without
    Schemathesis's metadata), against the population as the list shows it now.
    """
    call = judged(case, response, {LIST})
    body = call.body() if call is not None and call.status == 200 else None
    if call is None or case.meta is not None or not isinstance(body, dict):
        return None
    items, paging = body.get("data"), body.get("paging")
    population = _population_now(call)
    if not isinstance(items, list) or not isinstance(paging, dict) or population is None:
        return None
    query = call.query()
    expected = [link for link in population if not rules.Filters.from_query(query).mismatches(link)]
    asked = rules.asked_paging(query, call.spec.list_defaults)
    total = paging.get("total")
    problems: list[str] = []
    if isinstance(total, int) and total < len(expected):
        problems.append(f"total is {total}, but {len(expected)} of the run's own links match")
    elif asked is not None and asked[0] == 1 and isinstance(total, int) and total <= asked[1]:
        listed = {item.get("_id") for item in items if isinstance(item, dict)}
        problems.extend(
            f"link {link['_id']} matches but is not listed"
            for link in expected
            if link["_id"] not in listed
        )
    fail("the list must show every link that matches its filters", problems)
    return None


def _population_now(call: Call) -> list[Link] | None:
    """The run's population as the list shows it now, or None if the list cannot vouch for it.

    Asked twice, by ``_id`` and by namespace, and merged: a server that ignores
    part of one of those filters still shows the links through the other.
    """
    ids = [str(link["_id"]) for link in SEEDER.links()]
    if not ids:
        return None
    # Read again only after a request that may have changed the target.
    found: list[Link] | None = RUN.cached("population", lambda: _population_read(call, ids))
    return found


def _population_read(call: Call, ids: list[str]) -> list[Link] | None:
    by_id = _listed(call, {"_id": ",".join(ids)}, ids, strict=True)
    by_namespace = _listed(call, {"company_namespace": SEEDER.namespaces()}, ids, strict=False)
    if by_id is None and by_namespace is None:
        return None
    merged = {link["_id"]: link for link in [*(by_namespace or []), *(by_id or [])]}
    return list(merged.values())


def _listed(
    call: Call, query: dict[str, Any], ids: list[str], *, strict: bool
) -> list[Link] | None:
    """The links of ``ids`` a list request shows; with ``strict``, None if it shows any other."""
    reply = call.probe.call(LIST, query={**query, "per_page": 100})
    items = reply.data()
    if reply.status != 200 or not isinstance(items, list):
        return None
    links = [item for item in items if isinstance(item, dict)]
    if strict and (len(links) != len(items) or any(link.get("_id") not in ids for link in links)):
        return None  # the _id filter is not honoured: nothing here to compare with
    return [link for link in links if link.get("_id") in ids]


def list_paging_is_consistent(ctx: CheckContext, response: Response, case: AnyCase) -> bool | None:
    call = judged(case, response, {LIST})
    body = call.body() if call is not None and call.status == 200 else None
    if call is None or not isinstance(body, dict):
        return None
    items, paging = body.get("data"), body.get("paging")
    asked = rules.asked_paging(call.query(), call.spec.list_defaults)
    if not isinstance(items, list) or not isinstance(paging, dict) or asked is None:
        return None
    rule = "paging must describe the page and the whole result"
    fail(rule, rules.paging_violations(len(items), paging, *asked))
    fail(rule, _recount(call, paging.get("total")))
    return None


def _recount(call: Call, total: Any) -> list[str]:
    """Check ``total`` against the list itself, with the same filters a link at a time.

    The total may not depend on the page asked for; link number ``total``
    must exist and link number ``total + 1`` must not.
    """
    if not isinstance(total, int):
        return []
    query = {
        name: values for name, values in call.query().items() if name not in ("page", "per_page")
    }

    def page_of_one(page: int) -> tuple[int, Any]:
        reply = call.probe.call(LIST, query={**query, "per_page": 1, "page": page})
        body = reply.body if reply.status == 200 and isinstance(reply.body, dict) else {}
        return len(body.get("data") or []), (body.get("paging") or {}).get("total")

    # One request answers two questions: the last link exists, and the total stays the same.
    count, other_total = page_of_one(max(total, 1))
    if other_total is not None and other_total != total:
        return [f"total is {total}, but the same query one link a page says {other_total}"]
    if total > 0 and count != 1:
        return [f"total is {total}, but the same query has no link number {total}"]
    if total > 0 and page_of_one(total + 1)[0] != 0:
        return [f"total is {total}, but the same query has a link number {total + 1}"]
    return []


def list_sort_order_holds(ctx: CheckContext, response: Response, case: AnyCase) -> bool | None:
    call = judged(case, response, {LIST})
    if call is None or call.status != 200 or not isinstance(items := call.data(), list):
        return None
    query = call.query()
    keys = rules.sort_keys(query)
    links, where = [item for item in items if isinstance(item, dict)], ""
    if len(links) < 2 and "sort" in query:
        # Too few links to show an order: ask for the same order without the filters.
        control = call.probe.call(LIST, query={"sort": query["sort"], "per_page": 25})
        links = [item for item in control.data() or [] if isinstance(item, dict)]
        where = " (the same sort without filters)"
    problem = rules.order_violation(links, keys, call.spec.date_fields) if keys else None
    fail(
        "the list must be in the order `sort` asks for (newest first without it)",
        [problem + where] if problem else [],
    )
    return None


def created_link_reads_back(ctx: CheckContext, response: Response, case: AnyCase) -> bool | None:
    call = judged(case, response, {CREATE})
    if call is None or call.status != 201:
        return None
    link, sent = call.data(), call.sent()
    if not isinstance(link, dict) or not isinstance(sent, dict):
        return None
    problems = rules.created_differences(call.spec, sent, link)
    location = call.response.headers.get("location") or call.response.headers.get("Location")
    expected = call.spec.path_for(GET, str(link.get("_id")))
    if location and not location[0].rstrip("/").endswith(expected):
        problems.append(f"Location is {location[0]!r}, not the link's address {expected!r}")
    problems.extend(reads_back(call, link))
    fail("a created link holds what was sent plus the spec's defaults, and is stored", problems)
    return None


def update_changes_only_given_fields(
    ctx: CheckContext, response: Response, case: AnyCase
) -> bool | None:
    call = judged(case, response, {UPDATE})
    if call is None or call.status != 200 or call.before is None or not call.before.exists:
        return None
    after, sent = call.data(), call.sent()
    if not isinstance(after, dict) or not isinstance(sent, dict) or call.before.link is None:
        return None
    problems = rules.update_differences(call.spec, sent, call.before.link, after)
    problems.extend(reads_back(call, after))
    fail("an update replaces the fields sent, keeps every other, and is stored", problems)
    return None


def regenerate_changes_only_credentials(
    ctx: CheckContext, response: Response, case: AnyCase
) -> bool | None:
    call = judged(case, response, {REGENERATE})
    after = call.data() if call is not None and call.status == 200 else None
    if (
        call is None
        or call.before is None
        or call.before.link is None
        or not isinstance(after, dict)
    ):
        return None
    before = call.before.link
    problems = [
        f"{name} did not change" for name in CREDENTIALS if after.get(name) == before.get(name)
    ]
    problems.extend(rules.changed_fields(call.spec, before, after, (*CREDENTIALS, "updated_at")))
    problems.extend(reads_back(call, after))
    fail("regenerate issues a new access_token and url and changes nothing else", problems)
    return None


def activation_sets_is_active(ctx: CheckContext, response: Response, case: AnyCase) -> bool | None:
    call = judged(case, response, {ACTIVATE, DEACTIVATE})
    if call is None:
        return None
    wanted = call.operation_id == ACTIVATE
    verb = "activate" if wanted else "deactivate"
    before = call.before.link if call.before is not None and call.before.exists else None
    if before is not None and 400 <= call.status < 500 and call.status not in (401, 404):
        # Idempotent: activating an active link (or deactivating an inactive one) is no error.
        state = "an active" if before.get("is_active") else "an inactive"
        fail(
            f"{verb} of an existing link succeeds, whatever its state",
            [f"{verb} of {state} link answered {call.status}"],
        )
    after = call.data() if call.status == 200 else None
    if not isinstance(after, dict):
        return None
    problems = (
        [] if after.get("is_active") is wanted else [f"is_active is {after.get('is_active')!r}"]
    )
    if before is not None:
        allowed = ("is_active", "updated_at")
        problems.extend(rules.changed_fields(call.spec, before, after, allowed))
    problems.extend(reads_back(call, after))
    fail(f"{verb} sets is_active to {str(wanted).lower()} and changes nothing else", problems)
    return None


def deleted_link_is_gone(ctx: CheckContext, response: Response, case: AnyCase) -> bool | None:
    call = judged(case, response, {DELETE})
    if call is None or call.status != 200 or call.link_id is None:
        return None
    fail(
        "a deleted link is gone: every operation on it answers 404",
        _still_there(call, call.link_id),
    )
    return None


def _still_there(call: Call, link_id: str) -> list[str]:
    for operation, body in _AFTER_DELETE:
        reply = call.probe.call(operation, link_id, body=body)
        if reply.status != 404:
            method, _ = call.spec.operations[operation]
            return [f"{method} {call.spec.path_for(operation, link_id)} answers {reply.status}"]
    listed = call.probe.call(LIST, query={"_id": link_id})
    items = listed.data()
    if isinstance(items, list) and any(
        isinstance(item, dict) and item.get("_id") == link_id for item in items
    ):
        return [f"the list still shows {link_id}"]
    return []


def unknown_link_is_not_found(ctx: CheckContext, response: Response, case: AnyCase) -> bool | None:
    call = judged(case, response, BY_ID)
    if call is None or call.link_id is None or call.before is None:
        return None
    method, path = call.case.method.upper(), call.spec.path_for(call.operation_id, call.link_id)
    if call.before.absent and 200 <= call.status < 300:
        fail(
            "an id no link has is answered 404",
            [f"{method} {path} answers {call.status}, but the list has no link {call.link_id}"],
        )
    if call.before.exists and call.status == 404:
        fail(
            "a link that exists is found",
            [f"{method} {path} answers 404, but the list shows link {call.link_id}"],
        )
    return None


def server_fields_never_drift(ctx: CheckContext, response: Response, case: AnyCase) -> bool | None:
    """``_id``, ``workorder``, ``created_at`` never change; credentials only on regenerate.

    Every link in every successful answer is compared with the last answer that
    showed it; ``updated_at`` may only move forward, and only on a write.
    """
    # Negative cases count too: a write the server wrongly accepted still changed the link.
    call = judged(case, response, {LIST, CREATE, *BY_ID}, negative_too=True)
    if call is None or not 200 <= call.status < 300:
        return None
    data = call.data()
    links = data if call.operation_id == LIST and isinstance(data, list) else [data]
    problems: list[str] = []
    for link in links:
        if isinstance(link, dict) and isinstance(link.get("_id"), str):
            problems.extend(_drift(call, link))
    fail("server-assigned fields never change by themselves", problems)
    return None


def _drift(call: Call, link: Link) -> list[str]:
    previous = RUN.observe(link)
    if previous is None:
        return []
    if call.operation_id == CREATE:
        return [f"the new link reuses the id {link['_id']} of an earlier one"]
    allowed = {"updated_at"} if call.operation_id in WRITES else set()
    if call.operation_id == REGENERATE:
        allowed.update(CREDENTIALS)
    spec, schema = call.spec, call.spec.link_schema
    changed = rules.differing_fields(spec, schema, previous, link, [*IMMUTABLE, *CREDENTIALS])
    problems = [
        f"{link['_id']}: {name} changed from {previous[name]!r} to {link.get(name)!r} "
        f"on {call.case.method.upper()} {call.case.formatted_path}"
        for name in changed
        if name not in allowed
    ]
    before, after = previous.get("updated_at"), link.get("updated_at")
    moved = rules.differing_fields(spec, schema, previous, link, ["updated_at"])
    if moved and "updated_at" not in allowed:
        problems.append(f"{link['_id']}: updated_at moved on a read, {before!r} to {after!r}")
    elif moved and _earlier(after, before):
        problems.append(f"{link['_id']}: updated_at went back from {before!r} to {after!r}")
    return problems


def _earlier(after: Any, before: Any) -> bool:
    a = rules.parse_instant(after) if isinstance(after, str) else None
    b = rules.parse_instant(before) if isinstance(before, str) else None
    return a is not None and b is not None and a < b


def errors_name_their_status(ctx: CheckContext, response: Response, case: AnyCase) -> bool | None:
    """Every error of every operation, negative cases included, is JSON in the envelope,
    with the code its status stands for."""
    if response.status_code < 400 or operation_id(case) is None:
        return None
    headers = response.headers
    content_type = (headers.get("content-type") or headers.get("Content-Type") or [""])[0]
    try:
        body = response.json()
    except ValueError:
        body = None
    fail(
        "every error is application/json in the error envelope, with its status's code",
        rules.error_envelope_problems(response.status_code, content_type, body),
    )
    return None


# Every check of this module; ``hooks`` registers them with Schemathesis in this order.
CHECKS: tuple[Check, ...] = (
    list_items_match_filters,
    list_shows_every_matching_link,
    list_paging_is_consistent,
    list_sort_order_holds,
    created_link_reads_back,
    update_changes_only_given_fields,
    regenerate_changes_only_credentials,
    activation_sets_is_active,
    deleted_link_is_gone,
    unknown_link_is_not_found,
    server_fields_never_drift,
    errors_name_their_status,
)

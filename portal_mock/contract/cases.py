"""The data-aware test cases added to each operation's examples, built from the seeded links.

They are ordinary Schemathesis cases: sent, checked and reported (summary,
JUnit, cassettes) like the spec's own examples, and first in the run. Besides
the seeded data, the list gets a few invalid filters (marked negative, so
Schemathesis's ``negative_data_rejection`` judges them) and an ``OPTIONS``
request (for ``allow_header_conformance``): the coverage phase sends such
requests too, but only when its share of the time budget lets it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import (
    CaseMetadata,
    ComponentInfo,
    CoverageScenario,
    GenerationInfo,
    PhaseInfo,
)

from portal_mock.contract import population
from portal_mock.contract.seeding import Seeded
from portal_mock.contract.spec import ACTIVATE, CREATE, DEACTIVATE, LIST, REGENERATE, UPDATE

Link = dict[str, Any]
# A well-formed id no server issues (ObjectIds begin with their creation time): answered 404.
UNKNOWN_ID = "0" * 24
# Sent twice to the same link: each must act again (new credentials) or stay put.
REPEATED = frozenset({REGENERATE, ACTIVATE, DEACTIVATE})

Operation = APIOperation[Any, Any, Any, Any]


def _operation_id(operation: Operation) -> str | None:
    found = operation.definition.raw.get("operationId")
    return str(found) if found is not None else None


# One invalid value per scalar list parameter, and how it breaks the schema: each must
# be answered 400. (Schemathesis cannot re-validate an array parameter from the wire,
# so its check would not judge one.)
INVALID_QUERIES: tuple[tuple[str, str, CoverageScenario], ...] = (
    ("link_type", "not-a-link-type", CoverageScenario.INVALID_ENUM_VALUE),
    ("is_active", "maybe", CoverageScenario.INCORRECT_TYPE),
    ("workorder", "not-an-object-id", CoverageScenario.INVALID_PATTERN),
    ("sort", "access_token", CoverageScenario.INVALID_PATTERN),
    ("page", "0", CoverageScenario.VALUE_BELOW_MINIMUM),
    ("per_page", "101", CoverageScenario.VALUE_ABOVE_MAXIMUM),
)


def _negative(
    operation: Operation,
    location: ParameterLocation,
    name: str | None,
    scenario: CoverageScenario,
    **parts: Any,
) -> Case[Any]:
    """A case whose ``name`` in ``location`` breaks its schema, marked as such.

    The metadata is what the coverage phase gives its own negative cases: it is
    what ``negative_data_rejection`` reads to know which value was meant to be wrong.
    """
    meta = CaseMetadata(
        generation=GenerationInfo(time=0.0, mode=GenerationMode.NEGATIVE),
        components={location: ComponentInfo(mode=GenerationMode.NEGATIVE)},
        phase=PhaseInfo.coverage(
            scenario,
            f"`{name}` is not valid" if name else "a property the schema does not allow",
            parameter=name,
            parameter_location=location,
        ),
    )
    return operation.Case(**parts, _meta=meta)


def _invalid_query(
    operation: Operation, name: str, value: str, scenario: CoverageScenario
) -> Case[Any]:
    return _negative(operation, ParameterLocation.QUERY, name, scenario, query={name: value})


def list_probes(operation: Operation) -> list[Case[Any]]:
    """Invalid filters, and ``OPTIONS`` on the list's path."""
    cases = [_invalid_query(operation, *invalid) for invalid in INVALID_QUERIES]
    return [*cases, operation.Case(method="OPTIONS")]


def malformed_ids(link_id: str) -> list[str]:
    """Ids one slip away from ``link_id``: a word, one digit short, upper case."""
    return ["not-an-id", link_id[:-1], link_id.upper()]


def by_id_cases(operation: Operation, found: str, target: Link, tag: str) -> list[Case[Any]]:
    """The target link, acted on twice (idempotence), an id no link has, ids that are not ids."""
    path = {"id": str(target["_id"])}
    body: dict[str, Any] = {}
    if found == UPDATE:
        body = {"body": dict(population.UPDATE_BODY), "media_type": "application/json"}
    once = operation.Case(path_parameters=path, **body)
    cases = [once, operation.Case(path_parameters=path, **body)] if found in REPEATED else [once]
    cases.append(operation.Case(path_parameters={"id": UNKNOWN_ID}, **body))
    for wrong in malformed_ids(path["id"]):
        cases.append(
            _negative(
                operation,
                ParameterLocation.PATH,
                "id",
                CoverageScenario.INVALID_PATTERN,
                path_parameters={"id": wrong},
                **body,
            )
        )
    if found == UPDATE:
        cases.extend(_immutable_updates(operation, path, tag))
    return cases


def _immutable_updates(operation: Operation, path: dict[str, str], tag: str) -> list[Case[Any]]:
    """Updates that send a field an update may not change, alone or beside a valid one."""
    return [
        _negative(
            operation,
            ParameterLocation.BODY,
            None,
            CoverageScenario.OBJECT_ADDITIONAL_PROPERTY,
            path_parameters=path,
            body=body,
            media_type="application/json",
        )
        for body in population.immutable_update_bodies(tag)
    ]


def create_cases(operation: Operation, tag: str, types: Sequence[str]) -> list[Case[Any]]:
    """Creates that rely on every default, and that set every optional field."""
    return [
        operation.Case(body=body, media_type="application/json")
        for body in population.create_bodies(tag, types)
    ]


def data_aware_cases(operation: Operation, seeded: Seeded) -> list[Case[Any]]:
    """The cases for ``operation``: list queries that split the population, or a target's id."""
    found = _operation_id(operation)
    if found == LIST:
        # Hypothesis runs explicit examples last-added first: reversed, the most telling go first.
        queries = population.list_queries(seeded.tag, seeded.links)
        cases = [operation.Case(query=query) for query in queries]
        return [*reversed(cases), *reversed(list_probes(operation))]
    if found == CREATE and not seeded.read_only:
        types = list(dict.fromkeys(str(link["link_type"]) for link in seeded.links))
        return list(reversed(create_cases(operation, seeded.tag, types)))
    target = seeded.targets.get(found or "")
    if target is None:
        return []
    return list(reversed(by_id_cases(operation, found or "", target, seeded.tag)))

"""The data-aware test cases added to each operation's examples, built from the seeded links.

They are ordinary Schemathesis cases: sent, checked and reported (summary,
JUnit, cassettes) like the spec's own examples, and first in the run. Besides
the seeded data, the list gets a few invalid filters (marked negative, so
Schemathesis's ``negative_data_rejection`` judges them) and an ``OPTIONS``
request (for ``allow_header_conformance``): the coverage phase sends such
requests too, but only when its share of the time budget lets it.
"""

from __future__ import annotations

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
from portal_mock.contract.spec import LIST, UPDATE

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


def _negative(operation: Operation, name: str, value: str, scenario: CoverageScenario) -> Case[Any]:
    """A case whose one query parameter ``name`` breaks its schema, marked as such.

    The metadata is what the coverage phase gives its own negative cases: it is
    what ``negative_data_rejection`` reads to know which value was meant to be wrong.
    """
    meta = CaseMetadata(
        generation=GenerationInfo(time=0.0, mode=GenerationMode.NEGATIVE),
        components={ParameterLocation.QUERY: ComponentInfo(mode=GenerationMode.NEGATIVE)},
        phase=PhaseInfo.coverage(
            scenario,
            f"`{name}` is not valid",
            parameter=name,
            parameter_location=ParameterLocation.QUERY,
        ),
    )
    return operation.Case(query={name: value}, _meta=meta)


def list_probes(operation: Operation) -> list[Case[Any]]:
    """Invalid filters, and ``OPTIONS`` on the list's path."""
    cases = [_negative(operation, *invalid) for invalid in INVALID_QUERIES]
    return [*cases, operation.Case(method="OPTIONS")]


def data_aware_cases(operation: Operation, seeded: Seeded) -> list[Case[Any]]:
    """The cases for ``operation``: list queries that split the population, or a target's id."""
    found = _operation_id(operation)
    if found == LIST:
        # Hypothesis runs explicit examples last-added first: reversed, the most telling go first.
        queries = population.list_queries(seeded.tag, seeded.links)
        cases = [operation.Case(query=query) for query in queries]
        return [*reversed(cases), *reversed(list_probes(operation))]
    target = seeded.targets.get(found or "")
    if target is None:
        return []
    path = {"id": str(target["_id"])}
    if found == UPDATE:
        body = dict(population.UPDATE_BODY)
        return [operation.Case(path_parameters=path, body=body, media_type="application/json")]
    return [operation.Case(path_parameters=path)]

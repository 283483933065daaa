"""The module Schemathesis loads (``hooks`` in its config): the checks, hooks and summary.

Importing it registers, through Schemathesis's own extension points, every check
of ``checks`` (``schemathesis.check``); an ``after_load_schema`` hook that seeds
the target with the run's own links; a ``before_add_examples`` hook that adds
the data-aware cases to each operation's examples; a ``before_call`` hook that
remembers each call's context; two ``st run`` options for the failing-exchange
cassettes; and the handler that prints the summary (and removes the seeded
links). It also works with plain Schemathesis: ``hooks =
"portal_mock.contract.hooks"`` in a ``schemathesis.toml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from schemathesis import cli
from schemathesis.cli import EventHandler, ExecutionContext
from schemathesis.engine import events

from portal_mock.contract import lifecycle_checks
from portal_mock.contract.cases import data_aware_cases
from portal_mock.contract.checks import CHECKS, call_context, probe_for
from portal_mock.contract.memory import RUN
from portal_mock.contract.seeding import SEEDER
from portal_mock.contract.spec import LIST
from portal_mock.contract.summary import FailingExchanges, Tally, render

for _check in (*CHECKS, *lifecycle_checks.CHECKS):
    schemathesis.check(_check)


@schemathesis.hook
def after_load_schema(context: schemathesis.HookContext, schema: Any) -> None:
    # Seed before any phase starts: Schemathesis shares each phase's time among the
    # operations, and seeding on first use would spend the first operation's share.
    operation = schema.find_operation_by_id(LIST)
    SEEDER.get(probe_for(operation))


@schemathesis.hook
def before_add_examples(
    context: schemathesis.HookContext, examples: list[schemathesis.Case[Any]]
) -> None:
    # The first operation whose examples are built seeds the target: the data-aware
    # cases then run in the first phase, before any budget can run out.
    operation = context.operation
    if operation is not None:
        examples.extend(data_aware_cases(operation, SEEDER.get(probe_for(operation))))


@schemathesis.hook
def before_call(
    context: schemathesis.HookContext, case: schemathesis.Case[Any], kwargs: Any
) -> None:
    RUN.remember(case.id, call_context(case, kwargs))
    if case.method.upper() not in ("GET", "HEAD", "OPTIONS"):
        RUN.wrote()


_options = cli.add_group("portal-mock contract options")
_options.add_option(
    "--contract-failures-har",
    type=str,
    default=None,
    help="Write the failing requests, and those that led to them, to this HAR file",
)
_options.add_option(
    "--contract-failures-vcr",
    type=str,
    default=None,
    help="Write the failing requests, and those that led to them, to this VCR cassette",
)


_options.add_option(
    "--contract-read-only",
    is_flag=True,
    default=False,
    help="Seed nothing: the target's data must not change (pair with --include-method GET)",
)


class ContractSummary(EventHandler[ExecutionContext]):
    """Counts cases per phase, collects failures by check, prints the summary at the end."""

    def __init__(self, *args: Any, **params: Any) -> None:
        self.tally = Tally()
        har, vcr = params.get("contract_failures_har"), params.get("contract_failures_vcr")
        self._paths = (Path(har) if har else None, Path(vcr) if vcr else None)
        self._exchanges: FailingExchanges | None = None
        if params.get("contract_read_only"):
            # Handlers are made before the schema loads, so this comes before any seeding.
            SEEDER.read_only()

    def handle_event(self, ctx: ExecutionContext, event: events.EngineEvent) -> None:
        if isinstance(event, events.ScenarioFinished) and event.is_test_scenario:
            self.tally.add(str(event.phase), event.recorder)
            self._cassettes(ctx).write([event.recorder])

    def _cassettes(self, ctx: ExecutionContext) -> FailingExchanges:
        if self._exchanges is None:
            self._exchanges = FailingExchanges(ctx.config.output, *self._paths)
            self._exchanges.open(ctx.config.seed)
        return self._exchanges

    def shutdown(self, ctx: ExecutionContext) -> None:
        if self._paths != (None, None):
            self._cassettes(ctx).close()
        seeded = SEEDER.finish()
        if ctx.api_statistic is None:
            return  # the schema never loaded: Schemathesis has said why
        summary = render(
            self.tally,
            selected=ctx.api_statistic.operations.selected,
            seed=ctx.config.seed,
            errors=len(ctx.errors),
            seeded=seeded,
        )
        print(summary, flush=True)


# `cli.handler()` registers the class and returns None, so it is called, not used as a decorator.
cli.handler()(ContractSummary)

"""Schemathesis over every operation of the spec, with every check, and its state machine."""

from __future__ import annotations

from typing import Any

import schemathesis
from conftest import API_KEY
from schemathesis.config import SchemathesisConfig

from portal_mock.app import create_app
from portal_mock.fixtures import load_fixtures
from portal_mock.paths import DEFAULT_FIXTURES
from portal_mock.settings import Settings
from portal_mock.store import LinkStore

CONFIG = SchemathesisConfig.from_dict(
    {
        "auth": {"openapi": {"ApiKeyAuth": {"api_key": API_KEY}}},
        "checks": {"enabled": True},
        # The spec's x-json-limits refuse NUL in strings (I-JSON).
        "generation": {"allow-x00": False},
    }
)
# One app for the module: Schemathesis builds its tests at import time, and
# function-scoped fixtures would trip Hypothesis's health check. Each test
# resets the store in its body instead.
STORE = LinkStore()
APP = create_app(Settings(db=None, fixtures=None), store=STORE)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=CONFIG)


def reset_store() -> None:
    load_fixtures(STORE, DEFAULT_FIXTURES)


@schema.parametrize()
def test_every_operation_honours_the_contract(case: Any) -> None:
    reset_store()
    case.call_and_validate()


class LinkStateMachine(schema.as_state_machine()):
    """Chains create to the six operations on one link through the spec's links."""

    def setup(self) -> None:
        reset_store()


TestLinkStateMachine = LinkStateMachine.TestCase

"""Schemathesis over every operation of openapi/mock-controls.yaml, with every check."""

from __future__ import annotations

from typing import Any

import schemathesis
from conftest import API_KEY
from schemathesis.config import SchemathesisConfig

from portal_mock.app import create_app
from portal_mock.paths import DEFAULT_FIXTURES
from portal_mock.settings import Settings
from portal_mock.store import LinkStore

CONFIG = SchemathesisConfig.from_dict(
    {
        "auth": {"openapi": {"ApiKeyAuth": {"api_key": API_KEY}}},
        "checks": {"enabled": True},
    }
)
# One app for the module, as in test_contract.py: Schemathesis builds its tests
# at import time. Sessions pile up over the run and only 3 may be live, so the
# later cases that name a new session meet the documented 429 too.
STORE = LinkStore()
SETTINGS = Settings(db=None, fixtures=DEFAULT_FIXTURES, max_sessions=3, quiet=True)
APP = create_app(SETTINGS, store=STORE)
schema = schemathesis.openapi.from_asgi("/__mock/openapi.json", APP, config=CONFIG)


@schema.parametrize()
def test_every_control_honours_its_contract(case: Any) -> None:
    case.call_and_validate()

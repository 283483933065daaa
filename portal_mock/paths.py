"""Where the default spec, sample data and handlers live, installed or in a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _resource(name: str) -> Path:
    # A wheel carries openapi/ and fixtures/ inside the package; a source checkout
    # (editable install, tests run from the tree) keeps them beside it.
    installed = _PACKAGE / name
    return installed if installed.is_dir() else _PACKAGE.parent / name


DEFAULT_SPEC = _resource("openapi") / "workorder-portal-links.yaml"
DEFAULT_FIXTURES = _resource("fixtures") / "workorder-portal-links.json"
DEFAULT_CONTROLS_SPEC = _resource("openapi") / "mock-controls.yaml"
# The module whose functions the spec's operationIds name (handlers/links.py).
HANDLER_MODULE = "handlers.links"
